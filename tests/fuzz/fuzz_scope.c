/*
 * Scope resolution (src/oauth/scope.c). Input: requested '\0' server
 * scopes '\0' default scope '\0' client scopes. On success the result must
 * be non-empty, hold no empty or repeated token, and only tokens the
 * server (and a restricted client) allow.
 */
#include <stdlib.h>
#include <string.h>

#include "oauth/oauth_int.h"
#include "fuzz.h"

/* True if tok[n] is a space-separated token of list. */
static bool
has(const char *list, const char *tok, size_t n)
{
	const char *p = list;

	while (*p != '\0') {
		size_t m;

		while (*p == ' ')
			p++;
		m = strcspn(p, " ");
		if (m == n && m > 0 && strncmp(p, tok, n) == 0)
			return true;
		p += m;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[4], *out = NULL;
	const char *why = NULL, *p;

	fuzz_split(data, size, part, 4);
	if (oauth_scope_resolve(part[0], part[1], part[2], part[3], &out,
	                        &why) == OAUTH_OK) {
		if (out == NULL || out[0] == '\0' || out[0] == ' ')
			abort();
		for (p = out; *p != '\0';) {
			size_t n = strcspn(p, " ");

			if (n == 0 || !has(part[1], p, n) ||
			    (part[3][0] != '\0' && !has(part[3], p, n)))
				abort();
			if (p[n] == ' ' &&
			    (p[n + 1] == '\0' || has(p + n + 1, p, n)))
				abort(); /* trailing space or repeat */
			p += n;
			if (*p == ' ')
				p++;
		}
		free(out);
	} else if (why == NULL) {
		abort(); /* every refusal says why */
	}
	fuzz_free_all(part, 4);
	return 0;
}
