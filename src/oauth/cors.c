/*
 * CORS (Fetch standard) for the endpoints a browser-based client calls
 * cross-origin: a public client in a web page (MCP Inspector, web apps)
 * reads the metadata, then posts to the token and revocation endpoints.
 *
 * Any origin may call them, without credentials mode: the answers carry
 * Access-Control-Allow-Origin: * and never Access-Control-Allow-
 * Credentials, so a browser sends no cookie along and shows the page no
 * answer to a request that carried one. These endpoints authenticate the
 * client by what the request itself holds (a secret, a PKCE verifier, a
 * refresh token), never by ambient authority, so a page learns nothing it
 * did not send. The sign-in pages (/oauth/authorize) get no CORS headers.
 */
#include "oauth/oauth_int.h"

/* How long a browser may cache the preflight answer, seconds. */
#define CORS_MAX_AGE "86400"

enum status
oauth_cors_allow(struct http_req *req)
{
	return http_resp_header(req, "Access-Control-Allow-Origin", "*");
}

enum status
oauth_cors_preflight_handle(struct http_req *req, void *ctx)
{
	enum status rc;

	(void)ctx;
	if ((rc = oauth_cors_allow(req)) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Allow-Methods",
	                           "POST")) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Allow-Headers",
	                           "Authorization, Content-Type")) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Max-Age",
	                           CORS_MAX_AGE)) != ST_OK)
		return rc;
	return http_respond_text(req, 204, NULL, "", 0);
}
