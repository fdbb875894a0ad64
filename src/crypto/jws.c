/*
 * Compact JWS with ES256 (RFC 7515, RFC 7518 §3.4) on OpenSSL's EVP
 * interface: OpenSSL does the ECDSA and its DER <-> (r, s) conversion,
 * libsodium the base64url, jansson the JSON. Why OpenSSL rather than
 * libjose or libjwt: docs/jwt.md.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "crypto/jws.h"
#include "crypto/sec.h"

#define COORD_BYTES 32 /* P-256 */
#define SIG_BYTES (2 * COORD_BYTES)
#define PART_MAX JWS_TOKEN_MAX

struct jws_key {
	char kid[JWS_KID_STRLEN];
	EVP_PKEY *pkey;
};

enum status
jws_key_generate(uint8_t der[JWS_PRIV_DER_MAX], size_t *len,
                 char kid[JWS_KID_STRLEN])
{
	EVP_PKEY *pk = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *buf = NULL;
	char id[SEC_ID_STRLEN];
	enum status rc = ST_INTERNAL;
	int n = 0;

	if ((pk = EVP_EC_gen("P-256")) == NULL ||
	    (p8 = EVP_PKEY2PKCS8(pk)) == NULL)
		goto out;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
	if (n <= 0)
		goto out;
	if ((size_t)n > JWS_PRIV_DER_MAX) {
		rc = ST_TOOBIG;
		goto out;
	}
	memcpy(der, buf, (size_t)n);
	*len = (size_t)n;
	sec_random_id(id);
	str_copy(kid, JWS_KID_STRLEN, id); /* 64 random bits are plenty */
	rc = ST_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, n > 0 ? (size_t)n : 0);
		OPENSSL_free(buf);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pk);
	return rc;
}

enum status
jws_key_load(const char *kid, const uint8_t *der, size_t len,
             struct jws_key **out)
{
	const unsigned char *p = der;
	char group[32];
	struct jws_key *k;
	EVP_PKEY *pk;

	if (kid == NULL || strlen(kid) >= JWS_KID_STRLEN || len > LONG_MAX)
		return ST_INVALID;
	pk = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") ||
	    !EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) ||
	    strcmp(group, "prime256v1") != 0) {
		EVP_PKEY_free(pk);
		return ST_INVALID;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pk);
		return ST_NOMEM;
	}
	str_copy(k->kid, sizeof(k->kid), kid);
	k->pkey = pk;
	*out = k;
	return ST_OK;
}

void
jws_key_free(struct jws_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey); /* OpenSSL clears EC private keys */
	free(k);
}

const char *
jws_key_kid(const struct jws_key *k)
{
	return k->kid;
}

/* base64url of the big-endian, 32-byte coordinate named param. */
static enum status
coord_b64(const EVP_PKEY *pk, const char *param, char *out, size_t outsz)
{
	BIGNUM *bn = NULL;
	uint8_t raw[COORD_BYTES];
	enum status rc = ST_INTERNAL;

	if (EVP_PKEY_get_bn_param(pk, param, &bn) == 1 &&
	    BN_bn2binpad(bn, raw, sizeof(raw)) == (int)sizeof(raw))
		rc = sec_base64url_encode(raw, sizeof(raw), out, outsz);
	BN_free(bn);
	return rc;
}

enum status
jws_key_public_jwk(const struct jws_key *k, json_t **out)
{
	char x[64], y[64];
	enum status rc;
	json_t *o;

	if ((rc = coord_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, x, sizeof(x))) !=
	        ST_OK ||
	    (rc = coord_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, y, sizeof(y))) !=
	        ST_OK)
		return rc;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv",
	              "P-256", "x", x, "y", y, "kid", k->kid, "alg", JWS_ALG,
	              "use", "sig");
	if (o == NULL)
		return ST_NOMEM;
	*out = o;
	return ST_OK;
}

/* Appends base64url(in[n]) to b[*len] (capacity cap, NUL-terminated). */
static enum status
part_add(char *b, size_t *len, size_t cap, const void *in, size_t n)
{
	enum status rc;

	if (*len >= cap)
		return ST_TOOBIG;
	rc = sec_base64url_encode(in, n, b + *len, cap - *len);
	if (rc == ST_OK)
		*len += strlen(b + *len);
	return rc;
}

/* The JWS signature of msg[n]: ECDSA's DER turned into r || s (§3.4). */
static enum status
sign_raw(EVP_PKEY *pk, const char *msg, size_t n, uint8_t sig[SIG_BYTES])
{
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char der[80];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	enum status rc = ST_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)msg, n) !=
	        1 ||
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, COORD_BYTES) ==
	        COORD_BYTES &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + COORD_BYTES,
	                 COORD_BYTES) == COORD_BYTES)
		rc = ST_OK;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum status
jws_sign(const struct jws_key *k, const char *typ, const json_t *claims,
         char **out)
{
	json_t *hdr = NULL;
	char *hs = NULL, *cs = NULL, *b = NULL;
	uint8_t sig[SIG_BYTES];
	size_t len = 0;
	enum status rc = ST_NOMEM;

	hdr = json_pack("{s:s, s:s, s:s}", "alg", JWS_ALG, "typ", typ, "kid",
	                k->kid);
	if (hdr == NULL ||
	    (hs = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	        NULL ||
	    (cs = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	        NULL ||
	    (b = malloc(JWS_TOKEN_MAX)) == NULL)
		goto out;
	if ((rc = part_add(b, &len, JWS_TOKEN_MAX, hs, strlen(hs))) != ST_OK)
		goto out;
	b[len++] = '.';
	if ((rc = part_add(b, &len, JWS_TOKEN_MAX, cs, strlen(cs))) != ST_OK ||
	    (rc = sign_raw(k->pkey, b, len, sig)) != ST_OK)
		goto out;
	if (len + 1 >= JWS_TOKEN_MAX) {
		rc = ST_TOOBIG;
		goto out;
	}
	b[len++] = '.';
	if ((rc = part_add(b, &len, JWS_TOKEN_MAX, sig, sizeof(sig))) != ST_OK)
		goto out;
	*out = b;
	b = NULL;
out:
	free(b);
	free(hs);
	free(cs);
	json_decref(hdr);
	return rc;
}

bool
jws_shaped(const char *tok, size_t len)
{
	size_t dots = 0;

	if (len == 0 || len > JWS_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (c == '.')
			dots++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return dots == 2;
}

/* Decodes base64url (no padding) p[n] into out[*outlen] (cap outmax). */
static enum status
b64_decode(const char *p, size_t n, uint8_t *out, size_t outmax, size_t *outlen)
{
	const char *end = NULL;

	if (sodium_base642bin(out, outmax, p, n, NULL, outlen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != p + n)
		return ST_INVALID;
	return ST_OK;
}

/* The JSON object base64url-encoded in p[n]: new, or NULL. Duplicate
 * member names are refused (RFC 7515 §5.2). */
static json_t *
b64_json_object(const char *p, size_t n)
{
	uint8_t *raw;
	size_t rlen;
	json_t *o = NULL;

	if ((raw = malloc(n + 1)) == NULL)
		return NULL;
	if (b64_decode(p, n, raw, n + 1, &rlen) == ST_OK)
		o = json_loadb((const char *)raw, rlen, JSON_REJECT_DUPLICATES,
		               NULL);
	free(raw);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* True if sig (r || s) is k's signature of msg[n]. */
static bool
verify_raw(const struct jws_key *k, const char *msg, size_t n,
           const uint8_t sig[SIG_BYTES])
{
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int dlen = 0;
	bool ok = false;

	r = BN_bin2bn(sig, COORD_BYTES, NULL);
	s = BN_bin2bn(sig + COORD_BYTES, COORD_BYTES, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* es has them */
	if ((dlen = i2d_ECDSA_SIG(es, &der)) <= 0 ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, der, (size_t)dlen,
	                      (const unsigned char *)msg, n) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return ok;
}

/* The header's checks: exactly the members we understand, alg ES256 and
 * typ as asked (RFC 9068 §4: case-insensitive, "application/" optional,
 * but we issue exactly typ, so we take exactly typ). */
static enum status
header_check(const json_t *h, const char *typ, const char **kid)
{
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const char *t = json_string_value(json_object_get(h, "typ"));

	*kid = json_string_value(json_object_get(h, "kid"));
	if (alg == NULL || strcmp(alg, JWS_ALG) != 0 || t == NULL ||
	    strcmp(t, typ) != 0 || *kid == NULL ||
	    json_object_get(h, "crit") != NULL) /* §4.1.11: none known */
		return ST_INVALID;
	return ST_OK;
}

enum status
jws_verify(const char *tok, size_t len, const char *typ, jws_key_find_fn find,
           void *arg, json_t **claims)
{
	const char *d1, *d2, *kid;
	const struct jws_key *k;
	uint8_t sig[SIG_BYTES];
	size_t slen;
	json_t *h = NULL, *c = NULL;
	enum status rc = ST_INVALID;

	if (!jws_shaped(tok, len))
		return ST_INVALID;
	d1 = memchr(tok, '.', len);
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	if ((h = b64_json_object(tok, (size_t)(d1 - tok))) == NULL ||
	    header_check(h, typ, &kid) != ST_OK)
		goto out;
	if (b64_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof(sig),
	               &slen) != ST_OK ||
	    slen != sizeof(sig))
		goto out;
	if ((k = find(arg, kid)) == NULL) {
		rc = ST_NOTFOUND;
		goto out;
	}
	if (!verify_raw(k, tok, (size_t)(d2 - tok), sig)) {
		rc = ST_DENIED;
		goto out;
	}
	if ((c = b64_json_object(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		goto out;
	*claims = c;
	rc = ST_OK;
out:
	json_decref(h);
	return rc;
}
