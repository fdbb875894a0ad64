/*
 * The session cookie and the CSRF check (src/auth/session.c), without a
 * database. Input: cookie value '\0' submitted csrf field.
 *
 * auth_session_cookie_ok() (TESTABLE) is the format check that
 * auth_session_find() makes before it looks the digest up: it must only
 * accept values that fit auth_session.token and carry the session prefix.
 * For a value it accepts, the harness builds the session
 * auth_session_find() would return and checks auth_csrf_token() and
 * auth_csrf_ok(): the token is 43 base64url characters, is accepted, and
 * the submitted field is accepted exactly when it equals it. A session
 * without a token (no cookie) accepts nothing. Splitting the Cookie header
 * into name=value pairs is libmicrohttpd's job, not ours.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "core/str.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sec_init() != ST_OK)
		abort();
	return 0;
}

/* True if s is n base64url characters (RFC 4648 §5), no padding. */
static bool
is_b64url(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[2];
	struct auth_session s, none;
	char want[SEC_TOKEN_STRLEN], again[SEC_TOKEN_STRLEN];
	const size_t plen = strlen(SEC_PREFIX_SESSION);
	bool ok;

	fuzz_split(data, size, part, 2);
	memset(&none, 0, sizeof(none));
	if (auth_csrf_ok(&none, part[1]) || auth_csrf_ok(&none, NULL))
		abort(); /* no session: no form is valid */
	if (auth_session_cookie_ok(NULL))
		abort();

	ok = auth_session_cookie_ok(part[0]);
	if (ok != (strlen(part[0]) < sizeof(s.token) &&
	           strncmp(part[0], SEC_PREFIX_SESSION, plen) == 0))
		abort();
	if (!ok)
		goto out;

	/* The session auth_session_find() would fill in. */
	memset(&s, 0, sizeof(s));
	if (!str_copy(s.token, sizeof(s.token), part[0]))
		abort(); /* accepted a value that does not fit */
	s.user_id = 1;
	auth_csrf_token(&s, want);
	if (!is_b64url(want, 43))
		abort();
	auth_csrf_token(&s, again);
	if (strcmp(want, again) != 0)
		abort(); /* not a function of the session */
	if (!auth_csrf_ok(&s, want) || auth_csrf_ok(&s, NULL))
		abort();
	if (auth_csrf_ok(&s, part[1]) != (strcmp(part[1], want) == 0))
		abort();
	/* The token is bound to the cookie: another cookie, another token
	 * (here: the same with one more character, when it still fits). */
	if (strlen(s.token) + 1 < sizeof(s.token)) {
		struct auth_session t = s;

		t.token[strlen(t.token)] = 'x';
		if (auth_csrf_ok(&t, want))
			abort();
		auth_session_wipe(&t);
	}
	auth_session_wipe(&s);
out:
	fuzz_free_all(part, 2);
	return 0;
}
