/*
 * The demo playground (plugauth demo only): GET /demo and GET
 * /demo/callback serve one self-contained page that plays ChatGPT's part
 * in the browser. It reads the manifest, runs the authorization-code flow
 * for the manifest's scope, either with PKCE S256 as the public client
 * DEMO_PLAYGROUND_CLIENT_ID or as a GPT Action does (the confidential demo
 * client, no PKCE, the secret the user types in sent in a Basic header or
 * in the form body), both back to <issuer>/demo/callback; it exchanges the
 * code at the token endpoint, then calls the demo API, refreshes and
 * revokes, showing each HTTP exchange with tokens and secrets masked. A
 * response to /demo/callback that no sign-in of the tab started (the
 * hand-run flow `plugauth demo` prints) shows its code and state as text
 * and exchanges nothing.
 *
 * The page (playground.html, embedded at build time by
 * scripts/embed-text.py) carries its CSS and JavaScript inline, no external
 * assets. Its one script runs under a per-response CSP nonce, put where the
 * page says {{nonce}}; connect-src 'self' keeps its fetch() calls on this
 * server. Its MCP tab plays an MCP client that knows only the URL of
 * /mcp: 401, protected-resource and authorization-server metadata,
 * dynamic registration, PKCE sign-in and token request with resource,
 * then initialize, tools/list and tools/call.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "crypto/sec.h"
#include "demo/demo.h"
#include "demo/demo_int.h"

#define PAGE_MAX_BYTES (128 * 1024)
#define CSP_MAX_BYTES 512
#define NONCE_MARK "{{nonce}}"

enum status
demo_playground_handle(struct http_req *req, void *ctx)
{
	char nonce[SEC_ID_STRLEN], csp[CSP_MAX_BYTES];
	const char *mark;
	struct buf b;
	struct str s;
	enum status rc;
	int n;

	(void)ctx;
	sec_random_id(nonce); /* 128 bits from the CSPRNG, hex */
	n = snprintf(csp, sizeof(csp),
	             "default-src 'none'; script-src 'nonce-%s'; "
	             "connect-src 'self'; style-src 'unsafe-inline'; "
	             "img-src 'self' data: https:; frame-ancestors 'none'; "
	             "form-action 'self'; base-uri 'none'",
	             nonce);
	if (n < 0 || (size_t)n >= sizeof(csp))
		return ST_TOOBIG;
	mark = strstr(demo_playground_html, NONCE_MARK);
	if (mark == NULL)
		return ST_INTERNAL; /* the page lost its marker: a build bug */
	buf_init(&b, PAGE_MAX_BYTES);
	if ((rc = buf_add(&b, demo_playground_html,
	                  (size_t)(mark - demo_playground_html))) != ST_OK ||
	    (rc = buf_adds(&b, nonce)) != ST_OK ||
	    (rc = buf_adds(&b, mark + strlen(NONCE_MARK))) != ST_OK)
		return rc; /* b freed by buf_add() */
	s = buf_str(&b);
	rc = http_respond_html(req, 200, csp, s.p, s.len);
	buf_free(&b);
	return rc;
}
