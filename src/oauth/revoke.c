/*
 * Token revocation (RFC 7009). The client authenticates as at the token
 * endpoint; a public client identifies itself by client_id (§2.1: the
 * server authenticates the clients it can). A refresh token is revoked
 * with its whole family, so every access token refreshed from the same
 * grant goes too (§2.1 "SHOULD"); an access token alone is revoked alone.
 *
 * Unknown tokens, tokens already dead and tokens issued to another client
 * all answer 200 with an empty body (§2.2): the caller learns nothing
 * about other clients' tokens, and a token of another client is left
 * alone. unsupported_token_type is never needed: both kinds are found by
 * their digest, whatever token_type_hint says.
 */
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/oauth_int.h"

struct revoke_ctx {
	const char *why;    /* error description */
	const char *reason; /* event reason code */
	bool foreign;       /* the token is another client's */
	char user[128];     /* the token's user, for the event */
};

static void
token_user(const struct oauth_env *env, int64_t user_id, struct revoke_ctx *r)
{
	struct store_user *u = NULL;

	if (user_id != 0 && store_user_get_by_id(env->st, user_id, &u) == ST_OK)
		str_copy(r->user, sizeof(r->user), u->name);
	store_user_free(u);
}

/* Revokes tok if it belongs to client. OAUTH_OK unless the store fails. */
static enum oauth_error
revoke_token(const struct oauth_env *env, const struct store_client *client,
             const char *tok, struct revoke_ctx *r)
{
	uint8_t digest[SEC_DIGEST_BYTES];
	struct oauth_jwt_access a;
	struct store_token *t = NULL;
	int64_t now = clk_now_s();
	enum oauth_error e = OAUTH_OK;
	enum status rc;

	rc = oauth_token_row_digest(env->jwt_keys, env->st,
	                            env->cfg->server.issuer, tok, now, digest,
	                            &a);
	if (rc == ST_EXISTS) {
		/* A client_credentials JWT has no row: `plugauth token revoke
		 * --client` or removing the client ends it (docs/jwt.md). */
		r->reason = "jwt_not_stored";
		goto out;
	}
	if (rc == ST_OK)
		rc = store_token_get(env->st, digest, &t);
	if (rc == ST_NOTFOUND) {
		r->reason = "token_unknown";
		goto out;
	}
	if (rc != ST_OK)
		goto unavailable;
	token_user(env, t->user_id, r);
	if (strcmp(t->client_id, client->id) != 0) {
		r->reason = "token_of_other_client";
		r->foreign = true;
		log_info("event=revoke_ignored client=%s owner=%s "
		         "reason=token_of_other_client",
		         client->id, t->client_id);
		goto out;
	}
	if (t->revoked_at != 0) {
		r->reason = "already_revoked";
		goto out;
	}
	rc = store_token_revoke(env->st, digest, now);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		goto unavailable;
	r->reason = t->kind == STORE_TOKEN_REFRESH ? "refresh_family_revoked"
	                                           : "access_revoked";
	log_info("event=token_revoked client=%s kind=%s", client->id,
	         t->kind == STORE_TOKEN_REFRESH ? "refresh" : "access");
	goto out;
unavailable:
	r->why = "storage unavailable";
	r->reason = "store_error";
	e = OAUTH_TEMPORARILY_UNAVAILABLE;
out:
	sec_wipe(digest, sizeof(digest));
	store_token_free(t);
	return e;
}

enum status
oauth_revoke_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	struct form f;
	struct oauth_client_auth ca = {0};
	struct revoke_ctx r;
	const char *tok;
	enum oauth_error e;
	enum status rc;

	if ((rc = oauth_cors_allow(req)) != ST_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	e = oauth_params_read(req, &f, &r.why);
	if (e == OAUTH_OK)
		e = oauth_client_authenticate(env->st, req, &f, &ca, &r.why);
	if (e == OAUTH_OK) {
		tok = form_get(&f, "token");
		if (tok == NULL) {
			r.why = "token missing";
			e = OAUTH_INVALID_REQUEST;
		} else {
			e = revoke_token(env, ca.client, tok, &r);
		}
	}
	if (e != OAUTH_OK) {
		char cbuf[OAUTH_EVENT_FIELD_MAX + 1];

		log_info("event=revoke_refused client=%s error=%s "
		         "reason=\"%s\" from=%s",
		         oauth_client_auth_id(&ca, cbuf, sizeof(cbuf)),
		         oauth_error_code(e), r.why != NULL ? r.why : "-",
		         http_req_peer(req));
		rc = oauth_respond_error(req, e, r.why, ca.basic_tried);
		oauth_client_auth_event(env, req, "revoke", &ca, e, r.why);
	} else {
		rc = http_resp_header(req, "Cache-Control", "no-store");
		if (rc == ST_OK)
			rc = http_respond_text(req, 200, NULL, "", 0);
	}
	if (ca.client != NULL) {
		struct oauth_event_rec ev = {
		    .kind = "revoke",
		    .outcome = e != OAUTH_OK ? oauth_error_code(e)
		               : r.foreign   ? "denied"
		                             : "ok",
		    .reason = r.reason != NULL ? r.reason : r.why,
		    .client_id = ca.client->id,
		    .user = r.user[0] != '\0' ? r.user : NULL,
		    .peer = http_req_peer(req),
		};

		oauth_event(env->events, &ev);
	}
	store_client_free(ca.client);
	form_free(&f);
	return rc;
}
