/*
 * JWT access tokens (RFC 9068), docs/jwt.md: the signing keys kept in the
 * store (made, rotated, loaded and published as a JWK Set), minting, and
 * the check of a presented JWT shared by the gateway, /oauth/verify and
 * introspection.
 */
#ifndef PLUGAUTH_OAUTH_JWT_H
#define PLUGAUTH_OAUTH_JWT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "crypto/jws.h"
#include "crypto/sec.h"
#include "store/store.h"

/* A running server reloads the keys from the store this often, so a
 * `plugauth keys rotate` from another process takes effect within it. */
#define OAUTH_JWT_RELOAD_S 2
/* A retired key stays published and verifying for access_ttl plus this
 * (and the reload interval): past the expiry of the last token it signed. */
#define OAUTH_JWT_KEEP_MARGIN_S 300
/* Prefix of the jti of a JWT that is not stored (client_credentials);
 * a stored one's jti is an opaque access token whose digest finds the
 * token's row. */
#define OAUTH_JTI_UNSTORED "pa_cc_"

struct oauth_jwt_keys;

/* The digest of the row of a stored JWT with this jti: of "jwt:" + jti,
 * so that the jti (readable in the token) is no opaque token itself. */
void oauth_jwt_row_digest(const char *jti, uint8_t out[SEC_DIGEST_BYTES]);

/* The keyring of st (borrowed: must outlive it), loaded now. ST_NOTFOUND
 * if the store has no signing key. *out is new (oauth_jwt_keys_free()). */
enum status oauth_jwt_keys_new(struct store *st, struct oauth_jwt_keys **out);
void oauth_jwt_keys_free(struct oauth_jwt_keys *);

/* Makes a signing key if st has none (init, serve, migrate); *created
 * (may be NULL) says whether it did. */
enum status oauth_jwt_key_ensure(struct store *st, bool *created);
/* A new key signs from now on; the one it replaces verifies for
 * access_ttl + OAUTH_JWT_KEEP_MARGIN_S more. kid gets the new key's. */
enum status oauth_jwt_key_rotate(struct store *st, unsigned access_ttl,
                                 char kid[JWS_KID_STRLEN]);

/* The public keys as an RFC 7517 JWK Set (JSON text): *out is new
 * (free()). ST_NOTFOUND without a keyring (NULL). */
enum status oauth_jwt_jwks(struct oauth_jwt_keys *, char **out);

/* The claims of an access token (all borrowed; aud, scope may be ""). */
struct oauth_jwt_claims {
	const char *iss, *sub, *aud, *client_id, *scope, *jti;
	int64_t iat, exp;
};

/* Signs c with the signing key: *out is a new JWT (a secret: wipe, then
 * free()). ST_NOTFOUND without a keyring (NULL) or signing key. */
enum status oauth_jwt_mint(struct oauth_jwt_keys *,
                           const struct oauth_jwt_claims *c, char **out);

/* What a presented JWT turned out to be. */
enum oauth_jwt_verdict {
	OAUTH_JWT_OK,      /* signed by a published key, live; see stored */
	OAUTH_JWT_INVALID, /* malformed, bad signature, unknown kid, alg... */
	OAUTH_JWT_EXPIRED, /* exp passed */
	OAUTH_JWT_REVOKED, /* unstored, and its client's tokens revoked */
	OAUTH_JWT_UNKNOWN, /* unstored, and its client no longer exists */
	OAUTH_JWT_STORE,   /* the store could not tell */
};

/* A checked JWT's claims (copies). */
struct oauth_jwt_access {
	char sub[128];
	char client_id[128];
	char scope[1024];
	char aud[2048];
	int64_t iat, exp;
	bool stored;                          /* row_digest finds its row */
	uint8_t row_digest[SEC_DIGEST_BYTES]; /* stored: of the jti */
};

/*
 * Checks tok[len] (jws_shaped()): signature by a published key of the
 * keyring, header alg ES256 and typ at+jwt, iss == issuer, exp > now and
 * the claims' types. An unstored token's client must still exist and its
 * tokens not have been revoked since iat; a stored token's row is the
 * caller's to look up (row_digest), with its revocation. Fills *out on
 * OAUTH_JWT_OK (and, where known, on failure, for the event log).
 */
enum oauth_jwt_verdict oauth_jwt_check(struct oauth_jwt_keys *,
                                       struct store *st, const char *issuer,
                                       const char *tok, size_t len, int64_t now,
                                       struct oauth_jwt_access *out);

/*
 * The digest that finds tok's row: of tok itself (an opaque token), or of
 * the jti of a JWT that checks out (oauth_jwt_check(); keys may be NULL:
 * opaque only). ST_NOTFOUND for a JWT that does not check out; ST_EXISTS
 * (and *a filled) for a live JWT that is stored nowhere; ST_STORE if the
 * store could not tell.
 */
enum status oauth_token_row_digest(struct oauth_jwt_keys *keys,
                                   struct store *st, const char *issuer,
                                   const char *tok, int64_t now,
                                   uint8_t digest[SEC_DIGEST_BYTES],
                                   struct oauth_jwt_access *a);

#endif
