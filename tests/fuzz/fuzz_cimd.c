/*
 * Client ID metadata documents (src/oauth/cimd.c): the client ID URL
 * check, the Cache-Control lifetime and the document parser, with the
 * default configuration. Input: URL '\0' document '\0' Cache-Control.
 * Checks: an accepted URL is https with a path, no userinfo or fragment,
 * within the length cap; a lifetime is within its bounds; an accepted
 * document gives a public client whose id is the URL, with acceptable
 * redirect URIs, no scope list, and kept metadata naming the URL that
 * parses again to the same client; every refusal says why and gives no
 * client.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oauth/cimd.h"
#include "oauth/register_int.h"

static struct config *cfg;

static void
check_url(const char *url)
{
	size_t auth, path;

	if (!cimd_url_ok(url))
		return;
	auth = strcspn(url + 8, "/?#");
	path = 8 + auth;
	if (strncmp(url, "https://", 8) != 0 ||
	    strlen(url) > CIMD_URL_MAX_BYTES || url[path] != '/' ||
	    strchr(url, '#') != NULL || memchr(url + 8, '@', auth) != NULL ||
	    (auth > 0 && url[8] == '.') || strstr(url + 8, "..") == url + 8)
		abort();
	/* No "." or ".." segment before the query. */
	for (const char *p = url + path; *p == '/' && p[1] != '?';) {
		size_t n = strcspn(p + 1, "/?");

		if ((n == 1 && p[1] == '.') ||
		    (n == 2 && p[1] == '.' && p[2] == '.'))
			abort();
		p += 1 + n;
	}
}

static void
check_client(const struct store_client *c, const char *url)
{
	struct store_client *again = NULL;
	const char *why = NULL;
	json_t *md;

	if (c == NULL || strcmp(c->id, url) != 0 || !c->is_public ||
	    c->origin != STORE_ORIGIN_METADATA_DOC || c->scope == NULL ||
	    c->scope[0] != '\0' || (c->grants & STORE_GRANT_CODE) == 0 ||
	    (c->grants & STORE_GRANT_CLIENT_CREDENTIALS) != 0 ||
	    c->redirect_uris == NULL || c->redirect_uris[0] == '\0' ||
	    !fuzz_each_line(c->redirect_uris, reg_redirect_ok) ||
	    c->name == NULL || strlen(c->name) > REG_NAME_MAX_BYTES ||
	    c->metadata == NULL)
		abort();
	md = json_loads(c->metadata, 0, NULL);
	if (md == NULL ||
	    strcmp(json_string_value(json_object_get(md, "client_id")) != NULL
	               ? json_string_value(json_object_get(md, "client_id"))
	               : "",
	           url) != 0)
		abort();
	json_decref(md);
	if (cimd_doc_parse(str_of(c->metadata), url, cfg, &again, &why) !=
	        CIMD_OK ||
	    strcmp(again->redirect_uris, c->redirect_uris) != 0 ||
	    strcmp(again->name, c->name) != 0 || again->grants != c->grants)
		abort();
	store_client_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[3], err[256];
	struct store_client *c = NULL;
	const char *why = NULL;
	unsigned ttl;

	if (cfg == NULL &&
	    cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK)
		abort();
	fuzz_split(data, size, part, 3);
	check_url(part[0]);
	ttl = cimd_ttl_of(part[2]);
	if (ttl < CIMD_TTL_MIN_S || ttl > CIMD_TTL_MAX_S)
		abort();
	if (strlen(part[0]) <= CIMD_URL_MAX_BYTES) {
		if (cimd_doc_parse(str_of(part[1]), part[0], cfg, &c, &why) ==
		    CIMD_OK)
			check_client(c, part[0]);
		else if (why == NULL || c != NULL)
			abort();
	}
	store_client_free(c);
	for (size_t i = 0; i < 3; i++)
		free(part[i]);
	return 0;
}
