/*
 * Page templates (src/auth/page.c) with hostile values. Input: template
 * '\0' title '\0' message '\0' hint. The template is loaded as
 * error.html from a temp dir and rendered with the three values; then the
 * built-in pages are rendered with the same values behind a "<zz" marker,
 * which must come out escaped (never as a raw '<').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/page.h"
#include "fuzz.h"

static char dir[64];
static char file[128];
static struct auth_pages *builtin;

static void
cleanup(void)
{
	if (file[0] != '\0')
		unlink(file);
	if (dir[0] != '\0')
		rmdir(dir);
	auth_pages_free(builtin);
}

static void
setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/plugauth-fuzz-page-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(file, sizeof(file), "%s/error.html", dir);
	if (auth_pages_load(NULL, &builtin, err, sizeof(err)) != ST_OK)
		abort();
	atexit(cleanup);
}

static void
render_builtin(char **part)
{
	static const enum auth_page pages[] = {
	    AUTH_PAGE_LOGIN, AUTH_PAGE_CONSENT, AUTH_PAGE_ERROR};
	char *v[3];
	struct buf out;
	size_t i;

	for (i = 0; i < 3; i++) {
		size_t n = strlen(part[i + 1]);

		v[i] = malloc(n + 4);
		if (v[i] == NULL)
			abort();
		memcpy(v[i], "<zz", 3);
		memcpy(v[i] + 3, part[i + 1], n + 1);
	}
	{
		const struct page_var vars[] = {
		    {"title", v[0]},         {"message", v[1]},
		    {"hint", v[2]},          {"plugin_name", v[0]},
		    {"client_name", v[1]},   {"username", v[2]},
		    {"error", v[0]},         {"logo_url", v[1]},
		    {"redirect_host", v[2]}, {"action", "/authorize"},
		    {"hidden", ""},          {"scopes", ""},
		};

		for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
			if (auth_page_render(builtin, pages[i], vars,
			                     sizeof(vars) / sizeof(vars[0]),
			                     &out) != ST_OK)
				continue; /* ST_TOOBIG for huge values */
			if (memmem(out.p, out.len, "<zz", 3) != NULL)
				abort(); /* a value came out unescaped */
			buf_free(&out);
		}
	}
	fuzz_free_all(v, 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[4], err[256];
	struct auth_pages *ap = NULL;
	struct buf out;
	FILE *fp;

	if (dir[0] == '\0')
		setup();
	fuzz_split(data, size, part, 4);
	fp = fopen(file, "wb");
	if (fp == NULL)
		abort();
	if (fwrite(part[0], 1, strlen(part[0]), fp) != strlen(part[0]))
		abort();
	fclose(fp);
	err[0] = '\0';
	if (auth_pages_load(dir, &ap, err, sizeof(err)) == ST_OK) {
		const struct page_var vars[] = {
		    {"title", part[1]},
		    {"message", part[2]},
		    {"hint", part[3]},
		    {"plugin_name", part[1]},
		};

		if (auth_page_render(ap, AUTH_PAGE_ERROR, vars, 4, &out) ==
		    ST_OK)
			buf_free(&out);
		auth_pages_free(ap);
	} else if (err[0] == '\0' || ap != NULL) {
		abort(); /* refused without a message */
	}
	render_builtin(part);
	fuzz_free_all(part, 4);
	return 0;
}
