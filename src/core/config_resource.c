/*
 * RFC 8707 resource indicators: which resources plugauth issues tokens
 * for. The gateway is one, under two names: the issuer (the resource of
 * the protected-resource metadata at the root) and the issuer followed by
 * [gateway] path (the resource of the metadata at the path-inserted URL,
 * RFC 9728 §3.1). [oauth] resources adds others, such as MCP servers that
 * check tokens themselves. A token bound to one of those is refused by the
 * gateway.
 *
 * Two resource URIs name the same resource if they are equal but for one
 * trailing '/': clients normalise "https://host" to "https://host/".
 */
#include <string.h>

#include "core/config.h"
#include "core/config_int.h"
#include "core/str.h"

/* a[alen] and b[blen] are the same resource URI. */
static bool
same(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen > 0 && a[alen - 1] == '/')
		alen--;
	if (blen > 0 && b[blen - 1] == '/')
		blen--;
	return alen == blen && memcmp(a, b, alen) == 0;
}

bool
cfg_resource_same(const char *a, const char *b)
{
	return same(a, strlen(a), b, strlen(b));
}

bool
cfg_resource_is_gateway(const struct config *cfg, const char *r)
{
	const char *iss = cfg->server.issuer;
	const char *path = cfg->gateway.path;
	size_t ni = strlen(iss), nr = strlen(r);

	if (same(r, nr, iss, ni))
		return true;
	/* issuer + [gateway] path, which starts with '/'. */
	return nr > ni && memcmp(r, iss, ni) == 0 &&
	       same(r + ni, nr - ni, path, strlen(path));
}

bool
cfg_resource_known(const struct config *cfg, const char *r)
{
	const char *p = cfg->oauth.resources;
	size_t nr = strlen(r);

	if (cfg_resource_is_gateway(cfg, r))
		return true;
	while (p != NULL && *p != '\0') {
		size_t n;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n > 0 && same(p, n, r, nr))
			return true;
		p += n;
	}
	return false;
}

bool
cfg_resources_ok(const char *list, char *msg, size_t msglen)
{
	char one[CFG_RESOURCE_MAX + 1];
	struct url_parts u;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t n;

		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0)
			break;
		if (n > CFG_RESOURCE_MAX) {
			str_errf(msg, msglen, "a resource longer than %d bytes",
			         CFG_RESOURCE_MAX);
			return false;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		p += n;
		if (!cfg_url_split(one, &u) || u.userinfo || u.query ||
		    u.fragment) {
			str_errf(msg, msglen,
			         "'%s' is not an absolute http(s) URL without "
			         "user info, query or fragment",
			         one);
			return false;
		}
		if (!u.https && !cfg_url_is_loopback(one)) {
			str_errf(msg, msglen,
			         "'%s' must use https unless the host is "
			         "loopback",
			         one);
			return false;
		}
	}
	return true;
}
