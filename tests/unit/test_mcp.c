/* demo/mcp: the demo MCP server's JSON-RPC handling (demo_mcp_answer()),
 * without HTTP: errors, notifications, batches, versions, tools. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "demo/demo_int.h"

struct fixture {
	struct config *cfg;
	struct demo *d;
	struct gw_identity who;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	assert_int_equal(cfg_load(NULL, false, &f->cfg, err, sizeof(err)),
	                 ST_OK);
	assert_int_equal(cfg_set(f->cfg, "server", "issuer",
	                         "http://127.0.0.1:8080", err, sizeof(err)),
	                 ST_OK);
	assert_int_equal(demo_new(f->cfg, NULL, &f->d), ST_OK);
	assert_true(str_copy(f->who.user, sizeof(f->who.user), "alice"));
	assert_true(str_copy(f->who.scope, sizeof(f->who.scope),
	                     "todo.read todo.write"));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	demo_free(f->d);
	cfg_free(f->cfg);
	free(f);
	return 0;
}

/* The answer to body under version (NULL: no header); *a's body is the
 * caller's. */
static void
answer(struct fixture *f, const char *version, const char *body,
       struct demo_mcp_answer *a)
{
	struct demo_mcp_call c = {f->d, &f->who, version};

	assert_int_equal(demo_mcp_answer(&c, body, strlen(body), a), ST_OK);
}

/* The JSON-RPC error code of a single answer (0 if it has none). */
static int
error_code(const json_t *ans)
{
	return (int)json_integer_value(
	    json_object_get(json_object_get(ans, "error"), "code"));
}

static void
expect_error(struct fixture *f, const char *version, const char *body,
             unsigned status, int code)
{
	struct demo_mcp_answer a;

	answer(f, version, body, &a);
	if (a.status != status || error_code(a.body) != code) {
		char *s = a.body != NULL ? json_dumps(a.body, 0) : NULL;

		fail_msg("%s: HTTP %u %s, wanted %u %d", body, a.status,
		         s != NULL ? s : "(none)", status, code);
	}
	json_decref(a.body);
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;

	expect_error(f, NULL, "", 400, -32700);
	expect_error(f, NULL, "{\"jsonrpc\":", 400, -32700);
	expect_error(f, NULL, "{\"a\":1,\"a\":2}", 400, -32700);
	expect_error(f, NULL, "\"x\"", 400, -32600);
	expect_error(f, NULL, "42", 400, -32600);
	expect_error(f, NULL, "null", 400, -32600);
	expect_error(f, NULL, "{}", 400, -32600);
	expect_error(f, NULL, "{\"jsonrpc\":\"2.0\"}", 400, -32600);
	expect_error(f, NULL, "{\"jsonrpc\":2,\"id\":1,\"method\":\"ping\"}",
	             400, -32600);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
	             400, -32600);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}", 400,
	             -32600);
	expect_error(f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":[]}",
	             400, -32600);
	expect_error(f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1}", 400, -32600);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"no\"}", 200,
	             -32601);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	             "\"params\":7}",
	             200, -32602);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	             "\"params\":{\"protocolVersion\":1}}",
	             200, -32602);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"nope\"}}",
	             200, -32602);
	expect_error(f, NULL,
	             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"add_todo\",\"arguments\":[]}}",
	             200, -32602);
	expect_error(f, "2024-01-01",
	             "{\"jsonrpc\":\"2.0\",\"id\":1,"
	             "\"method\":\"ping\"}",
	             400, -32600);
}

static void
test_initialize(void **state)
{
	static const char *const vs[] = {"2025-11-25", "2025-06-18",
	                                 "2025-03-26", "2024-11-05"};
	struct fixture *f = *state;
	struct demo_mcp_answer a;
	char body[256];
	json_t *r;

	for (size_t i = 0; i < ARRAY_LEN(vs); i++) {
		snprintf(body, sizeof(body),
		         "{\"jsonrpc\":\"2.0\",\"id\":\"x\","
		         "\"method\":\"initialize\",\"params\":"
		         "{\"protocolVersion\":\"%s\"}}",
		         vs[i]);
		answer(f, NULL, body, &a);
		assert_int_equal(a.status, 200);
		r = json_object_get(a.body, "result");
		assert_string_equal(
		    json_string_value(json_object_get(r, "protocolVersion")),
		    vs[i]);
		assert_string_equal(
		    json_string_value(json_object_get(a.body, "id")), "x");
		assert_non_null(json_object_get(
		    json_object_get(r, "capabilities"), "tools"));
		json_decref(a.body);
	}
	answer(f, NULL,
	       "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
	       "\"params\":{\"protocolVersion\":\"2030-01-01\"}}",
	       &a);
	r = json_object_get(a.body, "result");
	assert_string_equal(
	    json_string_value(json_object_get(r, "protocolVersion")),
	    "2025-11-25");
	json_decref(a.body);
}

static void
test_notifications(void **state)
{
	static const char *const bodies[] = {
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"anything\",\"params\":1}",
	    "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":1}}",
	    "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]",
	};
	struct fixture *f = *state;
	struct demo_mcp_answer a;

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		answer(f, NULL, bodies[i], &a);
		if (a.status != 202 || a.body != NULL)
			fail_msg("%s: %u", bodies[i], a.status);
	}
}

static void
test_batches(void **state)
{
	struct fixture *f = *state;
	struct demo_mcp_answer a;
	const char *two = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	                  "{\"jsonrpc\":\"2.0\",\"method\":\"n\"},"
	                  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\"}]";
	struct buf b;

	answer(f, "2025-03-26", two, &a);
	assert_int_equal(a.status, 200);
	assert_true(json_is_array(a.body));
	assert_int_equal(json_array_size(a.body), 2);
	assert_int_equal(error_code(json_array_get(a.body, 1)), -32601);
	json_decref(a.body);
	expect_error(f, "2025-06-18", two, 400, -32600);
	expect_error(f, "2025-11-25", two, 400, -32600);
	expect_error(f, NULL, "[]", 400, -32600);
	answer(f, NULL,
	       "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	       "\"params\":{\"protocolVersion\":\"2025-03-26\"}}]",
	       &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(error_code(json_array_get(a.body, 0)), -32600);
	json_decref(a.body);
	buf_init(&b, 4096);
	assert_int_equal(buf_adds(&b, "["), ST_OK);
	for (int i = 0; i < 33; i++)
		assert_int_equal(buf_adds(&b, i ? ",1" : "1"), ST_OK);
	assert_int_equal(buf_adds(&b, "]"), ST_OK);
	expect_error(f, NULL, b.p, 400, -32600);
	buf_free(&b);
}

/* tools/call name with arguments (JSON text) for who: the result. */
static json_t *
call(struct fixture *f, const char *name, const char *args)
{
	struct demo_mcp_answer a;
	char body[1024];
	json_t *r;

	snprintf(body, sizeof(body),
	         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	         "\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
	         name, args);
	answer(f, "2025-06-18", body, &a);
	assert_int_equal(a.status, 200);
	assert_null(a.need_scope);
	r = json_incref(json_object_get(a.body, "result"));
	assert_non_null(r);
	json_decref(a.body);
	return r;
}

static void
test_tools(void **state)
{
	struct fixture *f = *state;
	struct demo_mcp_answer a;
	json_t *r, *tools;
	char args[64];

	tools = demo_mcp_tools();
	assert_non_null(tools);
	assert_int_equal(json_array_size(json_object_get(tools, "tools")), 3);
	json_decref(tools);

	r = call(f, "add_todo", "{\"text\":\"milk\"}");
	assert_false(json_is_true(json_object_get(r, "isError")));
	snprintf(args, sizeof(args), "{\"id\":\"%s\"}",
	         json_string_value(json_object_get(
	             json_object_get(r, "structuredContent"), "id")));
	json_decref(r);
	r = call(f, "list_todos", "{}");
	assert_int_equal(json_array_size(json_object_get(
	                     json_object_get(r, "structuredContent"), "todos")),
	                 1);
	json_decref(r);
	r = call(f, "complete_todo", args);
	assert_false(json_is_true(json_object_get(r, "isError")));
	json_decref(r);
	r = call(f, "complete_todo", args);
	assert_true(json_is_true(json_object_get(r, "isError")));
	json_decref(r);
	r = call(f, "add_todo", "{\"text\":\"\"}");
	assert_true(json_is_true(json_object_get(r, "isError")));
	json_decref(r);

	/* Read-only token: add_todo needs todo.write (403 at HTTP). */
	assert_true(str_copy(f->who.scope, sizeof(f->who.scope), "todo.read"));
	answer(f, NULL,
	       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	       "\"params\":{\"name\":\"add_todo\",\"arguments\":"
	       "{\"text\":\"x\"}}}",
	       &a);
	assert_non_null(a.need_scope);
	assert_string_equal(a.need_scope, "todo.write");
	json_decref(a.body);
	r = call(f, "list_todos", "{}");
	assert_false(json_is_true(json_object_get(r, "isError")));
	json_decref(r);
}

/* 100 items, then the list is full: an error result, not a crash. */
static void
test_full_list(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	for (int i = 0; i < DEMO_ITEMS_MAX; i++) {
		r = call(f, "add_todo", "{\"text\":\"x\"}");
		assert_false(json_is_true(json_object_get(r, "isError")));
		json_decref(r);
	}
	r = call(f, "add_todo", "{\"text\":\"x\"}");
	assert_true(json_is_true(json_object_get(r, "isError")));
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_initialize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notifications, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tools, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_list, setup, teardown),
	};

	log_set_level(LOG_WARN); /* no line per added item */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
