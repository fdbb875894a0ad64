/* plugauth registration token: initial access tokens for [oauth]
 * registration = token (RFC 7591 §3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/clock.h"
#include "core/str.h"
#include "crypto/sec.h"

#define TTL_DEFAULT_S 86400
#define USES_MAX 1000000

static const char usage[] =
    "usage: plugauth [-c FILE] registration token [--ttl DURATION] "
    "[--uses N]\n"
    "                  [--json]\n"
    "\n"
    "Makes an initial access token for dynamic client registration\n"
    "([oauth] registration = token): a client registers by sending it as\n"
    "'Authorization: Bearer TOKEN' to POST /oauth/register. The token is\n"
    "printed once and stored only as a digest.\n"
    "  --ttl DURATION   how long it works: 2d, 24h, 30m, 3600s or seconds,\n"
    "                   at most 30 days (default 1d)\n"
    "  --uses N         how many registrations it allows (default 1)\n"
    "  --json           print one JSON object\n";

/* Reads the options of registration token; CLI_OK or a usage error. */
static int
token_opts(int argc, char **argv, int64_t *ttl, unsigned *uses, bool *json)
{
	unsigned long long u;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
			if (!cli_duration_parse(argv[++i], ttl) || *ttl <= 0)
				return cli_usage_err(
				    "registration token",
				    "bad --ttl '%s' (2d, 24h, 30m, 3600s or "
				    "seconds, at most 30 days)",
				    argv[i]);
		} else if (strcmp(argv[i], "--uses") == 0 && i + 1 < argc) {
			if (!str_to_u64(str_of(argv[++i]), 1, USES_MAX, &u))
				return cli_usage_err(
				    "registration token",
				    "bad --uses '%s' (1 to %d)", argv[i],
				    USES_MAX);
			*uses = (unsigned)u;
		} else if (strcmp(argv[i], "--json") == 0) {
			*json = true;
		} else {
			return cli_usage_err("registration token",
			                     "unexpected argument '%s'",
			                     argv[i]);
		}
	}
	return CLI_OK;
}

int
cli_registration(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char tok[SEC_TOKEN_STRLEN];
	uint8_t digest[SEC_DIGEST_BYTES];
	int64_t ttl = TTL_DEFAULT_S, now = clk_now_s();
	unsigned uses = 1;
	bool json = false;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "token") != 0)
		return cli_usage_err("registration",
		                     "the subcommand is 'token'");
	if ((rc = token_opts(argc, argv, &ttl, &uses, &json)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cli, &cfg, &st)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (sec_token_mint(SEC_PREFIX_INITIAL, tok, digest) != ST_OK ||
	    store_reg_token_add(st, digest, uses, now + ttl, now) != ST_OK) {
		cli_err("cannot store the initial access token");
		goto out;
	}
	if (json)
		cli_json_print(json_pack("{s:s, s:I, s:I}", "token", tok,
		                         "expires_at", (json_int_t)(now + ttl),
		                         "uses", (json_int_t)uses));
	else
		printf("%s\n(shown once; good for %u registration%s until "
		       "%lld s from now)\n",
		       tok, uses, uses == 1 ? "" : "s", (long long)ttl);
	if (strcmp(cfg->oauth.registration, "token") != 0)
		fprintf(stderr,
		        "plugauth: note: [oauth] registration is %s: "
		        "the server asks for this token only with "
		        "registration = token\n",
		        cfg->oauth.registration);
	rc = CLI_OK;
out:
	sec_wipe(tok, sizeof(tok));
	store_close(st);
	cfg_free(cfg);
	return rc;
}
