#include "oauth/oauth_int.h"

const char *
oauth_error_code(enum oauth_error e)
{
	switch (e) {
	case OAUTH_OK:
		return "ok";
	case OAUTH_INVALID_REQUEST:
		return "invalid_request";
	case OAUTH_INVALID_CLIENT:
		return "invalid_client";
	case OAUTH_INVALID_GRANT:
		return "invalid_grant";
	case OAUTH_UNAUTHORIZED_CLIENT:
		return "unauthorized_client";
	case OAUTH_UNSUPPORTED_GRANT_TYPE:
		return "unsupported_grant_type";
	case OAUTH_INVALID_SCOPE:
		return "invalid_scope";
	case OAUTH_ACCESS_DENIED:
		return "access_denied";
	case OAUTH_UNSUPPORTED_RESPONSE_TYPE:
		return "unsupported_response_type";
	case OAUTH_TEMPORARILY_UNAVAILABLE:
		return "temporarily_unavailable";
	case OAUTH_INVALID_TARGET:
		return "invalid_target";
	case OAUTH_SERVER_ERROR:
		break;
	}
	return "server_error";
}

unsigned
oauth_error_status(enum oauth_error e)
{
	switch (e) {
	case OAUTH_INVALID_CLIENT:
		return 401;
	case OAUTH_TEMPORARILY_UNAVAILABLE:
		return 503;
	case OAUTH_SERVER_ERROR:
		return 500;
	default:
		return 400;
	}
}

enum status
oauth_respond_error(struct http_req *req, enum oauth_error e, const char *desc,
                    bool basic_tried)
{
	enum status rc = ST_OK;

	if (e == OAUTH_INVALID_CLIENT && basic_tried)
		rc = http_resp_header(
		    req, "WWW-Authenticate",
		    "Basic realm=\"plugauth\", charset=\"UTF-8\"");
	if (rc == ST_OK && e == OAUTH_TEMPORARILY_UNAVAILABLE)
		rc = http_resp_header(req, "Retry-After", "1");
	if (rc == ST_OK)
		rc = http_resp_header(req, "Pragma", "no-cache");
	if (rc != ST_OK)
		return rc;
	return http_respond_error(req, oauth_error_status(e),
	                          oauth_error_code(e), desc);
}
