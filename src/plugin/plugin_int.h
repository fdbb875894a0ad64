/* Shared only by the files of src/plugin/. */
#ifndef PLUGAUTH_PLUGIN_INT_H
#define PLUGAUTH_PLUGIN_INT_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/status.h"

/*
 * The OpenAPI 3.0 document of the demo TODO API (GET/POST /api/todos,
 * DELETE /api/todos/{id}) on cfg's issuer, with an oauth2
 * authorizationCode scheme on its endpoints and scopes, as YAML. *out is
 * new (free()), *len its length; both untouched on error (ST_NOMEM,
 * ST_TOOBIG for an issuer too long for a URL).
 */
enum status plug_openapi_builtin(const struct config *, char **out,
                                 size_t *len);

/*
 * Appends v as a block-style YAML 1.2 document (which reads back as the
 * same JSON value): every string value is written double-quoted with
 * jansson's JSON escapes, which YAML shares. As buf_add(): frees out on
 * error.
 */
enum status plug_yaml_dump(const json_t *v, struct buf *out);

/*
 * Checks the text[len] of [plugin] openapi_file (named path in messages)
 * at start-up: JSON that does not parse, or a servers[0].url not under
 * cfg's issuer, is ST_INVALID with one line in err; a servers[0].url that
 * cannot be found is only logged as a warning (ST_OK).
 */
enum status plug_openapi_check(const char *path, const char *text, size_t len,
                               const struct config *cfg, char *err,
                               size_t errlen);

/* The built-in logo (logo.c), a PNG of plug_logo_png_len bytes. */
extern const unsigned char plug_logo_png[];
extern const size_t plug_logo_png_len;

#endif
