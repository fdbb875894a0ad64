/* Shared only by the files of src/gateway/. */
#ifndef PLUGAUTH_GATEWAY_INT_H
#define PLUGAUTH_GATEWAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "crypto/sec.h"
#include "gateway/gateway.h"

#define GW_TOKEN_MAX_BYTES                                                     \
	4096 /* longer bearer tokens are refused (a JWT                        \
	      * is at most JWS_TOKEN_MAX) */

struct gw_cache;
struct gw_proxy;

#define GW_DROP_COOKIES_MAX 4

struct gw_route;

#define GW_ROUTE_PATH_BYTES (CFG_GW_PREFIX_MAX + 2)
#define GW_SIG_STRLEN 96 /* "t=<20 digits>, v1=<64 hex>" + NUL */

struct gw_env {
	const struct config *cfg;    /* borrowed */
	struct store *st;            /* borrowed */
	struct oauth_events *events; /* borrowed; may be NULL */
	struct gw_cache *cache;
	struct gw_proxy *proxy;  /* NULL without an upstream */
	const char *scope;       /* [gateway] scope, NULL if none */
	char *metadata_url;      /* RFC 9728 resource metadata */
	char *challenge_missing; /* WWW-Authenticate */
	char *challenge_scope;   /* ... for 403 */
	const char *drop_cookies[GW_DROP_COOKIES_MAX + 1]; /* NULL-ended */
	struct gw_route *routes; /* [gateway.scopes] (route.c) */
	size_t nroutes;
	struct oauth_jwt_keys *jwt_keys; /* borrowed; NULL: opaque only */
	uint8_t *id_key; /* [gateway] identity_secret_file; NULL if unset */
	size_t id_keylen;
};

/* What a check found, for the answer and the event log (static text). */
struct gw_verdict {
	enum gw_check check;
	const char *reason; /* event reason code */
	const char *desc;   /* error_description */
	const char *need;   /* scopes the request needs (challenge); NULL */
};

/*
 * Finds the token in an Authorization header value (NULL: no header):
 * "Bearer" (any case), one space, a b64token (RFC 6750 §2.1). GW_MISSING
 * for no header or another scheme, GW_INVALID for a malformed one;
 * *tok borrows from hdr.
 */
enum gw_check gw_bearer_parse(const char *hdr, struct str *tok);

/* The check behind gw_bearer_check(), with its reason. On GW_INVALID the
 * identity holds what is known (client, user) for the event log. */
void gw_bearer_check_why(struct gw_env *, const struct http_req *,
                         struct gw_identity *, struct gw_verdict *);

/* As gw_bearer_check_why(), then the [gateway] scope and, if routed (a
 * proxied request), the scopes of its [gateway.scopes] rule. */
void gw_authorize(struct gw_env *, const struct http_req *, bool routed,
                  struct gw_identity *, struct gw_verdict *);

/* Answers v (not GW_OK) and records it as an "api" event. */
enum status gw_refuse(struct gw_env *, struct http_req *,
                      const struct gw_identity *, const struct gw_verdict *);

/* Records an API-call failure (kind "api"). */
void gw_event(struct gw_env *, const struct http_req *,
              const struct gw_identity *, const char *outcome,
              const char *reason);

/* Appends to out (empty or not) the cookie pairs of a Cookie header value
 * whose names are not in drop (NULL-terminated), joined by "; ". */
enum status gw_cookie_filter(const char *value, const char *const *drop,
                             struct buf *out);

/* True if a Set-Cookie value[0..len) from the upstream sets or clears a
 * cookie named one of drop (NULL-terminated; names in any case). */
bool gw_set_cookie_dropped(const char *value, size_t len,
                           const char *const *drop);

typedef enum status (*gw_header_add_fn)(void *arg, const char *name,
                                        const char *value);

/* Calls add for each identity header of id, none of them empty:
 * X-Plugauth-User (or, for a token without a user, X-Plugauth-Grant:
 * client_credentials), X-Plugauth-Client, X-Plugauth-Scope (if any). */
enum status gw_identity_headers(const struct gw_identity *id,
                                gw_header_add_fn add, void *arg);

/* The identity behind req's token and the [gateway] scope, checked once
 * per request: the one a head hook stashed (http_req_stash()), or checked
 * now and stashed. NULL if the check failed and req was answered, or on
 * error; *rc is the status to return from the handler. Borrowed: valid
 * until the request is done. */
const struct gw_identity *gw_identify(struct gw_env *, struct http_req *,
                                      bool routed, enum status *rc);

/* Builds gw->routes from [gateway.scopes] (route.c); _free empties them. */
enum status gw_routes_new(struct gw_env *);
void gw_routes_free(struct gw_env *);

/* The scopes req needs (space-separated): [gateway] scope and those of
 * its [gateway.scopes] rule; NULL if none. Borrowed from gw. */
const char *gw_route_need(const struct gw_env *, const struct http_req *);

/* The target's path as [gateway.scopes] prefixes are matched (route.c):
 * decoded once, without ";params", runs of '/' as one, cut to outsz - 1
 * bytes. */
void gw_route_path(const char *target, char *out, size_t outsz);

/* Reads the HMAC key of X-Plugauth-Signature from path (sign.c): a
 * regular file of 32..4096 bytes (trailing CR and LF dropped) that only
 * its owner can read. *key is new (wipe with sec_wipe(), then free()). */
enum status gw_id_key_load(const char *path, uint8_t **key, size_t *len,
                           char *err, size_t errlen);

/* The X-Plugauth-Signature value for id's request req sent at unix time t
 * (docs/gateway.md has the canonical string). */
enum status gw_signature(const struct gw_env *, const struct http_req *,
                         const struct gw_identity *, int64_t t,
                         char out[GW_SIG_STRLEN]);

/* True if the raw request-target (path and query as received) has a path
 * an upstream can only resolve under prefix (path.c). */
bool gw_path_ok(const char *target, const char *prefix);

struct curl_slist;

/* The headers the upstream gets for req (a curl list, new in *out): the
 * client's, minus those dropped (gw->drop_cookies: cookie names), plus
 * id's X-Plugauth-* (X-Plugauth-Signature with gw->id_key) and
 * X-Forwarded-*. */
enum status gw_request_headers(struct http_req *req,
                               const struct gw_identity *id,
                               const struct gw_env *gw,
                               struct curl_slist **out);

/* True if s may go into an HTTP header value as is: no control
 * characters (obs-text is allowed). */
bool gw_header_value_ok(const char *s);

/*
 * The token cache: a bounded, lock-striped, set-associative table keyed by
 * token digest. An entry is served until min(put time + ttl_ms, the
 * token's expires_at), and only under the generation it was put with;
 * times are milliseconds since the epoch, passed in so tests can drive
 * the clock. *out is new (gw_cache_free()).
 */
enum status gw_cache_new(size_t entries, int64_t ttl_ms, int64_t poll_ms,
                         struct gw_cache **out);
void gw_cache_free(struct gw_cache *);
/*
 * The generation at now_ms for tokens of st (borrowed): it changes as
 * soon as a revocation through st has returned (store_revocations_local()),
 * and when st's revocation epoch (store_revocation_epoch(), read by one
 * caller at most every poll_ms, or if the clock stepped back) has changed
 * or cannot be read. Take it before reading the store, and put what was
 * read with it: a revocation in between then makes the entry stale.
 */
uint64_t gw_cache_gen(struct gw_cache *, struct store *st, int64_t now_ms);
/* True and *out filled if a live entry for digest, put under gen, exists
 * at now_ms. */
bool gw_cache_get(struct gw_cache *, const uint8_t digest[SEC_DIGEST_BYTES],
                  int64_t now_ms, uint64_t gen, struct gw_identity *out);
/* Stores id (copied) for digest at now_ms under gen, evicting, if the set
 * is full, an entry of another generation or else the one that would
 * expire first. */
void gw_cache_put(struct gw_cache *, const uint8_t digest[SEC_DIGEST_BYTES],
                  const struct gw_identity *id, int64_t now_ms, uint64_t gen);
/* Entries held (live or not yet overwritten). */
size_t gw_cache_count(struct gw_cache *);

/* Milliseconds since the epoch. */
int64_t gw_now_ms(void);

/* The upstream client: one curl multi handle driven by its own thread. */
enum status gw_proxy_new(struct gw_env *, struct gw_proxy **out, char *err,
                         size_t errlen);
void gw_proxy_abort(struct gw_proxy *);
void gw_proxy_free(struct gw_proxy *);

#endif
