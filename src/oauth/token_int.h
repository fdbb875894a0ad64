/* Shared by the token endpoint's two files: token.c (the request and the
 * grants) and token_issue.c (minting, storing and answering). */
#ifndef PLUGAUTH_OAUTH_TOKEN_INT_H
#define PLUGAUTH_OAUTH_TOKEN_INT_H

#include <stdbool.h>
#include <stdint.h>

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

/*
 * Mints an access token (and a refresh token when the issue has a family
 * and the client may refresh), commits them (spending is->rotate or
 * is->code in the same transaction) and answers. If the store refuses
 * because the refresh token or code was spent meanwhile, or the family
 * revoked, nothing is stored or answered, *denied (may be NULL) is set,
 * and the caller decides. With [oauth] access_token_format = jwt the
 * access token is a JWT, and one of client_credentials is not stored.
 */
enum oauth_error oauth_token_issue(struct grant_ctx *g, const struct issue *is,
                                   bool *denied);

#endif
