/* Shared by the token endpoint's two files: token.c (the request and the
 * grants, the answer) and token_issue.c (minting and storing). */
#ifndef PLUGAUTH_OAUTH_TOKEN_INT_H
#define PLUGAUTH_OAUTH_TOKEN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/sec.h"
#include "oauth/oauth_int.h"

/* What a grant asks to be issued. */
struct issue {
	const struct store_client *client;
	int64_t user_id;  /* 0: none */
	const char *user; /* the user's name (JWT sub); NULL: none */
	const char *scope;
	const char *audience;        /* the grant's resource; NULL: none */
	const char *access_audience; /* narrower, for the access token;
	                              * NULL: audience */
	int64_t family_id;           /* 0: no refresh */
	const uint8_t *rotate;       /* refresh being spent */
	const uint8_t *code;         /* code being redeemed */
};

/* One token request, as the grants see it. */
struct grant_ctx {
	const struct oauth_env *env;
	struct http_req *req;
	const struct form *f;
	const struct oauth_client_auth *ca;
	const char *why;
	const char *reason;                    /* event reason code */
	char user[128];                        /* for the event */
	char state[OAUTH_EVENT_FIELD_MAX + 1]; /* the code's flow, or "" */
};

struct token_reply {
	char access[SEC_TOKEN_STRLEN];  /* opaque, or the JWT's jti */
	char *jwt;                      /* the access token if a JWT, or NULL */
	char refresh[SEC_TOKEN_STRLEN]; /* "" if none */
	const char *scope;
	unsigned expires_in;
};

/* Wipes r's tokens (and frees its JWT). */
void oauth_token_reply_wipe(struct token_reply *r);
/* True if the access token to issue is a JWT stored nowhere: with the
 * jwt format, for client_credentials (no user, no family, nothing
 * spent). */
bool oauth_token_unstored(const struct grant_ctx *g, const struct issue *is);
/* Mints that JWT into r; no store write. */
enum oauth_error oauth_token_mint_unstored(struct grant_ctx *g,
                                           const struct issue *is,
                                           struct token_reply *r, int64_t now);
/* Mints the tokens of is into r and commits them, spending is->rotate or
 * is->code in the same transaction; with the jwt format the access token
 * is then signed. ST_DENIED from the store sets *denied (may be NULL).
 * On error r holds what was minted, for the caller to wipe. */
enum oauth_error oauth_token_mint_stored(struct grant_ctx *g,
                                         const struct issue *is,
                                         struct token_reply *r, int64_t now,
                                         bool *denied);

#endif
