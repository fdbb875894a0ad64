/*
 * HTTP Basic client credentials: oauth_basic_parse() of src/oauth/
 * client_auth.c (TESTABLE), on any header value.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "oauth/oauth_int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oauth_basic_creds bc;
	char *hdr = fuzz_strndup(data, size);

	if (oauth_basic_parse(hdr, &bc) == ST_OK &&
	    (bc.id.len > bc.id.max || bc.secret.len > bc.secret.max))
		abort();
	oauth_basic_free(&bc);
	free(hdr);
	return 0;
}
