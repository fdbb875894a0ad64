/*
 * auth/page: the login, consent and error pages, rendered from bounded
 * mustache-like templates (see page.h for the language).
 *
 * A template is compiled once, at start-up, into a flat list of nodes
 * (text, variable, section start, section end) over its own text, and
 * every problem is reported then, with file and line. Rendering walks the
 * nodes once: values are written out, never parsed again, so a "{{" inside
 * a value stays text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/page.h"

#define PAGE_NAME_MAX_BYTES 64 /* a variable name */
#define PAGE_PATH_MAX_BYTES 4096
#define PAGE_CSP_MAX_BYTES 1024
#define PAGE_SOURCE_MAX_BYTES 300 /* the redirect's CSP source expression */
#define PAGE_QUOTE_MAX_BYTES 40   /* of a bad tag, in error messages */
#define NO_NODE SIZE_MAX

/*
 * The built-in pages. One stylesheet, light and dark, no external assets:
 * the CSP below allows inline styles, images over https (the logo) and
 * nothing else, so the pages work without JavaScript by design.
 */
/* clang-format off */
#define PAGE_HEAD(title) \
"<!doctype html>\n" \
"<html lang=\"en\">\n" \
"<head>\n" \
"<meta charset=\"utf-8\">\n" \
"<link rel=\"icon\" href=\"data:,\">\n" \
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" \
"<meta name=\"color-scheme\" content=\"light dark\">\n" \
"<meta name=\"referrer\" content=\"no-referrer\">\n" \
"<meta name=\"robots\" content=\"noindex, nofollow\">\n" \
"<title>" title "</title>\n" \
"<style>\n" \
":root{--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;" \
"--line:#d1d5db;--field:#fff;--accent:#2563eb;--accent-hover:#1d4ed8;" \
"--on-accent:#fff;--icon:#2563eb;--soft:#eef2ff;--ok:#15803d;" \
"--ok-soft:#dcfce7;" \
"--bad:#b91c1c;--bad-soft:#fef2f2;--bad-line:#fecaca;" \
"--ring:rgba(37,99,235,.35);--shadow:0 1px 2px rgba(16,24,40,.05)," \
"0 12px 32px rgba(16,24,40,.08)}\n" \
"@media (prefers-color-scheme:dark){:root{--bg:#0b0f17;--card:#151b26;" \
"--text:#e5e7eb;--muted:#9ca3af;--line:#2d3748;--field:#0f141d;" \
"--accent:#2563eb;--accent-hover:#1d4ed8;--on-accent:#fff;--icon:#60a5fa;" \
"--soft:#1e293b;--ok:#4ade80;--ok-soft:#14301f;--bad:#fca5a5;" \
"--bad-soft:#2a1215;--bad-line:#7f1d1d;--ring:rgba(96,165,250,.45);" \
"--shadow:0 12px 32px rgba(0,0,0,.45)}}\n" \
"*{box-sizing:border-box}\n" \
"html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n" \
"body{margin:0;min-height:100vh;display:flex;align-items:center;" \
"justify-content:center;padding:24px 16px;background:var(--bg);" \
"color:var(--text);font:16px/1.5 system-ui,-apple-system,\"Segoe UI\"," \
"Roboto,\"Helvetica Neue\",Arial,sans-serif}\n" \
"main{width:100%;max-width:420px;background:var(--card);" \
"border:1px solid var(--line);border-radius:16px;padding:32px 28px;" \
"box-shadow:var(--shadow)}\n" \
".logo{display:block;width:56px;height:56px;margin:0 auto 20px;" \
"border-radius:14px;object-fit:cover}\n" \
".mark{display:flex;align-items:center;justify-content:center;" \
"width:56px;height:56px;margin:0 auto 20px;border-radius:14px;" \
"background:var(--soft);color:var(--icon)}\n" \
".mark.bad{background:var(--bad-soft);color:var(--bad)}\n" \
"h1{margin:0 0 8px;font-size:1.375rem;line-height:1.3;" \
"text-align:center;overflow-wrap:anywhere}\n" \
".lead{margin:0 0 24px;color:var(--muted);text-align:center;" \
"overflow-wrap:anywhere}\n" \
".lead strong{color:var(--text)}\n" \
"label{display:block;margin:0 0 6px;font-size:.875rem;font-weight:600}\n" \
"input[type=text],input[type=password]{display:block;width:100%;" \
"margin:0 0 16px;padding:10px 12px;font:inherit;color:inherit;" \
"background:var(--field);border:1px solid var(--line);" \
"border-radius:10px}\n" \
"input:focus{outline:none;border-color:var(--accent);" \
"box-shadow:0 0 0 3px var(--ring)}\n" \
"button{display:block;width:100%;padding:11px 16px;font:inherit;" \
"font-weight:600;color:var(--on-accent);background:var(--accent);" \
"border:1px solid var(--accent);border-radius:10px;cursor:pointer}\n" \
"button:hover{background:var(--accent-hover);" \
"border-color:var(--accent-hover)}\n" \
"button:focus-visible{outline:none;box-shadow:0 0 0 3px var(--ring)}\n" \
"button.secondary{color:var(--text);background:transparent;" \
"border-color:var(--line)}\n" \
"button.secondary:hover{background:var(--soft)}\n" \
"form > button{margin-top:8px}\n" \
".actions{display:flex;gap:12px;margin-top:24px}\n" \
".alert{margin:0 0 20px;padding:10px 12px;color:var(--bad);" \
"background:var(--bad-soft);border:1px solid var(--bad-line);" \
"border-radius:10px;font-size:.9375rem}\n" \
".section{margin:0 0 10px;font-size:.875rem;font-weight:600}\n" \
".scopes{margin:0;padding:0;list-style:none;border:1px solid var(--line);" \
"border-radius:12px}\n" \
".scopes li{position:relative;padding:12px 14px 12px 44px;" \
"overflow-wrap:anywhere}\n" \
".scopes li+li{border-top:1px solid var(--line)}\n" \
".scopes li::before{content:\"\\2713\";position:absolute;left:14px;" \
"top:13px;width:20px;height:20px;border-radius:50%;font-size:.75rem;" \
"line-height:20px;text-align:center;font-weight:700;color:var(--ok);" \
"background:var(--ok-soft)}\n" \
".fine{margin:20px 0 0;color:var(--muted);font-size:.8125rem;" \
"text-align:center;overflow-wrap:anywhere}\n" \
".message{margin:0 0 8px;text-align:center;overflow-wrap:anywhere}\n" \
"@media (max-width:480px){body{padding:16px 12px;align-items:flex-start}" \
"main{padding:24px 20px}}\n" \
"</style>\n" \
"</head>\n" \
"<body>\n"

#define PAGE_LOGO \
"{{#logo_url}}<img class=\"logo\" src=\"{{logo_url}}\" alt=\"\" " \
"width=\"56\" height=\"56\">{{/logo_url}}\n" \
"{{^logo_url}}<div class=\"mark\" aria-hidden=\"true\">" \
"<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" fill=\"none\" " \
"stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" " \
"stroke-linejoin=\"round\"><rect x=\"4\" y=\"11\" width=\"16\" " \
"height=\"10\" rx=\"2\"/><path d=\"M8 11V7a4 4 0 0 1 8 0v4\"/></svg>" \
"</div>{{/logo_url}}\n"

#define PAGE_TAIL \
"</main>\n" \
"</body>\n" \
"</html>\n"

static const char login_html[] =
PAGE_HEAD("Sign in to {{plugin_name}}")
"<main>\n"
PAGE_LOGO
"<h1>Sign in to {{plugin_name}}</h1>\n"
"<p class=\"lead\"><strong>{{client_name}}</strong> wants to access your "
"account</p>\n"
"{{#error}}<div class=\"alert\" role=\"alert\">{{error}}</div>{{/error}}\n"
"<form method=\"post\" action=\"{{action}}\">\n"
"<label for=\"username\">Username</label>\n"
"<input id=\"username\" name=\"username\" type=\"text\" "
"value=\"{{username}}\" autocomplete=\"username\" autocapitalize=\"none\" "
"spellcheck=\"false\" required{{^error}} autofocus{{/error}}>\n"
"<label for=\"password\">Password</label>\n"
"<input id=\"password\" name=\"password\" type=\"password\" "
"autocomplete=\"current-password\" required"
"{{#error}} autofocus{{/error}}>\n"
"{{{hidden}}}\n"
"<button type=\"submit\">Sign in</button>\n"
"</form>\n"
"{{#redirect_host}}<p class=\"fine\">After you sign in you will return to "
"{{redirect_host}}.</p>{{/redirect_host}}\n"
PAGE_TAIL;

static const char consent_html[] =
PAGE_HEAD("Allow {{client_name}} to access {{plugin_name}}?")
"<main>\n"
PAGE_LOGO
"<h1>Allow {{client_name}}?</h1>\n"
"<p class=\"lead\"><strong>{{client_name}}</strong> wants to access your "
"<strong>{{plugin_name}}</strong> account as "
"<strong>{{username}}</strong></p>\n"
"{{#scopes}}<p class=\"section\">It will be able to:</p>\n"
"<ul class=\"scopes\">\n{{{scopes}}}</ul>{{/scopes}}\n"
"<form method=\"post\" action=\"{{action}}\">\n"
"{{{hidden}}}\n"
"<div class=\"actions\">\n"
"<button type=\"submit\" name=\"decision\" value=\"deny\" "
"class=\"secondary\">Deny</button>\n"
"<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
"</div>\n"
"</form>\n"
"<p class=\"fine\">{{#redirect_host}}Either way you will return to "
"{{redirect_host}}. {{/redirect_host}}Only allow apps you trust.</p>\n"
PAGE_TAIL;

static const char error_html[] =
PAGE_HEAD("{{#title}}{{title}}{{/title}}{{^title}}Something went wrong"
    "{{/title}}")
"<main>\n"
"<div class=\"mark bad\" aria-hidden=\"true\">"
"<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" fill=\"none\" "
"stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" "
"stroke-linejoin=\"round\"><circle cx=\"12\" cy=\"12\" r=\"10\"/>"
"<path d=\"M12 7v6\"/><path d=\"M12 17h.01\"/></svg></div>\n"
"<h1>{{#title}}{{title}}{{/title}}{{^title}}Something went wrong"
"{{/title}}</h1>\n"
"{{#message}}<p class=\"message\">{{message}}</p>{{/message}}\n"
"<p class=\"fine\">{{#hint}}{{hint}}{{/hint}}{{^hint}}Return to the app "
"and try again.{{/hint}}</p>\n"
"{{#plugin_name}}<p class=\"fine\">{{plugin_name}}</p>{{/plugin_name}}\n"
PAGE_TAIL;
/* clang-format on */

static const struct {
	const char *file;    /* the override's name in templates_dir */
	const char *builtin; /* "built-in login" in messages */
	const char *text;
	bool form; /* must use {{action}} and {{{hidden}}} */
} page_defs[AUTH_PAGE_COUNT] = {
    [AUTH_PAGE_LOGIN] = {"login.html", "built-in login", login_html, true},
    [AUTH_PAGE_CONSENT] = {"consent.html", "built-in consent", consent_html,
                           true},
    [AUTH_PAGE_ERROR] = {"error.html", "built-in error", error_html, false},
};

/* Values inserted raw: HTML the caller builds with auth_hidden_add() and
 * auth_item_add(). A template asking for any other variable raw is refused
 * at load, so an override cannot print a client-supplied name unescaped. */
static const char *const raw_names[] = {"hidden", "scopes"};

enum node_kind {
	NODE_TEXT,   /* literal template text */
	NODE_VAR,    /* {{name}} */
	NODE_RAW,    /* {{{name}}} */
	NODE_IF,     /* {{#name}} */
	NODE_UNLESS, /* {{^name}} */
	NODE_END,    /* {{/name}} */
};

struct node {
	enum node_kind kind;
	size_t off; /* into tmpl.text: the text, or the name */
	size_t len;
	size_t end; /* NODE_IF, NODE_UNLESS: index of the NODE_END */
};

struct tmpl {
	char *text;
	size_t len;
	struct node *nodes;
	size_t n;
	size_t cap;
};

struct auth_pages {
	struct tmpl page[AUTH_PAGE_COUNT];
};

/* Writes "label:line: message" (line 0: "label: message") to err. A message
 * longer than errlen is cut short, which is fine for a diagnostic. */
static void __attribute__((format(printf, 5, 6)))
page_err(char *err, size_t errlen, const char *label, size_t line,
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

static void
tmpl_free(struct tmpl *t)
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
static enum status
tmpl_compile(const char *label, char *text, size_t len, bool form,
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
		page_err(err, errlen, label, 0, "contains a NUL byte");
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
			page_err(err, errlen, label, line_of(text, at),
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
				page_err(
				    err, errlen, label, line_of(text, at),
				    "unsupported tag \"%.*s\": only {{name}}, "
				    "{{{name}}}, {{#name}}, {{^name}} and "
				    "{{/name}} exist",
				    (int)qlen, tag);
			else
				page_err(
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
				page_err(
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
				page_err(
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

				page_err(
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
				page_err(
				    err, errlen, label, line_of(text, at),
				    "{{/%.*s}} without an opening {{#%.*s}}",
				    (int)nlen, name, (int)nlen, name);
				rc = ST_INVALID;
				goto out;
			}
			o = &t->nodes[open];
			if (o->len != nlen ||
			    memcmp(text + o->off, name, nlen) != 0) {
				page_err(
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

		page_err(err, errlen, label, line_of(text, o->off),
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
		page_err(err, errlen, label, 0,
		         "missing {{action}}, the URL the form posts to");
		rc = ST_INVALID;
		goto out;
	}
	if (form && !has_hidden) {
		page_err(err, errlen, label, 0,
		         "missing {{{hidden}}}, the form's hidden fields (CSRF "
		         "token and request parameters)");
		rc = ST_INVALID;
		goto out;
	}
	return ST_OK;
nomem:
	page_err(err, errlen, label, 0, "out of memory");
out:
	tmpl_free(t);
	return rc;
}

/*
 * Reads the file at path into *out (new, NUL-terminated) and *outlen.
 * ST_NOTFOUND, with no message, if it does not exist.
 */
static enum status
file_read(const char *path, char **out, size_t *outlen, char *err,
          size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0, size;
	ssize_t r;
	int fd;
	enum status rc;

	/* O_NONBLOCK: a FIFO must not hang start-up; fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return ST_NOTFOUND;
		page_err(err, errlen, path, 0, "%s", strerror(errno));
		return ST_INTERNAL;
	}
	if (fstat(fd, &st) != 0) {
		page_err(err, errlen, path, 0, "%s", strerror(errno));
		rc = ST_INTERNAL;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		page_err(err, errlen, path, 0, "not a regular file");
		rc = ST_INVALID;
		goto out;
	}
	if (st.st_size > PAGE_TEMPLATE_MAX_BYTES) {
		page_err(err, errlen, path, 0,
		         "%lld bytes, more than the %d a template may have",
		         (long long)st.st_size, PAGE_TEMPLATE_MAX_BYTES);
		rc = ST_TOOBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	text = malloc(size + 1);
	if (text == NULL) {
		page_err(err, errlen, path, 0, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	while (len < size) {
		r = read(fd, text + len, size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			page_err(err, errlen, path, 0, "%s", strerror(errno));
			rc = ST_INTERNAL;
			goto out;
		}
		if (r == 0)
			break; /* shrank since fstat: take what is there */
		len += (size_t)r;
	}
	text[len] = '\0';
	*out = text;
	*outlen = len;
	text = NULL;
	rc = ST_OK;
out:
	free(text);
	close(fd);
	return rc;
}

enum status
auth_pages_load(const char *dir, struct auth_pages **out, char *err,
                size_t errlen)
{
	struct auth_pages *ap = NULL;
	struct stat st;
	char path[PAGE_PATH_MAX_BYTES];
	const char *label;
	char *text;
	size_t len;
	int n;
	enum status rc;

	if (errlen > 0)
		err[0] = '\0';
	if (dir != NULL) {
		if (stat(dir, &st) != 0) {
			rc = errno == ENOENT ? ST_NOTFOUND : ST_INTERNAL;
			page_err(err, errlen, dir, 0, "templates_dir: %s",
			         strerror(errno));
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			page_err(err, errlen, dir, 0,
			         "templates_dir: not a directory");
			rc = ST_INVALID;
			goto out;
		}
	}
	ap = calloc(1, sizeof(*ap));
	if (ap == NULL) {
		page_err(err, errlen, "templates", 0, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < AUTH_PAGE_COUNT; i++) {
		text = NULL;
		rc = ST_NOTFOUND;
		if (dir != NULL) {
			n = snprintf(path, sizeof(path), "%s/%s", dir,
			             page_defs[i].file);
			if (n < 0 || (size_t)n >= sizeof(path)) {
				page_err(err, errlen, dir, 0,
				         "templates_dir: path too long");
				rc = ST_TOOBIG;
				goto out;
			}
			rc = file_read(path, &text, &len, err, errlen);
			if (rc != ST_OK && rc != ST_NOTFOUND)
				goto out;
		}
		if (rc == ST_OK) {
			label = path;
		} else {
			label = page_defs[i].builtin;
			len = strlen(page_defs[i].text);
			text = strdup(page_defs[i].text);
			if (text == NULL) {
				page_err(err, errlen, label, 0,
				         "out of memory");
				rc = ST_NOMEM;
				goto out;
			}
		}
		rc = tmpl_compile(label, text, len, page_defs[i].form,
		                  &ap->page[i], err, errlen);
		if (rc != ST_OK) {
			/* A built-in template that does not compile is a
			 * bug, not bad input. */
			if (label != path && rc == ST_INVALID)
				rc = ST_INTERNAL;
			goto out;
		}
	}
	*out = ap;
	ap = NULL;
	rc = ST_OK;
out:
	auth_pages_free(ap);
	return rc;
}

void
auth_pages_free(struct auth_pages *ap)
{
	if (ap == NULL)
		return;
	for (size_t i = 0; i < AUTH_PAGE_COUNT; i++)
		tmpl_free(&ap->page[i]);
	free(ap);
}

/* The value of the variable named p[len], or "" if absent or NULL. */
static const char *
var_get(const struct page_var *vars, size_t n, const char *p, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (vars[i].name == NULL ||
		    strncmp(vars[i].name, p, len) != 0 ||
		    vars[i].name[len] != '\0')
			continue;
		return vars[i].value == NULL ? "" : vars[i].value;
	}
	return "";
}

enum status
auth_page_render(const struct auth_pages *ap, enum auth_page which,
                 const struct page_var *vars, size_t n, struct buf *out)
{
	const struct tmpl *t;
	const struct node *nd;
	const char *v;
	enum status rc = ST_OK;

	buf_init(out, PAGE_OUTPUT_MAX_BYTES);
	if (ap == NULL || (unsigned)which >= AUTH_PAGE_COUNT)
		return ST_INVALID;
	t = &ap->page[which];
	for (size_t i = 0; i < t->n && rc == ST_OK; i++) {
		nd = &t->nodes[i];
		if (nd->kind == NODE_TEXT) {
			rc = buf_add(out, t->text + nd->off, nd->len);
			continue;
		}
		v = var_get(vars, n, t->text + nd->off, nd->len);
		switch (nd->kind) {
		case NODE_VAR:
			rc = html_escape(out, v);
			break;
		case NODE_RAW:
			rc = buf_adds(out, v);
			break;
		case NODE_IF:
			if (v[0] == '\0')
				i = nd->end;
			break;
		case NODE_UNLESS:
			if (v[0] != '\0')
				i = nd->end;
			break;
		case NODE_TEXT:
		case NODE_END:
			break;
		}
	}
	/* buf_add() freed out on error: it is empty, as promised. */
	return rc;
}

/*
 * The CSP source for the origin of uri: "https://host[:port]", or just
 * "scheme:" when uri has no authority (a private-use scheme, RFC 8252
 * §7.1) or a host CSP cannot spell (an IPv6 literal). False if uri is
 * not an absolute URI this can vouch for; the caller then leaves
 * form-action out rather than break the redirect.
 */
static bool
csp_source(const char *uri, char *out, size_t outsz)
{
	const char *h;
	size_t sl, hl, hostl;
	bool host_ok;
	int n;

	sl = strspn(uri, "abcdefghijklmnopqrstuvwxyz"
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (sl == 0 || uri[sl] != ':' ||
	    strchr("0123456789+.-", uri[0]) != NULL)
		return false;
	if (strncmp(uri + sl, "://", 3) != 0) {
		n = snprintf(out, outsz, "%.*s:", (int)sl, uri);
		return n > 0 && (size_t)n < outsz;
	}
	h = uri + sl + 3;
	hl = strcspn(h, "/?#");
	hostl = strcspn(h, ":/?#");
	host_ok =
	    hostl > 0 && hostl == strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGH"
	                                    "IJKLMNOPQRSTUVWXYZ0123456789.-");
	if (host_ok && hostl < hl)
		/* a port: ':' and 1 to 5 digits, nothing else */
		host_ok = hl - hostl >= 2 && hl - hostl <= 6 &&
		          strspn(h + hostl + 1, "0123456789") == hl - hostl - 1;
	if (!host_ok) {
		if (memchr(h, '@', hl) != NULL)
			return false; /* userinfo: not a redirect_uri */
		n = snprintf(out, outsz, "%.*s:", (int)sl, uri);
		return n > 0 && (size_t)n < outsz;
	}
	n = snprintf(out, outsz, "%.*s://%.*s", (int)sl, uri, (int)hl, h);
	return n > 0 && (size_t)n < outsz;
}

enum status
auth_page_respond(struct http_req *req, unsigned status, struct buf *html,
                  const char *redirect_uri)
{
	char src[PAGE_SOURCE_MAX_BYTES], csp[PAGE_CSP_MAX_BYTES];
	struct str body;
	int n;
	enum status rc;

	/*
	 * form-action: CSP3 says form-action applies to the form's
	 * submission, and Chromium also checks every redirect that follows
	 * it. Our login and consent POSTs end in a 302 to the client's
	 * redirect_uri (chatgpt.com, a loopback port, a private scheme), so
	 * a bare 'self' would strand the user on our page in Chromium with
	 * the code never delivered. Leaving form-action out loses a real
	 * defence (an injected form cannot post the password elsewhere), so
	 * we keep it and add the one origin this request may legitimately
	 * redirect to: the client's redirect_uri, which the caller has
	 * already matched against the client's registration. If that URI
	 * cannot be spelled as a CSP source, form-action is left out: a
	 * working sign-in beats defence in depth.
	 * img-src has 'self' besides https: so a demo logo served over
	 * plain http from this server still shows.
	 */
	if (redirect_uri == NULL)
		n = snprintf(csp, sizeof(csp), "%s form-action 'self'; %s",
		             "default-src 'none'; style-src 'unsafe-inline'; "
		             "img-src 'self' https: data:;",
		             "frame-ancestors 'none'; base-uri 'none'");
	else if (csp_source(redirect_uri, src, sizeof(src)))
		n = snprintf(csp, sizeof(csp), "%s form-action 'self' %s; %s",
		             "default-src 'none'; style-src 'unsafe-inline'; "
		             "img-src 'self' https: data:;",
		             src, "frame-ancestors 'none'; base-uri 'none'");
	else
		n = snprintf(csp, sizeof(csp), "%s %s",
		             "default-src 'none'; style-src 'unsafe-inline'; "
		             "img-src 'self' https: data:;",
		             "frame-ancestors 'none'; base-uri 'none'");
	if (n < 0 || (size_t)n >= sizeof(csp)) {
		rc = ST_TOOBIG;
		goto out;
	}
	body = buf_str(html);
	rc = http_respond_html(req, status, csp, body.p, body.len);
out:
	buf_free(html);
	return rc;
}

/*
 * & < > " ' are what HTML needs escaped in content and in quoted
 * attributes; ` is added for old browsers that took it as a quote. We do
 * not escape / or = (OWASP's list for unquoted attributes): templates may
 * not put a value in an unquoted attribute (the compiler refuses it), and
 * leaving them keeps hidden-field values such as redirect_uri byte-exact
 * for scripted clients that read the form without decoding entities.
 */
enum status
html_escape(struct buf *b, const char *s)
{
	const char *run, *ent;
	enum status rc;

	if (s == NULL)
		return ST_OK;
	for (run = s; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		case '`':
			ent = "&#96;";
			break;
		default:
			continue;
		}
		if (s > run &&
		    (rc = buf_add(b, run, (size_t)(s - run))) != ST_OK)
			return rc;
		if ((rc = buf_adds(b, ent)) != ST_OK)
			return rc;
		run = s + 1;
	}
	return s > run ? buf_add(b, run, (size_t)(s - run)) : ST_OK;
}

enum status
auth_hidden_add(struct buf *b, const char *name, const char *value)
{
	enum status rc;

	if (value == NULL || value[0] == '\0')
		return ST_OK;
	if ((rc = buf_adds(b, "<input type=\"hidden\" name=\"")) != ST_OK ||
	    (rc = html_escape(b, name)) != ST_OK ||
	    (rc = buf_adds(b, "\" value=\"")) != ST_OK ||
	    (rc = html_escape(b, value)) != ST_OK ||
	    (rc = buf_adds(b, "\">\n")) != ST_OK)
		return rc;
	return ST_OK;
}

enum status
auth_item_add(struct buf *b, const char *text)
{
	enum status rc;

	if (text == NULL || text[0] == '\0')
		return ST_OK;
	if ((rc = buf_adds(b, "<li>")) != ST_OK ||
	    (rc = html_escape(b, text)) != ST_OK ||
	    (rc = buf_adds(b, "</li>\n")) != ST_OK)
		return rc;
	return ST_OK;
}
