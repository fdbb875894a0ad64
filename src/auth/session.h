/*
 * Sign-in sessions: an HttpOnly, SameSite=Lax cookie holding a random
 * token (stored as its digest), and CSRF tokens bound to it.
 *
 * Before sign-in the cookie is anonymous: a random token of its own form
 * (SEC_PREFIX_ANON) with no row in the store, whose CSRF token is an HMAC
 * of the cookie under a key made at start-up. So a login page costs no
 * database write; sign-in replaces the cookie with a stored session.
 */
#ifndef PLUGAUTH_AUTH_SESSION_H
#define PLUGAUTH_AUTH_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/sec.h"
#include "http/http.h"
#include "store/store.h"

/* Under https the cookie gets Secure and the __Host- prefix. */
#define AUTH_COOKIE "plugauth_session"
#define AUTH_COOKIE_SECURE "__Host-plugauth_session"

struct auth_session {
	char token[SEC_TOKEN_STRLEN]; /* the cookie value: secret */
	int64_t user_id;              /* 0: not signed in */
	bool anon;                    /* anonymous: no row */
};

/* The request's live session: an anonymous cookie as it is (no lookup), a
 * stored one from the store. ST_NOTFOUND when there is no cookie or it
 * names no live session; ST_STORE on storage failure. */
enum status auth_session_find(struct store *, const struct http_req *,
                              bool secure, int64_t now,
                              struct auth_session *out);

/* Starts a new session for user_id (0: anonymous) lasting ttl_s, and sets
 * its cookie on the answer. */
enum status auth_session_start(struct store *, struct http_req *, bool secure,
                               int64_t user_id, unsigned ttl_s, int64_t now,
                               struct auth_session *out);

/* Starts an anonymous session (nothing stored) lasting ttl_s, and sets its
 * cookie on the answer. */
enum status auth_session_start_anon(struct http_req *, bool secure,
                                    unsigned ttl_s, struct auth_session *out);

/* Deletes the session (e.g. the one replaced at sign-in); nothing for an
 * anonymous one. */
enum status auth_session_end(struct store *, const struct auth_session *);

/* The CSRF token of a session, for forms: HMAC keyed by its cookie value;
 * for an anonymous session, HMAC of the cookie value under the server's
 * key. */
void auth_csrf_token(const struct auth_session *, char out[SEC_TOKEN_STRLEN]);

/* True if submitted (may be NULL) is the session's CSRF token. */
bool auth_csrf_ok(const struct auth_session *, const char *submitted);

/* Wipes the secret token. */
void auth_session_wipe(struct auth_session *);

#ifdef PLUGAUTH_TESTING
/* Static in release builds; the fuzz harness calls it. True if the cookie
 * value v (may be NULL) has the form of a session token (the session
 * prefix, and short enough for auth_session.token), whether or not it
 * names a live session. */
bool auth_session_cookie_ok(const char *v);
#endif

#endif
