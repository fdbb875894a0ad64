/*
 * GET /oauth/verify: the check nginx's auth_request module asks for before
 * it forwards a request to the API. nginx passes the original request's
 * headers (the Authorization header among them) and no body; 2xx lets the
 * request through, 401 and 403 are passed on to the client as they are.
 */
#include "gateway/gateway_int.h"

enum status
gw_verify_handle(struct http_req *req, void *ctx)
{
	struct gw_env *gw = ctx;
	struct gw_identity id;
	struct gw_verdict v;
	enum status rc;

	gw_authorize(gw, req, &id, &v);
	if (v.check != GW_OK)
		return gw_refuse(gw, req, &id, &v);
	if ((rc = http_resp_header(req, "X-Plugauth-User", id.user)) != ST_OK ||
	    (rc = http_resp_header(req, "X-Plugauth-Client", id.client_id)) !=
	        ST_OK ||
	    (rc = http_resp_header(req, "X-Plugauth-Scope", id.scope)) !=
	        ST_OK ||
	    (rc = http_resp_header(req, "Cache-Control", "no-store")) != ST_OK)
		return rc;
	return http_respond_text(req, 204, NULL, "", 0);
}
