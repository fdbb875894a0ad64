/* Shared only by the files of src/demo/. */
#ifndef PLUGAUTH_DEMO_INT_H
#define PLUGAUTH_DEMO_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "demo/demo.h"
#include "gateway/gateway.h"

#define DEMO_USERS_MAX 1000
#define DEMO_ITEMS_MAX 100 /* per user */
#define DEMO_TEXT_MAX_CHARS 500
#define DEMO_ID_MAX 24
#define DEMO_SCOPE_READ "todo.read"
#define DEMO_SCOPE_WRITE "todo.write"

struct demo_item {
	char id[DEMO_ID_MAX];
	char *text;
};

struct demo_user {
	char name[sizeof(((struct gw_identity *)0)->user)];
	uint64_t next_id;
	size_t n;
	struct demo_item items[DEMO_ITEMS_MAX];
};

struct demo {
	struct gw_env *gw;    /* borrowed; NULL in unit tests */
	char challenge[2200]; /* resource_metadata="…" for 403s */
	pthread_mutex_t mu;
	struct demo_user **users; /* DEMO_USERS_MAX slots, n used */
	size_t n;
};

/* What demo_todo_add() did. */
enum demo_add {
	DEMO_ADD_OK = 0,
	DEMO_ADD_FULL,  /* the user's list has DEMO_ITEMS_MAX items */
	DEMO_ADD_USERS, /* DEMO_USERS_MAX other users have lists */
	DEMO_ADD_NOMEM,
};

/* The user's items as [{"id", "text"}, …], oldest first: new, NULL on
 * ENOMEM. */
json_t *demo_todos_get(struct demo *, const char *user);

/* Adds text[len] (checked with demo_text_check() first) to the user's
 * list; on DEMO_ADD_OK *item is new {"id", "text"}. */
enum demo_add demo_todo_add(struct demo *, const char *user, const char *text,
                            size_t len, json_t **item);

/* Removes the user's item id: true if there was one. */
bool demo_todo_remove(struct demo *, const char *user, const char *id);

/* NULL if text[len] may be an item (non-empty, at most
 * DEMO_TEXT_MAX_CHARS characters, no NUL), else why not (static). */
const char *demo_text_check(const char *text, size_t len);

/* Checks the request's bearer token with the gateway's check and that it
 * has a user: true with *id filled in; else false after answering (401,
 * 503, or 403 user_required saying why a user is needed), *rc what the
 * answer returned. */
bool demo_user_of(struct demo *, struct http_req *, const char *why,
                  struct gw_identity *id, enum status *rc);

/* 403 insufficient_scope (RFC 6750 §3.1) naming the scope needed, with
 * the protected-resource metadata's URL. */
enum status demo_respond_scope(struct demo *, struct http_req *,
                               const char *scope);

/* One POST /mcp, for demo_mcp_answer(). */
struct demo_mcp_call {
	struct demo *d;
	const struct gw_identity *who; /* the token's user and scope */
	const char *version; /* its MCP-Protocol-Version header, or NULL */
};

/* What to answer it. */
struct demo_mcp_answer {
	unsigned status;        /* 200, 202 (body NULL) or 400 */
	json_t *body;           /* new: a JSON-RPC answer or an array */
	const char *need_scope; /* static; if set, answer 403 with it */
};

/*
 * The answer to a POST /mcp body[len] (mcp.c): every JSON-RPC error is an
 * answer (ST_OK); only ST_NOMEM is not. *a is always set; free a->body.
 */
enum status demo_mcp_answer(const struct demo_mcp_call *, const char *body,
                            size_t len, struct demo_mcp_answer *a);

/* tools/list's result {"tools": […]}: new, NULL on ENOMEM. */
json_t *demo_mcp_tools(void);

/* What demo_mcp_tool_call() did. */
enum demo_mcp_tool {
	DEMO_TOOL_OK = 0,
	DEMO_TOOL_UNKNOWN, /* no tool of that name */
	DEMO_TOOL_SCOPE,   /* the token lacks *need (static) */
	DEMO_TOOL_NOMEM,
};

/* Runs the tool name with args (an object, borrowed) for who; on
 * DEMO_TOOL_OK *out is the new CallToolResult (isError for the tool's own
 * failures). */
enum demo_mcp_tool demo_mcp_tool_call(struct demo *,
                                      const struct gw_identity *who,
                                      const char *name, json_t *args,
                                      const char **need, json_t **out);

/* The playground page (playground.html, embedded by scripts/embed-text.py);
 * its script's nonce goes where it says {{nonce}}. */
extern const char demo_playground_html[];

#endif
