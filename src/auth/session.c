#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"

#define CSRF_LABEL "plugauth csrf v1"

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
	char cookie[256];
	enum status rc;
	int n;

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
	n = snprintf(cookie, sizeof(cookie),
	             "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Lax%s",
	             secure ? AUTH_COOKIE_SECURE : AUTH_COOKIE, out->token,
	             ttl_s, secure ? "; Secure" : "");
	if (n < 0 || (size_t)n >= sizeof(cookie)) {
		rc = ST_TOOBIG;
		goto fail;
	}
	rc = http_resp_header(req, "Set-Cookie", cookie);
	sec_wipe(cookie, sizeof(cookie));
	if (rc != ST_OK)
		goto fail;
	out->user_id = user_id;
	return ST_OK;
fail:
	auth_session_wipe(out);
	return rc;
}

enum status
auth_session_end(struct store *st, const struct auth_session *s)
{
	uint8_t digest[SEC_DIGEST_BYTES];

	if (s->token[0] == '\0')
		return ST_OK;
	sec_digest(s->token, strlen(s->token), digest);
	return store_session_delete(st, digest);
}

void
auth_csrf_token(const struct auth_session *s, char out[SEC_TOKEN_STRLEN])
{
	sec_hmac_token(s->token, strlen(s->token), CSRF_LABEL, out);
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
