/* plugauth client update, and rotate-secret's --grace: changing a live
 * client. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/buf.h"
#include "core/clock.h"
#include "crypto/sec.h"

#define GRACE_MAX_S (30 * 86400) /* rotate-secret --grace */

bool
cli_duration_parse(const char *s, int64_t *out)
{
	unsigned long long v, unit = 1;
	char *end = NULL;

	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoull(s, &end, 10);
	if (end == s)
		return false;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		unit = 60, end++;
	else if (*end == 'h')
		unit = 3600, end++;
	else if (*end == 'd')
		unit = 86400, end++;
	if (*end != '\0' || v > GRACE_MAX_S / unit)
		return false;
	*out = (int64_t)(v * unit);
	return true;
}

void
cli_rotate_print(const char *id, const char *secret, int64_t old_until,
                 bool json)
{
	char when[32] = "";
	time_t t = (time_t)old_until;
	struct tm tm;

	if (json) {
		cli_json_print(json_pack(
		    "{s:s, s:s, s:o}", "client_id", id, "client_secret", secret,
		    "old_secret_valid_until",
		    old_until > 0 ? json_integer(old_until) : json_null()));
		return;
	}
	if (old_until > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("client_id:      %s\nclient_secret:  %s\n"
	       "                (shown once: store it now)\n",
	       id, secret);
	if (old_until > 0)
		printf("the old secret works until %s, then stops: update "
		       "the GPT (or plugin) before then\n",
		       when);
	else
		printf("the old secret no longer works\n");
}

/* client update's options; every pointer borrowed from argv. */
struct upd_opts {
	const char *id;
	const char *name;       /* NULL: unchanged */
	const char *scope;      /* NULL: unchanged; "" = every scope */
	const char **add, **rm; /* redirect URIs to add, to remove */
	size_t nadd, nrm;
	bool json;
};

/* Reads client update's arguments into o (add and rm hold argc each);
 * NULL, or why they cannot be read. */
static const char *
upd_opts_parse(int argc, char **argv, struct upd_opts *o)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"scope", required_argument, NULL, 's'},
	    {"add-redirect-uri", required_argument, NULL, 'a'},
	    {"remove-redirect-uri", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'n')
			o->name = optarg;
		else if (ch == 's')
			o->scope = optarg;
		else if (ch == 'a' && !redirect_ok(optarg))
			return "bad --add-redirect-uri (https, or http on "
			       "loopback; no fragment)";
		else if (ch == 'a')
			o->add[o->nadd++] = optarg;
		else if (ch == 'r')
			o->rm[o->nrm++] = optarg;
		else if (ch == 'j')
			o->json = true;
		else
			return "unknown or incomplete option";
	}
	if (optind + 1 != argc)
		return optind == argc ? "a client ID is required"
		                      : "unexpected argument";
	o->id = argv[optind];
	if (o->name != NULL &&
	    (o->name[0] == '\0' || strlen(o->name) > CLI_NAME_MAX_BYTES))
		return "--name must be 1 to 128 bytes";
	if (o->name != NULL && !client_name_ok(o->name))
		return "--name must be UTF-8 text without control or invisible "
		       "formatting characters";
	if (o->name == NULL && o->scope == NULL && o->nadd == 0 && o->nrm == 0)
		return "nothing to change: give --name, --scope, "
		       "--add-redirect-uri or --remove-redirect-uri";
	return NULL;
}

/* True if the k bytes at p are one of v[n]. */
static bool
line_in(const char *p, size_t k, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]) == k && memcmp(p, v[i], k) == 0)
			return true;
	return false;
}

/* True if u is a line of the newline-separated list. */
static bool
uri_listed(const char *list, const char *u)
{
	for (const char *p = list; *p != '\0';) {
		size_t k = strcspn(p, "\n");

		if (line_in(p, k, &u, 1))
			return true;
		p += k;
		if (*p == '\n')
			p++;
	}
	return false;
}

/* Appends the n bytes at u to the newline-separated list in b. */
static enum status
uri_append(struct buf *b, const char *u, size_t n)
{
	enum status rc = ST_OK;

	if (b->len > 0)
		rc = buf_add(b, "\n", 1);
	return rc == ST_OK ? buf_add(b, u, n) : rc;
}

/* Writes c's redirect URIs less o->rm plus o->add to out; NULL, or why
 * not (printed by the caller). */
static const char *
uris_edit(const struct store_client *c, const struct upd_opts *o,
          struct buf *out)
{
	for (size_t i = 0; i < o->nrm; i++)
		if (!uri_listed(c->redirect_uris, o->rm[i]))
			return "--remove-redirect-uri names a URI the client "
			       "does not have";
	for (const char *p = c->redirect_uris; *p != '\0';) {
		size_t k = strcspn(p, "\n");

		if (!line_in(p, k, o->rm, o->nrm) &&
		    uri_append(out, p, k) != ST_OK)
			return "too many redirect URIs";
		p += k;
		if (*p == '\n')
			p++;
	}
	for (size_t i = 0; i < o->nadd; i++)
		if (!uri_listed(out->p != NULL ? out->p : "", o->add[i]) &&
		    uri_append(out, o->add[i], strlen(o->add[i])) != ST_OK)
			return "too many redirect URIs";
	if (out->len == 0 && !c->chatgpt && (c->grants & STORE_GRANT_CODE))
		return "refusing to remove the last redirect URI of a client "
		       "with the authorization_code grant";
	return NULL;
}

/* Applies o to the client in st and prints it as it is now. */
static int
update_apply(const struct config *cfg, struct store *st,
             const struct upd_opts *o)
{
	struct store_client *c = NULL;
	struct buf uris;
	const char *why;
	char *keep_name, *keep_scope, *keep_uris;
	enum status s;
	int rc = CLI_FAIL;

	buf_init(&uris, CLI_REDIRECTS_MAX_BYTES);
	if (o->scope != NULL && !cli_scope_known(cfg, o->scope))
		goto out;
	s = store_client_get(st, o->id, &c);
	if (s != ST_OK) {
		if (s == ST_NOTFOUND)
			cli_err("no client with ID '%s'", o->id);
		else
			cli_err("cannot read client %s: %s", o->id,
			        status_str(s));
		goto out;
	}
	why = uris_edit(c, o, &uris);
	if (why != NULL) {
		cli_err("client %s: %s", o->id, why);
		goto out;
	}
	keep_name = c->name;
	keep_scope = c->scope;
	keep_uris = c->redirect_uris;
	if (o->name != NULL)
		c->name = (char *)(uintptr_t)o->name;
	if (o->scope != NULL)
		c->scope = (char *)(uintptr_t)o->scope;
	c->redirect_uris = uris.p != NULL ? uris.p : (char *)(uintptr_t) "";
	s = store_client_update(st, c);
	if (s == ST_OK && o->json)
		cli_json_print(cli_client_json(cfg, c));
	else if (s == ST_OK)
		printf("updated client %s (its client_id, secret and tokens "
		       "stay)\n",
		       c->id);
	else
		cli_err("cannot change client %s: %s", o->id, status_str(s));
	c->name = keep_name;
	c->scope = keep_scope;
	c->redirect_uris = keep_uris;
	if (s == ST_OK)
		rc = CLI_OK;
out:
	store_client_free(c);
	buf_free(&uris);
	return rc;
}

int
cli_client_update(struct cli *cli, int argc, char **argv)
{
	struct upd_opts o;
	struct config *cfg = NULL;
	struct store *st = NULL;
	const char *why;
	int rc = CLI_FAIL;

	memset(&o, 0, sizeof(o));
	o.add = calloc((size_t)argc, sizeof(*o.add));
	o.rm = calloc((size_t)argc, sizeof(*o.rm));
	if (o.add == NULL || o.rm == NULL) {
		cli_err("out of memory");
		goto out;
	}
	why = upd_opts_parse(argc, argv, &o);
	if (why != NULL) {
		rc = cli_usage_err("client update", "%s", why);
		goto out;
	}
	rc = cli_open(cli, &cfg, &st);
	if (rc == CLI_OK)
		rc = update_apply(cfg, st, &o);
out:
	free(o.add);
	free(o.rm);
	store_close(st);
	cfg_free(cfg);
	return rc;
}
