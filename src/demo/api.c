/*
 * The demo TODO API (plugauth demo only): a per-user TODO list in memory,
 * exactly as the built-in OpenAPI document describes it (plugin/openapi.c):
 *
 *   GET    /api/todos        200 {"todos": [{"id", "text"}, …]}   todo.read
 *   POST   /api/todos {text} 201 {"id", "text"}                   todo.write
 *   DELETE /api/todos/{id}   204, or 404                          todo.write
 *
 * Every request is checked with the gateway's bearer validation; the list
 * belongs to the token's user. A client_credentials token has no user and
 * gets 403. The lists themselves are todo.c's.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "demo/demo_int.h"

#define API_PATH "/api/todos"

/* 403 insufficient_scope (RFC 6750 §3.1) naming the scope needed. */
enum status
demo_respond_scope(struct demo *d, struct http_req *req, const char *scope)
{
	char h[2400], desc[128];
	int n;

	n = snprintf(h, sizeof(h),
	             "Bearer error=\"insufficient_scope\", scope=\"%s\", %s",
	             scope, d->challenge);
	if (n < 0 || (size_t)n >= sizeof(h))
		return ST_TOOBIG;
	n = snprintf(desc, sizeof(desc), "this call needs the %s scope", scope);
	if (n < 0 || (size_t)n >= sizeof(desc))
		return ST_TOOBIG;
	if (http_resp_header(req, "WWW-Authenticate", h) != ST_OK)
		return ST_NOMEM;
	return http_respond_error(req, 403, "insufficient_scope", desc);
}

/* GET /api/todos: {"todos": [{"id", "text"}, …]}, oldest first. */
static enum status
todos_list(struct demo *d, struct http_req *req, const char *user)
{
	json_t *arr;

	if ((arr = demo_todos_get(d, user)) == NULL)
		return ST_NOMEM;
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK) {
		json_decref(arr);
		return ST_NOMEM;
	}
	return http_respond_json(req, 200, json_pack("{s:o}", "todos", arr));
}

/* POST /api/todos {"text": "…"}: 201 with the item. */
static enum status
todos_add(struct demo *d, struct http_req *req, const char *user)
{
	struct str body = http_req_body(req);
	json_error_t jerr;
	json_t *doc, *text, *item = NULL;
	enum demo_add added;
	const char *why;
	char desc[96];

	doc = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return http_respond_error(req, 400, "invalid_request",
		                          "the body must be a JSON object "
		                          "{\"text\": \"…\"}");
	}
	text = json_object_get(doc, "text");
	why = !json_is_string(text) ? "\"text\" must be a non-empty string"
	                            : demo_text_check(json_string_value(text),
	                                              json_string_length(text));
	if (why != NULL) {
		json_decref(doc);
		return http_respond_error(req, 400, "invalid_request", why);
	}
	added = demo_todo_add(d, user, json_string_value(text),
	                      json_string_length(text), &item);
	json_decref(doc);
	if (added == DEMO_ADD_FULL) {
		snprintf(desc, sizeof(desc),
		         "the list is full (%d items): delete some first",
		         DEMO_ITEMS_MAX);
		return http_respond_error(req, 409, "list_full", desc);
	}
	if (added == DEMO_ADD_USERS) {
		snprintf(desc, sizeof(desc),
		         "the demo keeps lists for at most %d users",
		         DEMO_USERS_MAX);
		return http_respond_error(req, 507, "too_many_users", desc);
	}
	if (added != DEMO_ADD_OK)
		return ST_NOMEM;
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK) {
		json_decref(item);
		return ST_NOMEM;
	}
	return http_respond_json(req, 201, item);
}

/* DELETE /api/todos/{id}: 204, or 404 if the user has no such item. */
static enum status
todos_delete(struct demo *d, struct http_req *req, const char *user,
             const char *id)
{
	if (!demo_todo_remove(d, user, id))
		return http_respond_error(req, 404, "not_found",
		                          "no such item");
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK)
		return ST_NOMEM;
	return http_respond_text(req, 204, NULL, "", 0);
}

bool
demo_user_of(struct demo *d, struct http_req *req, const char *why,
             struct gw_identity *id, enum status *rc)
{
	enum gw_check chk;
	char desc[256];

	memset(id, 0, sizeof(*id));
	chk = gw_bearer_check(d->gw, req, id);
	if (chk != GW_OK) {
		*rc = gw_respond_unauthorized(d->gw, req, chk);
		return false;
	}
	if (id->user[0] != '\0')
		return true;
	snprintf(desc, sizeof(desc),
	         "this token has no user (client_credentials): %s", why);
	*rc = http_respond_error(req, 403, "user_required", desc);
	return false;
}

enum status
demo_api_handle(struct http_req *req, void *ctx)
{
	struct demo *d = ctx;
	struct gw_identity id;
	enum status rc;
	const char *method = http_req_method(req);
	const char *path = http_req_path(req);
	const char *item = NULL;
	bool write;

	if (strncmp(path, API_PATH "/", sizeof(API_PATH)) == 0)
		item = path + sizeof(API_PATH);
	write = strcmp(method, "GET") != 0;

	if (!demo_user_of(d, req,
	                  "the TODO API keeps one list per user, use a token "
	                  "from the authorization-code flow",
	                  &id, &rc))
		return rc;
	if (!gw_scope_has(&id, write ? DEMO_SCOPE_WRITE : DEMO_SCOPE_READ))
		return demo_respond_scope(
		    d, req, write ? DEMO_SCOPE_WRITE : DEMO_SCOPE_READ);

	if (item != NULL) {
		if (strcmp(method, "DELETE") != 0 || item[0] == '\0' ||
		    strlen(item) >= DEMO_ID_MAX || strchr(item, '/') != NULL)
			return http_respond_error(req, 404, "not_found",
			                          "no such item");
		return todos_delete(d, req, id.user, item);
	}
	if (strcmp(method, "POST") == 0)
		return todos_add(d, req, id.user);
	return todos_list(d, req, id.user);
}
