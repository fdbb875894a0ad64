/*
 * auth/page's template engine: a template is compiled once, at start-up,
 * into a flat list of nodes (text, variable, section start, section end)
 * over its own text, and every problem is reported then, with file and
 * line (page.h has the language).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/page_int.h"

#define PAGE_NAME_MAX_BYTES 64  /* a variable name */
#define PAGE_QUOTE_MAX_BYTES 40 /* of a bad tag, in error messages */
#define NO_NODE SIZE_MAX

/* Values inserted raw: HTML the caller builds with auth_hidden_add() and
 * auth_item_add(). A template asking for any other variable raw is refused
 * at load, so an override cannot print a client-supplied name unescaped. */
static const char *const raw_names[] = {"hidden", "scopes"};

/* Writes "label:line: message" (line 0: "label: message") to err. A message
 * longer than errlen is cut short, which is fine for a diagnostic. */
void
auth_page_err(char *err, size_t errlen, const char *label, size_t line,
              const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errlen == 0)
		return;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%zu: ", label, line);
	else
		n = snprintf(err, errlen, "%s: ", label);
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	if ((size_t)n >= errlen)
		return; /* truncated: already NUL-terminated */
	va_start(ap, fmt);
	if (vsnprintf(err + n, errlen - (size_t)n, fmt, ap) < 0)
		err[n] = '\0';
	va_end(ap);
}

static size_t
line_of(const char *text, size_t off)
{
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool
name_ok(const char *p, size_t len)
{
	if (len == 0 || len > PAGE_NAME_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(p[i]))
			return false;
	return true;
}

static bool
name_is(const struct tmpl *t, const struct node *nd, const char *name)
{
	size_t len = strlen(name);

	return nd->len == len && memcmp(t->text + nd->off, name, len) == 0;
}

static bool
raw_allowed(const char *p, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(raw_names); i++)
		if (strlen(raw_names[i]) == len &&
		    memcmp(raw_names[i], p, len) == 0)
			return true;
	return false;
}

void
auth_tmpl_free(struct tmpl *t)
{
	free(t->text);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

static enum status
tmpl_add(struct tmpl *t, enum node_kind kind, size_t off, size_t len)
{
	struct node *np;
	size_t cap;

	if (t->n == t->cap) {
		cap = t->cap == 0 ? 64 : t->cap * 2;
		np = reallocarray(t->nodes, cap, sizeof(*np));
		if (np == NULL)
			return ST_NOMEM;
		t->nodes = np;
		t->cap = cap;
	}
	t->nodes[t->n++] = (struct node){kind, off, len, NO_NODE};
	return ST_OK;
}

/*
 * Just enough of HTML's tokenizer to know, at each {{name}}, whether it
 * sits inside a tag and, if so, inside a quoted attribute value. Only
 * there, or outside tags, does escaping make a value safe: x={{y}} lets a
 * space start a new attribute, and <{{y}} or <a {{y}}> let the value name
 * the element or an attribute. Comments and <style> are not modelled;
 * they only make the check stricter or looser for odd templates.
 */
struct html_state {
	bool in_tag;
	char quote; /* '"' or '\'' inside a quoted attribute value, else 0 */
};

static void
html_scan(struct html_state *hs, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!hs->in_tag) {
			/* "<" then a letter, "/" or "!" opens a tag; at the
			 * end of the text a {{tag}} follows: count it in. */
			if (c == '<' && (i + 1 == n ||
			                 (p[i + 1] >= 'a' && p[i + 1] <= 'z') ||
			                 (p[i + 1] >= 'A' && p[i + 1] <= 'Z') ||
			                 p[i + 1] == '/' || p[i + 1] == '!'))
				hs->in_tag = true;
		} else if (hs->quote != 0) {
			if (c == hs->quote)
				hs->quote = 0;
		} else if (c == '"' || c == '\'') {
			hs->quote = c;
		} else if (c == '>') {
			hs->in_tag = false;
		}
	}
}

/* One {{tag}} of a template, as tag_parse() reads it. */
struct tag {
	size_t at;        /* offset of its "{{" */
	size_t end;       /* offset just after its closing braces */
	const char *name; /* into the text, trimmed */
	size_t nlen;
	char sigil; /* '#', '^', '/' or 0 */
	enum node_kind kind;
};

/* Reports a tag whose name is not a variable name. */
static void
tag_name_err(const char *label, const char *text, const struct tag *tg,
             bool triple, size_t qlen, char *err, size_t errlen)
{
	const char *tag = text + tg->at;

	if (!triple && tg->sigil == '\0' && tg->nlen > 0 &&
	    strchr("!>&=<$", tg->name[0]) != NULL)
		auth_page_err(err, errlen, label, line_of(text, tg->at),
		              "unsupported tag \"%.*s\": only {{name}}, "
		              "{{{name}}}, {{#name}}, {{^name}} and "
		              "{{/name}} exist",
		              (int)qlen, tag);
	else
		auth_page_err(err, errlen, label, line_of(text, tg->at),
		              "bad variable name in \"%.*s\": use up to "
		              "%d letters, digits or _",
		              (int)qlen, tag, PAGE_NAME_MAX_BYTES);
}

/*
 * Reads the tag whose "{{" is at text[at] into *tg: its end, sigil, name
 * and kind. hs is the HTML state just before it. ST_INVALID with err set
 * for an unclosed tag, a bad name, a raw variable not in raw_names or a
 * variable inside a tag but outside a quoted attribute value.
 */
static enum status
tag_parse(const char *label, const char *text, size_t len, size_t at,
          const struct html_state *hs, struct tag *tg, char *err, size_t errlen)
{
	const char *tag = text + at, *close;
	bool triple = at + 2 < len && text[at + 2] == '{';
	size_t closelen = triple ? 3 : 2, inner = at + closelen, qlen;

	memset(tg, 0, sizeof(*tg));
	tg->at = at;
	close =
	    memmem(text + inner, len - inner, triple ? "}}}" : "}}", closelen);
	qlen =
	    len - at < PAGE_QUOTE_MAX_BYTES ? len - at : PAGE_QUOTE_MAX_BYTES;
	if (close == NULL ||
	    memmem(text + inner, (size_t)(close - text) - inner, "{{", 2) !=
	        NULL) {
		auth_page_err(err, errlen, label, line_of(text, at),
		              "\"%.*s\" is never closed with \"%s\"", (int)qlen,
		              tag, triple ? "}}}" : "}}");
		return ST_INVALID;
	}
	tg->end = (size_t)(close - text) + closelen;
	tg->name = text + inner;
	tg->nlen = (size_t)(close - text) - inner;
	qlen = tg->nlen + 2 * closelen;
	if (qlen > PAGE_QUOTE_MAX_BYTES)
		qlen = PAGE_QUOTE_MAX_BYTES;
	if (!triple && tg->nlen > 0 && strchr("#^/", tg->name[0]) != NULL) {
		tg->sigil = tg->name[0];
		tg->name++;
		tg->nlen--;
	}
	while (tg->nlen > 0 && tg->name[0] == ' ') {
		tg->name++;
		tg->nlen--;
	}
	while (tg->nlen > 0 && tg->name[tg->nlen - 1] == ' ')
		tg->nlen--;
	if (!name_ok(tg->name, tg->nlen)) {
		tag_name_err(label, text, tg, triple, qlen, err, errlen);
		return ST_INVALID;
	}
	if (triple) {
		tg->kind = NODE_RAW;
		if (!raw_allowed(tg->name, tg->nlen)) {
			auth_page_err(err, errlen, label, line_of(text, at),
			              "{{{%.*s}}}: only {{{hidden}}} and "
			              "{{{scopes}}} may be inserted unescaped; "
			              "write {{%.*s}}",
			              (int)tg->nlen, tg->name, (int)tg->nlen,
			              tg->name);
			return ST_INVALID;
		}
	} else if (tg->sigil == '#') {
		tg->kind = NODE_IF;
	} else if (tg->sigil == '^') {
		tg->kind = NODE_UNLESS;
	} else if (tg->sigil == '/') {
		tg->kind = NODE_END;
	} else {
		tg->kind = NODE_VAR;
		if (hs->in_tag && hs->quote == 0) {
			auth_page_err(err, errlen, label, line_of(text, at),
			              "{{%.*s}} is inside a tag but not in a "
			              "quoted attribute value; write "
			              "attr=\"{{%.*s}}\"",
			              (int)tg->nlen, tg->name, (int)tg->nlen,
			              tg->name);
			return ST_INVALID;
		}
	}
	return ST_OK;
}

/*
 * Keeps sections flat and matched: *open is the index of the section
 * node not yet closed (NO_NODE if none); tg is the tag about to become
 * node t->n. ST_INVALID with err set for a nested section, or an end that
 * closes nothing or another name.
 */
static enum status
section_step(const char *label, struct tmpl *t, const struct tag *tg,
             size_t *open, char *err, size_t errlen)
{
	const char *text = t->text;
	const struct node *o;

	if (tg->kind == NODE_IF || tg->kind == NODE_UNLESS) {
		if (*open != NO_NODE) {
			o = &t->nodes[*open];
			auth_page_err(err, errlen, label, line_of(text, tg->at),
			              "{{%c%.*s}} inside {{%c%.*s}}: sections "
			              "do not nest",
			              tg->sigil, (int)tg->nlen, tg->name,
			              o->kind == NODE_IF ? '#' : '^',
			              (int)o->len, text + o->off);
			return ST_INVALID;
		}
		*open = t->n;
	} else if (tg->kind == NODE_END) {
		if (*open == NO_NODE) {
			auth_page_err(err, errlen, label, line_of(text, tg->at),
			              "{{/%.*s}} without an opening {{#%.*s}}",
			              (int)tg->nlen, tg->name, (int)tg->nlen,
			              tg->name);
			return ST_INVALID;
		}
		o = &t->nodes[*open];
		if (o->len != tg->nlen ||
		    memcmp(text + o->off, tg->name, tg->nlen) != 0) {
			auth_page_err(err, errlen, label, line_of(text, tg->at),
			              "{{/%.*s}} closes {{%c%.*s}} (line %zu)",
			              (int)tg->nlen, tg->name,
			              o->kind == NODE_IF ? '#' : '^',
			              (int)o->len, text + o->off,
			              line_of(text, o->off));
			return ST_INVALID;
		}
		t->nodes[*open].end = t->n;
		*open = NO_NODE;
	}
	return ST_OK;
}

/* A form page must post to {{action}} and carry {{{hidden}}}. */
static enum status
form_fields_check(const char *label, const struct tmpl *t, char *err,
                  size_t errlen)
{
	bool has_action = false, has_hidden = false;

	for (size_t i = 0; i < t->n; i++) {
		if (t->nodes[i].kind == NODE_VAR &&
		    name_is(t, &t->nodes[i], "action"))
			has_action = true;
		if (t->nodes[i].kind == NODE_RAW &&
		    name_is(t, &t->nodes[i], "hidden"))
			has_hidden = true;
	}
	if (!has_action) {
		auth_page_err(err, errlen, label, 0,
		              "missing {{action}}, the URL the form posts to");
		return ST_INVALID;
	}
	if (!has_hidden) {
		auth_page_err(err, errlen, label, 0,
		              "missing {{{hidden}}}, the form's hidden fields "
		              "(CSRF token and request parameters)");
		return ST_INVALID;
	}
	return ST_OK;
}

/*
 * Compiles text[len] (takes text: freed here on error) into *t. label
 * names the template in messages.
 */
enum status
auth_tmpl_compile(const char *label, char *text, size_t len, bool form,
                  struct tmpl *t, char *err, size_t errlen)
{
	struct html_state hs = {false, 0};
	struct tag tg;
	size_t pos = 0, open = NO_NODE;
	enum status rc;

	memset(t, 0, sizeof(*t));
	t->text = text;
	t->len = len;
	if (memchr(text, '\0', len) != NULL) {
		auth_page_err(err, errlen, label, 0, "contains a NUL byte");
		rc = ST_INVALID;
		goto out;
	}
	while (pos < len) {
		const char *tag = memmem(text + pos, len - pos, "{{", 2);
		size_t at = tag == NULL ? len : (size_t)(tag - text);

		if (at > pos &&
		    (rc = tmpl_add(t, NODE_TEXT, pos, at - pos)) != ST_OK)
			goto nomem;
		html_scan(&hs, text + pos, at - pos);
		if (tag == NULL)
			break;
		if ((rc = tag_parse(label, text, len, at, &hs, &tg, err,
		                    errlen)) != ST_OK ||
		    (rc = section_step(label, t, &tg, &open, err, errlen)) !=
		        ST_OK)
			goto out;
		if ((rc = tmpl_add(t, tg.kind, (size_t)(tg.name - text),
		                   tg.nlen)) != ST_OK)
			goto nomem;
		pos = tg.end;
	}
	if (open != NO_NODE) {
		const struct node *o = &t->nodes[open];

		auth_page_err(err, errlen, label, line_of(text, o->off),
		              "{{%c%.*s}} is never closed",
		              o->kind == NODE_IF ? '#' : '^', (int)o->len,
		              text + o->off);
		rc = ST_INVALID;
		goto out;
	}
	if (form && (rc = form_fields_check(label, t, err, errlen)) != ST_OK)
		goto out;
	return ST_OK;
nomem:
	auth_page_err(err, errlen, label, 0, "out of memory");
out:
	auth_tmpl_free(t);
	return rc;
}
