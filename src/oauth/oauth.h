/*
 * OAuth 2.0 endpoints (RFC 6749): the HTTP handlers the router calls.
 */
#ifndef PLUGAUTH_OAUTH_H
#define PLUGAUTH_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/status.h"
#include "http/http.h"
#include "store/store.h"

/* What every OAuth handler needs; borrowed for the server's lifetime. */
struct oauth_env {
	const struct config	*cfg;
	struct store		*st;
};

/* POST /oauth/token (RFC 6749 §3.2). ctx is a struct oauth_env. */
enum status oauth_token_handle(struct http_req *, void *ctx);

/* True if the space-separated list has the scope-token tok[toklen]. */
bool oauth_scope_has(const char *list, const char *tok, size_t toklen);

#endif
