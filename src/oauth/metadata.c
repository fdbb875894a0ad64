/*
 * Discovery: RFC 8414 authorization server metadata and RFC 9728 protected
 * resource metadata. Both documents depend on the configuration only, so
 * they are built once at start-up (oauth_env_init()) and served as text.
 *
 * The issuer is the configured one, byte for byte: clients compare it with
 * the URL they discovered it from (RFC 8414 §3.3) and with the iss of the
 * authorization response (RFC 9207). The documents live at the root
 * (/.well-known/...): for an issuer with a path, RFC 8414 §3.1 would insert
 * that path after the well-known name; plugauth's own routes are at the
 * root of its host, so a deployment with a path in the issuer maps that
 * URL in its reverse proxy. We are not an OpenID provider, but MCP clients
 * try OpenID Connect discovery too, so /.well-known/openid-configuration
 * serves the same RFC 8414 document (no OpenID scopes or ID token fields).
 *
 * The protected resource is the API behind the gateway on the same host
 * ([gateway] path), and plugauth is its only authorization server, so its
 * resource identifier is the issuer as well.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "oauth/cimd.h"
#include "oauth/oauth_int.h"

/* RFC 9728 §3: the well-known name of protected-resource metadata. */
#define PR_WELL_KNOWN "/.well-known/oauth-protected-resource"

/* The documents are public and change only with the configuration. */
#define METADATA_CACHE_CONTROL "public, max-age=300"

static const char *const response_types[] = {"code", NULL};
static const char *const response_modes[] = {"query", NULL};
static const char *const grant_types[] = {"authorization_code", "refresh_token",
                                          "client_credentials", NULL};
static const char *const pkce_methods[] = {"S256", NULL};
/* Token and revocation: Basic or body (confidential), or a public client
 * naming itself by client_id. */
static const char *const auth_methods[] = {"client_secret_basic",
                                           "client_secret_post", "none", NULL};
/* Introspection: confidential clients only (see introspect.c). */
static const char *const introspect_auth_methods[] = {
    "client_secret_basic", "client_secret_post", NULL};
static const char *const bearer_methods[] = {"header", NULL};

/* A JSON array of the NULL-terminated list v; NULL on ENOMEM. */
static json_t *
array_of(const char *const *v)
{
	json_t *a;

	if ((a = json_array()) == NULL)
		return NULL;
	for (; *v != NULL; v++) {
		if (json_array_append_new(a, json_string(*v)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The space-separated scope list as a JSON array; NULL on ENOMEM. */
static json_t *
scopes_of(const char *list)
{
	const char *p = list, *end;
	json_t *a;

	if ((a = json_array()) == NULL)
		return NULL;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		end = p;
		while (*end != '\0' && *end != ' ')
			end++;
		if (end > p &&
		    json_array_append_new(
		        a, json_stringn(p, (size_t)(end - p))) != 0) {
			json_decref(a);
			return NULL;
		}
		p = end;
	}
	return a;
}

/* Sets o[key] = v (taken); false (v freed) if v is NULL or on ENOMEM. */
static bool
set(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0;
}

/* Sets o[key] = issuer + path. */
static bool
set_endpoint(json_t *o, const char *key, const char *issuer, const char *path)
{
	return set(o, key, json_sprintf("%s%s", issuer, path));
}

/* RFC 8414 §2. */
static json_t *
as_metadata(const struct config *cfg)
{
	const char *iss = cfg->server.issuer;
	json_t *o;
	bool ok;

	if ((o = json_object()) == NULL)
		return NULL;
	ok = set(o, "issuer", json_string(iss)) &&
	     set_endpoint(o, "authorization_endpoint", iss,
	                  "/oauth/authorize") &&
	     set_endpoint(o, "token_endpoint", iss, "/oauth/token") &&
	     set_endpoint(o, "revocation_endpoint", iss, "/oauth/revoke") &&
	     set_endpoint(o, "introspection_endpoint", iss,
	                  "/oauth/introspect") &&
	     set_endpoint(o, "jwks_uri", iss, OAUTH_JWKS_PATH) &&
	     set(o, "scopes_supported", scopes_of(cfg->oauth.scopes)) &&
	     set(o, "response_types_supported", array_of(response_types)) &&
	     set(o, "response_modes_supported", array_of(response_modes)) &&
	     set(o, "grant_types_supported", array_of(grant_types)) &&
	     set(o, "code_challenge_methods_supported",
	         array_of(pkce_methods)) &&
	     set(o, "token_endpoint_auth_methods_supported",
	         array_of(auth_methods)) &&
	     set(o, "revocation_endpoint_auth_methods_supported",
	         array_of(auth_methods)) &&
	     set(o, "introspection_endpoint_auth_methods_supported",
	         array_of(introspect_auth_methods)) &&
	     set(o, "authorization_response_iss_parameter_supported",
	         json_true());
	/* RFC 7591: advertised only when registration is on. */
	if (ok && strcmp(cfg->oauth.registration, "closed") != 0)
		ok = set_endpoint(o, "registration_endpoint", iss,
		                  OAUTH_REGISTER_PATH);
	if (ok && cimd_enabled(cfg))
		ok = set(o, "client_id_metadata_document_supported",
		         json_true());
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* RFC 9728 §2, for the resource identifier resource. */
static json_t *
pr_metadata(const struct config *cfg, const char *resource)
{
	const char *iss = cfg->server.issuer;
	char name[256];

	/* "o" takes its value, also when json_pack() fails. */
	return json_pack("{s:s, s:[s], s:o, s:o, s:s}", "resource", resource,
	                 "authorization_servers", iss, "scopes_supported",
	                 scopes_of(cfg->oauth.scopes),
	                 "bearer_methods_supported", array_of(bearer_methods),
	                 "resource_name",
	                 cfg_service_name(cfg, name, sizeof(name)));
}

/* Takes o: its compact text, new (free()); NULL on ENOMEM. */
static char *
dump(json_t *o)
{
	char *s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Sets *out to a + b[blen] (new), or NULL on ENOMEM. */
static char *
join(const char *a, const char *b, size_t blen)
{
	struct buf s;

	buf_init(&s, 4096);
	if (buf_adds(&s, a) != ST_OK || buf_add(&s, b, blen) != ST_OK) {
		buf_free(&s);
		return NULL;
	}
	return buf_take(&s);
}

enum status
oauth_metadata_build(struct oauth_env *env)
{
	const struct config *cfg = env->cfg;
	const char *path = cfg->gateway.path; /* "/api/" */
	char *gw;

	/* The gateway's resource: the issuer and [gateway] path; its
	 * metadata lives at the well-known name with that path inserted
	 * (RFC 9728 §3.1), which ends without the '/'. */
	gw = join(cfg->server.issuer, path, strlen(path));
	env->as_metadata = dump(as_metadata(cfg));
	env->pr_metadata = dump(pr_metadata(cfg, cfg->server.issuer));
	env->pr_gw_metadata = gw == NULL ? NULL : dump(pr_metadata(cfg, gw));
	env->pr_gw_path = join(PR_WELL_KNOWN, path, strlen(path) - 1);
	free(gw);
	if (env->as_metadata == NULL || env->pr_metadata == NULL ||
	    env->pr_gw_metadata == NULL || env->pr_gw_path == NULL)
		return ST_NOMEM;
	return ST_OK;
}

/* Answers a prebuilt public document. Readable from any origin: browser
 * based MCP clients fetch it cross-origin, and it holds nothing secret. */
static enum status
respond_doc(struct http_req *req, const char *doc)
{
	enum status rc;

	if (doc == NULL)
		return ST_INTERNAL;
	if ((rc = http_resp_header(req, "Cache-Control",
	                           METADATA_CACHE_CONTROL)) != ST_OK ||
	    (rc = http_resp_header(req, "Access-Control-Allow-Origin", "*")) !=
	        ST_OK)
		return rc;
	return http_respond_text(req, 200, "application/json; charset=utf-8",
	                         doc, strlen(doc));
}

enum status
oauth_metadata_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;

	return respond_doc(req, env->as_metadata);
}

enum status
oauth_jwks_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	char *doc = NULL;
	enum status rc;

	if ((rc = oauth_jwt_jwks(env->jwt_keys, &doc)) != ST_OK)
		return rc;
	rc = respond_doc(req, doc);
	free(doc);
	return rc;
}

enum status
oauth_resource_metadata_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;

	return respond_doc(req, env->pr_metadata);
}

enum status
oauth_resource_metadata_gw_handle(struct http_req *req, void *ctx)
{
	const struct oauth_env *env = ctx;
	const char *rest = http_req_path(req) + strlen(env->pr_gw_path);

	/* The gateway's path and any path under it (an MCP server at
	 * /api/mcp), not a longer name ("/apix"). */
	if (*rest != '\0' && *rest != '/')
		return http_respond_error(req, 404, "not_found", NULL);
	return respond_doc(req, env->pr_gw_metadata);
}
