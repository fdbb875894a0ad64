/*
 * HTTP Basic client credentials (src/oauth/client_auth.c). basic_parse()
 * is static there, so this harness repeats its steps on the header value:
 * "Basic " check, sec_base64_decode() into a BASIC_MAX_BYTES buffer, split
 * at the first ':', form_unescape() of each side with '+' as space.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/form.h"
#include "crypto/sec.h"
#include "fuzz.h"

#define BASIC_MAX_BYTES	1024	/* as in src/oauth/client_auth.c */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		 raw[BASIC_MAX_BYTES];
	size_t		 len = 0;
	char		*hdr = fuzz_strndup(data, size);
	const char	*b64, *colon;
	struct buf	 id, secret;

	buf_init(&id, BASIC_MAX_BYTES);
	buf_init(&secret, BASIC_MAX_BYTES);
	b64 = hdr;
	if (strncasecmp(hdr, "Basic ", 6) == 0)
		b64 += 6;
	while (*b64 == ' ')
		b64++;
	if (sec_base64_decode(str_of(b64), raw, sizeof(raw), &len) != ST_OK)
		goto out;
	if (len > sizeof(raw))
		abort();
	colon = memchr(raw, ':', len);
	if (colon == NULL)
		goto out;
	if (form_unescape((struct str){ (const char *)raw,
	    (size_t)(colon - (const char *)raw) }, true, &id) != ST_OK)
		goto out;
	(void)form_unescape((struct str){ colon + 1,
	    len - (size_t)(colon + 1 - (const char *)raw) }, true, &secret);
out:
	buf_free(&id);
	buf_wipe_free(&secret);
	free(hdr);
	return 0;
}
