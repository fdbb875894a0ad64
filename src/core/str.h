/* Slices of bytes that need not be NUL-terminated, and small string helpers. */
#ifndef PLUGAUTH_STR_H
#define PLUGAUTH_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct str {
	const char *p;
	size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})
#define STR_NULL ((struct str){NULL, 0})

/* Slice over a NUL-terminated string (NULL gives the empty slice). */
static inline struct str
str_of(const char *s)
{
	return (struct str){s, s == NULL ? 0 : strlen(s)};
}

/* True if both slices hold the same bytes (length checked first). */
static inline bool
str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* True if a equals the NUL-terminated string c. */
static inline bool
str_eq_c(struct str a, const char *c)
{
	return str_eq(a, str_of(c));
}

/* New NUL-terminated copy of s (free with free()); NULL on ENOMEM. */
char *str_dup(struct str s);

/* Copies src into dst[dstsz] always NUL-terminating; false if truncated. */
bool str_copy(char *dst, size_t dstsz, const char *src);

/* True if the list of single-space-separated words has tok[len] (len > 0). */
bool str_list_has(const char *list, const char *tok, size_t len);

/* Parses a decimal unsigned number in [min, max]; false if not exactly one. */
bool str_to_u64(struct str s, unsigned long long min, unsigned long long max,
                unsigned long long *out);

/* Formats a one-line diagnostic into err[errlen]; cutting it short is
 * fine. NULL or zero-sized err is ignored. */
void str_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies s into dst[dstsz] for a message: '?' for anything but printable
 * ASCII, "..." at the end when cut. Returns dst. */
const char *str_printable(char *dst, size_t dstsz, const char *s);

/* True if s is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
bool str_utf8_ok(struct str s);

#endif
