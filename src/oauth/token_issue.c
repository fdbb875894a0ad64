/*
 * Minting for the token endpoint: the tokens a grant asks for, committed
 * with what the grant spends (token.c answers). With [oauth]
 * access_token_format = jwt the access token is an RFC 9068 JWT
 * (docs/jwt.md), and one of client_credentials is not stored.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "crypto/sec.h"
#include "oauth/token_int.h"

void
oauth_token_reply_wipe(struct token_reply *r)
{
	if (r->jwt != NULL) {
		sec_wipe(r->jwt, strlen(r->jwt));
		free(r->jwt);
		r->jwt = NULL;
	}
	sec_wipe(r->access, sizeof(r->access));
	sec_wipe(r->refresh, sizeof(r->refresh));
}

/*
 * With [oauth] access_token_format = jwt, the access token of r as an RFC
 * 9068 JWT into r->jwt: its jti is r->access (a stored token's row is
 * found by oauth_jwt_row_digest() of it), aud the token's resource or
 * else the issuer (the gateway), sub the user or, without one, the
 * client (§2.2).
 */
static enum status
jwt_wrap(struct grant_ctx *g, const struct issue *is, struct token_reply *r,
         int64_t now)
{
	const struct config *cfg = g->env->cfg;
	const char *aud =
	    is->access_audience != NULL ? is->access_audience : is->audience;
	struct oauth_jwt_claims c = {
	    .iss = cfg->server.issuer,
	    .sub = is->user != NULL ? is->user : is->client->id,
	    .aud = aud != NULL ? aud : cfg->server.issuer,
	    .client_id = is->client->id,
	    .scope = is->scope,
	    .jti = r->access,
	    .iat = now,
	    .exp = now + cfg->oauth.access_ttl,
	};

	return oauth_jwt_mint(g->env->jwt_keys, &c, &r->jwt);
}

/* True if the access token to issue is a JWT stored nowhere: with the jwt
 * format, for client_credentials (no user, no family, nothing spent). */
bool
oauth_token_unstored(const struct grant_ctx *g, const struct issue *is)
{
	return strcmp(g->env->cfg->oauth.access_token_format, "jwt") == 0 &&
	       is->user_id == 0 && is->family_id == 0 && is->code == NULL &&
	       is->rotate == NULL;
}

/* A JWT stored nowhere into r: no store write (docs/jwt.md says what
 * still revokes it). */
enum oauth_error
oauth_token_mint_unstored(struct grant_ctx *g, const struct issue *is,
                          struct token_reply *r, int64_t now)
{
	uint8_t digest[SEC_DIGEST_BYTES];

	if (sec_token_mint(OAUTH_JTI_UNSTORED, r->access, digest) != ST_OK ||
	    jwt_wrap(g, is, r, now) != ST_OK) {
		g->why = "could not sign the token";
		return OAUTH_SERVER_ERROR;
	}
	return OAUTH_OK;
}

/* Mints the tokens of is into r and commits them (see below); with the
 * jwt format, the access token is then signed. On error r holds what
 * was minted, for the caller to wipe. */
enum oauth_error
oauth_token_mint_stored(struct grant_ctx *g, const struct issue *is,
                        struct token_reply *r, int64_t now, bool *denied)
{
	const struct config *cfg = g->env->cfg;
	struct store_token t[2];
	size_t n = 1;
	enum status rc;

	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < 2; i++) {
		t[i].client_id = (char *)(uintptr_t)is->client->id;
		t[i].user_id = is->user_id;
		t[i].scope = (char *)(uintptr_t)is->scope;
		t[i].audience = (char *)(uintptr_t)is->audience;
		t[i].family_id = is->family_id;
		t[i].created_at = now;
	}
	t[0].kind = STORE_TOKEN_ACCESS;
	t[0].expires_at = now + cfg->oauth.access_ttl;
	if (is->access_audience != NULL)
		t[0].audience = (char *)(uintptr_t)is->access_audience;
	rc = sec_token_mint(SEC_PREFIX_ACCESS, r->access, t[0].digest);
	/* No refresh token for a client that may not use one. */
	if (rc == ST_OK && is->family_id != 0 &&
	    (is->client->grants & STORE_GRANT_REFRESH) != 0) {
		t[1].kind = STORE_TOKEN_REFRESH;
		t[1].expires_at = now + cfg->oauth.refresh_ttl;
		rc =
		    sec_token_mint(SEC_PREFIX_REFRESH, r->refresh, t[1].digest);
		n = 2;
	}
	if (rc == ST_OK && strcmp(cfg->oauth.access_token_format, "jwt") == 0)
		oauth_jwt_row_digest(r->access,
		                     t[0].digest); /* r->access: jti */
	if (rc == ST_OK && is->code != NULL)
		rc = store_code_redeem(g->env->st, is->code, now, t, n);
	else if (rc == ST_OK)
		rc = store_tokens_issue(g->env->st, is->rotate, now, t, n);
	if (rc == ST_DENIED) {
		if (denied != NULL)
			*denied = true;
		g->why = "the grant was spent or revoked meanwhile";
		return OAUTH_INVALID_GRANT;
	}
	if (rc == ST_NOTFOUND) {
		/* The client or user was removed meanwhile. */
		g->why = "the grant's client or user no longer exists";
		return OAUTH_INVALID_GRANT;
	}
	if (rc != ST_OK) {
		g->why = "could not store the token";
		return rc == ST_STORE ? OAUTH_TEMPORARILY_UNAVAILABLE
		                      : OAUTH_SERVER_ERROR;
	}
	if (strcmp(cfg->oauth.access_token_format, "jwt") == 0 &&
	    jwt_wrap(g, is, r, now) != ST_OK) {
		/* Stored but never handed out: it expires unused. */
		g->why = "could not sign the token";
		return OAUTH_SERVER_ERROR;
	}
	return OAUTH_OK;
}
