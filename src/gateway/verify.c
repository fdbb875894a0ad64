/*
 * GET /oauth/verify: the check nginx's auth_request module asks for before
 * it forwards a request to the API. nginx passes the original request's
 * headers (the Authorization header among them) and no body; 2xx lets the
 * request through, 401 and 403 are passed on to the client as they are.
 */
#include "gateway/gateway_int.h"

static enum status
add_answer_header(void *arg, const char *name, const char *value)
{
	return http_resp_header(arg, name, value);
}

enum status
gw_verify_head(struct http_req *req, void *ctx)
{
	enum status rc;

	(void)gw_identify(ctx, req, false, &rc);
	return rc;
}

enum status
gw_verify_handle(struct http_req *req, void *ctx)
{
	const struct gw_identity *id;
	enum status rc;

	if ((id = gw_identify(ctx, req, false, &rc)) == NULL)
		return rc;
	if ((rc = gw_identity_headers(id, add_answer_header, req)) != ST_OK ||
	    (rc = http_resp_header(req, "Cache-Control", "no-store")) != ST_OK)
		return rc;
	return http_respond_text(req, 204, NULL, "", 0);
}
