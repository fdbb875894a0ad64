/*
 * redirect_uri checks (RFC 9700 §4.1.3): exact string match against the
 * client's registered list, or, for a --chatgpt client, the ChatGPT
 * callback family matched strictly:
 *   https://(chat.openai.com|chatgpt.com)/aip/
 *       (plugin-[0-9a-f-]+|g-[0-9a-f]{40})/oauth/callback
 * and ChatGPT's app (MCP connector) callbacks:
 *   https://chatgpt.com/connector/oauth/[A-Za-z0-9_-]{1,128}
 *   https://chatgpt.com/connector_platform_oauth_redirect
 * A dynamically registered client's loopback URI (http://127.0.0.1,
 * http://[::1], http://localhost) matches with any port (RFC 8252 §7.3).
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

/* The rest of a loopback http URI past its port: NULL if u[n] is not
 * http://(127.0.0.1|[::1]|localhost)[:port]... */
static const char *
loopback_rest(const char *u, size_t n, size_t *host_end)
{
	static const char *const hosts[] = {"http://127.0.0.1", "http://[::1]",
	                                    "http://localhost"};
	size_t i, h;

	for (i = 0; i < ARRAY_LEN(hosts); i++) {
		h = strlen(hosts[i]);
		if (n >= h && memcmp(u, hosts[i], h) == 0)
			break;
	}
	if (i == ARRAY_LEN(hosts))
		return NULL;
	*host_end = h;
	if (h < n && u[h] == ':') {
		h++;
		while (h < n && u[h] >= '0' && u[h] <= '9')
			h++;
	}
	if (h < n && u[h] != '/' && u[h] != '?')
		return NULL;
	return u + h;
}

/* RFC 8252 §7.3: a native app's loopback redirect may use any port. The
 * registered reg[n] and uri match but for the port. */
static bool
loopback_match(const char *reg, size_t n, const char *uri)
{
	size_t rh, uh, ulen = strlen(uri);
	const char *rr = loopback_rest(reg, n, &rh);
	const char *ur = loopback_rest(uri, ulen, &uh);

	return rr != NULL && ur != NULL && rh == uh &&
	       memcmp(reg, uri, rh) == 0 &&
	       (size_t)(reg + n - rr) == (size_t)(uri + ulen - ur) &&
	       memcmp(rr, ur, (size_t)(reg + n - rr)) == 0;
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
		/* Only for registered clients: an administrator's exact
		 * loopback URI stays exact. */
		if (c->origin == STORE_ORIGIN_REGISTERED &&
		    loopback_match(p, m, uri))
			return true;
		p += m;
		if (*p == '\n')
			p++;
	}
	return false;
}
