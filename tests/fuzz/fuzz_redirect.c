/*
 * redirect_uri checks (src/oauth/redirect.c). Input: uri '\0' registered
 * list ('\n'-separated) '\0' flags. oauth_redirect_allowed() must accept
 * exactly the registered strings, plus the ChatGPT family for a chatgpt
 * client; oauth_redirect_is_chatgpt() must only accept https URIs on the
 * two ChatGPT hosts ending in /oauth/callback, and the two connector
 * (MCP app) callback shapes on chatgpt.com.
 */
#include <stdlib.h>
#include <string.h>

#include "oauth/oauth_int.h"
#include "fuzz.h"

/* The oracle, written independently of redirect.c: could uri be a member
 * of the family at all? */
static bool
family_shape(const char *u)
{
	const char *connector = "https://chatgpt.com/connector/oauth/";
	size_t n = strlen(u);

	if (strcmp(u,
	           "https://chatgpt.com/connector_platform_oauth_redirect") ==
	    0)
		return true;
	if (strncmp(u, connector, strlen(connector)) == 0)
		return n > strlen(connector) &&
		       strspn(
		           u + strlen(connector),
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
		           "xyz0123456789_-") == n - strlen(connector);
	return strncmp(u, "https://", 8) == 0 &&
	       (strncmp(u + 8, "chat.openai.com/aip/", 20) == 0 ||
	        strncmp(u + 8, "chatgpt.com/aip/", 16) == 0) &&
	       n >= 15 && strcmp(u + n - 15, "/oauth/callback") == 0 &&
	       strpbrk(u, "?#@ \t\r\n\\") == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[3];
	struct store_client c;
	bool chat, ok;

	fuzz_split(data, size, part, 3);
	chat = oauth_redirect_is_chatgpt(part[0]);
	if (chat && !family_shape(part[0]))
		abort(); /* accepted something outside the family */

	memset(&c, 0, sizeof(c));
	c.chatgpt = part[2][0] == 'c';
	c.redirect_uris = part[1];
	ok = oauth_redirect_allowed(&c, part[0]);
	if (ok != ((c.chatgpt && chat) || fuzz_listed(part[1], part[0])))
		abort();
	c.redirect_uris = NULL;
	if (oauth_redirect_allowed(&c, part[0]) != (c.chatgpt && chat))
		abort();
	fuzz_free_all(part, 3);
	return 0;
}
