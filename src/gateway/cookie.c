/*
 * The Cookie header the upstream gets: the client's, without plugauth's
 * own session cookie. With that cookie the upstream could act as the
 * signed-in user at /oauth/authorize; the API never needs it.
 */
#include <string.h>

#include "gateway/gateway_int.h"

/* True if the "name=value" pair p[0..len) is named one of drop. */
static bool
pair_dropped(const char *p, size_t len, const char *const *drop)
{
	const char	*eq = memchr(p, '=', len);
	size_t		 n = eq != NULL ? (size_t)(eq - p) : len;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (; *drop != NULL; drop++)
		if (strlen(*drop) == n && memcmp(*drop, p, n) == 0)
			return true;
	return false;
}

enum status
gw_cookie_filter(const char *value, const char *const *drop,
    struct buf *out)
{
	const char	*p = value, *e;
	size_t		 len;
	enum status	 rc = ST_OK;

	/* RFC 6265 §4.2.1: cookie-pair *( ";" SP cookie-pair ) */
	while (*p != '\0' && rc == ST_OK) {
		p += strspn(p, " \t;");
		e = p + strcspn(p, ";");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && !pair_dropped(p, len, drop)) {
			if (out->len > 0)
				rc = buf_add(out, "; ", 2);
			if (rc == ST_OK)
				rc = buf_add(out, p, len);
		}
		p = e;
	}
	return rc;
}
