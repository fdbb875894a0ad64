/*
 * The ChatGPT plugin manifest (/.well-known/ai-plugin.json) built from the
 * [plugin] configuration and checked against ChatGPT's limits, and the
 * handlers that serve it and the OpenAPI document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "plugin/plugin.h"
#include "plugin/plugin_int.h"

/* ChatGPT fetches the manifest when a plugin is installed and now and
 * then after; five minutes keeps edits visible soon. */
#define CACHE_CONTROL "public, max-age=300"
#define JSON_TYPE "application/json; charset=utf-8"
#define YAML_TYPE "application/yaml"
/* Longest URL derived from the issuer. */
#define URL_MAX_BYTES 2048
/* description_for_model_file: 8000 characters of up to 4 bytes, with
 * room for trailing whitespace. */
#define DESC_FILE_MAX_BYTES (64 * 1024)
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 64

/* True if s is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF); *chars gets its number of code points. */
static bool
utf8_count(const char *s, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t n = 0, more;

	while (*p != '\0') {
		if (*p < 0x80) {
			cp = *p;
			more = 0;
		} else if (*p >= 0xc2 && *p <= 0xdf) {
			cp = *p & 0x1f;
			more = 1;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			cp = *p & 0x0f;
			more = 2;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			cp = *p & 0x07;
			more = 3;
		} else
			return false;
		p++;
		/* The NUL terminator is no continuation byte: we stop. */
		for (size_t i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		if ((more == 2 && cp < 0x800) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		n++;
	}
	*chars = n;
	return true;
}

/* A text field: set, UTF-8, at most max characters. what names the key
 * ("[plugin] name_for_human"). */
static enum status
check_text(const char *what, const char *s, size_t max, char *err,
           size_t errlen)
{
	size_t n;

	if (s == NULL || s[0] == '\0') {
		str_errf(err, errlen, "%s: must be set", what);
		return ST_INVALID;
	}
	if (!utf8_count(s, &n)) {
		str_errf(err, errlen, "%s: must be valid UTF-8", what);
		return ST_INVALID;
	}
	if (n > max) {
		str_errf(err, errlen,
		         "%s: must be at most %zu characters (has %zu)", what,
		         max, n);
		return ST_INVALID;
	}
	return ST_OK;
}

/* docs/chatgpt.md: "letters and digits, no spaces, <= 50 chars". */
static enum status
check_name_for_model(const char *s, char *err, size_t errlen)
{
	char q[QUOTE_MAX];
	enum status rc;

	rc = check_text("[plugin] name_for_model", s, PLUG_NAME_FOR_MODEL_MAX,
	                err, errlen);
	if (rc != ST_OK)
		return rc;
	for (const char *p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			continue;
		str_errf(err, errlen,
		         "[plugin] name_for_model: must be ASCII letters and "
		         "digits only, no spaces (\"%s\")",
		         str_printable(q, QUOTE_MAX, s));
		return ST_INVALID;
	}
	return ST_OK;
}

/* An address ChatGPT will show: local@domain.tld, printable ASCII without
 * spaces or the characters that would need quoting (RFC 5322 §3.4.1). */
static bool
email_ok(const char *s)
{
	const char *at, *dom;
	size_t dlen;

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *p) != NULL)
			return false;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	dom = at + 1;
	dlen = strlen(dom);
	return dlen >= 3 && dom[0] != '.' && dom[dlen - 1] != '.' &&
	       strchr(dom, '.') != NULL && strstr(dom, "..") == NULL;
}

/* Absolute http(s) URL with a host, printable ASCII without spaces.
 * (cfg_load() checks the configured URLs more strictly; this also covers
 * the ones derived from the issuer and configs built by hand.) */
static bool
url_ok(const char *s)
{
	const char *host;

	if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (*host == '\0' || strchr("/?#:@", *host) != NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static enum status
check_url(const char *what, const char *s, char *err, size_t errlen)
{
	char q[QUOTE_MAX];

	if (s == NULL || !url_ok(s)) {
		str_errf(
		    err, errlen,
		    "%s: must be an absolute http:// or https:// URL (\"%s\")",
		    what, s == NULL ? "" : str_printable(q, QUOTE_MAX, s));
		return ST_INVALID;
	}
	return ST_OK;
}

/* url = issuer + path, checked. */
static enum status
issuer_url(const struct config *cfg, const char *path, char url[URL_MAX_BYTES],
           char *err, size_t errlen)
{
	int n;

	n = snprintf(url, URL_MAX_BYTES, "%s%s", cfg->server.issuer, path);
	if (n < 0 || (size_t)n >= URL_MAX_BYTES) {
		str_errf(err, errlen, "[server] issuer: too long for a URL");
		return ST_TOOBIG;
	}
	return check_url("[server] issuer", url, err, errlen);
}

/*
 * Reads the whole file at path, at most max bytes. *out is new
 * (NUL-terminated, free()) and *len its length, both set only on ST_OK.
 * ST_NOTFOUND if it cannot be opened and ST_INTERNAL if it cannot be
 * read (errno says why), ST_TOOBIG past max, ST_NOMEM.
 */
static enum status
file_read(const char *path, size_t max, char **out, size_t *len)
{
	struct buf b;
	FILE *fp;
	char chunk[8192], *p;
	size_t n;
	enum status rc = ST_OK;
	int saved;

	buf_init(&b, max);
	fp = fopen(path, "re");
	if (fp == NULL)
		return ST_NOTFOUND;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		rc = buf_add(&b, chunk, n); /* frees b on error */
		if (rc != ST_OK)
			goto out;
	}
	if (ferror(fp)) {
		rc = ST_INTERNAL;
		goto out;
	}
	n = b.len;
	p = buf_take(&b);
	if (p == NULL) {
		rc = ST_NOMEM;
		goto out;
	}
	*len = n;
	*out = p;
out:
	saved = errno;
	fclose(fp);
	errno = saved;
	buf_free(&b);
	return rc;
}

/* The message for a file_read() failure of the file named by key. */
static void
file_err(const char *key, const char *path, enum status rc, size_t max,
         char *err, size_t errlen)
{
	char q[QUOTE_MAX];

	if (rc == ST_TOOBIG)
		str_errf(err, errlen, "%s: %s is larger than %zu bytes", key,
		         str_printable(q, QUOTE_MAX, path), max);
	else if (rc == ST_NOMEM)
		str_errf(err, errlen, "out of memory");
	else
		str_errf(err, errlen, "%s: cannot read %s: %s", key,
		         str_printable(q, QUOTE_MAX, path), strerror(errno));
}

/* description_for_model: the file's text without trailing whitespace if
 * description_for_model_file is set, else the key. *out is new. */
static enum status
desc_for_model(const struct config *cfg, char **out, char *err, size_t errlen)
{
	static const char key[] = "[plugin] description_for_model_file";
	const char *path = cfg->plugin.description_for_model_file;
	char *text = NULL, what[128];
	size_t len = 0;
	enum status rc;
	int n;

	if (path == NULL) {
		rc = check_text("[plugin] description_for_model",
		                cfg->plugin.description_for_model,
		                PLUG_DESC_FOR_MODEL_MAX, err, errlen);
		if (rc != ST_OK)
			return rc;
		text = strdup(cfg->plugin.description_for_model);
		if (text == NULL) {
			str_errf(err, errlen, "out of memory");
			return ST_NOMEM;
		}
		*out = text;
		return ST_OK;
	}
	rc = file_read(path, DESC_FILE_MAX_BYTES, &text, &len);
	if (rc != ST_OK) {
		file_err(key, path, rc, DESC_FILE_MAX_BYTES, err, errlen);
		return rc;
	}
	if (strlen(text) != len) {
		str_errf(err, errlen, "%s: %s holds a NUL byte", key, path);
		rc = ST_INVALID;
		goto out;
	}
	while (len > 0 && strchr(" \t\r\n\v\f", text[len - 1]) != NULL)
		text[--len] = '\0';
	/* Name both keys: the limit is description_for_model's, the text
	 * comes from the file. */
	n = snprintf(what, sizeof(what), "%s (description_for_model)", key);
	if (n < 0 || (size_t)n >= sizeof(what)) {
		str_errf(err, errlen, "%s: message too long", key);
		rc = ST_INTERNAL;
		goto out;
	}
	rc = check_text(what, text, PLUG_DESC_FOR_MODEL_MAX, err, errlen);
	if (rc != ST_OK)
		goto out;
	*out = text;
	text = NULL;
out:
	free(text);
	return rc;
}

/* The configured value, or the default built from the issuer. */
#define OR(v, def) ((v) != NULL ? (v) : (def))

/* name_for_human: the key, else [service] name if it fits, else the
 * issuer's host (in buf), so that no default is another service's name. */
static const char *
name_for_human(const struct config *c, char *buf, size_t bufsz)
{
	size_t n;

	if (c->plugin.name_for_human != NULL)
		return c->plugin.name_for_human;
	if (c->service.name != NULL && utf8_count(c->service.name, &n) &&
	    n <= PLUG_NAME_FOR_HUMAN_MAX)
		return c->service.name;
	cfg_name_from_issuer(c->server.issuer, PLUG_NAME_FOR_HUMAN_MAX, buf,
	                     bufsz);
	return buf;
}

/* Every [plugin] key but description_for_model, which desc_for_model()
 * checks wherever it comes from; name is name_for_human(). */
static enum status
check_plugin(const struct config *c, const char *name, char *err, size_t errlen)
{
	const char *email = c->plugin.contact_email;
	char q[QUOTE_MAX];
	enum status rc;

	rc = check_text("[plugin] name_for_human", name,
	                PLUG_NAME_FOR_HUMAN_MAX, err, errlen);
	if (rc == ST_OK)
		rc =
		    check_name_for_model(c->plugin.name_for_model, err, errlen);
	if (rc == ST_OK)
		rc = check_text("[plugin] description_for_human",
		                c->plugin.description_for_human,
		                PLUG_DESC_FOR_HUMAN_MAX, err, errlen);
	if (rc == ST_OK && (email == NULL || !email_ok(email))) {
		str_errf(err, errlen,
		         "[plugin] contact_email: must be an email address "
		         "(\"%s\")",
		         email == NULL ? ""
		                       : str_printable(q, QUOTE_MAX, email));
		rc = ST_INVALID;
	}
	if (rc == ST_OK && c->plugin.logo_url != NULL)
		rc = check_url("[plugin] logo_url", c->plugin.logo_url, err,
		               errlen);
	if (rc == ST_OK && c->plugin.legal_info_url != NULL)
		rc = check_url("[plugin] legal_info_url",
		               c->plugin.legal_info_url, err, errlen);
	if (rc == ST_OK && c->plugin.openapi_url != NULL)
		rc = check_url("[plugin] openapi_url", c->plugin.openapi_url,
		               err, errlen);
	if (rc == ST_OK)
		rc = check_text("[plugin] authorization_content_type",
		                c->plugin.authorization_content_type, SIZE_MAX,
		                err, errlen);
	if (rc == ST_OK && c->plugin.verification_openai != NULL)
		rc = check_text("[plugin.verification_tokens] openai",
		                c->plugin.verification_openai, SIZE_MAX, err,
		                errlen);
	/* docs/chatgpt.md allows "" here, but the config requires a scope. */
	if (rc == ST_OK)
		rc = check_text("[oauth] default_scope", c->oauth.default_scope,
		                SIZE_MAX, err, errlen);
	return rc;
}

enum status
plug_manifest_build(const struct config *cfg, json_t **out, char *err,
                    size_t errlen)
{
	const struct config *c = cfg;
	char client_url[URL_MAX_BYTES], token_url[URL_MAX_BYTES];
	char api_url[URL_MAX_BYTES], logo_url[URL_MAX_BYTES];
	char legal_url[URL_MAX_BYTES], name_buf[64];
	const char *name = name_for_human(c, name_buf, sizeof(name_buf));
	char *desc = NULL;
	json_t *m;
	enum status rc;

	rc = issuer_url(c, "/oauth/authorize", client_url, err, errlen);
	if (rc == ST_OK)
		rc = issuer_url(c, "/oauth/token", token_url, err, errlen);
	if (rc == ST_OK)
		rc = issuer_url(c, "/openapi.yaml", api_url, err, errlen);
	/* ChatGPT requires logo_url and legal_info_url: when unset, point
	 * them at the issuer, where serve answers /logo.png with a built-in
	 * logo and /legal with a page saying no terms are published yet. */
	if (rc == ST_OK)
		rc = issuer_url(c, "/logo.png", logo_url, err, errlen);
	if (rc == ST_OK)
		rc = issuer_url(c, "/legal", legal_url, err, errlen);
	if (rc == ST_OK)
		rc = check_plugin(c, name, err, errlen);
	if (rc == ST_OK)
		rc = desc_for_model(c, &desc, err, errlen);
	if (rc != ST_OK)
		goto out;

	/* Keys in the order of OpenAI's own examples. s* leaves out the
	 * openai token when none is configured: verification_tokens is {}. */
	/* clang-format off */
	m = json_pack("{s:s, s:s, s:s, s:s, s:s,"
	    " s:{s:s, s:s, s:s, s:s, s:s, s:{s:s*}},"
	    " s:{s:s, s:s, s:b}, s:s, s:s, s:s}",
	    "schema_version", "v1",
	    "name_for_human", name,
	    "name_for_model", c->plugin.name_for_model,
	    "description_for_human", c->plugin.description_for_human,
	    "description_for_model", desc,
	    "auth",
		"type", "oauth",
		"client_url", client_url,
		"scope", c->oauth.default_scope,
		"authorization_url", token_url,
		"authorization_content_type",
		    c->plugin.authorization_content_type,
		"verification_tokens",
		    "openai", c->plugin.verification_openai,
	    "api",
		"type", "openapi",
		"url", OR(c->plugin.openapi_url, api_url),
		"has_user_authentication", 1,
	    "logo_url", OR(c->plugin.logo_url, logo_url),
	    "contact_email", c->plugin.contact_email,
	    "legal_info_url", OR(c->plugin.legal_info_url, legal_url));
	/* clang-format on */
	if (m == NULL) {
		str_errf(err, errlen, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	*out = m;
out:
	free(desc);
	return rc;
}

enum status
plug_manifest_text(const struct config *cfg, char **out, char *err,
                   size_t errlen)
{
	struct buf b;
	json_t *m = NULL;
	char *text = NULL, *p;
	enum status rc;

	rc = plug_manifest_build(cfg, &m, err, errlen);
	if (rc != ST_OK)
		return rc;
	buf_init(&b, SIZE_MAX);
	text = json_dumps(m, JSON_INDENT(2));
	if (text == NULL || buf_adds(&b, text) != ST_OK ||
	    buf_adds(&b, "\n") != ST_OK || (p = buf_take(&b)) == NULL) {
		str_errf(err, errlen, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	*out = p;
out:
	buf_free(&b);
	free(text);
	json_decref(m);
	return rc;
}

static bool
ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

enum status
plug_env_init(struct plug_env *env, const struct config *cfg, char *err,
              size_t errlen)
{
	static const char key[] = "[plugin] openapi_file";
	struct plug_env e;
	const char *path = cfg->plugin.openapi_file;
	enum status rc;

	memset(env, 0, sizeof(*env));
	memset(&e, 0, sizeof(e));
	rc = plug_manifest_text(cfg, &e.manifest, err, errlen);
	if (rc != ST_OK)
		goto out;
	e.manifest_len = strlen(e.manifest);
	e.logo = cfg->plugin.logo_url == NULL;
	e.legal = cfg->plugin.legal_info_url == NULL;
	if (path != NULL) {
		rc = file_read(path, PLUG_OPENAPI_MAX_BYTES, &e.openapi,
		               &e.openapi_len);
		if (rc != ST_OK) {
			file_err(key, path, rc, PLUG_OPENAPI_MAX_BYTES, err,
			         errlen);
			goto out;
		}
		if (e.openapi_len == 0) {
			str_errf(err, errlen, "%s: %s is empty", key, path);
			rc = ST_INVALID;
			goto out;
		}
		rc = plug_openapi_check(path, e.openapi, e.openapi_len, cfg,
		                        err, errlen);
		if (rc != ST_OK)
			goto out;
		e.openapi_type =
		    ends_with_ci(path, ".json") ? JSON_TYPE : YAML_TYPE;
	}
	*env = e;
	memset(&e, 0, sizeof(e));
out:
	plug_env_free(&e);
	return rc;
}

enum status
plug_env_demo_openapi(struct plug_env *env, const struct config *cfg, char *err,
                      size_t errlen)
{
	enum status rc;

	memset(env, 0, sizeof(*env));
	rc = plug_openapi_builtin(cfg, &env->openapi, &env->openapi_len);
	if (rc != ST_OK) {
		str_errf(err, errlen,
		         "cannot build the built-in OpenAPI document: %s",
		         status_str(rc));
		return rc;
	}
	env->openapi_type = YAML_TYPE;
	return ST_OK;
}

void
plug_env_free(struct plug_env *env)
{
	if (env == NULL)
		return;
	free(env->manifest);
	free(env->openapi);
	memset(env, 0, sizeof(*env));
}

enum status
plug_manifest_handle(struct http_req *req, void *ctx)
{
	const struct plug_env *env = ctx;
	enum status rc;

	rc = http_resp_header(req, "Cache-Control", CACHE_CONTROL);
	if (rc != ST_OK)
		return rc;
	return http_respond_text(req, 200, JSON_TYPE, env->manifest,
	                         env->manifest_len);
}

enum status
plug_openapi_handle(struct http_req *req, void *ctx)
{
	const struct plug_env *env = ctx;
	enum status rc;

	if (env->openapi == NULL)
		return http_respond_error(req, 404, "not_found",
		                          "no OpenAPI document: set [plugin] "
		                          "openapi_file");
	rc = http_resp_header(req, "Cache-Control", CACHE_CONTROL);
	if (rc != ST_OK)
		return rc;
	return http_respond_text(req, 200, env->openapi_type, env->openapi,
	                         env->openapi_len);
}
