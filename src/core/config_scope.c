/*
 * [oauth.scope_descriptions]: a section whose keys are scopes, not rows of
 * cfg_keys[] ("notes.read = See your notes"), and the service's name as
 * users see it on the sign-in pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_int.h"

static struct cfg_scope_desc *
desc_find(const struct config *cfg, const char *p, size_t len)
{
	for (size_t i = 0; i < cfg->oauth.nscope_descs; i++) {
		struct cfg_scope_desc *d = &cfg->oauth.scope_descs[i];

		if (strlen(d->scope) == len && memcmp(d->scope, p, len) == 0)
			return d;
	}
	return NULL;
}

enum status
cfg_scope_desc_set(struct config *cfg, const char *scope, const char *text,
                   int line, char *msg, size_t msglen)
{
	struct cfg_scope_desc *d, *grown;
	const char *why;
	char *s = NULL, *t = NULL;

	if (scope[0] == '\0' || text[0] == '\0') {
		str_errf(msg, msglen, "must not be empty");
		return ST_INVALID;
	}
	if (!cfg_value_fits_ini(str_of(text), &why)) {
		str_errf(msg, msglen, "%s", why);
		return ST_INVALID;
	}
	d = desc_find(cfg, scope, strlen(scope));
	if (d != NULL && d->line > 0 && line > 0) {
		str_errf(msg, msglen, "given twice (first on line %d)",
		         d->line);
		return ST_INVALID;
	}
	if (d == NULL && cfg->oauth.nscope_descs >= CFG_SCOPE_DESCS_MAX) {
		str_errf(msg, msglen, "more than %d scope descriptions",
		         CFG_SCOPE_DESCS_MAX);
		return ST_INVALID;
	}
	if ((t = strdup(text)) == NULL ||
	    (d == NULL && (s = strdup(scope)) == NULL))
		goto nomem;
	if (d == NULL) {
		grown = realloc(cfg->oauth.scope_descs,
		                (cfg->oauth.nscope_descs + 1) * sizeof(*grown));
		if (grown == NULL)
			goto nomem;
		cfg->oauth.scope_descs = grown;
		d = &grown[cfg->oauth.nscope_descs++];
		d->scope = s;
		d->text = NULL;
	}
	free(d->text);
	d->text = t;
	d->line = line;
	return ST_OK;
nomem:
	free(s);
	free(t);
	str_errf(msg, msglen, "out of memory");
	return ST_NOMEM;
}

const struct cfg_scope_desc *
cfg_scope_descs_check(const struct config *cfg, char *msg, size_t msglen)
{
	const char *list = cfg->oauth.scopes, *p;
	size_t n, len;

	for (size_t i = 0; i < cfg->oauth.nscope_descs; i++) {
		const struct cfg_scope_desc *d = &cfg->oauth.scope_descs[i];
		bool found = false;

		len = strlen(d->scope);
		for (p = list; p != NULL && *p != '\0' && !found;) {
			n = strcspn(p, " ");
			found = n == len && memcmp(p, d->scope, n) == 0;
			p += n;
			p += strspn(p, " ");
		}
		if (!found) {
			str_errf(msg, msglen,
			         "'%.40s' is not in [oauth] scopes", d->scope);
			return d;
		}
	}
	return NULL;
}

enum status
cfg_scope_descs_render(const struct config *cfg, struct buf *out)
{
	enum status rc;

	rc = buf_printf(out,
	                "\n[%s]\n; what the consent page says for each "
	                "scope (unset: the scope itself)\n",
	                CFG_SCOPE_DESCS_SECTION);
	if (rc == ST_OK && cfg->oauth.nscope_descs == 0)
		rc = buf_adds(out, "; notes.read = See your notes\n");
	for (size_t i = 0; i < cfg->oauth.nscope_descs && rc == ST_OK; i++) {
		const struct cfg_scope_desc *d = &cfg->oauth.scope_descs[i];
		const char *why;

		if (!cfg_value_fits_ini(str_of(d->text), &why) ||
		    strlen(d->scope) + 3 + strlen(d->text) > LINE_MAX_CHARS) {
			buf_free(out);
			return ST_INVALID;
		}
		rc = buf_printf(out, "%s = %s\n", d->scope, d->text);
	}
	return rc;
}

void
cfg_scope_descs_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->oauth.nscope_descs; i++) {
		free(cfg->oauth.scope_descs[i].scope);
		free(cfg->oauth.scope_descs[i].text);
	}
	free(cfg->oauth.scope_descs);
	cfg->oauth.scope_descs = NULL;
	cfg->oauth.nscope_descs = 0;
}

const char *
cfg_scope_description(const struct config *cfg, const char *p, size_t len)
{
	const struct cfg_scope_desc *d = desc_find(cfg, p, len);

	return d != NULL ? d->text : NULL;
}

void
cfg_name_from_issuer(const char *url, size_t max, char *buf, size_t bufsz)
{
	struct url_parts u;
	struct str h = {"", 0};
	const char *dot;

	memset(&u, 0, sizeof(u));
	if (url != NULL && cfg_url_split(url, &u))
		h = u.host;
	if (h.len > max && !u.ipv6) {
		dot = memchr(h.p, '.', h.len);
		if (dot != NULL && dot > h.p)
			h.len = (size_t)(dot - h.p);
	}
	if (h.len > max)
		h.len = max;
	if (bufsz == 0)
		return;
	if (h.len >= bufsz)
		h.len = bufsz - 1;
	memcpy(buf, h.p, h.len);
	buf[h.len] = '\0';
}

const char *
cfg_service_name(const struct config *cfg, char *buf, size_t bufsz)
{
	if (cfg->service.name != NULL)
		return cfg->service.name;
	if (cfg->plugin.name_for_human != NULL)
		return cfg->plugin.name_for_human;
	cfg_name_from_issuer(cfg->server.issuer, bufsz, buf, bufsz);
	return buf;
}
