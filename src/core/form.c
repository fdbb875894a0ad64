/*
 * application/x-www-form-urlencoded (RFC 6749 §3.1, Appendix B).
 *
 * Each parameter lives in its own allocation, "name\0value\0", so the
 * pointers handed out by form_get() stay valid while more parameters are
 * added (a shared arena would move on realloc()). The params array is
 * grown one entry at a time: it is bounded by the ceiling, and so is the
 * quadratic repeated-name check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/form.h"

void
form_init(struct form *f, size_t max_params)
{
	memset(f, 0, sizeof(*f));
	f->max = max_params;
}

/* The block behind a parameter, which the form owns. */
static char *
param_block(const struct form_param *fp)
{
	return (char *)(uintptr_t)fp->name;
}

static void
param_free(struct form_param *fp)
{
	char *blk = param_block(fp);

	explicit_bzero(blk, strlen(fp->name) + 1 + strlen(fp->value) + 1);
	free(blk);
	fp->name = NULL;
	fp->value = NULL;
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes in into dst (room for in.len bytes); *n gets the length. */
static enum status
pct_decode(struct str in, bool plus_is_space, char *dst, size_t *n)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < in.len; i++) {
		c = (unsigned char)in.p[i];
		if (c == '%') {
			if (in.len - i < 3)
				return ST_INVALID;
			hi = hex_val((unsigned char)in.p[i + 1]);
			lo = hex_val((unsigned char)in.p[i + 2]);
			if (hi < 0 || lo < 0)
				return ST_INVALID;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			c = ' ';
		if (c == '\0')
			return ST_INVALID;
		dst[o++] = (char)c;
	}
	*n = o;
	return ST_OK;
}

/* Printable-ASCII copy of name into f->bad, cut to fit. */
static void
set_bad(struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < sizeof(f->bad) && name[i] != '\0'; i++)
		f->bad[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	f->bad[i] = '\0';
}

/* Adds one parameter, percent-decoding both parts if decode is set. */
static enum status
form_put(struct form *f, struct str name, struct str value, bool decode)
{
	struct form_param *nv;
	char *blk, *val;
	size_t nlen, vlen;
	enum status rc;

	blk = malloc(name.len + value.len + 2);
	if (blk == NULL)
		return ST_NOMEM;
	if (decode) {
		rc = pct_decode(name, true, blk, &nlen);
		if (rc != ST_OK)
			goto fail;
		blk[nlen] = '\0';
		val = blk + nlen + 1;
		rc = pct_decode(value, true, val, &vlen);
		if (rc != ST_OK)
			goto fail;
	} else {
		rc = ST_INVALID;
		if ((name.len > 0 && memchr(name.p, '\0', name.len) != NULL) ||
		    (value.len > 0 && memchr(value.p, '\0', value.len) != NULL))
			goto fail;
		nlen = name.len;
		if (nlen > 0)
			memcpy(blk, name.p, nlen);
		blk[nlen] = '\0';
		val = blk + nlen + 1;
		vlen = value.len;
		if (vlen > 0)
			memcpy(val, value.p, vlen);
	}
	val[vlen] = '\0';
	rc = ST_INVALID;
	if (!str_utf8_ok((struct str){blk, nlen}) ||
	    !str_utf8_ok((struct str){val, vlen}))
		goto fail;
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].name, blk) == 0) {
			set_bad(f, blk);
			rc = ST_INVALID;
			goto fail;
		}
	}
	if (f->n >= f->max) {
		rc = ST_TOOBIG;
		goto fail;
	}
	nv = realloc(f->v, (f->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		rc = ST_NOMEM;
		goto fail;
	}
	f->v = nv;
	f->v[f->n].name = blk;
	f->v[f->n].value = val;
	f->n++;
	return ST_OK;
fail:
	explicit_bzero(blk, name.len + value.len + 2);
	free(blk);
	return rc;
}

enum status
form_parse(struct form *f, struct str in)
{
	struct str piece;
	const char *eq;
	size_t before = f->n, i = 0, j;
	enum status rc;

	f->bad[0] = '\0';
	while (i < in.len) {
		for (j = i; j < in.len && in.p[j] != '&'; j++)
			;
		piece = (struct str){in.p + i, j - i};
		i = j + 1;
		if (piece.len == 0)
			continue;
		eq = memchr(piece.p, '=', piece.len);
		if (eq == NULL)
			rc = form_put(f, piece, STR_LIT(""), true);
		else
			rc = form_put(
			    f, (struct str){piece.p, (size_t)(eq - piece.p)},
			    (struct str){
			        eq + 1, piece.len - (size_t)(eq - piece.p) - 1},
			    true);
		if (rc != ST_OK) {
			/* All or nothing: drop what this call added. */
			while (f->n > before)
				param_free(&f->v[--f->n]);
			return rc;
		}
	}
	return ST_OK;
}

enum status
form_add(struct form *f, struct str name, struct str value)
{
	f->bad[0] = '\0';
	return form_put(f, name, value, false);
}

const char *
form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value[0] == '\0' ? NULL : f->v[i].value;
	return NULL;
}

enum status
form_unescape(struct str in, bool plus_is_space, struct buf *out)
{
	char *tmp;
	size_t n;
	enum status rc;

	tmp = malloc(in.len + 1);
	if (tmp == NULL)
		return ST_NOMEM;
	rc = pct_decode(in, plus_is_space, tmp, &n);
	if (rc == ST_OK)
		rc = buf_add(out, tmp, n);
	explicit_bzero(tmp, in.len + 1);
	free(tmp);
	return rc;
}

static bool
unreserved(unsigned char c)
{
	/* RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~" */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

enum status
form_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char chunk[128];
	size_t n = 0;
	unsigned char c;
	enum status rc = ST_OK;

	for (; *s != '\0' && rc == ST_OK; s++) {
		c = (unsigned char)*s;
		if (unreserved(c))
			chunk[n++] = (char)c;
		else {
			chunk[n++] = '%';
			chunk[n++] = hex[c >> 4];
			chunk[n++] = hex[c & 0xf];
		}
		if (n > sizeof(chunk) - 3) {
			rc = buf_add(b, chunk, n);
			n = 0;
		}
	}
	if (rc == ST_OK && n > 0)
		rc = buf_add(b, chunk, n);
	explicit_bzero(chunk, sizeof(chunk)); /* values may be secrets */
	return rc;
}

enum status
form_append(struct buf *b, const char *name, const char *value)
{
	enum status rc = ST_OK;
	char last;

	if (b->len > 0) {
		last = b->p[b->len - 1];
		if (last != '?' && last != '#')
			rc = buf_add(b, "&", 1);
	}
	if (rc == ST_OK)
		rc = form_escape(b, name);
	if (rc == ST_OK)
		rc = buf_add(b, "=", 1);
	if (rc == ST_OK)
		rc = form_escape(b, value);
	return rc;
}

void
form_free(struct form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		param_free(&f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
	explicit_bzero(f->bad, sizeof(f->bad));
}
