/*
 * The authorization request (src/oauth/authorize.c) up to where the store
 * is needed. Input: flags, then query '\0' the client's registered
 * redirect URIs ('\n'-separated) '\0' the client's allowed scopes.
 * Flags: 'p' public client, 'c' a --chatgpt client, 'b' both, anything
 * else a confidential client.
 *
 * The query is decoded with form_parse() (the form body of a POST; a GET's
 * query reaches the same form through libmicrohttpd's decoder and
 * form_add()), then checked as oauth_authorize_handle() does once the
 * client is looked up: oauth_authz_check_redirect() and
 * oauth_authz_check_request() (TESTABLE), with the server's default
 * configuration. What passes must hold: redirect_uri registered (or the
 * ChatGPT family), state within 1024 bytes, response_type=code, S256 PKCE
 * where sent and always for a public client, resource one this server
 * issues tokens for (cfg_resource_known()), and a non-empty resolved
 * scope; every
 * refusal says why and whether it may be redirected. Then
 * oauth_authz_redirect_host() of the accepted redirect_uri.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz.h"
#include "oauth/oauth_int.h"

int LLVMFuzzerInitialize(int *, char ***);

static struct config *cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK)
		abort();
	return 0;
}

static void
check_redirect_ok(const struct oauth_authz *a)
{
	const char *uri = form_get(&a->f, "redirect_uri");
	const char *state = form_get(&a->f, "state");

	if (a->redirect == NULL || a->redirect[0] == '\0')
		abort();
	if (uri != NULL) {
		if (a->redirect != uri ||
		    !oauth_redirect_allowed(a->client, uri) ||
		    !((a->client->chatgpt && oauth_redirect_is_chatgpt(uri)) ||
		      fuzz_listed(a->client->redirect_uris, uri)))
			abort();
	} else if (a->client->chatgpt ||
	           strchr(a->client->redirect_uris, '\n') != NULL ||
	           a->redirect != a->client->redirect_uris) {
		abort(); /* only the one registered URI may be implied */
	}
	if (a->state != state || (state != NULL && strlen(state) > 1024))
		abort();
}

static void
check_request_ok(const struct oauth_authz *a)
{
	const char *rt = form_get(&a->f, "response_type");
	const char *method = form_get(&a->f, "code_challenge_method");

	if (rt == NULL || strcmp(rt, "code") != 0)
		abort();
	if ((a->client->grants & STORE_GRANT_CODE) == 0)
		abort(); /* no code for a client that may not redeem it */
	if (a->challenge != form_get(&a->f, "code_challenge"))
		abort();
	if (a->challenge != NULL &&
	    (method == NULL || strcmp(method, "S256") != 0 ||
	     !oauth_pkce_challenge_ok(a->challenge)))
		abort();
	if (a->challenge == NULL && (method != NULL || a->client->is_public))
		abort();
	if (a->resource != NULL && (strlen(a->resource) > CFG_RESOURCE_MAX ||
	                            !cfg_resource_known(cfg, a->resource)))
		abort();
	if (a->scope == NULL || a->scope[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[3];
	struct store_client c;
	struct oauth_env env;
	struct oauth_authz a;
	struct oauth_authz_err err = {.e = OAUTH_INVALID_REQUEST, .page = true};
	char host[256];
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = data[0];
	fuzz_split(data + 1, size - 1, part, 3);
	memset(&c, 0, sizeof(c));
	memcpy(c.id, "fuzzclient", sizeof("fuzzclient"));
	c.name = "Fuzz";
	c.is_public = flags == 'p' || flags == 'b';
	c.chatgpt = flags == 'c' || flags == 'b';
	/* 'g': a client registered for client_credentials only. */
	c.grants = flags == 'g' ? STORE_GRANT_CLIENT_CREDENTIALS
	                        : STORE_GRANTS_DEFAULT;
	c.redirect_uris = part[1];
	c.scope = part[2];
	memset(&env, 0, sizeof(env));
	env.cfg = cfg; /* no store: the checks must not need it */
	memset(&a, 0, sizeof(a));
	form_init(&a.f, OAUTH_PARAMS_MAX);
	if (form_parse(&a.f, (struct str){part[0], strlen(part[0])}) != ST_OK)
		goto out; /* the handler's error page */
	a.client = &c;    /* as authz_check_client() looks it up */

	if (!oauth_authz_check_redirect(&a, &err)) {
		if (err.why == NULL || err.reason == NULL || !err.page ||
		    err.e != OAUTH_INVALID_REQUEST)
			abort();
		goto out;
	}
	check_redirect_ok(&a);
	oauth_authz_redirect_host(&a, host, sizeof(host));
	if (strlen(host) >= sizeof(host) || strpbrk(host, "/?#@") != NULL)
		abort();

	err.why = NULL;
	if (!oauth_authz_check_request(&env, &a, &err)) {
		if (err.why == NULL || err.reason == NULL || err.page ||
		    (err.e != OAUTH_INVALID_REQUEST &&
		     err.e != OAUTH_UNSUPPORTED_RESPONSE_TYPE &&
		     err.e != OAUTH_UNAUTHORIZED_CLIENT &&
		     err.e != OAUTH_INVALID_SCOPE &&
		     err.e != OAUTH_INVALID_TARGET))
			abort();
		if (a.scope != NULL)
			abort(); /* nothing resolved on error */
		goto out;
	}
	check_request_ok(&a);
out:
	free(a.scope);
	free(a.scope_bad);
	form_free(&a.f);
	fuzz_free_all(part, 3);
	return 0;
}
