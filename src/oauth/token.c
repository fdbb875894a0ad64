/*
 * The token endpoint (RFC 6749 §3.2): reads the request (form or JSON
 * body), authenticates the client (Basic or body), runs the grant and
 * answers §5.1 or §5.2. Grants: authorization_code (§4.1.3, RFC 7636),
 * refresh_token (§6, rotated, with a reuse grace window), and
 * client_credentials (§4.4).
 *
 * A grant reads its code or refresh token and checks it here; the store
 * then spends it and stores the new tokens in one transaction, which
 * fails (ST_DENIED) if the code or token was spent meanwhile by a
 * concurrent request, or its family revoked: a grant never leaves a code
 * spent without its tokens, nor a live token in a revoked family.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/cimd.h"
#include "oauth/token_int.h"

static const struct {
	const char *name;
	unsigned bit;
} grant_names[] = {
    {"authorization_code", STORE_GRANT_CODE},
    {"refresh_token", STORE_GRANT_REFRESH},
    {"client_credentials", STORE_GRANT_CLIENT_CREDENTIALS},
};

unsigned
oauth_grant_bit(const char *name)
{
	for (size_t i = 0; name != NULL && i < ARRAY_LEN(grant_names); i++)
		if (strcmp(name, grant_names[i].name) == 0)
			return grant_names[i].bit;
	return 0;
}

const char *
oauth_grant_name(unsigned bit)
{
	for (size_t i = 0; i < ARRAY_LEN(grant_names); i++)
		if (grant_names[i].bit == bit)
			return grant_names[i].name;
	return NULL;
}

/* RFC 6749 §5.1, with Cache-Control: no-store. Wipes the tokens. */
static enum status
token_respond(struct http_req *req, struct token_reply *r)
{
	enum status rc;
	json_t *o;

	o = json_pack("{s:s, s:s, s:I, s:s}", "access_token",
	              r->jwt != NULL ? r->jwt : r->access, "token_type",
	              "bearer", "expires_in", (json_int_t)r->expires_in,
	              "scope", r->scope);
	if (o != NULL && r->refresh[0] != '\0')
		json_object_set_new(o, "refresh_token",
		                    json_string(r->refresh));
	oauth_token_reply_wipe(r);
	if (o == NULL)
		return ST_NOMEM;
	if ((rc = http_resp_header(req, "Cache-Control", "no-store")) !=
	        ST_OK ||
	    (rc = http_resp_header(req, "Pragma", "no-cache")) != ST_OK) {
		json_decref(o);
		return rc;
	}
	return http_respond_json(req, 200, o);
}

/*
 * Mints an access token (and a refresh token when the issue has a family
 * and the client may refresh), commits them (spending is->rotate or
 * is->code in the same transaction) and answers. If the store refuses
 * because the refresh token or code was spent meanwhile, or the family
 * revoked, nothing is stored or answered, *denied (may be NULL) is set,
 * and the caller decides. With [oauth] access_token_format = jwt the
 * access token is a JWT, and one of client_credentials is not stored.
 */
static enum oauth_error
issue_and_respond(struct grant_ctx *g, const struct issue *is, bool *denied)
{
	struct token_reply r;
	int64_t now = clk_now_s();
	enum oauth_error e;

	memset(&r, 0, sizeof(r));
	if (oauth_token_unstored(g, is))
		e = oauth_token_mint_unstored(g, is, &r, now);
	else
		e = oauth_token_mint_stored(g, is, &r, now, denied);
	if (e != OAUTH_OK) {
		oauth_token_reply_wipe(&r);
		return e;
	}
	r.scope = is->scope;
	r.expires_in = g->env->cfg->oauth.access_ttl;
	if (token_respond(g->req, &r) != ST_OK)
		return OAUTH_SERVER_ERROR;
	return OAUTH_OK;
}

/*
 * RFC 8707 §2.2: the resource the token request names, if any. It must be
 * one this server issues tokens for and, when the grant is bound to a
 * resource (bound), that one: a token request may narrow the audience of
 * an unbound grant, never change or widen a bound one. *aud is the
 * audience of the access token to issue (borrowed).
 */
static enum oauth_error
resource_check(struct grant_ctx *g, const char *bound, const char **aud)
{
	const char *want = form_get(g->f, "resource");

	*aud = bound;
	if (want == NULL)
		return OAUTH_OK;
	if (strlen(want) > CFG_RESOURCE_MAX ||
	    !cfg_resource_known(g->env->cfg, want)) {
		g->why = "resource is not one this server issues tokens for";
		g->reason = "resource_unknown";
		return OAUTH_INVALID_TARGET;
	}
	if (bound != NULL && !cfg_resource_same(want, bound)) {
		g->why = "resource differs from the one the grant is bound to";
		g->reason = "resource_mismatch";
		return OAUTH_INVALID_TARGET;
	}
	if (bound == NULL)
		*aud = want;
	return OAUTH_OK;
}

static void
user_name(struct grant_ctx *g, int64_t user_id)
{
	struct store_user *u = NULL;

	if (user_id != 0 &&
	    store_user_get_by_id(g->env->st, user_id, &u) == ST_OK)
		str_copy(g->user, sizeof(g->user), u->name);
	store_user_free(u);
}

/* RFC 6749 §4.4: a confidential client acting for itself. */
static enum oauth_error
grant_client_credentials(struct grant_ctx *g)
{
	struct issue is = {.client = g->ca->client};
	char *scope = NULL;
	enum oauth_error e;

	if (!g->ca->authenticated) {
		g->why = "public clients cannot use client_credentials";
		return OAUTH_UNAUTHORIZED_CLIENT;
	}
	e = oauth_scope_resolve(form_get(g->f, "scope"),
	                        g->env->cfg->oauth.scopes,
	                        g->env->cfg->oauth.default_scope,
	                        g->ca->client->scope, &scope, &g->why);
	if (e == OAUTH_OK)
		e = resource_check(g, NULL, &is.access_audience);
	if (e != OAUTH_OK) {
		free(scope);
		return e;
	}
	is.scope = scope;
	e = issue_and_respond(g, &is, NULL);
	free(scope);
	return e;
}

/* A used code presented again: revokes every token issued from it
 * (RFC 6749 §4.1.2, RFC 9700 §4.2.4). */
static void
code_replayed(struct grant_ctx *g, const struct store_code *c, int64_t now)
{
	unsigned n = 0;

	store_token_revoke_family(g->env->st, c->family_id, now, &n);
	log_warn("event=code_replayed client=%s revoked=%u", c->client_id, n);
	g->why = "code already used: its tokens are revoked";
	g->reason = "code_replayed";
}

/* OAUTH_OK if the unused code c may be redeemed by this request, else the
 * error, with g->why and g->reason set. */
static enum oauth_error
code_check(struct grant_ctx *g, const struct store_code *c, int64_t now)
{
	const char *uri = form_get(g->f, "redirect_uri");
	const char *verifier = form_get(g->f, "code_verifier");

	if (c->expires_at <= now) {
		g->why = "code expired";
		g->reason = "code_expired";
	} else if (strcmp(c->client_id, g->ca->client->id) != 0) {
		g->why = "code was issued to another client";
		g->reason = "code_client_mismatch";
	} else if (c->redirect_uri[0] != '\0' && uri == NULL) {
		/* RFC 6749 §4.1.3: required when the request had one. */
		g->why = "redirect_uri missing: the authorization request "
		         "had one";
		g->reason = "redirect_uri_missing";
		return OAUTH_INVALID_REQUEST;
	} else if (uri != NULL &&
	           (c->redirect_uri[0] != '\0'
	                ? strcmp(uri, c->redirect_uri) != 0
	                : !oauth_redirect_allowed(g->ca->client, uri))) {
		g->why = "redirect_uri differs from the authorization request";
		g->reason = "redirect_uri_mismatch";
	} else if (c->code_challenge != NULL && verifier == NULL) {
		g->why = "code_verifier missing";
		g->reason = "pkce_missing";
	} else if (c->code_challenge == NULL && verifier != NULL) {
		/* RFC 9700 §2.1.1: no verifier without a challenge. */
		g->why = "code_verifier sent but no code_challenge was";
		g->reason = "pkce_unexpected";
	} else if (c->code_challenge != NULL &&
	           !oauth_pkce_ok(c->code_challenge, verifier,
	                          strlen(verifier))) {
		g->why = "code_verifier does not match the code_challenge";
		g->reason = "pkce_mismatch";
	} else {
		return OAUTH_OK;
	}
	return OAUTH_INVALID_GRANT;
}

/*
 * RFC 6749 §4.1.3 with RFC 7636 §4.6: spends a code. Every check is made
 * on the code as read; a good request then marks the code used and stores
 * its tokens in one transaction (store_code_redeem()), so a failed commit
 * leaves the code unspent for the client's retry. A refused request spends
 * the code as well. A code found used, before or in that transaction, is a
 * replay, which revokes every token issued from it (RFC 6749 §4.1.2).
 */
static enum oauth_error
grant_authorization_code(struct grant_ctx *g)
{
	const char *code = form_get(g->f, "code");
	uint8_t digest[SEC_DIGEST_BYTES];
	struct store_code *c = NULL, *taken = NULL;
	struct issue is;
	const char *aud = NULL;
	int64_t now = clk_now_s();
	enum oauth_error e = OAUTH_INVALID_GRANT;
	enum status rc;
	bool denied = false;

	if (code == NULL) {
		g->why = "code missing";
		return OAUTH_INVALID_REQUEST;
	}
	sec_digest(code, strlen(code), digest);
	rc = store_code_get(g->env->st, digest, &c);
	if (rc == ST_NOTFOUND) {
		g->why = "unknown code";
		g->reason = "code_unknown";
		return OAUTH_INVALID_GRANT;
	}
	if (rc != ST_OK) {
		g->why = "storage unavailable";
		return OAUTH_TEMPORARILY_UNAVAILABLE;
	}
	user_name(g, c->user_id);
	if (c->state != NULL) /* the flow's state, for the event */
		str_copy(g->state, sizeof(g->state), c->state);
	if (c->used_at != 0) {
		code_replayed(g, c, now);
		goto out;
	}
	e = code_check(g, c, now);
	if (e == OAUTH_OK)
		e = resource_check(g, c->resource, &aud);
	if (e != OAUTH_OK) {
		/* Spent by the refused attempt too; if a redemption got
		 * there first, this attempt is its replay. */
		if (store_code_take(g->env->st, digest, now, &taken) == ST_OK &&
		    taken->used_at != 0) {
			code_replayed(g, c, now);
			e = OAUTH_INVALID_GRANT;
		}
		goto out;
	}
	is = (struct issue){.client = g->ca->client,
	                    .user_id = c->user_id,
	                    .user = g->user,
	                    .scope = c->scope,
	                    .audience = c->resource,
	                    .access_audience = aud,
	                    .family_id = c->family_id,
	                    .code = digest};
	g->reason = "code_redeemed";
	e = issue_and_respond(g, &is, &denied);
	if (denied) /* a concurrent redemption won: this is a replay */
		code_replayed(g, c, now);
out:
	store_code_free(taken);
	store_code_free(c);
	return e;
}

/*
 * One pass of the refresh grant: reads the refresh token, checks it and
 * issues a pair, spending the token unless this is a retry within the
 * grace window. Sets *denied if the store refused because the token was
 * spent or its family revoked after the read.
 */
static enum oauth_error
refresh_once(struct grant_ctx *g, const uint8_t digest[SEC_DIGEST_BYTES],
             bool *denied)
{
	const struct config *cfg = g->env->cfg;
	const char *want = form_get(g->f, "scope");
	int64_t grace = cfg->oauth.refresh_reuse_grace;
	struct store_token *t = NULL;
	struct issue is;
	const char *aud = NULL;
	char *scope = NULL;
	int64_t now = clk_now_s();
	enum oauth_error e = OAUTH_INVALID_GRANT;
	enum status rc;

	rc = store_token_get(g->env->st, digest, &t);
	if (rc == ST_NOTFOUND ||
	    (rc == ST_OK && t->kind != STORE_TOKEN_REFRESH)) {
		g->why = "unknown refresh token";
		g->reason = "refresh_unknown";
		goto out;
	}
	if (rc != ST_OK) {
		g->why = "storage unavailable";
		e = OAUTH_TEMPORARILY_UNAVAILABLE;
		goto out;
	}
	user_name(g, t->user_id);
	if (strcmp(t->client_id, g->ca->client->id) != 0) {
		g->why = "refresh token was issued to another client";
		g->reason = "refresh_client_mismatch";
		goto out;
	}
	if (t->revoked_at != 0) {
		g->why = "refresh token revoked";
		g->reason = "refresh_revoked";
		goto out;
	}
	if (t->expires_at <= now) {
		g->why = "refresh token expired";
		g->reason = "refresh_expired";
		goto out;
	}
	/* Reuse: rotated, and not within the grace window (none if 0). */
	if (t->rotated_at != 0 && (grace == 0 || now - t->rotated_at > grace)) {
		unsigned n = 0;

		store_token_revoke_family(g->env->st, t->family_id, now, &n);
		log_warn("event=refresh_reused client=%s revoked=%u",
		         t->client_id, n);
		g->why = "refresh token already used: its family is revoked";
		g->reason = "refresh_reused";
		goto out;
	}
	/* A narrower scope is allowed, a wider one is not (§6). */
	if (want != NULL) {
		e = oauth_scope_resolve(want, t->scope, t->scope, "", &scope,
		                        &g->why);
		if (e != OAUTH_OK) {
			g->why = "scope wider than the original grant";
			g->reason = "refresh_scope_wider";
			goto out;
		}
	}
	if ((e = resource_check(g, t->audience, &aud)) != OAUTH_OK)
		goto out;
	/* A retry within the grace window spends nothing: the store still
	 * refuses it if the family has been revoked since. */
	is = (struct issue){.client = g->ca->client,
	                    .user_id = t->user_id,
	                    .user = g->user,
	                    .scope = scope != NULL ? scope : t->scope,
	                    .audience = t->audience,
	                    .access_audience = aud,
	                    .family_id = t->family_id,
	                    .rotate = t->rotated_at == 0 ? digest : NULL};
	g->reason =
	    t->rotated_at == 0 ? "refresh_rotated" : "refresh_retry_in_grace";
	e = issue_and_respond(g, &is, denied);
out:
	free(scope);
	store_token_free(t);
	return e;
}

/*
 * RFC 6749 §6: rotates the refresh token. A rotated token presented again
 * within refresh_reuse_grace gets a fresh pair (ChatGPT retries); after
 * it, the whole family is revoked (RFC 9700 §4.14.2). If the token was
 * rotated or revoked between this request's read and its transaction (a
 * concurrent request), it is read again and judged as it is now: a retry
 * within the grace window, a reuse, or revoked.
 */
static enum oauth_error
grant_refresh_token(struct grant_ctx *g)
{
	const char *rt = form_get(g->f, "refresh_token");
	uint8_t digest[SEC_DIGEST_BYTES];
	enum oauth_error e;
	bool denied = false;

	if (rt == NULL) {
		g->why = "refresh_token missing";
		return OAUTH_INVALID_REQUEST;
	}
	sec_digest(rt, strlen(rt), digest);
	e = refresh_once(g, digest, &denied);
	if (denied) {
		denied = false;
		e = refresh_once(g, digest, &denied);
		if (denied) {
			g->why = "refresh token revoked";
			g->reason = "refresh_revoked";
		}
	}
	return e;
}

enum status
oauth_token_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	struct form f;
	struct oauth_client_auth ca = {0};
	struct grant_ctx g;
	const char *grant = NULL;
	enum oauth_error e;
	enum status rc;

	/* Browser-based public clients read the answer cross-origin. */
	if ((rc = oauth_cors_allow(req)) != ST_OK)
		return rc;
	memset(&g, 0, sizeof(g));
	g.env = env;
	g.req = req;
	g.f = &f;
	g.ca = &ca;
	e = oauth_params_read(req, &f, &g.why);
	if (e != OAUTH_OK)
		goto out;
	grant = form_get(&f, "grant_type");
	if (grant == NULL) {
		g.why = "grant_type missing";
		e = OAUTH_INVALID_REQUEST;
		goto out;
	}
	e = oauth_client_authenticate(env->st, req, &f, &ca, &g.why);
	if (e != OAUTH_OK)
		goto out;
	/* A metadata document client is known only while documents are on;
	 * it is read from the store, never fetched here. */
	if (ca.client->origin == STORE_ORIGIN_METADATA_DOC &&
	    !cimd_enabled(env->cfg)) {
		g.why = "unknown client";
		g.reason = "client_unknown";
		e = OAUTH_INVALID_CLIENT;
		goto out;
	}
	/* RFC 6749 §5.2: a grant this client was not registered for
	 * (plugauth client add --grant). */
	if (oauth_grant_bit(grant) != 0 &&
	    (ca.client->grants & oauth_grant_bit(grant)) == 0) {
		g.why = "the client is not registered for this grant_type";
		g.reason = "grant_not_allowed";
		e = OAUTH_UNAUTHORIZED_CLIENT;
		goto out;
	}
	if (strcmp(grant, "authorization_code") == 0) {
		e = grant_authorization_code(&g);
	} else if (strcmp(grant, "refresh_token") == 0) {
		e = grant_refresh_token(&g);
	} else if (strcmp(grant, "client_credentials") == 0) {
		e = grant_client_credentials(&g);
	} else {
		g.why = "unsupported grant_type";
		e = OAUTH_UNSUPPORTED_GRANT_TYPE;
	}
out:
	if (e != OAUTH_OK) {
		char gbuf[32], cbuf[OAUTH_EVENT_FIELD_MAX + 1];

		log_info("event=token_refused client=%s grant=%s error=%s "
		         "reason=\"%s\" from=%s",
		         oauth_client_auth_id(&ca, cbuf, sizeof(cbuf)),
		         log_safe(grant, gbuf, sizeof(gbuf)),
		         oauth_error_code(e), g.why != NULL ? g.why : "-",
		         http_req_peer(req));
		oauth_respond_error(req, e, g.why, ca.basic_tried);
	}
	/* When a client first obtains a token: a registered client that
	 * never does is swept (store_client_sweep_unused()). */
	if (e == OAUTH_OK && ca.client->first_token_at == 0 &&
	    store_client_mark_used(env->st, ca.client->id, clk_now_s()) !=
	        ST_OK)
		log_warn("event=client_mark_used_failed client=%s",
		         ca.client->id);
	oauth_client_auth_event(env, req, "token", &ca, e, g.why);
	if (grant != NULL && ca.client != NULL &&
	    strcmp(grant, "client_credentials") != 0) {
		struct oauth_event_rec r = {
		    .kind = "token",
		    .outcome = e == OAUTH_OK ? "ok" : oauth_error_code(e),
		    .reason = g.reason != NULL ? g.reason : g.why,
		    .client_id = ca.client->id,
		    .user = g.user[0] != '\0' ? g.user : NULL,
		    .state = g.state[0] != '\0' ? g.state : NULL,
		    .peer = http_req_peer(req),
		    .description = g.why,
		};

		oauth_event(env->events, &r);
	}
	store_client_free(ca.client);
	form_free(&f);
	return ST_OK;
}
