/* client list's two shapes: the text table, and the client as --json shows
 * it (client add and client update print it too). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "oauth/oauth.h"

/* "authorization_code,refresh_token" for the grants in mask. */
static const char *
grants_text(unsigned mask, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned bit = 1; bit <= STORE_GRANTS_ALL; bit <<= 1) {
		const char *g = oauth_grant_name(bit);
		int k;

		if ((mask & bit) == 0 || g == NULL)
			continue;
		k = snprintf(out + o, outsz - o, "%s%s", o > 0 ? "," : "", g);
		if (k < 0 || (size_t)k >= outsz - o)
			break;
		o += (size_t)k;
	}
	return out;
}

json_t *
cli_client_json(const struct config *cfg, const struct store_client *c)
{
	json_t *o, *uris, *grants;
	const char *p;
	char safe[CLI_NAME_SAFE_BYTES];

	/* scope: what the client may get; scope_all: it has no list of its
	 * own, so it gets every scope of [oauth] scopes, now and later. */
	o = json_pack(
	    "{s:s, s:s, s:s, s:b, s:b, s:b, s:I}", "client_id", c->id, "name",
	    str_utf8_ok(str_of(c->name)) ? c->name
	                                 : client_name_safe(c->name, safe),
	    "scope", c->scope[0] != '\0' ? c->scope : cfg->oauth.scopes,
	    "scope_all", c->scope[0] == '\0', "public", c->is_public, "chatgpt",
	    c->chatgpt, "created_at", (json_int_t)c->created_at);
	if (o == NULL)
		return NULL;
	grants = json_array();
	for (unsigned bit = 1; bit <= STORE_GRANTS_ALL; bit <<= 1)
		if ((c->grants & bit) != 0 && oauth_grant_name(bit) != NULL)
			json_array_append_new(
			    grants, json_string(oauth_grant_name(bit)));
	json_object_set_new(o, "grant_types", grants);
	uris = json_array();
	for (p = c->redirect_uris; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "\n");

		json_array_append_new(uris, json_stringn(p, n));
		p += n;
		if (*p == '\n')
			p++;
	}
	json_object_set_new(o, "redirect_uris", uris);
	/* How the client came to be: cli, registered (RFC 7591). */
	json_object_set_new(o, "origin",
	                    json_string(store_client_origin_name(c->origin)));
	return o;
}

int
cli_client_table_print(const struct config *cfg, struct store_client *const *v,
                       size_t n)
{
	static const char *const head[] = {
	    "CLIENT_ID", "KIND", "ORIGIN", "NAME", "GRANTS", "SCOPE", "ADDED"};
	struct cli_table t;

	cli_table_init(&t, head, ARRAY_LEN(head));
	for (size_t i = 0; i < n; i++) {
		char safe[CLI_NAME_SAFE_BYTES], grants[128],
		    added[CLI_TIME_BYTES];
		const char *row[] = {
		    v[i]->id,
		    v[i]->is_public ? "public"
		    : v[i]->chatgpt ? "chatgpt"
		                    : "confidential",
		    store_client_origin_name(v[i]->origin),
		    client_name_safe(v[i]->name, safe),
		    grants_text(v[i]->grants, grants, sizeof(grants)),
		    v[i]->scope[0] != '\0' ? v[i]->scope : cfg->oauth.scopes,
		    cli_time_utc(v[i]->created_at, added),
		};

		cli_table_add(&t, row);
	}
	return cli_table_print(&t);
}
