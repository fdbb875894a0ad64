/*
 * The built-in OpenAPI 3.0 document of the demo TODO API, built as a
 * jansson value and written out as YAML (never hand-built text: every
 * string goes through jansson's escaping).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin/plugin_int.h"

/* Largest document; the built-in one is a few KiB. */
#define DOC_MAX_BYTES (256 * 1024)
#define URL_MAX_BYTES 2048
#define SCOPE_READ "todo.read"
#define SCOPE_WRITE "todo.write"

/* YAML 1.1 readers take these plain scalars for booleans or null. */
static const char *const yaml_words[] = {"y",     "n",  "yes", "no",   "true",
                                         "false", "on", "off", "null", "~"};

/* True if key can be written as a plain YAML scalar that reads back as the
 * same string: no indicator first, no ": " or " #", not a number, not a
 * boolean or null word. Otherwise it is written double-quoted. */
static bool
yaml_plain_ok(const char *key)
{
	const char *p;

	if (!((key[0] >= 'a' && key[0] <= 'z') ||
	      (key[0] >= 'A' && key[0] <= 'Z') || key[0] == '/' ||
	      key[0] == '_' || key[0] == '$'))
		return false;
	for (p = key; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') ||
		      strchr("_./{}$-", *p) != NULL))
			return false;
	for (size_t i = 0; i < ARRAY_LEN(yaml_words); i++)
		if (strcasecmp(key, yaml_words[i]) == 0)
			return false;
	return true;
}

/* Appends a scalar (string, number, true, false, null) as JSON text,
 * which is also YAML: a double-quoted string with JSON escapes. */
static enum status
yaml_scalar(struct buf *out, const json_t *v)
{
	char *s;
	enum status rc;

	s = json_dumps(v, JSON_ENCODE_ANY);
	if (s == NULL) {
		buf_free(out);
		return ST_NOMEM;
	}
	rc = buf_adds(out, s);
	free(s);
	return rc;
}

static enum status
yaml_key(struct buf *out, const char *key)
{
	json_t *k;
	enum status rc;

	if (yaml_plain_ok(key))
		return buf_adds(out, key);
	k = json_string(key);
	if (k == NULL) {
		buf_free(out);
		return ST_NOMEM;
	}
	rc = yaml_scalar(out, k);
	json_decref(k);
	return rc;
}

static enum status
yaml_indent(struct buf *out, unsigned n)
{
	static const char spaces[] = "                                ";
	enum status rc = ST_OK;

	while (rc == ST_OK && n > 0) {
		unsigned k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		rc = buf_add(out, spaces, k);
		n -= k;
	}
	return rc;
}

static bool
is_collection(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static enum status yaml_node(struct buf *, const json_t *, unsigned, bool);

/*
 * Appends the value that follows "key:" or "- ": a scalar or an empty
 * collection on the same line, else the collection on the next lines,
 * indented by indent. in_seq: v is a sequence item, right after "- ",
 * where a mapping's first key goes.
 */
static enum status
yaml_value(struct buf *out, const json_t *v, unsigned indent, bool in_seq)
{
	enum status rc;

	if (json_is_object(v) && json_object_size(v) == 0)
		return buf_adds(out, in_seq ? "{}\n" : " {}\n");
	if (json_is_array(v) && json_array_size(v) == 0)
		return buf_adds(out, in_seq ? "[]\n" : " []\n");
	if (!is_collection(v)) {
		if (!in_seq && (rc = buf_adds(out, " ")) != ST_OK)
			return rc;
		if ((rc = yaml_scalar(out, v)) != ST_OK)
			return rc;
		return buf_adds(out, "\n");
	}
	if (in_seq && json_is_object(v))
		return yaml_node(out, v, indent, true);
	if ((rc = buf_adds(out, "\n")) != ST_OK)
		return rc;
	return yaml_node(out, v, indent, false);
}

/* Appends a non-empty mapping or sequence at indent; with inline_first,
 * the first key continues the current line. */
static enum status
yaml_node(struct buf *out, const json_t *v, unsigned indent, bool inline_first)
{
	const char *key;
	const json_t *item;
	size_t i;
	bool first = true;
	enum status rc = ST_OK;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)(uintptr_t)v, key, item)
		{
			if (!(first && inline_first))
				rc = yaml_indent(out, indent);
			first = false;
			if (rc != ST_OK || (rc = yaml_key(out, key)) != ST_OK ||
			    (rc = buf_adds(out, ":")) != ST_OK ||
			    (rc = yaml_value(out, item, indent + 2, false)) !=
			        ST_OK)
				return rc;
		}
		return ST_OK;
	}
	json_array_foreach(v, i, item)
	{
		if ((rc = yaml_indent(out, indent)) != ST_OK ||
		    (rc = buf_adds(out, "- ")) != ST_OK ||
		    (rc = yaml_value(out, item, indent + 2, true)) != ST_OK)
			return rc;
	}
	return ST_OK;
}

enum status
plug_yaml_dump(const json_t *v, struct buf *out)
{
	if (!is_collection(v))
		return yaml_value(out, v, 0, true);
	return yaml_node(out, v, 0, false);
}

/* A {"$ref": "#/components/<what>"} object. */
static json_t *
ref(const char *what)
{
	char p[128];
	int n;

	n = snprintf(p, sizeof(p), "#/components/%s", what);
	if (n < 0 || (size_t)n >= sizeof(p))
		return NULL;
	return json_pack("{s:s}", "$ref", p);
}

/* {"application/json": {"schema": {"$ref": …}}} */
static json_t *
json_content(const char *schema)
{
	char what[64];
	int n;

	n = snprintf(what, sizeof(what), "schemas/%s", schema);
	if (n < 0 || (size_t)n >= sizeof(what))
		return NULL;
	return json_pack("{s:{s:o}}", "application/json", "schema", ref(what));
}

/* True if the space-separated list has the scope. */
static bool
scope_listed(const char *list, const char *scope)
{
	size_t n = strlen(scope);

	for (const char *p = list; *p != '\0';) {
		size_t k = strcspn(p, " ");

		if (k == n && memcmp(p, scope, n) == 0)
			return true;
		p += k;
		p += strspn(p, " ");
	}
	return false;
}

/* [{"oauth2": [scope]}], or [{"oauth2": []}] if scope is not configured. */
static json_t *
security(const struct config *cfg, const char *scope)
{
	if (scope_listed(cfg->oauth.scopes, scope))
		return json_pack("[{s:[s]}]", "oauth2", scope);
	return json_pack("[{s:[]}]", "oauth2");
}

/* {"<scope>": "<scope>", …} for every configured scope. */
static json_t *
scopes_object(const struct config *cfg)
{
	json_t *o;
	char tok[256];

	o = json_object();
	if (o == NULL)
		return NULL;
	for (const char *p = cfg->oauth.scopes; *p != '\0';) {
		size_t k = strcspn(p, " ");

		if (k > 0 && k < sizeof(tok)) {
			memcpy(tok, p, k);
			tok[k] = '\0';
			if (json_object_set_new(o, tok, json_string(tok)) !=
			    0) {
				json_decref(o);
				return NULL;
			}
		}
		p += k;
		p += strspn(p, " ");
	}
	return o;
}

/*
 * The json_pack() calls below are laid out as the document they build,
 * one key per line, indented by depth; clang-format would pack them.
 */
/* clang-format off */
static json_t *
schemas(void)
{
	return json_pack("{s:{s:s, s:[s, s], s:{s:{s:s, s:s}, s:{s:s}}},"
	    " s:{s:s, s:[s], s:{s:{s:s, s:i}}},"
	    " s:{s:s, s:[s], s:{s:{s:s, s:o}}},"
	    " s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}}}}",
	    "Todo",
		"type", "object",
		"required", "id", "text",
		"properties",
		    "id", "type", "string", "description", "The item's id",
		    "text", "type", "string",
	    "NewTodo",
		"type", "object",
		"required", "text",
		"properties",
		    "text", "type", "string", "minLength", 1,
	    "TodoList",
		"type", "object",
		"required", "todos",
		"properties",
		    "todos", "type", "array", "items", ref("schemas/Todo"),
	    "Error",
		"type", "object",
		"required", "error",
		"properties",
		    "error", "type", "string",
		    "error_description", "type", "string");
}

static json_t *
paths(const struct config *cfg)
{
	return json_pack("{s:{s:{s:s, s:s, s:o, s:{s:{s:s, s:o}, s:o}},"
	    " s:{s:s, s:s, s:o, s:{s:b, s:o},"
	    " s:{s:{s:s, s:o}, s:{s:s, s:o}, s:o}}},"
	    " s:{s:{s:s, s:s, s:o, s:[{s:s, s:s, s:b, s:s, s:{s:s}}],"
	    " s:{s:{s:s}, s:{s:s, s:o}, s:o}}}}",
	    "/api/todos",
		"get",
		    "operationId", "listTodos",
		    "summary", "List the user's TODO items",
		    "security", security(cfg, SCOPE_READ),
		    "responses",
			"200",
			    "description", "The user's TODO items",
			    "content", json_content("TodoList"),
			"401", ref("responses/Unauthorized"),
		"post",
		    "operationId", "addTodo",
		    "summary", "Add an item to the user's TODO list",
		    "security", security(cfg, SCOPE_WRITE),
		    "requestBody",
			"required", 1,
			"content", json_content("NewTodo"),
		    "responses",
			"201",
			    "description", "The item added",
			    "content", json_content("Todo"),
			"400",
			    "description", "The text is missing or empty",
			    "content", json_content("Error"),
			"401", ref("responses/Unauthorized"),
	    "/api/todos/{id}",
		"delete",
		    "operationId", "deleteTodo",
		    "summary", "Remove an item from the user's TODO list",
		    "security", security(cfg, SCOPE_WRITE),
		    "parameters",
			"name", "id",
			"in", "path",
			"required", 1,
			"description", "The item's id",
			"schema", "type", "string",
		    "responses",
			"204", "description", "The item was removed",
			"404",
			    "description", "No such item",
			    "content", json_content("Error"),
			"401", ref("responses/Unauthorized"));
}

/* The whole document; NULL when out of memory. */
static json_t *
openapi_doc(const struct config *cfg, const char *authorize_url,
    const char *token_url)
{
	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o,"
	    " s:{s:{s:{s:s, s:s, s:{s:{s:s, s:s, s:o}}}}, s:o,"
	    " s:{s:{s:s, s:o}}},"
	    " s:[{s:[]}]}",
	    "openapi", "3.0.3",
	    "info",
		"title", "TODO List",
		"description", "The demo TODO API served by plugauth: list, "
		    "add and remove the signed-in user's TODO items.",
		"version", "1.0.0",
	    "servers", "url", cfg->server.issuer,
	    "paths", paths(cfg),
	    "components",
		"securitySchemes",
		    "oauth2",
			"type", "oauth2",
			"description", "Sign in with plugauth",
			"flows",
			    "authorizationCode",
				"authorizationUrl", authorize_url,
				"tokenUrl", token_url,
				"scopes", scopes_object(cfg),
		"schemas", schemas(),
		"responses",
		    "Unauthorized",
			"description",
			    "Missing, invalid or expired access token",
			"content", json_content("Error"),
	    "security", "oauth2");
}
/* clang-format on */

enum status
plug_openapi_builtin(const struct config *cfg, char **out, size_t *len)
{
	char authorize_url[URL_MAX_BYTES], token_url[URL_MAX_BYTES], *p;
	struct buf b;
	json_t *doc;
	size_t n;
	enum status rc;
	int k;

	k = snprintf(authorize_url, sizeof(authorize_url), "%s/oauth/authorize",
	             cfg->server.issuer);
	if (k < 0 || (size_t)k >= sizeof(authorize_url))
		return ST_TOOBIG;
	k = snprintf(token_url, sizeof(token_url), "%s/oauth/token",
	             cfg->server.issuer);
	if (k < 0 || (size_t)k >= sizeof(token_url))
		return ST_TOOBIG;
	doc = openapi_doc(cfg, authorize_url, token_url);
	if (doc == NULL)
		return ST_NOMEM;
	buf_init(&b, DOC_MAX_BYTES);
	rc = plug_yaml_dump(doc, &b); /* frees b on error */
	json_decref(doc);
	if (rc != ST_OK)
		return rc;
	n = b.len;
	p = buf_take(&b);
	if (p == NULL)
		return ST_NOMEM;
	*len = n;
	*out = p;
	return ST_OK;
}
