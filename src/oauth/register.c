/*
 * Dynamic client registration: POST /oauth/register (RFC 7591) and the
 * client configuration endpoint /oauth/register/<client_id> (RFC 7592).
 *
 * [oauth] registration = open lets anyone register; = token asks for an
 * initial access token (RFC 7591 §3) made by `plugauth registration
 * token`. Every registration counts against a per-address rate limit and
 * [oauth] registration_max_clients; a registered client that never obtains
 * a token is swept after registration_unused_ttl (serve.c). The client
 * secret and the registration access token are returned once and kept as
 * digests. See docs/registration.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/ratelimit.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth_int.h"
#include "oauth/register_int.h"

#define MANAGE_PREFIX OAUTH_REGISTER_PATH "/"

/* What one request did, for the log line and the event. */
struct reg_ctx {
	const struct oauth_env *env;
	struct http_req *req;
	const char *error;  /* the error code answered, NULL if none */
	const char *why;    /* static */
	const char *reason; /* static reason code */
	char client_id[sizeof(((struct store_client *)0)->id)];
};

/* Answers an error; status 401 adds the Bearer challenge. */
static enum status
reg_fail(struct reg_ctx *x, unsigned status, const char *code,
         const char *reason, const char *why)
{
	enum status rc;

	x->error = code;
	x->reason = reason;
	x->why = why;
	if ((rc = oauth_cors_allow(x->req)) != ST_OK ||
	    (rc = http_resp_header(x->req, "Cache-Control", "no-store")) !=
	        ST_OK)
		return rc;
	if (status == 401 &&
	    (rc = http_resp_header(x->req, "WWW-Authenticate",
	                           "Bearer error=\"invalid_token\"")) != ST_OK)
		return rc;
	return http_respond_error(x->req, status, code, why);
}

/* The log line and the event of a finished request. */
static void
reg_record(const struct reg_ctx *x, const char *kind)
{
	char cbuf[80];
	struct oauth_event_rec r = {
	    .kind = kind,
	    .outcome = x->error != NULL ? x->error : "ok",
	    .reason = x->reason,
	    .client_id = x->client_id[0] != '\0' ? x->client_id : NULL,
	    .peer = http_req_peer(x->req),
	    .description = x->why,
	};

	if (x->error != NULL)
		log_info("event=%s_refused client=%s error=%s reason=%s "
		         "from=%s",
		         kind, log_safe(r.client_id, cbuf, sizeof(cbuf)),
		         x->error, x->reason != NULL ? x->reason : "-", r.peer);
	else
		log_info("event=%s client=%s from=%s", kind,
		         log_safe(r.client_id, cbuf, sizeof(cbuf)), r.peer);
	oauth_event(x->env->events, &r);
}

/* The digest of the Authorization: Bearer token; false if there is none
 * or it cannot be one of ours. */
static bool
bearer_digest(const struct http_req *req, uint8_t digest[SEC_DIGEST_BYTES])
{
	const char *h = http_req_header(req, "Authorization");
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	if (n == 0 || n >= SEC_TOKEN_STRLEN || strpbrk(h, " \t,") != NULL)
		return false;
	sec_digest(h, n, digest);
	return true;
}

/* True if the Content-Type is application/json (parameters ignored). */
static bool
is_json(const struct http_req *req)
{
	const char *ct = http_req_header(req, "Content-Type");

	return ct != NULL && strncasecmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* The body's metadata, checked; on error answered (and *m freed). */
static bool
read_meta(struct reg_ctx *x, struct reg_meta *m)
{
	enum reg_error e;

	if (!is_json(x->req)) {
		memset(m, 0, sizeof(*m));
		reg_fail(x, 400, "invalid_client_metadata", "content_type",
		         "Content-Type must be application/json");
		return false;
	}
	e = reg_meta_parse(http_req_body(x->req), x->env->cfg, m);
	if (e != REG_OK) {
		reg_fail(x, 400, reg_error_code(e), reg_error_code(e), m->why);
		reg_meta_free(m);
		return false;
	}
	return true;
}

/*
 * The client information response (RFC 7591 §3.2.1): the registered
 * metadata doc (taken) with client_id and the rest; secret and
 * registration token only at registration (NULL otherwise).
 */
static enum status
respond_info(struct reg_ctx *x, unsigned status, const struct store_client *c,
             json_t *doc, const char *secret, const char *reg_token)
{
	const char *iss = x->env->cfg->server.issuer;
	enum status rc;
	bool ok;

	if (doc == NULL)
		return ST_NOMEM;
	ok = json_object_set_new(doc, "client_id", json_string(c->id)) == 0 &&
	     json_object_set_new(doc, "client_id_issued_at",
	                         json_integer(c->created_at)) == 0 &&
	     json_object_set_new(
	         doc, "registration_client_uri",
	         json_sprintf("%s" MANAGE_PREFIX "%s", iss, c->id)) == 0;
	if (ok && !c->is_public)
		ok = json_object_set_new(doc, "client_secret_expires_at",
		                         json_integer(0)) == 0;
	if (ok && secret != NULL)
		ok = json_object_set_new(doc, "client_secret",
		                         json_string(secret)) == 0;
	if (ok && reg_token != NULL)
		ok = json_object_set_new(doc, "registration_access_token",
		                         json_string(reg_token)) == 0;
	if (!ok) {
		json_decref(doc);
		return ST_NOMEM;
	}
	if ((rc = oauth_cors_allow(x->req)) != ST_OK ||
	    (rc = http_resp_header(x->req, "Cache-Control", "no-store")) !=
	        ST_OK ||
	    (rc = http_resp_header(x->req, "Pragma", "no-cache")) != ST_OK) {
		json_decref(doc);
		return rc;
	}
	return http_respond_json(x->req, status, doc);
}

/* The rate limit and, in token mode, the initial access token; answers
 * and returns false on failure. *iat_set says whether iat was read. */
static bool
admit(struct reg_ctx *x, uint8_t iat[SEC_DIGEST_BYTES], bool *iat_set)
{
	const struct config *cfg = x->env->cfg;
	char key[80], after[16];
	unsigned retry = 0;
	enum status rc;

	*iat_set = false;
	auth_limiter_addr_key(http_req_peer(x->req), key, sizeof(key));
	if (!auth_limiter_take(x->env->lim_reg, key, clk_now_s(), &retry)) {
		snprintf(after, sizeof(after), "%u", retry);
		/* On failure the answer below goes out as a bare 500. */
		rc = http_resp_header(x->req, "Retry-After", after);
		(void)rc;
		reg_fail(x, 429, "invalid_request", "rate_limited",
		         "too many registrations from this address: see "
		         "Retry-After");
		return false;
	}
	if (strcmp(cfg->oauth.registration, "token") != 0)
		return true;
	if (!bearer_digest(x->req, iat)) {
		reg_fail(x, 401, "invalid_token", "no_initial_token",
		         "an initial access token is required "
		         "(Authorization: Bearer)");
		return false;
	}
	rc = store_reg_token_live(x->env->st, iat, clk_now_s());
	if (rc != ST_OK) {
		if (rc == ST_NOTFOUND)
			reg_fail(x, 401, "invalid_token", "bad_initial_token",
			         "the initial access token is unknown, expired "
			         "or used up");
		else
			reg_fail(x, 503, "temporarily_unavailable", "store",
			         "the store is unavailable");
		return false;
	}
	*iat_set = true;
	return true;
}

/* Stores the new client c; answers on failure. */
static bool
store_new(struct reg_ctx *x, const struct store_client *c, const uint8_t *iat)
{
	enum status rc;

	rc = store_client_register(x->env->st, c, iat,
	                           x->env->cfg->oauth.registration_max_clients,
	                           c->created_at);
	if (rc == ST_OK)
		return true;
	x->client_id[0] = '\0';
	if (rc == ST_DENIED)
		reg_fail(x, 401, "invalid_token", "bad_initial_token",
		         "the initial access token is unknown, expired or "
		         "used up");
	else if (rc == ST_TOOBIG)
		reg_fail(x, 400, "invalid_request", "too_many_clients",
		         "this server holds as many registered clients as it "
		         "may ([oauth] registration_max_clients)");
	else
		reg_fail(x, 503, "temporarily_unavailable", "store",
		         "could not store the client");
	return false;
}

enum status
oauth_register_handle(struct http_req *req, void *ctx)
{
	struct reg_ctx x = {.env = ctx, .req = req};
	struct store_client c;
	struct reg_meta m;
	uint8_t iat[SEC_DIGEST_BYTES];
	char secret[SEC_TOKEN_STRLEN] = "", reg_token[SEC_TOKEN_STRLEN] = "";
	bool iat_set;
	enum status rc = ST_OK;

	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	if (!admit(&x, iat, &iat_set) || !read_meta(&x, &m))
		goto out;
	sec_random_id(c.id);
	str_copy(x.client_id, sizeof(x.client_id), c.id);
	c.name = m.name[0] != '\0' ? m.name : c.id;
	c.is_public = m.is_public;
	c.redirect_uris = m.redirect_uris;
	c.scope = m.scope;
	c.grants = m.grants;
	c.created_at = clk_now_s();
	c.metadata = json_dumps(m.doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (c.metadata == NULL ||
	    (!c.is_public && sec_token_mint(SEC_PREFIX_SECRET, secret,
	                                    c.secret_digest) != ST_OK) ||
	    sec_token_mint(SEC_PREFIX_REGISTRATION, reg_token,
	                   c.registration_digest) != ST_OK) {
		rc = ST_NOMEM;
		goto out;
	}
	if (!store_new(&x, &c, iat_set ? iat : NULL))
		goto out;
	rc = respond_info(&x, 201, &c, json_incref(m.doc),
	                  c.is_public ? NULL : secret, reg_token);
out:
	reg_record(&x, "register");
	sec_wipe(secret, sizeof(secret));
	sec_wipe(reg_token, sizeof(reg_token));
	sec_wipe(iat, sizeof(iat));
	sec_wipe(c.secret_digest, sizeof(c.secret_digest));
	free(c.metadata);
	reg_meta_free(&m);
	return rc;
}

/* The registered client the request's path and registration access token
 * name (RFC 7592 §2: an unknown client, another's token and a missing one
 * all get 401). *out is new on true; answered on false. */
static bool
manage_client(struct reg_ctx *x, struct store_client **out)
{
	const char *id = http_req_path(x->req) + strlen(MANAGE_PREFIX);
	struct store_client *c = NULL;
	uint8_t d[SEC_DIGEST_BYTES];
	enum status rc;
	bool tok;

	*out = NULL;
	tok = bearer_digest(x->req, d);
	rc = store_client_get(x->env->st, id, &c);
	if (rc != ST_OK && rc != ST_NOTFOUND) {
		reg_fail(x, 503, "temporarily_unavailable", "store",
		         "the store is unavailable");
		return false;
	}
	if (!tok || c == NULL || c->origin != STORE_ORIGIN_REGISTERED ||
	    !sec_digest_eq(d, c->registration_digest)) {
		store_client_free(c);
		reg_fail(x, 401, "invalid_token", "bad_registration_token",
		         "the registration access token does not match this "
		         "client");
		return false;
	}
	str_copy(x->client_id, sizeof(x->client_id), c->id);
	*out = c;
	return true;
}

/* The client's stored metadata, new; NULL on error. */
static json_t *
stored_doc(const struct store_client *c)
{
	json_error_t jerr;

	return c->metadata != NULL ? json_loads(c->metadata, 0, &jerr)
	                           : json_object();
}

/* RFC 7592 §2.2: the body must name this client, keep its kind, and give
 * its secret right if it gives one. Answers and returns false if not. */
static bool
update_allowed(struct reg_ctx *x, const struct store_client *c,
               const struct reg_meta *m)
{
	json_error_t jerr;
	json_t *in = json_loadb(http_req_body(x->req).p,
	                        http_req_body(x->req).len, 0, &jerr);
	const char *id = json_string_value(json_object_get(in, "client_id"));
	const char *sec =
	    json_string_value(json_object_get(in, "client_secret"));
	uint8_t d[SEC_DIGEST_BYTES];
	const char *why = NULL;

	if (id == NULL || strcmp(id, c->id) != 0)
		why = "client_id must be this client's";
	else if (m->is_public != c->is_public)
		why = "token_endpoint_auth_method cannot change between none "
		      "and a secret";
	else if (sec != NULL) {
		sec_digest(sec, strlen(sec), d);
		if (c->is_public || !sec_digest_eq(d, c->secret_digest))
			why = "client_secret is not this client's";
	}
	json_decref(in);
	if (why != NULL)
		reg_fail(x, 400, "invalid_client_metadata", "update_refused",
		         why);
	return why == NULL;
}

/* PUT: replaces the metadata with the same checks as a registration. */
static enum status
manage_update(struct reg_ctx *x, struct store_client *c)
{
	struct reg_meta m;
	char *meta;
	enum status rc;

	if (!read_meta(x, &m))
		return ST_OK;
	if (!update_allowed(x, c, &m)) {
		reg_meta_free(&m);
		return ST_OK;
	}
	meta = json_dumps(m.doc, JSON_COMPACT | JSON_SORT_KEYS);
	free(c->name);
	free(c->redirect_uris);
	free(c->scope);
	free(c->metadata);
	c->name = strdup(m.name[0] != '\0' ? m.name : c->id);
	c->redirect_uris = m.redirect_uris;
	c->scope = m.scope;
	c->metadata = meta;
	c->grants = m.grants;
	m.redirect_uris = m.scope = NULL; /* now c's */
	if (c->name == NULL || meta == NULL)
		rc = ST_NOMEM;
	else
		rc = store_client_reregister(x->env->st, c);
	if (rc == ST_OK)
		rc = respond_info(x, 200, c, json_incref(m.doc), NULL, NULL);
	else if (rc == ST_NOTFOUND || rc == ST_STORE)
		rc = reg_fail(x, rc == ST_NOTFOUND ? 401 : 503,
		              rc == ST_NOTFOUND ? "invalid_token"
		                                : "temporarily_unavailable",
		              "update_failed",
		              "the client could not be updated");
	reg_meta_free(&m);
	return rc;
}

enum status
oauth_register_manage_handle(struct http_req *req, void *ctx)
{
	struct reg_ctx x = {.env = ctx, .req = req};
	const char *method = http_req_method(req);
	struct store_client *c = NULL;
	enum status rc = ST_OK;

	if (!manage_client(&x, &c))
		goto out;
	if (strcmp(method, "GET") == 0) {
		rc = respond_info(&x, 200, c, stored_doc(c), NULL, NULL);
	} else if (strcmp(method, "PUT") == 0) {
		rc = manage_update(&x, c);
	} else {
		/* DELETE (RFC 7592 §2.3): the client and all issued to it. */
		rc = store_client_remove(x.env->st, c->id);
		if (rc == ST_OK || rc == ST_NOTFOUND) {
			if ((rc = oauth_cors_allow(req)) == ST_OK)
				rc = http_respond_text(req, 204, NULL, "", 0);
		} else {
			rc = reg_fail(&x, 503, "temporarily_unavailable",
			              "store", "could not remove the client");
		}
	}
out:
	reg_record(&x, strcmp(method, "GET") == 0   ? "register_read"
	               : strcmp(method, "PUT") == 0 ? "register_update"
	                                            : "register_delete");
	store_client_free(c);
	return rc;
}

enum status
oauth_register_preflight(struct http_req *req, void *ctx)
{
	bool manage = strncmp(http_req_path(req), MANAGE_PREFIX,
	                      strlen(MANAGE_PREFIX)) == 0;
	enum status rc;

	(void)ctx;
	if ((rc = oauth_cors_allow(req)) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Allow-Methods",
	                           manage ? "GET, PUT, DELETE" : "POST")) !=
	        ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Allow-Headers",
	                           "Content-Type, Authorization")) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Max-Age", "600")) !=
	        ST_OK)
		return rc;
	return http_respond_text(req, 204, NULL, "", 0);
}
