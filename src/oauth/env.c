/* The shared state of the OAuth handlers, built once at start-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/page.h"
#include "auth/ratelimit.h"
#include "crypto/sec.h"
#include "oauth/cimd.h"
#include "oauth/oauth_int.h"

enum status
oauth_env_init(struct oauth_env *env, const struct config *cfg,
               struct store *st, char *err, size_t errlen)
{
	enum status rc;

	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->st = st;
	env->secure = strncmp(cfg->server.issuer, "https://", 8) == 0;
	sec_password_prepare(); /* the dummy hash, before any sign-in */
	rc = auth_pages_load(cfg->server.templates_dir, &env->pages, err,
	                     errlen);
	if (rc != ST_OK)
		goto fail;
	if ((rc = auth_limiter_new(cfg->auth.login_max_failures,
	                           cfg->auth.login_window, &env->lim_user)) !=
	        ST_OK ||
	    (rc = auth_limiter_new(cfg->auth.login_max_failures_per_address,
	                           cfg->auth.login_window, &env->lim_addr)) !=
	        ST_OK ||
	    (rc = auth_limiter_new(cfg->oauth.registration_rate, 60,
	                           &env->lim_reg)) != ST_OK ||
	    (rc = oauth_events_new(st, cfg->server.events_max_rows,
	                           &env->events)) != ST_OK ||
	    (rc = oauth_metadata_build(env)) != ST_OK ||
	    (rc = oauth_jwt_key_ensure(st, NULL)) != ST_OK ||
	    (rc = oauth_jwt_keys_new(st, &env->jwt_keys)) != ST_OK ||
	    (cimd_enabled(cfg) && (rc = cimd_cache_new(&env->cimd)) != ST_OK)) {
		snprintf(err, errlen, "cannot start: %s", status_str(rc));
		goto fail;
	}
	return ST_OK;
fail:
	oauth_env_free(env);
	return rc;
}

void
oauth_env_free(struct oauth_env *env)
{
	oauth_events_free(env->events);
	oauth_jwt_keys_free(env->jwt_keys);
	cimd_cache_free(env->cimd);
	auth_limiter_free(env->lim_user);
	auth_limiter_free(env->lim_addr);
	auth_limiter_free(env->lim_reg);
	auth_pages_free(env->pages);
	free(env->as_metadata);
	free(env->pr_metadata);
	free(env->pr_gw_metadata);
	free(env->pr_gw_path);
	memset(env, 0, sizeof(*env));
}
