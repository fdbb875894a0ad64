#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/status.h"
#include "core/str.h"

const char *
status_str(enum status st)
{
	switch (st) {
	case ST_OK:
		return "ok";
	case ST_NOMEM:
		return "out of memory";
	case ST_INVALID:
		return "invalid input";
	case ST_TOOBIG:
		return "too big";
	case ST_NOTFOUND:
		return "not found";
	case ST_DENIED:
		return "denied";
	case ST_EXISTS:
		return "already exists";
	case ST_STORE:
		return "database error";
	case ST_INTERNAL:
		break;
	}
	return "internal error";
}

char *
str_dup(struct str s)
{
	char *d;

	d = malloc(s.len + 1);
	if (d == NULL)
		return NULL;
	if (s.len > 0)
		memcpy(d, s.p, s.len);
	d[s.len] = '\0';
	return d;
}

bool
str_list_has(const char *list, const char *tok, size_t len)
{
	const char *e;

	if (len == 0)
		return false;
	for (;; list = e + 1) {
		e = list + strcspn(list, " ");
		if ((size_t)(e - list) == len && memcmp(list, tok, len) == 0)
			return true;
		if (*e == '\0')
			return false;
	}
}

bool
str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (dstsz == 0)
		return false;
	n = strlen(src);
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

bool
str_to_u64(struct str s, unsigned long long min, unsigned long long max,
           unsigned long long *out)
{
	char tmp[24];
	char *end;
	unsigned long long v;

	if (s.len == 0 || s.len >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	errno = 0;
	v = strtoull(tmp, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

void
str_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
}

const char *
str_printable(char *dst, size_t dstsz, const char *s)
{
	size_t i;

	if (dstsz == 0)
		return "";
	for (i = 0; i + 1 < dstsz && s[i] != '\0'; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
	if (s[i] != '\0' && i >= 3)
		memcpy(dst + i - 3, "...", 3);
	return dst;
}

bool
str_utf8_ok(struct str s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < s.len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			n = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			n = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			n = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else {
			return false; /* continuation, C0/C1 lead, or past F4 */
		}
		if (s.len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}
