/*
 * The demo MCP server (plugauth demo only): POST /mcp speaks the Model
 * Context Protocol's Streamable HTTP transport, stateless (no
 * Mcp-Session-Id), answering every request with one application/json
 * body (the transport allows JSON instead of an event stream when the
 * client accepts both; the gateway buffers answers). GET and DELETE /mcp
 * get the router's 405: there is no server-initiated stream and no session
 * to end.
 *
 * JSON-RPC 2.0: initialize (the client's protocolVersion if supported,
 * else the newest), ping, tools/list, tools/call (mcp_tools.c);
 * notifications and the client's responses get 202 with no body. A body
 * that does not parse is -32700, a message that is not a JSON-RPC request
 * -32600 (both with HTTP 400 when alone), an unknown method -32601, bad
 * params -32602. A batch (an array) is taken under protocol 2025-03-26
 * (or no MCP-Protocol-Version header, which means it, at most
 * MCP_BATCH_MAX messages) and refused under later versions, which dropped
 * batching.
 *
 * Every request needs a bearer token with a user, checked like the TODO
 * API's: a missing one gets the gateway's 401 challenge naming the
 * protected-resource metadata, which is how an MCP client finds the
 * authorization server.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "demo/demo_int.h"

#define MCP_BATCH_MAX 32

#define RPC_PARSE (-32700)
#define RPC_INVALID_REQUEST (-32600)
#define RPC_NO_METHOD (-32601)
#define RPC_INVALID_PARAMS (-32602)

/* Newest first: initialize answers with the first if the client's version
 * is not here. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                       "2024-11-05"};

static bool
version_known(const char *v)
{
	for (size_t i = 0; i < ARRAY_LEN(versions); i++)
		if (strcmp(v, versions[i]) == 0)
			return true;
	return false;
}

/* {"jsonrpc": "2.0", "id": id, "error": {"code", "message"}}; id borrowed
 * (NULL: null). New, NULL on ENOMEM. */
static json_t *
rpc_error(json_t *id, int code, const char *msg)
{
	return json_pack("{s:s, s:O?, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
	                 id, "error", "code", code, "message", msg);
}

/* {"jsonrpc": "2.0", "id": id, "result": result}; takes result. */
static json_t *
rpc_result(json_t *id, json_t *result)
{
	if (result == NULL)
		return NULL;
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	                 "result", result);
}

static json_t *
do_initialize(json_t *id, json_t *params)
{
	json_t *pv = json_object_get(params, "protocolVersion");
	const char *v;

	if (!json_is_string(pv))
		return rpc_error(id, RPC_INVALID_PARAMS,
		                 "initialize needs params.protocolVersion");
	v = json_string_value(pv);
	return rpc_result(
	    id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
	                  "protocolVersion", version_known(v) ? v : versions[0],
	                  "capabilities", "tools", "listChanged", 0,
	                  "serverInfo", "name", "plugauth-demo", "title",
	                  "plugauth demo TODO list", "version",
	                  PLUGAUTH_VERSION, "instructions",
	                  "The signed-in user's TODO list: list_todos shows "
	                  "it, add_todo adds an item, complete_todo removes "
	                  "one by its id."));
}

/* tools/call; may set a->need_scope instead of answering. */
static json_t *
do_tools_call(const struct demo_mcp_call *c, json_t *id, json_t *params,
              struct demo_mcp_answer *a)
{
	json_t *name = json_object_get(params, "name");
	json_t *args = json_object_get(params, "arguments");
	json_t *empty = NULL, *r = NULL;
	const char *need = NULL;
	enum demo_mcp_tool t;

	if (!json_is_string(name))
		return rpc_error(id, RPC_INVALID_PARAMS,
		                 "tools/call needs params.name");
	if (args != NULL && !json_is_object(args))
		return rpc_error(id, RPC_INVALID_PARAMS,
		                 "params.arguments must be an object");
	if (args == NULL && (args = empty = json_object()) == NULL)
		return NULL;
	t = demo_mcp_tool_call(c->d, c->who, json_string_value(name), args,
	                       &need, &r);
	json_decref(empty);
	switch (t) {
	case DEMO_TOOL_OK:
		return rpc_result(id, r);
	case DEMO_TOOL_UNKNOWN:
		return rpc_error(id, RPC_INVALID_PARAMS, "unknown tool");
	case DEMO_TOOL_SCOPE:
		a->need_scope = need;
		return rpc_error(id, RPC_INVALID_REQUEST, "insufficient scope");
	default:
		return NULL;
	}
}

/* The request's answer, by method; NULL on ENOMEM. */
static json_t *
do_method(const struct demo_mcp_call *c, const char *m, json_t *id,
          json_t *params, bool in_batch, struct demo_mcp_answer *a)
{
	if (strcmp(m, "initialize") == 0)
		return in_batch ? rpc_error(id, RPC_INVALID_REQUEST,
		                            "initialize may not be batched")
		                : do_initialize(id, params);
	if (strcmp(m, "ping") == 0)
		return rpc_result(id, json_object());
	if (strcmp(m, "tools/list") == 0)
		return rpc_result(id, demo_mcp_tools());
	if (strcmp(m, "tools/call") == 0)
		return do_tools_call(c, id, params, a);
	return rpc_error(id, RPC_NO_METHOD, "method not found");
}

/*
 * One message: *out is its answer (new), or NULL for a notification or a
 * response. ST_INVALID if the message is not a JSON-RPC message at all
 * (*out is then the -32600 error), ST_NOMEM.
 */
static enum status
one(const struct demo_mcp_call *c, json_t *msg, bool in_batch,
    struct demo_mcp_answer *a, json_t **out)
{
	json_t *id, *method, *params;
	const char *v;

	*out = NULL;
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	v = json_string_value(json_object_get(msg, "jsonrpc"));
	if (!json_is_object(msg) || v == NULL || strcmp(v, "2.0") != 0 ||
	    (id != NULL && !json_is_string(id) && !json_is_integer(id)) ||
	    (method != NULL && !json_is_string(method)) ||
	    (method == NULL &&
	     (id == NULL || (json_object_get(msg, "result") == NULL &&
	                     json_object_get(msg, "error") == NULL)))) {
		*out = rpc_error(NULL, RPC_INVALID_REQUEST,
		                 "not a JSON-RPC 2.0 request");
		return *out == NULL ? ST_NOMEM : ST_INVALID;
	}
	if (method == NULL || id == NULL)
		return ST_OK; /* a response, or a notification */
	params = json_object_get(msg, "params");
	if (params != NULL && !json_is_object(params))
		*out = rpc_error(id, RPC_INVALID_PARAMS,
		                 "params must be an object");
	else
		*out = do_method(c, json_string_value(method), id, params,
		                 in_batch, a);
	return *out == NULL ? ST_NOMEM : ST_OK;
}

/* A batch: the array of answers (200), or 202 if none. */
static enum status
batch(const struct demo_mcp_call *c, json_t *msgs, struct demo_mcp_answer *a)
{
	json_t *all, *r, *m;
	size_t i;

	if (json_array_size(msgs) == 0 ||
	    json_array_size(msgs) > MCP_BATCH_MAX) {
		a->status = 400;
		a->body = rpc_error(NULL, RPC_INVALID_REQUEST,
		                    json_array_size(msgs) == 0
		                        ? "an empty batch"
		                        : "a batch of more than 32 messages");
		return a->body == NULL ? ST_NOMEM : ST_OK;
	}
	if ((all = json_array()) == NULL)
		return ST_NOMEM;
	json_array_foreach(msgs, i, m)
	{
		if (one(c, m, true, a, &r) == ST_NOMEM ||
		    (r != NULL && json_array_append_new(all, r) != 0)) {
			json_decref(all);
			return ST_NOMEM;
		}
	}
	a->status = json_array_size(all) > 0 ? 200 : 202;
	a->body = json_array_size(all) > 0 ? all : NULL;
	if (a->body == NULL)
		json_decref(all);
	return ST_OK;
}

enum status
demo_mcp_answer(const struct demo_mcp_call *c, const char *body, size_t len,
                struct demo_mcp_answer *a)
{
	json_error_t jerr;
	json_t *doc, *r = NULL;
	enum status rc;

	memset(a, 0, sizeof(*a));
	a->status = 400;
	if (c->version != NULL && !version_known(c->version)) {
		a->body = rpc_error(NULL, RPC_INVALID_REQUEST,
		                    "unsupported MCP-Protocol-Version");
		return a->body == NULL ? ST_NOMEM : ST_OK;
	}
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                 &jerr);
	if (doc == NULL) {
		a->body = rpc_error(NULL, RPC_PARSE, "parse error");
		return a->body == NULL ? ST_NOMEM : ST_OK;
	}
	if (json_is_array(doc)) {
		if (c->version == NULL || strcmp(c->version, "2025-03-26") == 0)
			rc = batch(c, doc, a);
		else if ((a->body =
		              rpc_error(NULL, RPC_INVALID_REQUEST,
		                        "batches are not part of this protocol "
		                        "version")) == NULL)
			rc = ST_NOMEM;
		else
			rc = ST_OK;
		json_decref(doc);
		return rc;
	}
	rc = one(c, doc, false, a, &r);
	json_decref(doc);
	if (rc == ST_NOMEM)
		return rc;
	a->status = rc == ST_INVALID ? 400 : r != NULL ? 200 : 202;
	a->body = r;
	return ST_OK;
}

/* True if the request's Content-Type is application/json. */
static bool
is_json_body(const struct http_req *req)
{
	const char *t = http_req_header(req, "Content-Type");
	size_t n = strlen("application/json");

	return t != NULL && strncasecmp(t, "application/json", n) == 0 &&
	       (t[n] == '\0' || t[n] == ';' || t[n] == ' ');
}

/* True unless the request's Accept rules out a JSON answer. */
static bool
json_accepted(const struct http_req *req)
{
	const char *acc = http_req_header(req, "Accept");

	return acc == NULL || strcasestr(acc, "application/json") != NULL ||
	       strstr(acc, "*/*") != NULL ||
	       strcasestr(acc, "application/*") != NULL;
}

enum status
demo_mcp_handle(struct http_req *req, void *ctx)
{
	struct demo *d = ctx;
	struct gw_identity id;
	struct demo_mcp_call c = {d, &id, NULL};
	struct demo_mcp_answer a;
	struct str body = http_req_body(req);
	enum status rc;

	if (!demo_user_of(d, req, "the MCP tools act on a user's TODO list",
	                  &id, &rc))
		return rc;
	if (!is_json_body(req))
		return http_respond_error(req, 415, "invalid_request",
		                          "the body must be JSON-RPC, "
		                          "Content-Type: application/json");
	if (!json_accepted(req))
		return http_respond_error(req, 406, "invalid_request",
		                          "this server answers with "
		                          "application/json only");
	c.version = http_req_header(req, "MCP-Protocol-Version");
	if (demo_mcp_answer(&c, body.p, body.len, &a) != ST_OK)
		return ST_NOMEM;
	if (a.need_scope != NULL) {
		json_decref(a.body);
		return demo_respond_scope(d, req, a.need_scope);
	}
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK) {
		json_decref(a.body);
		return ST_NOMEM;
	}
	if (a.body == NULL)
		return http_respond_text(req, a.status, NULL, "", 0);
	return http_respond_json(req, a.status, a.body);
}
