/* plugauth client add | list | remove | rotate-secret; update is in
 * client_edit.c */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/buf.h"
#include "core/clock.h"
#include "crypto/sec.h"
#include "oauth/oauth.h"

#define NAME_MAX_BYTES CLI_NAME_MAX_BYTES
#define NAME_SAFE_BYTES (NAME_MAX_BYTES * 10 + 1) /* \u{XXXX} */
#define REDIRECTS_MAX_BYTES CLI_REDIRECTS_MAX_BYTES
#define REDIRECT_MAX_BYTES 2048

static const char usage[] =
    "usage: plugauth [-c FILE] client add --name NAME\n"
    "                  (--redirect-uri URI ... | --chatgpt)\n"
    "                  [--scope \"a b\"] [--public] [--grant G ...] [--json]\n"
    "       plugauth [-c FILE] client list [--json]\n"
    "       plugauth [-c FILE] client remove ID\n"
    "       plugauth [-c FILE] client rotate-secret ID [--grace DURATION]\n"
    "                  [--json]\n"
    "       plugauth [-c FILE] client update ID [--name NAME] [--scope \"a "
    "b\"]\n"
    "                  [--add-redirect-uri URI ...]\n"
    "                  [--remove-redirect-uri URI ...] [--json]\n"
    "\n"
    "add            registers a client and prints its client_id and, for a\n"
    "               confidential client, its client_secret: shown once,\n"
    "               stored only as a hash.\n"
    "  --name NAME          shown on the consent page\n"
    "  --redirect-uri URI   an allowed redirect URI, matched exactly\n"
    "                       (repeat for more); https, or http on loopback\n"
    "  --chatgpt            allow the ChatGPT callback family instead:\n"
    "                       https://(chat.openai.com|chatgpt.com)/aip/\n"
    "                       (plugin-…|g-<40 hex>)/oauth/callback\n"
    "  --scope \"a b\"        scopes the client may get (default: all)\n"
    "  --public             no secret (PKCE clients such as MCP apps)\n"
    "  --grant G            a grant type the client may use at the token\n"
    "                       endpoint (repeat for more): authorization_code,\n"
    "                       refresh_token, client_credentials. Default:\n"
    "                       authorization_code and refresh_token. Only a\n"
    "                       confidential client that is not --chatgpt may\n"
    "                       have client_credentials (tokens with no user);\n"
    "                       without authorization_code no redirect URI is\n"
    "                       needed\n"
    "  --json               print one JSON object\n"
    "list           lists clients and their grant types (never secrets)\n"
    "remove         deletes a client and revokes everything issued to it\n"
    "rotate-secret  replaces a client's secret and prints the new one once;\n"
    "               the old one stops working at once, or after --grace\n"
    "  --grace DURATION     keep the old secret valid this long too: 2d,\n"
    "                       24h, 30m, 3600s or seconds (at most 30 days).\n"
    "                       Only one old secret is kept: rotating again\n"
    "                       within the window ends the older one at once\n"
    "update         changes a client in place: its client_id, secret and\n"
    "               issued tokens stay (a narrower --scope does not change\n"
    "               tokens already issued, nor their refreshes)\n"
    "  --name NAME          a new name for the consent page\n"
    "  --scope \"a b\"        the scopes the client may get (\"\": all)\n"
    "  --add-redirect-uri URI, --remove-redirect-uri URI\n"
    "                       (repeat for more); the last one of a client\n"
    "                       with authorization_code cannot be removed\n";

bool
redirect_ok(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > REDIRECT_MAX_BYTES || strpbrk(u, " \t\r\n#") != NULL)
		return false;
	if (strncmp(u, "https://", 8) == 0)
		return n > 8 && u[8] != '/';
	return strncmp(u, "http://", 7) == 0 && cfg_url_is_loopback(u);
}

/* The code point at s (well-formed UTF-8); *len gets its length. */
static uint32_t
utf8_next(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*len = 2;
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0) {
		*len = 3;
		return (uint32_t)(s[0] & 0x0f) << 12 |
		       (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	}
	*len = 4;
	return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	       (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Control and invisible formatting characters: C0, DEL, C1, zero-width
 * and direction marks, line and paragraph separators, bidi embeddings
 * and isolates, word joiners, the BOM. */
static bool
cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff;
}

bool
client_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n;

	if (!str_utf8_ok(str_of(name)))
		return false;
	for (; *p != '\0'; p += n)
		if (cp_unsafe(utf8_next(p, &n)))
			return false;
	return true;
}

/* name for a terminal: control and formatting characters as \xHH or
 * \u{XXXX}, a backslash as \\, bytes of malformed UTF-8 as \xHH. Names
 * stored before names were checked (or by other means) may hold them. */
static const char *
client_name_safe(const char *name, char out[NAME_SAFE_BYTES])
{
	const unsigned char *p = (const unsigned char *)name;
	bool utf8 = str_utf8_ok(str_of(name));
	size_t o = 0, n;
	uint32_t cp;
	int k;

	for (; *p != '\0'; p += n) {
		if (utf8) {
			cp = utf8_next(p, &n);
		} else {
			cp = *p;
			n = 1;
		}
		if (cp == '\\')
			k = snprintf(out + o, NAME_SAFE_BYTES - o, "\\\\");
		else if (!utf8 && cp >= 0x80)
			k = snprintf(out + o, NAME_SAFE_BYTES - o, "\\x%02X",
			             (unsigned)cp);
		else if (cp_unsafe(cp) && cp < 0x100)
			k = snprintf(out + o, NAME_SAFE_BYTES - o, "\\x%02X",
			             (unsigned)cp);
		else if (cp_unsafe(cp))
			k = snprintf(out + o, NAME_SAFE_BYTES - o, "\\u{%04X}",
			             (unsigned)cp);
		else
			k = snprintf(out + o, NAME_SAFE_BYTES - o, "%.*s",
			             (int)n, (const char *)p);
		if (k < 0 || (size_t)k >= NAME_SAFE_BYTES - o) {
			/* Cut short: at most NAME_MAX_BYTES are shown. */
			out[o] = '\0';
			if (o >= 3)
				memcpy(out + o - 3, "...", 3);
			return out;
		}
		o += (size_t)k;
	}
	out[o] = '\0';
	return out;
}

/* "authorization_code,refresh_token" for the grants in mask. */
static const char *
grants_text(unsigned mask, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned bit = 1; bit <= STORE_GRANTS_ALL; bit <<= 1) {
		const char *g = oauth_grant_name(bit);
		int k;

		if ((mask & bit) == 0 || g == NULL)
			continue;
		k = snprintf(out + o, outsz - o, "%s%s", o > 0 ? "," : "", g);
		if (k < 0 || (size_t)k >= outsz - o)
			break;
		o += (size_t)k;
	}
	return out;
}

json_t *
cli_client_json(const struct store_client *c)
{
	json_t *o, *uris, *grants;
	const char *p;
	char safe[NAME_SAFE_BYTES];

	o = json_pack(
	    "{s:s, s:s, s:s, s:b, s:b, s:I}", "client_id", c->id, "name",
	    str_utf8_ok(str_of(c->name)) ? c->name
	                                 : client_name_safe(c->name, safe),
	    "scope", c->scope, "public", c->is_public, "chatgpt", c->chatgpt,
	    "created_at", (json_int_t)c->created_at);
	if (o == NULL)
		return NULL;
	grants = json_array();
	for (unsigned bit = 1; bit <= STORE_GRANTS_ALL; bit <<= 1)
		if ((c->grants & bit) != 0 && oauth_grant_name(bit) != NULL)
			json_array_append_new(
			    grants, json_string(oauth_grant_name(bit)));
	json_object_set_new(o, "grant_types", grants);
	uris = json_array();
	for (p = c->redirect_uris; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "\n");

		json_array_append_new(uris, json_stringn(p, n));
		p += n;
		if (*p == '\n')
			p++;
	}
	json_object_set_new(o, "redirect_uris", uris);
	json_object_set_new(o, "origin",
	                    json_string(store_client_origin_name(c->origin)));
	return o;
}

void
cli_json_print(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2));

	if (s != NULL)
		puts(s);
	free(s);
	json_decref(o);
}

static void
chatgpt_print(const struct config *cfg, const char *id, const char *secret)
{
	printf("\nPaste into ChatGPT (GPT editor: Actions > Authentication > "
	       "OAuth):\n"
	       "  Client ID:              %s\n"
	       "  Client Secret:          %s\n"
	       "  Authorization URL:      %s/oauth/authorize\n"
	       "  Token URL:              %s/oauth/token\n"
	       "  Scope:                  %s\n"
	       "  Token Exchange Method:  Default (POST request) or Basic "
	       "authorization header: both work\n"
	       "Plugin manifest URL:      %s/.well-known/ai-plugin.json\n",
	       id, secret, cfg->server.issuer, cfg->server.issuer,
	       cfg->oauth.default_scope, cfg->server.issuer);
}

/* client add's options that do not land in the client itself. */
struct add_opts {
	const char *name;  /* borrowed from argv; NULL if absent */
	const char *scope; /* borrowed from argv; "" by default */
	bool json;
};

/* Reads client add's options into c (chatgpt, is_public, grants), uris
 * (newline-separated) and o; NULL, or why they cannot be read. */
static const char *
add_opts_parse(int argc, char **argv, struct store_client *c, struct buf *uris,
               struct add_opts *o)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"redirect-uri", required_argument, NULL, 'r'},
	    {"chatgpt", no_argument, NULL, 'g'},
	    {"scope", required_argument, NULL, 's'},
	    {"public", no_argument, NULL, 'p'},
	    {"grant", required_argument, NULL, 'G'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	unsigned bit;
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o->name = optarg;
			break;
		case 'r':
			if (!redirect_ok(optarg))
				return "bad --redirect-uri (https, or http on "
				       "loopback; no fragment)";
			if ((uris->len > 0 &&
			     buf_add(uris, "\n", 1) != ST_OK) ||
			    buf_adds(uris, optarg) != ST_OK)
				return "too many redirect URIs";
			break;
		case 'g':
			c->chatgpt = true;
			break;
		case 's':
			o->scope = optarg;
			break;
		case 'p':
			c->is_public = true;
			break;
		case 'G':
			bit = oauth_grant_bit(optarg);
			if (bit == 0)
				return "unknown --grant (authorization_code, "
				       "refresh_token or client_credentials)";
			c->grants |= bit;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			return "unknown or incomplete option";
		}
	}
	if (optind < argc)
		return "unexpected argument";
	return NULL;
}

/* NULL, or why name, grants, redirect URIs (nuris bytes) and the kind of
 * client do not go together. Sets the default grants if none were given. */
static const char *
add_opts_check(struct store_client *c, size_t nuris, const char *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > NAME_MAX_BYTES)
		return "--name is required (1 to 128 bytes)";
	if (!client_name_ok(name))
		return "--name must be UTF-8 text without control or invisible "
		       "formatting characters";
	if (c->grants == 0)
		c->grants = STORE_GRANTS_DEFAULT;
	if (nuris == 0 && !c->chatgpt && (c->grants & STORE_GRANT_CODE))
		return "--redirect-uri or --chatgpt is required";
	if (c->chatgpt && c->is_public)
		return "--chatgpt clients are confidential: drop --public";
	if ((c->chatgpt || c->is_public) &&
	    (c->grants & STORE_GRANT_CLIENT_CREDENTIALS))
		return c->chatgpt
		           ? "--chatgpt clients cannot have --grant "
		             "client_credentials: their secret is pasted into "
		             "ChatGPT, and it would get tokens with no user"
		           : "--public clients cannot have --grant "
		             "client_credentials "
		             "(they have no secret)";
	return NULL;
}

bool
cli_scope_known(const struct config *cfg, const char *scope)
{
	for (const char *p = scope; *p != '\0';) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (!oauth_scope_has(cfg->oauth.scopes, p, n)) {
			cli_err("unknown scope '%.*s' (the server knows: %s)",
			        (int)n, p, cfg->oauth.scopes);
			return false;
		}
		p += n;
	}
	return true;
}

/* Prints the client just added, with its secret (borrowed; "" for a
 * public client) and, for --chatgpt, what to paste into ChatGPT. */
static void
add_result_print(const struct config *cfg, const struct store_client *c,
                 const char *secret, bool json)
{
	if (json) {
		json_t *o = cli_client_json(c);

		json_object_set_new(o, "client_secret",
		                    c->is_public ? json_null()
		                                 : json_string(secret));
		cli_json_print(o);
		return;
	}
	printf("client_id:      %s\n", c->id);
	if (!c->is_public)
		printf("client_secret:  %s\n"
		       "                (shown once: store it now)\n",
		       secret);
	if (c->chatgpt)
		chatgpt_print(cfg, c->id, secret);
}

static int
client_add(struct cli *cli, int argc, char **argv)
{
	struct store_client c;
	struct add_opts o = {.scope = ""};
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct buf uris;
	const char *why;
	char secret[SEC_TOKEN_STRLEN] = "";
	char *scope_norm = NULL;
	int rc = CLI_USAGE;
	enum status st_rc;

	memset(&c, 0, sizeof(c));
	buf_init(&uris, REDIRECTS_MAX_BYTES);
	why = add_opts_parse(argc, argv, &c, &uris, &o);
	if (why == NULL)
		why = add_opts_check(&c, uris.len, o.name);
	if (why != NULL)
		goto usage;

	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (!cli_scope_known(cfg, o.scope))
		goto out;
	scope_norm = strdup(o.scope);
	if (scope_norm == NULL)
		goto out;
	sec_random_id(c.id);
	c.name = (char *)(uintptr_t)o.name;
	c.scope = scope_norm;
	c.redirect_uris = uris.p != NULL ? uris.p : (char *)(uintptr_t) "";
	c.created_at = clk_now_s();
	if (!c.is_public &&
	    sec_token_mint(SEC_PREFIX_SECRET, secret, c.secret_digest) != ST_OK)
		goto out;
	st_rc = store_client_add(st, &c);
	if (st_rc != ST_OK) {
		cli_err("cannot add the client: %s", status_str(st_rc));
		goto out;
	}
	add_result_print(cfg, &c, secret, o.json);
	rc = CLI_OK;
	goto out;
usage:
	rc = cli_usage_err("client add", "%s", why);
out:
	sec_wipe(secret, sizeof(secret));
	free(scope_norm);
	buf_free(&uris);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

static int
client_list(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_client **v = NULL;
	size_t n = 0;
	bool json = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0)
			return cli_usage_err(
			    "client list", "unexpected argument '%s'", argv[i]);
		json = true;
	}
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	if (store_client_list(st, &v, &n) != ST_OK) {
		cli_err("cannot list clients");
		rc = CLI_FAIL;
		goto out;
	}
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, cli_client_json(v[i]));
		cli_json_print(a);
	} else {
		if (n == 0)
			printf("no clients: add one with 'plugauth client add'"
			       "\n");
		for (size_t i = 0; i < n; i++) {
			char safe[NAME_SAFE_BYTES], grants[128];

			printf(
			    "%s  %-12s  %-10s  %s  scope=\"%s\"  grants=%s\n",
			    v[i]->id,
			    v[i]->is_public ? "public"
			    : v[i]->chatgpt ? "chatgpt"
			                    : "confidential",
			    store_client_origin_name(v[i]->origin),
			    client_name_safe(v[i]->name, safe),
			    v[i]->scope[0] ? v[i]->scope : cfg->oauth.scopes,
			    grants_text(v[i]->grants, grants, sizeof(grants)));
		}
	}
out:
	store_client_list_free(v, n);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

static int
client_by_id(struct cli *cli, int argc, char **argv, bool rotate)
{
	const char *cmd = rotate ? "client rotate-secret" : "client remove";
	const char *id = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	char secret[SEC_TOKEN_STRLEN];
	uint8_t digest[SEC_DIGEST_BYTES];
	struct store_client *c = NULL;
	int64_t grace = 0, old_until = 0;
	bool json = false;
	enum status s;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (rotate && strcmp(argv[i], "--json") == 0)
			json = true;
		else if (rotate && strcmp(argv[i], "--grace") == 0 &&
		         i + 1 < argc) {
			if (!cli_duration_parse(argv[++i], &grace))
				return cli_usage_err(
				    cmd,
				    "bad --grace '%s' (2d, 24h, 30m, 3600s or "
				    "seconds; at most 30 days)",
				    argv[i]);
		} else if (argv[i][0] == '-' || id != NULL)
			return cli_usage_err(cmd, "unexpected argument '%s'",
			                     argv[i]);
		else
			id = argv[i];
	}
	if (id == NULL)
		return cli_usage_err(cmd, "a client ID is required");
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (!rotate) {
		s = store_client_remove(st, id);
		if (s == ST_OK) {
			printf("removed client %s and revoked its tokens\n",
			       id);
			rc = CLI_OK;
		}
		goto out;
	}
	s = store_client_get(st, id, &c);
	if (s == ST_OK && c->is_public) {
		cli_err("client %s is public: it has no secret", id);
		goto out;
	}
	if (s == ST_OK) {
		if (sec_token_mint(SEC_PREFIX_SECRET, secret, digest) != ST_OK)
			goto out;
		old_until = grace > 0 ? clk_now_s() + grace : 0;
		s = store_client_set_secret(st, id, digest, old_until);
	}
	if (s == ST_OK) {
		cli_rotate_print(id, secret, old_until, json);
		sec_wipe(secret, sizeof(secret));
		rc = CLI_OK;
	}
out:
	if (rc != CLI_OK && s == ST_NOTFOUND)
		cli_err("no client with ID '%s'", id);
	else if (rc != CLI_OK && s != ST_OK)
		cli_err("cannot change client %s: %s", id, status_str(s));
	store_client_free(c);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

int
cli_client(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_err("client", "a subcommand is required: add, "
		                               "list, remove, rotate-secret or "
		                               "update");
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "add") == 0)
		return client_add(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return client_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return client_by_id(cli, argc - 1, argv + 1, false);
	if (strcmp(argv[1], "rotate-secret") == 0)
		return client_by_id(cli, argc - 1, argv + 1, true);
	if (strcmp(argv[1], "update") == 0)
		return cli_client_update(cli, argc - 1, argv + 1);
	return cli_usage_err("client", "unknown subcommand '%s'", argv[1]);
}
