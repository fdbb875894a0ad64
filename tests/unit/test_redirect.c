/* oauth/redirect: exact matching and the strict ChatGPT callback family. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "oauth/oauth_int.h"

#define G40 "0123456789abcdef0123456789abcdef01234567"

static const char *const chatgpt_ok[] = {
    "https://chat.openai.com/aip/plugin-1a2b3c4d-5e6f-7a8b-9c0d-"
    "e1f2a3b4c5d6/oauth/callback",
    "https://chatgpt.com/aip/plugin-abc/oauth/callback",
    "https://chat.openai.com/aip/g-" G40 "/oauth/callback",
    "https://chatgpt.com/aip/g-" G40 "/oauth/callback",
    "https://chatgpt.com/connector/oauth/abc",
    "https://chatgpt.com/connector/oauth/AbC_1-x",
    "https://chatgpt.com/connector/oauth/" G40 G40 G40 "01234567",
    "https://chatgpt.com/connector_platform_oauth_redirect",
};

static const char *const chatgpt_bad[] = {
    "http://chat.openai.com/aip/g-" G40 "/oauth/callback",
    "https://chat.openai.com.evil.example/aip/g-" G40 "/oauth/callback",
    "https://evil.example/chat.openai.com/aip/g-" G40 "/oauth/callback",
    "https://chatgpt.com.evil.example/aip/plugin-abc/oauth/callback",
    "https://xchatgpt.com/aip/plugin-abc/oauth/callback",
    "https://chatgpt.com:443/aip/plugin-abc/oauth/callback",
    "https://user@chatgpt.com/aip/plugin-abc/oauth/callback",
    "HTTPS://chatgpt.com/aip/plugin-abc/oauth/callback",
    "https://ChatGPT.com/aip/plugin-abc/oauth/callback",
    "https://chatgpt.com/aip/plugin-/oauth/callback",
    "https://chatgpt.com/aip/plugin-ABC/oauth/callback",
    "https://chatgpt.com/aip/plugin-abc/x/oauth/callback",
    "https://chatgpt.com/aip/plugin-abc%2Fx/oauth/callback",
    "https://chatgpt.com/aip/plugin-abc/oauth/callback/",
    "https://chatgpt.com/aip/plugin-abc/oauth/callback?x=1",
    "https://chatgpt.com/aip/plugin-abc/oauth/callback#x",
    "https://chatgpt.com/aip/plugin-abc/oauth/callback/../../evil",
    "https://chatgpt.com/aip/g-" G40 "0/oauth/callback",
    "https://chatgpt.com/aip/g-0123456789abcdef/oauth/callback",
    "https://chatgpt.com/aip/g-"
    "0123456789ABCDEF0123456789abcdef01234567"
    "/oauth/callback",
    "https://chatgpt.com/aip/my-gpt/oauth/callback",
    "https://chatgpt.com//aip/plugin-abc/oauth/callback",
    "https://chatgpt.com/connector/oauth/",
    "https://chatgpt.com/connector/oauth/abc/",
    "https://chatgpt.com/connector/oauth/abc?x=1",
    "https://chatgpt.com/connector/oauth/abc#x",
    "https://chatgpt.com/connector/oauth/a.b",
    "https://chatgpt.com/connector/oauth/a%2Fb",
    "https://chatgpt.com/connector/oauth/abc/../../evil",
    "https://chatgpt.com/connector/oauth/" G40 G40 G40 "012345678",
    "https://chat.openai.com/connector/oauth/abc",
    "https://chatgpt.com.evil.example/connector/oauth/abc",
    "http://chatgpt.com/connector/oauth/abc",
    "https://chatgpt.com/connector_platform_oauth_redirect/",
    "https://chatgpt.com/connector_platform_oauth_redirect?x=1",
    "https://chatgpt.com/connector_platform_oauth_redirectx",
    "",
};

static void
test_chatgpt_family_accepts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(chatgpt_ok) / sizeof(chatgpt_ok[0]); i++)
		if (!oauth_redirect_is_chatgpt(chatgpt_ok[i]))
			fail_msg("refused %s", chatgpt_ok[i]);
}

static void
test_chatgpt_family_refuses_lookalikes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(chatgpt_bad) / sizeof(chatgpt_bad[0]);
	     i++)
		if (oauth_redirect_is_chatgpt(chatgpt_bad[i]))
			fail_msg("accepted %s", chatgpt_bad[i]);
}

static void
test_exact_match_only(void **state)
{
	struct store_client c;
	char uris[] = "https://app.example/cb\nhttp://127.0.0.1:9000/cb";

	(void)state;
	memset(&c, 0, sizeof(c));
	c.redirect_uris = uris;
	assert_true(oauth_redirect_allowed(&c, "https://app.example/cb"));
	assert_true(oauth_redirect_allowed(&c, "http://127.0.0.1:9000/cb"));
	assert_false(oauth_redirect_allowed(&c, "https://app.example/cb/"));
	assert_false(oauth_redirect_allowed(&c, "https://app.example/c"));
	assert_false(oauth_redirect_allowed(&c, "https://app.example/cb?x"));
	assert_false(oauth_redirect_allowed(&c, "https://APP.example/cb"));
	assert_false(oauth_redirect_allowed(
	    &c, "https://app.example/cb\nhttp://127.0.0.1:9000/cb"));
	assert_false(oauth_redirect_allowed(&c, ""));
	/* Not a ChatGPT client: the family is not allowed. */
	assert_false(oauth_redirect_allowed(&c, chatgpt_ok[0]));
	c.chatgpt = true;
	assert_true(oauth_redirect_allowed(&c, chatgpt_ok[0]));
	assert_true(oauth_redirect_allowed(&c, "https://app.example/cb"));
}

/* RFC 8252 §7.3: a registered client's loopback URIs take any port;
 * nothing else about them changes, and other clients stay exact. */
static void
test_registered_loopback_any_port(void **state)
{
	struct store_client c;
	char uris[] = "http://127.0.0.1/cb\nhttp://[::1]:8000/cb?x=1\n"
	              "http://localhost:1/\nhttps://app.example:8443/cb";

	(void)state;
	memset(&c, 0, sizeof(c));
	c.redirect_uris = uris;
	assert_false(oauth_redirect_allowed(&c, "http://127.0.0.1:5555/cb"));
	c.origin = STORE_ORIGIN_REGISTERED;
	assert_true(oauth_redirect_allowed(&c, "http://127.0.0.1:5555/cb"));
	assert_true(oauth_redirect_allowed(&c, "http://127.0.0.1/cb"));
	assert_true(oauth_redirect_allowed(&c, "http://[::1]/cb?x=1"));
	assert_true(oauth_redirect_allowed(&c, "http://[::1]:1/cb?x=1"));
	assert_true(oauth_redirect_allowed(&c, "http://localhost:65535/"));
	assert_false(oauth_redirect_allowed(&c, "http://127.0.0.1:5555/cb2"));
	assert_false(oauth_redirect_allowed(&c, "http://127.0.0.1:5555/c"));
	assert_false(oauth_redirect_allowed(&c, "http://127.0.0.2:5555/cb"));
	assert_false(oauth_redirect_allowed(&c, "http://[::1]:1/cb"));
	assert_false(oauth_redirect_allowed(&c, "http://localhost:1"));
	assert_false(oauth_redirect_allowed(&c, "http://[::1]:8000/cb?x=2"));
	assert_false(
	    oauth_redirect_allowed(&c, "http://127.0.0.1.evil.example/cb"));
	assert_false(
	    oauth_redirect_allowed(&c, "http://127.0.0.1:80@evil.example/cb"));
	assert_false(oauth_redirect_allowed(&c, "http://localhost/cb"));
	assert_false(oauth_redirect_allowed(&c, "https://127.0.0.1:1/cb"));
	/* https is never port-agnostic. */
	assert_false(oauth_redirect_allowed(&c, "https://app.example/cb"));
	assert_true(oauth_redirect_allowed(&c, "https://app.example:8443/cb"));
}

int main(void);
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chatgpt_family_accepts),
	    cmocka_unit_test(test_chatgpt_family_refuses_lookalikes),
	    cmocka_unit_test(test_exact_match_only),
	    cmocka_unit_test(test_registered_loopback_any_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
