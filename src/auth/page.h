/*
 * The HTML pages users see during authorization (login, consent, error),
 * rendered from small mustache-like templates. Built-in templates are
 * compiled into the binary; [server] templates_dir may replace any of them
 * with login.html, consent.html or error.html.
 *
 * Template language (bounded, one pass, no re-expansion of values):
 *   {{name}}      the value, HTML-escaped (html_escape())
 *   {{{name}}}    the value as is: only "hidden" and "scopes", which the
 *                 caller builds with auth_hidden_add() / auth_item_add()
 *   {{#name}}…{{/name}}   the block only if the value is non-empty
 *   {{^name}}…{{/name}}   the block only if the value is empty
 * Sections do not nest. Unknown or missing variables render empty. A
 * {{name}} inside a tag must be in a quoted attribute value (x="{{name}}");
 * x={{name}} or <a {{name}}> is refused.
 *
 * Variables each built-in page uses ([opt] may be empty or missing):
 *   login:   plugin_name, client_name, action, hidden, [logo_url],
 *            [error], [username] (prefill), [redirect_host]
 *   consent: plugin_name, client_name, username, action, hidden, [scopes],
 *            [logo_url], [redirect_host]
 *   error:   [title], [message], [hint], [plugin_name]
 * plugin_name is the service's name ([service] name, else [plugin]
 * name_for_human, else the issuer's host: cfg_service_name()); scopes
 * lists [oauth.scope_descriptions]' words, or the raw scopes.
 * login and consent templates must use {{action}} and {{{hidden}}}.
 * URL values (logo_url, action) are escaped but not checked: they come
 * from configuration and the server, never from the request.
 *
 * A loaded struct auth_pages is read-only: any number of threads may
 * render from it at once.
 */
#ifndef PLUGAUTH_PAGE_H
#define PLUGAUTH_PAGE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/status.h"
#include "http/http.h"

#define PAGE_TEMPLATE_MAX_BYTES (256 * 1024) /* per template file */
#define PAGE_OUTPUT_MAX_BYTES (256 * 1024)   /* per rendered page */

enum auth_page {
	AUTH_PAGE_LOGIN = 0,
	AUTH_PAGE_CONSENT,
	AUTH_PAGE_ERROR,
	AUTH_PAGE_COUNT
};

struct auth_pages;

/* One template variable; both strings borrowed for the render call.
 * A NULL value is the same as "". */
struct page_var {
	const char *name;
	const char *value;
};

/*
 * Compiles the built-in templates, then for each of login.html,
 * consent.html, error.html present in dir (NULL: none) compiles that file
 * instead. On error writes one line naming the file and the problem to err
 * ("/etc/t/login.html:12: {{#error}} is never closed") and returns
 * ST_NOTFOUND (dir missing), ST_TOOBIG (file over PAGE_TEMPLATE_MAX_BYTES),
 * ST_INVALID (malformed template), ST_NOMEM or ST_INTERNAL (I/O).
 * *out is new (free with auth_pages_free()); untouched on error.
 */
enum status auth_pages_load(const char *dir, struct auth_pages **out, char *err,
                            size_t errlen);

/* The built-in template of page `which` (borrowed: static) and, in *file,
 * the name an override of it has in templates_dir ("login.html"). NULL
 * for an unknown page; *file untouched then. */
const char *auth_page_builtin(enum auth_page which, const char **file);

/* NULL-safe. */
void auth_pages_free(struct auth_pages *);

/*
 * Renders page `which` with vars[n] (first match wins). out is initialised
 * here with a PAGE_OUTPUT_MAX_BYTES ceiling: on ST_OK its contents are new
 * (buf_free() or auth_page_respond()); on error it is empty. ST_TOOBIG if
 * the page would be larger, ST_INVALID for an unknown page.
 */
enum status auth_page_render(const struct auth_pages *, enum auth_page which,
                             const struct page_var *vars, size_t n,
                             struct buf *out);

/*
 * Answers with html as "text/html; charset=utf-8", Cache-Control: no-store,
 * X-Frame-Options: DENY, Referrer-Policy: no-referrer,
 * X-Content-Type-Options: nosniff and a Content-Security-Policy whose
 * form-action allows 'self' plus the origin of redirect_uri: pass the
 * client's redirect_uri for the login and consent pages (their POST may
 * end in a redirect to the client, and Chromium checks form-action on
 * that redirect), NULL for pages without such a form. Takes html (freed
 * here, also on error).
 */
enum status auth_page_respond(struct http_req *, unsigned status,
                              struct buf *html, const char *redirect_uri);

/* Appends s (NULL: nothing) with & < > " ' ` escaped as HTML entities, safe
 * in element content and in quoted attribute values. As buf_add() on error
 * (b is freed). */
enum status html_escape(struct buf *b, const char *s);

/* Appends <input type="hidden" name="…" value="…"> with both escaped;
 * a NULL or empty value appends nothing. As buf_add() on error. */
enum status auth_hidden_add(struct buf *b, const char *name, const char *value);

/* Appends <li>text</li> with text escaped (for the consent page's scope
 * list); NULL or empty text appends nothing. As buf_add() on error. */
enum status auth_item_add(struct buf *b, const char *text);

#endif
