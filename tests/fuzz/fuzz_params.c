/*
 * Token request bodies (src/oauth/params.c). oauth_params_read() needs an
 * http_req, which only libmicrohttpd makes, so this harness runs its two
 * paths on the raw body: the first byte picks the media type, 'j' for
 * application/json (the depth check oauth_json_depth() and
 * oauth_params_json(), both TESTABLE) and anything else for
 * application/x-www-form-urlencoded (form_parse()).
 */
#include <stdlib.h>

#include "fuzz.h"
#include "oauth/oauth_int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f;
	struct str body;
	const char *why = NULL;
	size_t i;

	if (size == 0)
		return 0;
	body = (struct str){(const char *)data + 1, size - 1};
	form_init(&f, OAUTH_PARAMS_MAX);
	if (data[0] == 'j') {
		/* It counts no further than one past the limit. */
		if (oauth_json_depth(body, 4) > 5)
			abort();
		if (oauth_params_json(body, &f, &why) != OAUTH_OK &&
		    why == NULL)
			abort(); /* every refusal says why */
	} else {
		(void)form_parse(&f, body);
	}
	if (f.n > OAUTH_PARAMS_MAX)
		abort();
	for (i = 0; i < f.n; i++)
		if (f.v[i].name == NULL || f.v[i].value == NULL)
			abort();
	(void)form_get(&f, "grant_type");
	(void)form_get(&f, "code_verifier");
	form_free(&f);
	return 0;
}
