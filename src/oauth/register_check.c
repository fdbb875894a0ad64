/*
 * The checks of a dynamic registration request (RFC 7591 §2, RFC 8252):
 * every field plugauth keeps is typed, length-capped and validated; the
 * rest is ignored. No HTTP and no store here, so the fuzz harness can call
 * reg_meta_parse() directly.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "oauth/oauth_int.h"
#include "oauth/register_int.h"

/* Optional string fields kept as they are, with their ceilings. */
static const struct {
	const char *name;
	size_t max;
	bool uri;
} text_fields[] = {
    {"client_uri", REG_URI_MAX_BYTES, true},
    {"logo_uri", REG_URI_MAX_BYTES, true},
    {"tos_uri", REG_URI_MAX_BYTES, true},
    {"policy_uri", REG_URI_MAX_BYTES, true},
    {"software_id", REG_NAME_MAX_BYTES, false},
    {"software_version", REG_NAME_MAX_BYTES, false},
};

const char *
reg_error_code(enum reg_error e)
{
	return e == REG_INVALID_REDIRECT_URI ? "invalid_redirect_uri"
	                                     : "invalid_client_metadata";
}

/* Well-formed UTF-8 without control or invisible formatting characters
 * (C0, DEL, C1, zero-width and direction marks, line separators, bidi
 * embeddings and isolates, word joiners, BOM): what a consent page may
 * show. */
static bool
text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!str_utf8_ok((struct str){s, len}))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return false; /* U+0080..U+009F */
		if (p[i] == 0xe2 && i + 2 < len &&
		    ((p[i + 1] == 0x80 &&
		      ((p[i + 2] >= 0x8b && p[i + 2] <= 0x8f) ||
		       (p[i + 2] >= 0xa8 && p[i + 2] <= 0xae))) ||
		     (p[i + 1] == 0x81 && p[i + 2] >= 0xa0 &&
		      p[i + 2] <= 0xaf)))
			return false; /* U+200B..F, U+2028..E, U+2060..F */
		if (p[i] == 0xef && i + 2 < len && p[i + 1] == 0xbb &&
		    p[i + 2] == 0xbf)
			return false; /* U+FEFF */
	}
	return true;
}

/* RFC 8252 §7.1: "com.example.app:/cb": a scheme with a dot. */
static bool
private_scheme_ok(const char *uri)
{
	size_t n = strspn(uri, "abcdefghijklmnopqrstuvwxyz"
	                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	if (n == 0 || uri[n] != ':' || memchr(uri, '.', n) == NULL ||
	    !((uri[0] >= 'a' && uri[0] <= 'z') ||
	      (uri[0] >= 'A' && uri[0] <= 'Z')) ||
	    uri[n - 1] == '.' || uri[n + 1] == '\0')
		return false;
	for (const char *p = uri + n + 1; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#' || *p == '\\')
			return false;
	return true;
}

bool
reg_redirect_ok(const char *uri)
{
	size_t n = strlen(uri);
	bool https;

	if (n == 0 || n > REG_URI_MAX_BYTES)
		return false;
	if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0)
		return cfg_url_plain(uri, &https) &&
		       (https || cfg_url_is_loopback(uri));
	/* Other spellings of http(s) are not private-use schemes. */
	if (strncasecmp(uri, "http", 4) == 0)
		return false;
	return private_scheme_ok(uri);
}

/* The string at o[key] into *out (borrowed), NULL if absent; false (why
 * set) if it is not a string of 1 to max bytes of showable text. */
static bool
get_text(json_t *o, const char *key, size_t max, const char **out,
         struct reg_meta *m)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max ||
	    !text_ok(json_string_value(v), json_string_length(v))) {
		m->why = "a metadata field has the wrong type, is empty, too "
		         "long, or holds control characters";
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* redirect_uris into m (newline-separated) and doc. */
static enum reg_error
parse_redirects(json_t *in, struct reg_meta *m)
{
	json_t *a = json_object_get(in, "redirect_uris"), *v, *out;
	struct buf b;
	size_t i;

	if (a == NULL)
		return REG_OK;
	if (!json_is_array(a) || json_array_size(a) > REG_REDIRECTS_MAX) {
		m->why = "redirect_uris must be an array of at most 10 URIs";
		return REG_INVALID_REDIRECT_URI;
	}
	if ((out = json_array()) == NULL ||
	    json_object_set_new(m->doc, "redirect_uris", out) != 0)
		goto nomem;
	buf_init(&b, REG_REDIRECTS_MAX * (REG_URI_MAX_BYTES + 1) + 1);
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    !reg_redirect_ok(json_string_value(v))) {
			buf_free(&b);
			m->why =
			    "each redirect URI must be https, http on a "
			    "loopback host, or a private-use scheme with a "
			    "dot, without fragment or userinfo, at most "
			    "512 bytes";
			return REG_INVALID_REDIRECT_URI;
		}
		if ((i > 0 && buf_adds(&b, "\n") != ST_OK) ||
		    buf_adds(&b, json_string_value(v)) != ST_OK ||
		    json_array_append(out, v) != 0)
			goto nomem_buf;
	}
	if ((m->redirect_uris = buf_take(&b)) == NULL)
		goto nomem;
	return REG_OK;
nomem_buf:
	buf_free(&b);
nomem:
	m->why = "out of memory";
	return REG_INVALID_CLIENT_METADATA;
}

/* The names in the array o[key] (absent: dflt) as bits of names[]; false
 * (why set) for a non-array, a non-string or a name not in names. */
static bool
get_names(json_t *o, const char *key, const char *const *names, unsigned dflt,
          unsigned *bits, struct reg_meta *m)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i, k;

	*bits = 0;
	if (a == NULL) {
		*bits = dflt;
		return true;
	}
	if (!json_is_array(a) || json_array_size(a) > 8)
		goto bad;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			goto bad;
		for (k = 0; names[k] != NULL; k++)
			if (strcmp(json_string_value(v), names[k]) == 0)
				break;
		if (names[k] == NULL)
			goto bad;
		*bits |= 1u << k;
	}
	return true;
bad:
	m->why = "grant_types and response_types must be arrays of supported "
	         "values: authorization_code, refresh_token, "
	         "client_credentials; code";
	return false;
}

/* A JSON array of the names whose bits are set. */
static json_t *
names_json(const char *const *names, unsigned bits)
{
	json_t *a = json_array();

	for (size_t k = 0; a != NULL && names[k] != NULL; k++)
		if ((bits & (1u << k)) != 0 &&
		    json_array_append_new(a, json_string(names[k])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* token_endpoint_auth_method, grant_types, response_types: consistent. */
static enum reg_error
parse_grants(json_t *in, struct reg_meta *m)
{
	/* Bit k of the masks is names[k]: STORE_GRANT_* order. */
	static const char *const grants[] = {
	    "authorization_code", "refresh_token", "client_credentials", NULL};
	static const char *const rtypes[] = {"code", NULL};
	static const char *const methods[] = {
	    "client_secret_basic", "client_secret_post", "none", NULL};
	unsigned g, r, meth;
	const char *method;

	_Static_assert(STORE_GRANT_CODE == 1 && STORE_GRANT_REFRESH == 2 &&
	                   STORE_GRANT_CLIENT_CREDENTIALS == 4,
	               "grants[] follows the STORE_GRANT_* bits");
	if (!get_names(in, "grant_types", grants, STORE_GRANTS_DEFAULT, &g, m))
		return REG_INVALID_CLIENT_METADATA;
	if (!get_names(in, "response_types", rtypes,
	               (g & STORE_GRANT_CODE) != 0 ? 1u : 0u, &r, m))
		return REG_INVALID_CLIENT_METADATA;
	if (!get_text(in, "token_endpoint_auth_method", 32, &method, m))
		return REG_INVALID_CLIENT_METADATA;
	if (method == NULL)
		method = "client_secret_basic"; /* RFC 7591 §2 */
	for (meth = 0; methods[meth] != NULL; meth++)
		if (strcmp(method, methods[meth]) == 0)
			break;
	if (methods[meth] == NULL) {
		m->why = "token_endpoint_auth_method must be "
		         "client_secret_basic, client_secret_post or none";
		return REG_INVALID_CLIENT_METADATA;
	}
	m->is_public = strcmp(method, "none") == 0;
	if (g == 0 || ((g & STORE_GRANT_CODE) != 0) != (r != 0) ||
	    ((g & STORE_GRANT_REFRESH) != 0 && (g & STORE_GRANT_CODE) == 0)) {
		m->why = "response_types must hold code exactly when "
		         "grant_types holds authorization_code, and "
		         "refresh_token needs authorization_code";
		return REG_INVALID_CLIENT_METADATA;
	}
	if (m->is_public && (g & STORE_GRANT_CLIENT_CREDENTIALS) != 0) {
		m->why = "client_credentials needs a confidential client "
		         "(token_endpoint_auth_method not none)";
		return REG_INVALID_CLIENT_METADATA;
	}
	m->grants = g;
	if (json_object_set_new(m->doc, "grant_types", names_json(grants, g)) !=
	        0 ||
	    json_object_set_new(m->doc, "response_types",
	                        names_json(rtypes, r)) != 0 ||
	    json_object_set_new(m->doc, "token_endpoint_auth_method",
	                        json_string(method)) != 0) {
		m->why = "out of memory";
		return REG_INVALID_CLIENT_METADATA;
	}
	return REG_OK;
}

/* scope: every scope-token known to the server; absent: every scope. */
static enum reg_error
parse_scope(json_t *in, const struct config *cfg, struct reg_meta *m)
{
	const char *scope, *why = NULL;
	json_t *v = json_object_get(in, "scope");

	/* An empty scope, as some clients send, names none: as if absent. */
	if (json_is_string(v) && json_string_length(v) == 0)
		scope = NULL;
	else if (!get_text(in, "scope", REG_SCOPE_MAX_BYTES, &scope, m))
		return REG_INVALID_CLIENT_METADATA;
	if (scope == NULL) {
		m->scope = strdup("");
	} else {
		if (oauth_scope_resolve(scope, cfg->oauth.scopes,
		                        cfg->oauth.default_scope, "", &m->scope,
		                        &why) != OAUTH_OK) {
			m->why =
			    "scope names a scope this server does not know";
			return REG_INVALID_CLIENT_METADATA;
		}
		if (json_object_set_new(m->doc, "scope",
		                        json_string(m->scope)) != 0)
			m->why = "out of memory";
	}
	if (m->scope == NULL)
		m->why = "out of memory";
	return m->why == NULL ? REG_OK : REG_INVALID_CLIENT_METADATA;
}

/* client_name, the URIs and strings of text_fields[], contacts. */
static enum reg_error
parse_texts(json_t *in, struct reg_meta *m)
{
	json_t *a, *v;
	const char *s;
	bool https;
	size_t i;

	if (!get_text(in, "client_name", REG_NAME_MAX_BYTES, &s, m))
		return REG_INVALID_CLIENT_METADATA;
	if ((m->name = strdup(s != NULL ? s : "")) == NULL ||
	    (s != NULL &&
	     json_object_set_new(m->doc, "client_name", json_string(s)) != 0))
		goto nomem;
	for (i = 0; i < ARRAY_LEN(text_fields); i++) {
		if (!get_text(in, text_fields[i].name, text_fields[i].max, &s,
		              m))
			return REG_INVALID_CLIENT_METADATA;
		if (s != NULL && text_fields[i].uri &&
		    (!cfg_url_plain(s, &https) ||
		     (!https && !cfg_url_is_loopback(s)))) {
			m->why = "client_uri, logo_uri, tos_uri and policy_uri "
			         "must be https URLs without fragment";
			return REG_INVALID_CLIENT_METADATA;
		}
		if (s != NULL &&
		    json_object_set_new(m->doc, text_fields[i].name,
		                        json_string(s)) != 0)
			goto nomem;
	}
	a = json_object_get(in, "contacts");
	if (a == NULL)
		return REG_OK;
	if (!json_is_array(a) || json_array_size(a) > REG_CONTACTS_MAX)
		goto bad;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > REG_NAME_MAX_BYTES ||
		    !text_ok(json_string_value(v), json_string_length(v)))
			goto bad;
	}
	if (json_object_set(m->doc, "contacts", a) != 0)
		goto nomem;
	return REG_OK;
bad:
	m->why = "contacts must be an array of at most 5 short strings";
	return REG_INVALID_CLIENT_METADATA;
nomem:
	m->why = "out of memory";
	return REG_INVALID_CLIENT_METADATA;
}

enum reg_error
reg_meta_parse(struct str body, const struct config *cfg, struct reg_meta *m)
{
	json_error_t jerr;
	json_t *in = NULL;
	enum reg_error e;

	memset(m, 0, sizeof(*m));
	if (oauth_json_depth(body, REG_JSON_DEPTH_MAX) > REG_JSON_DEPTH_MAX ||
	    (in = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES,
	                     &jerr)) == NULL ||
	    !json_is_object(in)) {
		m->why = "the body must be one JSON object (no repeated keys, "
		         "not nested deeper than 4)";
		e = REG_INVALID_CLIENT_METADATA;
		goto out;
	}
	if ((m->doc = json_object()) == NULL) {
		m->why = "out of memory";
		e = REG_INVALID_CLIENT_METADATA;
		goto out;
	}
	if ((e = parse_grants(in, m)) != REG_OK ||
	    (e = parse_redirects(in, m)) != REG_OK ||
	    (e = parse_scope(in, cfg, m)) != REG_OK ||
	    (e = parse_texts(in, m)) != REG_OK)
		goto out;
	if ((m->grants & STORE_GRANT_CODE) != 0 &&
	    (m->redirect_uris == NULL || m->redirect_uris[0] == '\0')) {
		m->why = "redirect_uris is required for authorization_code";
		e = REG_INVALID_REDIRECT_URI;
		goto out;
	}
	if (m->redirect_uris == NULL &&
	    (m->redirect_uris = strdup("")) == NULL) {
		m->why = "out of memory";
		e = REG_INVALID_CLIENT_METADATA;
	}
out:
	json_decref(in);
	return e;
}

void
reg_meta_free(struct reg_meta *m)
{
	json_decref(m->doc);
	free(m->name);
	free(m->redirect_uris);
	free(m->scope);
	memset(m, 0, sizeof(*m));
}
