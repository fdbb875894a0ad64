/*
 * Configuration checks: URLs and listen addresses, scope lists, and the
 * rules between keys behind cfg_validate().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/config_int.h"

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
bool
cfg_url_split(const char *url, struct url_parts *u)
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

	if (url == NULL || !cfg_url_split(url, &u) ||
	    u.host.len >= sizeof(host))
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
cfg_url_plain(const char *url, bool *https)
{
	struct url_parts u;

	if (url == NULL || !cfg_url_split(url, &u) || u.userinfo || u.fragment)
		return false;
	*https = u.https;
	return true;
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

bool
cfg_scopes_ok(const char *list, const char *known, char *msg, size_t msglen)
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

/*
 * The checks behind cfg_validate(). *bad is the key the message is about;
 * *alt, if set, is another key whose value took part.
 */
/* One key alone against its type: a number within min..max, a string set
 * (unless optional), fitting an INI line, one of the choices, a URL. */
static enum status
key_alone_check(const struct config *cfg, const struct cfg_key *k, char *msg,
                size_t msglen)
{
	struct url_parts u;
	const char *s, *why;
	char list[128];
	unsigned v;

	if (k->type == CFG_UINT) {
		v = key_cuint(cfg, k);
		if (v < k->min || v > k->max) {
			str_errf(msg, msglen, "must be %u..%u", k->min, k->max);
			return ST_INVALID;
		}
		return ST_OK;
	}
	s = key_cstr(cfg, k);
	if (s == NULL && (k->flags & CFG_OPTIONAL))
		return ST_OK;
	if (s == NULL || *s == '\0') {
		str_errf(msg, msglen, "must be set");
		return ST_INVALID;
	}
	if (!cfg_value_fits_ini(str_of(s), &why)) {
		str_errf(msg, msglen, "%s", why);
		return ST_INVALID;
	}
	if (k->type == CFG_ENUM) {
		size_t j;

		for (j = 0; k->choices[j] != NULL; j++)
			if (strcmp(s, k->choices[j]) == 0)
				break;
		if (k->choices[j] == NULL) {
			str_errf(
			    msg, msglen, "must be one of %s",
			    cfg_choices_join(k->choices, list, sizeof(list)));
			return ST_INVALID;
		}
	}
	if (k->type == CFG_URL && !cfg_url_split(s, &u)) {
		str_errf(msg, msglen,
		         "must be an absolute http:// or https:// URL");
		return ST_INVALID;
	}
	return ST_OK;
}

/* [server] issuer as RFC 8414 §2 wants it (no query or fragment), without
 * user info or a trailing '/', and https unless loopback. */
static enum status
issuer_check(const struct config *cfg, const struct cfg_key **bad, char *msg,
             size_t msglen)
{
	struct url_parts u;
	const char *s = cfg->server.issuer;

	*bad = cfg_key_at(OFF(server.issuer));
	cfg_url_split(s, &u);
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
	return ST_OK;
}

/* [oauth] scopes is a scope list, default_scope a list of some of them,
 * and resources a list of resource URIs. */
static enum status
scopes_check(const struct config *cfg, const struct cfg_key **bad,
             const struct cfg_key **alt, char *msg, size_t msglen)
{
	*bad = cfg_key_at(OFF(oauth.scopes));
	if (!cfg_scopes_ok(cfg->oauth.scopes, NULL, msg, msglen))
		return ST_INVALID;
	*bad = cfg_key_at(OFF(oauth.default_scope));
	*alt = cfg_key_at(OFF(oauth.scopes));
	if (!cfg_scopes_ok(cfg->oauth.default_scope, cfg->oauth.scopes, msg,
	                   msglen))
		return ST_INVALID;
	*alt = NULL;
	*bad = cfg_key_at(OFF(oauth.resources));
	if (!cfg_resources_ok(cfg->oauth.resources, msg, msglen))
		return ST_INVALID;
	return ST_OK;
}

/* [server] tls_cert and tls_key: both or neither. */
static enum status
tls_check(const struct config *cfg, const struct cfg_key **bad, char *msg,
          size_t msglen)
{
	if ((cfg->server.tls_cert == NULL) == (cfg->server.tls_key == NULL))
		return ST_OK;
	if (cfg->server.tls_cert != NULL) {
		*bad = cfg_key_at(OFF(server.tls_cert));
		str_errf(msg, msglen, "needs [server] tls_key as well");
	} else {
		*bad = cfg_key_at(OFF(server.tls_key));
		str_errf(msg, msglen, "needs [server] tls_cert as well");
	}
	return ST_INVALID;
}

/* [gateway]: path starts and ends with '/', upstream has no user info,
 * query or fragment, scope names scopes of [oauth] scopes. */
static enum status
gateway_check(const struct config *cfg, const struct cfg_key **bad,
              const struct cfg_key **alt, char *msg, size_t msglen)
{
	struct url_parts u;
	const char *s = cfg->gateway.path;

	*bad = cfg_key_at(OFF(gateway.path));
	if (s[0] != '/' || s[strlen(s) - 1] != '/') {
		str_errf(msg, msglen, "must start and end with '/'");
		return ST_INVALID;
	}
	if (cfg->gateway.upstream != NULL) {
		*bad = cfg_key_at(OFF(gateway.upstream));
		cfg_url_split(cfg->gateway.upstream, &u);
		if (u.userinfo || u.query || u.fragment) {
			str_errf(msg, msglen,
			         "must not have user info, a query or a "
			         "fragment");
			return ST_INVALID;
		}
	}
	if (cfg->gateway.scope != NULL) {
		*bad = cfg_key_at(OFF(gateway.scope));
		*alt = cfg_key_at(OFF(oauth.scopes));
		if (!cfg_scopes_ok(cfg->gateway.scope, cfg->oauth.scopes, msg,
		                   msglen))
			return ST_INVALID;
		*alt = NULL;
	}
	return ST_OK;
}

enum status
cfg_validate_keys(const struct config *cfg, const struct cfg_key **bad,
                  const struct cfg_key **alt, char *msg, size_t msglen)
{
	char host[256];
	unsigned port;
	size_t i;

	*alt = NULL;
	/* Each key alone, for configurations not built by cfg_load(). */
	for (i = 0; i < cfg_nkeys; i++) {
		*bad = &cfg_keys[i];
		if (key_alone_check(cfg, *bad, msg, msglen) != ST_OK)
			return ST_INVALID;
	}
	if (issuer_check(cfg, bad, msg, msglen) != ST_OK)
		return ST_INVALID;
	*bad = cfg_key_at(OFF(server.listen));
	if (!cfg_listen_split(cfg->server.listen, host, sizeof(host), &port)) {
		str_errf(msg, msglen,
		         "must be host:port with port 0..65535 (IPv6 as "
		         "[::1]:8080)");
		return ST_INVALID;
	}
	if (scopes_check(cfg, bad, alt, msg, msglen) != ST_OK ||
	    tls_check(cfg, bad, msg, msglen) != ST_OK ||
	    gateway_check(cfg, bad, alt, msg, msglen) != ST_OK)
		return ST_INVALID;
	return ST_OK;
}

enum status
cfg_validate(const struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_key *bad, *alt;
	const struct cfg_scope_desc *d;
	const struct cfg_gw_rule *r;
	char msg[MSG_MAX], name[48];

	if (cfg_validate_keys(cfg, &bad, &alt, msg, sizeof(msg)) != ST_OK) {
		str_errf(err, errlen, "[%s] %s: %s", bad->section, bad->key,
		         msg);
		return ST_INVALID;
	}
	if ((d = cfg_scope_descs_check(cfg, msg, sizeof(msg))) != NULL) {
		str_errf(err, errlen, "[%s] %s: %s", CFG_SCOPE_DESCS_SECTION,
		         str_printable(name, sizeof(name), d->scope), msg);
		return ST_INVALID;
	}
	if ((r = cfg_gw_rules_check(cfg, msg, sizeof(msg))) != NULL) {
		str_errf(err, errlen, "[%s] %s: %s", CFG_GW_RULES_SECTION,
		         str_printable(name, sizeof(name), r->methods), msg);
		return ST_INVALID;
	}
	return ST_OK;
}
