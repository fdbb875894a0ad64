/*
 * The command-line front: one file per command group; main.c dispatches.
 * Only cli/ prints to stdout. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
#ifndef PLUGAUTH_CLI_H
#define PLUGAUTH_CLI_H

#include <stdbool.h>

#include "core/config.h"
#include "store/store.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
	const char *config_path; /* -c, PLUGAUTH_CONFIG or the default */
	bool serving;            /* serve, demo: log at [server] log_level */
};

/* Commands: argv[0] is the command name. Each returns an exit code. */
int cli_init(struct cli *, int argc, char **argv);
int cli_serve(struct cli *, int argc, char **argv);
int cli_demo(struct cli *, int argc, char **argv);
int cli_migrate(struct cli *, int argc, char **argv);
int cli_client(struct cli *, int argc, char **argv);
int cli_user(struct cli *, int argc, char **argv);
int cli_token(struct cli *, int argc, char **argv);
int cli_keys(struct cli *, int argc, char **argv);
int cli_consent(struct cli *, int argc, char **argv);
int cli_events(struct cli *, int argc, char **argv);
int cli_manifest(struct cli *, int argc, char **argv);
int cli_templates(struct cli *, int argc, char **argv);
int cli_registration(struct cli *, int argc, char **argv);

/* Prints "plugauth: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "plugauth: <message> (see 'plugauth <cmd> --help')"; returns
 * CLI_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Loads the configuration file (it must exist), sets the log level: [server]
 * log_level when serving, else warnings and errors only (debug stays
 * debug), so that a command's output holds no server log lines. *cfg is
 * new (cfg_free()). Prints the error itself. */
int cli_config_load(const struct cli *, struct config **cfg);

/* How cli_store_open() treats the database (0 and 1 as the old bool). */
enum cli_db {
	CLI_DB_CURRENT = 0, /* it exists, its schema is current */
	CLI_DB_MIGRATE = 1, /* it exists and has a schema: migrate (serve) */
	CLI_DB_CREATE = 2,  /* create it if missing, migrate (init, demo) */
};

/* Opens the store named by cfg as mode says; a missing database is an
 * error naming its path and how to create it. *st is new (store_close()).
 * Prints the error itself. */
int cli_store_open(const struct config *, enum cli_db mode, struct store **st);

/* Both of the above, for commands that work on the database. */
int cli_open(const struct cli *, struct config **cfg, struct store **st);

/* True if argv has -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);

#endif
