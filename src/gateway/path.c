/*
 * The request-target check of the reverse proxy (proxy.c): whether an
 * upstream can resolve the path only under [gateway] path; and the path
 * [gateway.scopes] prefixes are matched against.
 */
#include <stdbool.h>
#include <string.h>

#include "gateway/gateway_int.h"

/*
 * The path is checked as sent, segment by segment, each percent-decoded
 * once the way an upstream's URL parser may (WHATWG URL takes "%2e" for
 * '.', Tomcat "..;x" for "..", Windows and WHATWG '\\' for '/'), so that
 * whatever the upstream makes of it, it stays under prefix:
 * - it starts with prefix byte for byte (not "/%61pi/", not "/api%2f");
 * - no segment is "." or "..", decoded, before a ';' (path parameters) or
 *   between encoded slashes ("%2f" is kept: "a%2Fb" is a name);
 * - no '\\' or NUL, raw or encoded ("%5c", "%00"), and no raw '#' (not
 *   valid in a request-target; "%3f" and "%23" are names).
 * A doubly encoded "%252e" is the literal "%2e" once decoded: kept.
 */
static int
hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

bool
gw_path_ok(const char *target, const char *prefix)
{
	size_t dots = 0;
	bool other = false, param = false, end;
	const char *p;
	char c;

	if (strncmp(target, prefix, strlen(prefix)) != 0)
		return false;
	for (p = target;; p++) {
		c = *p;
		end = c == '?' || c == '\0';
		if (c == '#')
			return false;
		if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
			if (c == '\0')
				return false;
		}
		if (c == '\\')
			return false;
		if (c == '/' || end) {
			if (!other && (dots == 1 || dots == 2))
				return false;
			if (end)
				return true;
			dots = 0;
			other = param = false;
		} else if (c == ';') {
			param = true;
		} else if (!param) {
			if (c == '.')
				dots++;
			else
				other = true;
		}
	}
}

void
gw_route_path(const char *target, char *out, size_t outsz)
{
	size_t o = 0;
	bool param = false;
	const char *p;
	char c;

	for (p = target; *p != '\0' && *p != '?' && o + 1 < outsz; p++) {
		c = *p;
		if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		}
		if (c == '/') {
			param = false;
			if (o == 0 || out[o - 1] != '/')
				out[o++] = '/';
		} else if (c == ';') {
			param = true;
		} else if (!param) {
			out[o++] = c;
		}
	}
	out[o] = '\0';
}
