/*
 * JSON Web Signatures (RFC 7515) in compact form, ES256 only (RFC 7518
 * §3.4: ECDSA P-256 with SHA-256), on OpenSSL's EVP interface. The only
 * user of OpenSSL. Keys are P-256 key pairs kept as PKCS#8 DER (secret)
 * and published as JWKs (RFC 7517). No other algorithm is ever accepted:
 * a token whose header names "none", an HMAC or anything but ES256 is
 * refused before any key is touched.
 */
#ifndef PLUGAUTH_JWS_H
#define PLUGAUTH_JWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define JWS_ALG "ES256"
#define JWS_KID_STRLEN 17     /* 16 hex chars + NUL */
#define JWS_TOKEN_MAX 4096    /* longest compact JWS made or read */
#define JWS_PRIV_DER_MAX 1024 /* PKCS#8 DER of a P-256 key: ~138 bytes */

struct jws_key;

/* A new P-256 key pair as PKCS#8 DER into der[*len] (secret: the caller
 * wipes) and a random kid. */
enum status jws_key_generate(uint8_t der[JWS_PRIV_DER_MAX], size_t *len,
                             char kid[JWS_KID_STRLEN]);

/* Loads a key pair from PKCS#8 DER (as made by jws_key_generate()). kid
 * is copied. ST_INVALID if der is not a P-256 key. *out is new
 * (jws_key_free()). */
enum status jws_key_load(const char *kid, const uint8_t *der, size_t len,
                         struct jws_key **out);
void jws_key_free(struct jws_key *);
/* Borrowed: the kid given at load. */
const char *jws_key_kid(const struct jws_key *);

/* The public JWK of k (kty, crv, x, y, kid, alg, use): *out is new. */
enum status jws_key_public_jwk(const struct jws_key *k, json_t **out);

/* Signs claims (a JSON object) with header {"alg":"ES256","typ":typ,
 * "kid":kid}: *out is a new compact JWS (free()). ST_TOOBIG past
 * JWS_TOKEN_MAX. */
enum status jws_sign(const struct jws_key *k, const char *typ,
                     const json_t *claims, char **out);

/* Finds the key of kid (borrowed until the jws_verify() call returns);
 * NULL if there is none. */
typedef const struct jws_key *(*jws_key_find_fn)(void *arg, const char *kid);

/*
 * Verifies a compact JWS tok[len]: three base64url parts, a header that
 * is a JSON object with alg exactly "ES256", typ exactly typ, a kid that
 * find knows, and a valid signature over the first two parts by that
 * key. *claims (new) is the payload, a JSON object. ST_INVALID for
 * anything malformed, ST_NOTFOUND for an unknown kid, ST_DENIED for a
 * bad signature; *claims is set only on ST_OK.
 */
enum status jws_verify(const char *tok, size_t len, const char *typ,
                       jws_key_find_fn find, void *arg, json_t **claims);

/* True if tok[len] has the shape of a compact JWS (two dots, no other
 * character outside base64url): worth handing to jws_verify(). */
bool jws_shaped(const char *tok, size_t len);

#endif
