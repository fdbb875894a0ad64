/* plugauth consent revoke --user NAME [--client ID] */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: plugauth [-c FILE] consent revoke --user NAME [--client ID]\n"
    "\n"
    "Forgets what a user allowed a client (--client), or every client: the\n"
    "next authorization shows the consent page again. Prints how many\n"
    "consents were removed. Tokens already issued stay valid: end them\n"
    "with 'plugauth token revoke'.\n";

/* Removes the consents of user (and client, may be NULL); prints them. */
static int
consent_revoke(struct store *st, const char *user, const char *client)
{
	struct store_user *u = NULL;
	struct store_client *c = NULL;
	unsigned n = 0;
	enum status s;

	s = store_user_get(st, user, &u);
	if (s == ST_NOTFOUND) {
		cli_err("no user '%s'", user);
		return CLI_FAIL;
	}
	if (s == ST_OK && client != NULL) {
		s = store_client_get(st, client, &c);
		store_client_free(c);
		if (s == ST_NOTFOUND) {
			cli_err("no client with ID '%s'", client);
			store_user_free(u);
			return CLI_FAIL;
		}
	}
	if (s == ST_OK)
		s = store_consent_revoke(st, u->id, client, &n);
	store_user_free(u);
	if (s != ST_OK) {
		cli_err("cannot revoke consents: %s", status_str(s));
		return CLI_FAIL;
	}
	printf("removed %u consent%s of user %s%s%s\n", n, n == 1 ? "" : "s",
	       user, client != NULL ? " to client " : "",
	       client != NULL ? client : "");
	return CLI_OK;
}

int
cli_consent(struct cli *cli, int argc, char **argv)
{
	const char *user = NULL, *client = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "revoke") != 0)
		return cli_usage_err("consent", "the subcommand is 'revoke'");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc &&
		    user == NULL)
			user = argv[++i];
		else if (strcmp(argv[i], "--client") == 0 && i + 1 < argc &&
		         client == NULL)
			client = argv[++i];
		else
			return cli_usage_err("consent revoke",
			                     "unexpected argument '%s'",
			                     argv[i]);
	}
	if (user == NULL)
		return cli_usage_err("consent revoke", "--user is required");
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	rc = consent_revoke(st, user, client);
	store_close(st);
	cfg_free(cfg);
	return rc;
}
