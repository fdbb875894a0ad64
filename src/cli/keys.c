/* plugauth keys list | rotate: the keys that sign JWT access tokens. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "oauth/jwt.h"

static const char usage[] =
    "usage: plugauth [-c FILE] keys list [--json]\n"
    "       plugauth [-c FILE] keys rotate\n"
    "\n"
    "The keys that sign JWT access tokens ([oauth] access_token_format =\n"
    "jwt), published at /oauth/jwks.json. Private keys stay in the\n"
    "database: nothing here prints them.\n"
    "\n"
    "list    each key's kid, alg, when it was made (UTC) and its state:\n"
    "        signing, verifying (retired, still published until the\n"
    "        tokens it signed have expired) or expired; --json: one\n"
    "        JSON object per line\n"
    "rotate  makes a new key that signs from now on (a running server\n"
    "        picks it up within seconds); the old one keeps verifying\n"
    "        for [oauth] access_ttl plus a margin\n";

static const char *
key_state(const struct store_key *k, int64_t now)
{
	if (k->retired_at == 0)
		return "signing";
	return k->keep_until > now ? "verifying" : "expired";
}

static int
keys_list(struct store *st, bool json)
{
	static const char *const head[] = {"KID", "ALG", "CREATED", "STATE",
	                                   "UNTIL"};
	struct store_key **v = NULL;
	struct cli_table t;
	int64_t now = time(NULL);
	size_t n = 0;

	if (store_key_list(st, &v, &n) != ST_OK) {
		cli_err("cannot read the keys");
		return CLI_FAIL;
	}
	cli_table_init(&t, head, ARRAY_LEN(head));
	for (size_t i = 0; i < n; i++) {
		char made[CLI_TIME_BYTES], until[CLI_TIME_BYTES];
		const char *row[] = {
		    v[i]->kid,
		    v[i]->alg,
		    cli_time_utc(v[i]->created_at, made),
		    key_state(v[i], now),
		    v[i]->retired_at != 0
		        ? cli_time_utc(v[i]->keep_until, until)
		        : NULL,
		};

		if (json)
			cli_json_line(json_pack(
			    "{s:s, s:s, s:I, s:s, s:I}", "kid", v[i]->kid,
			    "alg", v[i]->alg, "created_at",
			    (json_int_t)v[i]->created_at, "state", row[3],
			    "until", (json_int_t)v[i]->keep_until));
		else
			cli_table_add(&t, row);
	}
	store_key_list_free(v, n);
	/* With --json the table got no row: nothing to free. */
	return json ? CLI_OK : cli_table_print(&t);
}

int
cli_keys(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char kid[JWS_KID_STRLEN];
	bool json = false;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2 ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "rotate") != 0))
		return cli_usage_err("keys",
		                     "the subcommand is list or rotate");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[1], "list") == 0 &&
		    strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return cli_usage_err("keys", "unexpected argument '%s'",
			                     argv[i]);
	}
	if ((rc = cli_open(cli, &cfg, &st)) != CLI_OK)
		return rc;
	if (strcmp(argv[1], "list") == 0) {
		rc = keys_list(st, json);
	} else if (oauth_jwt_key_rotate(st, cfg->oauth.access_ttl, kid) !=
	           ST_OK) {
		cli_err("cannot rotate the signing key");
		rc = CLI_FAIL;
	} else {
		printf("new signing key %s; the old one verifies until its "
		       "tokens have expired\n",
		       kid);
		rc = CLI_OK;
	}
	store_close(st);
	cfg_free(cfg);
	return rc;
}
