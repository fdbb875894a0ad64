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
 * gets 403. Everything is bounded: users, items per user, text length.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "gateway/gateway.h"
#include "demo/demo.h"

#define DEMO_USERS_MAX 1000
#define DEMO_ITEMS_MAX 100 /* per user */
#define DEMO_TEXT_MAX_CHARS 500
#define DEMO_ID_MAX 24
#define SCOPE_READ "todo.read"
#define SCOPE_WRITE "todo.write"
#define API_PATH "/api/todos"

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
	struct gw_env *gw;    /* borrowed */
	char challenge[2200]; /* resource_metadata="…" for 403s */
	pthread_mutex_t mu;
	struct demo_user **users; /* DEMO_USERS_MAX slots, n used */
	size_t n;
};

enum status
demo_new(const struct config *cfg, struct gw_env *gw, struct demo **out)
{
	struct demo *d;
	int n;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ST_NOMEM;
	d->users = calloc(DEMO_USERS_MAX, sizeof(*d->users));
	if (d->users == NULL) {
		free(d);
		return ST_NOMEM;
	}
	n = snprintf(d->challenge, sizeof(d->challenge),
	             "resource_metadata=\"%s/.well-known/"
	             "oauth-protected-resource\"",
	             cfg->server.issuer);
	if (n < 0 || (size_t)n >= sizeof(d->challenge)) {
		free(d->users);
		free(d);
		return ST_TOOBIG;
	}
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		free(d->users);
		free(d);
		return ST_INTERNAL;
	}
	d->gw = gw;
	*out = d;
	return ST_OK;
}

void
demo_free(struct demo *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		for (size_t k = 0; k < d->users[i]->n; k++)
			free(d->users[i]->items[k].text);
		free(d->users[i]);
	}
	free(d->users);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* The user's list, made if create and there is room; NULL if none.
 * Called with mu held. */
static struct demo_user *
user_find(struct demo *d, const char *name, bool create, bool *full)
{
	struct demo_user *u;

	*full = false;
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->users[i]->name, name) == 0)
			return d->users[i];
	if (!create)
		return NULL;
	if (d->n >= DEMO_USERS_MAX) {
		*full = true;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL || !str_copy(u->name, sizeof(u->name), name)) {
		free(u);
		return NULL;
	}
	u->next_id = 1;
	d->users[d->n++] = u;
	return u;
}

/* Characters (code points) of valid UTF-8 text. */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* 403 insufficient_scope (RFC 6750 §3.1) naming the scope needed. */
static enum status
respond_scope(struct demo *d, struct http_req *req, const char *scope)
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
	struct demo_user *u;
	json_t *arr, *item;
	bool full;

	arr = json_array();
	if (arr == NULL)
		return ST_NOMEM;
	pthread_mutex_lock(&d->mu);
	u = user_find(d, user, false, &full);
	for (size_t i = 0; u != NULL && i < u->n; i++) {
		item = json_pack("{s:s, s:s}", "id", u->items[i].id, "text",
		                 u->items[i].text);
		if (item == NULL || json_array_append_new(arr, item) != 0) {
			pthread_mutex_unlock(&d->mu);
			json_decref(arr);
			return ST_NOMEM;
		}
	}
	pthread_mutex_unlock(&d->mu);
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
	struct demo_user *u;
	json_error_t jerr;
	json_t *doc, *text, *item;
	char id[DEMO_ID_MAX], desc[96], *copy;
	const char *s;
	size_t len;
	bool full;

	doc = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return http_respond_error(req, 400, "invalid_request",
		                          "the body must be a JSON object "
		                          "{\"text\": \"…\"}");
	}
	text = json_object_get(doc, "text");
	if (!json_is_string(text) || json_string_length(text) == 0) {
		json_decref(doc);
		return http_respond_error(
		    req, 400, "invalid_request",
		    "\"text\" must be a non-empty string");
	}
	s = json_string_value(text);
	len = json_string_length(text);
	if (memchr(s, '\0', len) != NULL ||
	    utf8_chars(s, len) > DEMO_TEXT_MAX_CHARS) {
		json_decref(doc);
		snprintf(desc, sizeof(desc),
		         "\"text\" must be at most %d characters, without NUL",
		         DEMO_TEXT_MAX_CHARS);
		return http_respond_error(req, 400, "invalid_request", desc);
	}
	copy = strdup(s);
	json_decref(doc);
	if (copy == NULL)
		return ST_NOMEM;

	pthread_mutex_lock(&d->mu);
	u = user_find(d, user, true, &full);
	if (u == NULL || u->n >= DEMO_ITEMS_MAX) {
		pthread_mutex_unlock(&d->mu);
		free(copy);
		if (u != NULL) {
			snprintf(
			    desc, sizeof(desc),
			    "the list is full (%d items): delete some first",
			    DEMO_ITEMS_MAX);
			return http_respond_error(req, 409, "list_full", desc);
		}
		if (full) {
			snprintf(desc, sizeof(desc),
			         "the demo keeps lists for at most %d users",
			         DEMO_USERS_MAX);
			return http_respond_error(req, 507, "too_many_users",
			                          desc);
		}
		return ST_NOMEM;
	}
	snprintf(id, sizeof(id), "%llu", (unsigned long long)u->next_id++);
	memcpy(u->items[u->n].id, id, sizeof(id));
	u->items[u->n].text = copy;
	u->n++;
	item = json_pack("{s:s, s:s}", "id", id, "text", copy);
	pthread_mutex_unlock(&d->mu);
	log_info("event=demo_todo_added user=%s id=%s", user, id);
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
	struct demo_user *u;
	bool full, found = false;

	pthread_mutex_lock(&d->mu);
	u = user_find(d, user, false, &full);
	for (size_t i = 0; u != NULL && i < u->n; i++) {
		if (strcmp(u->items[i].id, id) != 0)
			continue;
		free(u->items[i].text);
		memmove(&u->items[i], &u->items[i + 1],
		        (u->n - i - 1) * sizeof(u->items[0]));
		u->n--;
		found = true;
		break;
	}
	pthread_mutex_unlock(&d->mu);
	if (!found)
		return http_respond_error(req, 404, "not_found",
		                          "no such item");
	if (http_resp_header(req, "Cache-Control", "no-store") != ST_OK)
		return ST_NOMEM;
	return http_respond_text(req, 204, NULL, "", 0);
}

enum status
demo_api_handle(struct http_req *req, void *ctx)
{
	struct demo *d = ctx;
	struct gw_identity id;
	enum gw_check chk;
	const char *method = http_req_method(req);
	const char *path = http_req_path(req);
	const char *item = NULL;
	bool write;

	if (strncmp(path, API_PATH "/", sizeof(API_PATH)) == 0)
		item = path + sizeof(API_PATH);
	write = strcmp(method, "GET") != 0;

	memset(&id, 0, sizeof(id));
	chk = gw_bearer_check(d->gw, req, &id);
	if (chk != GW_OK)
		return gw_respond_unauthorized(d->gw, req, chk);
	if (id.user[0] == '\0')
		return http_respond_error(
		    req, 403, "user_required",
		    "this token has no user (client_credentials): the TODO "
		    "API keeps one list per user, use a token from the "
		    "authorization-code flow");
	if (!gw_scope_has(&id, write ? SCOPE_WRITE : SCOPE_READ))
		return respond_scope(d, req, write ? SCOPE_WRITE : SCOPE_READ);

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
