/*
 * OAuth 2.0 endpoints (RFC 6749): the HTTP handlers the router calls.
 */
#ifndef PLUGAUTH_OAUTH_H
#define PLUGAUTH_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/status.h"
#include "http/http.h"
#include "store/store.h"

struct auth_pages;
struct auth_limiter;
struct oauth_events;
struct cimd_cache;

struct oauth_jwt_keys;

/* What every OAuth handler needs, built once by oauth_env_init(). */
struct oauth_env {
	const struct config *cfg;      /* borrowed */
	struct store *st;              /* borrowed */
	struct auth_pages *pages;      /* login, consent, error */
	struct auth_limiter *lim_user; /* failed sign-ins per user */
	struct auth_limiter *lim_addr; /* ... per client address */
	struct auth_limiter *lim_reg;  /* registrations per address */
	struct oauth_events *events;   /* background event writer */
	struct cimd_cache *cimd;       /* metadata documents; NULL when off */
	bool secure;                   /* issuer is https */
	char *as_metadata;             /* RFC 8414 document (JSON) */
	char *pr_metadata;             /* RFC 9728 document (JSON) */
	char *pr_gw_metadata;          /* ... for the gateway's path */
	char *pr_gw_path; /* /.well-known/oauth-protected-resource/<path> */
	struct oauth_jwt_keys *jwt_keys; /* JWT signing keys (oauth/jwt.h) */
};

/* Builds env over cfg and st (borrowed: must outlive env). On error writes
 * one line to err. */
enum status oauth_env_init(struct oauth_env *, const struct config *,
                           struct store *, char *err, size_t errlen);

/* Flushes the event log and frees what oauth_env_init() made. */
void oauth_env_free(struct oauth_env *);

/* Bound on the delay between oauth_event() and the event's commit, so
 * that `plugauth events` run just after a failure shows it: an event
 * after a quiet spell is written at once, one in a burst with the batch
 * that follows, at most this long after the previous write. */
#define OAUTH_EVENTS_FLUSH_MS 200

/* Starts / stops the background event writer, which keeps the events
 * table to max_rows rows (also used by the CLI). */
enum status oauth_events_new(struct store *, unsigned max_rows,
                             struct oauth_events **out);
void oauth_events_free(struct oauth_events *);

/* Longest value an event keeps of each field; longer ones are cut. */
#define OAUTH_EVENT_FIELD_MAX 256

/* What one event says (all borrowed; NULL where unknown). */
struct oauth_event_rec {
	const char *kind;    /* authorize, login, consent, code, token */
	const char *outcome; /* "ok", "denied" or an OAuth error code */
	const char *reason;  /* reason code: why */
	const char *client_id;
	const char *user;
	const char *state;
	const char *peer;
	const char *detail; /* the offending value (never a secret) */
	const char *method; /* client auth tried: basic, post, both, none */
	const char *description; /* the human sentence */
};

/* Queues an event (copied: each field cut to OAUTH_EVENT_FIELD_MAX bytes,
 * control characters replaced by '?') for the background writer. It is
 * committed within about OAUTH_EVENTS_FLUSH_MS. NULL-safe ev.
 * Events other than a named user's successes count against a budget per
 * client address; past it they are only counted, and summarised later in
 * one event per address (kind "events", reason "suppressed=N"). */
void oauth_event(struct oauth_events *, const struct oauth_event_rec *);

/* GET, POST /oauth/authorize (RFC 6749 §4.1, RFC 7636, RFC 9207). */
enum status oauth_authorize_handle(struct http_req *, void *ctx);

/* GET /oauth/jwks.json: the public keys that sign JWT access tokens
 * (RFC 7517 JWK Set), public and cacheable. ctx is a struct oauth_env. */
#define OAUTH_JWKS_PATH "/oauth/jwks.json"
enum status oauth_jwks_handle(struct http_req *, void *ctx);

/* POST /oauth/token (RFC 6749 §3.2). ctx is a struct oauth_env. */
enum status oauth_token_handle(struct http_req *, void *ctx);

/* The STORE_GRANT_* bit of a grant_type name; 0 if not one of ours. */
unsigned oauth_grant_bit(const char *name);
/* The grant_type name of one STORE_GRANT_* bit; NULL if none. */
const char *oauth_grant_name(unsigned bit);

/* GET /.well-known/oauth-authorization-server (RFC 8414). Public, cached
 * for 5 minutes. ctx is a struct oauth_env. */
enum status oauth_metadata_handle(struct http_req *, void *ctx);

/* GET /.well-known/oauth-protected-resource (RFC 9728): the API behind the
 * gateway, whose resource identifier is the issuer. ctx: oauth_env. */
enum status oauth_resource_metadata_handle(struct http_req *, void *ctx);
/* GET env->pr_gw_path and below it (a prefix route; RFC 9728 §3.1, the
 * path-inserted form): the same API named by the issuer and [gateway]
 * path. ctx: oauth_env. */
enum status oauth_resource_metadata_gw_handle(struct http_req *, void *ctx);
/* OPTIONS on the endpoints browser-based public clients post to: the CORS
 * preflight answer (any origin, POST, no credentials mode). */
enum status oauth_cors_preflight_handle(struct http_req *, void *ctx);

/* Builds the discovery documents from env->cfg into env (oauth_env_init()
 * does this once); the caller frees them (oauth_env_free()). */
enum status oauth_metadata_build(struct oauth_env *);

/* POST /oauth/introspect (RFC 7662): any confidential client may ask about
 * any token; public clients may not. ctx is a struct oauth_env. */
enum status oauth_introspect_handle(struct http_req *, void *ctx);

/* POST /oauth/revoke (RFC 7009): a client revokes its own token (a refresh
 * token with its family); anything else answers 200 and changes nothing.
 * ctx is a struct oauth_env. */
enum status oauth_revoke_handle(struct http_req *, void *ctx);

/* Dynamic client registration (register.c), routed only when [oauth]
 * registration is not closed. ctx is a struct oauth_env.
 * POST /oauth/register (RFC 7591 §3). */
enum status oauth_register_handle(struct http_req *, void *ctx);
/* GET, PUT, DELETE /oauth/register/<client_id> (RFC 7592 §2). */
enum status oauth_register_manage_handle(struct http_req *, void *ctx);
/* OPTIONS on both: the CORS preflight of browser-based clients. */
enum status oauth_register_preflight(struct http_req *, void *ctx);
#define OAUTH_REGISTER_PATH "/oauth/register"
#define OAUTH_REGISTER_BODY_MAX_BYTES 8192 /* 413 past it */

/* True if the space-separated list has the scope-token tok[toklen]. */
bool oauth_scope_has(const char *list, const char *tok, size_t toklen);

#endif
