#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"

#define CSRF_LABEL "plugauth csrf v1"
#define CSRF_ANON_LABEL "plugauth csrf anon v1:"
/* An anonymous token: SEC_PREFIX_ANON and 43 base64url characters, longer
 * than a stored session's, so neither is ever taken for the other. */
#define ANON_TOKEN_LEN (sizeof(SEC_PREFIX_ANON) - 1 + 43)

_Static_assert(ANON_TOKEN_LEN < SEC_TOKEN_STRLEN, "anonymous token size");

/* The key of anonymous CSRF tokens: random, per process (so a login page
 * left open across a restart must be loaded again). */
static char anon_key[SEC_TOKEN_STRLEN];
static pthread_once_t anon_key_once = PTHREAD_ONCE_INIT;

static void
anon_key_make(void)
{
	uint8_t unused[SEC_DIGEST_BYTES];

	if (sec_token_mint(SEC_PREFIX_ANON, anon_key, unused) != ST_OK)
		abort(); /* cannot happen: the prefix fits */
}

/* True if v has the form of an anonymous token. */
static bool
anon_cookie_ok(const char *v)
{
	size_t plen = sizeof(SEC_PREFIX_ANON) - 1;

	return strlen(v) == ANON_TOKEN_LEN &&
	       strncmp(v, SEC_PREFIX_ANON, plen) == 0 &&
	       strspn(v + plen, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                        "abcdefghijklmnopqrstuvwxyz0123456789-_") ==
	           ANON_TOKEN_LEN - plen;
}

/* Sets the session cookie for token on the answer. */
static enum status
cookie_set(struct http_req *req, bool secure, const char *token, unsigned ttl_s)
{
	char cookie[256];
	enum status rc;
	int n;

	n = snprintf(cookie, sizeof(cookie),
	             "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Lax%s",
	             secure ? AUTH_COOKIE_SECURE : AUTH_COOKIE, token, ttl_s,
	             secure ? "; Secure" : "");
	if (n < 0 || (size_t)n >= sizeof(cookie))
		rc = ST_TOOBIG;
	else
		rc = http_resp_header(req, "Set-Cookie", cookie);
	sec_wipe(cookie, sizeof(cookie));
	return rc;
}

/* The session cookie's form, checked before any lookup (contract in
 * session.h). */
TESTABLE bool
auth_session_cookie_ok(const char *v)
{
	return v != NULL && strlen(v) < SEC_TOKEN_STRLEN &&
	       strncmp(v, SEC_PREFIX_SESSION, strlen(SEC_PREFIX_SESSION)) == 0;
}

enum status
auth_session_find(struct store *st, const struct http_req *req, bool secure,
                  int64_t now, struct auth_session *out)
{
	const char *v;
	uint8_t digest[SEC_DIGEST_BYTES];
	struct store_session *s = NULL;
	enum status rc;

	memset(out, 0, sizeof(*out));
	v = http_req_cookie(req, secure ? AUTH_COOKIE_SECURE : AUTH_COOKIE);
	if (!auth_session_cookie_ok(v))
		return ST_NOTFOUND;
	if (anon_cookie_ok(v)) {
		str_copy(out->token, sizeof(out->token), v);
		out->anon = true;
		return ST_OK;
	}
	sec_digest(v, strlen(v), digest);
	rc = store_session_get(st, digest, now, &s);
	if (rc != ST_OK)
		return rc;
	str_copy(out->token, sizeof(out->token), v);
	out->user_id = s->user_id;
	sec_wipe(s, sizeof(*s));
	free(s);
	return ST_OK;
}

enum status
auth_session_start(struct store *st, struct http_req *req, bool secure,
                   int64_t user_id, unsigned ttl_s, int64_t now,
                   struct auth_session *out)
{
	struct store_session s;
	enum status rc;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	rc = sec_token_mint(SEC_PREFIX_SESSION, out->token, s.digest);
	if (rc != ST_OK)
		return rc;
	s.user_id = user_id;
	s.created_at = now;
	s.expires_at = now + ttl_s;
	rc = store_session_add(st, &s);
	if (rc != ST_OK)
		goto fail;
	rc = cookie_set(req, secure, out->token, ttl_s);
	if (rc != ST_OK)
		goto fail;
	out->user_id = user_id;
	return ST_OK;
fail:
	auth_session_wipe(out);
	return rc;
}

enum status
auth_session_start_anon(struct http_req *req, bool secure, unsigned ttl_s,
                        struct auth_session *out)
{
	uint8_t unused[SEC_DIGEST_BYTES];
	enum status rc;

	memset(out, 0, sizeof(*out));
	rc = sec_token_mint(SEC_PREFIX_ANON, out->token, unused);
	if (rc == ST_OK)
		rc = cookie_set(req, secure, out->token, ttl_s);
	if (rc != ST_OK) {
		auth_session_wipe(out);
		return rc;
	}
	out->anon = true;
	return ST_OK;
}

enum status
auth_session_end(struct store *st, const struct auth_session *s)
{
	uint8_t digest[SEC_DIGEST_BYTES];

	if (s->token[0] == '\0' || s->anon)
		return ST_OK;
	sec_digest(s->token, strlen(s->token), digest);
	return store_session_delete(st, digest);
}

void
auth_csrf_token(const struct auth_session *s, char out[SEC_TOKEN_STRLEN])
{
	char msg[sizeof(CSRF_ANON_LABEL) + SEC_TOKEN_STRLEN];

	if (!s->anon) {
		sec_hmac_token(s->token, strlen(s->token), CSRF_LABEL, out);
		return;
	}
	pthread_once(&anon_key_once, anon_key_make);
	/* Both fit: msg has room for the label and any token. */
	memcpy(msg, CSRF_ANON_LABEL, sizeof(CSRF_ANON_LABEL) - 1);
	str_copy(msg + sizeof(CSRF_ANON_LABEL) - 1,
	         sizeof(msg) - (sizeof(CSRF_ANON_LABEL) - 1), s->token);
	sec_hmac_token(anon_key, strlen(anon_key), msg, out);
	sec_wipe(msg, sizeof(msg));
}

bool
auth_csrf_ok(const struct auth_session *s, const char *submitted)
{
	char want[SEC_TOKEN_STRLEN];
	size_t n;
	bool ok;

	if (submitted == NULL || s->token[0] == '\0')
		return false;
	auth_csrf_token(s, want);
	n = strlen(want);
	ok = strlen(submitted) == n && sec_mem_eq(want, submitted, n);
	sec_wipe(want, sizeof(want));
	return ok;
}

void
auth_session_wipe(struct auth_session *s)
{
	sec_wipe(s, sizeof(*s));
}
