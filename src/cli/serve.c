/* plugauth serve and migrate: run the server, or prepare its store. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "auth/session.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "oauth/jwt.h"
#include "oauth/oauth.h"
#include "plugin/plugin.h"

#define DRAIN_S 10
#define GC_PERIOD_S 60
#define GC_BATCH 1000
#define GC_ROUNDS_MAX 1000 /* at most a million rows a minute */
/* Room for the extra routes, the standard ones and the gateway's, with
 * some to spare for new endpoints (checked in serve_routes()). */
#define SERVE_ROUTES_MAX (SERVE_EXTRA_MAX + 32)
#define SERVE_REG_ROUTES 6 /* serve_reg_routes() */

static enum status
healthz(struct http_req *req, void *ctx)
{
	enum status rc;

	(void)ctx;
	if ((rc = http_resp_header(req, "Cache-Control", "no-store")) != ST_OK)
		return rc;
	return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void
cli_signals_block(sigset_t *set)
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
		        "kept=previous_certificate",
		        err);
		return;
	}
	log_info("event=tls_reloaded");
}

/* Removes the registered and metadata-document clients that never obtained
 * a token within [oauth] registration_unused_ttl (RFC 7591 abuse limit). */
static void
sweep_unused(const struct config *cfg, struct store *st)
{
	int64_t now = clk_now_s();
	unsigned n = 0;

	if (store_client_sweep_unused(st,
	                              now - cfg->oauth.registration_unused_ttl,
	                              now, GC_BATCH, &n) == ST_OK &&
	    n > 0)
		log_info("event=registered_clients_swept deleted=%u", n);
}

/* Serves until SIGTERM or SIGINT (SIGHUP: on_sighup()), collecting
 * expired rows meanwhile: every GC_PERIOD_S, or registration_unused_ttl
 * if shorter, so that an unused client goes about when it is due. */
static void
run_until_signal(const sigset_t *set, const struct config *cfg,
                 struct store *st, struct http_server *srv)
{
	struct timespec ts = {GC_PERIOD_S, 0};
	bool tls = cfg->server.tls_cert != NULL;
	unsigned n;
	int sig;

	if (cfg->oauth.registration_unused_ttl < GC_PERIOD_S)
		ts.tv_sec = cfg->oauth.registration_unused_ttl;

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
			sweep_unused(cfg, st);
		}
	}
}

/* The contexts the routes' handlers get: they live as long as the server. */
struct serve_envs {
	struct oauth_env oauth;
	struct plug_env plug;
	struct gw_env *gw;
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
	/* A manifest ChatGPT would refuse stops us before we listen. */
	if (plug_env_init(&e->plug, cfg, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	if (e->plug.legal)
		log_warn(
		    "event=legal_info_url_unset served=/legal "
		    "hint=\"set [plugin] legal_info_url to your terms page\"");
	/* Signals are blocked before any thread starts, so that all inherit
	 * the mask and only run_until_signal() takes them. */
	cli_signals_block(set);
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
	gw_env_set_jwt_keys(e->gw, e->oauth.jwt_keys);
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

/* Appends the registration routes (RFC 7591, RFC 7592) to all[nall] when
 * registration is on (else /oauth/register is a 404); returns the count. */
static size_t
serve_reg_routes(const struct config *cfg, struct serve_envs *e,
                 struct http_route *all, size_t nall)
{
	/* RFC 7591, RFC 7592: only when registration is on (else 404). */
	struct http_route reg_routes[] = {
	    {"POST", OAUTH_REGISTER_PATH, false, oauth_register_handle,
	     &e->oauth, OAUTH_REGISTER_BODY_MAX_BYTES, true, NULL},
	    {"OPTIONS", OAUTH_REGISTER_PATH, false, oauth_register_preflight,
	     NULL, 0, false, NULL},
	    {"GET", OAUTH_REGISTER_PATH "/", true, oauth_register_manage_handle,
	     &e->oauth, 0, true, NULL},
	    {"PUT", OAUTH_REGISTER_PATH "/", true, oauth_register_manage_handle,
	     &e->oauth, OAUTH_REGISTER_BODY_MAX_BYTES, true, NULL},
	    {"DELETE", OAUTH_REGISTER_PATH "/", true,
	     oauth_register_manage_handle, &e->oauth, 0, true, NULL},
	    {"OPTIONS", OAUTH_REGISTER_PATH "/", true, oauth_register_preflight,
	     NULL, 0, false, NULL},
	};

	_Static_assert(ARRAY_LEN(reg_routes) == SERVE_REG_ROUTES,
	               "SERVE_REG_ROUTES counts reg_routes[]");
	if (strcmp(cfg->oauth.registration, "closed") == 0)
		return nall;
	for (size_t i = 0; i < ARRAY_LEN(reg_routes); i++)
		all[nall++] = reg_routes[i];
	return nall;
}

/* Fills all[SERVE_ROUTES_MAX]: extra[nextra] (at most SERVE_EXTRA_MAX), the
 * standard routes, the gateway's; contexts point into e. Returns the count. */
static size_t
serve_routes(const struct config *cfg, struct serve_envs *e,
             const struct http_route *extra, size_t nextra,
             struct http_route *all)
{
	/* offload (the seventh field): the handlers that wait for a commit or
	 * hash a password run on the blocking-work threads (http.h). */
	struct http_route routes[] = {
	    {"GET", "/healthz", false, healthz, NULL, 0, false, NULL},
	    /* Writes codes and sessions. */
	    {"GET", "/oauth/authorize", false, oauth_authorize_handle,
	     &e->oauth, 0, true, NULL},
	    /* Sign-in: argon2id. */
	    {"POST", "/oauth/authorize", false, oauth_authorize_handle,
	     &e->oauth, 0, true, NULL},
	    {"POST", "/oauth/token", false, oauth_token_handle, &e->oauth, 0,
	     true, NULL},
	    {"POST", "/oauth/introspect", false, oauth_introspect_handle,
	     &e->oauth, 0, false, NULL},
	    {"POST", "/oauth/revoke", false, oauth_revoke_handle, &e->oauth, 0,
	     true, NULL},
	    {"OPTIONS", "/oauth/token", false, oauth_cors_preflight_handle,
	     NULL, 0, false, NULL},
	    {"OPTIONS", "/oauth/revoke", false, oauth_cors_preflight_handle,
	     NULL, 0, false, NULL},
	    {"GET", OAUTH_JWKS_PATH, false, oauth_jwks_handle, &e->oauth, 0,
	     false, NULL},
	    {"GET", "/.well-known/oauth-authorization-server", false,
	     oauth_metadata_handle, &e->oauth, 0, false, NULL},
	    {"GET", "/.well-known/openid-configuration", false,
	     oauth_metadata_handle, &e->oauth, 0, false, NULL},
	    {"GET", "/.well-known/oauth-protected-resource", false,
	     oauth_resource_metadata_handle, &e->oauth, 0, false, NULL},
	    {"GET", e->oauth.pr_gw_path, true,
	     oauth_resource_metadata_gw_handle, &e->oauth, 0, false, NULL},
	    {"GET", "/.well-known/ai-plugin.json", false, plug_manifest_handle,
	     &e->plug, 0, false, NULL},
	    {"GET", "/openapi.yaml", false, plug_openapi_handle, &e->plug, 0,
	     false, NULL},
	    {"GET", "/legal", false, plug_legal_handle, &e->plug, 0, false,
	     NULL},
	    {"GET", "/logo.png", false, plug_logo_handle, &e->plug, 0, false,
	     NULL},
	};
	/* The gateway's routes come last: exact routes win over its prefix.
	 * The proxy routes are there only with an upstream; they suspend
	 * themselves while the upstream answers, so they are not offloaded. */
	struct http_route gw_routes[] = {
	    {"GET", "/oauth/verify", false, gw_verify_handle, e->gw, 0, false,
	     gw_verify_head},
	    {"GET", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"POST", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"PUT", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"PATCH", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"DELETE", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"HEAD", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	    {"OPTIONS", cfg->gateway.path, true, gw_proxy_handle, e->gw,
	     cfg->gateway.body_max_bytes, false, gw_proxy_head},
	};
	size_t nall = 0;

	_Static_assert(ARRAY_LEN(routes) + SERVE_REG_ROUTES + SERVE_EXTRA_MAX +
	                       ARRAY_LEN(gw_routes) <=
	                   SERVE_ROUTES_MAX,
	               "more routes than SERVE_ROUTES_MAX: raise it");
	for (size_t i = 0; i < nextra && nall < SERVE_EXTRA_MAX; i++)
		all[nall++] = extra[i];
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		all[nall++] = routes[i];
	nall = serve_reg_routes(cfg, e, all, nall);
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
	    .limits =
	        {
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

int
cli_serve_run(const struct config *cfg, struct store *st,
              const struct http_route *extra, size_t nextra,
              serve_ready_fn ready, void *arg)
{
	struct serve_envs e;
	struct http_route all[SERVE_ROUTES_MAX];
	struct http_opts opts;
	struct http_server *srv = NULL;
	sigset_t set;
	char host[256], err[512];
	unsigned port;
	size_t nall;
	int rc = CLI_FAIL;

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
	run_until_signal(&set, cfg, st, srv);
	http_server_quiesce(srv, DRAIN_S);
	gw_env_abort(e.gw); /* answers proxied requests still waiting */
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
	struct config *cfg = NULL;
	struct store *st = NULL;
	sigset_t set;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf(
		    "usage: plugauth [-c FILE] serve\n\n"
		    "Runs the server described by the configuration file, "
		    "after\n"
		    "applying any pending database migrations. Prints\n"
		    "'listening on URL' once it accepts connections. SIGTERM "
		    "or\n"
		    "SIGINT stops accepting, lets requests in flight finish "
		    "(up\n"
		    "to %d s) and exits 0.\n",
		    DRAIN_S);
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_err("serve", "unexpected argument '%s'",
		                     argv[1]);
	rc = cli_config_load(cli, &cfg);
	if (rc != CLI_OK)
		return rc;
	/* Before the store starts its checkpoint thread: every thread must
	 * inherit the mask, or a stop signal can kill the process instead of
	 * reaching cli_serve_run()'s sigwait. */
	cli_signals_block(&set);
	rc = cli_store_open(cfg, CLI_DB_MIGRATE, &st);
	if (rc == CLI_OK)
		rc = cli_serve_run(cfg, st, NULL, 0, NULL, NULL);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

int
cli_migrate(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char err[512];
	unsigned applied = 0, have = 0, want = 0;
	bool create = false;
	enum status s;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: plugauth [-c FILE] migrate [--create]\n\n"
		       "Applies pending database schema migrations (serve and "
		       "init\n"
		       "do this too) and prints the schema version.\n"
		       "  --create   create the database if it does not exist "
		       "(else\n"
		       "             a missing database is an error)\n");
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--create") != 0)
			return cli_usage_err(
			    "migrate", "unexpected argument '%s'", argv[i]);
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
		        "'plugauth migrate --create'",
		        err);
		rc = CLI_FAIL;
	} else if (s != ST_OK) {
		cli_err("%s", err);
		rc = CLI_FAIL;
	} else if (store_migrate(st, &applied, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		rc = CLI_FAIL;
	} else if (oauth_jwt_key_ensure(st, NULL) != ST_OK) {
		cli_err("cannot make the JWT signing key");
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
