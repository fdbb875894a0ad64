/* Scope lists (RFC 6749 §3.3): space-separated scope-tokens. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "oauth/oauth_int.h"

#define SCOPE_MAX_BYTES 1024

bool
oauth_scope_has(const char *list, const char *tok, size_t toklen)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > 0 && n == toklen && memcmp(p, tok, n) == 0)
			return true;
		p += n;
	}
	return false;
}

enum oauth_error
oauth_scope_resolve(const char *requested, const char *server_scopes,
                    const char *default_scope, const char *client_scopes,
                    char **out, const char **why)
{
	struct buf b;
	const char *p;

	if (requested == NULL || requested[0] == '\0')
		requested = default_scope;
	if (strlen(requested) > SCOPE_MAX_BYTES) {
		*why = "scope too long";
		return OAUTH_INVALID_SCOPE;
	}
	buf_init(&b, SCOPE_MAX_BYTES);
	for (p = requested; *p != '\0';) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (!oauth_scope_has(server_scopes, p, n)) {
			*why = "unknown scope";
			goto invalid;
		}
		if (client_scopes[0] != '\0' &&
		    !oauth_scope_has(client_scopes, p, n)) {
			*why = "scope not allowed for this client";
			goto invalid;
		}
		if (!oauth_scope_has(b.p == NULL ? "" : b.p, p, n) &&
		    ((b.len > 0 && buf_add(&b, " ", 1) != ST_OK) ||
		     buf_add(&b, p, n) != ST_OK))
			return OAUTH_SERVER_ERROR;
		p += n;
	}
	if (b.len == 0) {
		*why = "empty scope";
		goto invalid;
	}
	*out = buf_take(&b);
	return OAUTH_OK;
invalid:
	buf_free(&b);
	return OAUTH_INVALID_SCOPE;
}
