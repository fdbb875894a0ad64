/*
 * The demo MCP server's JSON-RPC handling (src/demo/mcp.c,
 * demo_mcp_answer()), with a fresh demo TODO store per input. Input: one
 * flags byte, then the POST /mcp body. Flags: bits 0-1 pick the
 * MCP-Protocol-Version header (none, 2025-03-26, 2025-11-25, an unknown
 * one), bit 2 drops todo.write from the token's scope, bit 3 todo.read.
 * Checks: every input gets an answer (never an error status), HTTP 200
 * with a JSON-RPC answer or an array of them, 202 with no body, or 400
 * with one error; each answer is "jsonrpc": "2.0" with exactly one of
 * result and error, and a known error code; a 403 asks only for a scope
 * the token lacks.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "demo/demo_int.h"
#include "fuzz.h"

static struct config *cfg;

static void
check_one(const json_t *a)
{
	const json_t *res = json_object_get(a, "result");
	const json_t *err = json_object_get(a, "error");
	const char *v = json_string_value(json_object_get(a, "jsonrpc"));
	json_int_t code;

	if (!json_is_object(a) || v == NULL || strcmp(v, "2.0") != 0 ||
	    json_object_get(a, "id") == NULL || (res == NULL) == (err == NULL))
		abort();
	if (err == NULL)
		return;
	code = json_integer_value(json_object_get(err, "code"));
	if ((code != -32700 && code != -32600 && code != -32601 &&
	     code != -32602) ||
	    !json_is_string(json_object_get(err, "message")))
		abort();
}

static void
check(const struct gw_identity *who, const struct demo_mcp_answer *a)
{
	size_t i;
	json_t *v;
	char *text;

	if (a->need_scope != NULL) {
		if (gw_scope_has(who, a->need_scope))
			abort();
		return;
	}
	if (a->status == 202) {
		if (a->body != NULL)
			abort();
		return;
	}
	if ((a->status != 200 && a->status != 400) || a->body == NULL)
		abort();
	if (json_is_array(a->body)) {
		if (a->status != 200 || json_array_size(a->body) == 0)
			abort();
		json_array_foreach(a->body, i, v) check_one(v);
	} else {
		check_one(a->body);
		if (a->status == 400 &&
		    json_object_get(a->body, "error") == NULL)
			abort();
	}
	text = json_dumps(a->body, JSON_COMPACT);
	if (text == NULL)
		abort();
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {NULL, "2025-03-26", "2025-11-25",
	                                       "1999-01-01"};
	struct gw_identity who;
	struct demo_mcp_answer a;
	struct demo_mcp_call c;
	struct demo *d = NULL;
	char err[256];
	uint8_t flags;

	if (cfg == NULL) {
		log_set_level(LOG_ERR);
		if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK)
			abort();
	}
	if (size == 0)
		return 0;
	flags = data[0];
	memset(&who, 0, sizeof(who));
	str_copy(who.user, sizeof(who.user), "fuzz");
	str_copy(who.scope, sizeof(who.scope),
	         (flags & 12) == 0   ? "todo.read todo.write"
	         : (flags & 12) == 4 ? "todo.read"
	         : (flags & 12) == 8 ? "todo.write"
	                             : "");
	if (demo_new(cfg, NULL, &d) != ST_OK)
		abort();
	c.d = d;
	c.who = &who;
	c.version = versions[flags & 3];
	if (demo_mcp_answer(&c, (const char *)data + 1, size - 1, &a) != ST_OK)
		abort();
	check(&who, &a);
	json_decref(a.body);
	demo_free(d);
	return 0;
}
