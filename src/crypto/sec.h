/*
 * Secrets: random tokens with readable prefixes, SHA-256 lookup digests,
 * constant-time compare, argon2id passwords, wiping. The only user of
 * libsodium.
 */
#ifndef PLUGAUTH_SEC_H
#define PLUGAUTH_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/str.h"

#define SEC_DIGEST_BYTES 32
#define SEC_TOKEN_RAW_BYTES 32 /* 256 bits from the CSPRNG */
#define SEC_TOKEN_STRLEN 64    /* prefix + 43 base64url chars + NUL */
#define SEC_PWHASH_STRLEN 128  /* crypto_pwhash_STRBYTES */
#define SEC_ID_STRLEN 33       /* 32 hex chars + NUL */
#define SEC_FPR_STRLEN 9       /* 8 hex chars + NUL */

/* Readable prefixes, so secret scanners find leaked values. */
#define SEC_PREFIX_ACCESS "pa_at_"
#define SEC_PREFIX_REFRESH "pa_rt_"
#define SEC_PREFIX_CODE "pa_ac_"
#define SEC_PREFIX_SECRET "pa_cs_"
#define SEC_PREFIX_SESSION "pa_ss_"
#define SEC_PREFIX_ANON "pa_ss_anon-"    /* anonymous session cookie */
#define SEC_PREFIX_REGISTRATION "pa_rg_" /* RFC 7592 access token */
#define SEC_PREFIX_INITIAL "pa_ia_"      /* RFC 7591 initial access */

/* Initialises libsodium; call once before anything else here. */
enum status sec_init(void);

/* Fills tok with prefix + 256 random bits in base64url (NUL-terminated,
 * secret: caller wipes) and digest with its SHA-256. prefix is one of the
 * SEC_PREFIX_* constants. */
enum status sec_token_mint(const char *prefix, char tok[SEC_TOKEN_STRLEN],
                           uint8_t digest[SEC_DIGEST_BYTES]);

/* SHA-256 of data. */
void sec_digest(const void *data, size_t len, uint8_t out[SEC_DIGEST_BYTES]);

/* Constant-time equality of two digests. */
bool sec_digest_eq(const uint8_t a[SEC_DIGEST_BYTES],
                   const uint8_t b[SEC_DIGEST_BYTES]);

/* First 4 bytes of a digest as 8 hex chars: safe to log. */
void sec_fingerprint(const uint8_t digest[SEC_DIGEST_BYTES],
                     char out[SEC_FPR_STRLEN]);

/* 128 random bits as 32 lowercase hex chars (identifiers, not secrets). */
void sec_random_id(char out[SEC_ID_STRLEN]);

/* A random positive 63-bit number (token family ids). */
int64_t sec_random_i64(void);

/* base64url(HMAC-SHA256(key, label)) into out: a value bound to a secret
 * key (e.g. a CSRF token bound to the session cookie). Secret. */
void sec_hmac_token(const char *key, size_t keylen, const char *label,
                    char out[SEC_TOKEN_STRLEN]);

#define SEC_HMAC_BYTES 32

/* HMAC-SHA256(key, msg) into out (libsodium's crypto_auth_hmacsha256). */
void sec_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg,
                     size_t len, uint8_t out[SEC_HMAC_BYTES]);

/*
 * At most SEC_PWHASH_RUNS_MAX argon2id runs (19 MiB each) go on at once;
 * a caller waits up to SEC_PWHASH_WAIT_MS for its turn, then gives up with
 * ST_TOOBIG (busy: try again in a moment).
 */
#define SEC_PWHASH_RUNS_MAX 4 /* fewer on fewer cores, at least 2 */
#define SEC_PWHASH_WAIT_MS 2000

/* Makes the dummy hash sec_password_verify() checks for unknown users, so
 * that the first unknown user costs no second argon2id run. Call once at
 * start-up, after sec_init(); later calls do nothing. */
void sec_password_prepare(void);

/* argon2id hash string of pw (m = 19 MiB, t = 2, as OWASP advises).
 * ST_TOOBIG when no run could start in time (see above). */
enum status sec_password_hash(const char *pw, size_t len,
                              char out[SEC_PWHASH_STRLEN]);

/*
 * ST_OK if pw matches hash, else ST_DENIED. A NULL hash verifies against a
 * fixed dummy hash and always fails, so unknown users cost the same time.
 * *rehash is set when the hash uses other parameters than today's.
 * ST_TOOBIG, and nothing checked, when no run could start in time.
 */
enum status sec_password_verify(const char *hash, const char *pw, size_t len,
                                bool *rehash);

/* Decodes standard base64 (with padding, as in HTTP Basic) into out. */
enum status sec_base64_decode(struct str in, uint8_t *out, size_t outmax,
                              size_t *outlen);

/* Constant-time equality of n bytes. */
bool sec_mem_eq(const void *a, const void *b, size_t n);

/* base64url without padding of in[n] into out (NUL-terminated);
 * ST_TOOBIG if outsz is short. */
enum status sec_base64url_encode(const uint8_t *in, size_t n, char *out,
                                 size_t outsz);

#ifdef PLUGAUTH_TESTING
/* The most argon2id runs that went on at once so far, and the cap. */
unsigned sec_pwhash_peak(void);
unsigned sec_pwhash_cap(void);
#endif

/* Overwrites n bytes in a way the compiler keeps. */
void sec_wipe(void *p, size_t n);

#endif
