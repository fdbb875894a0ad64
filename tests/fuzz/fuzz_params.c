/*
 * Token request bodies (src/oauth/params.c). oauth_params_read() needs an
 * http_req, which only libmicrohttpd makes, so this harness runs the same
 * two paths on the raw body: the first byte picks the media type, 'j' for
 * application/json (the JSON-object-of-strings path of params_json(),
 * reproduced here over jansson + form_add()) and anything else for
 * application/x-www-form-urlencoded (form_parse()). Same PARAMS_MAX.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/form.h"
#include "fuzz.h"

#define PARAMS_MAX	32	/* as in src/oauth/params.c */

static void
params_json(struct str body, struct form *f)
{
	json_t		*root, *val;
	json_error_t	 jerr;
	const char	*key;

	root = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return;
	if (json_is_object(root)) {
		json_object_foreach(root, key, val) {
			if (!json_is_string(val))
				break;
			if (form_add(f, str_of(key), (struct str){
			    json_string_value(val), json_string_length(val) }) !=
			    ST_OK)
				break;
		}
	}
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form	 f;
	struct str	 body;
	size_t		 i;

	if (size == 0)
		return 0;
	body = (struct str){ (const char *)data + 1, size - 1 };
	form_init(&f, PARAMS_MAX);
	if (data[0] == 'j')
		params_json(body, &f);
	else
		(void)form_parse(&f, body);
	if (f.n > PARAMS_MAX)
		abort();
	for (i = 0; i < f.n; i++)
		if (f.v[i].name == NULL || f.v[i].value == NULL)
			abort();
	(void)form_get(&f, "grant_type");
	(void)form_get(&f, "code_verifier");
	form_free(&f);
	return 0;
}
