/*
 * Configuration: one table of keys drives defaults, the INI file (libinih),
 * PLUGAUTH_<SECTION>_<KEY> environment overrides, validation, rendering and
 * freeing. Adding a key is one row in keys[] and one field in struct config.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "core/config.h"
#include "core/str.h"

enum cfg_type {
	CFG_STR,  /* any text */
	CFG_UINT, /* decimal, min..max */
	CFG_ENUM, /* one of choices */
	CFG_URL,  /* absolute http(s) URL */
};

#define CFG_SECRET 0x1   /* never echoed; wiped on free */
#define CFG_OPTIONAL 0x2 /* NULL default; empty value unsets */
#define CFG_NOSLASH 0x4  /* trailing '/' stripped */

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	const char *def;            /* as file text; NULL if optional */
	unsigned min, max;          /* CFG_UINT */
	const char *const *choices; /* CFG_ENUM, NULL-terminated */
	unsigned flags;
	size_t off;          /* offsetof(struct config, ...) */
	const char *help;    /* comment written by cfg_render() */
	const char *example; /* optional keys: shown commented */
};

#define OFF(f) offsetof(struct config, f)

static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};
static const char *const registrations[] = {"closed", "open", NULL};
static const char *const content_types[] = {
    "application/json", "application/x-www-form-urlencoded", NULL};

static const struct cfg_key keys[] = {
    {"server", "listen", CFG_STR, "127.0.0.1:8080", 0, 0, NULL, 0,
     OFF(server.listen), "host:port to listen on, IPv6 as [::1]:8080", NULL},
    {"server", "issuer", CFG_URL, "http://127.0.0.1:8080", 0, 0, NULL,
     CFG_NOSLASH, OFF(server.issuer),
     "public base URL; https required unless the host is loopback", NULL},
    {"server", "threads", CFG_UINT, "0", 0, 256, NULL, 0, OFF(server.threads),
     "worker threads, 0 = one per core", NULL},
    {"server", "tls_cert", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.tls_cert), "PEM certificate chain (needs tls_key)",
     "/etc/plugauth/cert.pem"},
    {"server", "tls_key", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.tls_key), "PEM private key (needs tls_cert)",
     "/etc/plugauth/key.pem"},
    {"server", "body_max_bytes", CFG_UINT, "65536", 1024, 16777216, NULL, 0,
     OFF(server.body_max_bytes), "largest request body accepted", NULL},
    {"server", "connection_limit", CFG_UINT, "1024", 1, 65536, NULL, 0,
     OFF(server.connection_limit), "most concurrent connections", NULL},
    {"server", "connection_timeout", CFG_UINT, "30", 1, 3600, NULL, 0,
     OFF(server.connection_timeout), "idle connection timeout, seconds", NULL},
    {"server", "per_address_connections", CFG_UINT, "256", 0, 65536, NULL, 0,
     OFF(server.per_address_connections),
     "most concurrent connections from one address, 0 = no cap "
     "(raise it behind a reverse proxy)", NULL},
    {"server", "header_max_bytes", CFG_UINT, "16384", 1024, 1048576, NULL, 0,
     OFF(server.header_max_bytes),
     "largest request header block (431 past it)", NULL},
    {"server", "header_max_count", CFG_UINT, "100", 8, 10000, NULL, 0,
     OFF(server.header_max_count), "most request headers (431 past it)",
     NULL},
    {"server", "url_max_bytes", CFG_UINT, "8192", 256, 1048576, NULL, 0,
     OFF(server.url_max_bytes), "longest request URL (414 past it)", NULL},
    {"server", "params_max", CFG_UINT, "32", 8, 1000, NULL, 0,
     OFF(server.params_max),
     "most parameters in a token, revocation or introspection request",
     NULL},
    {"server", "json_max_depth", CFG_UINT, "32", 1, 1000, NULL, 0,
     OFF(server.json_max_depth), "deepest JSON nesting in a request body",
     NULL},
    {"server", "log_level", CFG_ENUM, "info", 0, 0, log_levels, 0,
     OFF(server.log_level), "most verbose level logged", NULL},
    {"server", "templates_dir", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.templates_dir),
     "login.html, consent.html, error.html overriding the built-in pages",
     "/etc/plugauth/templates"},

    {"database", "url", CFG_STR, "sqlite:plugauth.db", 0, 0, NULL, CFG_SECRET,
     OFF(database.url), "sqlite:PATH or postgresql://user:pass@host/db", NULL},

    {"oauth", "scopes", CFG_STR, "todo.read todo.write", 0, 0, NULL, 0,
     OFF(oauth.scopes), "scopes this server knows, space-separated", NULL},
    {"oauth", "default_scope", CFG_STR, "todo.read", 0, 0, NULL, 0,
     OFF(oauth.default_scope),
     "granted when a client asks for none; must be in scopes", NULL},
    {"oauth", "code_ttl", CFG_UINT, "120", 10, 3600, NULL, 0,
     OFF(oauth.code_ttl), "authorization code lifetime, seconds", NULL},
    {"oauth", "access_ttl", CFG_UINT, "3600", 60, 86400 * 7, NULL, 0,
     OFF(oauth.access_ttl), "access token lifetime, seconds", NULL},
    {"oauth", "refresh_ttl", CFG_UINT, "2592000", 3600, 31536000, NULL, 0,
     OFF(oauth.refresh_ttl), "refresh token lifetime, seconds", NULL},
    {"oauth", "refresh_reuse_grace", CFG_UINT, "10", 0, 300, NULL, 0,
     OFF(oauth.refresh_reuse_grace),
     "seconds a rotated refresh token may be retried", NULL},
    {"oauth", "registration", CFG_ENUM, "closed", 0, 0, registrations, 0,
     OFF(oauth.registration), "dynamic client registration", NULL},

    {"plugin", "name_for_human", CFG_STR, "TODO List", 0, 0, NULL, 0,
     OFF(plugin.name_for_human), "ai-plugin.json manifest fields", NULL},
    {"plugin", "name_for_model", CFG_STR, "todo", 0, 0, NULL, 0,
     OFF(plugin.name_for_model), NULL, NULL},
    {"plugin", "description_for_human", CFG_STR, "Manage your TODO list.", 0, 0,
     NULL, 0, OFF(plugin.description_for_human), NULL, NULL},
    {"plugin", "description_for_model", CFG_STR,
     "Plugin for managing a user's TODO list. "
     "Use it to list, add and remove items.",
     0, 0, NULL, 0, OFF(plugin.description_for_model), NULL, NULL},
    {"plugin", "logo_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.logo_url), NULL, "https://plugin.example.com/logo.png"},
    {"plugin", "contact_email", CFG_STR, "support@example.com", 0, 0, NULL, 0,
     OFF(plugin.contact_email), NULL, NULL},
    {"plugin", "legal_info_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.legal_info_url), NULL, "https://example.com/legal"},
    {"plugin", "openapi_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.openapi_url), "where ChatGPT fetches the API spec",
     "https://plugin.example.com/openapi.yaml"},
    {"plugin", "openapi_file", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.openapi_file), "local copy of the OpenAPI spec",
     "/etc/plugauth/openapi.yaml"},
    {"plugin", "description_for_model_file", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(plugin.description_for_model_file),
     "file whose text replaces description_for_model (up to 8000 chars)",
     "/etc/plugauth/description_for_model.txt"},
    {"plugin", "authorization_content_type", CFG_ENUM, "application/json", 0, 0,
     content_types, 0, OFF(plugin.authorization_content_type),
     "how ChatGPT posts to the token endpoint", NULL},

    {"plugin.verification_tokens", "openai", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(plugin.verification_openai), "token from the ChatGPT UI",
     "0123456789abcdef"},

    {"auth", "session_ttl", CFG_UINT, "86400", 300, 2592000, NULL, 0,
     OFF(auth.session_ttl), "sign-in session lifetime, seconds", NULL},
    {"auth", "login_max_failures", CFG_UINT, "5", 1, 1000, NULL, 0,
     OFF(auth.login_max_failures),
     "failed sign-ins per user within login_window before a pause", NULL},
    {"auth", "login_max_failures_per_address", CFG_UINT, "20", 1, 100000,
     NULL, 0, OFF(auth.login_max_failures_per_address),
     "failed sign-ins per client address within login_window", NULL},
    {"auth", "login_window", CFG_UINT, "900", 10, 86400, NULL, 0,
     OFF(auth.login_window), "seconds failed sign-ins are counted", NULL},

    {"gateway", "upstream", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(gateway.upstream), "the plugin's own API", "http://127.0.0.1:5000"},
    {"gateway", "path", CFG_STR, "/api/", 0, 0, NULL, 0, OFF(gateway.path),
     "requests under this path are proxied, path kept", NULL},
    {"gateway", "scope", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(gateway.scope), "scope every request under path needs (403 without)",
     "todo.read"},
    {"gateway", "timeout", CFG_UINT, "30", 1, 3600, NULL, 0,
     OFF(gateway.timeout), "seconds to wait for the upstream (then 504)", NULL},
    {"gateway", "body_max_bytes", CFG_UINT, "1048576", 1024, 67108864, NULL,
     0, OFF(gateway.body_max_bytes),
     "largest request body passed to the upstream (413 past it)", NULL},
    {"gateway", "response_max_bytes", CFG_UINT, "10485760", 1024, 1073741824,
     NULL, 0, OFF(gateway.response_max_bytes),
     "largest upstream response passed on (then 502)", NULL},
};

#define NKEYS ARRAY_LEN(keys)

/* Origin of a key's value, for error messages. */
#define ORIGIN_DEFAULT 0
#define ORIGIN_ENV (-1) /* > 0: line in the file */

/* Longest "key = value" line libinih hands over whole (see ini_read). */
#define LINE_MAX_CHARS (INI_MAX_LINE - 1)

#define MSG_MAX 256

struct load_ctx {
	struct config *cfg;
	FILE *fp;
	char *line; /* getline() buffer */
	size_t linecap;
	int lineno; /* lines read so far */
	int origin[NKEYS];
	int err_line; /* first error seen here; 0 = none */
	enum status err_st;
	char err[MSG_MAX]; /* "[section] key: what" */
};

static char **
key_str(struct config *cfg, const struct cfg_key *k)
{
	return (char **)(void *)((char *)cfg + k->off);
}

static unsigned *
key_uint(struct config *cfg, const struct cfg_key *k)
{
	return (unsigned *)(void *)((char *)cfg + k->off);
}

static const char *
key_cstr(const struct config *cfg, const struct cfg_key *k)
{
	return *(char *const *)(const void *)((const char *)cfg + k->off);
}

static unsigned
key_cuint(const struct config *cfg, const struct cfg_key *k)
{
	return *(const unsigned *)(const void *)((const char *)cfg + k->off);
}

static const struct cfg_key *
key_find(const char *section, const char *key, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(keys[i].key, key) == 0)
			return &keys[i];
	}
	return NULL;
}

static void
str_free(char *s, bool wipe)
{
	if (s != NULL && wipe)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* True if "key = value" survives a trip through the INI file as is. */
static bool
value_fits_ini(struct str v, const char **why)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x20 || c == 0x7f) {
			*why = "must not contain control characters";
			return false;
		}
		/* libinih: ';' after whitespace starts an inline comment. */
		if (c == ';' && (i == 0 || v.p[i - 1] == ' ')) {
			*why = "must not contain ';' at the start or after a "
			       "space (it starts a comment)";
			return false;
		}
	}
	if (v.len > 0 && (v.p[0] == ' ' || v.p[v.len - 1] == ' ')) {
		*why = "must not start or end with a space";
		return false;
	}
	return true;
}

/* Parts of an absolute http(s) URL; host without brackets. */
struct url_parts {
	bool https;
	bool userinfo;
	bool ipv6;
	bool query;
	bool fragment;
	struct str host;
	unsigned port; /* 0 if none given */
};

static bool
port_parse(struct str s, unsigned *port)
{
	unsigned long long v;

	if (s.len == 0 || s.len > 5 || !str_to_u64(s, 0, 65535, &v))
		return false;
	*port = (unsigned)v;
	return true;
}

static bool
ipv6_ok(struct str s)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (s.len == 0 || s.len >= sizeof(tmp))
		return false;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/*
 * Strict on purpose: this decides whether plain http is allowed, so any
 * byte a browser might read differently (space, '\', non-ASCII) is refused.
 */
static bool
url_split(const char *url, struct url_parts *u)
{
	const char *p, *auth, *end, *at, *colon;
	struct str host;

	memset(u, 0, sizeof(*u));
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '\\')
			return false;
	if (strncasecmp(url, "https://", 8) == 0) {
		u->https = true;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0)
		auth = url + 7;
	else
		return false;
	end = auth + strcspn(auth, "/?#");
	u->query = memchr(end, '?', strcspn(end, "#")) != NULL;
	u->fragment = strchr(end, '#') != NULL;
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		u->userinfo = true;
		auth = at + 1;
	}
	if (*auth == '[') {
		colon = memchr(auth, ']', (size_t)(end - auth));
		if (colon == NULL)
			return false;
		host = (struct str){auth + 1, (size_t)(colon - auth - 1)};
		if (!ipv6_ok(host))
			return false;
		u->ipv6 = true;
		colon++;
		if (colon != end && *colon != ':')
			return false;
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		if (colon == NULL)
			colon = end;
		host = (struct str){auth, (size_t)(colon - auth)};
		if (host.len == 0)
			return false;
		for (size_t i = 0; i < host.len; i++)
			if (strchr("[]@:", host.p[i]) != NULL)
				return false;
	}
	if (colon != end &&
	    !port_parse((struct str){colon + 1, (size_t)(end - colon - 1)},
	                &u->port))
		return false;
	u->host = host;
	return true;
}

bool
cfg_url_is_loopback(const char *url)
{
	struct url_parts u;
	char host[INET6_ADDRSTRLEN + 1];
	struct in_addr a4;
	struct in6_addr a6;

	if (url == NULL || !url_split(url, &u) || u.host.len >= sizeof(host))
		return false;
	memcpy(host, u.host.p, u.host.len);
	host[u.host.len] = '\0';
	if (u.ipv6)
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		       IN6_IS_ADDR_LOOPBACK(&a6);
	if (strcasecmp(host, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

bool
cfg_listen_split(const char *listen, char *hostbuf, size_t hostsz,
                 unsigned *port)
{
	const char *colon;
	struct str host;
	unsigned p;

	if (listen == NULL || hostsz == 0)
		return false;
	if (listen[0] == '[') {
		colon = strchr(listen, ']');
		if (colon == NULL || colon[1] != ':')
			return false;
		host = (struct str){listen + 1, (size_t)(colon - listen - 1)};
		if (!ipv6_ok(host))
			return false;
		colon++;
	} else {
		colon = strchr(listen, ':');
		if (colon == NULL)
			return false;
		host = (struct str){listen, (size_t)(colon - listen)};
		if (host.len == 0)
			return false;
		for (size_t i = 0; i < host.len; i++) {
			unsigned char c = (unsigned char)host.p[i];

			if (!isalnum(c) && c != '-' && c != '.' && c != '_')
				return false;
		}
	}
	if (!port_parse(str_of(colon + 1), &p) || host.len >= hostsz)
		return false;
	memcpy(hostbuf, host.p, host.len);
	hostbuf[host.len] = '\0';
	*port = p;
	return true;
}

/* "a|b|c" for messages and comments; cut short if dst is too small. */
static const char *
choices_join(const char *const *c, char *dst, size_t dstsz)
{
	size_t len = 0;
	int n;

	dst[0] = '\0';
	for (; *c != NULL; c++) {
		n = snprintf(dst + len, dstsz - len, "%s%s", len > 0 ? "|" : "",
		             *c);
		if (n < 0 || (size_t)n >= dstsz - len) {
			dst[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	return dst;
}

/* Sets k from text (trimmed); msg gets "what is wrong" on error. */
static enum status
key_set(struct config *cfg, const struct cfg_key *k, const char *text,
        char *msg, size_t msglen)
{
	struct str v = str_of(text);
	struct url_parts u;
	unsigned long long n;
	const char *why;
	char *s = NULL, **slot, list[128];
	size_t i;

	while (v.len > 0 && isspace((unsigned char)v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && isspace((unsigned char)v.p[v.len - 1]))
		v.len--;
	if (!value_fits_ini(v, &why)) {
		str_errf(msg, msglen, "%s", why);
		return ST_INVALID;
	}
	if (k->flags & CFG_NOSLASH)
		while (v.len > 0 && v.p[v.len - 1] == '/')
			v.len--;
	if (v.len == 0 && !(k->flags & CFG_OPTIONAL)) {
		str_errf(msg, msglen, "must not be empty");
		return ST_INVALID;
	}
	if (k->type == CFG_UINT) {
		if (!str_to_u64(v, 0, ULLONG_MAX, &n)) {
			for (i = 0; i < v.len; i++) {
				if (!isdigit((unsigned char)v.p[i])) {
					str_errf(msg, msglen,
					        "must be a number");
					return ST_INVALID;
				}
			}
			n = ULLONG_MAX; /* digits only: too many of them */
		}
		if (n < k->min || n > k->max) {
			str_errf(msg, msglen, "must be %u..%u", k->min, k->max);
			return ST_INVALID;
		}
		*key_uint(cfg, k) = (unsigned)n;
		return ST_OK;
	}
	if (v.len > 0) {
		s = str_dup(v);
		if (s == NULL) {
			str_errf(msg, msglen, "out of memory");
			return ST_NOMEM;
		}
	}
	if (s != NULL && k->type == CFG_ENUM) {
		for (i = 0; k->choices[i] != NULL; i++)
			if (strcmp(s, k->choices[i]) == 0)
				break;
		if (k->choices[i] == NULL) {
			str_errf(msg, msglen, "must be one of %s",
			        choices_join(k->choices, list, sizeof(list)));
			goto bad;
		}
	}
	if (s != NULL && k->type == CFG_URL && !url_split(s, &u)) {
		str_errf(msg, msglen,
		        "must be an absolute http:// or https:// URL");
		goto bad;
	}
	slot = key_str(cfg, k);
	str_free(*slot, k->flags & CFG_SECRET);
	*slot = s;
	return ST_OK;
bad:
	str_free(s, k->flags & CFG_SECRET);
	return ST_INVALID;
}

enum status
cfg_set(struct config *cfg, const char *section, const char *key,
        const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k;
	bool known;
	char msg[MSG_MAX], s[48], n[48];
	enum status rc;

	k = key_find(section, key, &known);
	if (k == NULL) {
		str_errf(err, errlen, "[%s] %s: unknown %s",
		        str_printable(s, sizeof(s), section),
		        str_printable(n, sizeof(n), key),
		        known ? "key" : "section");
		return ST_NOTFOUND;
	}
	rc = key_set(cfg, k, value, msg, sizeof(msg));
	if (rc != ST_OK)
		str_errf(err, errlen, "[%s] %s: %s", k->section, k->key, msg);
	return rc;
}

static bool
scope_char_ok(unsigned char c)
{
	/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

/* True if tok is one of the space-separated tokens in list. */
static bool
scope_in(struct str list, struct str tok)
{
	size_t i = 0, j;

	while (i < list.len) {
		for (j = i; j < list.len && list.p[j] != ' '; j++)
			;
		if (str_eq((struct str){list.p + i, j - i}, tok))
			return true;
		i = j + 1;
	}
	return false;
}

/*
 * Checks a scope list: scope-tokens separated by single spaces. With known
 * set, every token must be in known; without, no token may repeat.
 */
static bool
scopes_ok(const char *list, const char *known, char *msg, size_t msglen)
{
	const char *p = list, *e;
	struct str tok;
	int shown;

	for (;;) {
		e = p + strcspn(p, " ");
		tok = (struct str){p, (size_t)(e - p)};
		shown = tok.len < 40 ? (int)tok.len : 40;
		if (tok.len == 0) {
			str_errf(
			    msg, msglen,
			    "must be scope tokens separated by single spaces");
			return false;
		}
		for (size_t i = 0; i < tok.len; i++) {
			if (!scope_char_ok((unsigned char)tok.p[i])) {
				str_errf(msg, msglen,
				        "'%.*s' is not a valid scope token "
				        "(RFC 6749 section 3.3)",
				        shown, tok.p);
				return false;
			}
		}
		if (known != NULL && !scope_in(str_of(known), tok)) {
			str_errf(msg, msglen, "'%.*s' is not in [oauth] scopes",
			        shown, tok.p);
			return false;
		}
		if (known == NULL && p > list &&
		    scope_in((struct str){list, (size_t)(p - list - 1)}, tok)) {
			str_errf(msg, msglen, "'%.*s' is listed twice", shown,
			        tok.p);
			return false;
		}
		if (*e == '\0')
			return true;
		p = e + 1;
	}
}

static const struct cfg_key *
key_at(size_t off)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].off == off)
			return &keys[i];
	abort(); /* a field without a row in keys[] */
}

/*
 * The checks behind cfg_validate(). *bad is the key the message is about;
 * *alt, if set, is another key whose value took part.
 */
static enum status
validate_keys(const struct config *cfg, const struct cfg_key **bad,
              const struct cfg_key **alt, char *msg, size_t msglen)
{
	const struct cfg_key *k;
	struct url_parts u;
	const char *s, *why;
	char host[256], list[128];
	unsigned v, port;
	size_t i;

	*alt = NULL;
	/* Each key alone, for configurations not built by cfg_load(). */
	for (i = 0; i < NKEYS; i++) {
		k = *bad = &keys[i];
		if (k->type == CFG_UINT) {
			v = key_cuint(cfg, k);
			if (v < k->min || v > k->max) {
				str_errf(msg, msglen, "must be %u..%u", k->min,
				        k->max);
				return ST_INVALID;
			}
			continue;
		}
		s = key_cstr(cfg, k);
		if (s == NULL && (k->flags & CFG_OPTIONAL))
			continue;
		if (s == NULL || *s == '\0') {
			str_errf(msg, msglen, "must be set");
			return ST_INVALID;
		}
		if (!value_fits_ini(str_of(s), &why)) {
			str_errf(msg, msglen, "%s", why);
			return ST_INVALID;
		}
		if (k->type == CFG_ENUM) {
			size_t j;

			for (j = 0; k->choices[j] != NULL; j++)
				if (strcmp(s, k->choices[j]) == 0)
					break;
			if (k->choices[j] == NULL) {
				str_errf(msg, msglen, "must be one of %s",
				        choices_join(k->choices, list,
				                     sizeof(list)));
				return ST_INVALID;
			}
		}
		if (k->type == CFG_URL && !url_split(s, &u)) {
			str_errf(msg, msglen,
			        "must be an absolute http:// or https:// URL");
			return ST_INVALID;
		}
	}

	/* RFC 8414 §2: the issuer has no query or fragment. */
	*bad = key_at(OFF(server.issuer));
	s = cfg->server.issuer;
	url_split(s, &u);
	if (u.userinfo) {
		str_errf(msg, msglen, "must not contain user info");
		return ST_INVALID;
	}
	if (u.query || u.fragment) {
		str_errf(msg, msglen, "must not have a query or fragment");
		return ST_INVALID;
	}
	if (s[strlen(s) - 1] == '/') {
		str_errf(msg, msglen, "must not end with '/'");
		return ST_INVALID;
	}
	if (!u.https && !cfg_url_is_loopback(s)) {
		str_errf(msg, msglen,
		        "must use https unless the host is "
		        "loopback (127.0.0.0/8, [::1], localhost)");
		return ST_INVALID;
	}

	*bad = key_at(OFF(server.listen));
	if (!cfg_listen_split(cfg->server.listen, host, sizeof(host), &port)) {
		str_errf(msg, msglen,
		        "must be host:port with port 0..65535 (IPv6 as "
		        "[::1]:8080)");
		return ST_INVALID;
	}

	*bad = key_at(OFF(oauth.scopes));
	if (!scopes_ok(cfg->oauth.scopes, NULL, msg, msglen))
		return ST_INVALID;
	*bad = key_at(OFF(oauth.default_scope));
	*alt = key_at(OFF(oauth.scopes));
	if (!scopes_ok(cfg->oauth.default_scope, cfg->oauth.scopes, msg,
	               msglen))
		return ST_INVALID;
	*alt = NULL;

	if ((cfg->server.tls_cert == NULL) != (cfg->server.tls_key == NULL)) {
		if (cfg->server.tls_cert != NULL) {
			*bad = key_at(OFF(server.tls_cert));
			str_errf(msg, msglen, "needs [server] tls_key as well");
		} else {
			*bad = key_at(OFF(server.tls_key));
			str_errf(msg, msglen, "needs [server] tls_cert as well");
		}
		return ST_INVALID;
	}

	*bad = key_at(OFF(gateway.path));
	s = cfg->gateway.path;
	if (s[0] != '/' || s[strlen(s) - 1] != '/') {
		str_errf(msg, msglen, "must start and end with '/'");
		return ST_INVALID;
	}
	if (cfg->gateway.upstream != NULL) {
		*bad = key_at(OFF(gateway.upstream));
		url_split(cfg->gateway.upstream, &u);
		if (u.userinfo || u.query || u.fragment) {
			str_errf(msg, msglen,
			        "must not have user info, a query or a "
			        "fragment");
			return ST_INVALID;
		}
	}
	if (cfg->gateway.scope != NULL) {
		*bad = key_at(OFF(gateway.scope));
		*alt = key_at(OFF(oauth.scopes));
		if (!scopes_ok(cfg->gateway.scope, cfg->oauth.scopes, msg,
		               msglen))
			return ST_INVALID;
		*alt = NULL;
	}
	return ST_OK;
}

enum status
cfg_validate(const struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_key *bad, *alt;
	char msg[MSG_MAX];

	if (validate_keys(cfg, &bad, &alt, msg, sizeof(msg)) != ST_OK) {
		str_errf(err, errlen, "[%s] %s: %s", bad->section, bad->key,
		        msg);
		return ST_INVALID;
	}
	return ST_OK;
}

static void lc_fail(struct load_ctx *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error of the file, on the line being read. */
static void
lc_fail(struct load_ctx *lc, enum status st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (lc->err_line != 0)
		return;
	lc->err_line = lc->lineno;
	lc->err_st = st;
	va_start(ap, fmt);
	n = vsnprintf(lc->err, sizeof(lc->err), fmt, ap);
	va_end(ap);
	if (n < 0)
		lc->err[0] = '\0'; /* cut-short messages are fine */
}

/*
 * libinih's line reader. libinih reads into a fixed buffer of num bytes
 * (INI_MAX_LINE, 200 in Debian's build) and parses whatever does not fit
 * as further lines: the value is silently cut, and its tail may even be
 * read as a key or a [section]. So we read whole lines here and refuse
 * the ones that do not fit. Leading whitespace is dropped so that an
 * indented line is never taken for the continuation of the previous value
 * (libinih's multi-line values, which this format does not have).
 */
static char *
ini_read(char *str, int num, void *stream)
{
	struct load_ctx *lc = stream;
	const char *p, *q;
	ssize_t n;
	size_t len;

	if (lc->err_line != 0)
		return NULL;
	n = getline(&lc->line, &lc->linecap, lc->fp);
	if (n < 0) {
		if (ferror(lc->fp)) {
			lc->lineno++;
			lc_fail(lc, ST_INVALID, "cannot read: %s",
			        strerror(errno));
		}
		return NULL;
	}
	lc->lineno++;
	if (memchr(lc->line, '\0', (size_t)n) != NULL) {
		lc_fail(lc, ST_INVALID, "line contains a NUL byte");
		return NULL;
	}
	p = lc->line;
	len = (size_t)n;
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len > 0 && (*p == ';' || *p == '#'))
		len = 1; /* a comment, however long */
	/* libinih ignores whatever follows "[section]": "[a] k = 1" */
	if (len > 0 && *p == '[' && (q = memchr(p, ']', len)) != NULL) {
		for (q++; q < p + len && isspace((unsigned char)*q); q++)
			;
		if (q < p + len && *q != ';') {
			lc_fail(lc, ST_INVALID,
			        "text after ']' (put each key "
			        "on a line of its own)");
			return NULL;
		}
	}
	if (num < 1 || len > (size_t)num - 1) {
		lc_fail(lc, ST_INVALID,
		        "line too long (%zu characters; at most %d)", len,
		        num < 1 ? 0 : num - 1);
		return NULL;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	return str;
}

static int
ini_on_value(void *user, const char *section, const char *name,
             const char *value)
{
	struct load_ctx *lc = user;
	const struct cfg_key *k;
	bool known;
	char msg[MSG_MAX], s[48], n[48];
	enum status rc;
	size_t i;

	if (lc->err_line != 0)
		return 0;
	str_printable(s, sizeof(s), section);
	str_printable(n, sizeof(n), name);
	k = key_find(section, name, &known);
	if (k == NULL) {
		if (section[0] == '\0')
			lc_fail(lc, ST_INVALID, "%s: key outside any [section]",
			        n);
		else
			lc_fail(lc, ST_INVALID, "[%s] %s: unknown %s", s, n,
			        known ? "key" : "section");
		return 0;
	}
	i = (size_t)(k - keys);
	if (lc->origin[i] > 0) {
		lc_fail(lc, ST_INVALID,
		        "[%s] %s: given twice (first on line %d)", s, n,
		        lc->origin[i]);
		return 0;
	}
	rc = key_set(lc->cfg, k, value, msg, sizeof(msg));
	if (rc != ST_OK) {
		lc_fail(lc, rc, "[%s] %s: %s", s, n, msg);
		return 0;
	}
	lc->origin[i] = lc->lineno;
	return 1;
}

/* PLUGAUTH_<SECTION>_<KEY>, upper case, '.' as '_'. */
static bool
env_name(const struct cfg_key *k, char *dst, size_t dstsz)
{
	int n;

	n = snprintf(dst, dstsz, "PLUGAUTH_%s_%s", k->section, k->key);
	if (n < 0 || (size_t)n >= dstsz)
		return false;
	for (char *p = dst; *p != '\0'; p++)
		*p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	return true;
}

/* Parses path into cfg; ST_OK also when it is absent and may be. */
static enum status
load_file(struct load_ctx *lc, const char *path, bool must_exist, char *err,
          size_t errlen)
{
	int r, e;

	lc->fp = fopen(path, "re");
	if (lc->fp == NULL) {
		e = errno;
		if (e == ENOENT && !must_exist)
			return ST_OK;
		str_errf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? ST_NOTFOUND : ST_INVALID;
	}
	r = ini_parse_stream(ini_read, lc, ini_on_value, lc);
	if (r == -2) {
		str_errf(err, errlen, "%s: out of memory", path);
		return ST_NOMEM;
	}
	/*
	 * r is the line of the first error, ours (the handler or the reader
	 * refused something) or libinih's own (a line it cannot parse).
	 */
	if (r > 0 && (lc->err_line == 0 || r < lc->err_line)) {
		str_errf(err, errlen,
		        "%s:%d: syntax error (expected [section], "
		        "key = value or a ; comment)",
		        path, r);
		return ST_INVALID;
	}
	if (lc->err_line != 0) {
		str_errf(err, errlen, "%s:%d: %s", path, lc->err_line, lc->err);
		return lc->err_st;
	}
	if (r != 0) {
		str_errf(err, errlen, "%s: libinih error %d", path, r);
		return ST_INTERNAL;
	}
	return ST_OK;
}

enum status
cfg_load(const char *path, bool must_exist, struct config **out, char *err,
         size_t errlen)
{
	struct load_ctx lc;
	struct config *cfg;
	const struct cfg_key *k, *alt;
	const char *val;
	char msg[MSG_MAX], var[128];
	enum status rc;
	size_t i;
	int at;

	memset(&lc, 0, sizeof(lc));
	str_errf(err, errlen, "%s", "");
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		str_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	lc.cfg = cfg;
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].def == NULL)
			continue;
		rc = key_set(cfg, &keys[i], keys[i].def, msg, sizeof(msg));
		if (rc != ST_OK) {
			str_errf(err, errlen, "default of [%s] %s: %s",
			        keys[i].section, keys[i].key, msg);
			rc = rc == ST_NOMEM ? ST_NOMEM : ST_INTERNAL;
			goto out;
		}
	}
	if (path != NULL) {
		rc = load_file(&lc, path, must_exist, err, errlen);
		if (rc != ST_OK)
			goto out;
	}
	for (i = 0; i < NKEYS; i++) {
		if (!env_name(&keys[i], var, sizeof(var))) {
			str_errf(err, errlen, "[%s] %s: name too long",
			        keys[i].section, keys[i].key);
			rc = ST_INTERNAL;
			goto out;
		}
		val = getenv(var);
		if (val == NULL)
			continue;
		rc = key_set(cfg, &keys[i], val, msg, sizeof(msg));
		if (rc != ST_OK) {
			str_errf(err, errlen, "environment %s: %s", var, msg);
			goto out;
		}
		lc.origin[i] = ORIGIN_ENV;
	}
	rc = validate_keys(cfg, &k, &alt, msg, sizeof(msg));
	if (rc != ST_OK) {
		/* Point at where the value came from, or at its partner's. */
		at = lc.origin[k - keys];
		if (at == ORIGIN_DEFAULT && alt != NULL)
			at = lc.origin[alt - keys];
		if (at > 0)
			str_errf(err, errlen, "%s:%d: [%s] %s: %s", path, at,
			        k->section, k->key, msg);
		else if (at == ORIGIN_ENV && env_name(k, var, sizeof(var)) &&
		         lc.origin[k - keys] == ORIGIN_ENV)
			str_errf(err, errlen, "environment %s: %s", var, msg);
		else if (at == ORIGIN_ENV && env_name(alt, var, sizeof(var)))
			str_errf(err, errlen, "environment %s: [%s] %s: %s", var,
			        k->section, k->key, msg);
		else
			str_errf(err, errlen, "[%s] %s: %s", k->section, k->key,
			        msg);
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	if (lc.fp != NULL)
		fclose(lc.fp);
	if (lc.line != NULL)
		explicit_bzero(lc.line, lc.linecap);
	free(lc.line);
	cfg_free(cfg);
	return rc;
}

static const char render_head[] =
    "; plugauth configuration.\n"
    ";\n"
    "; Every key can be overridden from the environment as\n"
    "; PLUGAUTH_<SECTION>_<KEY> (upper case, dots as underscores),\n"
    "; e.g. PLUGAUTH_DATABASE_URL. Lines are at most 199 characters.\n"
    "; This file may hold secrets: keep it readable by plugauth only.\n";

enum status
cfg_render(const struct config *cfg, struct buf *out)
{
	const struct cfg_key *k;
	const char *prev = "", *v, *why;
	char num[16], list[128];
	enum status rc;
	int n;

	rc = buf_adds(out, render_head);
	for (size_t i = 0; i < NKEYS && rc == ST_OK; i++) {
		k = &keys[i];
		if (strcmp(prev, k->section) != 0)
			rc = buf_printf(out, "\n[%s]\n", k->section);
		prev = k->section;
		list[0] = '\0';
		if (k->type == CFG_UINT) {
			n = snprintf(list, sizeof(list), "%u..%u", k->min,
			             k->max);
			if (n < 0 || (size_t)n >= sizeof(list))
				list[0] = '\0';
		} else if (k->type == CFG_ENUM)
			choices_join(k->choices, list, sizeof(list));
		if (rc == ST_OK && k->help != NULL && list[0] != '\0')
			rc = buf_printf(out, "; %s (%s)\n", k->help, list);
		else if (rc == ST_OK && k->help != NULL)
			rc = buf_printf(out, "; %s\n", k->help);
		else if (rc == ST_OK && list[0] != '\0')
			rc = buf_printf(out, "; %s\n", list);
		if (rc != ST_OK)
			break;
		if (k->type == CFG_UINT) {
			n = snprintf(num, sizeof(num), "%u", key_cuint(cfg, k));
			if (n < 0 || (size_t)n >= sizeof(num)) {
				rc = ST_INTERNAL;
				break;
			}
			v = num;
		} else
			v = key_cstr(cfg, k);
		if (v == NULL) {
			rc = buf_printf(out, "; %s = %s\n", k->key,
			                k->example != NULL ? k->example : "");
			continue;
		}
		/* What could not be read back is refused, not written. */
		if (!value_fits_ini(str_of(v), &why) || *v == '\0' ||
		    strlen(k->key) + 3 + strlen(v) > LINE_MAX_CHARS) {
			rc = ST_INVALID;
			break;
		}
		rc = buf_printf(out, "%s = %s\n", k->key, v);
	}
	if (rc != ST_OK)
		buf_free(out); /* as buf_add() does on error */
	return rc;
}

void
cfg_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type != CFG_UINT)
			str_free(*key_str(cfg, &keys[i]),
			         keys[i].flags & CFG_SECRET);
	free(cfg);
}
