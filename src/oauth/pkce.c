/* PKCE (RFC 7636): S256 only; "plain" is refused (RFC 9700 §2.1.1). */
#include <string.h>

#include "crypto/sec.h"
#include "oauth/oauth_int.h"

#define VERIFIER_MIN 43
#define VERIFIER_MAX 128
#define S256_LEN 43 /* base64url(SHA-256) without padding */

static const char unreserved[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-._~";

bool
oauth_pkce_challenge_ok(const char *challenge)
{
	size_t n = strlen(challenge);

	/* An S256 challenge is exactly 43 base64url characters. */
	return n == S256_LEN &&
	       strspn(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                         "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

bool
oauth_pkce_ok(const char *challenge, const char *verifier, size_t len)
{
	uint8_t digest[SEC_DIGEST_BYTES];
	char want[S256_LEN + 1];

	if (len < VERIFIER_MIN || len > VERIFIER_MAX ||
	    strspn(verifier, unreserved) < len || strlen(challenge) != S256_LEN)
		return false;
	sec_digest(verifier, len, digest);
	if (sec_base64url_encode(digest, sizeof(digest), want, sizeof(want)) !=
	    ST_OK)
		return false;
	return sec_mem_eq(want, challenge, S256_LEN);
}
