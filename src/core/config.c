/*
 * Configuration loading: built-in defaults, then the INI file (libinih),
 * then PLUGAUTH_<SECTION>_<KEY> environment overrides, each value checked
 * against its row of cfg_keys[] (config_keys.c), then the rules between
 * keys (config_check.c).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_int.h"

/* Origin of a key's value, for error messages. */
#define ORIGIN_DEFAULT 0
#define ORIGIN_ENV (-1) /* > 0: line in the file */

struct load_ctx {
	struct config *cfg;
	FILE *fp;
	char *line; /* getline() buffer */
	size_t linecap;
	int lineno; /* lines read so far */
	int origin[CFG_KEYS_MAX];
	int err_line; /* first error seen here; 0 = none */
	enum status err_st;
	char err[MSG_MAX]; /* "[section] key: what" */
};

static const struct cfg_key *
key_find(const char *section, const char *key, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		if (strcmp(cfg_keys[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(cfg_keys[i].key, key) == 0)
			return &cfg_keys[i];
	}
	return NULL;
}

static void
str_free(char *s, bool wipe)
{
	if (s != NULL && wipe)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* Sets k from text (trimmed); msg gets "what is wrong" on error. */
static enum status
key_set(struct config *cfg, const struct cfg_key *k, const char *text,
        char *msg, size_t msglen)
{
	struct str v = str_of(text);
	struct url_parts u;
	unsigned long long n;
	const char *why;
	char *s = NULL, **slot, list[128];
	size_t i;

	while (v.len > 0 && isspace((unsigned char)v.p[0])) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && isspace((unsigned char)v.p[v.len - 1]))
		v.len--;
	if (!cfg_value_fits_ini(v, &why)) {
		str_errf(msg, msglen, "%s", why);
		return ST_INVALID;
	}
	if (k->flags & CFG_NOSLASH)
		while (v.len > 0 && v.p[v.len - 1] == '/')
			v.len--;
	if (v.len == 0 && !(k->flags & CFG_OPTIONAL)) {
		str_errf(msg, msglen, "must not be empty");
		return ST_INVALID;
	}
	if (k->type == CFG_UINT) {
		if (!str_to_u64(v, 0, ULLONG_MAX, &n)) {
			for (i = 0; i < v.len; i++) {
				if (!isdigit((unsigned char)v.p[i])) {
					str_errf(msg, msglen,
					         "must be a number");
					return ST_INVALID;
				}
			}
			n = ULLONG_MAX; /* digits only: too many of them */
		}
		if (n < k->min || n > k->max) {
			str_errf(msg, msglen, "must be %u..%u", k->min, k->max);
			return ST_INVALID;
		}
		*key_uint(cfg, k) = (unsigned)n;
		return ST_OK;
	}
	if (v.len > 0) {
		s = str_dup(v);
		if (s == NULL) {
			str_errf(msg, msglen, "out of memory");
			return ST_NOMEM;
		}
	}
	if (s != NULL && k->type == CFG_ENUM) {
		for (i = 0; k->choices[i] != NULL; i++)
			if (strcmp(s, k->choices[i]) == 0)
				break;
		if (k->choices[i] == NULL) {
			str_errf(
			    msg, msglen, "must be one of %s",
			    cfg_choices_join(k->choices, list, sizeof(list)));
			goto bad;
		}
	}
	if (s != NULL && k->type == CFG_URL && !cfg_url_split(s, &u)) {
		str_errf(msg, msglen,
		         "must be an absolute http:// or https:// URL");
		goto bad;
	}
	slot = key_str(cfg, k);
	str_free(*slot, k->flags & CFG_SECRET);
	*slot = s;
	return ST_OK;
bad:
	str_free(s, k->flags & CFG_SECRET);
	return ST_INVALID;
}

/* A line of a section whose keys are not rows of cfg_keys[]. */
static enum status
map_set(struct config *cfg, const char *section, const char *key,
        const char *value, int line, char *msg, size_t msglen)
{
	if (strcmp(section, CFG_GW_RULES_SECTION) == 0)
		return cfg_gw_rule_set(cfg, key, value, line, msg, msglen);
	return cfg_scope_desc_set(cfg, key, value, line, msg, msglen);
}

enum status
cfg_set(struct config *cfg, const char *section, const char *key,
        const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k;
	bool known;
	char msg[MSG_MAX], s[48], n[48];
	enum status rc;

	if (strcmp(section, CFG_SCOPE_DESCS_SECTION) == 0 ||
	    strcmp(section, CFG_GW_RULES_SECTION) == 0) {
		rc = map_set(cfg, section, key, value, 0, msg, sizeof(msg));
		if (rc != ST_OK)
			str_errf(err, errlen, "[%s] %s: %s", section,
			         str_printable(n, sizeof(n), key), msg);
		return rc;
	}
	k = key_find(section, key, &known);
	if (k == NULL) {
		str_errf(err, errlen, "[%s] %s: unknown %s",
		         str_printable(s, sizeof(s), section),
		         str_printable(n, sizeof(n), key),
		         known ? "key" : "section");
		return ST_NOTFOUND;
	}
	rc = key_set(cfg, k, value, msg, sizeof(msg));
	if (rc != ST_OK)
		str_errf(err, errlen, "[%s] %s: %s", k->section, k->key, msg);
	return rc;
}
static void lc_fail(struct load_ctx *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error of the file, on the line being read. */
static void
lc_fail(struct load_ctx *lc, enum status st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (lc->err_line != 0)
		return;
	lc->err_line = lc->lineno;
	lc->err_st = st;
	va_start(ap, fmt);
	n = vsnprintf(lc->err, sizeof(lc->err), fmt, ap);
	va_end(ap);
	if (n < 0)
		lc->err[0] = '\0'; /* cut-short messages are fine */
}

/*
 * libinih's line reader. libinih reads into a fixed buffer of num bytes
 * (INI_MAX_LINE, 200 in Debian's build) and parses whatever does not fit
 * as further lines: the value is silently cut, and its tail may even be
 * read as a key or a [section]. So we read whole lines here and refuse
 * the ones that do not fit. Leading whitespace is dropped so that an
 * indented line is never taken for the continuation of the previous value
 * (libinih's multi-line values, which this format does not have).
 */
static char *
ini_read(char *str, int num, void *stream)
{
	struct load_ctx *lc = stream;
	const char *p, *q;
	ssize_t n;
	size_t len;

	if (lc->err_line != 0)
		return NULL;
	n = getline(&lc->line, &lc->linecap, lc->fp);
	if (n < 0) {
		if (ferror(lc->fp)) {
			lc->lineno++;
			lc_fail(lc, ST_INVALID, "cannot read: %s",
			        strerror(errno));
		}
		return NULL;
	}
	lc->lineno++;
	if (memchr(lc->line, '\0', (size_t)n) != NULL) {
		lc_fail(lc, ST_INVALID, "line contains a NUL byte");
		return NULL;
	}
	p = lc->line;
	len = (size_t)n;
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len > 0 && (*p == ';' || *p == '#'))
		len = 1; /* a comment, however long */
	/* libinih ignores whatever follows "[section]": "[a] k = 1" */
	if (len > 0 && *p == '[' && (q = memchr(p, ']', len)) != NULL) {
		for (q++; q < p + len && isspace((unsigned char)*q); q++)
			;
		if (q < p + len && *q != ';') {
			lc_fail(lc, ST_INVALID,
			        "text after ']' (put each key "
			        "on a line of its own)");
			return NULL;
		}
	}
	if (num < 1 || len > (size_t)num - 1) {
		lc_fail(lc, ST_INVALID,
		        "line too long (%zu characters; at most %d)", len,
		        num < 1 ? 0 : num - 1);
		return NULL;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	return str;
}

static int
ini_on_value(void *user, const char *section, const char *name,
             const char *value)
{
	struct load_ctx *lc = user;
	const struct cfg_key *k;
	bool known;
	char msg[MSG_MAX], s[48], n[48];
	enum status rc;
	size_t i;

	if (lc->err_line != 0)
		return 0;
	str_printable(s, sizeof(s), section);
	str_printable(n, sizeof(n), name);
	if (strcmp(section, CFG_SCOPE_DESCS_SECTION) == 0 ||
	    strcmp(section, CFG_GW_RULES_SECTION) == 0) {
		rc = map_set(lc->cfg, section, name, value, lc->lineno, msg,
		             sizeof(msg));
		if (rc != ST_OK)
			lc_fail(lc, rc, "[%s] %s: %s", s, n, msg);
		return rc == ST_OK;
	}
	k = key_find(section, name, &known);
	if (k == NULL) {
		if (section[0] == '\0')
			lc_fail(lc, ST_INVALID, "%s: key outside any [section]",
			        n);
		else
			lc_fail(lc, ST_INVALID, "[%s] %s: unknown %s", s, n,
			        known ? "key" : "section");
		return 0;
	}
	i = (size_t)(k - cfg_keys);
	if (lc->origin[i] > 0) {
		lc_fail(lc, ST_INVALID,
		        "[%s] %s: given twice (first on line %d)", s, n,
		        lc->origin[i]);
		return 0;
	}
	rc = key_set(lc->cfg, k, value, msg, sizeof(msg));
	if (rc != ST_OK) {
		lc_fail(lc, rc, "[%s] %s: %s", s, n, msg);
		return 0;
	}
	lc->origin[i] = lc->lineno;
	return 1;
}

/* Parses path into cfg; ST_OK also when it is absent and may be. */
static enum status
load_file(struct load_ctx *lc, const char *path, bool must_exist, char *err,
          size_t errlen)
{
	int r, e;

	lc->fp = fopen(path, "re");
	if (lc->fp == NULL) {
		e = errno;
		if (e == ENOENT && !must_exist)
			return ST_OK;
		str_errf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? ST_NOTFOUND : ST_INVALID;
	}
	r = ini_parse_stream(ini_read, lc, ini_on_value, lc);
	if (r == -2) {
		str_errf(err, errlen, "%s: out of memory", path);
		return ST_NOMEM;
	}
	/*
	 * r is the line of the first error, ours (the handler or the reader
	 * refused something) or libinih's own (a line it cannot parse).
	 */
	if (r > 0 && (lc->err_line == 0 || r < lc->err_line)) {
		str_errf(err, errlen,
		         "%s:%d: syntax error (expected [section], "
		         "key = value or a ; comment)",
		         path, r);
		return ST_INVALID;
	}
	if (lc->err_line != 0) {
		str_errf(err, errlen, "%s:%d: %s", path, lc->err_line, lc->err);
		return lc->err_st;
	}
	if (r != 0) {
		str_errf(err, errlen, "%s: libinih error %d", path, r);
		return ST_INTERNAL;
	}
	return ST_OK;
}

/* Sets every key that has a default to it. */
static enum status
defaults_set(struct config *cfg, char *err, size_t errlen)
{
	char msg[MSG_MAX];
	enum status rc;
	size_t i;

	for (i = 0; i < cfg_nkeys; i++) {
		if (cfg_keys[i].def == NULL)
			continue;
		rc = key_set(cfg, &cfg_keys[i], cfg_keys[i].def, msg,
		             sizeof(msg));
		if (rc != ST_OK) {
			str_errf(err, errlen, "default of [%s] %s: %s",
			         cfg_keys[i].section, cfg_keys[i].key, msg);
			return rc == ST_NOMEM ? ST_NOMEM : ST_INTERNAL;
		}
	}
	return ST_OK;
}

/* Sets the keys named in the environment (PLUGAUTH_SECTION_KEY) over the
 * file's values, and records them as coming from there. */
static enum status
env_apply(struct load_ctx *lc, char *err, size_t errlen)
{
	const char *val;
	char msg[MSG_MAX], var[128];
	enum status rc;
	size_t i;

	for (i = 0; i < cfg_nkeys; i++) {
		if (!cfg_env_name(&cfg_keys[i], var, sizeof(var))) {
			str_errf(err, errlen, "[%s] %s: name too long",
			         cfg_keys[i].section, cfg_keys[i].key);
			return ST_INTERNAL;
		}
		val = getenv(var);
		if (val == NULL)
			continue;
		rc = key_set(lc->cfg, &cfg_keys[i], val, msg, sizeof(msg));
		if (rc != ST_OK) {
			str_errf(err, errlen, "environment %s: %s", var, msg);
			return rc;
		}
		lc->origin[i] = ORIGIN_ENV;
	}
	return ST_OK;
}

/* Writes msg about key k (alt: its partner, or NULL) to err, pointing at
 * where the value came from (path's line, the environment), or at its
 * partner's if k has its default. */
static void
invalid_explain(const struct load_ctx *lc, const char *path,
                const struct cfg_key *k, const struct cfg_key *alt,
                const char *msg, char *err, size_t errlen)
{
	char var[128];
	int at;

	at = lc->origin[k - cfg_keys];
	if (at == ORIGIN_DEFAULT && alt != NULL)
		at = lc->origin[alt - cfg_keys];
	if (at > 0)
		str_errf(err, errlen, "%s:%d: [%s] %s: %s", path, at,
		         k->section, k->key, msg);
	else if (at == ORIGIN_ENV && cfg_env_name(k, var, sizeof(var)) &&
	         lc->origin[k - cfg_keys] == ORIGIN_ENV)
		str_errf(err, errlen, "environment %s: %s", var, msg);
	else if (at == ORIGIN_ENV && cfg_env_name(alt, var, sizeof(var)))
		str_errf(err, errlen, "environment %s: [%s] %s: %s", var,
		         k->section, k->key, msg);
	else
		str_errf(err, errlen, "[%s] %s: %s", k->section, k->key, msg);
}

/* "path:line: [section] key: msg" for a line of a map section. */
static void
map_explain(const char *path, int line, const char *section, const char *key,
            const char *msg, char *err, size_t errlen)
{
	char name[48];

	str_printable(name, sizeof(name), key);
	if (line > 0)
		str_errf(err, errlen, "%s:%d: [%s] %s: %s", path, line, section,
		         name, msg);
	else
		str_errf(err, errlen, "[%s] %s: %s", section, name, msg);
}

enum status
cfg_load(const char *path, bool must_exist, struct config **out, char *err,
         size_t errlen)
{
	struct load_ctx lc;
	struct config *cfg;
	const struct cfg_key *k, *alt;
	const struct cfg_scope_desc *d;
	const struct cfg_gw_rule *r;
	char msg[MSG_MAX];
	enum status rc;

	memset(&lc, 0, sizeof(lc));
	str_errf(err, errlen, "%s", "");
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		str_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	lc.cfg = cfg;
	if ((rc = defaults_set(cfg, err, errlen)) != ST_OK)
		goto out;
	if (path != NULL) {
		rc = load_file(&lc, path, must_exist, err, errlen);
		if (rc != ST_OK)
			goto out;
	}
	if ((rc = env_apply(&lc, err, errlen)) != ST_OK)
		goto out;
	cfg_env_unknown_warn();
	if (path != NULL &&
	    (rc = cfg_database_resolve(cfg, path, err, errlen)) != ST_OK)
		goto out;
	rc = cfg_validate_keys(cfg, &k, &alt, msg, sizeof(msg));
	if (rc != ST_OK) {
		/* Point at where the value came from, or at its partner's. */
		invalid_explain(&lc, path, k, alt, msg, err, errlen);
		goto out;
	}
	if ((d = cfg_scope_descs_check(cfg, msg, sizeof(msg))) != NULL) {
		map_explain(path, d->line, CFG_SCOPE_DESCS_SECTION, d->scope,
		            msg, err, errlen);
		rc = ST_INVALID;
		goto out;
	}
	if ((r = cfg_gw_rules_check(cfg, msg, sizeof(msg))) != NULL) {
		map_explain(path, r->line, CFG_GW_RULES_SECTION, r->methods,
		            msg, err, errlen);
		rc = ST_INVALID;
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	if (lc.fp != NULL)
		fclose(lc.fp);
	if (lc.line != NULL)
		explicit_bzero(lc.line, lc.linecap);
	free(lc.line);
	cfg_free(cfg);
	return rc;
}

enum status
cfg_database_resolve(struct config *cfg, const char *config_path, char *err,
                     size_t errlen)
{
	static const char scheme[] = "sqlite:";
	const char *url = cfg->database.url, *file, *slash;
	char dir[PATH_MAX], *dirpart = NULL, *abs = NULL;
	size_t len;
	enum status rc = ST_OK;
	int n;

	if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return ST_OK;
	file = url + sizeof(scheme) - 1;
	if (file[0] == '/' || file[0] == '\0' || strcmp(file, ":memory:") == 0)
		return ST_OK;
	/* The directory part: "." for "plugauth.conf", "/" for "/x.conf". */
	slash = strrchr(config_path, '/');
	if (slash == NULL)
		dirpart = strdup(".");
	else if (slash == config_path)
		dirpart = strdup("/");
	else
		dirpart = strndup(config_path, (size_t)(slash - config_path));
	if (dirpart == NULL) {
		str_errf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	if (realpath(dirpart, dir) == NULL) {
		str_errf(err, errlen,
		         "[database] url: cannot find the directory of %s, "
		         "which a relative sqlite: path is read from: %s",
		         config_path, strerror(errno));
		rc = ST_INVALID;
		goto out;
	}
	len = sizeof(scheme) + strlen(dir) + 1 + strlen(file);
	if ((abs = malloc(len)) == NULL) {
		str_errf(err, errlen, "out of memory");
		rc = ST_NOMEM;
		goto out;
	}
	n = snprintf(abs, len, "%s%s%s%s", scheme, dir,
	             strcmp(dir, "/") == 0 ? "" : "/", file);
	if (n < 0 || (size_t)n >= len) {
		free(abs);
		rc = ST_INTERNAL;
		goto out;
	}
	str_free(cfg->database.url, true);
	cfg->database.url = abs;
out:
	free(dirpart);
	return rc;
}

void
cfg_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (cfg_keys[i].type != CFG_UINT)
			str_free(*key_str(cfg, &cfg_keys[i]),
			         cfg_keys[i].flags & CFG_SECRET);
	cfg_scope_descs_free(cfg);
	cfg_gw_rules_free(cfg);
	free(cfg);
}
