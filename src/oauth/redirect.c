/*
 * redirect_uri checks (RFC 9700 §4.1.3): exact string match against the
 * client's registered list, or, for a --chatgpt client, the ChatGPT
 * callback family matched strictly:
 *   https://(chat.openai.com|chatgpt.com)/aip/
 *       (plugin-[0-9a-f-]+|g-[0-9a-f]{40})/oauth/callback
 * and ChatGPT's app (MCP connector) callbacks:
 *   https://chatgpt.com/connector/oauth/[A-Za-z0-9_-]{1,128}
 *   https://chatgpt.com/connector_platform_oauth_redirect
 */
#include <string.h>

#include "oauth/oauth_int.h"

#define PLUGIN_ID_MAX 64
#define CALLBACK_ID_MAX 128

static const char callback_id_set[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/* Consumes lit at *p; false if it is not there. */
static bool
eat(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Consumes a run of chars from set, between min and max long. */
static bool
eat_span(const char **p, const char *set, size_t min, size_t max)
{
	size_t n = strspn(*p, set);

	if (n < min || n > max)
		return false;
	*p += n;
	return true;
}

bool
oauth_redirect_is_chatgpt(const char *uri)
{
	const char *p = uri;

	if (!eat(&p, "https://"))
		return false;
	if (strcmp(p, "chatgpt.com/connector_platform_oauth_redirect") == 0)
		return true;
	if (eat(&p, "chatgpt.com/connector/oauth/"))
		return eat_span(&p, callback_id_set, 1, CALLBACK_ID_MAX) &&
		       *p == '\0';
	if (!eat(&p, "chat.openai.com/aip/") && !eat(&p, "chatgpt.com/aip/"))
		return false;
	if (eat(&p, "plugin-")) {
		if (!eat_span(&p, "0123456789abcdef-", 1, PLUGIN_ID_MAX))
			return false;
	} else if (eat(&p, "g-")) {
		if (!eat_span(&p, "0123456789abcdef", 40, 40))
			return false;
	} else {
		return false;
	}
	return strcmp(p, "/oauth/callback") == 0;
}

bool
oauth_redirect_allowed(const struct store_client *c, const char *uri)
{
	size_t n = strlen(uri);
	const char *p;

	if (c->chatgpt && oauth_redirect_is_chatgpt(uri))
		return true;
	for (p = c->redirect_uris; p != NULL && *p != '\0';) {
		size_t m = strcspn(p, "\n");

		if (m == n && memcmp(p, uri, n) == 0)
			return true;
		p += m;
		if (*p == '\n')
			p++;
	}
	return false;
}
