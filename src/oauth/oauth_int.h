/* Shared only by the files of src/oauth/. */
#ifndef PLUGAUTH_OAUTH_INT_H
#define PLUGAUTH_OAUTH_INT_H

#include <stdbool.h>

#include "core/form.h"
#include "http/http.h"
#include "oauth/jwt.h"
#include "oauth/oauth.h"
#include "store/store.h"

/* RFC 6749 §5.2 (and §4.1.2.1) error codes, and RFC 8707's. */
enum oauth_error {
	OAUTH_OK = 0,
	OAUTH_INVALID_REQUEST,
	OAUTH_INVALID_CLIENT,
	OAUTH_INVALID_GRANT,
	OAUTH_UNAUTHORIZED_CLIENT,
	OAUTH_UNSUPPORTED_GRANT_TYPE,
	OAUTH_INVALID_SCOPE,
	OAUTH_ACCESS_DENIED,
	OAUTH_UNSUPPORTED_RESPONSE_TYPE,
	OAUTH_SERVER_ERROR,
	OAUTH_TEMPORARILY_UNAVAILABLE,
	OAUTH_INVALID_TARGET, /* RFC 8707 §2 */
};

/* The RFC name ("invalid_request"). */
const char *oauth_error_code(enum oauth_error);

/* HTTP status for a token-endpoint error: 401 for invalid_client, 503 for
 * temporarily_unavailable, 500 for server_error, else 400. */
unsigned oauth_error_status(enum oauth_error);

/* Answers the RFC 6749 §5.2 JSON error with Cache-Control: no-store; adds
 * WWW-Authenticate: Basic when the client tried HTTP Basic. */
enum status oauth_respond_error(struct http_req *, enum oauth_error,
                                const char *desc, bool basic_tried);

/*
 * Reads a token-style request body, application/x-www-form-urlencoded or
 * application/json (an object of strings), into f (initialised here; the
 * caller form_free()s it, also on error). On error *why says what is wrong.
 */
enum oauth_error oauth_params_read(const struct http_req *, struct form *f,
                                   const char **why);

/* The fuzz harness's parameter ceiling, as [server] params_max's default:
 * far more than any grant needs. */
#define OAUTH_PARAMS_MAX 32

/* HTTP Basic credentials, form-decoded (RFC 6749 §2.3.1). */
struct oauth_basic_creds {
	struct buf id;
	struct buf secret; /* secret: wiped by oauth_basic_free() */
};

#ifdef PLUGAUTH_TESTING
/* Static in release builds; the unit tests and fuzz harnesses call them. */
enum status oauth_basic_parse(const char *hdr, struct oauth_basic_creds *);
void oauth_basic_free(struct oauth_basic_creds *);
enum oauth_error oauth_params_json(struct str body, struct form *f,
                                   const char **why);
#endif

/* How deep body's JSON nests, counting no further than max + 1 (checked
 * before jansson parses: it takes up to 2048 levels). */
unsigned oauth_json_depth(struct str body, unsigned max);

/* Who the client is and how it proved it. */
struct oauth_client_auth {
	struct store_client *client; /* new; NULL on failure */
	bool basic_tried;            /* Authorization: Basic seen */
	bool authenticated;          /* a secret was checked */
	/* For the event and the log line, also on failure: */
	const char *method; /* static: basic, post, both, none; NULL before */
	const char *reason; /* static reason code of a failure, else NULL */
	char presented_id[OAUTH_EVENT_FIELD_MAX + 1]; /* the client_id sent,
	                                               * cut; "" if none */
};

/* The client's id for a log line, through log_safe() into buf: the
 * authenticated one, else the one presented, else "-". Returns buf. */
const char *oauth_client_auth_id(const struct oauth_client_auth *ca, char *buf,
                                 size_t bufsz);

/* Records a failed client authentication (ca->client NULL and a reason
 * set; otherwise nothing) as an event of kind, with the presented
 * client_id, the method tried, the reason code and the sentence why. */
void oauth_client_auth_event(const struct oauth_env *, const struct http_req *,
                             const char *kind,
                             const struct oauth_client_auth *ca,
                             enum oauth_error e, const char *why);

/*
 * Authenticates the client of a token request: client_secret_basic or
 * client_secret_post (RFC 6749 §2.3.1), or identifies a public client by
 * its client_id. Exactly one method; a confidential client must prove its
 * secret. ca->client is new on OAUTH_OK (store_client_free()).
 */
enum oauth_error oauth_client_authenticate(struct store *,
                                           const struct http_req *,
                                           const struct form *,
                                           struct oauth_client_auth *ca,
                                           const char **why);

/*
 * Resolves a requested scope (NULL or "" → default_scope) against the scopes
 * the server knows and those the client may have ("" = all). *out is new
 * (free()): the requested scope-tokens, deduplicated, space-separated.
 */
enum oauth_error oauth_scope_resolve(const char *requested,
                                     const char *server_scopes,
                                     const char *default_scope,
                                     const char *client_scopes, char **out,
                                     const char **why);

/* True if challenge is a well-formed S256 code_challenge (RFC 7636 §4.2). */
bool oauth_pkce_challenge_ok(const char *challenge);

/* True if verifier[len] is a valid code_verifier (RFC 7636 §4.1) whose
 * S256 transform equals challenge; constant-time compare. */
bool oauth_pkce_ok(const char *challenge, const char *verifier, size_t len);

/* Lets any origin read the coming answer, without credentials mode
 * (cors.c). As http_resp_header(): on failure, stop and return it. */
enum status oauth_cors_allow(struct http_req *)
    __attribute__((warn_unused_result));

/* True if uri is in the ChatGPT callback family (see redirect.c). */
bool oauth_redirect_is_chatgpt(const char *uri);

/* True if the client may use uri: exact match against its registered
 * URIs, or the ChatGPT family for a --chatgpt client. */
bool oauth_redirect_allowed(const struct store_client *, const char *uri);

/* One authorization request (authorize.c), as checked. */
struct oauth_authz {
	struct form f;
	struct store_client *client; /* new */
	const char *redirect;        /* effective redirect_uri */
	const char *state;
	const char *challenge;
	const char *resource;
	char *scope;      /* resolved, new */
	char *scope_bad;  /* the refused scope-token, new, or NULL */
	const char *peer; /* the client address (borrowed) */
	bool is_post;
};

/* What went wrong, and whether it may be told to the client by redirect. */
struct oauth_authz_err {
	enum oauth_error e;
	const char *why;
	bool page;              /* true: error page, no redirect */
	const char *reason;     /* reason code for the event */
	const char *detail;     /* the offending value (borrowed), or NULL */
	unsigned retry_after_s; /* > 0: a rate limit, answered 429 */
};

/*
 * authorize_check.c: the checks of an authorization request.
 * oauth_authz_read(): the parameters (the query of a GET, the form body of
 * a POST) into a->f. oauth_authz_check_client(): looks the client up
 * (a->client, new) and calls oauth_authz_check_redirect(). The checks that
 * need no store, once a->f is read and a->client looked up (the fuzz
 * harness calls them): oauth_authz_check_redirect(): redirect_uri and
 * state (sets a->redirect, a->state; a failure is shown on an error page).
 * oauth_authz_check_request(): the rest (sets a->challenge, a->resource and
 * a->scope, new; a failure is redirected back); it reads only env->cfg.
 * oauth_authz_redirect_host(): the host of a->redirect for the pages.
 * Each check returns false with *err filled. oauth_authz_free() frees what
 * they set (not a itself).
 */
bool oauth_authz_read(struct http_req *, struct oauth_authz *,
                      struct oauth_authz_err *);
bool oauth_authz_check_client(const struct oauth_env *, struct oauth_authz *,
                              struct oauth_authz_err *);
bool oauth_authz_check_redirect(struct oauth_authz *, struct oauth_authz_err *);
bool oauth_authz_check_request(const struct oauth_env *, struct oauth_authz *,
                               struct oauth_authz_err *);
void oauth_authz_redirect_host(const struct oauth_authz *, char *out,
                               size_t outsz);
void oauth_authz_free(struct oauth_authz *);

#endif
