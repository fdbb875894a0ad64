/*
 * Dynamic client registration (RFC 7591, RFC 7592), shared by register.c
 * (the endpoints) and register_check.c (the metadata checks), and the
 * fuzz harness.
 */
#ifndef PLUGAUTH_REGISTER_INT_H
#define PLUGAUTH_REGISTER_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/str.h"
#include "oauth/oauth.h"
#include "store/store.h"

/* Ceilings of a registration request. */
#define REG_REDIRECTS_MAX 10     /* redirect_uris entries */
#define REG_URI_MAX_BYTES 512    /* each redirect URI, client_uri, ... */
#define REG_NAME_MAX_BYTES 128   /* client_name, software_id, ... */
#define REG_SCOPE_MAX_BYTES 1024 /* scope */
#define REG_CONTACTS_MAX 5       /* contacts entries */
#define REG_JSON_DEPTH_MAX 4     /* {"contacts": ["..."]} is 2 */

/* RFC 7591 §3.2.2 error codes. */
enum reg_error {
	REG_OK = 0,
	REG_INVALID_REDIRECT_URI,
	REG_INVALID_CLIENT_METADATA,
};

/* The checked metadata of one request: what the client gets. */
struct reg_meta {
	json_t *doc;         /* new: the metadata kept, as answered */
	char *name;          /* new: client_name, or "" */
	char *redirect_uris; /* new: newline-separated */
	char *scope;         /* new: deduplicated, "" = every scope */
	unsigned grants;     /* STORE_GRANT_* */
	bool is_public;      /* token_endpoint_auth_method none */
	const char *why;     /* static: what is wrong, on error */
};

/* The RFC name of e ("invalid_redirect_uri"). */
const char *reg_error_code(enum reg_error e);

/*
 * Parses and checks a registration (or RFC 7592 update) request body
 * against cfg ([oauth] scopes). m is filled (free it with
 * reg_meta_free(), also on error); on error m->why says why. Unknown
 * fields are ignored and not kept (RFC 7591 §2).
 */
enum reg_error reg_meta_parse(struct str body, const struct config *cfg,
                              struct reg_meta *m);
void reg_meta_free(struct reg_meta *m);

/* True if uri is a redirect URI a registered client may have: https, http
 * on a loopback host, or a private-use scheme with a dot (RFC 8252 §7.1),
 * without fragment or userinfo, at most REG_URI_MAX_BYTES. */
bool reg_redirect_ok(const char *uri);

#endif
