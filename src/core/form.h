/*
 * application/x-www-form-urlencoded: decoding request bodies and queries
 * (RFC 6749 §3.1 / Appendix B rules) and encoding redirect parameters.
 */
#ifndef PLUGAUTH_FORM_H
#define PLUGAUTH_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/status.h"
#include "core/str.h"

struct form_param {
	const char *name;  /* decoded, NUL-terminated */
	const char *value; /* decoded, NUL-terminated, may be "" */
};

struct form {
	struct form_param *v;
	size_t n;
	size_t max;   /* parameter count ceiling */
	char bad[64]; /* on error: the offending name */
};

/* Empty set holding at most max_params parameters; cannot fail. */
void form_init(struct form *, size_t max_params);

/*
 * Decodes in ('+' is space, %XX) and adds every parameter. ST_INVALID for
 * malformed percent-encoding, a decoded NUL, a name or value that is not
 * UTF-8, or a repeated name (the name
 * is copied into f->bad); ST_TOOBIG past max_params. Empty pieces ("a=1&&b")
 * are skipped. The form keeps what it had before the error.
 */
enum status form_parse(struct form *, struct str in);

/* Adds one parameter (copied). ST_INVALID on a repeated name, or a NUL or
 * malformed UTF-8 in either part; ST_TOOBIG past the ceiling. */
enum status form_add(struct form *, struct str name, struct str value);

/* The value of name, or NULL when absent or empty (RFC 6749 §3.1: a
 * parameter sent without a value is treated as omitted). Borrowed. */
const char *form_get(const struct form *, const char *name);

/* Percent-decodes in into out (no '+' rule when plus_is_space is false).
 * ST_INVALID on malformed input or a decoded NUL. */
enum status form_unescape(struct str in, bool plus_is_space, struct buf *out);

/* Appends s percent-encoded (everything but RFC 3986 unreserved). */
enum status form_escape(struct buf *, const char *s);

/* Appends "name=value" percent-encoded, preceded by '&' unless out is
 * empty or ends in '?' or '#'. */
enum status form_append(struct buf *, const char *name, const char *value);

/* Frees (and wipes: values may be secrets). NULL-safe; reusable after
 * form_init(). */
void form_free(struct form *);

#endif
