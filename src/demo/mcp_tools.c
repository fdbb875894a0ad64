/*
 * The demo MCP server's tools (plugauth demo only): list_todos, add_todo
 * and complete_todo act on the signed-in user's TODO list, the same one
 * the TODO API shows (todo.c). list_todos needs the todo.read scope, the
 * others todo.write.
 *
 * A tool's own failure (bad arguments, a full list, no such item) is a
 * result with isError: true that the model can read and correct (MCP
 * 2025-11-25, "Error Handling"); an unknown tool or arguments that are not
 * an object are JSON-RPC errors (-32602).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "demo/demo_int.h"

/* tools/list's answer. Every result carries structuredContent matching
 * its outputSchema, and the same JSON as text for older clients. */
static const char tools_json[] =
    "{\"tools\": ["
    "{\"name\": \"list_todos\", \"title\": \"List TODOs\","
    " \"description\": \"Lists the items on the signed-in user's TODO "
    "list, oldest first.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {},"
    " \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {\"todos\":"
    " {\"type\": \"array\", \"items\": {\"type\": \"object\","
    " \"properties\": {\"id\": {\"type\": \"string\"},"
    " \"text\": {\"type\": \"string\"}}, \"required\": [\"id\", "
    "\"text\"]}}},"
    " \"required\": [\"todos\"]},"
    " \"annotations\": {\"readOnlyHint\": true, \"openWorldHint\": false}},"
    "{\"name\": \"add_todo\", \"title\": \"Add a TODO\","
    " \"description\": \"Adds an item to the end of the signed-in user's "
    "TODO list and returns it with its id.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {\"text\":"
    " {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 500,"
    " \"description\": \"What to do\"}}, \"required\": [\"text\"],"
    " \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\":"
    " {\"id\": {\"type\": \"string\"}, \"text\": {\"type\": \"string\"}},"
    " \"required\": [\"id\", \"text\"]},"
    " \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": false,"
    " \"idempotentHint\": false, \"openWorldHint\": false}},"
    "{\"name\": \"complete_todo\", \"title\": \"Complete a TODO\","
    " \"description\": \"Marks an item done, which removes it from the "
    "signed-in user's TODO list. Takes the id list_todos or add_todo "
    "gave.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {\"id\":"
    " {\"type\": \"string\", \"description\": \"The item's id\"}},"
    " \"required\": [\"id\"], \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\":"
    " {\"id\": {\"type\": \"string\"}, \"completed\": {\"type\": "
    "\"boolean\"}},"
    " \"required\": [\"id\", \"completed\"]},"
    " \"annotations\": {\"readOnlyHint\": false, \"destructiveHint\": true,"
    " \"idempotentHint\": true, \"openWorldHint\": false}}"
    "]}";

json_t *
demo_mcp_tools(void)
{
	return json_loads(tools_json, 0, NULL);
}

/* A tool result: takes structured (NULL for an error result, then msg is
 * its text); new, NULL on ENOMEM. */
static json_t *
tool_result(json_t *structured, const char *msg)
{
	char *text;
	json_t *r;

	if (structured == NULL)
		return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
		                 "text", "text", msg, "isError", 1);
	text = json_dumps(structured, JSON_COMPACT);
	if (text == NULL) {
		json_decref(structured);
		return NULL;
	}
	r = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text",
	              "text", text, "structuredContent", structured, "isError",
	              0);
	free(text);
	return r;
}

static json_t *
tool_list(struct demo *d, const char *user)
{
	json_t *todos = demo_todos_get(d, user);

	if (todos == NULL)
		return NULL;
	return tool_result(json_pack("{s:o}", "todos", todos), NULL);
}

static json_t *
tool_add(struct demo *d, const char *user, json_t *args)
{
	json_t *text = json_object_get(args, "text"), *item = NULL;
	const char *why;
	char msg[96];

	why = !json_is_string(text) ? "\"text\" must be a non-empty string"
	                            : demo_text_check(json_string_value(text),
	                                              json_string_length(text));
	if (why != NULL)
		return tool_result(NULL, why);
	switch (demo_todo_add(d, user, json_string_value(text),
	                      json_string_length(text), &item)) {
	case DEMO_ADD_OK:
		return tool_result(item, NULL);
	case DEMO_ADD_FULL:
		snprintf(msg, sizeof(msg),
		         "the list is full (%d items): complete some first",
		         DEMO_ITEMS_MAX);
		return tool_result(NULL, msg);
	case DEMO_ADD_USERS:
		snprintf(msg, sizeof(msg),
		         "the demo keeps lists for at most %d users",
		         DEMO_USERS_MAX);
		return tool_result(NULL, msg);
	default:
		return NULL;
	}
}

static json_t *
tool_complete(struct demo *d, const char *user, json_t *args)
{
	json_t *jid = json_object_get(args, "id");
	char id[DEMO_ID_MAX];

	/* A model may well send the id as a number: take that too. */
	if (json_is_integer(jid) && json_integer_value(jid) > 0)
		snprintf(id, sizeof(id), "%lld",
		         (long long)json_integer_value(jid));
	else if (!json_is_string(jid) ||
	         !str_copy(id, sizeof(id), json_string_value(jid)))
		return tool_result(NULL, "\"id\" must be an item's id, as "
		                         "list_todos gives it");
	if (!demo_todo_remove(d, user, id))
		return tool_result(NULL, "no such item: list_todos gives "
		                         "the ids");
	return tool_result(json_pack("{s:s, s:b}", "id", id, "completed", 1),
	                   NULL);
}

enum demo_mcp_tool
demo_mcp_tool_call(struct demo *d, const struct gw_identity *who,
                   const char *name, json_t *args, const char **need,
                   json_t **out)
{
	static const struct {
		const char *name, *scope;
	} tools[] = {
	    {"list_todos", DEMO_SCOPE_READ},
	    {"add_todo", DEMO_SCOPE_WRITE},
	    {"complete_todo", DEMO_SCOPE_WRITE},
	};
	size_t i;
	json_t *r;

	for (i = 0; i < ARRAY_LEN(tools); i++)
		if (strcmp(name, tools[i].name) == 0)
			break;
	if (i == ARRAY_LEN(tools))
		return DEMO_TOOL_UNKNOWN;
	if (!gw_scope_has(who, tools[i].scope)) {
		*need = tools[i].scope;
		return DEMO_TOOL_SCOPE;
	}
	if (i == 0)
		r = tool_list(d, who->user);
	else if (i == 1)
		r = tool_add(d, who->user, args);
	else
		r = tool_complete(d, who->user, args);
	if (r == NULL)
		return DEMO_TOOL_NOMEM;
	*out = r;
	return DEMO_TOOL_OK;
}
