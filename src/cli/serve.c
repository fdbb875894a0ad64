/* plugauth serve, demo and migrate: run the server, or prepare its store. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/session.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "oauth/oauth.h"
#include "plugin/plugin.h"

#define DRAIN_S		10
#define GC_PERIOD_S	60
#define GC_BATCH	1000
#define GC_ROUNDS_MAX	1000	/* at most a million rows a minute */
#define DEMO_CLIENT_ID	"demo-client"
#define DEMO_USER	"demo"
#define DEMO_PASSWORD	"demo"
#define DEMO_REDIRECT	"http://127.0.0.1/callback"
#define DEMO_REDIRECT_ENC	"http%3A%2F%2F127.0.0.1%2Fcallback"
#define SERVE_EXTRA_MAX	8	/* routes a command may add (the demo's) */
/* Room for the extra routes, the standard ones and the gateway's, with
 * some to spare for new endpoints (checked in serve_routes()). */
#define SERVE_ROUTES_MAX	(SERVE_EXTRA_MAX + 32)

static enum status
healthz(struct http_req *req, void *ctx)
{
	enum status rc;

	(void)ctx;
	if ((rc = http_resp_header(req, "Cache-Control", "no-store")) != ST_OK)
		return rc;
	return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* Blocks the stop signals in this thread and those it starts, so that
 * run_until_signal() can wait for them. */
static void
signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP: reads the TLS certificate and key again (a renewal); nothing
 * else is reloaded. Taken here so a closed terminal does not kill us. */
static void
on_sighup(struct http_server *srv, bool tls)
{
	char err[512];

	if (!tls) {
		log_warn("event=sighup_ignored reason=\"reload is not "
		    "supported: restart to apply a new configuration\"");
		return;
	}
	if (http_server_tls_reload(srv, err, sizeof(err)) != ST_OK) {
		log_err("event=tls_reload_failed reason=\"%s\" "
		    "kept=previous_certificate", err);
		return;
	}
	log_info("event=tls_reloaded");
}

/* Serves until SIGTERM or SIGINT (SIGHUP: on_sighup()), collecting
 * expired rows meanwhile. */
static void
run_until_signal(const sigset_t *set, struct store *st,
    struct http_server *srv, bool tls)
{
	struct timespec	ts = { GC_PERIOD_S, 0 };
	unsigned	n;
	int		sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGHUP) {
			on_sighup(srv, tls);
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("event=stopping signal=%s",
			    sig == SIGTERM ? "TERM" : "INT");
			return;
		}
		if (sig < 0 && errno == EAGAIN) {
			unsigned total = 0;

			/* Bounded batches (no long lock), repeated while full,
			 * so collection keeps up with a busy server. */
			for (int i = 0; i < GC_ROUNDS_MAX; i++) {
				n = 0;
				if (store_gc(st, clk_now_s(), GC_BATCH, &n) !=
				    ST_OK)
					break;
				total += n;
				if (n < GC_BATCH)
					break;
			}
			if (total > 0)
				log_info("event=gc deleted=%u", total);
		}
	}
}

/* Called once the server listens, before waiting for a signal. */
typedef void (*serve_ready_fn)(const struct config *, void *arg);

/* The contexts the routes' handlers get: they live as long as the server. */
struct serve_envs {
	struct oauth_env	 oauth;
	struct plug_env		 plug;
	struct gw_env		*gw;
};

/* Frees what serve_envs_start() started. */
static void
serve_envs_free(struct serve_envs *e)
{
	gw_env_free(e->gw);
	oauth_env_free(&e->oauth);
	plug_env_free(&e->plug);
}

/* Refuses what must stop us before we listen, blocks the stop signals (into
 * set) and starts e's environments on cfg and st. On failure prints why and
 * frees what it started; on success free e with serve_envs_free(). */
static int
serve_envs_start(const struct config *cfg, struct store *st,
    struct serve_envs *e, sigset_t *set)
{
	char err[512];

	e->gw = NULL;
	/* Advertising an endpoint that answers 404 would mislead clients. */
	if (strcmp(cfg->oauth.registration, "open") == 0) {
		cli_err("[oauth] registration = open: dynamic client "
		    "registration (RFC 7591) is not built yet; set it to "
		    "closed and add clients with `plugauth client add`");
		return CLI_FAIL;
	}
	/* A manifest ChatGPT would refuse stops us before we listen. */
	if (plug_env_init(&e->plug, cfg, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	/* Signals are blocked before any thread starts, so that all inherit
	 * the mask and only run_until_signal() takes them. */
	signals_block(set);
	if (oauth_env_init(&e->oauth, cfg, st, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		plug_env_free(&e->plug);
		return CLI_FAIL;
	}
	if (gw_env_new(cfg, st, e->oauth.events, &e->gw, err, sizeof(err)) !=
	    ST_OK) {
		cli_err("%s", err);
		goto fail;
	}
	/* The upstream never sees the sign-in session. */
	if (gw_env_drop_cookie(e->gw, AUTH_COOKIE) != ST_OK ||
	    gw_env_drop_cookie(e->gw, AUTH_COOKIE_SECURE) != ST_OK) {
		cli_err("gateway: cannot set up the cookie filter");
		goto fail;
	}
	return CLI_OK;
fail:
	serve_envs_free(e);
	return CLI_FAIL;
}

/* Fills all[SERVE_ROUTES_MAX]: extra[nextra] (at most SERVE_EXTRA_MAX), the
 * standard routes, the gateway's; contexts point into e. Returns the count. */
static size_t
serve_routes(const struct config *cfg, struct serve_envs *e,
    const struct http_route *extra, size_t nextra, struct http_route *all)
{
	/* offload (the seventh field): the handlers that wait for a commit or
	 * hash a password run on the blocking-work threads (http.h). */
	struct http_route	routes[] = {
		{ "GET", "/healthz", false, healthz, NULL, 0, false, NULL },
		/* Writes codes and sessions. */
		{ "GET", "/oauth/authorize", false, oauth_authorize_handle,
		    &e->oauth, 0, true, NULL },
		/* Sign-in: argon2id. */
		{ "POST", "/oauth/authorize", false, oauth_authorize_handle,
		    &e->oauth, 0, true, NULL },
		{ "POST", "/oauth/token", false, oauth_token_handle, &e->oauth,
		    0, true, NULL },
		{ "POST", "/oauth/introspect", false, oauth_introspect_handle,
		    &e->oauth, 0, false, NULL },
		{ "POST", "/oauth/revoke", false, oauth_revoke_handle,
		    &e->oauth, 0, true, NULL },
		{ "GET", "/.well-known/oauth-authorization-server", false,
		    oauth_metadata_handle, &e->oauth, 0, false, NULL },
		{ "GET", "/.well-known/oauth-protected-resource", false,
		    oauth_resource_metadata_handle, &e->oauth, 0, false, NULL },
		{ "GET", "/.well-known/ai-plugin.json", false,
		    plug_manifest_handle, &e->plug, 0, false, NULL },
		{ "GET", "/openapi.yaml", false, plug_openapi_handle, &e->plug,
		    0, false, NULL },
	};
	/* The gateway's routes come last: exact routes win over its prefix.
	 * The proxy routes are there only with an upstream; they suspend
	 * themselves while the upstream answers, so they are not offloaded. */
	struct http_route	gw_routes[] = {
		{ "GET", "/oauth/verify", false, gw_verify_handle, e->gw, 0,
		    false, gw_verify_head },
		{ "GET", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "POST", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "PUT", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "PATCH", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "DELETE", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "HEAD", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
		{ "OPTIONS", cfg->gateway.path, true, gw_proxy_handle, e->gw,
		    cfg->gateway.body_max_bytes, false, gw_proxy_head },
	};
	size_t			nall = 0;

	_Static_assert(ARRAY_LEN(routes) + SERVE_EXTRA_MAX +
	    ARRAY_LEN(gw_routes) <= SERVE_ROUTES_MAX,
	    "more routes than SERVE_ROUTES_MAX: raise it");
	for (size_t i = 0; i < nextra && nall < SERVE_EXTRA_MAX; i++)
		all[nall++] = extra[i];
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		all[nall++] = routes[i];
	for (size_t i = 0; i < ARRAY_LEN(gw_routes); i++) {
		if (i > 0 && cfg->gateway.upstream == NULL)
			break;
		all[nall++] = gw_routes[i];
	}
	return nall;
}

/* The server's options, from cfg (borrowed: it outlives the server). */
static void
serve_opts(const struct config *cfg, struct http_opts *opts)
{
	*opts = (struct http_opts){
		.listen = cfg->server.listen,
		.threads = cfg->server.threads,
		.blocking_threads = cfg->server.blocking_threads,
		.limits = {
			.body_max_bytes = cfg->server.body_max_bytes,
			.header_max_bytes = cfg->server.header_max_bytes,
			.header_max_count = cfg->server.header_max_count,
			.url_max_bytes = cfg->server.url_max_bytes,
			.params_max = cfg->server.params_max,
			.json_max_depth = cfg->server.json_max_depth,
		},
		.connection_limit = cfg->server.connection_limit,
		.per_address_limit = cfg->server.per_address_connections,
		.connection_timeout_s = cfg->server.connection_timeout,
		.tls_cert = cfg->server.tls_cert,
		.tls_key = cfg->server.tls_key,
		.tls_priorities = cfg->server.tls_priorities,
		.hsts = strncmp(cfg->server.issuer, "https://", 8) == 0,
	};
}

/* Prints "listening on URL" (host as in [server] listen, the port the
 * server got) and logs it. */
static void
serve_listening(const struct config *cfg, struct store *st,
    struct http_server *srv, const char *host)
{
	unsigned port = http_server_port(srv);

	printf("listening on %s://%s%s%s:%u\n",
	    cfg->server.tls_cert != NULL ? "https" : "http",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port);
	fflush(stdout);
	log_info("event=listening addr=%s port=%u issuer=%s store=%s", host,
	    port, cfg->server.issuer, store_backend(st));
}

/* Starts the server on cfg and st, prints where it listens, calls ready
 * (may be NULL), runs until a stop signal, drains. extra[nextra] (borrowed,
 * at most SERVE_EXTRA_MAX) are routed before the standard routes. */
static int
serve_run(const struct config *cfg, struct store *st,
    const struct http_route *extra, size_t nextra, serve_ready_fn ready,
    void *arg)
{
	struct serve_envs	 e;
	struct http_route	 all[SERVE_ROUTES_MAX];
	struct http_opts	 opts;
	struct http_server	*srv = NULL;
	sigset_t		 set;
	char			 host[256], err[512];
	unsigned		 port;
	size_t			 nall;
	int			 rc = CLI_FAIL;

	if (!cfg_listen_split(cfg->server.listen, host, sizeof(host), &port)) {
		cli_err("bad listen address \"%s\"", cfg->server.listen);
		return CLI_FAIL;
	}
	if (serve_envs_start(cfg, st, &e, &set) != CLI_OK)
		return CLI_FAIL;
	nall = serve_routes(cfg, &e, extra, nextra, all);
	serve_opts(cfg, &opts);
	if (http_server_start(&opts, all, nall, &srv, err, sizeof(err)) !=
	    ST_OK) {
		cli_err("%s", err);
		goto out;
	}
	serve_listening(cfg, st, srv, host);
	if (ready != NULL)
		ready(cfg, arg);
	run_until_signal(&set, st, srv, cfg->server.tls_cert != NULL);
	http_server_quiesce(srv, DRAIN_S);
	gw_env_abort(e.gw);	/* answers proxied requests still waiting */
	http_server_stop(srv, 1);
	log_info("event=stopped");
	rc = CLI_OK;
out:
	serve_envs_free(&e);
	return rc;
}

int
cli_serve(struct cli *cli, int argc, char **argv)
{
	struct config	*cfg = NULL;
	struct store	*st = NULL;
	int		 rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: plugauth [-c FILE] serve\n\n"
		    "Runs the server described by the configuration file, after\n"
		    "applying any pending database migrations. Prints\n"
		    "'listening on URL' once it accepts connections. SIGTERM or\n"
		    "SIGINT stops accepting, lets requests in flight finish (up\n"
		    "to %d s) and exits 0. Refuses to start with [oauth]\n"
		    "registration = open: dynamic client registration is not\n"
		    "built yet.\n", DRAIN_S);
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_err("serve", "unexpected argument '%s'",
		    argv[1]);
	rc = cli_config_load(cli, &cfg);
	if (rc != CLI_OK)
		return rc;
	rc = cli_store_open(cfg, CLI_DB_MIGRATE, &st);
	if (rc == CLI_OK)
		rc = serve_run(cfg, st, NULL, 0, NULL, NULL);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

int
cli_migrate(struct cli *cli, int argc, char **argv)
{
	struct config	*cfg = NULL;
	struct store	*st = NULL;
	char		 err[512];
	unsigned	 applied = 0, have = 0, want = 0;
	bool		 create = false;
	enum status	 s;
	int		 rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: plugauth [-c FILE] migrate [--create]\n\n"
		    "Applies pending database schema migrations (serve and init\n"
		    "do this too) and prints the schema version.\n"
		    "  --create   create the database if it does not exist (else\n"
		    "             a missing database is an error)\n");
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--create") != 0)
			return cli_usage_err("migrate",
			    "unexpected argument '%s'", argv[i]);
		create = true;
	}
	rc = cli_config_load(cli, &cfg);
	if (rc != CLI_OK)
		return rc;
	if (create)
		s = store_create(cfg->database.url, &st, err, sizeof(err));
	else
		s = store_open(cfg->database.url, &st, err, sizeof(err));
	if (s == ST_NOTFOUND) {
		cli_err("%s: check [database] url, or create it with "
		    "'plugauth migrate --create'", err);
		rc = CLI_FAIL;
	} else if (s != ST_OK) {
		cli_err("%s", err);
		rc = CLI_FAIL;
	} else if (store_migrate(st, &applied, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		rc = CLI_FAIL;
	} else if (store_schema_version(st, &have, &want) != ST_OK) {
		cli_err("cannot read the database schema version");
		rc = CLI_FAIL;
	} else {
		printf("schema version %u (%u migration%s applied)\n", have,
		    applied, applied == 1 ? "" : "s");
	}
	store_close(st);
	cfg_free(cfg);
	return rc;
}

/* The demo's data: one user, one confidential client (secret gets its
 * secret) and the playground's public client, whose redirect URI is
 * <issuer>/demo/callback. */
static int
demo_seed(const struct config *cfg, struct store *st,
    char secret[SEC_TOKEN_STRLEN])
{
	struct store_client	c;
	char			hash[SEC_PWHASH_STRLEN];
	char			uris[] = DEMO_REDIRECT;
	char			name[] = "Demo client";
	char			scope[] = "";
	char			pg_uri[400];
	char			pg_name[] = "Demo playground";
	char			pg_scope[] = "todo.read todo.write";
	int			n;

	if (sec_password_hash(DEMO_PASSWORD, strlen(DEMO_PASSWORD), hash) !=
	    ST_OK || store_user_add(st, DEMO_USER, hash, NULL) != ST_OK) {
		cli_err("cannot create the demo user");
		return CLI_FAIL;
	}
	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), DEMO_CLIENT_ID);
	c.name = name;
	c.redirect_uris = uris;
	c.scope = scope;
	c.grants = STORE_GRANTS_ALL;	/* the curl line below */
	c.created_at = clk_now_s();
	if (sec_token_mint(SEC_PREFIX_SECRET, secret, c.secret_digest) !=
	    ST_OK || store_client_add(st, &c) != ST_OK) {
		cli_err("cannot create the demo client");
		return CLI_FAIL;
	}
	n = snprintf(pg_uri, sizeof(pg_uri), "%s%s", cfg->server.issuer,
	    PLUG_PLAYGROUND_CALLBACK);
	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), PLUG_PLAYGROUND_CLIENT_ID);
	c.name = pg_name;
	c.is_public = true;
	c.redirect_uris = pg_uri;
	c.scope = pg_scope;
	c.created_at = clk_now_s();
	if (n < 0 || (size_t)n >= sizeof(pg_uri) ||
	    store_client_add(st, &c) != ST_OK) {
		cli_err("cannot create the playground client");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Once listening: what the demo has and how to use it, the playground
 * first. */
static void
demo_ready(const struct config *cfg, void *arg)
{
	const char *secret = arg;

	printf("plugauth demo: a throwaway server; its data is deleted on "
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
	printf("Get an access token (client_credentials grant):\n\n"
	    "  curl -s -u '%s:%s' -d grant_type=client_credentials "
	    "%s/oauth/token\n\n",
	    DEMO_CLIENT_ID, secret, cfg->server.issuer);
	printf("Or play ChatGPT by hand (authorization-code grant):\n\n"
	    "  1. open in a browser, sign in and allow:\n"
	    "     %s/oauth/authorize?response_type=code&client_id=%s"
	    "&redirect_uri=%s&scope=todo.read+todo.write&state=demo\n"
	    "     the browser then goes to %s?code=...&state=demo "
	    "(that page need not load)\n"
	    "  2. exchange the code (replace CODE):\n"
	    "     curl -s -u '%s:%s' -d grant_type=authorization_code "
	    "-d redirect_uri=%s -d code=CODE %s/oauth/token\n\n",
	    cfg->server.issuer, DEMO_CLIENT_ID, DEMO_REDIRECT_ENC,
	    DEMO_REDIRECT, DEMO_CLIENT_ID, secret, DEMO_REDIRECT,
	    cfg->server.issuer);
	fflush(stdout);
}

/* A port the kernel considers free on host right now. */
static int
free_port(const char *host, unsigned *port)
{
	struct addrinfo		 hints, *ai = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 fd = -1, rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, "0", &hints, &ai) != 0 || ai == NULL)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		*port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
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
	static const char *const files[] = { "demo.db", "demo.db-wal",
		"demo.db-shm" };
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

/* The demo's configuration: the defaults, listening on host:port (the
 * issuer names both), the database in dir. *out is new (cfg_free()).
 * Prints the error itself. */
static int
demo_config(const char *dir, const char *host, unsigned port,
    struct config **out)
{
	struct config	*cfg = NULL;
	char		 url[4200], issuer[300], err[512], listen_buf[300];
	int		 n;

	n = snprintf(url, sizeof(url), "sqlite:%s/demo.db", dir);
	if (n < 0 || (size_t)n >= sizeof(url))
		return CLI_FAIL;
	n = snprintf(issuer, sizeof(issuer), "http://%s%s%s:%u",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port);
	if (n < 0 || (size_t)n >= sizeof(issuer))
		return CLI_FAIL;
	n = snprintf(listen_buf, sizeof(listen_buf), "%s%s%s:%u",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    port);
	if (n < 0 || (size_t)n >= sizeof(listen_buf))
		return CLI_FAIL;
	if (cfg_load(NULL, false, &cfg, err, sizeof(err)) != ST_OK ||
	    cfg_set(cfg, "server", "listen", listen_buf, err, sizeof(err)) !=
	    ST_OK ||
	    cfg_set(cfg, "server", "issuer", issuer, err, sizeof(err)) !=
	    ST_OK ||
	    cfg_set(cfg, "database", "url", url, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		cfg_free(cfg);
		return CLI_FAIL;
	}
	*out = cfg;
	return CLI_OK;
}

/* Blocks the stop signals (into set), then starts the demo TODO API on cfg
 * and st: *gw (its bearer checks) and *demo are new, and the caller frees
 * them also on failure (gw_env_free(), plug_demo_free()). Prints the error
 * itself. */
static int
demo_api_start(const struct config *cfg, struct store *st, sigset_t *set,
    struct gw_env **gw, struct plug_demo **demo)
{
	char err[512];

	/* The demo API's own bearer checks (no upstream; its failures are
	 * not recorded as events). Signals first: the gateway may start a
	 * thread, and it must inherit the mask (see serve_run()). */
	signals_block(set);
	if (gw_env_new(cfg, st, NULL, gw, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	if (plug_demo_new(cfg, *gw, demo) != ST_OK) {
		cli_err("cannot set up the demo API");
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_demo(struct cli *cli, int argc, char **argv)
{
	struct config	*cfg = NULL;
	struct store	*st = NULL;
	struct gw_env	*gw = NULL;
	struct plug_demo *demo = NULL;
	/* Not offloaded: the playground is a page, and the TODO API keeps
	 * its lists in memory (its bearer check only reads the store). */
	struct http_route routes[] = {
		{ "GET", "/demo", false, plug_playground_handle, NULL, 0,
		    false, NULL },
		{ "GET", PLUG_PLAYGROUND_CALLBACK, false,
		    plug_playground_handle, NULL, 0, false, NULL },
		{ "GET", "/api/todos", false, plug_demo_api_handle, NULL, 0,
		    false, NULL },
		{ "POST", "/api/todos", false, plug_demo_api_handle, NULL, 0,
		    false, NULL },
		{ "DELETE", "/api/todos/", true, plug_demo_api_handle, NULL, 0,
		    false, NULL },
	};
	sigset_t	 set;
	const char	*listen = "127.0.0.1:8080";
	char		 dir[] = "/tmp/plugauth-demo-XXXXXX";
	char		 secret[SEC_TOKEN_STRLEN], host[256];
	unsigned	 port;
	int		 rc;

	(void)cli;
	if (cli_wants_help(argc, argv)) {
		printf("usage: plugauth demo [--listen ADDR]\n\n"
		    "Runs a throwaway server (default 127.0.0.1:8080) on a\n"
		    "temporary SQLite database with a demo user and a demo\n"
		    "client, the demo TODO API (/api/todos) and a playground\n"
		    "page (/demo) that plays ChatGPT's part in the browser, and\n"
		    "prints the command that gets a token from it.\n"
		    "The configuration file is not read. Ctrl-C stops it and\n"
		    "deletes its data.\n");
		return CLI_OK;
	}
	if ((rc = demo_opts_parse(argc, argv, &listen)) != CLI_OK)
		return rc;
	if (!cfg_listen_split(listen, host, sizeof(host), &port))
		return cli_usage_err("demo", "bad listen address '%s'", listen);
	/* The issuer must name the real port: pick a free one now. */
	if (port == 0 && free_port(host, &port) != 0) {
		cli_err("cannot find a free port on %s", host);
		return CLI_FAIL;
	}
	if (mkdtemp(dir) == NULL) {
		cli_err("cannot make a temporary directory: %s",
		    strerror(errno));
		return CLI_FAIL;
	}
	rc = CLI_FAIL;
	if (demo_config(dir, host, port, &cfg) != CLI_OK)
		goto out;
	if (cli_store_open(cfg, CLI_DB_CREATE, &st) != CLI_OK)
		goto out;
	if (demo_seed(cfg, st, secret) != CLI_OK)
		goto out;
	if (demo_api_start(cfg, st, &set, &gw, &demo) != CLI_OK)
		goto out;
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		if (routes[i].fn == plug_demo_api_handle)
			routes[i].ctx = demo;
	rc = serve_run(cfg, st, routes, ARRAY_LEN(routes), demo_ready, secret);
out:
	sec_wipe(secret, sizeof(secret));
	plug_demo_free(demo);
	gw_env_free(gw);
	store_close(st);
	cfg_free(cfg);
	demo_cleanup(dir);
	return rc;
}
