/* Growable byte buffers with a ceiling. */
#ifndef PLUGAUTH_BUF_H
#define PLUGAUTH_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "core/str.h"

struct buf {
	char *p; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* len never exceeds this */
	bool secret; /* wiped when moved or freed */
};

/* Empty buffer that may grow to max bytes; cannot fail. Sizes are
 * overflow-safe for any max, SIZE_MAX included. */
void buf_init(struct buf *, size_t max);

/* As buf_init(), for a buffer that will hold a secret: each block it
 * leaves when it grows is wiped before it is freed (no realloc()), and
 * buf_free() wipes it, on the error paths too. Costs a copy per growth. */
void buf_init_secret(struct buf *, size_t max);

/* Appends n bytes; ST_TOOBIG past the ceiling or ST_NOMEM, freeing the
 * buffer on error. */
enum status buf_add(struct buf *, const void *data, size_t n);

/* Appends a NUL-terminated string; as buf_add(). */
enum status buf_adds(struct buf *, const char *s);

/* Appends printf-formatted text; as buf_add(). */
enum status buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Slice over the contents (borrowed: valid until the next change). */
struct str buf_str(const struct buf *);

/* Hands the contents (NUL-terminated, new) to the caller and empties b;
 * NULL only when out of memory. The caller wipes a secret's. */
char *buf_take(struct buf *);

/* Frees the contents (buf_wipe_free(), or buf_free() of a secret buffer,
 * wipes them first); NULL-safe, reusable after. */
void buf_free(struct buf *);
void buf_wipe_free(struct buf *);

#endif
