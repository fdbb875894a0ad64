/* Wiring only: global options, then dispatch to cli/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "crypto/sec.h"

#define DEFAULT_CONFIG "plugauth.conf"
#define GLOBAL_NONE (-1) /* not a global option */
#define GLOBAL_READ (-2) /* read: go on */

static const char usage[] =
    "usage: plugauth [-c FILE] COMMAND [ARGS]\n"
    "       plugauth help [COMMAND]\n"
    "\n"
    "An OAuth 2.0 server and bearer-token gateway for ChatGPT plugins,\n"
    "GPT Actions and MCP clients.\n"
    "\n"
    "Global options (before or after the command, before any --):\n"
    "  -c, --config FILE   configuration file (default ./plugauth.conf,\n"
    "                      or $PLUGAUTH_CONFIG)\n"
    "  -h, --help          this help; 'plugauth COMMAND --help' or\n"
    "                      'plugauth help COMMAND' for one command\n"
    "  -V, --version       print the version\n"
    "\n"
    "Commands:\n"
    "  init      write the configuration and create the database\n"
    "  serve     run the server\n"
    "  demo      run a throwaway demo server with a demo user and client\n"
    "  migrate   apply database schema migrations\n"
    "  client    add, list, remove, update clients; rotate a secret\n"
    "  user      add, list, remove users; change a password\n"
    "  manifest  print the ai-plugin.json the server serves\n"
    "  token     revoke every token of a user or a client\n"
    "  keys      list or rotate the keys that sign JWT access tokens\n"
    "  consent   forget what a user allowed: ask again\n"
    "  events    show recent OAuth events: why a flow failed\n"
    "  templates export the built-in sign-in pages to customise\n"
    "  registration  make initial access tokens for client registration\n"
    "  help      this help, or one command's\n"
    "\n"
    "Listings (client list, user list, events) print a header row and\n"
    "times in UTC; --json prints JSON Lines instead: one object per line,\n"
    "times as seconds since the epoch.\n"
    "Commands other than serve and demo log warnings and errors only\n"
    "(everything with [server] log_level = debug).\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	bool serves; /* logs at [server] log_level */
} commands[] = {
    {"init", cli_init, false},
    {"serve", cli_serve, true},
    {"demo", cli_demo, true},
    {"migrate", cli_migrate, false},
    {"client", cli_client, false},
    {"user", cli_user, false},
    {"token", cli_token, false},
    {"keys", cli_keys, false},
    {"events", cli_events, false},
    {"manifest", cli_manifest, false},
    {"consent", cli_consent, false},
    {"templates", cli_templates, false},
    {"registration", cli_registration, false},
};

/* Reads the global option at argv[*i], and its value (*i moves past it).
 * GLOBAL_NONE if argv[*i] is none; GLOBAL_READ if it was read; else the
 * exit code: after printing the help or the version (CLI_OK), or saying
 * a value is missing (CLI_USAGE). help: whether -h and --help are ours
 * (before the command; after it they ask for the command's help). */
static int
global_opt(struct cli *cli, int argc, char **argv, int *i, bool help)
{
	const char *a = argv[*i];

	if (help && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
		printf("plugauth %s\n", PLUGAUTH_VERSION);
		return CLI_OK;
	}
	if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
		if (++*i == argc) {
			fprintf(stderr,
			        "plugauth: %s needs a file name "
			        "(see 'plugauth --help')\n",
			        a);
			return CLI_USAGE;
		}
		cli->config_path = argv[*i];
		return GLOBAL_READ;
	}
	if (strncmp(a, "--config=", 9) == 0) {
		cli->config_path = a + 9;
		return GLOBAL_READ;
	}
	return GLOBAL_NONE;
}

/* Takes the global options out of argv[from..argc) (up to a "--"), so
 * that 'user list -c FILE' is 'plugauth -c FILE user list'; *argc shrinks.
 * GLOBAL_READ, or an exit code as global_opt() returns. */
static int
global_opts_after(struct cli *cli, int *argc, char **argv, int from)
{
	int i, o = from, rc;

	for (i = from; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		rc = global_opt(cli, *argc, argv, &i, false);
		if (rc == GLOBAL_NONE)
			argv[o++] = argv[i];
		else if (rc != GLOBAL_READ)
			return rc;
	}
	for (; i < *argc; i++)
		argv[o++] = argv[i];
	argv[o] = NULL;
	*argc = o;
	return GLOBAL_READ;
}

/* Runs the command argv[0]; "help [COMMAND ...]" is --help's, or the
 * command's own --help. */
static int
dispatch(struct cli *cli, int argc, char **argv)
{
	char *help_argv[16];
	bool help = strcmp(argv[0], "help") == 0;

	if (help && (argc == 1 || strcmp(argv[1], "help") == 0)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (help) {
		if (argc - 1 >= (int)ARRAY_LEN(help_argv) - 1) {
			fputs("plugauth: too many arguments to help\n", stderr);
			return CLI_USAGE;
		}
		for (int k = 1; k < argc; k++)
			help_argv[k - 1] = argv[k];
		help_argv[argc - 1] = (char *)(uintptr_t) "--help";
		help_argv[argc] = NULL;
		argv = help_argv;
	}
	for (size_t c = 0; c < ARRAY_LEN(commands); c++) {
		if (strcmp(argv[0], commands[c].name) != 0)
			continue;
		/* The server's own log lines are for serving. */
		cli->serving = commands[c].serves;
		log_set_level(cli->serving ? LOG_INFO : LOG_WARN);
		return commands[c].fn(cli, argc, argv);
	}
	fprintf(stderr,
	        "plugauth: unknown command '%s' (see 'plugauth --help')\n",
	        argv[0]);
	return CLI_USAGE;
}

int
main(int argc, char **argv)
{
	struct cli cli = {.config_path = DEFAULT_CONFIG};
	const char *env;
	int i, rc;

	env = getenv("PLUGAUTH_CONFIG");
	if (env != NULL && env[0] != '\0')
		cli.config_path = env;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		rc = global_opt(&cli, argc, argv, &i, true);
		if (rc == GLOBAL_NONE) {
			fprintf(stderr,
			        "plugauth: unknown option %s "
			        "(see 'plugauth --help')\n",
			        argv[i]);
			return CLI_USAGE;
		}
		if (rc != GLOBAL_READ)
			return rc;
	}
	if (i == argc) {
		fprintf(stderr, "plugauth: no command given "
		                "(see 'plugauth --help')\n");
		return CLI_USAGE;
	}
	rc = global_opts_after(&cli, &argc, argv, i + 1);
	if (rc != GLOBAL_READ)
		return rc;
	if (sec_init() != ST_OK) {
		fprintf(stderr, "plugauth: cannot initialise libsodium\n");
		return CLI_FAIL;
	}
	return dispatch(&cli, argc - i, argv + i);
}
