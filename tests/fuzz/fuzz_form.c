/*
 * application/x-www-form-urlencoded decoding (src/core/form.c): form_parse
 * on the whole input, form_unescape in both '+' modes, and the round trip
 * form_escape -> form_unescape of every decoded value, which must give the
 * value back.
 */
#include <stdlib.h>
#include <string.h>

#include "core/form.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = {(const char *)data, size};
	struct form f;
	struct buf out, enc, back;
	size_t i;

	form_init(&f, 32);
	if (form_parse(&f, in) == ST_OK) {
		for (i = 0; i < f.n; i++) {
			buf_init(&enc, 1 << 20);
			buf_init(&back, 1 << 20);
			if (form_escape(&enc, f.v[i].value) != ST_OK)
				abort();
			if (form_unescape(buf_str(&enc), true, &back) != ST_OK)
				abort();
			if (strcmp(back.p != NULL ? back.p : "",
			           f.v[i].value) != 0)
				abort(); /* escape/unescape disagree */
			if (form_get(&f, f.v[i].name) != NULL &&
			    f.v[i].value[0] == '\0')
				abort(); /* empty reads as absent */
			buf_free(&enc);
			buf_free(&back);
		}
		(void)form_get(&f, "grant_type");
	}
	form_free(&f);

	buf_init(&out, 1 << 20);
	(void)form_unescape(in, true, &out);
	buf_free(&out);
	buf_init(&out, 1 << 20);
	(void)form_unescape(in, false, &out);
	buf_free(&out);
	return 0;
}
