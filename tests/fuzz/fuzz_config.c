/*
 * Configuration files (src/core/config.c): the input is written to a
 * temp file and loaded with cfg_load(); what loads must validate or be
 * refused with a message, and render back to INI without error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "fuzz.h"

static char path[64];

static void
cleanup(void)
{
	if (path[0] != '\0')
		unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	struct buf out;
	char err[256];
	FILE *fp;
	int fd;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/plugauth-fuzz-XXXXXX");
		fd = mkstemp(path);
		if (fd == -1)
			abort();
		close(fd);
		atexit(cleanup);
	}
	fp = fopen(path, "wb");
	if (fp == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);

	err[0] = '\0';
	if (cfg_load(path, true, &c, err, sizeof(err)) != ST_OK) {
		if (c != NULL || err[0] == '\0')
			abort(); /* untouched on error, with a message */
		return 0;
	}
	(void)cfg_validate(c, err, sizeof(err));
	buf_init(&out, 1 << 20);
	(void)cfg_render(c, &out);
	buf_free(&out);
	cfg_free(c);
	return 0;
}
