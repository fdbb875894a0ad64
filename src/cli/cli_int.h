/*
 * Shared only by cli/'s own files: running the server, for serve and demo.
 */
#ifndef PLUGAUTH_CLI_INT_H
#define PLUGAUTH_CLI_INT_H

#include <signal.h>
#include <stddef.h>

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

#endif
