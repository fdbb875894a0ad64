/*
 * auth/page: the login, consent and error pages, rendered from bounded
 * mustache-like templates (see page.h for the language; the engine is
 * tmpl.c, the built-in pages page_builtin.c).
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

#include "auth/page_int.h"

#define PAGE_PATH_MAX_BYTES 4096
#define PAGE_CSP_MAX_BYTES 1024
#define PAGE_SOURCE_MAX_BYTES 300 /* the redirect's CSP source expression */

static const struct {
	const char *file;    /* the override's name in templates_dir */
	const char *builtin; /* "built-in login" in messages */
	const char *text;
	bool form; /* must use {{action}} and {{{hidden}}} */
} page_defs[AUTH_PAGE_COUNT] = {
    [AUTH_PAGE_LOGIN] = {"login.html", "built-in login", auth_login_html, true},
    [AUTH_PAGE_CONSENT] = {"consent.html", "built-in consent",
                           auth_consent_html, true},
    [AUTH_PAGE_ERROR] = {"error.html", "built-in error", auth_error_html,
                         false},
};

struct auth_pages {
	struct tmpl page[AUTH_PAGE_COUNT];
};

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
		auth_page_err(err, errlen, path, 0, "%s", strerror(errno));
		return ST_INTERNAL;
	}
	if (fstat(fd, &st) != 0) {
		auth_page_err(err, errlen, path, 0, "%s", strerror(errno));
		rc = ST_INTERNAL;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		auth_page_err(err, errlen, path, 0, "not a regular file");
		rc = ST_INVALID;
		goto out;
	}
	if (st.st_size > PAGE_TEMPLATE_MAX_BYTES) {
		auth_page_err(
		    err, errlen, path, 0,
		    "%lld bytes, more than the %d a template may have",
		    (long long)st.st_size, PAGE_TEMPLATE_MAX_BYTES);
		rc = ST_TOOBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	text = malloc(size + 1);
	if (text == NULL) {
		auth_page_err(err, errlen, path, 0, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	while (len < size) {
		r = read(fd, text + len, size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			auth_page_err(err, errlen, path, 0, "%s",
			              strerror(errno));
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
			auth_page_err(err, errlen, dir, 0, "templates_dir: %s",
			              strerror(errno));
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			auth_page_err(err, errlen, dir, 0,
			              "templates_dir: not a directory");
			rc = ST_INVALID;
			goto out;
		}
	}
	ap = calloc(1, sizeof(*ap));
	if (ap == NULL) {
		auth_page_err(err, errlen, "templates", 0, "out of memory");
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
				auth_page_err(err, errlen, dir, 0,
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
				auth_page_err(err, errlen, label, 0,
				              "out of memory");
				rc = ST_NOMEM;
				goto out;
			}
		}
		rc = auth_tmpl_compile(label, text, len, page_defs[i].form,
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

const char *
auth_page_builtin(enum auth_page which, const char **file)
{
	if ((unsigned)which >= AUTH_PAGE_COUNT)
		return NULL;
	*file = page_defs[which].file;
	return page_defs[which].text;
}

void
auth_pages_free(struct auth_pages *ap)
{
	if (ap == NULL)
		return;
	for (size_t i = 0; i < AUTH_PAGE_COUNT; i++)
		auth_tmpl_free(&ap->page[i]);
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

	buf_init_secret(out, PAGE_OUTPUT_MAX_BYTES); /* CSRF token */
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
