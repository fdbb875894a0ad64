/* crypto/sec: token minting, digests, passwords, base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "crypto/sec.h"

static int
setup(void **state)
{
	(void)state;
	return sec_init() == ST_OK ? 0 : -1;
}

static bool
is_b64url(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                 "0123456789-_") == strlen(s);
}

static void
test_mint_prefix_and_length(void **state)
{
	static const char *const prefixes[] = {
	    SEC_PREFIX_ACCESS, SEC_PREFIX_REFRESH, SEC_PREFIX_CODE,
	    SEC_PREFIX_SECRET};
	char tok[SEC_TOKEN_STRLEN];
	uint8_t d[SEC_DIGEST_BYTES], d2[SEC_DIGEST_BYTES];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sec_token_mint(prefixes[i], tok, d), ST_OK);
		assert_int_equal(strncmp(tok, prefixes[i], 6), 0);
		/* 256 bits = 43 base64url characters without padding. */
		assert_int_equal(strlen(tok), 6 + 43);
		assert_true(is_b64url(tok + 6));
		sec_digest(tok, strlen(tok), d2);
		assert_memory_equal(d, d2, sizeof(d));
	}
}

static void
test_mint_tokens_differ(void **state)
{
	char a[SEC_TOKEN_STRLEN], b[SEC_TOKEN_STRLEN];
	uint8_t da[SEC_DIGEST_BYTES], db[SEC_DIGEST_BYTES];

	(void)state;
	sec_token_mint(SEC_PREFIX_ACCESS, a, da);
	sec_token_mint(SEC_PREFIX_ACCESS, b, db);
	assert_string_not_equal(a, b);
	assert_false(sec_digest_eq(da, db));
	assert_true(sec_digest_eq(da, da));
}

static void
test_digest_sha256_vector(void **state)
{
	/* FIPS 180-2 example: SHA-256("abc"). */
	static const uint8_t want[SEC_DIGEST_BYTES] = {
	    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	uint8_t got[SEC_DIGEST_BYTES];
	char fpr[SEC_FPR_STRLEN];

	(void)state;
	sec_digest("abc", 3, got);
	assert_memory_equal(got, want, sizeof(want));
	sec_fingerprint(got, fpr);
	assert_string_equal(fpr, "ba7816bf");
}

static void
test_random_id_hex(void **state)
{
	char a[SEC_ID_STRLEN], b[SEC_ID_STRLEN];

	(void)state;
	sec_random_id(a);
	sec_random_id(b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

static void
test_password_hash_verify(void **state)
{
	char h[SEC_PWHASH_STRLEN];
	bool rehash = true;

	(void)state;
	assert_int_equal(sec_password_hash("correct horse", 13, h), ST_OK);
	assert_int_equal(strncmp(h, "$argon2id$", 10), 0);
	assert_int_equal(sec_password_verify(h, "correct horse", 13, &rehash),
	                 ST_OK);
	assert_false(rehash);
	assert_int_equal(sec_password_verify(h, "correct horsf", 13, &rehash),
	                 ST_DENIED);
	assert_int_equal(sec_password_verify(h, "correct hors", 12, &rehash),
	                 ST_DENIED);
}

static void
test_password_unknown_user_denied(void **state)
{
	bool rehash;

	(void)state;
	assert_int_equal(sec_password_verify(NULL, "", 0, &rehash), ST_DENIED);
	assert_int_equal(sec_password_verify(NULL, "anything", 8, &rehash),
	                 ST_DENIED);
}

static void
test_password_old_params_need_rehash(void **state)
{
	char old[crypto_pwhash_STRBYTES];
	bool rehash = false;

	(void)state;
	/* A hash made at a weaker cost (t = 1, m = 8 MiB) than today's. */
	assert_int_equal(crypto_pwhash_str_alg(old, "hunter22", 8, 1, 8u << 20,
	                                       crypto_pwhash_ALG_ARGON2ID13),
	                 0);
	assert_int_equal(sec_password_verify(old, "hunter22", 8, &rehash),
	                 ST_OK);
	assert_true(rehash);
	/* No rehash verdict for a wrong password. */
	rehash = false;
	assert_int_equal(sec_password_verify(old, "hunter23", 8, &rehash),
	                 ST_DENIED);
	assert_false(rehash);
}

static void
test_base64_decode(void **state)
{
	/* RFC 4648 §10 vectors. */
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"", ""},
	    {"Zg==", "f"},
	    {"Zm8=", "fo"},
	    {"Zm9v", "foo"},
	    {"Zm9vYg==", "foob"},
	    {"Zm9vYmE=", "fooba"},
	    {"Zm9vYmFy", "foobar"},
	};
	uint8_t out[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(
		    sec_base64_decode(str_of(v[i].in), out, sizeof(out), &n),
		    ST_OK);
		assert_int_equal(n, strlen(v[i].out));
		assert_memory_equal(out, v[i].out, n);
	}
	assert_int_equal(
	    sec_base64_decode(str_of("Zm9v!"), out, sizeof(out), &n),
	    ST_INVALID);
	assert_int_equal(sec_base64_decode(str_of("Zg"), out, sizeof(out), &n),
	                 ST_INVALID);
	assert_int_equal(
	    sec_base64_decode(str_of("Zm9vYmFyZm9vYmFyZm9vYmFy"), out, 4, &n),
	    ST_INVALID);
}

int main(void);
#define PW_THREADS 12

struct pw_worker {
	pthread_barrier_t *go;
	const char *hash; /* NULL: an unknown user */
	enum status rc;
};

static void *
pw_worker_run(void *arg)
{
	struct pw_worker *w = arg;
	bool rehash;

	pthread_barrier_wait(w->go);
	w->rc = sec_password_verify(w->hash, "wrong", 5, &rehash);
	return w;
}

/* A burst of concurrent checks runs at most the cap at once (19 MiB each);
 * each is judged (denied) or, after the bounded wait, refused as busy. */
static void
test_password_runs_capped(void **state)
{
	char h[SEC_PWHASH_STRLEN];
	pthread_t th[PW_THREADS];
	struct pw_worker w[PW_THREADS];
	pthread_barrier_t go;
	unsigned cap = sec_pwhash_cap();

	(void)state;
	assert_true(cap >= 2 && cap <= SEC_PWHASH_RUNS_MAX);
	sec_password_prepare(); /* the dummy hash, made now */
	assert_int_equal(sec_password_hash("right", 5, h), ST_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, PW_THREADS), 0);
	for (int i = 0; i < PW_THREADS; i++) {
		w[i] = (struct pw_worker){&go, i % 2 ? h : NULL, ST_OK};
		assert_int_equal(
		    pthread_create(&th[i], NULL, pw_worker_run, &w[i]), 0);
	}
	for (int i = 0; i < PW_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(w[i].rc == ST_DENIED || w[i].rc == ST_TOOBIG);
	}
	pthread_barrier_destroy(&go);
	assert_true(sec_pwhash_peak() >= 1);
	assert_true(sec_pwhash_peak() <= cap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mint_prefix_and_length),
	    cmocka_unit_test(test_mint_tokens_differ),
	    cmocka_unit_test(test_digest_sha256_vector),
	    cmocka_unit_test(test_random_id_hex),
	    cmocka_unit_test(test_password_hash_verify),
	    cmocka_unit_test(test_password_unknown_user_denied),
	    cmocka_unit_test(test_password_old_params_need_rehash),
	    cmocka_unit_test(test_password_runs_capped),
	    cmocka_unit_test(test_base64_decode),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
