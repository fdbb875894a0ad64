/*
 * [gateway.scopes]: a section whose keys are HTTP methods and an optional
 * path prefix, not rows of cfg_keys[]:
 *
 *     GET = todo.read
 *     POST PUT PATCH DELETE = todo.write
 *     GET /api/admin/ = admin.read
 *
 * A proxied request needs, besides [gateway] scope, the scopes of the rule
 * naming its method whose prefix (a rule without one has [gateway] path)
 * is the longest its path starts with (src/gateway/route.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config_int.h"

/* RFC 9110 §5.6.2 tchar, upper case only: methods are case-sensitive and a
 * "get" rule would match no request. */
static bool
method_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A prefix is compared with the decoded path (see cfg_gw_rule_find()):
 * no '%', query, fragment, path parameter, backslash or blank in it. */
static bool
prefix_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("%?#;\\", c) == NULL;
}

/* Splits key into methods (joined by single spaces, into m) and prefix
 * (borrowed from key, NULL if none). */
static bool
key_parse(const char *key, struct buf *m, struct str *prefix, char *msg,
          size_t msglen)
{
	const char *p = key, *e;
	size_t n;

	prefix->p = NULL;
	for (p += strspn(p, " \t"); *p != '\0'; p = e + strspn(e, " \t")) {
		e = p + strcspn(p, " \t");
		n = (size_t)(e - p);
		if (prefix->p != NULL) {
			str_errf(msg, msglen, "the path prefix must come last");
			return false;
		}
		if (*p == '/') {
			*prefix = (struct str){p, n};
			for (size_t i = 0; i < n; i++)
				if (!prefix_char_ok((unsigned char)p[i]))
					goto bad_prefix;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (!method_char_ok((unsigned char)p[i]))
				goto bad_method;
		if ((m->len > 0 && buf_add(m, " ", 1) != ST_OK) ||
		    buf_add(m, p, n) != ST_OK) {
			str_errf(msg, msglen, "too long");
			return false;
		}
	}
	if (m->len == 0) {
		str_errf(msg, msglen,
		         "must name HTTP methods (GET POST ...) before an "
		         "optional path prefix");
		return false;
	}
	return true;
bad_method:
	str_errf(msg, msglen,
	         "'%.*s' is not an HTTP method (upper-case token, e.g. GET)",
	         n < 40 ? (int)n : 40, p);
	return false;
bad_prefix:
	str_errf(msg, msglen,
	         "path prefix '%.*s' may not hold '%%', '?', '#', ';', '\\' "
	         "or control characters",
	         n < 40 ? (int)n : 40, p);
	return false;
}

enum status
cfg_gw_rule_set(struct config *cfg, const char *key, const char *value,
                int line, char *msg, size_t msglen)
{
	struct cfg_gw_rule *grown, r = {NULL, NULL, NULL, line};
	struct buf m;
	struct str prefix;

	buf_init(&m, 256);
	if (!key_parse(key, &m, &prefix, msg, msglen))
		goto invalid;
	if (!cfg_scopes_ok(value, NULL, msg, msglen))
		goto invalid;
	if (cfg->gateway.nrules >= CFG_GW_RULES_MAX) {
		str_errf(msg, msglen, "more than %d rules", CFG_GW_RULES_MAX);
		goto invalid;
	}
	if ((r.methods = buf_take(&m)) == NULL ||
	    (prefix.p != NULL && (r.prefix = str_dup(prefix)) == NULL) ||
	    (r.scope = strdup(value)) == NULL)
		goto nomem;
	grown = realloc(cfg->gateway.rules,
	                (cfg->gateway.nrules + 1) * sizeof(*grown));
	if (grown == NULL)
		goto nomem;
	cfg->gateway.rules = grown;
	grown[cfg->gateway.nrules++] = r;
	return ST_OK;
nomem:
	free(r.methods);
	free(r.prefix);
	free(r.scope);
	str_errf(msg, msglen, "out of memory");
	return ST_NOMEM;
invalid:
	buf_free(&m);
	return ST_INVALID;
}

static const char *
rule_prefix(const struct config *cfg, const struct cfg_gw_rule *r)
{
	return r->prefix != NULL ? r->prefix : cfg->gateway.path;
}

/* The first method of a also in b, or NULL. */
static const char *
methods_shared(const char *a, const char *b, size_t *len)
{
	const char *e;

	for (;; a = e + 1) {
		e = a + strcspn(a, " ");
		*len = (size_t)(e - a);
		if (str_list_has(b, a, *len))
			return a;
		if (*e == '\0')
			return NULL;
	}
}

const struct cfg_gw_rule *
cfg_gw_rules_check(const struct config *cfg, char *msg, size_t msglen)
{
	const char *path = cfg->gateway.path, *m;
	size_t n;

	for (size_t i = 0; i < cfg->gateway.nrules; i++) {
		const struct cfg_gw_rule *r = &cfg->gateway.rules[i];

		if (!cfg_scopes_ok(r->scope, cfg->oauth.scopes, msg, msglen))
			return r;
		if (strlen(rule_prefix(cfg, r)) > CFG_GW_PREFIX_MAX) {
			str_errf(msg, msglen, "path prefix over %d bytes",
			         CFG_GW_PREFIX_MAX);
			return r;
		}
		if (strncmp(rule_prefix(cfg, r), path, strlen(path)) != 0) {
			str_errf(msg, msglen,
			         "path prefix must start with [gateway] path "
			         "'%.40s'",
			         path);
			return r;
		}
		for (size_t j = 0; j < i; j++) {
			const struct cfg_gw_rule *o = &cfg->gateway.rules[j];

			if (strcasecmp(rule_prefix(cfg, r),
			               rule_prefix(cfg, o)) != 0 ||
			    (m = methods_shared(r->methods, o->methods, &n)) ==
			        NULL)
				continue;
			str_errf(
			    msg, msglen,
			    "%.*s for %.40s given twice (first on line %d)",
			    (int)n, m, rule_prefix(cfg, r), o->line);
			return r;
		}
	}
	return NULL;
}

enum status
cfg_gw_rules_render(const struct config *cfg, struct buf *out)
{
	enum status rc;

	rc = buf_printf(out,
	                "\n[%s]\n; scopes a method (and path prefix) needs "
	                "besides [gateway] scope\n",
	                CFG_GW_RULES_SECTION);
	if (rc == ST_OK && cfg->gateway.nrules == 0)
		rc = buf_adds(out, "; GET = todo.read\n"
		                   "; POST PUT PATCH DELETE = todo.write\n");
	for (size_t i = 0; i < cfg->gateway.nrules && rc == ST_OK; i++) {
		const struct cfg_gw_rule *r = &cfg->gateway.rules[i];

		rc = buf_printf(out, "%s%s%s = %s\n", r->methods,
		                r->prefix != NULL ? " " : "",
		                r->prefix != NULL ? r->prefix : "", r->scope);
	}
	return rc;
}

void
cfg_gw_rules_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->gateway.nrules; i++) {
		free(cfg->gateway.rules[i].methods);
		free(cfg->gateway.rules[i].prefix);
		free(cfg->gateway.rules[i].scope);
	}
	free(cfg->gateway.rules);
	cfg->gateway.rules = NULL;
	cfg->gateway.nrules = 0;
}
