/* plugauth init: writes the configuration and creates the database. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"

static const char usage[] =
    "usage: plugauth [-c FILE] init --issuer URL [--db URL] [--listen ADDR]"
    " [--force]\n"
    "\n"
    "Writes the configuration file (default ./plugauth.conf, mode 0600),\n"
    "creates and migrates the database, and prints what to paste into\n"
    "ChatGPT.\n"
    "  --issuer URL    the public base URL of this server, e.g.\n"
    "                  https://plugin.example.com (https unless loopback)\n"
    "  --db URL        sqlite:PATH (default sqlite:plugauth.db); a relative\n"
    "                  PATH is next to the configuration file\n"
    "  --listen ADDR   host:port to listen on (default 127.0.0.1:8080)\n"
    "  --force         overwrite an existing configuration file\n";

/* Writes text to path with mode 0600, refusing to replace unless force. */
static int
file_write(const char *path, struct str text, bool force)
{
	int	fd, flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	ssize_t	n;

	if (!force)
		flags |= O_EXCL;
	fd = open(path, flags, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_err("%s exists: use --force to overwrite it", path);
		else
			cli_err("cannot write %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	/* open()'s mode is for a new file: an old one keeps its own, and
	 * the secrets must not land in a file others can read. */
	if (fchmod(fd, 0600) != 0) {
		cli_err("cannot make %s private: %s", path, strerror(errno));
		close(fd);
		return CLI_FAIL;
	}
	n = write(fd, text.p, text.len);
	if (n < 0 || (size_t)n != text.len || fsync(fd) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		close(fd);
		return CLI_FAIL;
	}
	close(fd);
	return CLI_OK;
}

int
cli_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*issuer = NULL, *db = NULL, *listen = NULL;
	struct config	*cfg = NULL;
	struct store	*st = NULL;
	struct buf	 text;
	char		 err[512];
	unsigned	 have = 0, want = 0;
	bool		 force = false;
	int		 ch, rc = CLI_FAIL;

	buf_init(&text, 1 << 20);
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			issuer = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_err("init", "unknown or incomplete "
			    "option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_err("init", "unexpected argument '%s'",
		    argv[optind]);
	if (issuer == NULL)
		return cli_usage_err("init", "--issuer URL is required");

	/* Defaults, then the flags; the environment does not leak in. */
	if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK ||
	    cfg_set(cfg, "server", "issuer", issuer, err, sizeof(err)) !=
	    ST_OK ||
	    (db != NULL && cfg_set(cfg, "database", "url", db, err,
	    sizeof(err)) != ST_OK) ||
	    (listen != NULL && cfg_set(cfg, "server", "listen", listen, err,
	    sizeof(err)) != ST_OK) ||
	    cfg_validate(cfg, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		rc = CLI_USAGE;
		goto out;
	}
	if (cfg_render(cfg, &text) != ST_OK)
		goto out;
	if (file_write(cli->config_path, buf_str(&text), force) != CLI_OK)
		goto out;
	/* Rendered as given: a relative sqlite: path is read from the
	 * configuration file's directory, by this run and every later one. */
	if (cfg_database_resolve(cfg, cli->config_path, err, sizeof(err)) !=
	    ST_OK) {
		cli_err("%s", err);
		goto out;
	}
	if (cli_store_open(cfg, CLI_DB_CREATE, &st) != CLI_OK)
		goto out;
	store_schema_version(st, &have, &want);
	printf("wrote %s\n"
	    "database %s ready (schema version %u)\n\n"
	    "Next:\n"
	    "  plugauth -c %s user add NAME             # someone who can sign "
	    "in\n"
	    "  plugauth -c %s client add --name ChatGPT --chatgpt\n"
	    "  plugauth -c %s serve\n\n"
	    "For ChatGPT:\n"
	    "  Plugin manifest:    %s/.well-known/ai-plugin.json\n"
	    "  Authorization URL:  %s/oauth/authorize\n"
	    "  Token URL:          %s/oauth/token\n",
	    cli->config_path, cfg->database.url, have, cli->config_path,
	    cli->config_path, cli->config_path, cfg->server.issuer,
	    cfg->server.issuer, cfg->server.issuer);
	rc = CLI_OK;
out:
	buf_free(&text);
	store_close(st);
	cfg_free(cfg);
	return rc;
}
