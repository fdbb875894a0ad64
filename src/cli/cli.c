#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "oauth/jwt.h"

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("plugauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("plugauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'plugauth %s --help')\n", cmd);
	return CLI_USAGE;
}

int
cli_config_load(const struct cli *cli, struct config **cfg)
{
	char err[512];
	enum log_level lvl;
	enum status rc;

	rc = cfg_load(cli->config_path, true, cfg, err, sizeof(err));
	if (rc != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	if (log_level_parse((*cfg)->server.log_level, &lvl))
		log_set_level(cli->serving || lvl == LOG_DEBUG || lvl < LOG_WARN
		                  ? lvl
		                  : LOG_WARN);
	return CLI_OK;
}

int
cli_store_open(const struct config *cfg, enum cli_db mode, struct store **st)
{
	char err[512];
	unsigned have = 0, want = 0;
	enum status rc;

	if (mode == CLI_DB_CREATE)
		rc = store_create(cfg->database.url, st, err, sizeof(err));
	else
		rc = store_open(cfg->database.url, st, err, sizeof(err));
	if (rc == ST_NOTFOUND) {
		cli_err(
		    "%s: check [database] url (a relative sqlite: path is "
		    "read from the configuration file's directory), or create "
		    "an empty database with 'plugauth migrate --create' (or "
		    "'plugauth init')",
		    err);
		return CLI_FAIL;
	}
	if (rc != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	rc = store_schema_version(*st, &have, &want);
	if (rc != ST_OK) {
		cli_err("cannot read the database schema version: %s",
		        status_str(rc));
		goto fail;
	}
	/* serve never sets up a database that was never migrated: an
	 * empty file is more likely the wrong one than a new one. */
	if (mode == CLI_DB_MIGRATE && have == 0 && want > 0) {
		/* The path only: another URL may hold a password. */
		cli_err("database %s is empty (no schema): check [database] "
		        "url, or set it up with 'plugauth migrate'",
		        strncmp(cfg->database.url, "sqlite:", 7) == 0
		            ? cfg->database.url + 7
		            : "named by [database] url");
		goto fail;
	}
	if (mode != CLI_DB_CURRENT) {
		rc = store_migrate(*st, NULL, err, sizeof(err));
		if (rc != ST_OK) {
			cli_err("%s", err);
			goto fail;
		}
		/* The key that signs JWT access tokens (docs/jwt.md). */
		if ((rc = oauth_jwt_key_ensure(*st, NULL)) != ST_OK) {
			cli_err("cannot make a signing key: %s",
			        status_str(rc));
			goto fail;
		}
		return CLI_OK;
	}
	if (have < want) {
		cli_err("database schema is at version %u, this build needs %u:"
		        " run 'plugauth migrate'",
		        have, want);
		goto fail;
	}
	if (have > want) {
		cli_err(
		    "database schema version %u is newer than this build of "
		    "plugauth knows (%u): upgrade plugauth",
		    have, want);
		goto fail;
	}
	return CLI_OK;
fail:
	store_close(*st);
	*st = NULL;
	return CLI_FAIL;
}

int
cli_open(const struct cli *cli, struct config **cfg, struct store **st)
{
	int rc;

	rc = cli_config_load(cli, cfg);
	if (rc != CLI_OK)
		return rc;
	rc = cli_store_open(*cfg, CLI_DB_CURRENT, st);
	if (rc != CLI_OK) {
		cfg_free(*cfg);
		*cfg = NULL;
	}
	return rc;
}

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}
