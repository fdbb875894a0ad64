/*
 * The start-up check of [plugin] openapi_file: its servers[0].url must be
 * under the issuer, since ChatGPT calls the API there. There is no YAML
 * library here: a JSON file is parsed with jansson, a YAML file is read by
 * a bounded line scan that finds a top-level "servers:" and the "url:" of
 * its first "- " item (block style, the form every generator writes).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "plugin/plugin_int.h"

#define SERVER_URL_MAX_BYTES 2048

/* One line of text: [p, p + len) without its newline; *next is after it. */
static struct str
line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	struct str l = {p, (size_t)((nl != NULL ? nl : end) - p)};

	*next = nl != NULL ? nl + 1 : end;
	if (l.len > 0 && l.p[l.len - 1] == '\r')
		l.len--;
	return l;
}

static size_t
indent_of(struct str l)
{
	size_t i = 0;

	while (i < l.len && l.p[i] == ' ')
		i++;
	return i;
}

/* The value after "url:" in l (from i), unquoted, without a " #" comment;
 * false if l has no such key there. */
static bool
url_value(struct str l, size_t i, char *out, size_t outsz)
{
	struct str v;
	const char *hash;

	if (l.len - i < 4 || memcmp(l.p + i, "url:", 4) != 0)
		return false;
	v = (struct str){l.p + i + 4, l.len - i - 4};
	while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
		v.p++;
		v.len--;
	}
	if (v.len > 0 && (v.p[0] == '"' || v.p[0] == '\'')) {
		const char *q = memchr(v.p + 1, v.p[0], v.len - 1);

		if (q == NULL)
			return false;
		v = (struct str){v.p + 1, (size_t)(q - v.p - 1)};
	} else {
		for (hash = v.p; hash < v.p + v.len; hash++)
			if (*hash == '#' && hash > v.p && hash[-1] == ' ')
				break;
		v.len = (size_t)(hash - v.p);
		while (v.len > 0 && v.p[v.len - 1] == ' ')
			v.len--;
	}
	if (v.len == 0 || v.len >= outsz)
		return false;
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return true;
}

/* servers[0].url of a block-style YAML document; false if not found. */
static bool
yaml_server_url(const char *text, size_t len, char *out, size_t outsz)
{
	const char *p = text, *end = text + len, *next;
	struct str l;
	size_t ind, item = 0;
	bool in_servers = false, in_item = false;

	for (; p < end; p = next) {
		l = line_at(p, end, &next);
		ind = indent_of(l);
		if (ind == l.len || l.p[ind] == '#')
			continue; /* blank or comment */
		if (!in_servers) {
			in_servers =
			    ind == 0 && l.len >= 8 &&
			    memcmp(l.p, "servers:", 8) == 0 &&
			    indent_of((struct str){l.p + 8, l.len - 8}) ==
			        l.len - 8;
			continue;
		}
		/* YAML lets the items sit at the key's own indentation. */
		if (ind == 0 && l.p[0] != '-')
			return false; /* the next top-level key */
		if (!in_item) {
			if (l.p[ind] != '-' || ind + 1 >= l.len ||
			    l.p[ind + 1] != ' ')
				return false;
			in_item = true;
			item = ind;
			ind += 2;
			while (ind < l.len && l.p[ind] == ' ')
				ind++;
		} else if (ind <= item) {
			return false; /* the second item, or less indented */
		}
		if (url_value(l, ind, out, outsz))
			return true;
	}
	return false;
}

/* servers[0].url of a JSON document; *parsed false if it is no JSON. */
static bool
json_server_url(const char *text, size_t len, char *out, size_t outsz,
                bool *parsed)
{
	json_t *doc, *url;
	bool ok = false;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	*parsed = doc != NULL;
	url = json_object_get(
	    json_array_get(json_object_get(doc, "servers"), 0), "url");
	if (json_is_string(url) && json_string_length(url) < outsz) {
		memcpy(out, json_string_value(url), json_string_length(url));
		out[json_string_length(url)] = '\0';
		ok = strlen(out) == json_string_length(url);
	}
	json_decref(doc);
	return ok;
}

/* True if url is the issuer, below it, or a path (relative to where the
 * document is served, which is under the issuer). */
static bool
under_issuer(const char *url, const char *issuer)
{
	size_t n = strlen(issuer);

	if (url[0] == '/' && url[1] != '/')
		return true;
	return strncasecmp(url, issuer, n) == 0 &&
	       (url[n] == '\0' || url[n] == '/');
}

enum status
plug_openapi_check(const char *path, const char *text, size_t len,
                   const struct config *cfg, char *err, size_t errlen)
{
	static const char key[] = "[plugin] openapi_file";
	char url[SERVER_URL_MAX_BYTES], q[64], f[64];
	size_t i = 0;
	bool json, parsed = true, found;

	while (i < len && strchr(" \t\r\n", text[i]) != NULL)
		i++;
	json = i < len && text[i] == '{';
	str_printable(f, sizeof(f), path);
	if (json)
		found = json_server_url(text, len, url, sizeof(url), &parsed);
	else
		found = yaml_server_url(text, len, url, sizeof(url));
	if (!parsed) {
		str_errf(err, errlen, "%s: %s does not parse as JSON", key, f);
		return ST_INVALID;
	}
	if (!found) {
		log_warn("event=config_warning key=plugin.openapi_file file=%s "
		         "problem=\"no servers[0].url found (a %s read looks "
		         "for servers: then - url:); ChatGPT needs one under "
		         "%s\"",
		         f, json ? "JSON" : "YAML line", cfg->server.issuer);
		return ST_OK;
	}
	if (!under_issuer(url, cfg->server.issuer)) {
		str_errf(
		    err, errlen,
		    "%s: %s: servers[0].url \"%s\" is not under the issuer "
		    "%s (ChatGPT calls the API there)",
		    key, f, str_printable(q, sizeof(q), url),
		    cfg->server.issuer);
		return ST_INVALID;
	}
	return ST_OK;
}
