/* crypto/jws: ES256 compact JWS, sign, verify and the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/jws.h"
#include "crypto/sec.h"

#define TYP "at+jwt"

static struct jws_key *key_a, *key_b;

static const struct jws_key *
find(void *arg, const char *kid)
{
	(void)arg;
	if (strcmp(kid, jws_key_kid(key_a)) == 0)
		return key_a;
	if (strcmp(kid, jws_key_kid(key_b)) == 0)
		return key_b;
	return NULL;
}

static struct jws_key *
new_key(void)
{
	uint8_t der[JWS_PRIV_DER_MAX];
	char kid[JWS_KID_STRLEN];
	struct jws_key *k = NULL;
	size_t len;

	if (jws_key_generate(der, &len, kid) != ST_OK ||
	    jws_key_load(kid, der, len, &k) != ST_OK)
		return NULL;
	sec_wipe(der, sizeof(der));
	return k;
}

static int
setup(void **state)
{
	(void)state;
	if (sec_init() != ST_OK)
		return -1;
	key_a = new_key();
	key_b = new_key();
	return key_a != NULL && key_b != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	jws_key_free(key_a);
	jws_key_free(key_b);
	return 0;
}

static char *
sign_a(void)
{
	json_t *c = json_pack("{s:s, s:I}", "sub", "alice", "exp",
	                      (json_int_t)2000000000);
	char *tok = NULL;

	assert_non_null(c);
	assert_int_equal(jws_sign(key_a, TYP, c, &tok), ST_OK);
	json_decref(c);
	return tok;
}

/* base64url of s, for hand-made headers. */
static char *
b64(const char *s)
{
	char *out = malloc(2 * strlen(s) + 8);

	assert_int_equal(sec_base64url_encode((const uint8_t *)s, strlen(s),
	                                      out, 2 * strlen(s) + 8),
	                 ST_OK);
	return out;
}

/* tok with its header replaced by hdr (JSON), signature kept. */
static char *
with_header(const char *tok, const char *hdr)
{
	const char *rest = strchr(tok, '.');
	char *h = b64(hdr), *out;
	size_t n = strlen(h) + strlen(rest) + 1;

	out = malloc(n);
	snprintf(out, n, "%s%s", h, rest);
	free(h);
	return out;
}

static enum status
verify(const char *tok, json_t **claims)
{
	*claims = NULL;
	return jws_verify(tok, strlen(tok), TYP, find, NULL, claims);
}

static void
test_sign_verify_roundtrip(void **state)
{
	char *tok = sign_a();
	json_t *c;

	(void)state;
	assert_true(jws_shaped(tok, strlen(tok)));
	assert_int_equal(verify(tok, &c), ST_OK);
	assert_string_equal(json_string_value(json_object_get(c, "sub")),
	                    "alice");
	json_decref(c);
	free(tok);
}

static void
test_tampered_payload_denied(void **state)
{
	char *tok = sign_a(), *p = strchr(tok, '.') + 2;
	json_t *c;

	(void)state;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(verify(tok, &c), ST_DENIED);
	assert_null(c);
	free(tok);
}

static void
test_other_key_signature_denied(void **state)
{
	char *tok = sign_a(), *forged;
	char hdr[128];
	json_t *c;

	(void)state;
	/* Claims key_b's kid: key_b's signature check fails. */
	snprintf(hdr, sizeof(hdr),
	         "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
	         jws_key_kid(key_b));
	forged = with_header(tok, hdr);
	assert_int_equal(verify(forged, &c), ST_DENIED);
	free(forged);
	free(tok);
}

static void
test_bad_headers_refused(void **state)
{
	/* Each header is pre + key_a's kid + post. */
	static const char *const fmt[][2] = {
	    {"{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"", "\"}"},
	    {"{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"", "\"}"},
	    {"{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"", "\"}"},
	    {"{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"", "\"}"},
	    {"{\"alg\":\"ES256\",\"kid\":\"", "\"}"},
	    {"{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"",
	     "\",\"crit\":[\"exp\"]}"},
	    {"{\"alg\":\"ES256\",\"alg\":\"ES256\",\"typ\":\"at+jwt\","
	     "\"kid\":\"",
	     "\"}"},
	    {"[\"", "\"]"},
	};
	char *tok = sign_a(), *bad, hdr[256];
	json_t *c;

	(void)state;
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(hdr, sizeof(hdr), "%s%s%s", fmt[i][0],
		         jws_key_kid(key_a), fmt[i][1]);
		bad = with_header(tok, hdr);
		assert_int_equal(verify(bad, &c), ST_INVALID);
		assert_null(c);
		free(bad);
	}
	free(tok);
}

static void
test_unknown_kid_notfound(void **state)
{
	char *tok = sign_a(), *bad;
	json_t *c;

	(void)state;
	bad = with_header(tok, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\","
	                       "\"kid\":\"0000000000000000\"}");
	assert_int_equal(verify(bad, &c), ST_NOTFOUND);
	free(bad);
	free(tok);
}

static void
test_malformed_refused(void **state)
{
	static const char *const bad[] = {
	    "",      "a.b",          "a.b.c.d", "..",
	    "a.b.c", "eyJ9.eyJ9.AA", "a+b.c.d", "a.b.c=",
	};
	char *tok = sign_a(), trunc[JWS_TOKEN_MAX];
	json_t *c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify(bad[i], &c), ST_INVALID);
	/* The signature cut short, or a byte longer. */
	snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(tok) - 2, tok);
	assert_int_equal(verify(trunc, &c), ST_INVALID);
	snprintf(trunc, sizeof(trunc), "%sAA", tok);
	assert_int_equal(verify(trunc, &c), ST_INVALID);
	free(tok);
}

static void
test_public_jwk_has_no_private_part(void **state)
{
	json_t *j;

	(void)state;
	assert_int_equal(jws_key_public_jwk(key_a, &j), ST_OK);
	assert_string_equal(json_string_value(json_object_get(j, "kty")), "EC");
	assert_string_equal(json_string_value(json_object_get(j, "crv")),
	                    "P-256");
	assert_string_equal(json_string_value(json_object_get(j, "alg")),
	                    "ES256");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "x"))),
	                 43);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "y"))),
	                 43);
	assert_null(json_object_get(j, "d"));
	json_decref(j);
}

static void
test_load_refuses_garbage(void **state)
{
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	struct jws_key *k = NULL;

	(void)state;
	assert_int_equal(jws_key_load("k", junk, sizeof(junk), &k), ST_INVALID);
	assert_null(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_verify_roundtrip),
	    cmocka_unit_test(test_tampered_payload_denied),
	    cmocka_unit_test(test_other_key_signature_denied),
	    cmocka_unit_test(test_bad_headers_refused),
	    cmocka_unit_test(test_unknown_kid_notfound),
	    cmocka_unit_test(test_malformed_refused),
	    cmocka_unit_test(test_public_jwk_has_no_private_part),
	    cmocka_unit_test(test_load_refuses_garbage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
