/* gateway: RFC 6750 §2.1 header parsing, scopes, header values and the
 * proxy's cookie filter (the token cache: test_cache.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"

static const struct {
	const char *hdr;
	enum gw_check want;
	const char *tok; /* on GW_OK */
} parse_cases[] = {
    {NULL, GW_MISSING, NULL},
    {"", GW_MISSING, NULL},
    {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", GW_MISSING, NULL},
    {"Bearerx abc", GW_MISSING, NULL},
    {"Token abc", GW_MISSING, NULL},
    {"Bearer pa_at_abc", GW_OK, "pa_at_abc"},
    {"bearer pa_at_abc", GW_OK, "pa_at_abc"},
    {"BEARER pa_at_abc", GW_OK, "pa_at_abc"},
    {"BeArEr pa_at_abc", GW_OK, "pa_at_abc"},
    {"Bearer aZ09-._~+/", GW_OK, "aZ09-._~+/"},
    {"Bearer abc=", GW_OK, "abc="},
    {"Bearer abc==", GW_OK, "abc=="},
    {"Bearer", GW_INVALID, NULL},
    {"Bearer ", GW_INVALID, NULL},
    {"Bearer  abc", GW_INVALID, NULL}, /* one space only */
    {"Bearer\tabc", GW_INVALID, NULL},
    {"Bearer abc def", GW_INVALID, NULL},
    {"Bearer abc ", GW_INVALID, NULL},
    {"Bearer a=b", GW_INVALID, NULL}, /* '=' only at the end */
    {"Bearer =", GW_INVALID, NULL},
    {"Bearer a,b", GW_INVALID, NULL},
    {"Bearer a\"b", GW_INVALID, NULL},
    {"Bearer a%2Fb", GW_INVALID, NULL},
    {"Bearer \xc3\xa9t\xc3\xa9", GW_INVALID, NULL},
};

static void
test_bearer_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		struct str tok = {NULL, 0};
		enum gw_check got;

		got = gw_bearer_parse(parse_cases[i].hdr, &tok);
		if (got != parse_cases[i].want)
			fail_msg("case %zu (%s): got %d, want %d", i,
			         parse_cases[i].hdr ? parse_cases[i].hdr
			                            : "NULL",
			         got, parse_cases[i].want);
		if (got == GW_OK) {
			assert_int_equal(tok.len, strlen(parse_cases[i].tok));
			assert_memory_equal(tok.p, parse_cases[i].tok, tok.len);
		}
	}
}

static void
test_bearer_parse_length_limit(void **state)
{
	char hdr[7 + GW_TOKEN_MAX_BYTES + 2];
	struct str tok;

	(void)state;
	memcpy(hdr, "Bearer ", 7);
	memset(hdr + 7, 'a', GW_TOKEN_MAX_BYTES);
	hdr[7 + GW_TOKEN_MAX_BYTES] = '\0';
	assert_int_equal(gw_bearer_parse(hdr, &tok), GW_OK);
	assert_int_equal(tok.len, GW_TOKEN_MAX_BYTES);
	hdr[7 + GW_TOKEN_MAX_BYTES] = 'a';
	hdr[7 + GW_TOKEN_MAX_BYTES + 1] = '\0';
	assert_int_equal(gw_bearer_parse(hdr, &tok), GW_INVALID);
}

static void
test_scope_has(void **state)
{
	struct gw_identity id;

	(void)state;
	memset(&id, 0, sizeof(id));
	str_copy(id.scope, sizeof(id.scope), "todo.read todo.write");
	assert_true(gw_scope_has(&id, "todo.read"));
	assert_true(gw_scope_has(&id, "todo.write"));
	assert_false(gw_scope_has(&id, "todo"));
	assert_false(gw_scope_has(&id, "todo.rea"));
	assert_false(gw_scope_has(&id, ""));
	assert_false(gw_scope_has(&id, "todo.read todo.write"));
	str_copy(id.scope, sizeof(id.scope), "");
	assert_false(gw_scope_has(&id, "todo.read"));
}

static void
test_header_value_ok(void **state)
{
	(void)state;
	assert_true(gw_header_value_ok("alice"));
	assert_true(gw_header_value_ok("todo.read todo.write"));
	assert_true(gw_header_value_ok("J\xc3\xa9r\xc3\xb4me"));
	assert_true(gw_header_value_ok(""));
	assert_false(gw_header_value_ok("a\r\nX-Plugauth-User: root"));
	assert_false(gw_header_value_ok("a\nb"));
	assert_false(gw_header_value_ok("a\tb"));
	assert_false(gw_header_value_ok("a\x7f"));
}

/* The proxy's Cookie header: plugauth's session cookie removed, the
 * others kept in order. */
static void
test_cookie_filter(void **state)
{
	static const char *const drop[] = {"plugauth_session",
	                                   "__Host-plugauth_session", NULL};
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plugauth_session=pa_ss_x", ""},
	    {"a=1; plugauth_session=pa_ss_x; b=2", "a=1; b=2"},
	    {"__Host-plugauth_session=pa_ss_x;theme=dark", "theme=dark"},
	    {"plugauth_session = pa_ss_x ; a=1", "a=1"},
	    {"plugauth_sessionx=1; xplugauth_session=2",
	     "plugauth_sessionx=1; xplugauth_session=2"},
	    {"Plugauth_Session=1", "Plugauth_Session=1"}, /* names are exact */
	    {"a=1;;  ; b", "a=1; b"},
	    {"", ""},
	    {";;;", ""},
	};
	struct buf out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&out, 4096);
		assert_int_equal(gw_cookie_filter(cases[i].in, drop, &out),
		                 ST_OK);
		assert_int_equal(out.len, strlen(cases[i].out));
		if (out.len > 0)
			assert_memory_equal(out.p, cases[i].out, out.len);
		buf_free(&out);
	}
	buf_init(&out, 8);
	assert_int_equal(gw_cookie_filter("a=123456789", drop, &out),
	                 ST_TOOBIG);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bearer_parse_table),
	    cmocka_unit_test(test_bearer_parse_length_limit),
	    cmocka_unit_test(test_scope_has),
	    cmocka_unit_test(test_header_value_ok),
	    cmocka_unit_test(test_cookie_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
