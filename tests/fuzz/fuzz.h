/*
 * Helpers shared by the libFuzzer harnesses (one per parser of untrusted
 * input; see docs/fuzzing.md). Header-only: each harness is one file.
 */
#ifndef PLUGAUTH_FUZZ_H
#define PLUGAUTH_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* New NUL-terminated copy of data[n] (free()); aborts on ENOMEM. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/*
 * Splits data[n] at '\0' bytes into at most max NUL-terminated pieces,
 * each new (free()); missing pieces are "". Returns the count filled in
 * (always max). The last piece takes the rest, '\0' bytes included up to
 * its first one.
 */
static inline void
fuzz_split(const uint8_t *data, size_t n, char **out, size_t max)
{
	size_t i, start = 0;

	for (i = 0; i < max; i++) {
		const uint8_t *nul;
		size_t len;

		if (start >= n) {
			out[i] = fuzz_strndup(data, 0);
			continue;
		}
		nul = memchr(data + start, '\0', n - start);
		len = nul != NULL ? (size_t)(nul - (data + start)) : n - start;
		out[i] = fuzz_strndup(data + start, len);
		start += len + 1;
	}
}

static inline void
fuzz_free_all(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

/* True if ok() holds for each '\n'-separated entry of list (redirect
 * URIs). Aborts on ENOMEM. */
static inline bool
fuzz_each_line(const char *list, bool (*ok)(const char *))
{
	char *copy = strdup(list), *p, *nl;
	bool all = true;

	if (copy == NULL)
		abort();
	for (p = copy; all && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		all = ok(p);
		if (nl == NULL)
			break;
	}
	free(copy);
	return all;
}

/* True if uri is one of the '\n'-separated entries of list (a client's
 * registered redirect URIs). */
static inline bool
fuzz_listed(const char *list, const char *uri)
{
	size_t n = strlen(uri);
	const char *p = list;

	while (*p != '\0') {
		size_t m = strcspn(p, "\n");

		if (m == n && strncmp(p, uri, n) == 0)
			return true;
		p += m;
		if (*p == '\n')
			p++;
	}
	return false;
}

#endif
