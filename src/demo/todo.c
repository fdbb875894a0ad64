/*
 * The demo's TODO lists (plugauth demo only): one list per user, in
 * memory, shared by the TODO API (api.c) and the MCP server (mcp.c).
 * Everything is bounded: users, items per user, text length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "demo/demo_int.h"

#define STR_OF_(x) #x
#define STR_OF(x) STR_OF_(x)

enum status
demo_new(const struct config *cfg, struct gw_env *gw, struct demo **out)
{
	struct demo *d;
	enum status rc = ST_NOMEM;
	int n;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ST_NOMEM;
	d->users = calloc(DEMO_USERS_MAX, sizeof(*d->users));
	if (d->users == NULL)
		goto fail;
	n = snprintf(d->challenge, sizeof(d->challenge),
	             "resource_metadata=\"%s/.well-known/"
	             "oauth-protected-resource\"",
	             cfg->server.issuer);
	if (n < 0 || (size_t)n >= sizeof(d->challenge)) {
		rc = ST_TOOBIG;
		goto fail;
	}
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		rc = ST_INTERNAL;
		goto fail;
	}
	d->gw = gw;
	*out = d;
	return ST_OK;
fail:
	free(d->users);
	free(d);
	return rc;
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

const char *
demo_text_check(const char *s, size_t len)
{
	if (len == 0)
		return "\"text\" must be a non-empty string";
	if (memchr(s, '\0', len) != NULL ||
	    utf8_chars(s, len) > DEMO_TEXT_MAX_CHARS)
		return "\"text\" must be at most " STR_OF(
		    DEMO_TEXT_MAX_CHARS) " characters, without NUL";
	return NULL;
}

json_t *
demo_todos_get(struct demo *d, const char *user)
{
	struct demo_user *u;
	json_t *arr, *item;
	bool full;

	arr = json_array();
	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&d->mu);
	u = user_find(d, user, false, &full);
	for (size_t i = 0; u != NULL && i < u->n; i++) {
		item = json_pack("{s:s, s:s}", "id", u->items[i].id, "text",
		                 u->items[i].text);
		if (item == NULL || json_array_append_new(arr, item) != 0) {
			pthread_mutex_unlock(&d->mu);
			json_decref(arr);
			return NULL;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return arr;
}

enum demo_add
demo_todo_add(struct demo *d, const char *user, const char *text, size_t len,
              json_t **item)
{
	struct demo_user *u;
	char id[DEMO_ID_MAX], *copy;
	json_t *j;
	bool full;

	copy = strndup(text, len);
	if (copy == NULL)
		return DEMO_ADD_NOMEM;
	pthread_mutex_lock(&d->mu);
	u = user_find(d, user, true, &full);
	if (u == NULL || u->n >= DEMO_ITEMS_MAX) {
		pthread_mutex_unlock(&d->mu);
		free(copy);
		return u != NULL ? DEMO_ADD_FULL
		       : full    ? DEMO_ADD_USERS
		                 : DEMO_ADD_NOMEM;
	}
	snprintf(id, sizeof(id), "%llu", (unsigned long long)u->next_id++);
	memcpy(u->items[u->n].id, id, sizeof(id));
	u->items[u->n].text = copy;
	u->n++;
	j = json_pack("{s:s, s:s}", "id", id, "text", copy);
	pthread_mutex_unlock(&d->mu);
	if (j == NULL)
		return DEMO_ADD_NOMEM; /* added all the same */
	log_info("event=demo_todo_added user=%s id=%s", user, id);
	*item = j;
	return DEMO_ADD_OK;
}

bool
demo_todo_remove(struct demo *d, const char *user, const char *id)
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
	return found;
}
