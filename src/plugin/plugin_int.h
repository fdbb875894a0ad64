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

/* The playground page (playground.html, embedded by scripts/embed-text.py);
 * its script's nonce goes where it says {{nonce}}. */
extern const char plug_playground_html[];

#endif
