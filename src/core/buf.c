#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

TESTABLE size_t buf_grow_size(const struct buf *, size_t need);

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->secret = false;
}

void
buf_init_secret(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->secret = true;
}

/* The capacity to grow to for need bytes: doubling from 64, at most max + 1
 * (room for the NUL); never wraps. */
TESTABLE size_t
buf_grow_size(const struct buf *b, size_t need)
{
	size_t cap = b->cap == 0 ? 64 : b->cap;

	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;
	return cap;
}

/* Moves a secret buffer to a block of cap bytes: realloc() would leave the
 * old block, with the secret in it, to the allocator unwiped. */
static char *
buf_move_secret(struct buf *b, size_t cap)
{
	char *np;

	np = malloc(cap);
	if (np == NULL)
		return NULL;
	if (b->p != NULL) {
		memcpy(np, b->p, b->len + 1);
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	return np;
}

static enum status
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *np;

	/* len <= max always; the + 1 is the NUL, so SIZE_MAX itself is out. */
	if (extra > b->max - b->len || extra >= SIZE_MAX - b->len) {
		buf_free(b);
		return ST_TOOBIG;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return ST_OK;
	cap = buf_grow_size(b, need);
	np = b->secret ? buf_move_secret(b, cap) : realloc(b->p, cap);
	if (np == NULL) {
		buf_free(b);
		return ST_NOMEM;
	}
	b->p = np;
	b->cap = cap;
	return ST_OK;
}

enum status
buf_add(struct buf *b, const void *data, size_t n)
{
	enum status rc;

	rc = buf_reserve(b, n);
	if (rc != ST_OK)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return ST_OK;
}

enum status
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

enum status
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum status rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf_free(b);
		return ST_INTERNAL;
	}
	rc = buf_reserve(b, (size_t)n);
	if (rc != ST_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return ST_OK;
}

struct str
buf_str(const struct buf *b)
{
	return (struct str){b->p == NULL ? "" : b->p, b->len};
}

char *
buf_take(struct buf *b)
{
	char *p;

	p = b->p;
	if (p == NULL)
		p = calloc(1, 1);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	if (b->secret && b->p != NULL)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_wipe_free(struct buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	buf_free(b);
}
