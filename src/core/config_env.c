/*
 * The environment's side of the configuration: the PLUGAUTH_<SECTION>_<KEY>
 * name of each key, and a warning for PLUGAUTH_* variables that name none
 * (a misspelt key in the file stops start-up; the environment holds other
 * programs' variables too, so there it is a warning).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config_int.h"
#include "core/log.h"

extern char **environ;

#define ENV_PREFIX "PLUGAUTH_"
#define ENV_NAME_MAX_BYTES 128
#define ENV_HINT_MAX_EDITS 3 /* farther than this: no "did you mean" */

/* PLUGAUTH_* variables that are no config key: read by plugauth itself
 * (main.c) or by the project's own test tools (tests/e2e). */
static const char *const env_own[] = {"PLUGAUTH_CONFIG", "PLUGAUTH_BIN",
                                      "PLUGAUTH_E2E_KEEP"};

bool
cfg_env_name(const struct cfg_key *k, char *dst, size_t dstsz)
{
	int n;

	n = snprintf(dst, dstsz, ENV_PREFIX "%s_%s", k->section, k->key);
	if (n < 0 || (size_t)n >= dstsz)
		return false;
	for (char *p = dst; *p != '\0'; p++)
		*p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	return true;
}

/* Edits (insert, delete, replace; letters compared without case) that
 * turn a[an] into b[bn], both at most ENV_NAME_MAX_BYTES. */
static size_t
env_distance(const char *a, size_t an, const char *b, size_t bn)
{
	size_t row[ENV_NAME_MAX_BYTES + 1], diag, up;

	for (size_t j = 0; j <= bn; j++)
		row[j] = j;
	for (size_t i = 1; i <= an; i++) {
		diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= bn; j++) {
			size_t best =
			    diag + (toupper((unsigned char)a[i - 1]) !=
			            toupper((unsigned char)b[j - 1]));

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[bn];
}

/* True if name[len] is a key's variable or one of env_own[]; else *hint
 * gets the closest key's variable (into hint[hintsz]; "" if none is
 * close). */
static bool
env_known(const char *name, size_t len, char *hint, size_t hintsz)
{
	char var[ENV_NAME_MAX_BYTES];
	size_t best = ENV_HINT_MAX_EDITS + 1, d;

	hint[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(env_own); i++)
		if (strlen(env_own[i]) == len &&
		    memcmp(env_own[i], name, len) == 0)
			return true;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		if (!cfg_env_name(&cfg_keys[i], var, sizeof(var)))
			continue;
		if (strlen(var) == len && memcmp(var, name, len) == 0)
			return true;
		if (len > ENV_NAME_MAX_BYTES ||
		    strlen(var) > ENV_NAME_MAX_BYTES)
			continue;
		d = env_distance(name, len, var, strlen(var));
		if (d < best) {
			best = d;
			snprintf(hint, hintsz, "%s", var);
		}
	}
	return false;
}

void
cfg_env_unknown_warn(void)
{
	char name[ENV_NAME_MAX_BYTES + 1], safe[ENV_NAME_MAX_BYTES + 1];
	char hint[ENV_NAME_MAX_BYTES];
	size_t len;

	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncasecmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		len = strcspn(*e, "=");
		if (env_known(*e, len, hint, sizeof(hint)))
			continue;
		/* The name only: the value may be a secret. */
		snprintf(name, sizeof(name), "%.*s", (int)len, *e);
		log_safe(name, safe, sizeof(safe));
		if (hint[0] != '\0')
			log_warn("event=config_env_unknown var=%s "
			         "did_you_mean=%s reason=\"names no "
			         "configuration key: ignored\"",
			         safe, hint);
		else
			log_warn("event=config_env_unknown var=%s "
			         "reason=\"names no configuration key: "
			         "ignored\"",
			         safe);
	}
}
