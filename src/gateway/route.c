/*
 * [gateway.scopes] at the gateway: the scopes a proxied request needs,
 * [gateway] scope and those of the rule naming its method whose prefix is
 * the longest its path starts with (a rule without a prefix has [gateway]
 * path; a HEAD request no rule names takes GET's rule, since most
 * frameworks answer HEAD with the GET handler). A method no rule names
 * needs [gateway] scope only.
 *
 * Prefix and path are compared after one percent-decoding, without path
 * parameters (";x"), with runs of '/' as one and in any case
 * (gw_route_path()): however an upstream reads "/api/%61dmin/",
 * "/api//admin/", "/api/admin;x/" or "/API/Admin/", the rule for
 * "/api/admin/" applies. That errs towards more scopes, never fewer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gateway_int.h"

struct gw_route {
	char prefix[GW_ROUTE_PATH_BYTES]; /* as gw_route_path() */
	size_t len;
	const char *methods; /* borrowed from the config */
	char *need;          /* [gateway] scope and the rule's */
};

/* [gateway] scope (may be NULL) and the words of scope it lacks. */
static char *
need_join(const char *gwscope, const char *scope)
{
	struct buf b;
	const char *p, *e;
	enum status rc = ST_OK;

	buf_init(&b, 65536);
	if (gwscope != NULL)
		rc = buf_adds(&b, gwscope);
	for (p = scope; rc == ST_OK; p = e + 1) {
		e = p + strcspn(p, " ");
		if (gwscope == NULL ||
		    !str_list_has(gwscope, p, (size_t)(e - p))) {
			if (b.len > 0)
				rc = buf_add(&b, " ", 1);
			if (rc == ST_OK)
				rc = buf_add(&b, p, (size_t)(e - p));
		}
		if (*e == '\0')
			break;
	}
	return rc == ST_OK ? buf_take(&b) : NULL;
}

enum status
gw_routes_new(struct gw_env *gw)
{
	const struct config *cfg = gw->cfg;

	if (cfg->gateway.nrules == 0)
		return ST_OK;
	gw->routes = calloc(cfg->gateway.nrules, sizeof(*gw->routes));
	if (gw->routes == NULL)
		return ST_NOMEM;
	gw->nroutes = cfg->gateway.nrules;
	for (size_t i = 0; i < gw->nroutes; i++) {
		const struct cfg_gw_rule *r = &cfg->gateway.rules[i];
		struct gw_route *rt = &gw->routes[i];

		gw_route_path(r->prefix != NULL ? r->prefix : cfg->gateway.path,
		              rt->prefix, sizeof(rt->prefix));
		rt->len = strlen(rt->prefix);
		rt->methods = r->methods;
		if ((rt->need = need_join(gw->scope, r->scope)) == NULL)
			return ST_NOMEM;
	}
	return ST_OK;
}

void
gw_routes_free(struct gw_env *gw)
{
	for (size_t i = 0; i < gw->nroutes; i++)
		free(gw->routes[i].need);
	free(gw->routes);
	gw->routes = NULL;
	gw->nroutes = 0;
}

static const struct gw_route *
route_find(const struct gw_env *gw, const char *method, const char *path)
{
	const struct gw_route *best = NULL;
	size_t len = strlen(path);

	for (size_t i = 0; i < gw->nroutes; i++) {
		const struct gw_route *rt = &gw->routes[i];

		if (rt->len > len ||
		    strncasecmp(path, rt->prefix, rt->len) != 0 ||
		    !str_list_has(rt->methods, method, strlen(method)))
			continue;
		if (best == NULL || rt->len > best->len)
			best = rt;
	}
	return best;
}

const char *
gw_route_need(const struct gw_env *gw, const struct http_req *req)
{
	const struct gw_route *rt;
	const char *m = http_req_method(req);
	char path[GW_ROUTE_PATH_BYTES];

	if (gw->nroutes == 0)
		return gw->scope;
	/* Cut to the longest prefix (and one more byte): enough to compare. */
	gw_route_path(http_req_target(req), path, sizeof(path));
	rt = route_find(gw, m, path);
	if (rt == NULL && strcmp(m, "HEAD") == 0)
		rt = route_find(gw, "GET", path);
	return rt != NULL ? rt->need : gw->scope;
}
