/*
 * The dynamic registration request parser (src/oauth/register_check.c).
 * Input: a request body. On success: at least one grant, client
 * credentials never for a public client, redirect URIs each acceptable
 * and present for the code grant, only server scopes, a name within its
 * cap, and the kept metadata parses again to the same result (what an
 * RFC 7592 update sends back is accepted as it was). Every refusal says
 * why.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oauth/oauth_int.h"
#include "oauth/register_int.h"

static struct config *cfg;

/* The checks of an accepted request, and the round trip of its doc. */
static void
check_ok(const struct reg_meta *m)
{
	struct reg_meta again;
	char *doc, *doc2;

	if (m->doc == NULL || m->name == NULL || m->scope == NULL ||
	    m->redirect_uris == NULL || m->grants == 0 ||
	    (m->grants & ~STORE_GRANTS_ALL) != 0 ||
	    (m->is_public && (m->grants & STORE_GRANT_CLIENT_CREDENTIALS)) ||
	    ((m->grants & STORE_GRANT_CODE) && m->redirect_uris[0] == '\0') ||
	    strlen(m->name) > REG_NAME_MAX_BYTES ||
	    !fuzz_each_line(m->redirect_uris, reg_redirect_ok))
		abort();
	for (const char *p = m->scope; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n == 0 || !oauth_scope_has(cfg->oauth.scopes, p, n))
			abort();
		p += n;
		if (*p == ' ')
			p++;
	}
	doc = json_dumps(m->doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (doc == NULL)
		abort();
	if (reg_meta_parse(str_of(doc), cfg, &again) != REG_OK ||
	    again.grants != m->grants || again.is_public != m->is_public ||
	    strcmp(again.redirect_uris, m->redirect_uris) != 0 ||
	    strcmp(again.scope, m->scope) != 0)
		abort();
	doc2 = json_dumps(again.doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (doc2 == NULL || strcmp(doc, doc2) != 0)
		abort();
	free(doc);
	free(doc2);
	reg_meta_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_meta m;
	char err[256];

	if (cfg == NULL &&
	    cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK)
		abort();
	if (reg_meta_parse((struct str){(const char *)data, size}, cfg, &m) ==
	    REG_OK)
		check_ok(&m);
	else if (m.why == NULL)
		abort();
	reg_meta_free(&m);
	return 0;
}
