#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/sec.h"

/* argon2id cost: OWASP's minimum (m = 19 MiB, t = 2, p = 1). libsodium's
 * INTERACTIVE level wants 64 MiB per concurrent login. */
#define PW_OPSLIMIT 2ULL
#define PW_MEMLIMIT (19ULL * 1024 * 1024)

/* Fixed hash (of a random password nobody knows) verified for unknown users
 * so that both paths cost one argon2id run. Made by sec_password_prepare()
 * at start-up (or on first use, where nobody called it). */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

_Static_assert(SEC_PWHASH_STRLEN >= crypto_pwhash_STRBYTES, "pwhash size");
_Static_assert(SEC_DIGEST_BYTES == crypto_hash_sha256_BYTES, "digest size");

static void
dummy_make(void)
{
	uint8_t pw[32];

	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str_alg(dummy_hash, (const char *)pw, sizeof(pw),
	                          PW_OPSLIMIT, (size_t)PW_MEMLIMIT,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		dummy_hash[0] = '\0'; /* verify then fails: still denied */
	sodium_memzero(pw, sizeof(pw));
}

/*
 * The gate in front of argon2id: at most cap runs at once, so a burst of
 * sign-ins costs cap x 19 MiB, not 19 MiB per request in flight. Waiters
 * sleep on cv (CLOCK_MONOTONIC) for at most SEC_PWHASH_WAIT_MS.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned cap, busy, peak;
} gate = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;

static void
gate_init(void)
{
	pthread_condattr_t a;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&gate.cv, &a);
	pthread_condattr_destroy(&a);
	gate.cap = n < 2                     ? 2
	           : n > SEC_PWHASH_RUNS_MAX ? SEC_PWHASH_RUNS_MAX
	                                     : (unsigned)n;
}

/* Waits for a turn to run argon2id: false if none came in time. */
static bool
gate_enter(void)
{
	struct timespec until;
	bool ok = true;

	pthread_once(&gate_once, gate_init);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += SEC_PWHASH_WAIT_MS / 1000;
	until.tv_nsec += (SEC_PWHASH_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&gate.mu);
	while (gate.busy >= gate.cap)
		if (pthread_cond_timedwait(&gate.cv, &gate.mu, &until) ==
		        ETIMEDOUT &&
		    gate.busy >= gate.cap) {
			ok = false;
			break;
		}
	if (ok && ++gate.busy > gate.peak)
		gate.peak = gate.busy;
	pthread_mutex_unlock(&gate.mu);
	return ok;
}

static void
gate_leave(void)
{
	pthread_mutex_lock(&gate.mu);
	gate.busy--;
	pthread_cond_signal(&gate.cv);
	pthread_mutex_unlock(&gate.mu);
}

#ifdef PLUGAUTH_TESTING
unsigned
sec_pwhash_peak(void)
{
	unsigned n;

	pthread_mutex_lock(&gate.mu);
	n = gate.peak;
	pthread_mutex_unlock(&gate.mu);
	return n;
}

unsigned
sec_pwhash_cap(void)
{
	pthread_once(&gate_once, gate_init);
	return gate.cap;
}
#endif

enum status
sec_init(void)
{
	return sodium_init() < 0 ? ST_INTERNAL : ST_OK;
}

void
sec_digest(const void *data, size_t len, uint8_t out[SEC_DIGEST_BYTES])
{
	crypto_hash_sha256(out, data, len);
}

enum status
sec_token_mint(const char *prefix, char tok[SEC_TOKEN_STRLEN],
               uint8_t digest[SEC_DIGEST_BYTES])
{
	uint8_t raw[SEC_TOKEN_RAW_BYTES];
	size_t plen;

	plen = strlen(prefix);
	if (plen + sodium_base64_ENCODED_LEN(
	               sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
	    SEC_TOKEN_STRLEN)
		return ST_TOOBIG;
	memcpy(tok, prefix, plen);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(tok + plen, SEC_TOKEN_STRLEN - plen, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	sec_digest(tok, strlen(tok), digest);
	return ST_OK;
}

bool
sec_digest_eq(const uint8_t a[SEC_DIGEST_BYTES],
              const uint8_t b[SEC_DIGEST_BYTES])
{
	return sodium_memcmp(a, b, SEC_DIGEST_BYTES) == 0;
}

void
sec_fingerprint(const uint8_t digest[SEC_DIGEST_BYTES],
                char out[SEC_FPR_STRLEN])
{
	sodium_bin2hex(out, SEC_FPR_STRLEN, digest, 4);
}

void
sec_random_id(char out[SEC_ID_STRLEN])
{
	uint8_t raw[16];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, SEC_ID_STRLEN, raw, sizeof(raw));
}

int64_t
sec_random_i64(void)
{
	uint64_t v;

	do {
		randombytes_buf(&v, sizeof(v));
		v &= INT64_MAX;
	} while (v == 0);
	return (int64_t)v;
}

void
sec_hmac_token(const char *key, size_t keylen, const char *label,
               char out[SEC_TOKEN_STRLEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const uint8_t *)key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label,
	                              strlen(label));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(out, SEC_TOKEN_STRLEN, mac, sizeof(mac),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

void
sec_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t len,
                uint8_t out[SEC_HMAC_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
sec_password_prepare(void)
{
	pthread_once(&dummy_once, dummy_make);
	pthread_once(&gate_once, gate_init);
}

enum status
sec_password_hash(const char *pw, size_t len, char out[SEC_PWHASH_STRLEN])
{
	int r;

	if (!gate_enter())
		return ST_TOOBIG;
	r = crypto_pwhash_str_alg(out, pw, len, PW_OPSLIMIT,
	                          (size_t)PW_MEMLIMIT,
	                          crypto_pwhash_ALG_ARGON2ID13);
	gate_leave();
	return r != 0 ? ST_NOMEM : ST_OK;
}

enum status
sec_password_verify(const char *hash, const char *pw, size_t len, bool *rehash)
{
	bool ok;

	*rehash = false;
	if (hash == NULL)
		pthread_once(&dummy_once, dummy_make);
	if (!gate_enter())
		return ST_TOOBIG;
	/* The dummy never matches: nobody knows its password. */
	ok = crypto_pwhash_str_verify(hash != NULL ? hash : dummy_hash, pw,
	                              len) == 0 &&
	     hash != NULL;
	gate_leave();
	if (ok)
		*rehash = crypto_pwhash_str_needs_rehash(
		              hash, PW_OPSLIMIT, (size_t)PW_MEMLIMIT) != 0;
	return ok ? ST_OK : ST_DENIED;
}

enum status
sec_base64_decode(struct str in, uint8_t *out, size_t outmax, size_t *outlen)
{
	const char *end;

	if (sodium_base642bin(out, outmax, in.p, in.len, NULL, outlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != in.p + in.len)
		return ST_INVALID;
	return ST_OK;
}

bool
sec_mem_eq(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

enum status
sec_base64url_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	if (outsz < sodium_base64_ENCODED_LEN(
	                n, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return ST_TOOBIG;
	sodium_bin2base64(out, outsz, in, n,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return ST_OK;
}

void
sec_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}
