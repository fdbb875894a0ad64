/*
 * The token endpoint (RFC 6749 §3.2): reads the request, authenticates the
 * client, runs the grant and answers §5.1 or §5.2.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/oauth_int.h"

struct token_reply {
	char		 access[SEC_TOKEN_STRLEN];
	const char	*scope;
	unsigned	 expires_in;
};

/* RFC 6749 §5.1, with Cache-Control: no-store. Wipes r->access. */
static enum status
token_respond(struct http_req *req, struct token_reply *r)
{
	json_t		*o;
	enum status	 rc;

	o = json_pack("{s:s, s:s, s:I, s:s}", "access_token", r->access,
	    "token_type", "bearer", "expires_in", (json_int_t)r->expires_in,
	    "scope", r->scope);
	sec_wipe(r->access, sizeof(r->access));
	if (o == NULL)
		return ST_NOMEM;
	http_resp_header(req, "Cache-Control", "no-store");
	http_resp_header(req, "Pragma", "no-cache");
	rc = http_respond_json(req, 200, o);
	return rc;
}

/* Mints an access token and stores its digest; r->access gets the token. */
static enum oauth_error
access_issue(const struct oauth_env *env, const struct store_client *c,
    int64_t user_id, const char *scope, struct token_reply *r)
{
	struct store_token	t;
	int64_t			now = clk_now_s();

	memset(&t, 0, sizeof(t));
	if (sec_token_mint(SEC_PREFIX_ACCESS, r->access, t.digest) != ST_OK)
		return OAUTH_SERVER_ERROR;
	t.kind = STORE_TOKEN_ACCESS;
	t.client_id = (char *)(uintptr_t)c->id;
	t.user_id = user_id;
	t.scope = (char *)(uintptr_t)scope;
	t.created_at = now;
	t.expires_at = now + env->cfg->oauth.access_ttl;
	switch (store_token_add(env->st, &t)) {
	case ST_OK:
		break;
	case ST_STORE:
		sec_wipe(r->access, sizeof(r->access));
		return OAUTH_TEMPORARILY_UNAVAILABLE;
	default:
		sec_wipe(r->access, sizeof(r->access));
		return OAUTH_SERVER_ERROR;
	}
	r->scope = scope;
	r->expires_in = env->cfg->oauth.access_ttl;
	return OAUTH_OK;
}

/* RFC 6749 §4.4: a confidential client acting for itself. */
static enum oauth_error
grant_client_credentials(struct http_req *req, const struct oauth_env *env,
    const struct form *f, const struct oauth_client_auth *ca,
    const char **why)
{
	struct token_reply	 r;
	char			*scope = NULL;
	enum oauth_error	 e;

	if (!ca->authenticated) {
		*why = "public clients cannot use client_credentials";
		return OAUTH_UNAUTHORIZED_CLIENT;
	}
	e = oauth_scope_resolve(form_get(f, "scope"), env->cfg->oauth.scopes,
	    env->cfg->oauth.default_scope, ca->client->scope, &scope, why);
	if (e != OAUTH_OK)
		return e;
	e = access_issue(env, ca->client, 0, scope, &r);
	if (e == OAUTH_OK) {
		log_debug("event=token_issued grant=client_credentials "
		    "client=%s scope=\"%s\"", ca->client->id, scope);
		if (token_respond(req, &r) != ST_OK)
			e = OAUTH_SERVER_ERROR;
	} else {
		*why = "could not store the token";
	}
	free(scope);
	return e;
}

enum status
oauth_token_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env	*env = ctx;
	struct form		 f;
	struct oauth_client_auth ca = { 0 };
	const char		*grant, *why = NULL;
	enum oauth_error	 e;

	e = oauth_params_read(req, &f, &why);
	if (e != OAUTH_OK)
		goto out;
	grant = form_get(&f, "grant_type");
	if (grant == NULL) {
		why = "grant_type missing";
		e = OAUTH_INVALID_REQUEST;
		goto out;
	}
	e = oauth_client_authenticate(env->st, req, &f, &ca, &why);
	if (e != OAUTH_OK)
		goto out;
	if (strcmp(grant, "client_credentials") == 0) {
		e = grant_client_credentials(req, env, &f, &ca, &why);
	} else {
		why = "unsupported grant_type";
		e = OAUTH_UNSUPPORTED_GRANT_TYPE;
	}
out:
	if (e != OAUTH_OK) {
		log_info("event=token_refused client=%s error=%s reason=\"%s\" "
		    "from=%s", ca.client != NULL ? ca.client->id : "-",
		    oauth_error_code(e), why != NULL ? why : "-",
		    http_req_peer(req));
		oauth_respond_error(req, e, why, ca.basic_tried);
	}
	store_client_free(ca.client);
	form_free(&f);
	return ST_OK;
}
