/* plugauth init: writes the configuration and creates the database. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"

static const char usage[] =
    "usage: plugauth [-c FILE] init --issuer URL [--name NAME] [--db URL]\n"
    "                              [--listen ADDR] [--force]\n"
    "\n"
    "Writes the configuration file (default ./plugauth.conf, mode 0600),\n"
    "creates and migrates the database, and prints what to paste into\n"
    "ChatGPT.\n"
    "  --issuer URL    the public base URL of this server, e.g.\n"
    "                  https://plugin.example.com (https unless loopback)\n"
    "  --name NAME     the service's name users see on the sign-in pages\n"
    "                  ([service] name; default: the issuer's host)\n"
    "  --db URL        sqlite:PATH (default sqlite:plugauth.db); a relative\n"
    "                  PATH is next to the configuration file\n"
    "  --listen ADDR   host:port to listen on (default: the issuer's host\n"
    "                  and port if it is loopback with a port, else\n"
    "                  127.0.0.1:8080)\n"
    "  --force         overwrite an existing configuration file\n";

/* Writes text to a new private file next to path (mode 0600), whose name
 * goes to tmp[tmpsz]: init moves it into place once the database is
 * ready, so a failure leaves no configuration behind, and --force does
 * not lose the old one. */
static int
file_write(const char *path, struct str text, char *tmp, size_t tmpsz)
{
	int fd, n;
	ssize_t w;

	n = snprintf(tmp, tmpsz, "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= tmpsz) {
		cli_err("cannot write %s: the name is too long", path);
		tmp[0] = '\0';
		return CLI_FAIL;
	}
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		tmp[0] = '\0';
		return CLI_FAIL;
	}
	w = write(fd, text.p, text.len);
	if (w < 0 || (size_t)w != text.len || fsync(fd) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		close(fd);
		return CLI_FAIL;
	}
	close(fd);
	return CLI_OK;
}

/* Moves the written file tmp to path: over an old one only if force. */
static int
file_install(const char *tmp, const char *path, bool force)
{
	if (force ? rename(tmp, path) == 0 : link(tmp, path) == 0) {
		if (!force)
			unlink(tmp);
		return CLI_OK;
	}
	if (errno == EEXIST)
		cli_err("%s exists: use --force to overwrite it", path);
	else
		cli_err("cannot write %s: %s", path, strerror(errno));
	return CLI_FAIL;
}

/* The files of a SQLite database at url that init would create: which
 * did not exist before (made[i]), so that a failed init removes those
 * and only those. */
struct db_files {
	char path[3][PATH_MAX];
	bool made[3];
};

/* Notes which of url's database files (the database, -wal, -shm) exist
 * now; nothing for another kind of URL or ":memory:". */
static void
db_files_note(struct db_files *f, const char *url)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	const char *file;
	struct stat sb;
	int n;

	memset(f, 0, sizeof(*f));
	if (strncmp(url, "sqlite:", 7) != 0)
		return;
	file = url + 7;
	if (file[0] == '\0' || strcmp(file, ":memory:") == 0)
		return;
	for (size_t i = 0; i < ARRAY_LEN(suffix); i++) {
		n = snprintf(f->path[i], sizeof(f->path[i]), "%s%s", file,
		             suffix[i]);
		if (n < 0 || (size_t)n >= sizeof(f->path[i]))
			f->path[i][0] = '\0';
		else
			f->made[i] =
			    lstat(f->path[i], &sb) != 0 && errno == ENOENT;
	}
}

/* Removes the database files that were not there before. */
static void
db_files_undo(const struct db_files *f)
{
	for (size_t i = 0; i < ARRAY_LEN(f->path); i++)
		if (f->made[i] && f->path[i][0] != '\0')
			unlink(f->path[i]);
}

/* init's options. All borrowed from argv; NULL if absent. */
struct init_opts {
	const char *issuer, *db, *listen, *name;
	bool force;
	bool help; /* --help: print the usage, do nothing */
};

/* Reads init's options into o. CLI_OK (also for --help, which stops the
 * reading), or CLI_USAGE after saying why. */
static int
init_opts_parse(int argc, char **argv, struct init_opts *o)
{
	static const struct option opts[] = {
	    {"issuer", required_argument, NULL, 'i'},
	    {"db", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			o->issuer = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'h':
			o->help = true;
			return CLI_OK;
		default:
			return cli_usage_err("init",
			                     "unknown or incomplete "
			                     "option '%s'",
			                     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_err("init", "unexpected argument '%s'",
		                     argv[optind]);
	if (o->issuer == NULL)
		return cli_usage_err("init", "--issuer URL is required");
	return CLI_OK;
}

/* The listen address a loopback issuer with a port implies
 * ("http://127.0.0.1:9000" -> "127.0.0.1:9000", localhost as 127.0.0.1),
 * into buf; false for any other issuer. */
static bool
listen_from_issuer(const char *issuer, char *buf, size_t bufsz)
{
	const char *auth, *end, *colon;
	int n;

	if (!cfg_url_is_loopback(issuer) ||
	    (auth = strstr(issuer, "//")) == NULL)
		return false;
	auth += 2;
	end = auth + strcspn(auth, "/?#");
	colon = end;
	while (colon > auth && colon[-1] != ':' && colon[-1] != ']')
		colon--;
	if (colon == auth || colon[-1] != ':' || colon == end)
		return false; /* no port: the scheme's, rarely ours to take */
	if ((size_t)(colon - 1 - auth) == 9 &&
	    strncasecmp(auth, "localhost", 9) == 0)
		n = snprintf(buf, bufsz, "127.0.0.1:%.*s", (int)(end - colon),
		             colon);
	else
		n = snprintf(buf, bufsz, "%.*s", (int)(end - auth), auth);
	return n > 0 && (size_t)n < bufsz;
}

/* The configuration init writes: the defaults, then o's values (the
 * environment does not leak in), validated. *out is new (cfg_free()).
 * Prints the error itself. */
static int
init_config(const struct init_opts *o, struct config **out)
{
	struct config *cfg = NULL;
	const char *listen = o->listen;
	char err[512], name[256], implied[300];

	if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK ||
	    cfg_set(cfg, "server", "issuer", o->issuer, err, sizeof(err)) !=
	        ST_OK)
		goto fail;
	if (listen == NULL &&
	    listen_from_issuer(cfg->server.issuer, implied, sizeof(implied)))
		listen = implied;
	/* No other service's name: --name, else the issuer's host. */
	if (o->name == NULL)
		cfg_name_from_issuer(cfg->server.issuer, sizeof(name) - 1, name,
		                     sizeof(name));
	if ((o->db != NULL && cfg_set(cfg, "database", "url", o->db, err,
	                              sizeof(err)) != ST_OK) ||
	    (listen != NULL && cfg_set(cfg, "server", "listen", listen, err,
	                               sizeof(err)) != ST_OK) ||
	    cfg_set(cfg, "service", "name", o->name != NULL ? o->name : name,
	            err, sizeof(err)) != ST_OK ||
	    cfg_validate(cfg, err, sizeof(err)) != ST_OK)
		goto fail;
	*out = cfg;
	return CLI_OK;
fail:
	cli_err("%s", err);
	cfg_free(cfg);
	return CLI_USAGE;
}

/* What init did and what to do next: add a user and a client, point the
 * gateway at the API, serve, and the URLs for ChatGPT. */
static void
init_next_print(const char *path, const struct config *cfg, unsigned have)
{
	printf("wrote %s\n"
	       "database %s ready (schema version %u)\n\n"
	       "Service name on the sign-in pages: %s ([service] name)\n",
	       path, cfg->database.url, have, cfg->service.name);
	if (cfg->gateway.upstream != NULL)
		printf("Gateway: %s%s* goes to %s\n", cfg->server.issuer,
		       cfg->gateway.path, cfg->gateway.upstream);
	else
		printf("Gateway: no upstream yet: set [gateway] upstream to "
		       "your API (e.g. http://127.0.0.1:5000)\n"
		       "  and requests to %s%s* reach it with the user's "
		       "identity\n",
		       cfg->server.issuer, cfg->gateway.path);
	printf("\nNext:\n"
	       "  plugauth -c %s user add NAME             # someone who can "
	       "sign in\n"
	       "  plugauth -c %s client add --name ChatGPT --chatgpt\n"
	       "  plugauth -c %s serve                      # listens on %s\n\n"
	       "For ChatGPT:\n"
	       "  Plugin manifest:    %s/.well-known/ai-plugin.json\n"
	       "  Authorization URL:  %s/oauth/authorize\n"
	       "  Token URL:          %s/oauth/token\n",
	       path, path, path, cfg->server.listen, cfg->server.issuer,
	       cfg->server.issuer, cfg->server.issuer);
}

int
cli_init(struct cli *cli, int argc, char **argv)
{
	struct init_opts o = {0};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct db_files db;
	struct buf text;
	char err[512], tmp[PATH_MAX] = "";
	unsigned have = 0, want = 0;
	bool db_tried = false;
	int rc;

	buf_init(&text, 1 << 20);
	if ((rc = init_opts_parse(argc, argv, &o)) != CLI_OK)
		return rc;
	if (o.help) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	rc = init_config(&o, &cfg);
	if (rc != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (!o.force && access(cli->config_path, F_OK) == 0) {
		cli_err("%s exists: use --force to overwrite it",
		        cli->config_path);
		goto out;
	}
	if (cfg_render(cfg, &text) != ST_OK ||
	    file_write(cli->config_path, buf_str(&text), tmp, sizeof(tmp)) !=
	        CLI_OK)
		goto out;
	/* Rendered as given: a relative sqlite: path is read from the
	 * configuration file's directory, by this run and every later one. */
	if (cfg_database_resolve(cfg, cli->config_path, err, sizeof(err)) !=
	    ST_OK) {
		cli_err("%s", err);
		goto out;
	}
	db_files_note(&db, cfg->database.url);
	db_tried = true;
	if (cli_store_open(cfg, CLI_DB_CREATE, &st) != CLI_OK)
		goto out;
	store_schema_version(st, &have, &want);
	if (file_install(tmp, cli->config_path, o.force) != CLI_OK)
		goto out;
	tmp[0] = '\0';
	init_next_print(cli->config_path, cfg, have);
	rc = CLI_OK;
out:
	buf_free(&text);
	store_close(st);
	/* A failed init leaves nothing it made behind. */
	if (tmp[0] != '\0')
		unlink(tmp);
	if (rc != CLI_OK && db_tried)
		db_files_undo(&db);
	cfg_free(cfg);
	return rc;
}
