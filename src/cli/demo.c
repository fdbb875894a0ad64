/* plugauth demo: a throwaway server with a demo user, client and API. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/form.h"
#include "crypto/sec.h"
#include "demo/demo.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "plugin/plugin.h"

#define DEMO_CLIENT_ID "demo-client"
#define DEMO_USER "demo"
#define DEMO_PASSWORD "demo"
#define DEMO_STATE "demo"
#define URL_MAX_BYTES 2048

/* The demo's data: one user, one confidential client (secret gets its
 * secret) and the playground's public client. Both redirect to
 * <issuer>/demo/callback: the playground (its own mode, and its GPT
 * Action mode as the confidential client), which also shows the code of a
 * flow run by hand. Both may ask for every configured scope. */
static int
demo_seed(const struct config *cfg, struct store *st,
          char secret[SEC_TOKEN_STRLEN])
{
	struct store_client c;
	char hash[SEC_PWHASH_STRLEN];
	char name[] = "Demo client";
	char scope[] = "";
	char uri[400];
	char pg_name[] = "Demo playground";
	int n;

	if (sec_password_hash(DEMO_PASSWORD, strlen(DEMO_PASSWORD), hash) !=
	        ST_OK ||
	    store_user_add(st, DEMO_USER, hash, NULL) != ST_OK) {
		cli_err("cannot create the demo user");
		return CLI_FAIL;
	}
	n = snprintf(uri, sizeof(uri), "%s%s", cfg->server.issuer,
	             DEMO_PLAYGROUND_CALLBACK);
	if (n < 0 || (size_t)n >= sizeof(uri)) {
		cli_err("the issuer is too long for the demo");
		return CLI_FAIL;
	}
	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), DEMO_CLIENT_ID);
	c.name = name;
	c.redirect_uris = uri;
	c.scope = scope;
	c.grants = STORE_GRANTS_ALL; /* the curl line below */
	c.created_at = clk_now_s();
	if (sec_token_mint(SEC_PREFIX_SECRET, secret, c.secret_digest) !=
	        ST_OK ||
	    store_client_add(st, &c) != ST_OK) {
		cli_err("cannot create the demo client");
		return CLI_FAIL;
	}
	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), DEMO_PLAYGROUND_CLIENT_ID);
	c.name = pg_name;
	c.is_public = true;
	c.redirect_uris = uri;
	c.scope = scope;
	c.created_at = clk_now_s();
	if (store_client_add(st, &c) != ST_OK) {
		cli_err("cannot create the playground client");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The hand-run code flow's authorization URL into b: the confidential
 * demo client, the manifest's scope ([oauth] default_scope), state "demo",
 * back to <issuer>/demo/callback. As buf_add(). */
static enum status
demo_authorize_url(const struct config *cfg, const char *redirect,
                   struct buf *b)
{
	enum status rc;

	if ((rc = buf_printf(b, "%s/oauth/authorize?", cfg->server.issuer)) !=
	        ST_OK ||
	    (rc = form_append(b, "response_type", "code")) != ST_OK ||
	    (rc = form_append(b, "client_id", DEMO_CLIENT_ID)) != ST_OK ||
	    (rc = form_append(b, "redirect_uri", redirect)) != ST_OK ||
	    (rc = form_append(b, "scope", cfg->oauth.default_scope)) != ST_OK)
		return rc;
	return form_append(b, "state", DEMO_STATE);
}

/* Once listening: what the demo has and how to use it, the playground
 * first, then the code flow by hand, then client_credentials. */
static void
demo_ready(const struct config *cfg, void *arg)
{
	const char *secret = arg;
	char redirect[400];
	struct buf authz;
	int n;

	printf(
	    "plugauth demo: a throwaway server; its data is deleted on "
	    "exit.\n\n"
	    "Open the playground, which plays ChatGPT's part in the browser\n"
	    "(sign in as %s / %s, then call the TODO API):\n\n"
	    "  %s/demo\n\n",
	    DEMO_USER, DEMO_PASSWORD, cfg->server.issuer);
	printf("  user:           %s (password: %s)\n"
	       "  client_id:      %s\n"
	       "  client_secret:  %s\n"
	       "  scopes:         %s\n\n",
	       DEMO_USER, DEMO_PASSWORD, DEMO_CLIENT_ID, secret,
	       cfg->oauth.scopes);
	printf("Connect an MCP client on this machine (MCP Inspector, Claude "
	       "Desktop,\nVS Code, Cursor) by pasting the MCP server URL:\n\n"
	       "  %s%s\n\n"
	       "  it registers itself, you sign in as %s / %s, and its TODO "
	       "tools\n  (list_todos, add_todo, complete_todo) act on that "
	       "user's list.\n\n",
	       cfg->server.issuer, DEMO_MCP_PATH, DEMO_USER, DEMO_PASSWORD);
	n = snprintf(redirect, sizeof(redirect), "%s%s", cfg->server.issuer,
	             DEMO_PLAYGROUND_CALLBACK);
	buf_init(&authz, URL_MAX_BYTES);
	if (n > 0 && (size_t)n < sizeof(redirect) &&
	    demo_authorize_url(cfg, redirect, &authz) == ST_OK) {
		printf(
		    "Play ChatGPT by hand (authorization-code grant, as a "
		    "GPT Action does):\n\n"
		    "  1. open in a browser, sign in and allow:\n"
		    "     %s\n"
		    "     the browser lands on %s, which shows the code\n"
		    "  2. exchange the code (replace CODE):\n"
		    "     curl -s -u '%s:%s' -d grant_type=authorization_code "
		    "-d redirect_uri=%s -d code=CODE %s/oauth/token\n\n",
		    authz.p, redirect, DEMO_CLIENT_ID, secret, redirect,
		    cfg->server.issuer);
	}
	buf_free(&authz);
	printf("Or get a token without a user (client_credentials grant):\n\n"
	       "  curl -s -u '%s:%s' -d grant_type=client_credentials "
	       "%s/oauth/token\n\n",
	       DEMO_CLIENT_ID, secret, cfg->server.issuer);
	fflush(stdout);
}

/* A port the kernel considers free on host right now. */
static int
free_port(const char *host, unsigned *port)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = -1, rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, "0", &hints, &ai) != 0 || ai == NULL)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		*port = ntohs(ss.ss_family == AF_INET6
		                  ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                  : ((struct sockaddr_in *)&ss)->sin_port);
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static void
demo_cleanup(const char *dir)
{
	static const char *const files[] = {"demo.db", "demo.db-wal",
	                                    "demo.db-shm"};
	char path[4200];

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, files[i]);

		if (n > 0 && (size_t)n < sizeof(path))
			unlink(path);
	}
	rmdir(dir);
}

/* Reads demo's options: *listen gets --listen's value (borrowed from
 * argv), or keeps its default. CLI_OK, or CLI_USAGE after saying why. */
static int
demo_opts_parse(int argc, char **argv, const char **listen)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			*listen = argv[++i];
		else if (strncmp(argv[i], "--listen=", 9) == 0)
			*listen = argv[i] + 9;
		else
			return cli_usage_err("demo", "unexpected argument '%s'",
			                     argv[i]);
	}
	return CLI_OK;
}

/* The demo's names and scope words: a real deployment gets neutral
 * defaults and its own ([service] name, [oauth.scope_descriptions]). */
static const struct {
	const char *section, *key, *value;
} demo_keys[] = {
    {"service", "name", "TODO List"},
    /* The manifest's auth.scope, which the playground and the hand-run
     * flow request: both scopes, so the demo can add todos. */
    {"oauth", "default_scope", "todo.read todo.write"},
    /* MCP clients register themselves (RFC 7591) before they sign in;
     * the demo listens on loopback only. */
    {"oauth", "registration", "open"},
    {"plugin", "name_for_human", "TODO List"},
    {"plugin", "name_for_model", "todo"},
    {"plugin", "description_for_human", "Manage your TODO list."},
    {"plugin", "description_for_model",
     "Plugin for managing a user's TODO list. Use it to list, add and "
     "remove items."},
    {CFG_SCOPE_DESCS_SECTION, "todo.read", "See the items on your TODO list"},
    {CFG_SCOPE_DESCS_SECTION, "todo.write",
     "Add, change and remove items on your TODO list"},
};

/* The demo's configuration: the defaults and the demo's names, listening
 * on host:port (the issuer names both), the database in dir. *out is new
 * (cfg_free()). Prints the error itself. */
static int
demo_config(const char *dir, const char *host, unsigned port,
            struct config **out)
{
	struct config *cfg = NULL;
	char url[4200], issuer[300], err[512], listen_buf[300];
	int n;

	n = snprintf(url, sizeof(url), "sqlite:%s/demo.db", dir);
	if (n < 0 || (size_t)n >= sizeof(url))
		return CLI_FAIL;
	n = snprintf(issuer, sizeof(issuer), "http://%s%s%s:%u",
	             strchr(host, ':') ? "[" : "", host,
	             strchr(host, ':') ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof(issuer))
		return CLI_FAIL;
	n = snprintf(listen_buf, sizeof(listen_buf), "%s%s%s:%u",
	             strchr(host, ':') ? "[" : "", host,
	             strchr(host, ':') ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof(listen_buf))
		return CLI_FAIL;
	if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK ||
	    cfg_set(cfg, "server", "listen", listen_buf, err, sizeof(err)) !=
	        ST_OK ||
	    cfg_set(cfg, "server", "issuer", issuer, err, sizeof(err)) !=
	        ST_OK ||
	    cfg_set(cfg, "database", "url", url, err, sizeof(err)) != ST_OK)
		goto fail;
	for (size_t i = 0; i < ARRAY_LEN(demo_keys); i++)
		if (cfg_set(cfg, demo_keys[i].section, demo_keys[i].key,
		            demo_keys[i].value, err, sizeof(err)) != ST_OK)
			goto fail;
	*out = cfg;
	return CLI_OK;
fail:
	cli_err("%s", err);
	cfg_free(cfg);
	return CLI_FAIL;
}

/* Blocks the stop signals (into set), then starts the demo TODO API on cfg
 * and st: *gw (its bearer checks), *demo and *api (its /openapi.yaml) are
 * new, and the caller frees them also on failure (gw_env_free(),
 * demo_free(), plug_env_free()). Prints the error itself. */
static int
demo_api_start(const struct config *cfg, struct store *st, sigset_t *set,
               struct gw_env **gw, struct demo **demo, struct plug_env *api)
{
	char err[512];

	/* The demo API's own bearer checks (no upstream; its failures are
	 * not recorded as events). Signals first: the gateway may start a
	 * thread, and it must inherit the mask (see cli_serve_run()). */
	cli_signals_block(set);
	if (gw_env_new(cfg, st, NULL, gw, err, sizeof(err)) != ST_OK ||
	    plug_env_demo_openapi(api, cfg, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	if (demo_new(cfg, *gw, demo) != ST_OK) {
		cli_err("cannot set up the demo API");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Splits --listen's address into host and port (a free one for port 0:
 * the issuer must name the real port). Only a loopback address: the
 * demo's user, password and client secret are printed for anyone. */
static int
demo_listen(const char *listen, char *host, size_t hostsz, unsigned *port)
{
	char url[300];
	int n;

	if (!cfg_listen_split(listen, host, hostsz, port))
		return cli_usage_err("demo", "bad listen address '%s'", listen);
	n = snprintf(url, sizeof(url),
	             strchr(host, ':') != NULL ? "http://[%s]/" : "http://%s/",
	             host);
	if (n < 0 || (size_t)n >= sizeof(url) || !cfg_url_is_loopback(url)) {
		cli_err("demo: refusing to listen on '%s': the demo's user "
		        "(demo/demo) and client secret are public, so it "
		        "listens on loopback only (127.0.0.1, [::1]); for a "
		        "real server use plugauth init and plugauth serve",
		        listen);
		return CLI_FAIL;
	}
	if (*port == 0 && free_port(host, port) != 0) {
		cli_err("cannot find a free port on %s", host);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* demo --help. */
static void
demo_usage(void)
{
	printf("usage: plugauth demo [--listen ADDR]\n\n"
	       "Runs a throwaway server (default 127.0.0.1:8080) on a\n"
	       "temporary SQLite database with a demo user and a demo\n"
	       "client, the demo TODO API (/api/todos), an MCP server with\n"
	       "TODO tools (/mcp; MCP clients register themselves) and a\n"
	       "playground page (/demo) that plays ChatGPT's part, or an\n"
	       "MCP client's, in the browser, and\n"
	       "prints the code flow to run by hand (its callback page\n"
	       "/demo/callback shows the code) and the commands that get\n"
	       "tokens.\n"
	       "The configuration file is not read. Ctrl-C stops it and\n"
	       "deletes its data. It listens on a loopback address only:\n"
	       "its user, password and client secret are public.\n");
}

int
cli_demo(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct gw_env *gw = NULL;
	struct demo *demo = NULL;
	struct plug_env api = {0}; /* the demo API's /openapi.yaml */
	/* Not offloaded: the playground is a page, and the TODO API keeps
	 * its lists in memory (its bearer check only reads the store). */
	struct http_route routes[] = {
	    {"GET", "/demo", false, demo_playground_handle, NULL, 0, false,
	     NULL},
	    {"GET", DEMO_PLAYGROUND_CALLBACK, false, demo_playground_handle,
	     NULL, 0, false, NULL},
	    {"GET", "/api/todos", false, demo_api_handle, NULL, 0, false, NULL},
	    {"POST", "/api/todos", false, demo_api_handle, NULL, 0, false,
	     NULL},
	    {"DELETE", "/api/todos/", true, demo_api_handle, NULL, 0, false,
	     NULL},
	    {"GET", "/openapi.yaml", false, plug_openapi_handle, &api, 0, false,
	     NULL},
	    {"POST", DEMO_MCP_PATH, false, demo_mcp_handle, NULL,
	     DEMO_MCP_BODY_MAX_BYTES, false, NULL},
	};
	sigset_t set;
	const char *listen = "127.0.0.1:8080";
	char dir[] = "/tmp/plugauth-demo-XXXXXX";
	char secret[SEC_TOKEN_STRLEN], host[256];
	unsigned port;
	int rc;

	(void)cli;
	if (cli_wants_help(argc, argv)) {
		demo_usage();
		return CLI_OK;
	}
	if ((rc = demo_opts_parse(argc, argv, &listen)) != CLI_OK ||
	    (rc = demo_listen(listen, host, sizeof(host), &port)) != CLI_OK)
		return rc;
	if (mkdtemp(dir) == NULL) {
		cli_err("cannot make a temporary directory: %s",
		        strerror(errno));
		return CLI_FAIL;
	}
	rc = CLI_FAIL;
	if (demo_config(dir, host, port, &cfg) != CLI_OK)
		goto out;
	/* Before the store's checkpoint thread starts (see cli_serve()). */
	cli_signals_block(&set);
	if (cli_store_open(cfg, CLI_DB_CREATE, &st) != CLI_OK)
		goto out;
	if (demo_seed(cfg, st, secret) != CLI_OK)
		goto out;
	if (demo_api_start(cfg, st, &set, &gw, &demo, &api) != CLI_OK)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		if (routes[i].fn == demo_api_handle ||
		    routes[i].fn == demo_mcp_handle)
			routes[i].ctx = demo;
	rc = cli_serve_run(cfg, st, routes, ARRAY_LEN(routes), demo_ready,
	                   secret);
out:
	sec_wipe(secret, sizeof(secret));
	demo_free(demo);
	plug_env_free(&api);
	gw_env_free(gw);
	store_close(st);
	cfg_free(cfg);
	demo_cleanup(dir);
	return rc;
}
