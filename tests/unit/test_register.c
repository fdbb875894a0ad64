/* oauth/register_check: the checks of a registration request (RFC 7591
 * §2, RFC 8252 §7.1, §7.3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "oauth/register_int.h"

static const char *const redirect_ok[] = {
    "https://app.example/cb",
    "https://app.example:8443/cb?x=1",
    "http://127.0.0.1/cb",
    "http://127.0.0.1:5555/cb",
    "http://[::1]:80/cb",
    "http://localhost:3000/callback",
    "com.example.app:/oauth2redirect",
    "com.example.app://cb",
};

static const char *const redirect_bad[] = {
    "",
    "http://app.example/cb",       /* http off loopback */
    "https://app.example/cb#frag", /* fragment */
    "https://user@app.example/cb", /* userinfo */
    "https://user:pw@app.example/cb",
    "http://127.0.0.1.evil.example/cb",
    "https:///cb",
    "https://app example/cb",
    "https://app.example/c b",
    "myapp:/cb", /* private-use without a dot */
    "javascript:alert(1)",
    "data:text/html,x",
    "com.example.app:",
    "com.example.app:/cb#x",
    "com.example.app:/c b",
    ".example.app:/cb",
    "HTTP://app.example/cb",
    "Https://127.0.0.1/cb",
    "http.evil:/cb",
};

static void
test_redirect_uris(void **state)
{
	char longuri[REG_URI_MAX_BYTES + 2];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(redirect_ok); i++)
		if (!reg_redirect_ok(redirect_ok[i]))
			fail_msg("refused %s", redirect_ok[i]);
	for (size_t i = 0; i < ARRAY_LEN(redirect_bad); i++)
		if (reg_redirect_ok(redirect_bad[i]))
			fail_msg("accepted %s", redirect_bad[i]);
	memcpy(longuri, "https://a.example/", 18);
	memset(longuri + 18, 'a', sizeof(longuri) - 19);
	longuri[sizeof(longuri) - 1] = '\0';
	assert_false(reg_redirect_ok(longuri));
	longuri[sizeof(longuri) - 2] = '\0';
	assert_true(reg_redirect_ok(longuri));
}

static struct config *
cfg_new(void)
{
	struct config *cfg = NULL;
	char err[256];

	assert_int_equal(cfg_load(NULL, false, &cfg, err, sizeof(err)), ST_OK);
	return cfg;
}

/* One request body and what it should give. */
static const struct {
	const char *body;
	enum reg_error want;
} cases[] = {
    {"{\"redirect_uris\":[\"https://a.example/cb\"]}", REG_OK},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],\"unknown\":{\"x\":1}}",
     REG_OK},
    {"{\"grant_types\":[\"client_credentials\"],\"response_types\":[]}",
     REG_OK},
    {"{}", REG_INVALID_REDIRECT_URI},
    {"{\"redirect_uris\":[]}", REG_INVALID_REDIRECT_URI},
    {"{\"redirect_uris\":\"https://a.example/cb\"}", REG_INVALID_REDIRECT_URI},
    {"{\"redirect_uris\":[\"https://a.example/cb#x\"]}",
     REG_INVALID_REDIRECT_URI},
    /* jansson refuses \u0000 before any field is read. */
    {"{\"redirect_uris\":[\"https://a.example/cb\\u0000x\"]}",
     REG_INVALID_CLIENT_METADATA},
    {"[]", REG_INVALID_CLIENT_METADATA},
    {"not json", REG_INVALID_CLIENT_METADATA},
    {"{\"a\":1,\"a\":2}", REG_INVALID_CLIENT_METADATA},
    {"{\"x\":[[[[[1]]]]]}", REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"response_types\":[\"token\"]}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"response_types\":[]}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"grant_types\":[\"client_credentials\"]}",
     REG_OK}, /* response_types defaults to none without the code grant */
    {"{\"grant_types\":[\"client_credentials\"],\"response_types\":"
     "[\"code\"]}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"grant_types\":[\"refresh_token\"]}", REG_INVALID_CLIENT_METADATA},
    {"{\"grant_types\":[\"implicit\"]}", REG_INVALID_CLIENT_METADATA},
    {"{\"grant_types\":[\"client_credentials\"],"
     "\"token_endpoint_auth_method\":\"none\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"token_endpoint_auth_method\":\"private_key_jwt\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"admin\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":5}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"\"}", REG_OK},
    /* VS Code before it filtered by grant_types_supported. */
    {"{\"redirect_uris\":[\"http://127.0.0.1/\"],\"grant_types\":"
     "[\"authorization_code\",\"refresh_token\","
     "\"urn:ietf:params:oauth:grant-type:device_code\"]}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"client_name\":\"a\\u202eb\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"client_name\":\"line\\nbreak\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"logo_uri\":\"http://evil.example/x.png\"}",
     REG_INVALID_CLIENT_METADATA},
    {"{\"redirect_uris\":[\"https://a.example/cb\"],"
     "\"contacts\":[\"a@example.com\",7]}",
     REG_INVALID_CLIENT_METADATA},
};

static void
test_parse_table(void **state)
{
	struct config *cfg = cfg_new();
	struct reg_meta m;
	enum reg_error e;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		e = reg_meta_parse(str_of(cases[i].body), cfg, &m);
		if (e != cases[i].want)
			fail_msg("%s: got %d want %d (%s)", cases[i].body,
			         (int)e, (int)cases[i].want,
			         m.why != NULL ? m.why : "-");
		if (e != REG_OK)
			assert_non_null(m.why);
		reg_meta_free(&m);
	}
	cfg_free(cfg);
}

/* What a good request gives: defaults, kept fields, unknown ones dropped. */
static void
test_parse_result(void **state)
{
	struct config *cfg = cfg_new();
	struct reg_meta m;
	char *doc;

	(void)state;
	assert_int_equal(
	    reg_meta_parse(
	        str_of("{\"redirect_uris\":[\"http://127.0.0.1:1/a\","
	               "\"com.example.app:/b\"],\"client_name\":\"Né\","
	               "\"scope\":\"todo.write todo.read todo.write\","
	               "\"token_endpoint_auth_method\":\"none\","
	               "\"jwks\":{\"keys\":[]},\"x\":1}"),
	        cfg, &m),
	    REG_OK);
	assert_true(m.is_public);
	assert_int_equal(m.grants, STORE_GRANT_CODE | STORE_GRANT_REFRESH);
	assert_string_equal(m.redirect_uris,
	                    "http://127.0.0.1:1/a\ncom.example.app:/b");
	assert_string_equal(m.scope, "todo.write todo.read");
	assert_string_equal(m.name, "Né");
	doc = json_dumps(m.doc, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(doc);
	assert_null(strstr(doc, "jwks"));
	assert_null(strstr(doc, "\"x\""));
	assert_non_null(strstr(doc, "\"response_types\":[\"code\"]"));
	free(doc);
	reg_meta_free(&m);
	/* RFC 7591 §2: client_secret_basic by default. */
	assert_int_equal(
	    reg_meta_parse(str_of("{\"redirect_uris\":[\"https://a.example/"
	                          "cb\"]}"),
	                   cfg, &m),
	    REG_OK);
	assert_false(m.is_public);
	assert_string_equal(m.scope, "");
	assert_string_equal(json_string_value(json_object_get(
	                        m.doc, "token_endpoint_auth_method")),
	                    "client_secret_basic");
	reg_meta_free(&m);
	cfg_free(cfg);
}

int main(void);
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redirect_uris),
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_parse_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
