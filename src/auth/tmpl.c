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

#define PAGE_NAME_MAX_BYTES 64 /* a variable name */
#define PAGE_QUOTE_MAX_BYTES 40   /* of a bad tag, in error messages */
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

/*
 * Compiles text[len] (takes text: freed here on error) into *t. label
 * names the template in messages.
 */
enum status
auth_tmpl_compile(const char *label, char *text, size_t len, bool form,
             struct tmpl *t, char *err, size_t errlen)
{
	struct html_state hs = {false, 0};
	size_t pos = 0, open = NO_NODE;
	bool has_action = false, has_hidden = false;
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
		const char *tag, *close, *name;
		size_t at, inner, nlen, qlen, closelen;
		bool triple;
		char sigil = '\0';
		enum node_kind kind;

		tag = memmem(text + pos, len - pos, "{{", 2);
		at = tag == NULL ? len : (size_t)(tag - text);
		if (at > pos &&
		    (rc = tmpl_add(t, NODE_TEXT, pos, at - pos)) != ST_OK)
			goto nomem;
		html_scan(&hs, text + pos, at - pos);
		if (tag == NULL)
			break;
		triple = at + 2 < len && text[at + 2] == '{';
		closelen = triple ? 3 : 2;
		inner = at + closelen;
		close = memmem(text + inner, len - inner, triple ? "}}}" : "}}",
		               closelen);
		qlen = len - at < PAGE_QUOTE_MAX_BYTES ? len - at
		                                       : PAGE_QUOTE_MAX_BYTES;
		if (close == NULL ||
		    memmem(text + inner, (size_t)(close - text) - inner, "{{",
		           2) != NULL) {
			auth_page_err(err, errlen, label, line_of(text, at),
			         "\"%.*s\" is never closed with \"%s\"",
			         (int)qlen, tag, triple ? "}}}" : "}}");
			rc = ST_INVALID;
			goto out;
		}
		name = text + inner;
		nlen = (size_t)(close - text) - inner;
		qlen = nlen + 2 * closelen;
		if (qlen > PAGE_QUOTE_MAX_BYTES)
			qlen = PAGE_QUOTE_MAX_BYTES;
		if (!triple && nlen > 0 && strchr("#^/", name[0]) != NULL) {
			sigil = name[0];
			name++;
			nlen--;
		}
		while (nlen > 0 && name[0] == ' ') {
			name++;
			nlen--;
		}
		while (nlen > 0 && name[nlen - 1] == ' ')
			nlen--;
		if (!name_ok(name, nlen)) {
			if (!triple && sigil == '\0' && nlen > 0 &&
			    strchr("!>&=<$", name[0]) != NULL)
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "unsupported tag \"%.*s\": only {{name}}, "
				    "{{{name}}}, {{#name}}, {{^name}} and "
				    "{{/name}} exist",
				    (int)qlen, tag);
			else
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "bad variable name in \"%.*s\": use up to "
				    "%d letters, digits or _",
				    (int)qlen, tag, PAGE_NAME_MAX_BYTES);
			rc = ST_INVALID;
			goto out;
		}
		if (triple) {
			kind = NODE_RAW;
			if (!raw_allowed(name, nlen)) {
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "{{{%.*s}}}: only {{{hidden}}} and "
				    "{{{scopes}}} may be inserted unescaped; "
				    "write {{%.*s}}",
				    (int)nlen, name, (int)nlen, name);
				rc = ST_INVALID;
				goto out;
			}
		} else if (sigil == '#') {
			kind = NODE_IF;
		} else if (sigil == '^') {
			kind = NODE_UNLESS;
		} else if (sigil == '/') {
			kind = NODE_END;
		} else {
			kind = NODE_VAR;
			if (hs.in_tag && hs.quote == 0) {
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "{{%.*s}} is inside a tag but not in a "
				    "quoted attribute value; write "
				    "attr=\"{{%.*s}}\"",
				    (int)nlen, name, (int)nlen, name);
				rc = ST_INVALID;
				goto out;
			}
		}
		if (kind == NODE_IF || kind == NODE_UNLESS) {
			if (open != NO_NODE) {
				const struct node *o = &t->nodes[open];

				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "{{%c%.*s}} inside {{%c%.*s}}: sections "
				    "do not nest",
				    sigil, (int)nlen, name,
				    o->kind == NODE_IF ? '#' : '^', (int)o->len,
				    text + o->off);
				rc = ST_INVALID;
				goto out;
			}
			open = t->n;
		} else if (kind == NODE_END) {
			const struct node *o;

			if (open == NO_NODE) {
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "{{/%.*s}} without an opening {{#%.*s}}",
				    (int)nlen, name, (int)nlen, name);
				rc = ST_INVALID;
				goto out;
			}
			o = &t->nodes[open];
			if (o->len != nlen ||
			    memcmp(text + o->off, name, nlen) != 0) {
				auth_page_err(
				    err, errlen, label, line_of(text, at),
				    "{{/%.*s}} closes {{%c%.*s}} (line %zu)",
				    (int)nlen, name,
				    o->kind == NODE_IF ? '#' : '^', (int)o->len,
				    text + o->off, line_of(text, o->off));
				rc = ST_INVALID;
				goto out;
			}
			t->nodes[open].end = t->n;
			open = NO_NODE;
		}
		if ((rc = tmpl_add(t, kind, (size_t)(name - text), nlen)) !=
		    ST_OK)
			goto nomem;
		pos = (size_t)(close - text) + closelen;
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
	for (size_t i = 0; i < t->n; i++) {
		if (t->nodes[i].kind == NODE_VAR &&
		    name_is(t, &t->nodes[i], "action"))
			has_action = true;
		if (t->nodes[i].kind == NODE_RAW &&
		    name_is(t, &t->nodes[i], "hidden"))
			has_hidden = true;
	}
	if (form && !has_action) {
		auth_page_err(err, errlen, label, 0,
		         "missing {{action}}, the URL the form posts to");
		rc = ST_INVALID;
		goto out;
	}
	if (form && !has_hidden) {
		auth_page_err(err, errlen, label, 0,
		         "missing {{{hidden}}}, the form's hidden fields (CSRF "
		         "token and request parameters)");
		rc = ST_INVALID;
		goto out;
	}
	return ST_OK;
nomem:
	auth_page_err(err, errlen, label, 0, "out of memory");
out:
	auth_tmpl_free(t);
	return rc;
}

