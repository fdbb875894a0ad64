/*
 * The gateway: bearer-token validation (RFC 6750) for the plugin's API,
 * the reverse proxy to the upstream API, and GET /oauth/verify for nginx
 * auth_request. Validated tokens are cached for GW_CACHE_TTL_S seconds,
 * but a revocation made by this process takes effect at once (the next
 * check misses the cache), and one made by another process (the CLI)
 * within GW_REVOKE_POLL_MS and the time of one database read; a cached
 * entry never outlives its token's expires_at, so expiry is exact.
 */
#ifndef PLUGAUTH_GATEWAY_H
#define PLUGAUTH_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "http/http.h"
#include "store/store.h"

#define GW_CACHE_TTL_S 5       /* a validated token is kept this long */
#define GW_CACHE_ENTRIES 65536 /* validated tokens kept at most */
/* Another process's revocation is seen within this (plus one read of the
 * database's revocation epoch); this process's at once. */
#define GW_REVOKE_POLL_MS 250

/* Who a valid access token speaks for. */
struct gw_identity {
	char user[128]; /* user name; "" for a token without a user
	                 * (client_credentials) */
	char client_id[STORE_CLIENT_ID_MAX_BYTES + 1]; /* may be a URL */
	char scope[1024];
	char audience[2048]; /* RFC 8707 resource; "" if none */
	int64_t expires_at;
};

enum gw_check {
	GW_OK = 0,
	GW_MISSING, /* no Authorization: Bearer header: 401 without error */
	GW_INVALID, /* unknown, expired, revoked, malformed, for another
	             * audience: 401 error="invalid_token" */
	GW_INSUFFICIENT_SCOPE, /* valid, but lacks [gateway] scope: 403
	                        * error="insufficient_scope" */
	GW_UNAVAILABLE,        /* the store failed: 503 */
};

struct gw_env;
struct oauth_events;

/* Builds the gateway's state (token cache, upstream client and its thread)
 * over cfg, st and events (borrowed: must outlive it; events may be NULL:
 * API-call failures are then not recorded). *out is new (gw_env_free()).
 * On error writes one line to err. */
enum status gw_env_new(const struct config *, struct store *,
                       struct oauth_events *events, struct gw_env **out,
                       char *err, size_t errlen);

/* Adds name (borrowed: must outlive gw) to the cookies the proxy never
 * passes to the upstream: the sign-in session's. ST_TOOBIG past four. */
enum status gw_env_drop_cookie(struct gw_env *, const char *name);

/* Answers every proxied request still waiting for the upstream (503) and
 * stops the upstream client; later proxied requests get 503 too. Call it
 * after http_server_quiesce() and before http_server_stop(). NULL-safe. */
void gw_env_abort(struct gw_env *);

/* Aborts (as above) and frees. NULL-safe. */
void gw_env_free(struct gw_env *);

/* Checks the request's Authorization: Bearer token (header only, RFC 6750
 * §2.1): live access token, and its audience, if any, is this server. */
enum gw_check gw_bearer_check(struct gw_env *, const struct http_req *,
                              struct gw_identity *out);

/* Answers a failed check: 401 with WWW-Authenticate: Bearer [error=…,]
 * resource_metadata="<issuer>/.well-known/oauth-protected-resource"
 * (RFC 6750 §3, RFC 9728 §5.1), 403 insufficient_scope, or 503. */
enum status gw_respond_unauthorized(struct gw_env *, struct http_req *,
                                    enum gw_check);

/* True if the space-separated scope list has tok. */
bool gw_scope_has(const struct gw_identity *, const char *tok);

struct oauth_jwt_keys;
/* The keys that verify JWT access tokens (borrowed: must outlive gw);
 * without them only opaque tokens are accepted. */
void gw_env_set_jwt_keys(struct gw_env *gw, struct oauth_jwt_keys *keys);

/* GET /oauth/verify, for nginx auth_request: 204 with X-Plugauth-User,
 * X-Plugauth-Client and X-Plugauth-Scope, or 401/403. ctx: struct gw_env. */
enum status gw_verify_handle(struct http_req *, void *ctx);

/* Every method under [gateway] path: checks the bearer token and the
 * [gateway] scope, then forwards the request to [gateway] upstream without
 * holding a server thread, and answers with the upstream's answer (502 if
 * it cannot be reached or its answer is over [gateway] response_max_bytes,
 * 504 after [gateway] timeout). ctx: struct gw_env. */
enum status gw_proxy_handle(struct http_req *, void *ctx);

/* The head hooks (http.h) of the two routes above: the bearer check (and
 * for the proxy the path check) as soon as the request head is in, so
 * that a request without a valid token is answered before its body is
 * read. ctx: struct gw_env. */
enum status gw_verify_head(struct http_req *, void *ctx);
enum status gw_proxy_head(struct http_req *, void *ctx);

#endif
