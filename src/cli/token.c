/* plugauth token revoke --user NAME | --client ID */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"

static const char usage[] =
    "usage: plugauth [-c FILE] token revoke (--user NAME | --client ID)\n"
    "\n"
    "Revokes every access and refresh token of a user, or of a client, at\n"
    "once. ChatGPT cannot revoke tokens itself: this is how you log a user\n"
    "out of a plugin, or cut off a client. --user also ends the user's\n"
    "sign-in sessions, so that the next authorization asks for the\n"
    "password again.\n";

int
cli_token(struct cli *cli, int argc, char **argv)
{
	const char *user = NULL, *client = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_user *u = NULL;
	unsigned n = 0, sessions = 0;
	enum status s;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "revoke") != 0)
		return cli_usage_err("token", "the subcommand is 'revoke'");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--client") == 0 && i + 1 < argc)
			client = argv[++i];
		else
			return cli_usage_err("token revoke",
			                     "unexpected argument '%s'",
			                     argv[i]);
	}
	if ((user == NULL) == (client == NULL))
		return cli_usage_err(
		    "token revoke",
		    "give exactly one of --user NAME or --client ID");
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (user != NULL) {
		s = store_user_get(st, user, &u);
		if (s == ST_NOTFOUND) {
			cli_err("no user '%s'", user);
			goto out;
		}
		if (s == ST_OK)
			s = store_token_revoke_user(st, u->id, clk_now_s(), &n);
		/* Signed out too: else the next authorization would go
		 * through the old session without a password. */
		if (s == ST_OK)
			s = store_session_delete_user(st, u->id, &sessions);
	} else {
		struct store_client *c = NULL;

		s = store_client_get(st, client, &c);
		store_client_free(c);
		if (s == ST_NOTFOUND) {
			cli_err("no client with ID '%s'", client);
			goto out;
		}
		if (s == ST_OK)
			s = store_token_revoke_client(st, client, clk_now_s(),
			                              &n);
	}
	if (s != ST_OK) {
		cli_err("cannot revoke: %s", status_str(s));
		goto out;
	}
	if (user != NULL)
		printf("revoked %u token%s of user %s and ended %u sign-in "
		       "session%s\n",
		       n, n == 1 ? "" : "s", user, sessions,
		       sessions == 1 ? "" : "s");
	else
		printf("revoked %u token%s of client %s\n", n,
		       n == 1 ? "" : "s", client);
	rc = CLI_OK;
out:
	store_user_free(u);
	store_close(st);
	cfg_free(cfg);
	return rc;
}
