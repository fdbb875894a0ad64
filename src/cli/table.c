/* The listings' two shapes: an aligned text table with a header row, and
 * JSON Lines (one compact object per line, as events --follow streams). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_int.h"

void
cli_table_init(struct cli_table *t, const char *const *head, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < CLI_TABLE_COLS_MAX ? ncols : CLI_TABLE_COLS_MAX;
	for (size_t c = 0; c < t->ncols; c++)
		t->head[c] = head[c];
}

void
cli_table_add(struct cli_table *t, const char *const *cells)
{
	char **grown;
	size_t base;

	if (t->failed)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap > 0 ? t->cap * 2 : 16;

		grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
		if (grown == NULL) {
			t->failed = true;
			return;
		}
		t->cells = grown;
		t->cap = cap;
	}
	base = t->nrows * t->ncols;
	for (size_t c = 0; c < t->ncols; c++) {
		t->cells[base + c] = strdup(cells[c] != NULL ? cells[c] : "-");
		if (t->cells[base + c] == NULL)
			t->failed = true;
	}
	t->nrows++;
}

/* Columns s takes on a terminal: its code points (the cells are printable
 * text; a wide character may still count as one). */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Prints cell c of row (head if NULL) padded to width, or bare if last. */
static void
cell_print(const char *s, size_t width, bool last)
{
	if (last) {
		printf("%s\n", s);
		return;
	}
	printf("%s", s);
	for (size_t w = text_width(s); w < width + 2; w++)
		putchar(' ');
}

int
cli_table_print(struct cli_table *t)
{
	size_t width[CLI_TABLE_COLS_MAX] = {0}, w;
	int rc = CLI_OK;

	if (t->failed) {
		cli_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = text_width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if ((w = text_width(t->cells[r * t->ncols + c])) >
			    width[c])
				width[c] = w;
	}
	for (size_t c = 0; c < t->ncols; c++)
		cell_print(t->head[c], width[c], c + 1 == t->ncols);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			cell_print(t->cells[r * t->ncols + c], width[c],
			           c + 1 == t->ncols);
out:
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
	return rc;
}

const char *
cli_time_utc(int64_t at, char out[CLI_TIME_BYTES])
{
	time_t t = (time_t)at;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CLI_TIME_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, CLI_TIME_BYTES, "-");
	return out;
}

void
cli_json_line(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (s != NULL)
		puts(s);
	free(s);
	json_decref(o);
}
