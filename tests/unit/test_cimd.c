/* oauth/cimd: which URLs may be client IDs, which addresses a metadata
 * document fetch may connect to, Cache-Control lifetimes, the document
 * checks, and storing a metadata document client. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/cimd.h"

#define U "https://app.example/client.json"

static const char *const url_ok[] = {
    U,
    "https://app.example/",
    "https://app.example:8443/c?x=1",
    "https://[2001:db8::1]/c",
    "https://app.example/a.b/..c/c..",
    "https://app.example/%2e%2ex",
};

static const char *const url_bad[] = {
    "",
    "http://app.example/client.json",  /* not https */
    "HTTPS://app.example/client.json", /* not as the draft spells it */
    "https://app.example",             /* no path */
    "https://app.example?x=1",
    "https://app.example/c#frag", /* fragment */
    "https://app.example/c#",
    "https://user@app.example/c", /* credentials */
    "https://user:pw@app.example/c",
    "https://app.example/./c", /* dot segments */
    "https://app.example/a/../c",
    "https://app.example/a/..",
    "https://app.example/a/.?x",
    "https://app.example/%2e/c",
    "https://app.example/.%2E/c",
    "https://app.example/%2e%2e",
    "https://app example/c", /* bytes a browser reads otherwise */
    "https://app.example/c\\d",
    "https://app.example/c\x7f",
    "https:///c",
    "https://../c", /* odd hosts */
    "https://a..b/c",
    "https://.a/c",
    "https://a./c",
    "https://a%2f/c",
    "https://a_b/c",
    "app.example/c",
};

static void
test_url_predicate(void **state)
{
	char longer[CIMD_URL_MAX_BYTES + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(url_ok) / sizeof(url_ok[0]); i++)
		if (!cimd_url_ok(url_ok[i]))
			fail_msg("refused: %s", url_ok[i]);
	for (size_t i = 0; i < sizeof(url_bad) / sizeof(url_bad[0]); i++)
		if (cimd_url_ok(url_bad[i]))
			fail_msg("accepted: %s", url_bad[i]);
	/* 2048 bytes pass, 2049 do not. */
	memset(longer, 'a', sizeof(longer));
	memcpy(longer, "https://app.example/", 20);
	longer[CIMD_URL_MAX_BYTES] = '\0';
	assert_true(cimd_url_ok(longer));
	longer[CIMD_URL_MAX_BYTES] = 'a';
	longer[CIMD_URL_MAX_BYTES + 1] = '\0';
	assert_false(cimd_url_ok(longer));
	assert_true(cimd_url_like("HTTPS://x/"));
	assert_true(cimd_url_like("http:x"));
	assert_false(cimd_url_like("0123456789abcdef0123456789abcdef"));
}

static void
test_host_listed(void **state)
{
	(void)state;
	assert_true(cimd_host_listed("chatgpt.com claude.ai",
	                             "https://claude.ai/oauth/client.json"));
	assert_true(cimd_host_listed("127.0.0.1", "https://127.0.0.1:8443/c"));
	assert_true(cimd_host_listed("::1", "https://[::1]:8443/c"));
	assert_true(cimd_host_listed("ChatGPT.com", "https://chatgpt.com/c"));
	assert_false(
	    cimd_host_listed("chatgpt.com", "https://chatgpt.com.evil/c"));
	assert_false(
	    cimd_host_listed("chatgpt.com", "https://evil.chatgpt.co/c"));
	assert_false(
	    cimd_host_listed("chatgpt.com", "https://x@chatgpt.com/c"));
	assert_false(cimd_host_listed(NULL, "https://chatgpt.com/c"));
	assert_false(cimd_host_listed("", "https://chatgpt.com/c"));
}

static bool
v4(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return cimd_addr_public((struct sockaddr *)&s, sizeof(s));
}

static bool
v6(const char *a)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};

	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return cimd_addr_public((struct sockaddr *)&s, sizeof(s));
}

static void
test_addr_predicate(void **state)
{
	static const char *const v4_refused[] = {
	    "0.0.0.0",         "0.1.2.3",        "10.0.0.1",
	    "10.255.255.255",  "100.64.0.1",     "100.127.255.255",
	    "127.0.0.1",       "127.1.2.3",      "169.254.169.254",
	    "172.16.0.1",      "172.31.255.255", "192.168.1.1",
	    "192.0.0.8",       "192.0.2.1",      "198.18.0.1",
	    "198.51.100.7",    "203.0.113.9",    "224.0.0.1",
	    "239.255.255.250", "240.0.0.1",      "255.255.255.255",
	};
	static const char *const v4_public[] = {
	    "1.1.1.1",     "8.8.8.8",        "100.63.255.255",
	    "100.128.0.1", "172.15.255.255", "172.32.0.1",
	    "192.169.0.1", "169.253.0.1",    "223.255.255.254"};
	static const char *const v6_refused[] = {"::",
	                                         "::1",
	                                         "fe80::1",
	                                         "febf::1",
	                                         "fc00::1",
	                                         "fd12:3456::1",
	                                         "ff02::1",
	                                         "::ffff:127.0.0.1",
	                                         "::ffff:10.1.2.3",
	                                         "::ffff:169.254.169.254",
	                                         "::127.0.0.1",
	                                         "64:ff9b::a00:1",
	                                         "2002:c0a8:101::1",
	                                         "2001:db8::1",
	                                         "fec0::1",
	                                         "100::1"};
	static const char *const v6_public[] = {
	    "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:1.1.1.1",
	    "64:ff9b::808:808", "2002:808:808::1"};
	struct sockaddr sa = {.sa_family = AF_UNIX};

	(void)state;
	for (size_t i = 0; i < sizeof(v4_refused) / sizeof(*v4_refused); i++)
		if (v4(v4_refused[i]))
			fail_msg("public: %s", v4_refused[i]);
	for (size_t i = 0; i < sizeof(v4_public) / sizeof(*v4_public); i++)
		if (!v4(v4_public[i]))
			fail_msg("refused: %s", v4_public[i]);
	for (size_t i = 0; i < sizeof(v6_refused) / sizeof(*v6_refused); i++)
		if (v6(v6_refused[i]))
			fail_msg("public: %s", v6_refused[i]);
	for (size_t i = 0; i < sizeof(v6_public) / sizeof(*v6_public); i++)
		if (!v6(v6_public[i]))
			fail_msg("refused: %s", v6_public[i]);
	assert_false(cimd_addr_public(&sa, sizeof(sa)));
	assert_false(cimd_addr_public(NULL, 0));
	/* A short sockaddr_in is not read past its end. */
	assert_false(cimd_addr_public(&sa, 2));
}

static void
test_ttl(void **state)
{
	(void)state;
	assert_int_equal(cimd_ttl_of(NULL), CIMD_TTL_DEFAULT_S);
	assert_int_equal(cimd_ttl_of("public"), CIMD_TTL_DEFAULT_S);
	assert_int_equal(cimd_ttl_of("public, max-age=3600"), 3600);
	assert_int_equal(cimd_ttl_of("max-age=\"600\""), 600);
	assert_int_equal(cimd_ttl_of("max-age=5"), CIMD_TTL_MIN_S);
	assert_int_equal(cimd_ttl_of("max-age=99999999999999999999"),
	                 CIMD_TTL_MAX_S);
	assert_int_equal(cimd_ttl_of("max-age=x"), CIMD_TTL_DEFAULT_S);
	assert_int_equal(cimd_ttl_of("no-store"), CIMD_TTL_MIN_S);
	assert_int_equal(cimd_ttl_of("max-age=3600, no-cache"),
	                 3600); /* the first directive that says */
}

static struct config *
cfg_new(void)
{
	char err[256];
	struct config *cfg = NULL;

	assert_int_equal(cfg_load(NULL, false, &cfg, err, sizeof(err)), ST_OK);
	return cfg;
}

static void
test_doc_parse(void **state)
{
	static const struct {
		const char *body;
		enum cimd_fail want;
	} cases[] = {
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"client_name\":\"App\",\"token_endpoint_auth_method\":"
	     "\"none\",\"scope\":\"openid unknown.scope\"}",
	     CIMD_OK},
	    /* Absent token_endpoint_auth_method: none. */
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"]}",
	     CIMD_OK},
	    {"{\"client_id\":\"" U "x\",\"redirect_uris\":[\"https://a/cb\"]}",
	     CIMD_CLIENT_ID_MISMATCH},
	    {"{\"redirect_uris\":[\"https://a/cb\"]}", CIMD_CLIENT_ID_MISMATCH},
	    {"{\"client_id\":7,\"redirect_uris\":[\"https://a/cb\"]}",
	     CIMD_CLIENT_ID_MISMATCH},
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"token_endpoint_auth_method\":\"private_key_jwt\"}",
	     CIMD_AUTH_METHOD},
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"token_endpoint_auth_method\":\"client_secret_post\"}",
	     CIMD_AUTH_METHOD},
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"token_endpoint_auth_method\":null}",
	     CIMD_AUTH_METHOD},
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"http://a/cb\"]}",
	     CIMD_INVALID},
	    {"{\"client_id\":\"" U "\"}", CIMD_INVALID}, /* no redirect_uris */
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"grant_types\":[\"client_credentials\"]}",
	     CIMD_INVALID},
	    {"{\"client_id\":\"" U "\",\"redirect_uris\":[\"https://a/cb\"],"
	     "\"client_name\":\"a\\u202eb\"}",
	     CIMD_INVALID}, /* a bidi override in the name */
	    {"{\"client_id\":\"" U "\",\"client_id\":\"" U "\"}", CIMD_INVALID},
	    {"[1]", CIMD_INVALID},
	    {"", CIMD_INVALID},
	    {"{\"a\":[[[[[1]]]]]}", CIMD_INVALID},
	};
	struct config *cfg = cfg_new();
	struct store_client *c;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		if (cimd_doc_parse(str_of(cases[i].body), U, cfg, &c, &why) !=
		    cases[i].want)
			fail_msg("case %zu: %s (%s)", i, cases[i].body,
			         why != NULL ? why : "-");
		if (cases[i].want == CIMD_OK) {
			assert_non_null(c);
			assert_string_equal(c->id, U);
			assert_true(c->is_public);
			assert_int_equal(c->origin, STORE_ORIGIN_METADATA_DOC);
			assert_string_equal(c->scope, ""); /* scope ignored */
			assert_string_equal(c->redirect_uris, "https://a/cb");
			assert_non_null(strstr(c->metadata, "\"client_id\""));
			store_client_free(c);
		} else {
			assert_null(c);
			assert_non_null(why);
		}
	}
	cfg_free(cfg);
}

/* Stored, refreshed, and never taking over another client's row. */
static void
test_store_put_document(void **state)
{
	struct store *st = NULL;
	struct store_client c, *got = NULL, **all = NULL;
	char err[128];
	size_t n = 0;
	unsigned swept = 0;

	(void)state;
	assert_int_equal(store_create("sqlite::memory:", &st, err, sizeof(err)),
	                 ST_OK);
	assert_int_equal(store_migrate(st, NULL, NULL, 0), ST_OK);
	memset(&c, 0, sizeof(c));
	memset(c.id, 'a', sizeof(c.id) - 1); /* the longest id: 2048 */
	memcpy(c.id, "https://x/", 10);
	c.name = "One";
	c.redirect_uris = "https://a/cb";
	c.scope = "";
	c.metadata = "{}";
	c.is_public = true;
	assert_int_equal(store_client_put_document(st, &c), ST_OK);
	c.name = "Two";
	c.redirect_uris = "https://b/cb";
	assert_int_equal(store_client_put_document(st, &c), ST_OK);
	assert_int_equal(store_client_get(st, c.id, &got), ST_OK);
	assert_string_equal(got->name, "Two");
	assert_string_equal(got->redirect_uris, "https://b/cb");
	assert_int_equal(got->origin, STORE_ORIGIN_METADATA_DOC);
	assert_true(got->is_public);
	store_client_free(got);
	assert_int_equal(store_client_list(st, &all, &n), ST_OK);
	assert_int_equal(n, 1);
	store_client_list_free(all, n);
	/* Not public: refused. */
	c.is_public = false;
	assert_int_equal(store_client_put_document(st, &c), ST_INVALID);
	/* A CLI client's id is not overwritten. */
	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), "https://cli.example/c");
	c.name = "CLI";
	c.is_public = true;
	assert_int_equal(store_client_add(st, &c), ST_OK);
	c.name = "Doc";
	c.redirect_uris = "https://a/cb";
	c.scope = "";
	c.metadata = "{}";
	assert_int_equal(store_client_put_document(st, &c), ST_EXISTS);
	assert_int_equal(store_client_get(st, c.id, &got), ST_OK);
	assert_string_equal(got->name, "CLI");
	assert_int_equal(got->origin, STORE_ORIGIN_CLI);
	store_client_free(got);
	/* The unused document client is swept, the CLI client stays. */
	assert_int_equal(store_client_sweep_unused(st, INT64_MAX / 2,
	                                           INT64_MAX / 2, 10, &swept),
	                 ST_OK);
	assert_int_equal(swept, 1);
	assert_int_equal(store_client_list(st, &all, &n), ST_OK);
	assert_int_equal(n, 1);
	assert_string_equal(all[0]->id, "https://cli.example/c");
	store_client_list_free(all, n);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_predicate),
	    cmocka_unit_test(test_host_listed),
	    cmocka_unit_test(test_addr_predicate),
	    cmocka_unit_test(test_ttl),
	    cmocka_unit_test(test_doc_parse),
	    cmocka_unit_test(test_store_put_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
