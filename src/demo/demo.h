/*
 * The demo (plugauth demo only): the TODO API of the built-in OpenAPI
 * document, and the playground page that plays ChatGPT's part in the
 * browser as a public client, and a small MCP server with the same TODO
 * tools. Not part of the plugin manifest: a real
 * deployment proxies its own API through the gateway instead.
 */
#ifndef PLUGAUTH_DEMO_H
#define PLUGAUTH_DEMO_H

#include "core/config.h"
#include "core/status.h"
#include "http/http.h"

#define DEMO_PLAYGROUND_CLIENT_ID "demo-playground"
#define DEMO_PLAYGROUND_CALLBACK "/demo/callback" /* after the issuer */

struct gw_env;
struct demo;

/* The demo API's in-memory lists, checking tokens with gw (borrowed: must
 * outlive it); cfg is borrowed during the call (issuer). *out is new
 * (demo_free()); untouched on error. */
enum status demo_new(const struct config *cfg, struct gw_env *gw,
                     struct demo **out);

/* Frees every list; NULL-safe. */
void demo_free(struct demo *);

/*
 * GET /api/todos (scope todo.read), POST /api/todos {"text"} (todo.write),
 * DELETE /api/todos/{id} (todo.write), for the token's user; route the
 * DELETE as the prefix /api/todos/. A bad token gets the gateway's 401, a
 * missing scope 403 insufficient_scope, a token without a user
 * (client_credentials) 403 user_required. At most 1000 users (then 507
 * too_many_users), 100 items each (then 409 list_full), 500 characters per
 * text (else 400). ctx is a struct demo.
 */
enum status demo_api_handle(struct http_req *, void *ctx);

/* The MCP server's path (after the issuer) and its largest body. */
#define DEMO_MCP_PATH "/mcp"
#define DEMO_MCP_BODY_MAX_BYTES (64 * 1024)

/*
 * POST /mcp: the demo MCP server (Streamable HTTP, stateless, JSON
 * answers), with the tools list_todos, add_todo, complete_todo on the
 * token's user's TODO list. The bearer check and its refusals are the TODO
 * API's; a tool the token lacks the scope for gets 403 insufficient_scope.
 * Route only POST: GET and DELETE get 405. ctx is a struct demo.
 */
enum status demo_mcp_handle(struct http_req *, void *ctx);

/* GET /demo and GET /demo/callback: the playground page, with a CSP
 * nonce per response. ctx is unused. */
enum status demo_playground_handle(struct http_req *, void *ctx);

#endif
