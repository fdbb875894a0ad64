/* Token-style request bodies: form-encoded or, as ChatGPT plugins send
 * them, a JSON object of strings. */
#include <strings.h>

#include "oauth/oauth_int.h"

enum media { MEDIA_OTHER, MEDIA_FORM, MEDIA_JSON };

/* The media type of a Content-Type value, parameters (charset) ignored. */
static enum media
media_of(const char *ct)
{
	size_t n = 0;

	if (ct == NULL)
		return MEDIA_OTHER;
	while (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
		n++;
	if (n == 33 &&
	    strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
		return MEDIA_FORM;
	if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
		return MEDIA_JSON;
	return MEDIA_OTHER;
}

/*
 * How deep body's JSON nests ('[' and '{' outside strings), counting no
 * further than max + 1: jansson takes up to 2048 levels, so the limit is
 * checked before it parses anything.
 */
unsigned
oauth_json_depth(struct str body, unsigned max)
{
	unsigned depth = 0, deepest = 0;
	bool in_str = false;

	for (size_t i = 0; i < body.len && deepest <= max; i++) {
		char c = body.p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

TESTABLE enum oauth_error
oauth_params_json(struct str body, struct form *f, const char **why)
{
	json_t *root;
	json_error_t jerr;
	const char *key;
	json_t *val;
	enum oauth_error e = OAUTH_OK;

	root = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		*why = "request body is not valid JSON (or repeats a key)";
		return OAUTH_INVALID_REQUEST;
	}
	if (!json_is_object(root)) {
		*why = "request body must be a JSON object";
		e = OAUTH_INVALID_REQUEST;
		goto out;
	}
	json_object_foreach(root, key, val)
	{
		if (!json_is_string(val)) {
			*why = "every parameter must be a JSON string";
			e = OAUTH_INVALID_REQUEST;
			goto out;
		}
		if (form_add(f, str_of(key),
		             (struct str){json_string_value(val),
		                          json_string_length(val)}) != ST_OK) {
			*why = "too many or malformed parameters";
			e = OAUTH_INVALID_REQUEST;
			goto out;
		}
	}
out:
	json_decref(root); /* jansson does not wipe: see docs/security */
	return e;
}

enum oauth_error
oauth_params_read(const struct http_req *req, struct form *f, const char **why)
{
	const struct http_limits *lim = http_req_limits(req);
	struct str body = http_req_body(req);
	enum status st;

	form_init(f, lim->params_max);
	switch (media_of(http_req_header(req, "Content-Type"))) {
	case MEDIA_FORM:
		st = form_parse(f, body);
		if (st == ST_TOOBIG) {
			*why = "too many parameters";
			return OAUTH_INVALID_REQUEST;
		}
		if (st != ST_OK) {
			*why = f->bad[0] != '\0' ? "repeated parameter"
			                         : "malformed form encoding";
			return OAUTH_INVALID_REQUEST;
		}
		return OAUTH_OK;
	case MEDIA_JSON:
		if (oauth_json_depth(body, lim->json_max_depth) >
		    lim->json_max_depth) {
			*why = "request body JSON nests too deeply";
			return OAUTH_INVALID_REQUEST;
		}
		return oauth_params_json(body, f, why);
	case MEDIA_OTHER:
		break;
	}
	*why = "Content-Type must be application/x-www-form-urlencoded or "
	       "application/json";
	return OAUTH_INVALID_REQUEST;
}
