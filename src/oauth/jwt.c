/*
 * JWT access tokens (RFC 9068): the keyring, minting and checking. See
 * docs/jwt.md for the format, the keys' life and what revocation covers.
 *
 * The keyring is a snapshot of the store's published keys (the signing
 * key and the retired ones still in their overlap), loaded at start and
 * again by the first caller after OAUTH_JWT_RELOAD_S, or at once (at most
 * once a second) when a token names a kid the snapshot lacks. Callers
 * hold a reference to a snapshot while they use it, so a reload never
 * frees keys under them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "oauth/jwt.h"

#define TYP "at+jwt"
#define FORCED_RELOAD_S 1

struct ring {
	atomic_uint refs;
	size_t n;
	struct jws_key **keys;
	const struct jws_key *signer; /* NULL if none */
	char *jwks;                   /* JSON text */
};

struct oauth_jwt_keys {
	struct store *st;
	pthread_mutex_t mu; /* protects the fields below */
	struct ring *cur;
	int64_t loaded_s; /* clk_now_s() */
	int64_t forced_s; /* last reload for an unknown kid */
	bool loading;
};

static void
ring_put(struct ring *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (size_t i = 0; i < r->n; i++)
		jws_key_free(r->keys[i]);
	free(r->keys);
	free(r->jwks);
	free(r);
}

/* Adds key k of the store to r (and its JWK to set) if it is published
 * at now. */
static enum status
ring_add(struct ring *r, json_t *set, const struct store_key *k, int64_t now)
{
	struct jws_key *jk = NULL;
	json_t *jwk = NULL;
	enum status rc;

	if (strcmp(k->alg, JWS_ALG) != 0 ||
	    (k->retired_at != 0 && k->keep_until <= now))
		return ST_OK;
	if ((rc = jws_key_load(k->kid, k->der, k->der_len, &jk)) != ST_OK) {
		log_warn("event=jwt_key_unusable kid=%s", k->kid);
		return ST_OK; /* the others still serve */
	}
	if ((rc = jws_key_public_jwk(jk, &jwk)) != ST_OK ||
	    json_array_append_new(set, jwk) != 0) {
		jws_key_free(jk);
		return rc != ST_OK ? rc : ST_NOMEM;
	}
	r->keys[r->n++] = jk;
	if (k->retired_at == 0 && r->signer == NULL)
		r->signer = jk; /* the newest */
	return ST_OK;
}

/* A new snapshot of st's published keys (one reference). */
static enum status
ring_load(struct store *st, struct ring **out)
{
	struct store_key **v = NULL;
	struct ring *r = NULL;
	json_t *set = NULL, *doc = NULL;
	int64_t now = clk_now_s();
	size_t n = 0;
	enum status rc;

	if ((rc = store_key_list(st, &v, &n)) != ST_OK)
		return rc;
	rc = ST_NOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->keys = calloc(n + 1, sizeof(*r->keys))) == NULL ||
	    (set = json_array()) == NULL)
		goto out;
	atomic_init(&r->refs, 1);
	for (size_t i = 0; i < n; i++)
		if ((rc = ring_add(r, set, v[i], now)) != ST_OK)
			goto out;
	rc = ST_NOMEM;
	if ((doc = json_pack("{s:O}", "keys", set)) == NULL ||
	    (r->jwks = json_dumps(doc, JSON_COMPACT)) == NULL)
		goto out;
	*out = r;
	r = NULL;
	rc = ST_OK;
out:
	json_decref(doc);
	json_decref(set);
	ring_put(r);
	store_key_list_free(v, n);
	return rc;
}

/* Reloads the snapshot if due (or forced) and no one else is at it. */
static void
keys_refresh(struct oauth_jwt_keys *ks, bool force)
{
	int64_t now = clk_now_s(), last;
	struct ring *r = NULL, *old;
	enum status rc;

	pthread_mutex_lock(&ks->mu);
	last = force ? ks->forced_s : ks->loaded_s;
	/* Not due, unless the clock stepped back. */
	if (ks->loading ||
	    (now >= last &&
	     now - last < (force ? FORCED_RELOAD_S : OAUTH_JWT_RELOAD_S))) {
		pthread_mutex_unlock(&ks->mu);
		return;
	}
	ks->loading = true;
	if (force)
		ks->forced_s = now;
	pthread_mutex_unlock(&ks->mu);
	rc = ring_load(ks->st, &r);
	if (rc != ST_OK)
		log_warn("event=jwt_keys_reload_failed error=%s",
		         status_str(rc));
	pthread_mutex_lock(&ks->mu);
	old = rc == ST_OK ? ks->cur : NULL;
	if (rc == ST_OK)
		ks->cur = r;
	ks->loaded_s = now; /* a failure waits for the next turn too */
	ks->loading = false;
	pthread_mutex_unlock(&ks->mu);
	ring_put(old);
}

/* The current snapshot, with a reference (ring_put()). */
static struct ring *
ring_get(struct oauth_jwt_keys *ks)
{
	struct ring *r;

	keys_refresh(ks, false);
	pthread_mutex_lock(&ks->mu);
	r = ks->cur;
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&ks->mu);
	return r;
}

enum status
oauth_jwt_keys_new(struct store *st, struct oauth_jwt_keys **out)
{
	struct oauth_jwt_keys *ks;
	struct ring *r = NULL;
	enum status rc;

	if ((rc = ring_load(st, &r)) != ST_OK)
		return rc;
	if (r->signer == NULL) {
		ring_put(r);
		return ST_NOTFOUND;
	}
	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		ring_put(r);
		return ST_NOMEM;
	}
	ks->st = st;
	pthread_mutex_init(&ks->mu, NULL);
	ks->cur = r;
	ks->loaded_s = clk_now_s();
	*out = ks;
	return ST_OK;
}

void
oauth_jwt_keys_free(struct oauth_jwt_keys *ks)
{
	if (ks == NULL)
		return;
	ring_put(ks->cur);
	pthread_mutex_destroy(&ks->mu);
	free(ks);
}

/* Makes a key and stores it as the signing key, the old one kept until
 * keep_until. */
static enum status
key_add(struct store *st, int64_t now, int64_t keep_until,
        char kid[JWS_KID_STRLEN])
{
	struct store_key *k;
	char id[JWS_KID_STRLEN];
	enum status rc;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ST_NOMEM;
	rc = jws_key_generate(k->der, &k->der_len, id);
	if (rc == ST_OK) {
		str_copy(k->kid, sizeof(k->kid), id);
		str_copy(k->alg, sizeof(k->alg), JWS_ALG);
		rc = store_key_rotate(st, k, now, keep_until);
	}
	if (rc == ST_OK && kid != NULL)
		str_copy(kid, JWS_KID_STRLEN, id);
	store_key_free(k); /* wipes */
	return rc;
}

enum status
oauth_jwt_key_ensure(struct store *st, bool *created)
{
	struct store_key **v = NULL;
	size_t n = 0;
	bool have = false;
	enum status rc;

	if (created != NULL)
		*created = false;
	if ((rc = store_key_list(st, &v, &n)) != ST_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		have = have || v[i]->retired_at == 0;
	store_key_list_free(v, n);
	if (have)
		return ST_OK;
	rc = key_add(st, clk_now_s(), 0, NULL);
	if (rc == ST_OK && created != NULL)
		*created = true;
	return rc;
}

enum status
oauth_jwt_key_rotate(struct store *st, unsigned access_ttl,
                     char kid[JWS_KID_STRLEN])
{
	int64_t now = clk_now_s();

	return key_add(st, now,
	               now + access_ttl + OAUTH_JWT_KEEP_MARGIN_S +
	                   OAUTH_JWT_RELOAD_S,
	               kid);
}

enum status
oauth_jwt_jwks(struct oauth_jwt_keys *ks, char **out)
{
	struct ring *r;
	char *s;

	if (ks == NULL)
		return ST_NOTFOUND;
	r = ring_get(ks);
	s = strdup(r->jwks);

	ring_put(r);
	if (s == NULL)
		return ST_NOMEM;
	*out = s;
	return ST_OK;
}

enum status
oauth_jwt_mint(struct oauth_jwt_keys *ks, const struct oauth_jwt_claims *c,
               char **out)
{
	struct ring *r;
	json_t *o;
	enum status rc = ST_NOTFOUND;

	if (ks == NULL)
		return ST_NOTFOUND;
	r = ring_get(ks);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", c->iss,
	              "sub", c->sub, "aud", c->aud, "exp", (json_int_t)c->exp,
	              "iat", (json_int_t)c->iat, "jti", c->jti, "client_id",
	              c->client_id, "scope", c->scope);
	if (o == NULL)
		rc = ST_NOMEM;
	else if (r->signer != NULL)
		rc = jws_sign(r->signer, TYP, o, out);
	json_decref(o);
	ring_put(r);
	return rc;
}

static const struct jws_key *
ring_find(void *arg, const char *kid)
{
	const struct ring *r = arg;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(jws_key_kid(r->keys[i]), kid) == 0)
			return r->keys[i];
	return NULL;
}

/* The signature check, with one reload if the kid is new to us. */
static enum status
verify(struct oauth_jwt_keys *ks, const char *tok, size_t len, json_t **c)
{
	struct ring *r = ring_get(ks);
	enum status rc;

	rc = jws_verify(tok, len, TYP, ring_find, r, c);
	ring_put(r);
	if (rc == ST_NOTFOUND) {
		keys_refresh(ks, true);
		r = ring_get(ks);
		rc = jws_verify(tok, len, TYP, ring_find, r, c);
		ring_put(r);
	}
	return rc;
}

/* Copies string claim name of c into dst[sz]; false if absent, not a
 * string or too long. */
static bool
claim_copy(const json_t *c, const char *name, char *dst, size_t sz)
{
	const char *s = json_string_value(json_object_get(c, name));

	return s != NULL && str_copy(dst, sz, s);
}

/* Copies the claims RFC 9068 §2.2 requires (and scope) into out; false if
 * one is missing, of another type or too long. *jti borrows from c. */
static bool
claims_read(const json_t *c, const char *issuer, struct oauth_jwt_access *out,
            const char **jti)
{
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const json_t *exp = json_object_get(c, "exp");
	const json_t *iat = json_object_get(c, "iat");

	*jti = json_string_value(json_object_get(c, "jti"));
	if (iss == NULL || strcmp(iss, issuer) != 0 || !json_is_integer(exp) ||
	    !json_is_integer(iat) || *jti == NULL)
		return false;
	out->exp = json_integer_value(exp);
	out->iat = json_integer_value(iat);
	if (json_object_get(c, "scope") == NULL)
		out->scope[0] = '\0';
	else if (!claim_copy(c, "scope", out->scope, sizeof(out->scope)))
		return false;
	return claim_copy(c, "sub", out->sub, sizeof(out->sub)) &&
	       claim_copy(c, "client_id", out->client_id,
	                  sizeof(out->client_id)) &&
	       claim_copy(c, "aud", out->aud, sizeof(out->aud));
}

/* An unstored token: its client must exist, its tokens not revoked
 * since the token was issued. */
static enum oauth_jwt_verdict
client_check(struct store *st, const struct oauth_jwt_access *a)
{
	struct store_client *cl = NULL;
	enum oauth_jwt_verdict v = OAUTH_JWT_OK;
	enum status rc;

	rc = store_client_get(st, a->client_id, &cl);
	if (rc == ST_NOTFOUND)
		v = OAUTH_JWT_UNKNOWN;
	else if (rc != ST_OK)
		v = OAUTH_JWT_STORE;
	else if (a->iat <= cl->tokens_revoked_at)
		v = OAUTH_JWT_REVOKED;
	store_client_free(cl);
	return v;
}

void
oauth_jwt_row_digest(const char *jti, uint8_t out[SEC_DIGEST_BYTES])
{
	char b[8 + 256];
	int n = snprintf(b, sizeof(b), "jwt:%s", jti);

	/* Longer jtis are not ours: a digest no row has. */
	sec_digest(b, n > 0 && (size_t)n < sizeof(b) ? (size_t)n : 0, out);
	sec_wipe(b, sizeof(b));
}

enum oauth_jwt_verdict
oauth_jwt_check(struct oauth_jwt_keys *ks, struct store *st, const char *issuer,
                const char *tok, size_t len, int64_t now,
                struct oauth_jwt_access *out)
{
	json_t *c = NULL;
	const char *jti;
	enum oauth_jwt_verdict v = OAUTH_JWT_INVALID;

	memset(out, 0, sizeof(*out));
	if (ks == NULL || verify(ks, tok, len, &c) != ST_OK)
		return OAUTH_JWT_INVALID;
	if (!claims_read(c, issuer, out, &jti))
		goto out;
	if (out->exp <= now) {
		v = OAUTH_JWT_EXPIRED;
		goto out;
	}
	out->stored =
	    strncmp(jti, OAUTH_JTI_UNSTORED, strlen(OAUTH_JTI_UNSTORED)) != 0;
	if (out->stored) {
		oauth_jwt_row_digest(jti, out->row_digest);
		v = OAUTH_JWT_OK;
	} else {
		v = client_check(st, out);
	}
out:
	json_decref(c);
	return v;
}

enum status
oauth_token_row_digest(struct oauth_jwt_keys *keys, struct store *st,
                       const char *issuer, const char *tok, int64_t now,
                       uint8_t digest[SEC_DIGEST_BYTES],
                       struct oauth_jwt_access *a)
{
	size_t len = strlen(tok);

	if (keys == NULL || !jws_shaped(tok, len)) {
		sec_digest(tok, len, digest);
		return ST_OK;
	}
	switch (oauth_jwt_check(keys, st, issuer, tok, len, now, a)) {
	case OAUTH_JWT_OK:
		break;
	case OAUTH_JWT_STORE:
		return ST_STORE;
	default:
		return ST_NOTFOUND;
	}
	if (!a->stored)
		return ST_EXISTS;
	memcpy(digest, a->row_digest, SEC_DIGEST_BYTES);
	return ST_OK;
}
