/*
 * Shared only by cli/'s own files: running the server, for serve and demo;
 * the client checks of client add, for client update.
 */
#ifndef PLUGAUTH_CLI_INT_H
#define PLUGAUTH_CLI_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/config.h"
#include "http/http.h"
#include "store/store.h"

#define SERVE_EXTRA_MAX 8 /* routes a command may add (the demo's) */

/* Called once the server listens, before waiting for a signal. */
typedef void (*serve_ready_fn)(const struct config *, void *arg);

/* Blocks the stop signals in this thread and those it starts, so that
 * cli_serve_run() can wait for them. */
void cli_signals_block(sigset_t *set);

/* Starts the server on cfg and st, prints where it listens, calls ready
 * (may be NULL), runs until a stop signal, drains. extra[nextra] (borrowed,
 * at most SERVE_EXTRA_MAX) are routed before the standard routes. Returns
 * an exit code; prints the error itself. */
int cli_serve_run(const struct config *cfg, struct store *st,
                  const struct http_route *extra, size_t nextra,
                  serve_ready_fn ready, void *arg);

#define CLI_NAME_MAX_BYTES 128       /* a client's name */
#define CLI_REDIRECTS_MAX_BYTES 8192 /* a client's redirect URIs, joined */

/* client.c (unprefixed: docs/security.md names them): true if u may be a
 * redirect URI: https://…, or http:// to a loopback host; no fragment, no
 * spaces. */
bool redirect_ok(const char *u);
/* True if name is well-formed UTF-8 without control or invisible
 * formatting characters (it is shown on the consent page and in lists). */
bool client_name_ok(const char *name);
/* True if every scope in the space-separated list is one the server
 * knows; else prints which is not. */
bool cli_scope_known(const struct config *cfg, const char *scope);
/* The client as client list --json shows it (never a secret): new. */
json_t *cli_client_json(const struct store_client *c);
/* Prints o indented on stdout. Takes o (NULL-safe). */
void cli_json_print(json_t *o);

/* client_edit.c: client update; argv[0] is the subcommand. Returns an
 * exit code. */
int cli_client_update(struct cli *, int argc, char **argv);
/* Reads rotate-secret's --grace: "24h", "30m", "3600s", "2d" or plain
 * seconds, at most 30 days. False if s is not one; *out untouched then. */
bool cli_duration_parse(const char *s, int64_t *out);
/* Prints a rotated client's new secret (borrowed), shown once, and until
 * when the old one works (old_until; 0: it stopped at once). */
void cli_rotate_print(const char *id, const char *secret, int64_t old_until,
                      bool json);

#endif
