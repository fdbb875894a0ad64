/*
 * Bearer-token validation (RFC 6750) and the answers to a failed check
 * (RFC 6750 §3, RFC 9728 §5.1), with the gateway's shared state.
 *
 * A token is looked up by its SHA-256 digest: first in the cache of tokens
 * found live in the last GW_CACHE_TTL_S seconds, then in the store. Only
 * live tokens are cached, an entry never outlives the token's expires_at,
 * and a revocation empties the cache: at once if made by this process,
 * within GW_REVOKE_POLL_MS if by another (see cache.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "gateway/gateway_int.h"
#include "oauth/jwt.h"
#include "oauth/oauth.h"

#define METADATA_PATH "/.well-known/oauth-protected-resource"

static const struct gw_verdict v_missing = {
    GW_MISSING, "missing_token",
    "an access token is required (Authorization: Bearer)", NULL};
static const struct gw_verdict v_malformed = {
    GW_INVALID, "malformed", "malformed Authorization: Bearer header", NULL};
static const struct gw_verdict v_unknown = {GW_INVALID, "unknown_token",
                                            "unknown access token", NULL};
static const struct gw_verdict v_not_access = {
    GW_INVALID, "not_access_token", "the token is not an access token", NULL};
static const struct gw_verdict v_revoked = {
    GW_INVALID, "revoked", "the access token was revoked", NULL};
static const struct gw_verdict v_expired = {GW_INVALID, "expired",
                                            "the access token expired", NULL};
static const struct gw_verdict v_audience = {
    GW_INVALID, "wrong_audience", "the access token is for another resource",
    NULL};
static const struct gw_verdict v_bad_identity = {
    GW_INVALID, "unusable_identity",
    "the access token's identity cannot be sent", NULL};
static const struct gw_verdict v_scope = {
    GW_INSUFFICIENT_SCOPE, "insufficient_scope",
    "the access token lacks the scope this API needs", NULL};
static const struct gw_verdict v_store = {GW_UNAVAILABLE, "store_unavailable",
                                          "storage unavailable", NULL};
static const struct gw_verdict v_bad_jwt = {
    GW_INVALID, "bad_jwt",
    "the access token's signature, key or header is not valid", NULL};
static const struct gw_verdict v_ok = {GW_OK, NULL, NULL, NULL};

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 * "+" / "/" ) *"=" */
static bool
b64token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '+' || c == '/';
}

enum gw_check
gw_bearer_parse(const char *hdr, struct str *tok)
{
	const char *p;
	size_t n = 0, pad = 0;

	if (hdr == NULL)
		return GW_MISSING;
	/* Another scheme (Basic, ...) is no bearer token at all (§3.1). */
	if (strncasecmp(hdr, "Bearer", 6) != 0 ||
	    (hdr[6] != ' ' && hdr[6] != '\0' && hdr[6] != '\t'))
		return GW_MISSING;
	if (hdr[6] != ' ')
		return GW_INVALID; /* "Bearer" alone */
	p = hdr + 7;
	while (b64token_char((unsigned char)p[n]))
		n++;
	while (p[n + pad] == '=')
		pad++;
	if (n == 0 || p[n + pad] != '\0' || n + pad > GW_TOKEN_MAX_BYTES)
		return GW_INVALID;
	tok->p = p;
	tok->len = n + pad;
	return GW_OK;
}

bool
gw_header_value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool
gw_scope_has(const struct gw_identity *id, const char *tok)
{
	return str_list_has(id->scope, tok, strlen(tok));
}

/* True if the token may be used here: it has no audience, or its audience
 * (RFC 8707) is the gateway, not another resource such as an MCP server
 * of [oauth] resources that checks its tokens itself. */
static bool
audience_ok(const struct gw_env *gw, const char *aud)
{
	if (aud == NULL || *aud == '\0')
		return true;
	return cfg_resource_is_gateway(gw->cfg, aud);
}

/* True if the identity's fields may go into the upstream's headers. */
static bool
identity_ok(const struct gw_identity *id)
{
	if (gw_header_value_ok(id->user) && gw_header_value_ok(id->client_id) &&
	    gw_header_value_ok(id->scope))
		return true;
	log_warn("event=gateway_identity_refused "
	         "reason=unsendable_or_too_long");
	return false;
}

/* Fills id from the token row and its user; v on failure. */
static void
check_store(struct gw_env *gw, const uint8_t digest[SEC_DIGEST_BYTES],
            int64_t now_ms, struct gw_identity *id, struct gw_verdict *v)
{
	struct store_token *t = NULL;
	struct store_user *u = NULL;
	enum status rc;

	rc = store_token_get(gw->st, digest, &t);
	if (rc != ST_OK) {
		*v = rc == ST_NOTFOUND ? v_unknown : v_store;
		goto out;
	}
	str_copy(id->client_id, sizeof(id->client_id), t->client_id);
	if (t->kind != STORE_TOKEN_ACCESS) {
		*v = v_not_access;
		goto out;
	}
	if (t->revoked_at != 0) {
		*v = v_revoked;
		goto out;
	}
	if (t->expires_at <= now_ms / 1000) {
		*v = v_expired;
		goto out;
	}
	if (!audience_ok(gw, t->audience)) {
		*v = v_audience;
		goto out;
	}
	if (t->user_id != 0) {
		rc = store_user_get_by_id(gw->st, t->user_id, &u);
		if (rc != ST_OK) {
			*v = rc == ST_NOTFOUND ? v_unknown : v_store;
			goto out;
		}
	}
	if (!str_copy(id->client_id, sizeof(id->client_id), t->client_id) ||
	    !str_copy(id->user, sizeof(id->user), u != NULL ? u->name : "") ||
	    !str_copy(id->scope, sizeof(id->scope),
	              t->scope != NULL ? t->scope : "") ||
	    !str_copy(id->audience, sizeof(id->audience),
	              t->audience != NULL ? t->audience : "") ||
	    !identity_ok(id)) {
		*v = v_bad_identity;
		goto out;
	}
	id->expires_at = t->expires_at;
	*v = v_ok;
out:
	store_user_free(u);
	store_token_free(t);
}

/*
 * A JWT access token (docs/jwt.md): its signature, claims and audience,
 * then, for one stored with its family, its row (check_store(), which
 * sees revocations); an unstored one (client_credentials) stands for
 * itself once oauth_jwt_check() has found its client live.
 */
static void
check_jwt(struct gw_env *gw, struct str tok, int64_t now_ms,
          struct gw_identity *id, struct gw_verdict *v)
{
	struct oauth_jwt_access a;

	switch (oauth_jwt_check(gw->jwt_keys, gw->st, gw->cfg->server.issuer,
	                        tok.p, tok.len, now_ms / 1000, &a)) {
	case OAUTH_JWT_OK:
		break;
	case OAUTH_JWT_EXPIRED:
		*v = v_expired;
		return;
	case OAUTH_JWT_REVOKED:
		*v = v_revoked;
		return;
	case OAUTH_JWT_UNKNOWN:
		*v = v_unknown;
		return;
	case OAUTH_JWT_STORE:
		*v = v_store;
		return;
	default:
		*v = v_bad_jwt;
		return;
	}
	str_copy(id->client_id, sizeof(id->client_id), a.client_id);
	if (!audience_ok(gw, a.aud)) {
		*v = v_audience;
		return;
	}
	if (a.stored) {
		check_store(gw, a.row_digest, now_ms, id, v);
		return;
	}
	if (!str_copy(id->scope, sizeof(id->scope), a.scope) ||
	    !str_copy(id->audience, sizeof(id->audience), a.aud) ||
	    !identity_ok(id)) {
		*v = v_bad_identity;
		return;
	}
	id->expires_at = a.exp;
	*v = v_ok;
}

void
gw_env_set_jwt_keys(struct gw_env *gw, struct oauth_jwt_keys *keys)
{
	gw->jwt_keys = keys;
}

void
gw_bearer_check_why(struct gw_env *gw, const struct http_req *req,
                    struct gw_identity *id, struct gw_verdict *v)
{
	uint8_t digest[SEC_DIGEST_BYTES];
	struct str tok;
	int64_t now_ms;
	uint64_t gen;

	memset(id, 0, sizeof(*id));
	switch (gw_bearer_parse(http_req_header(req, "Authorization"), &tok)) {
	case GW_OK:
		break;
	case GW_MISSING:
		*v = v_missing;
		return;
	default:
		*v = v_malformed;
		return;
	}
	sec_digest(tok.p, tok.len, digest);
	now_ms = gw_now_ms();
	gen = gw_cache_gen(gw->cache, gw->st, now_ms); /* before the read */
	if (gw_cache_get(gw->cache, digest, now_ms, gen, id)) {
		*v = v_ok;
		return;
	}
	if (gw->jwt_keys != NULL && jws_shaped(tok.p, tok.len))
		check_jwt(gw, tok, now_ms, id, v);
	else
		check_store(gw, digest, now_ms, id, v);
	if (v->check == GW_OK)
		gw_cache_put(gw->cache, digest, id, now_ms, gen);
}

void
gw_authorize(struct gw_env *gw, const struct http_req *req, bool routed,
             struct gw_identity *id, struct gw_verdict *v)
{
	const char *need = routed ? gw_route_need(gw, req) : gw->scope;
	const char *p, *e;

	gw_bearer_check_why(gw, req, id, v);
	if (v->check == GW_MISSING)
		v->need = need; /* the 401 names what to ask for */
	if (v->check != GW_OK || need == NULL)
		return;
	for (p = need;; p = e + 1) {
		e = p + strcspn(p, " ");
		if (e > p && !str_list_has(id->scope, p, (size_t)(e - p))) {
			*v = v_scope;
			v->need = need;
			return;
		}
		if (*e == '\0')
			return;
	}
}

const struct gw_identity *
gw_identify(struct gw_env *gw, struct http_req *req, bool routed,
            enum status *rc)
{
	struct gw_identity *id = http_req_stashed(req);
	struct gw_verdict v;

	*rc = ST_OK;
	if (id != NULL)
		return id;
	id = malloc(sizeof(*id));
	if (id == NULL) {
		*rc = ST_NOMEM;
		return NULL;
	}
	gw_authorize(gw, req, routed, id, &v);
	if (v.check != GW_OK) {
		*rc = gw_refuse(gw, req, id, &v);
		free(id);
		return NULL;
	}
	*rc = http_req_stash(req, id, free); /* takes id */
	return *rc == ST_OK ? id : NULL;
}

enum gw_check
gw_bearer_check(struct gw_env *gw, const struct http_req *req,
                struct gw_identity *out)
{
	struct gw_verdict v;

	gw_bearer_check_why(gw, req, out, &v);
	return v.check;
}

void
gw_event(struct gw_env *gw, const struct http_req *req,
         const struct gw_identity *id, const char *outcome, const char *reason)
{
	struct oauth_event_rec r;

	memset(&r, 0, sizeof(r));
	r.kind = "api";
	r.outcome = outcome;
	r.reason = reason;
	r.client_id =
	    id != NULL && id->client_id[0] != '\0' ? id->client_id : NULL;
	r.user = id != NULL && id->user[0] != '\0' ? id->user : NULL;
	r.peer = http_req_peer(req);
	oauth_event(gw->events, &r);
}

/* Appends s as the inside of an HTTP quoted-string (RFC 9110 §5.6.4). */
static enum status
quote_add(struct buf *b, const char *s)
{
	enum status rc = ST_OK;

	for (; *s != '\0' && rc == ST_OK; s++) {
		if (*s == '"' || *s == '\\')
			rc = buf_add(b, "\\", 1);
		if (rc == ST_OK)
			rc = buf_add(b, s, 1);
	}
	return rc;
}

/* WWW-Authenticate value for a verdict, need the scopes the request needs
 * (NULL if none): new (free()), NULL on ENOMEM. */
static char *
challenge(const struct gw_env *gw, enum gw_check c, const char *desc,
          const char *need)
{
	struct buf b;
	enum status rc;

	buf_init(&b, 8192);
	rc = buf_adds(&b, "Bearer ");
	if (rc == ST_OK && c == GW_INVALID) {
		if ((rc = buf_adds(&b, "error=\"invalid_token\", "
		                       "error_description=\"")) == ST_OK &&
		    (rc = quote_add(&b, desc)) == ST_OK)
			rc = buf_adds(&b, "\", ");
	} else if (rc == ST_OK && c == GW_INSUFFICIENT_SCOPE) {
		if ((rc = buf_adds(&b, "error=\"insufficient_scope\", "
		                       "scope=\"")) == ST_OK &&
		    (rc = quote_add(&b, need != NULL ? need : "")) == ST_OK)
			rc = buf_adds(&b, "\", ");
	}
	if (rc == ST_OK)
		rc = buf_adds(&b, "resource_metadata=\"");
	if (rc == ST_OK)
		rc = quote_add(&b, gw->metadata_url);
	if (rc == ST_OK)
		rc = buf_adds(&b, "\"");
	/* Tell a client what to ask for before it has a token (MCP). */
	if (rc == ST_OK && c == GW_MISSING && need != NULL &&
	    (rc = buf_adds(&b, ", scope=\"")) == ST_OK &&
	    (rc = quote_add(&b, need)) == ST_OK)
		rc = buf_adds(&b, "\"");
	if (rc != ST_OK)
		return NULL;
	return buf_take(&b);
}

/* Sets WWW-Authenticate: the prepared value ready if the request needs
 * just [gateway] scope, else one built for need. */
static enum status
challenge_set(struct gw_env *gw, struct http_req *req, enum gw_check c,
              const char *desc, const char *need, const char *ready)
{
	char *ch = NULL;
	enum status rc;

	if (ready == NULL || need != gw->scope) {
		ch = challenge(gw, c, desc, need);
		if (ch == NULL)
			return ST_NOMEM;
		ready = ch;
	}
	rc = http_resp_header(req, "WWW-Authenticate", ready);
	free(ch);
	return rc;
}

static enum status
respond(struct gw_env *gw, struct http_req *req, enum gw_check c,
        const char *desc, const char *need)
{
	enum status rc;

	switch (c) {
	case GW_MISSING:
		rc = challenge_set(gw, req, c, desc, need,
		                   gw->challenge_missing);
		if (rc != ST_OK)
			return rc;
		return http_respond_error(req, 401, "unauthorized", desc);
	case GW_INVALID:
		rc = challenge_set(gw, req, c, desc, need, NULL);
		if (rc != ST_OK)
			return rc;
		return http_respond_error(req, 401, "invalid_token", desc);
	case GW_INSUFFICIENT_SCOPE:
		rc = challenge_set(gw, req, c, desc, need, gw->challenge_scope);
		if (rc != ST_OK)
			return rc;
		return http_respond_error(req, 403, "insufficient_scope", desc);
	case GW_UNAVAILABLE:
		rc = http_resp_header(req, "Retry-After", "1");
		if (rc != ST_OK)
			return rc;
		return http_respond_error(req, 503, "temporarily_unavailable",
		                          desc);
	case GW_OK:
		break;
	}
	return ST_INVALID;
}

enum status
gw_respond_unauthorized(struct gw_env *gw, struct http_req *req,
                        enum gw_check c)
{
	switch (c) {
	case GW_MISSING:
		return respond(gw, req, c, v_missing.desc, gw->scope);
	case GW_INVALID:
		return respond(gw, req, c, "invalid access token", NULL);
	case GW_INSUFFICIENT_SCOPE:
		return respond(gw, req, c, v_scope.desc, gw->scope);
	case GW_UNAVAILABLE:
		return respond(gw, req, c, v_store.desc, NULL);
	case GW_OK:
		break;
	}
	return ST_INVALID;
}

static const char *
outcome_of(enum gw_check c)
{
	switch (c) {
	case GW_MISSING:
		return "unauthorized";
	case GW_INVALID:
		return "invalid_token";
	case GW_INSUFFICIENT_SCOPE:
		return "insufficient_scope";
	default:
		return "temporarily_unavailable";
	}
}

enum status
gw_refuse(struct gw_env *gw, struct http_req *req, const struct gw_identity *id,
          const struct gw_verdict *v)
{
	gw_event(gw, req, id, outcome_of(v->check), v->reason);
	return respond(gw, req, v->check, v->desc, v->need);
}

enum status
gw_env_new(const struct config *cfg, struct store *st,
           struct oauth_events *events, struct gw_env **out, char *err,
           size_t errlen)
{
	struct gw_env *gw;
	struct buf b;
	enum status rc;

	gw = calloc(1, sizeof(*gw));
	if (gw == NULL) {
		str_errf(err, errlen, "gateway: out of memory");
		return ST_NOMEM;
	}
	gw->cfg = cfg;
	gw->st = st;
	gw->events = events;
	gw->scope = cfg->gateway.scope;
	buf_init(&b, 8192);
	if ((rc = buf_adds(&b, cfg->server.issuer)) != ST_OK ||
	    (rc = buf_adds(&b, METADATA_PATH)) != ST_OK ||
	    (gw->metadata_url = buf_take(&b)) == NULL) {
		rc = ST_NOMEM;
		goto fail;
	}
	gw->challenge_missing = challenge(gw, GW_MISSING, NULL, gw->scope);
	gw->challenge_scope =
	    gw->scope == NULL
	        ? NULL
	        : challenge(gw, GW_INSUFFICIENT_SCOPE, NULL, gw->scope);
	if (gw->challenge_missing == NULL ||
	    (gw->scope != NULL && gw->challenge_scope == NULL)) {
		rc = ST_NOMEM;
		goto fail;
	}
	if ((rc = gw_routes_new(gw)) != ST_OK)
		goto fail;
	if (cfg->gateway.identity_secret_file != NULL &&
	    (rc = gw_id_key_load(cfg->gateway.identity_secret_file, &gw->id_key,
	                         &gw->id_keylen, err, errlen)) != ST_OK) {
		gw_env_free(gw);
		return rc;
	}
	rc = gw_cache_new(GW_CACHE_ENTRIES, GW_CACHE_TTL_S * 1000,
	                  GW_REVOKE_POLL_MS, &gw->cache);
	if (rc != ST_OK)
		goto fail;
	if (cfg->gateway.upstream != NULL) {
		rc = gw_proxy_new(gw, &gw->proxy, err, errlen);
		if (rc != ST_OK) {
			gw_env_free(gw);
			return rc;
		}
	}
	*out = gw;
	return ST_OK;
fail:
	str_errf(err, errlen, "gateway: %s", status_str(rc));
	gw_env_free(gw);
	return rc;
}

enum status
gw_env_drop_cookie(struct gw_env *gw, const char *name)
{
	for (size_t i = 0; i < GW_DROP_COOKIES_MAX; i++) {
		if (gw->drop_cookies[i] == NULL) {
			gw->drop_cookies[i] = name;
			return ST_OK;
		}
	}
	return ST_TOOBIG;
}

void
gw_env_abort(struct gw_env *gw)
{
	if (gw != NULL)
		gw_proxy_abort(gw->proxy);
}

void
gw_env_free(struct gw_env *gw)
{
	if (gw == NULL)
		return;
	gw_proxy_free(gw->proxy);
	gw_cache_free(gw->cache);
	free(gw->metadata_url);
	free(gw->challenge_missing);
	free(gw->challenge_scope);
	gw_routes_free(gw);
	if (gw->id_key != NULL)
		sec_wipe(gw->id_key, gw->id_keylen);
	free(gw->id_key);
	free(gw);
}
