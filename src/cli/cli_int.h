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
/* name for a terminal (into out): control and formatting characters as
 * \xHH or \u{XXXX}, a backslash as \\, bytes of malformed UTF-8 as \xHH;
 * cut short with "..." past CLI_NAME_MAX_BYTES. Returns out. */
#define CLI_NAME_SAFE_BYTES (CLI_NAME_MAX_BYTES * 10 + 1) /* \u{XXXX} */
const char *client_name_safe(const char *name, char out[CLI_NAME_SAFE_BYTES]);
/* True if every scope in the space-separated list is one the server
 * knows; else prints which is not. */
bool cli_scope_known(const struct config *cfg, const char *scope);
/* The client as client list --json shows it (never a secret), with its
 * effective scopes (cfg's for a client without a list of its own): new. */
json_t *cli_client_json(const struct config *cfg, const struct store_client *c);
/* Prints o indented on stdout. Takes o (NULL-safe). */
void cli_json_print(json_t *o);

/* table.c: the listings' shapes. A text table: a header row, then the
 * rows, columns aligned, two spaces apart. _init borrows head[ncols]
 * (until _print); _add copies the row's ncols cells (NULL prints "-");
 * _print prints it all and frees it (CLI_FAIL if a row could not be
 * kept; prints the error itself). Adding a column is one more head and
 * one more cell per row. */
#define CLI_TABLE_COLS_MAX 8
struct cli_table {
	const char *head[CLI_TABLE_COLS_MAX];
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, each new */
	bool failed;
};
void cli_table_init(struct cli_table *, const char *const *head, size_t ncols);
void cli_table_add(struct cli_table *, const char *const *cells);
int cli_table_print(struct cli_table *);
/* "2026-12-02T15:41:35Z" (RFC 3339, UTC) into out; returns out. */
#define CLI_TIME_BYTES 32
const char *cli_time_utc(int64_t at, char out[CLI_TIME_BYTES]);
/* Prints o as one compact line (JSON Lines: what every --json listing
 * prints, one object per line). Takes o (NULL-safe). */
void cli_json_line(json_t *o);

/* client_list.c: client list's text: a table, one row per client of
 * v[n] (borrowed). Returns an exit code; prints the error itself. */
int cli_client_table_print(const struct config *cfg,
                           struct store_client *const *v, size_t n);

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
