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
	    /* Any case: libmicrohttpd finds cookies by name in any case, so
	     * plugauth would take this one for its session. */
	    {"Plugauth_Session=1; PLUGAUTH_SESSION=2; a=3", "a=3"},
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

/* An upstream's Set-Cookie for plugauth's session cookie, in any form a
 * browser would store under that name, is dropped; others pass. */
static void
test_set_cookie_dropped(void **state)
{
	static const char *const drop[] = {"plugauth_session",
	                                   "__Host-plugauth_session", NULL};
	static const struct {
		const char *v;
		bool dropped;
	} cases[] = {
	    {"plugauth_session=evil; Path=/; HttpOnly", true},
	    {"plugauth_session=; Max-Age=0", true},
	    {"__Host-plugauth_session=x; Secure; Path=/", true},
	    {"  plugauth_session =x", true},
	    {"PLUGAUTH_SESSION=x", true},
	    {"plugauth_session", true}, /* no '=': a nameless cookie */
	    {"plugauth_session;Path=/", true},
	    {"a=1; Path=/", false},
	    {"plugauth_sessionx=1", false},
	    {"a=plugauth_session=1", false},
	    {"theme=dark; plugauth_session=x", false}, /* an attribute */
	    {"", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = cases[i].v;

		assert_int_equal(gw_set_cookie_dropped(v, strlen(v), drop),
		                 cases[i].dropped);
	}
}

/* The raw request-target: only what no URL parser can resolve out of the
 * prefix passes. */
static void
test_path_ok(void **state)
{
	static const struct {
		const char *target;
		bool ok;
	} cases[] = {
	    {"/api/x", true},
	    {"/api/", true},
	    {"/api/a%2Fb/%C3%A9t%C3%A9?x=1&y=..", true},
	    {"/api/x?p=../../admin", true},
	    {"/api/x?p=a\\b", true},
	    {"/api/...", true},
	    {"/api/..x/.y/x..", true},
	    {"/api/%252e%252e/admin", true}, /* a literal "%2e%2e" */
	    {"/api/a;b/c", true},
	    {"/api/;../x", true}, /* the segment's name is "" */
	    {"/api/%3F%23", true},
	    {"/api//x", true},
	    {"/api", false},
	    {"/%61pi/x", false},
	    {"/api%2f..%2fadmin", false},
	    {"/API/x", false},
	    {"x/api/", false},
	    {"/api/..", false},
	    {"/api/../admin", false},
	    {"/api/./x", false},
	    {"/api/x/.", false},
	    {"/api/x/..?a", false},
	    {"/api/%2e%2e/admin", false},
	    {"/api/%2E%2E/admin", false},
	    {"/api/.%2e/admin", false},
	    {"/api/%2e./admin", false},
	    {"/api/%2e/admin", false},
	    {"/api/x/..%2f..%2fadmin", false},
	    {"/api/x/..%2F..%2Fadmin", false},
	    {"/api/..;/admin", false},
	    {"/api/..;x=1/admin", false},
	    {"/api/.;/admin", false},
	    {"/api/..%3b/admin", false},
	    {"/api/x/..\\..\\admin", false},
	    {"/api/x\\y", false},
	    {"/api/x%5c..%5cadmin", false},
	    {"/api/x%5C", false},
	    {"/api/x%00/../../admin", false},
	    {"/api/x%00", false},
	    {"/api/x#/../../admin", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gw_path_ok(cases[i].target, "/api/") != cases[i].ok)
			fail_msg("%s: want %s", cases[i].target,
			         cases[i].ok ? "ok" : "refused");
	}
}

struct hdrs_seen {
	char text[4096];
	size_t len;
};

static enum status
hdr_record(void *arg, const char *name, const char *value)
{
	struct hdrs_seen *h = arg;
	int n = snprintf(h->text + h->len, sizeof(h->text) - h->len, "%s: %s\n",
	                 name, value);

	assert_true(n > 0 && (size_t)n < sizeof(h->text) - h->len);
	h->len += (size_t)n;
	return ST_OK;
}

/* No identity header is ever empty: a token without a user sends
 * X-Plugauth-Grant instead of X-Plugauth-User. */
static void
test_identity_headers(void **state)
{
	struct gw_identity id;
	struct hdrs_seen h;

	(void)state;
	memset(&id, 0, sizeof(id));
	assert_true(str_copy(id.user, sizeof(id.user), "alice"));
	assert_true(str_copy(id.client_id, sizeof(id.client_id), "c1"));
	assert_true(
	    str_copy(id.scope, sizeof(id.scope), "todo.read todo.write"));
	memset(&h, 0, sizeof(h));
	assert_int_equal(gw_identity_headers(&id, hdr_record, &h), ST_OK);
	assert_string_equal(h.text, "X-Plugauth-User: alice\n"
	                            "X-Plugauth-Client: c1\n"
	                            "X-Plugauth-Scope: todo.read todo.write\n");
	id.user[0] = '\0';
	id.scope[0] = '\0';
	memset(&h, 0, sizeof(h));
	assert_int_equal(gw_identity_headers(&id, hdr_record, &h), ST_OK);
	assert_string_equal(h.text, "X-Plugauth-Grant: client_credentials\n"
	                            "X-Plugauth-Client: c1\n");
}

/* The path [gateway.scopes] prefixes are matched against: decoded once,
 * without ";params", runs of '/' as one, no query, cut to the buffer. */
static void
test_route_path(void **state)
{
	static const struct {
		const char *target, *want;
	} cases[] = {
	    {"/api/todos?x=/api/admin/", "/api/todos"},
	    {"/api/%61dmin/x", "/api/admin/x"},
	    {"/api//admin///x", "/api/admin/x"},
	    {"/api/admin;v=1/x;y/z", "/api/admin/x/z"},
	    {"/api/admin%2Fx", "/api/admin/x"},
	    {"/api/%2F%2Fadmin/", "/api/admin/"},
	    {"/api/%252e", "/api/%2e"},
	    {"/api/%zz", "/api/%zz"},
	    {"/api/%", "/api/%"},
	    {"", ""},
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char big[64];

		gw_route_path(cases[i].target, big, sizeof(big));
		assert_string_equal(big, cases[i].want);
	}
	gw_route_path("/api/abcdefghijklmnopqrstuvwxyz", out, sizeof(out));
	assert_string_equal(out, "/api/abcdefghij");
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
	    cmocka_unit_test(test_set_cookie_dropped),
	    cmocka_unit_test(test_path_ok),
	    cmocka_unit_test(test_identity_headers),
	    cmocka_unit_test(test_route_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
