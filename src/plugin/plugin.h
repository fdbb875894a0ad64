/*
 * The ChatGPT side: the plugin manifest (/.well-known/ai-plugin.json) and
 * the OpenAPI description of the API (/openapi.yaml), both built once at
 * start-up from the [plugin] configuration so that a bad value stops the
 * server before it listens.
 */
#ifndef PLUGAUTH_PLUGIN_H
#define PLUGAUTH_PLUGIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/status.h"
#include "http/http.h"

/* ChatGPT's manifest limits (docs/chatgpt.md), in characters (code points). */
#define PLUG_NAME_FOR_MODEL_MAX 50
#define PLUG_NAME_FOR_HUMAN_MAX 20
#define PLUG_DESC_FOR_HUMAN_MAX 100
#define PLUG_DESC_FOR_MODEL_MAX 8000
/* Largest plugin.openapi_file served. */
#define PLUG_OPENAPI_MAX_BYTES (1024 * 1024)

/* What the two handlers serve; fill with plug_env_init(). */
struct plug_env {
	char *manifest; /* ai-plugin.json text, indented */
	size_t manifest_len;
	char *openapi; /* the OpenAPI document; NULL: /openapi.yaml is 404 */
	size_t openapi_len;
	const char *openapi_type; /* static: its Content-Type */
	bool logo;                /* serve the built-in /logo.png */
	bool legal;               /* serve the placeholder /legal */
};

/*
 * Builds the ai-plugin.json object from cfg ([plugin], [server] issuer,
 * [oauth] default_scope), reading plugin.description_for_model_file if
 * set, and checks ChatGPT's limits. *out is new (json_decref()); untouched
 * on error. On error writes one line naming the key to err
 * ("[plugin] name_for_model: ...") and returns ST_INVALID (ST_NOTFOUND if
 * the description file cannot be read, ST_TOOBIG, ST_NOMEM).
 */
enum status plug_manifest_build(const struct config *, json_t **out, char *err,
                                size_t errlen);

/* The manifest as served: plug_manifest_build() dumped with two-space
 * indentation and a final newline. *out is new (free()); errors as above. */
enum status plug_manifest_text(const struct config *, char **out, char *err,
                               size_t errlen);

/*
 * Builds the manifest and reads plugin.openapi_file (at most
 * PLUG_OPENAPI_MAX_BYTES; served as application/json if its name ends in
 * .json, else application/yaml) and checks that its servers[0].url is
 * under the issuer; with none set, /openapi.yaml answers 404 (the demo
 * serves its own, plug_env_demo_openapi()). On error writes one line to
 * err and leaves env empty (plug_env_free() is still safe). The config is
 * only borrowed during the call.
 */
enum status plug_env_init(struct plug_env *, const struct config *, char *err,
                          size_t errlen);

/* Fills only env's OpenAPI document with the demo TODO API's (YAML), for
 * the demo's own /openapi.yaml route. Errors as plug_env_init(). */
enum status plug_env_demo_openapi(struct plug_env *, const struct config *,
                                  char *err, size_t errlen);

/* Frees what plug_env_init() filled in; NULL-safe, leaves env empty. */
void plug_env_free(struct plug_env *);

/* GET /.well-known/ai-plugin.json. ctx is a struct plug_env (borrowed for
 * the server's lifetime). */
enum status plug_manifest_handle(struct http_req *, void *ctx);

/* GET /openapi.yaml (404 without a document). ctx is a struct plug_env. */
enum status plug_openapi_handle(struct http_req *, void *ctx);

/* GET /logo.png: the built-in logo while [plugin] logo_url is unset, else
 * 404. ctx is a struct plug_env. */
enum status plug_logo_handle(struct http_req *, void *ctx);

/* GET /legal: a page saying no terms are published yet, while [plugin]
 * legal_info_url is unset (the manifest's default points here), else 404.
 * ctx is a struct plug_env. */
enum status plug_legal_handle(struct http_req *, void *ctx);

#endif
