/* oauth/pkce: RFC 7636 S256. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/sec.h"
#include "oauth/oauth_int.h"

/* RFC 7636 Appendix B. */
#define RFC7636_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC7636_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static int
setup(void **state)
{
	(void)state;
	return sec_init() == ST_OK ? 0 : -1;
}

static void
test_s256_rfc_vector(void **state)
{
	(void)state;
	assert_true(oauth_pkce_challenge_ok(RFC7636_CHALLENGE));
	assert_true(oauth_pkce_ok(RFC7636_CHALLENGE, RFC7636_VERIFIER,
	                          strlen(RFC7636_VERIFIER)));
}

static void
test_wrong_verifier_denied(void **state)
{
	char v[] = RFC7636_VERIFIER;

	(void)state;
	v[0] = 'e';
	assert_false(oauth_pkce_ok(RFC7636_CHALLENGE, v, strlen(v)));
	/* plain: the verifier equal to the challenge is not S256. */
	assert_false(oauth_pkce_ok(RFC7636_CHALLENGE, RFC7636_CHALLENGE,
	                           strlen(RFC7636_CHALLENGE)));
}

static void
test_verifier_length_and_charset(void **state)
{
	char v[200];

	(void)state;
	memset(v, 'a', sizeof(v));
	v[42] = '\0'; /* 42: one short */
	assert_false(oauth_pkce_ok(RFC7636_CHALLENGE, v, 42));
	v[42] = 'a';
	v[129] = '\0'; /* 129: one long */
	assert_false(oauth_pkce_ok(RFC7636_CHALLENGE, v, 129));
	assert_false(
	    oauth_pkce_ok(RFC7636_CHALLENGE,
	                  "dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43));
	assert_false(oauth_pkce_ok(RFC7636_CHALLENGE, "", 0));
}

static void
test_challenge_shape(void **state)
{
	(void)state;
	assert_false(oauth_pkce_challenge_ok(""));
	assert_false(oauth_pkce_challenge_ok("short"));
	assert_false(oauth_pkce_challenge_ok(RFC7636_CHALLENGE "A"));
	assert_false(oauth_pkce_challenge_ok(
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
	assert_false(oauth_pkce_challenge_ok(
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="));
}

int main(void);
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_s256_rfc_vector),
	    cmocka_unit_test(test_wrong_verifier_denied),
	    cmocka_unit_test(test_verifier_length_and_charset),
	    cmocka_unit_test(test_challenge_shape),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
