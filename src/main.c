/* Wiring only: global options, then dispatch to cli/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/sec.h"

#define DEFAULT_CONFIG "plugauth.conf"

static const char usage[] =
    "usage: plugauth [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "An OAuth 2.0 server and bearer-token gateway for ChatGPT plugins,\n"
    "GPT Actions and MCP clients.\n"
    "\n"
    "Global options:\n"
    "  -c, --config FILE   configuration file (default ./plugauth.conf,\n"
    "                      or $PLUGAUTH_CONFIG)\n"
    "  -h, --help          this help; 'plugauth COMMAND --help' for one "
    "command\n"
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
    "  consent   forget what a user allowed: ask again\n"
    "  events    show recent OAuth events: why a flow failed\n"
    "  registration  make initial access tokens for client registration\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
    {"init", cli_init},
    {"serve", cli_serve},
    {"demo", cli_demo},
    {"migrate", cli_migrate},
    {"client", cli_client},
    {"user", cli_user},
    {"token", cli_token},
    {"events", cli_events},
    {"manifest", cli_manifest},
    {"consent", cli_consent},
    {"registration", cli_registration},
};

int
main(int argc, char **argv)
{
	struct cli cli;
	const char *env;
	int i;

	cli.config_path = DEFAULT_CONFIG;
	env = getenv("PLUGAUTH_CONFIG");
	if (env != NULL && env[0] != '\0')
		cli.config_path = env;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return CLI_OK;
		} else if (strcmp(a, "-V") == 0 ||
		           strcmp(a, "--version") == 0) {
			printf("plugauth %s\n", PLUGAUTH_VERSION);
			return CLI_OK;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc) {
				fprintf(stderr,
				        "plugauth: %s needs a file name "
				        "(see 'plugauth --help')\n",
				        a);
				return CLI_USAGE;
			}
			cli.config_path = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			cli.config_path = a + 9;
		} else {
			fprintf(stderr,
			        "plugauth: unknown option %s "
			        "(see 'plugauth --help')\n",
			        a);
			return CLI_USAGE;
		}
	}
	if (i == argc) {
		fprintf(stderr, "plugauth: no command given "
		                "(see 'plugauth --help')\n");
		return CLI_USAGE;
	}
	if (sec_init() != ST_OK) {
		fprintf(stderr, "plugauth: cannot initialise libsodium\n");
		return CLI_FAIL;
	}
	for (size_t c = 0; c < ARRAY_LEN(commands); c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return commands[c].fn(&cli, argc - i, argv + i);
	fprintf(stderr,
	        "plugauth: unknown command '%s' (see 'plugauth --help')\n",
	        argv[i]);
	return CLI_USAGE;
}
