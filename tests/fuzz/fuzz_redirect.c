/*
 * redirect_uri checks (src/oauth/redirect.c). Input: uri '\0' registered
 * list ('\n'-separated) '\0' flags. oauth_redirect_allowed() must accept
 * exactly the registered strings, plus the ChatGPT family for a chatgpt
 * client; oauth_redirect_is_chatgpt() must only accept https URIs on the
 * two ChatGPT hosts ending in /oauth/callback.
 */
#include <stdlib.h>
#include <string.h>

#include "oauth/oauth_int.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[3];
	struct store_client c;
	bool chat, ok;

	fuzz_split(data, size, part, 3);
	chat = oauth_redirect_is_chatgpt(part[0]);
	if (chat &&
	    (strncmp(part[0], "https://", 8) != 0 ||
	     (strncmp(part[0] + 8, "chat.openai.com/aip/", 20) != 0 &&
	      strncmp(part[0] + 8, "chatgpt.com/aip/", 16) != 0) ||
	     strlen(part[0]) < 15 ||
	     strcmp(part[0] + strlen(part[0]) - 15, "/oauth/callback") != 0 ||
	     strpbrk(part[0], "?#@ \t\r\n\\") != NULL))
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
