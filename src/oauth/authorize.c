/*
 * The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9207): checks
 * the client and redirect_uri first (failures get an error page, never a
 * redirect), then the rest of the request (failures redirect back with an
 * error), then signs the user in, asks for consent once per client and
 * scope, and redirects back with a single-use code, the state and iss.
 *
 * Every form posts back here carrying the original request as hidden
 * fields, so each POST is checked again from scratch: no flow state is
 * kept on the server but the session.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/login.h"
#include "auth/page.h"
#include "auth/ratelimit.h"
#include "auth/session.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/cimd.h"
#include "oauth/oauth_int.h"

#define CREDENTIAL_MAX_BYTES 1024

/* Room for the name derived from the issuer's host (cfg_service_name()). */
#define SERVICE_NAME_MAX_BYTES 256

static void
event(const struct oauth_env *env, const struct http_req *req,
      const struct oauth_authz *a, const char *kind, const char *outcome,
      const char *reason, const char *user)
{
	struct oauth_event_rec r = {
	    .kind = kind,
	    .outcome = outcome,
	    .reason = reason,
	    .client_id = a->client != NULL ? a->client->id : NULL,
	    .user = user,
	    .state = a->state,
	    .peer = http_req_peer(req),
	};

	oauth_event(env->events, &r);
}

/* A refused authorization request: the reason code, the offending value
 * (detail) and the sentence shown to the user (description); the
 * client_id as sent when it is unknown. */
static void
error_event(const struct oauth_env *env, const struct http_req *req,
            const struct oauth_authz *a, const struct oauth_authz_err *err)
{
	struct oauth_event_rec r = {
	    .kind = "authorize",
	    .outcome = oauth_error_code(err->e),
	    .reason = err->reason != NULL ? err->reason : err->why,
	    .client_id = a->client != NULL ? a->client->id
	                                   : form_get(&a->f, "client_id"),
	    .state = a->state != NULL ? a->state : form_get(&a->f, "state"),
	    .peer = http_req_peer(req),
	    .detail = err->detail,
	    .description = err->why,
	};

	oauth_event(env->events, &r);
}

/* redirect_uri + code or error, state and iss (RFC 9207). */
static enum status
redirect_back(const struct oauth_env *env, struct http_req *req,
              const struct oauth_authz *a, const char *code,
              const struct oauth_authz_err *err)
{
	struct buf b;
	enum status rc;

	buf_init_secret(&b, 16384); /* the code */
	rc = buf_adds(&b, a->redirect);
	if (rc == ST_OK)
		rc = buf_adds(&b, strchr(a->redirect, '?') != NULL ? "&" : "?");
	if (rc == ST_OK && code != NULL)
		rc = form_append(&b, "code", code);
	if (rc == ST_OK && err != NULL) {
		rc = form_append(&b, "error", oauth_error_code(err->e));
		if (rc == ST_OK && err->why != NULL)
			rc = form_append(&b, "error_description", err->why);
	}
	if (rc == ST_OK && a->state != NULL)
		rc = form_append(&b, "state", a->state);
	if (rc == ST_OK)
		rc = form_append(&b, "iss", env->cfg->server.issuer);
	if (rc == ST_OK)
		rc = http_resp_header(req, "Cache-Control", "no-store");
	if (rc == ST_OK)
		rc = http_resp_header(req, "Referrer-Policy", "no-referrer");
	if (rc == ST_OK)
		rc = http_respond_redirect(req, a->is_post ? 303 : 302, b.p);
	buf_wipe_free(&b); /* holds the code */
	return rc;
}

static enum status
page_respond(const struct oauth_env *env, struct http_req *req, unsigned status,
             enum auth_page which, const struct page_var *vars, size_t n,
             const struct oauth_authz *a)
{
	struct buf html;
	enum status rc;

	buf_init(&html, PAGE_OUTPUT_MAX_BYTES);
	rc = auth_page_render(env->pages, which, vars, n, &html);
	if (rc == ST_OK)
		rc = auth_page_respond(req, status, &html,
		                       a != NULL ? a->redirect : NULL);
	buf_free(&html);
	return rc;
}

static enum status
error_page(const struct oauth_env *env, struct http_req *req, unsigned status,
           const char *title, const char *message)
{
	char name[SERVICE_NAME_MAX_BYTES];
	const struct page_var vars[] = {
	    {"plugin_name", cfg_service_name(env->cfg, name, sizeof(name))},
	    {"logo_url", env->cfg->plugin.logo_url},
	    {"title", title},
	    {"message", message},
	};

	return page_respond(env, req, status, AUTH_PAGE_ERROR, vars,
	                    ARRAY_LEN(vars), NULL);
}

/* Who the pages name as the client: for a metadata document client its
 * URL's host (in host, which the document's author cannot choose as they
 * can its client_name), with the client_name it claims shown second
 * (*claimed; NULL for other clients). */
static const char *
client_shown(const struct oauth_authz *a, char *host, size_t hostsz,
             const char **claimed)
{
	*claimed = NULL;
	if (a->client->origin != STORE_ORIGIN_METADATA_DOC)
		return a->client->name;
	cimd_url_authority(a->client->id, host, hostsz);
	if (a->client->name[0] != '\0')
		*claimed = a->client->name;
	return host;
}

/* The error page of a request refused before its client is trusted: 400,
 * 503 when the service is unavailable, 429 (with Retry-After) for a rate
 * limit. */
static enum status
authz_error_page(const struct oauth_env *env, struct http_req *req,
                 const struct oauth_authz_err *err)
{
	char after[16];
	enum status rc;

	if (err->retry_after_s > 0) {
		snprintf(after, sizeof(after), "%u", err->retry_after_s);
		if ((rc = http_resp_header(req, "Retry-After", after)) != ST_OK)
			return rc;
	}
	return error_page(env, req,
	                  err->retry_after_s > 0                    ? 429
	                  : err->e == OAUTH_TEMPORARILY_UNAVAILABLE ? 503
	                                                            : 400,
	                  "This sign-in link is not valid", err->why);
}

/* The original request and the CSRF token, as hidden form fields. */
static enum status
hidden_fields(const struct oauth_authz *a, const struct auth_session *s,
              struct buf *b)
{
	static const char *const carried[] = {
	    "response_type", "client_id",      "redirect_uri",
	    "state",         "code_challenge", "code_challenge_method",
	    "resource"};
	char csrf[SEC_TOKEN_STRLEN];
	enum status rc = ST_OK;

	for (size_t i = 0; i < ARRAY_LEN(carried) && rc == ST_OK; i++)
		rc =
		    auth_hidden_add(b, carried[i], form_get(&a->f, carried[i]));
	if (rc == ST_OK)
		rc = auth_hidden_add(b, "scope", a->scope);
	auth_csrf_token(s, csrf);
	if (rc == ST_OK)
		rc = auth_hidden_add(b, "csrf", csrf);
	sec_wipe(csrf, sizeof(csrf));
	return rc;
}

static enum status
login_page(const struct oauth_env *env, struct http_req *req, unsigned status,
           const struct oauth_authz *a, const struct auth_session *s,
           const char *error, const char *username)
{
	struct buf hidden;
	char host[256], name[SERVICE_NAME_MAX_BYTES], chost[256];
	const char *claimed,
	    *shown = client_shown(a, chost, sizeof(chost), &claimed);
	enum status rc;

	buf_init_secret(&hidden, 16384); /* the CSRF token */
	oauth_authz_redirect_host(a, host, sizeof(host));
	rc = hidden_fields(a, s, &hidden);
	if (rc == ST_OK) {
		const struct page_var vars[] = {
		    {"plugin_name",
		     cfg_service_name(env->cfg, name, sizeof(name))},
		    {"logo_url", env->cfg->plugin.logo_url},
		    {"client_name", shown},
		    {"client_claimed_name", claimed},
		    {"action", "/oauth/authorize"},
		    {"hidden", hidden.p},
		    {"error", error},
		    {"username", username},
		    {"redirect_host", host},
		};

		rc = page_respond(env, req, status, AUTH_PAGE_LOGIN, vars,
		                  ARRAY_LEN(vars), a);
	}
	buf_wipe_free(&hidden);
	return rc;
}

static enum status
consent_page(const struct oauth_env *env, struct http_req *req,
             const struct oauth_authz *a, const struct auth_session *s,
             const char *user)
{
	struct buf hidden, items;
	char host[256], name[SERVICE_NAME_MAX_BYTES], chost[256];
	const char *claimed,
	    *shown = client_shown(a, chost, sizeof(chost), &claimed);
	enum status rc;

	buf_init_secret(&hidden, 16384); /* the CSRF token */
	buf_init(&items, 16384);
	oauth_authz_redirect_host(a, host, sizeof(host));
	rc = hidden_fields(a, s, &hidden);
	for (const char *p = a->scope; rc == ST_OK && *p != '\0';) {
		size_t n = strcspn(p, " ");
		/* [oauth.scope_descriptions], else the scope itself */
		const char *words = cfg_scope_description(env->cfg, p, n);
		char tok[256];

		if (words == NULL) {
			if (n >= sizeof(tok))
				n = sizeof(tok) - 1;
			memcpy(tok, p, n);
			tok[n] = '\0';
			words = tok;
		}
		rc = auth_item_add(&items, words);
		p += strcspn(p, " ");
		while (*p == ' ')
			p++;
	}
	if (rc == ST_OK) {
		const struct page_var vars[] = {
		    {"plugin_name",
		     cfg_service_name(env->cfg, name, sizeof(name))},
		    {"logo_url", env->cfg->plugin.logo_url},
		    {"client_name", shown},
		    {"client_claimed_name", claimed},
		    {"username", user},
		    {"scopes", items.p},
		    {"action", "/oauth/authorize"},
		    {"hidden", hidden.p},
		    {"redirect_host", host},
		};

		rc = page_respond(env, req, 200, AUTH_PAGE_CONSENT, vars,
		                  ARRAY_LEN(vars), a);
	}
	buf_wipe_free(&hidden);
	buf_free(&items);
	return rc;
}

/* True if every scope-token of want is in have. */
static bool
scope_covers(const char *have, const char *want)
{
	for (const char *p = want; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n > 0 && !oauth_scope_has(have, p, n))
			return false;
		p += n;
		while (*p == ' ')
			p++;
	}
	return true;
}

/* Mints a code bound to everything the token request must match. */
static enum status
code_issue(const struct oauth_env *env, struct http_req *req,
           const struct oauth_authz *a, const struct store_user *u)
{
	struct store_code c;
	char code[SEC_TOKEN_STRLEN];
	char state[OAUTH_EVENT_FIELD_MAX + 1]; /* as the events keep it */
	int64_t now = clk_now_s();
	enum status rc;

	memset(&c, 0, sizeof(c));
	rc = sec_token_mint(SEC_PREFIX_CODE, code, c.digest);
	if (rc != ST_OK)
		return rc;
	c.client_id = a->client->id;
	c.user_id = u->id;
	/* RFC 6749 §4.1.3: the token request must repeat a redirect_uri
	 * the authorization request named; "" records that it named none. */
	c.redirect_uri = form_get(&a->f, "redirect_uri") != NULL
	                     ? (char *)(uintptr_t)a->redirect
	                     : "";
	c.scope = a->scope;
	c.code_challenge = (char *)(uintptr_t)a->challenge;
	c.resource = (char *)(uintptr_t)a->resource;
	if (a->state != NULL) { /* for the token event (not a secret) */
		str_copy(state, sizeof(state), a->state);
		c.state = state;
	}
	c.family_id = sec_random_i64();
	c.created_at = now;
	c.expires_at = now + env->cfg->oauth.code_ttl;
	rc = store_code_add(env->st, &c);
	if (rc == ST_OK) {
		event(env, req, a, "code", "ok", "code_issued", u->name);
		rc = redirect_back(env, req, a, code, NULL);
	}
	sec_wipe(code, sizeof(code));
	return rc;
}

/* A signed-in user: redirect at once if consent covers the scope, else
 * ask. */
static enum status
authz_signed_in(const struct oauth_env *env, struct http_req *req,
                const struct oauth_authz *a, const struct auth_session *s,
                const struct store_user *u)
{
	char *granted = NULL;
	bool covered;
	enum status rc;

	rc = store_consent_get(env->st, u->id, a->client->id, &granted);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return rc;
	covered = granted != NULL && scope_covers(granted, a->scope);
	free(granted);
	if (covered)
		return code_issue(env, req, a, u);
	return consent_page(env, req, a, s, u->name);
}

/* A sign-in answered 429 without a verdict (reason: "rate_limited" or
 * "busy"): the login page again, with Retry-After, an event and a log
 * line. */
static enum status
login_later(const struct oauth_env *env, struct http_req *req,
            const struct oauth_authz *a, const struct auth_session *s,
            const char *name, unsigned retry_s, const char *reason,
            const char *message)
{
	char retry[16], safe[128];
	enum status rc;

	snprintf(retry, sizeof(retry), "%u", retry_s);
	if ((rc = http_resp_header(req, "Retry-After", retry)) != ST_OK)
		return rc;
	event(env, req, a, "login", "denied", reason, name);
	log_info("event=login_%s user=%s from=%s", reason,
	         log_safe(name, safe, sizeof(safe)), http_req_peer(req));
	return login_page(env, req, 429, a, s, message, name);
}

/* A login form was posted: check the rate limits and the password. On
 * success *s becomes a fresh signed-in session (no fixation). */
static enum status
authz_login(const struct oauth_env *env, struct http_req *req,
            const struct oauth_authz *a, struct auth_session *s,
            struct store_user **u)
{
	const char *name = form_get(&a->f, "username");
	const char *pw = form_get(&a->f, "password");
	const char *peer = http_req_peer(req);
	char ukey[128], akey[128];
	unsigned wait_s = 0;
	int64_t now = clk_now_s();
	enum status rc;
	bool blocked;

	if (name == NULL || pw == NULL || strlen(name) > CREDENTIAL_MAX_BYTES ||
	    strlen(pw) > CREDENTIAL_MAX_BYTES) {
		event(env, req, a, "login", "denied", "credentials_missing",
		      NULL);
		return login_page(env, req, 400, a, s,
		                  "Enter your username and password.", name);
	}
	snprintf(ukey, sizeof(ukey), "u:%.120s", name);
	auth_limiter_addr_key(peer, akey, sizeof(akey));
	/* The attempt counts as a failure before its password is checked, in
	 * one step with the limit check, so that concurrent attempts cannot
	 * all pass the check; a right password takes it back below. */
	blocked = !auth_limiter_take(env->lim_user, ukey, now, &wait_s);
	if (!blocked && !auth_limiter_take(env->lim_addr, akey, now, &wait_s)) {
		auth_limiter_forgive(env->lim_user, ukey);
		blocked = true;
	}
	if (blocked)
		return login_later(env, req, a, s, name, wait_s, "rate_limited",
		                   "Too many failed sign-ins. Wait a few "
		                   "minutes, then try again.");
	rc = auth_login_verify(env->st, name, pw, u);
	if (rc == ST_DENIED) {
		event(env, req, a, "login", "denied", "bad_credentials", name);
		log_info("event=login_failed user=%s from=%s",
		         log_safe(name, ukey, sizeof(ukey)), peer);
		/* 400, not 401: this is no HTTP authentication challenge. */
		return login_page(env, req, 400, a, s,
		                  "Wrong username or password.", name);
	}
	/* No failure: give the reservations back (a sign-in clears the
	 * user's failures, not the address's). */
	auth_limiter_forgive(env->lim_addr, akey);
	if (rc == ST_OK)
		auth_limiter_reset(env->lim_user, ukey);
	else
		auth_limiter_forgive(env->lim_user, ukey);
	if (rc == ST_TOOBIG) /* too many passwords checked at once */
		return login_later(env, req, a, s, name, 1, "busy",
		                   "Too many sign-ins right now. Try again "
		                   "in a moment.");
	if (rc != ST_OK)
		return rc;
	auth_session_end(env->st, s);
	auth_session_wipe(s);
	rc = auth_session_start(env->st, req, env->secure, (*u)->id,
	                        env->cfg->auth.session_ttl, now, s);
	if (rc != ST_OK)
		return rc;
	event(env, req, a, "login", "ok", "signed_in", name);
	return ST_OK;
}

/* A consent form was posted. */
static enum status
authz_decide(const struct oauth_env *env, struct http_req *req,
             const struct oauth_authz *a, const struct store_user *u)
{
	const char *d = form_get(&a->f, "decision");
	char *granted = NULL;
	struct buf merged;
	struct oauth_authz_err err = {OAUTH_ACCESS_DENIED,
	                              "the user denied the request",
	                              false,
	                              NULL,
	                              NULL,
	                              0};
	enum status rc;

	if (strcmp(d, "deny") == 0) {
		event(env, req, a, "consent", "denied", "user_denied", u->name);
		return redirect_back(env, req, a, NULL, &err);
	}
	if (strcmp(d, "allow") != 0)
		return error_page(env, req, 400, "Bad request",
		                  "The decision must be allow or deny.");
	/* Remember the union of what was granted before and now. */
	rc = store_consent_get(env->st, u->id, a->client->id, &granted);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return rc;
	buf_init(&merged, 4096);
	rc = buf_adds(&merged, a->scope);
	for (const char *p = granted; rc == ST_OK && p != NULL && *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n > 0 && !oauth_scope_has(a->scope, p, n))
			rc = buf_printf(&merged, " %.*s", (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
	free(granted);
	if (rc == ST_OK)
		rc = store_consent_set(env->st, u->id, a->client->id, merged.p,
		                       clk_now_s());
	buf_free(&merged);
	if (rc != ST_OK)
		return rc;
	event(env, req, a, "consent", "ok", "user_allowed", u->name);
	return code_issue(env, req, a, u);
}

static enum status
authz_run(const struct oauth_env *env, struct http_req *req,
          struct oauth_authz *a)
{
	struct auth_session s;
	struct store_user *u = NULL;
	int64_t now = clk_now_s();
	enum status rc;

	rc = auth_session_find(env->st, req, env->secure, now, &s);
	if (rc == ST_STORE)
		goto out;
	if (a->is_post &&
	    (rc != ST_OK || !auth_csrf_ok(&s, form_get(&a->f, "csrf")))) {
		event(env, req, a, "authorize", "denied", "csrf_mismatch",
		      NULL);
		rc = error_page(
		    env, req, 403, "This page has expired",
		    "Your sign-in form is no longer valid. Go back to the app "
		    "and start again.");
		goto out;
	}
	if (rc == ST_NOTFOUND) {
		/* Anonymous: a cookie for the CSRF token, no row. */
		rc = auth_session_start_anon(req, env->secure,
		                             env->cfg->auth.session_ttl, &s);
		if (rc != ST_OK)
			goto out;
	}
	if (a->is_post && form_get(&a->f, "username") != NULL) {
		rc = authz_login(env, req, a, &s, &u);
		if (rc != ST_OK || u == NULL)
			goto out; /* answered: the login page again */
	} else if (s.user_id != 0) {
		rc = store_user_get_by_id(env->st, s.user_id, &u);
		if (rc == ST_NOTFOUND)
			s.user_id = 0; /* the user was removed */
		else if (rc != ST_OK)
			goto out;
	}
	if (u == NULL) {
		event(env, req, a, "authorize", "ok", "login_required", NULL);
		rc = login_page(env, req, 200, a, &s, NULL, NULL);
		goto out;
	}
	if (a->is_post && form_get(&a->f, "decision") != NULL)
		rc = authz_decide(env, req, a, u);
	else
		rc = authz_signed_in(env, req, a, &s, u);
out:
	store_user_free(u);
	auth_session_wipe(&s);
	return rc;
}

enum status
oauth_authorize_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	struct oauth_authz a;
	struct oauth_authz_err err = {
	    OAUTH_INVALID_REQUEST, NULL, true, NULL, NULL, 0};
	enum status rc;

	memset(&a, 0, sizeof(a));
	a.peer = http_req_peer(req);
	if (!oauth_authz_read(req, &a, &err) ||
	    !oauth_authz_check_client(env, &a, &err)) {
		error_event(env, req, &a, &err);
		rc = authz_error_page(env, req, &err);
		goto out;
	}
	if (!oauth_authz_check_request(env, &a, &err)) {
		error_event(env, req, &a, &err);
		/* RFC 9700 §4.18: no automatic redirect to a URI that anyone
		 * could register (dynamic registration, or a metadata
		 * document anyone can publish): a page instead. */
		if (a.client->origin != STORE_ORIGIN_CLI)
			rc = error_page(env, req, 400,
			                "This sign-in link is not valid",
			                err.why);
		else
			rc = redirect_back(env, req, &a, NULL, &err);
		goto out;
	}
	rc = authz_run(env, req, &a);
	if (rc == ST_STORE)
		rc = error_page(
		    env, req, 503, "Temporarily unavailable",
		    "The service cannot reach its database. Try again "
		    "shortly.");
out:
	oauth_authz_free(&a);
	return rc;
}
