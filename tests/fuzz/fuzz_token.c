/*
 * The token endpoint (src/oauth/token.c), every grant, end to end:
 * oauth_token_handle() itself runs on each input, with the body read by
 * oauth_params_read() (form or JSON), the client authenticated by
 * oauth_client_authenticate() (HTTP Basic or body), the grant_type
 * dispatched and the grant run against an in-memory SQLite store seeded
 * with three clients, a user, live, expired and used codes, and live,
 * rotated, expired and revoked refresh tokens (seed() below: the corpus
 * uses their values).
 *
 * Input: one byte, then the request.
 *   'f' form body; 'j' JSON body (Content-Type application/...)
 *   'F' / 'J' the same, with an Authorization header: the text up to the
 *       first '\n', the body after it
 *   'h' Content-Type line '\n' Authorization line '\n' body (an empty line:
 *       no such header)
 *   anything else: no Content-Type, the rest is the body
 *
 * Link seam: this file defines the few http_* functions the token code
 * calls (the request is a struct of this file, the answer is recorded
 * here), so src/http/server.c and libmicrohttpd are not linked in; and
 * clk_now_s(), so every run sees the same clock. If the token code starts
 * calling another http_* function, linking fails with "multiple
 * definition": add it here.
 *
 * The store is rebuilt after any run that may have changed it (an answer
 * 200, or a seeded code or refresh token presented), so every input runs
 * on the same store and a crash reproduces alone. Checks: one answer per
 * request, always Cache-Control: no-store; 200 only for a known grant,
 * with a bearer access token, the configured expires_in, a scope the
 * server knows and a refresh token except for client_credentials; errors
 * are 400 or 401 (the store never fails here, so 500 or 503 is a bug) with
 * an RFC 6749 §5.2 code, 401 exactly for invalid_client, with
 * WWW-Authenticate: Basic exactly when Basic was tried.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "fuzz.h"
#include "oauth/oauth_int.h"
#include "store/store.h"

#define NOW_S 1800000000 /* the clock of every run */

int LLVMFuzzerInitialize(int *, char ***);

/* The request, as the handler sees it through http.h, and its answer. */
struct http_req {
	const char *content_type;  /* NULL: none */
	const char *authorization; /* NULL: none */
	struct str body;           /* NUL-terminated */
	struct http_limits lim;
	unsigned answers;
	unsigned status;
	json_t *json;   /* the answer's body */
	bool no_store;  /* Cache-Control: no-store */
	bool www_basic; /* WWW-Authenticate: Basic ... */
};

/* ---- the link seam: src/core/clock.c and src/http/server.c ---- */

int64_t
clk_now_s(void)
{
	return NOW_S;
}

const char *
http_req_header(const struct http_req *req, const char *name)
{
	if (strcasecmp(name, "Content-Type") == 0)
		return req->content_type;
	if (strcasecmp(name, "Authorization") == 0)
		return req->authorization;
	return NULL;
}

struct str
http_req_body(const struct http_req *req)
{
	return req->body;
}

const struct http_limits *
http_req_limits(const struct http_req *req)
{
	return &req->lim;
}

const char *
http_req_peer(const struct http_req *req)
{
	(void)req;
	return "192.0.2.1";
}

enum status
http_resp_header(struct http_req *req, const char *name, const char *value)
{
	if (req->answers != 0)
		abort(); /* a header after the answer */
	if (strcasecmp(name, "Cache-Control") == 0 &&
	    strcmp(value, "no-store") == 0)
		req->no_store = true;
	if (strcasecmp(name, "WWW-Authenticate") == 0 &&
	    strncmp(value, "Basic ", 6) == 0)
		req->www_basic = true;
	return ST_OK;
}

enum status
http_respond_json(struct http_req *req, unsigned status, json_t *body)
{
	char *text;

	if (body == NULL)
		return ST_NOMEM;
	text = json_dumps(body, JSON_COMPACT);
	if (text == NULL)
		abort(); /* the server could not send it */
	free(text);
	if (req->answers++ != 0)
		abort(); /* answered twice */
	req->status = status;
	req->json = body;
	return ST_OK;
}

enum status
http_respond_error(struct http_req *req, unsigned status, const char *code,
                   const char *desc)
{
	json_t *o = json_object();

	if (o == NULL)
		return ST_NOMEM;
	json_object_set_new(o, "error", json_string(code));
	if (desc != NULL)
		json_object_set_new(o, "error_description", json_string(desc));
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK)
		abort(); /* this stub never fails */
	return http_respond_json(req, status, o);
}

/* Linked in with cors.c (its preflight answer); the token endpoint never
 * answers with text. */
enum status
http_respond_text(struct http_req *req, unsigned status,
                  const char *content_type, const char *text, size_t len)
{
	(void)req;
	(void)status;
	(void)content_type;
	(void)text;
	(void)len;
	abort();
}

/* ---- the store ---- */

static struct config *cfg;
static struct store *st;
static struct oauth_env env;

#define CONF_REDIRECT                                                          \
	"https://chat.openai.com/aip/plugin-0123abcd/oauth/callback"
#define PUB_REDIRECT "https://chatgpt.com/connector/oauth/cb-fuzz"
#define RESOURCE "https://api.example.com/"
/* RFC 7636 Appendix B: the verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
 */
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static const struct seed_client {
	const char *id, *secret, *redirect, *scope; /* secret NULL: public */
	bool chatgpt;
} clients[] = {
    {"fuzz-conf", "pa_cs_fuzz-conf-secret", CONF_REDIRECT, "", true},
    {"fuzz-pub", NULL, PUB_REDIRECT, "todo.read", false},
    {"fuzz-cc", "pa_cs_fuzz-cc-secret", "", "todo.read", false},
};

static const struct seed_code {
	const char *code, *client, *redirect, *scope, *challenge;
	const char *resource;
	int64_t family, expires_at, used_at;
} codes[] = {
    {"pa_ac_fuzz-conf-code", "fuzz-conf", CONF_REDIRECT, "todo.read todo.write",
     NULL, NULL, 1001, NOW_S + 120, 0},
    {"pa_ac_fuzz-pub-code", "fuzz-pub", PUB_REDIRECT, "todo.read", CHALLENGE,
     RESOURCE, 1002, NOW_S + 120, 0},
    {"pa_ac_fuzz-expired-code", "fuzz-conf", CONF_REDIRECT, "todo.read", NULL,
     NULL, 1003, NOW_S - 1, 0},
    {"pa_ac_fuzz-used-code", "fuzz-conf", CONF_REDIRECT, "todo.read", NULL,
     NULL, 1004, NOW_S + 120, NOW_S - 5},
};

static const struct seed_token {
	const char *token, *client, *scope, *audience;
	enum store_token_kind kind;
	int64_t family, expires_at, revoked_at, rotated_at;
} tokens[] = {
    {"pa_rt_fuzz-conf-refresh", "fuzz-conf", "todo.read todo.write", NULL,
     STORE_TOKEN_REFRESH, 2001, NOW_S + 86400, 0, 0},
    {"pa_rt_fuzz-pub-refresh", "fuzz-pub", "todo.read", RESOURCE,
     STORE_TOKEN_REFRESH, 2002, NOW_S + 86400, 0, 0},
    {"pa_rt_fuzz-grace-refresh", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_REFRESH, 2003, NOW_S + 86400, 0, NOW_S - 2},
    {"pa_rt_fuzz-reused-refresh", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_REFRESH, 2004, NOW_S + 86400, 0, NOW_S - 3600},
    {"pa_rt_fuzz-expired-refresh", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_REFRESH, 2005, NOW_S - 1, 0, 0},
    {"pa_rt_fuzz-revoked-refresh", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_REFRESH, 2006, NOW_S + 86400, NOW_S - 100, 0},
    {"pa_at_fuzz-conf-access", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_ACCESS, 2001, NOW_S + 3600, 0, 0},
    {"pa_at_fuzz-used-code-access", "fuzz-conf", "todo.read", NULL,
     STORE_TOKEN_ACCESS, 1004, NOW_S + 3600, 0, 0},
};

static void
must(enum status rc)
{
	if (rc != ST_OK)
		abort();
}

/* Opens a fresh in-memory store holding the seeds. */
static void
seed(void)
{
	char err[256] = "";
	int64_t uid = 0;
	size_t i;

	must(store_open("sqlite::memory:", &st, err, sizeof(err)));
	must(store_migrate(st, NULL, err, sizeof(err)));
	must(store_user_add(st, "alice",
	                    "$argon2id$v=19$m=19456,t=2,p=1$"
	                    "not-a-real-hash",
	                    &uid));
	for (i = 0; i < ARRAY_LEN(clients); i++) {
		struct store_client c;

		memset(&c, 0, sizeof(c));
		str_copy(c.id, sizeof(c.id), clients[i].id);
		c.name = (char *)(uintptr_t)clients[i].id;
		c.is_public = clients[i].secret == NULL;
		if (!c.is_public)
			sec_digest(clients[i].secret, strlen(clients[i].secret),
			           c.secret_digest);
		c.chatgpt = clients[i].chatgpt;
		/* As migration 003 left existing clients. */
		c.grants = c.is_public || c.chatgpt ? STORE_GRANTS_DEFAULT
		                                    : STORE_GRANTS_ALL;
		c.redirect_uris = (char *)(uintptr_t)clients[i].redirect;
		c.scope = (char *)(uintptr_t)clients[i].scope;
		c.created_at = NOW_S - 86400;
		must(store_client_add(st, &c));
	}
	for (i = 0; i < ARRAY_LEN(codes); i++) {
		struct store_code c;

		memset(&c, 0, sizeof(c));
		sec_digest(codes[i].code, strlen(codes[i].code), c.digest);
		c.client_id = (char *)(uintptr_t)codes[i].client;
		c.user_id = uid;
		c.redirect_uri = (char *)(uintptr_t)codes[i].redirect;
		c.scope = (char *)(uintptr_t)codes[i].scope;
		c.code_challenge = (char *)(uintptr_t)codes[i].challenge;
		c.resource = (char *)(uintptr_t)codes[i].resource;
		c.family_id = codes[i].family;
		c.expires_at = codes[i].expires_at;
		c.used_at = codes[i].used_at;
		c.created_at = NOW_S - 60;
		must(store_code_add(st, &c));
	}
	for (i = 0; i < ARRAY_LEN(tokens); i++) {
		struct store_token t;

		memset(&t, 0, sizeof(t));
		sec_digest(tokens[i].token, strlen(tokens[i].token), t.digest);
		t.kind = tokens[i].kind;
		t.client_id = (char *)(uintptr_t)tokens[i].client;
		t.user_id = uid;
		t.scope = (char *)(uintptr_t)tokens[i].scope;
		t.audience = (char *)(uintptr_t)tokens[i].audience;
		t.family_id = tokens[i].family;
		t.expires_at = tokens[i].expires_at;
		t.revoked_at = tokens[i].revoked_at;
		t.rotated_at = tokens[i].rotated_at;
		t.created_at = NOW_S - 3600;
		must(store_token_add(st, &t));
	}
	env.st = st;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256] = "";

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERR); /* token_refused on every input */
	must(sec_init());
	must(cfg_load(NULL, false, &cfg, err, sizeof(err)));
	/* The seeded grants' resource is one this server issues for. */
	if ((cfg->oauth.resources = strdup(RESOURCE)) == NULL)
		abort();
	memset(&env, 0, sizeof(env));
	env.cfg = cfg; /* no event writer: events == NULL */
	seed();
	return 0;
}

/* ---- the checks ---- */

/* True if s is one of the seeded codes or refresh tokens. */
static bool
seeded(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < ARRAY_LEN(codes); i++)
		if (strcmp(s, codes[i].code) == 0)
			return true;
	for (i = 0; i < ARRAY_LEN(tokens); i++)
		if (strcmp(s, tokens[i].token) == 0)
			return true;
	return false;
}

static const char *
json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* True if every space-separated token of list is one of the server's. */
static bool
known_scopes(const char *list)
{
	const char *p = list;

	if (p == NULL || *p == '\0')
		return false;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == 0 || !oauth_scope_has(cfg->oauth.scopes, p, n))
			return false;
		p += n;
		if (*p == ' ')
			p++;
	}
	return true;
}

static void
check_success(const struct http_req *req, const char *grant)
{
	const char *at = json_str(req->json, "access_token");
	const char *rt = json_str(req->json, "refresh_token");
	const char *tt = json_str(req->json, "token_type");
	json_t *ei = json_object_get(req->json, "expires_in");
	bool cc;

	if (grant == NULL || (strcmp(grant, "authorization_code") != 0 &&
	                      strcmp(grant, "refresh_token") != 0 &&
	                      strcmp(grant, "client_credentials") != 0))
		abort();
	cc = strcmp(grant, "client_credentials") == 0;
	if (at == NULL || strncmp(at, SEC_PREFIX_ACCESS, 6) != 0 ||
	    strlen(at) != 6 + 43 || tt == NULL || strcmp(tt, "bearer") != 0 ||
	    !json_is_integer(ei) ||
	    json_integer_value(ei) != (json_int_t)cfg->oauth.access_ttl ||
	    !known_scopes(json_str(req->json, "scope")))
		abort();
	if (cc ? rt != NULL
	       : (rt == NULL || strncmp(rt, SEC_PREFIX_REFRESH, 6) != 0 ||
	          strlen(rt) != 6 + 43))
		abort();
}

static void
check_error(const struct http_req *req)
{
	static const char *const known[] = {
	    "invalid_request",     "invalid_client",         "invalid_grant",
	    "unauthorized_client", "unsupported_grant_type", "invalid_scope",
	    "invalid_target"};
	const char *e = json_str(req->json, "error");
	bool basic;
	size_t i;

	if (req->status != 400 && req->status != 401)
		abort(); /* 500 or 503: a bug, or the store failed */
	if (e == NULL)
		abort();
	for (i = 0; i < ARRAY_LEN(known); i++)
		if (strcmp(e, known[i]) == 0)
			break;
	if (i == ARRAY_LEN(known))
		abort();
	if ((req->status == 401) != (strcmp(e, "invalid_client") == 0))
		abort();
	basic = req->authorization != NULL &&
	        strncasecmp(req->authorization, "Basic ", 6) == 0;
	if (req->www_basic != (req->status == 401 && basic))
		abort();
}

/* Splits off data[*off..] up to '\n' (or the end) as a new string; NULL
 * when empty. */
static char *
line(const uint8_t *data, size_t size, size_t *off)
{
	const uint8_t *nl = memchr(data + *off, '\n', size - *off);
	size_t n = nl != NULL ? (size_t)(nl - (data + *off)) : size - *off;
	char *s = NULL;

	if (n > 0)
		s = fuzz_strndup(data + *off, n);
	*off += n + (nl != NULL);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req req;
	char *ct = NULL, *auth = NULL, *body;
	size_t off = 1;
	struct form f;
	const char *why = NULL;
	bool dirty;

	if (size == 0)
		return 0;
	memset(&req, 0, sizeof(req));
	switch (data[0]) {
	case 'f':
	case 'F':
		req.content_type = "application/x-www-form-urlencoded";
		break;
	case 'j':
	case 'J':
		req.content_type = "application/json";
		break;
	case 'h':
		ct = line(data, size, &off);
		req.content_type = ct;
		break;
	}
	if (data[0] == 'F' || data[0] == 'J' || data[0] == 'h') {
		auth = line(data, size, &off);
		req.authorization = auth;
	}
	body = fuzz_strndup(data + off, size - off);
	req.body = (struct str){body, size - off};
	req.lim = (struct http_limits){.params_max = OAUTH_PARAMS_MAX,
	                               .json_max_depth = 32};

	if (oauth_token_handle(&req, &env) != ST_OK || req.answers != 1 ||
	    !req.no_store)
		abort();

	/* What the handler read, for the checks and the store's state. */
	dirty = req.status == 200;
	if (oauth_params_read(&req, &f, &why) == OAUTH_OK) {
		if (req.status == 200)
			check_success(&req, form_get(&f, "grant_type"));
		dirty |= seeded(form_get(&f, "code")) ||
		         seeded(form_get(&f, "refresh_token"));
	} else if (req.status == 200) {
		abort(); /* a token for an unreadable request */
	}
	form_free(&f);
	if (req.status != 200)
		check_error(&req);
	if (dirty) {
		store_close(st);
		seed();
	}
	json_decref(req.json);
	free(body);
	free(ct);
	free(auth);
	return 0;
}
