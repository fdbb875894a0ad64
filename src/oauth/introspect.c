/*
 * Token introspection (RFC 7662): a resource server asks whether a token
 * is live and what it stands for.
 *
 * Who may ask (RFC 7662 §4 leaves it to policy): any confidential client,
 * authenticated exactly as at the token endpoint (Basic or body), about
 * any token, whichever client it was issued to. Resource servers are
 * registered as clients of their own and must see the tokens other clients
 * present to them. Public clients may not introspect: they hold no secret,
 * so anyone could ask in their name (401 invalid_client).
 *
 * An unknown, expired, revoked or malformed token answers {"active":false}
 * and nothing else (§2.2), so the answer tells nothing about why.
 * token_type_hint is accepted and ignored: every token is found by its
 * digest in one lookup, whatever its kind.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/oauth_int.h"

/* Whether t is live at now. A rotated refresh token stays usable for
 * refresh_reuse_grace seconds (see token.c), and no longer; with a grace
 * of 0, not at all. */
static bool
token_live(const struct oauth_env *env, const struct store_token *t,
           int64_t now)
{
	unsigned grace = env->cfg->oauth.refresh_reuse_grace;

	if (t->revoked_at != 0 || t->expires_at <= now)
		return false;
	if (t->kind == STORE_TOKEN_REFRESH && t->rotated_at != 0 &&
	    (grace == 0 || now - t->rotated_at > (int64_t)grace))
		return false;
	return true;
}

/* The answer about a live JWT stored nowhere (client_credentials, docs/
 * jwt.md), from its checked claims. */
static enum status
jwt_describe(const struct oauth_env *env, const struct oauth_jwt_access *a,
             json_t **out)
{
	json_t *o;

	o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "active",
	              1, "scope", a->scope, "client_id", a->client_id,
	              "token_type", "bearer", "exp", (json_int_t)a->exp, "iat",
	              (json_int_t)a->iat, "sub", a->sub, "iss",
	              env->cfg->server.issuer, "aud", a->aud);
	if (o == NULL)
		return ST_NOMEM;
	*out = o;
	return ST_OK;
}

/* The RFC 7662 §2.2 answer about tok. *out is new; ST_STORE if the store
 * could not tell. */
static enum status
token_describe(const struct oauth_env *env, const char *tok, json_t **out)
{
	uint8_t digest[SEC_DIGEST_BYTES];
	struct oauth_jwt_access a;
	struct store_token *t = NULL;
	struct store_user *u = NULL;
	json_t *o = NULL;
	int64_t now = clk_now_s();
	enum status rc;

	rc = oauth_token_row_digest(env->jwt_keys, env->st,
	                            env->cfg->server.issuer, tok, now, digest,
	                            &a);
	if (rc == ST_EXISTS) /* live, stored nowhere */
		return jwt_describe(env, &a, out);
	if (rc == ST_OK)
		rc = store_token_get(env->st, digest, &t);
	if (rc == ST_OK && !token_live(env, t, now))
		rc = ST_NOTFOUND;
	if (rc == ST_OK && t->user_id != 0)
		rc = store_user_get_by_id(env->st, t->user_id, &u);
	if (rc == ST_NOTFOUND) {
		o = json_pack("{s:b}", "active", 0);
		rc = o != NULL ? ST_OK : ST_NOMEM;
		goto out;
	}
	if (rc != ST_OK) {
		rc = ST_STORE;
		goto out;
	}
	o = json_pack(
	    "{s:b, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "active", 1, "scope",
	    t->scope, "client_id", t->client_id, "token_type",
	    t->kind == STORE_TOKEN_ACCESS ? "bearer" : "refresh_token", "exp",
	    (json_int_t)t->expires_at, "iat", (json_int_t)t->created_at, "sub",
	    u != NULL ? u->name : t->client_id, "iss", env->cfg->server.issuer);
	if (o == NULL ||
	    (u != NULL &&
	     json_object_set_new(o, "username", json_string(u->name)) != 0) ||
	    (t->audience != NULL &&
	     json_object_set_new(o, "aud", json_string(t->audience)) != 0)) {
		json_decref(o);
		o = NULL;
		rc = ST_NOMEM;
	}
out:
	sec_wipe(digest, sizeof(digest));
	store_user_free(u);
	store_token_free(t);
	if (rc == ST_OK)
		*out = o;
	return rc;
}

enum status
oauth_introspect_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	struct form f;
	struct oauth_client_auth ca = {0};
	const char *why = NULL, *tok = NULL;
	json_t *o = NULL;
	enum oauth_error e;
	enum status rc = ST_OK;

	e = oauth_params_read(req, &f, &why);
	if (e == OAUTH_OK)
		e = oauth_client_authenticate(env->st, req, &f, &ca, &why);
	if (e == OAUTH_OK && !ca.authenticated) {
		why = "public clients may not introspect tokens";
		e = OAUTH_INVALID_CLIENT;
	}
	if (e == OAUTH_OK && (tok = form_get(&f, "token")) == NULL) {
		why = "token missing";
		e = OAUTH_INVALID_REQUEST;
	}
	if (e == OAUTH_OK && (rc = token_describe(env, tok, &o)) != ST_OK) {
		why = "storage unavailable";
		e = rc == ST_STORE ? OAUTH_TEMPORARILY_UNAVAILABLE
		                   : OAUTH_SERVER_ERROR;
	}
	if (e != OAUTH_OK) {
		char cbuf[OAUTH_EVENT_FIELD_MAX + 1];

		log_info("event=introspect_refused client=%s error=%s "
		         "reason=\"%s\" from=%s",
		         oauth_client_auth_id(&ca, cbuf, sizeof(cbuf)),
		         oauth_error_code(e), why != NULL ? why : "-",
		         http_req_peer(req));
		rc = oauth_respond_error(req, e, why, ca.basic_tried);
		oauth_client_auth_event(env, req, "introspect", &ca, e, why);
		goto out;
	}
	if ((rc = http_resp_header(req, "Cache-Control", "no-store")) !=
	        ST_OK ||
	    (rc = http_resp_header(req, "Pragma", "no-cache")) != ST_OK) {
		json_decref(o);
		goto out;
	}
	rc = http_respond_json(req, 200, o);
out:
	store_client_free(ca.client);
	form_free(&f);
	return rc;
}
