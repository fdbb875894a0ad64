/*
 * The checks of an authorization request (authorize.c runs them, in this
 * order): oauth_authz_read() reads the parameters,
 * oauth_authz_check_client() looks the client up and checks redirect_uri
 * and state (a failure is shown on an error page, never redirected), and
 * oauth_authz_check_request() checks the rest (a failure goes back to the
 * client's redirect_uri). Only the client lookup touches the store.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oauth/cimd.h"
#include "oauth/oauth_int.h"

#define AUTHZ_PARAMS_MAX 32
#define STATE_MAX_BYTES 1024

void
oauth_authz_free(struct oauth_authz *a)
{
	store_client_free(a->client);
	free(a->scope);
	free(a->scope_bad);
	form_free(&a->f);
}

/* Reads the parameters: the query of a GET, the form body of a POST. */
bool
oauth_authz_read(struct http_req *req, struct oauth_authz *a,
                 struct oauth_authz_err *err)
{
	const char *ct;
	enum status rc;

	form_init(&a->f, AUTHZ_PARAMS_MAX);
	a->is_post = strcmp(http_req_method(req), "POST") == 0;
	if (a->is_post) {
		ct = http_req_header(req, "Content-Type");
		/* The media type exactly; parameters (charset) may follow. */
		if (ct == NULL ||
		    strncasecmp(ct, "application/x-www-form-urlencoded", 33) !=
		        0 ||
		    (ct[33] != '\0' && ct[33] != ';' && ct[33] != ' ' &&
		     ct[33] != '\t')) {
			err->why = "the form must be "
			           "application/x-www-form-urlencoded";
			err->reason = "content_type_unsupported";
			return false;
		}
		rc = form_parse(&a->f, http_req_body(req));
	} else {
		rc = http_req_query_form(req, &a->f);
	}
	if (rc != ST_OK) {
		err->why = rc == ST_TOOBIG
		               ? "too many parameters"
		               : "a parameter is repeated or malformed";
		err->reason = "params_malformed";
		return false;
	}
	return true;
}

/* redirect_uri and state, for the client already looked up. */
bool
oauth_authz_check_redirect(struct oauth_authz *a, struct oauth_authz_err *err)
{
	const char *uri = form_get(&a->f, "redirect_uri");

	err->page = true;
	err->e = OAUTH_INVALID_REQUEST;
	if (uri == NULL) {
		/* RFC 6749 §3.1.2.3: optional when exactly one is registered.
		 */
		if (a->client->chatgpt || a->client->redirect_uris[0] == '\0' ||
		    strchr(a->client->redirect_uris, '\n') != NULL) {
			err->why = "The request has no redirect_uri.";
			err->reason = "redirect_uri_missing";
			return false;
		}
		a->redirect = a->client->redirect_uris;
	} else if (!oauth_redirect_allowed(a->client, uri)) {
		err->why = "The redirect_uri is not registered for this app.";
		err->reason = "redirect_uri_unregistered";
		err->detail = uri;
		return false;
	} else {
		a->redirect = uri;
	}
	a->state = form_get(&a->f, "state");
	if (a->state != NULL && strlen(a->state) > STATE_MAX_BYTES) {
		a->state = NULL;
		err->why = "The state parameter is too long.";
		err->reason = "state_too_long";
		return false;
	}
	return true;
}

/* Checks client_id and redirect_uri: anything wrong here is shown on an
 * error page, since the redirect target cannot be trusted. */
bool
oauth_authz_check_client(const struct oauth_env *env, struct oauth_authz *a,
                         struct oauth_authz_err *err)
{
	const char *id = form_get(&a->f, "client_id");
	bool cimd;
	enum status rc;

	err->page = true;
	err->e = OAUTH_INVALID_REQUEST;
	if (id == NULL) {
		err->why = "The request has no client_id.";
		err->reason = "client_id_missing";
		return false;
	}
	/* An https client_id: a metadata document, fetched unless cached. */
	cimd = cimd_enabled(env->cfg) && cimd_url_like(id);
	if (cimd && !oauth_cimd_authz(env, id, a->peer, false, err))
		return false;
	rc = store_client_get(env->st, id, &a->client);
	if (rc == ST_NOTFOUND && cimd) { /* removed meanwhile: fetch again */
		if (!oauth_cimd_authz(env, id, a->peer, true, err))
			return false;
		rc = store_client_get(env->st, id, &a->client);
	}
	if (rc == ST_OK && !cimd &&
	    a->client->origin == STORE_ORIGIN_METADATA_DOC) {
		store_client_free(a->client); /* documents are off */
		a->client = NULL;
		rc = ST_NOTFOUND;
	}
	if (rc == ST_STORE) {
		err->e = OAUTH_TEMPORARILY_UNAVAILABLE;
		err->why = "The service is unavailable. Try again shortly.";
		err->reason = "store_error";
		return false;
	}
	if (rc != ST_OK) {
		err->e = OAUTH_INVALID_CLIENT;
		err->why = "This app is not registered here (unknown "
		           "client_id).";
		err->reason = "client_unknown";
		err->detail = id;
		return false;
	}
	return oauth_authz_check_redirect(a, err);
}

/* The reason code and offending scope-token of a refused scope: the first
 * one the server does not know, or the client may not have. */
static void
scope_blame(const struct oauth_env *env, struct oauth_authz *a,
            struct oauth_authz_err *err)
{
	const char *p = form_get(&a->f, "scope");
	size_t n;

	err->reason = "scope_invalid"; /* too long or empty */
	err->detail = p;
	for (; p != NULL && *p != '\0'; p += n) {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > 0 && !oauth_scope_has(env->cfg->oauth.scopes, p, n))
			err->reason = "scope_unknown";
		else if (n > 0 && a->client->scope[0] != '\0' &&
		         !oauth_scope_has(a->client->scope, p, n))
			err->reason = "scope_not_allowed";
		else
			continue;
		/* The token: kept in the error, cut at its end. */
		a->scope_bad = strndup(p, n);
		err->detail = a->scope_bad;
		return;
	}
}

/* The rest of the request: errors here go back to the client. */
bool
oauth_authz_check_request(const struct oauth_env *env, struct oauth_authz *a,
                          struct oauth_authz_err *err)
{
	const char *rt = form_get(&a->f, "response_type");
	const char *method = form_get(&a->f, "code_challenge_method");

	err->page = false;
	err->e = OAUTH_INVALID_REQUEST;
	if (rt == NULL) {
		err->why = "response_type missing";
		err->reason = "response_type_missing";
		return false;
	}
	if (strcmp(rt, "code") != 0) {
		err->e = OAUTH_UNSUPPORTED_RESPONSE_TYPE;
		err->why = "only response_type=code is supported";
		err->reason = "response_type_unsupported";
		err->detail = rt;
		return false;
	}
	/* RFC 6749 §4.1.2.1: a code it may not redeem is not issued. */
	if ((a->client->grants & STORE_GRANT_CODE) == 0) {
		err->e = OAUTH_UNAUTHORIZED_CLIENT;
		err->why = "this client is not registered for the "
		           "authorization_code grant";
		err->reason = "unauthorized_client";
		return false;
	}
	a->challenge = form_get(&a->f, "code_challenge");
	if (a->challenge != NULL) {
		if (method == NULL || strcmp(method, "S256") != 0) {
			err->why = "code_challenge_method must be S256";
			err->reason = "pkce_method_unsupported";
			err->detail = method;
			return false;
		}
		if (!oauth_pkce_challenge_ok(a->challenge)) {
			err->why = "malformed code_challenge";
			err->reason = "pkce_challenge_malformed";
			return false;
		}
	} else if (method != NULL) {
		err->why = "code_challenge_method without code_challenge";
		err->reason = "pkce_challenge_missing";
		return false;
	} else if (a->client->is_public) {
		err->why = "PKCE (code_challenge, S256) is required for public "
		           "clients";
		err->reason = "pkce_required";
		return false;
	}
	/* RFC 8707 §2: one of the resources this server issues tokens for
	 * (one per request: a repeated parameter is refused earlier). */
	a->resource = form_get(&a->f, "resource");
	if (a->resource != NULL &&
	    (strlen(a->resource) > CFG_RESOURCE_MAX ||
	     !cfg_resource_known(env->cfg, a->resource))) {
		err->e = OAUTH_INVALID_TARGET;
		err->why = "resource is not one this server issues tokens "
		           "for";
		err->reason = "resource_unknown";
		err->detail = a->resource;
		return false;
	}
	err->e = oauth_scope_resolve(form_get(&a->f, "scope"),
	                             env->cfg->oauth.scopes,
	                             env->cfg->oauth.default_scope,
	                             a->client->scope, &a->scope, &err->why);
	if (err->e != OAUTH_OK)
		scope_blame(env, a, err);
	return err->e == OAUTH_OK;
}

/* The host of the redirect target, shown on the pages ("chatgpt.com"). */
void
oauth_authz_redirect_host(const struct oauth_authz *a, char *out, size_t outsz)
{
	const char *p = strstr(a->redirect, "://");
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	n = strcspn(p, "/?#@");
	if (p[n] == '@') /* userinfo: show nothing rather than mislead */
		return;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}
