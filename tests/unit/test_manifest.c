/* plugin/: the ai-plugin.json manifest, its limits, the OpenAPI document. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "plugin/plugin.h"
#include "plugin/plugin_int.h"

#define ERRLEN 512
#define ISSUER "https://plugin.example.com"

/* A pointer a failing call must leave alone. */
static char untouched_;
#define UNTOUCHED ((void *)&untouched_)

/* The built-in defaults with an https issuer. */
static struct config *
cfg_new(void)
{
	struct config *cfg = NULL;
	char err[ERRLEN];

	assert_int_equal(cfg_load(NULL, false, &cfg, err, sizeof(err)), ST_OK);
	assert_int_equal(
	    cfg_set(cfg, "server", "issuer", ISSUER, err, sizeof(err)), ST_OK);
	return cfg;
}

static void
set(struct config *cfg, const char *section, const char *key, const char *value)
{
	char err[ERRLEN];

	if (cfg_set(cfg, section, key, value, err, sizeof(err)) != ST_OK)
		fail_msg("cfg_set [%s] %s: %s", section, key, err);
}

/* Replaces a string field directly, past cfg_set()'s own checks. */
static void
set_raw(char **field, const char *value)
{
	free(*field);
	*field = value == NULL ? NULL : strdup(value);
}

/* A string of n copies of c (new). */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Writes len bytes to a new file under /tmp; path gets its name. */
static void
tmp_write(char path[64], const char *suffix, const char *text, size_t len)
{
	int fd;

	assert_true(snprintf(path, 64, "/tmp/plugauth-plug-XXXXXX%s", suffix) >
	            0);
	fd = mkstemps(path, (int)strlen(suffix));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static const char *
str_at(const json_t *m, const char *obj, const char *key)
{
	const json_t *o = obj == NULL ? m : json_object_get(m, obj);
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		fail_msg("%s.%s: no string", obj == NULL ? "" : obj, key);
	return s;
}

static void
test_defaults_every_field(void **state)
{
	struct config *cfg = cfg_new();
	json_t *m = NULL, *api, *auth, *vt;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	assert_true(json_is_object(m));
	assert_string_equal(str_at(m, NULL, "schema_version"), "v1");
	/* No demo names: the issuer's host stands in for name_for_human. */
	assert_string_equal(str_at(m, NULL, "name_for_human"),
	                    "plugin.example.com");
	assert_string_equal(str_at(m, NULL, "name_for_model"), "service");
	assert_string_equal(str_at(m, NULL, "description_for_human"),
	                    cfg->plugin.description_for_human);
	assert_string_equal(str_at(m, NULL, "description_for_model"),
	                    cfg->plugin.description_for_model);
	/* Required by ChatGPT: defaulted from the issuer when unset. */
	assert_string_equal(str_at(m, NULL, "logo_url"), ISSUER "/logo.png");
	assert_string_equal(str_at(m, NULL, "legal_info_url"), ISSUER "/legal");
	assert_string_equal(str_at(m, NULL, "contact_email"),
	                    "support@example.com");

	api = json_object_get(m, "api");
	assert_int_equal(json_object_size(api), 3);
	assert_string_equal(str_at(m, "api", "type"), "openapi");
	assert_string_equal(str_at(m, "api", "url"), ISSUER "/openapi.yaml");
	assert_true(
	    json_is_true(json_object_get(api, "has_user_authentication")));

	auth = json_object_get(m, "auth");
	assert_int_equal(json_object_size(auth), 6);
	assert_string_equal(str_at(m, "auth", "type"), "oauth");
	assert_string_equal(str_at(m, "auth", "client_url"),
	                    ISSUER "/oauth/authorize");
	assert_string_equal(str_at(m, "auth", "authorization_url"),
	                    ISSUER "/oauth/token");
	assert_string_equal(str_at(m, "auth", "scope"), "todo.read");
	assert_string_equal(str_at(m, "auth", "authorization_content_type"),
	                    "application/json");
	vt = json_object_get(auth, "verification_tokens");
	assert_true(json_is_object(vt));
	assert_int_equal(json_object_size(vt), 0);

	assert_int_equal(json_object_size(m), 10);
	json_decref(m);
	cfg_free(cfg);
}

static void
test_configured_values_win(void **state)
{
	struct config *cfg = cfg_new();
	json_t *m = NULL;
	char err[ERRLEN];

	(void)state;
	set(cfg, "plugin", "name_for_human", "Shopping");
	set(cfg, "plugin", "name_for_model", "shopping2");
	set(cfg, "plugin", "logo_url", "https://cdn.example.com/l.png");
	set(cfg, "plugin", "legal_info_url", "https://example.com/terms");
	set(cfg, "plugin", "openapi_url", "https://api.example.com/spec.yaml");
	set(cfg, "plugin", "contact_email", "help@shop.example.org");
	set(cfg, "plugin", "authorization_content_type",
	    "application/x-www-form-urlencoded");
	set(cfg, "oauth", "scopes", "todo.read todo.write extra");
	set(cfg, "oauth", "default_scope", "todo.read extra");
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	assert_string_equal(str_at(m, NULL, "name_for_human"), "Shopping");
	assert_string_equal(str_at(m, NULL, "name_for_model"), "shopping2");
	assert_string_equal(str_at(m, NULL, "logo_url"),
	                    "https://cdn.example.com/l.png");
	assert_string_equal(str_at(m, NULL, "legal_info_url"),
	                    "https://example.com/terms");
	assert_string_equal(str_at(m, "api", "url"),
	                    "https://api.example.com/spec.yaml");
	assert_string_equal(str_at(m, NULL, "contact_email"),
	                    "help@shop.example.org");
	assert_string_equal(str_at(m, "auth", "authorization_content_type"),
	                    "application/x-www-form-urlencoded");
	assert_string_equal(str_at(m, "auth", "scope"), "todo.read extra");
	/* The OAuth endpoints always come from the issuer. */
	assert_string_equal(str_at(m, "auth", "client_url"),
	                    ISSUER "/oauth/authorize");
	json_decref(m);
	cfg_free(cfg);
}

static void
test_verification_token(void **state)
{
	struct config *cfg = cfg_new();
	json_t *m = NULL, *vt;
	char err[ERRLEN];

	(void)state;
	set(cfg, "plugin.verification_tokens", "openai", "abc123def456");
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	vt = json_object_get(json_object_get(m, "auth"), "verification_tokens");
	assert_int_equal(json_object_size(vt), 1);
	assert_string_equal(json_string_value(json_object_get(vt, "openai")),
	                    "abc123def456");
	json_decref(m);

	/* An empty value unsets it: {} again. */
	set(cfg, "plugin.verification_tokens", "openai", "");
	assert_null(cfg->plugin.verification_openai);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	vt = json_object_get(json_object_get(m, "auth"), "verification_tokens");
	assert_true(json_is_object(vt));
	assert_int_equal(json_object_size(vt), 0);
	json_decref(m);
	cfg_free(cfg);
}

/* Each bad value fails with an error naming its key; *out untouched. */
static void
test_limits_name_the_key(void **state)
{
	char *n51 = repeat('a', 51), *h21 = repeat('h', 21);
	char *d101 = repeat('d', 101), *m8001 = repeat('m', 8001);
	const struct {
		const char *section, *key, *value;
		bool raw; /* past cfg_set()'s checks */
		const char *expect;
	} bad[] = {
	    {"plugin", "name_for_model", "bad name!", false,
	     "[plugin] name_for_model"},
	    {"plugin", "name_for_model", "todo_list", false,
	     "[plugin] name_for_model"},
	    {"plugin", "name_for_model", "caf\xc3\xa9", false,
	     "[plugin] name_for_model"},
	    {"plugin", "name_for_model", n51, false, "[plugin] name_for_model"},
	    {"plugin", "name_for_human", h21, false, "[plugin] name_for_human"},
	    {"plugin", "name_for_human", "bad \xff utf8", false,
	     "[plugin] name_for_human"},
	    {"plugin", "description_for_human", d101, false,
	     "[plugin] description_for_human"},
	    {"plugin", "description_for_model", m8001, false,
	     "[plugin] description_for_model"},
	    {"plugin", "contact_email", "support", false,
	     "[plugin] contact_email"},
	    {"plugin", "contact_email", "a@b", false, "[plugin] contact_email"},
	    {"plugin", "contact_email", "a@@example.com", false,
	     "[plugin] contact_email"},
	    {"plugin", "contact_email", "a b@example.com", false,
	     "[plugin] contact_email"},
	    {"plugin", "contact_email", "@example.com", false,
	     "[plugin] contact_email"},
	    {"plugin", "logo_url", "ftp://example.com/logo.png", true,
	     "[plugin] logo_url"},
	    {"plugin", "legal_info_url", "/legal", true,
	     "[plugin] legal_info_url"},
	    {"plugin", "openapi_url", "https://", true, "[plugin] openapi_url"},
	    {"server", "issuer", "plugin.example.com", true, "[server] issuer"},
	};
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct config *cfg = cfg_new();
		json_t *m = UNTOUCHED;
		char *text = UNTOUCHED;
		char **field = NULL;

		if (bad[i].raw) {
			if (strcmp(bad[i].key, "logo_url") == 0)
				field = &cfg->plugin.logo_url;
			else if (strcmp(bad[i].key, "legal_info_url") == 0)
				field = &cfg->plugin.legal_info_url;
			else if (strcmp(bad[i].key, "openapi_url") == 0)
				field = &cfg->plugin.openapi_url;
			else
				field = &cfg->server.issuer;
			set_raw(field, bad[i].value);
		} else
			set(cfg, bad[i].section, bad[i].key, bad[i].value);
		err[0] = '\0';
		if (plug_manifest_build(cfg, &m, err, sizeof(err)) == ST_OK)
			fail_msg("case %zu (%s = %.20s) accepted", i,
			         bad[i].key, bad[i].value);
		assert_ptr_equal(m, UNTOUCHED);
		if (strncmp(err, bad[i].expect, strlen(bad[i].expect)) != 0)
			fail_msg("case %zu: \"%s\" does not start with \"%s\"",
			         i, err, bad[i].expect);
		assert_int_not_equal(
		    plug_manifest_text(cfg, &text, err, sizeof(err)), ST_OK);
		assert_ptr_equal(text, UNTOUCHED);
		cfg_free(cfg);
	}
	free(n51);
	free(h21);
	free(d101);
	free(m8001);
}

/* The limits are inclusive and count characters, not bytes. */
static void
test_limits_at_the_edge_pass(void **state)
{
	char *n50 = repeat('N', 50), *d100 = repeat('d', 100);
	char *m8000 = repeat('m', 8000);
	/* 20 characters, 40 bytes. */
	const char *h20 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	struct config *cfg = cfg_new();
	json_t *m = NULL;
	char err[ERRLEN];

	(void)state;
	set(cfg, "plugin", "name_for_model", n50);
	set(cfg, "plugin", "name_for_human", h20);
	set(cfg, "plugin", "description_for_human", d100);
	set(cfg, "plugin", "description_for_model", m8000);
	set(cfg, "plugin", "contact_email",
	    "first.last+plugin@mail.example.co.uk");
	if (plug_manifest_build(cfg, &m, err, sizeof(err)) != ST_OK)
		fail_msg("%s", err);
	assert_string_equal(str_at(m, NULL, "name_for_human"), h20);
	assert_int_equal(strlen(str_at(m, NULL, "description_for_model")),
	                 8000);
	json_decref(m);
	cfg_free(cfg);
	free(n50);
	free(d100);
	free(m8000);
}

static void
test_description_for_model_file(void **state)
{
#define DESC "Line one.\nLine two: use the TODO API."
	static const char text[] = DESC "\n\n \t\r\n";
	struct config *cfg = cfg_new();
	json_t *m = NULL;
	char path[64], err[ERRLEN];

	(void)state;
	tmp_write(path, ".txt", text, sizeof(text) - 1);
	set(cfg, "plugin", "description_for_model_file", path);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	/* Trailing whitespace trimmed; inner newlines kept; the key is not
	 * used. */
	assert_string_equal(str_at(m, NULL, "description_for_model"), DESC);
	json_decref(m);
	unlink(path);

	/* Missing file: names the key. */
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)),
	                 ST_NOTFOUND);
	assert_non_null(strstr(err, "[plugin] description_for_model_file"));
	assert_non_null(strstr(err, path));
	cfg_free(cfg);
}

static void
test_description_for_model_file_limits(void **state)
{
	struct config *cfg = cfg_new();
	char *big = repeat('x', 8001), path[64], err[ERRLEN];
	json_t *m = NULL;

	(void)state;
	/* 8000 characters and trailing newlines: fine. */
	big[8000] = '\n';
	tmp_write(path, ".txt", big, 8001);
	set(cfg, "plugin", "description_for_model_file", path);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	assert_int_equal(strlen(str_at(m, NULL, "description_for_model")),
	                 8000);
	json_decref(m);
	unlink(path);

	/* 8001: too long, naming the file's key. */
	big[8000] = 'x';
	tmp_write(path, ".txt", big, 8001);
	set(cfg, "plugin", "description_for_model_file", path);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "[plugin] description_for_model_file"));
	assert_non_null(strstr(err, "8000"));
	unlink(path);

	/* Only whitespace: as good as empty. */
	tmp_write(path, ".txt", " \n\n", 3);
	set(cfg, "plugin", "description_for_model_file", path);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "[plugin] description_for_model_file"));
	unlink(path);

	/* A NUL byte is no text. */
	tmp_write(path, ".txt", "ab\0cd", 5);
	set(cfg, "plugin", "description_for_model_file", path);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "[plugin] description_for_model_file"));
	unlink(path);
	free(big);
	cfg_free(cfg);
}

/* What is served is the built object, indented, with a final newline. */
static void
test_manifest_text_matches_build(void **state)
{
	struct config *cfg = cfg_new();
	json_t *m = NULL, *back;
	char *text = NULL, err[ERRLEN];

	(void)state;
	assert_int_equal(plug_manifest_text(cfg, &text, err, sizeof(err)),
	                 ST_OK);
	assert_int_equal(plug_manifest_build(cfg, &m, err, sizeof(err)), ST_OK);
	assert_true(strlen(text) > 2);
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_true(strncmp(text, "{\n  \"schema_version\": \"v1\",", 27) == 0);
	back = json_loads(text, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, m));
	json_decref(back);
	json_decref(m);
	free(text);
	cfg_free(cfg);
}

static void
test_env_builtin_openapi(void **state)
{
	struct config *cfg = cfg_new();
	struct plug_env env;
	char err[ERRLEN];

	(void)state;
	/* Outside the demo: no document (/openapi.yaml is 404), the logo. */
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_OK);
	assert_non_null(env.manifest);
	assert_int_equal(env.manifest_len, strlen(env.manifest));
	assert_null(env.openapi);
	assert_true(env.logo);
	plug_env_free(&env);
	assert_int_equal(plug_env_demo_openapi(&env, cfg, err, sizeof(err)),
	                 ST_OK);
	assert_string_equal(env.openapi_type, "application/yaml");
	assert_int_equal(env.openapi_len, strlen(env.openapi));
	assert_true(strncmp(env.openapi, "openapi: \"3.0", 13) == 0);
	assert_non_null(strstr(env.openapi, "\n  - url: \"" ISSUER "\"\n"));
	assert_non_null(strstr(env.openapi, "\n  /api/todos:\n    get:\n"));
	assert_non_null(strstr(env.openapi, "\n    post:\n"));
	assert_non_null(
	    strstr(env.openapi, "\n  /api/todos/{id}:\n    delete:\n"));
	assert_non_null(strstr(env.openapi, "authorizationUrl: \"" ISSUER
	                                    "/oauth/authorize\"\n"));
	assert_non_null(
	    strstr(env.openapi, "tokenUrl: \"" ISSUER "/oauth/token\"\n"));
	assert_non_null(strstr(env.openapi, "todo.read: "));
	assert_non_null(strstr(env.openapi, "todo.write: "));
	/* Its servers[0].url passes the openapi_file check. */
	assert_int_equal(plug_openapi_check("builtin", env.openapi,
	                                    env.openapi_len, cfg, err,
	                                    sizeof(err)),
	                 ST_OK);
	plug_env_free(&env);
	assert_null(env.manifest);
	assert_null(env.openapi);
	plug_env_free(&env);
	plug_env_free(NULL);
	cfg_free(cfg);
}

static void
test_env_openapi_file(void **state)
{
	static const char spec[] = "{\"openapi\": \"3.0.1\"}\n";
	struct config *cfg = cfg_new();
	struct plug_env env;
	char path[64], err[ERRLEN], *big;

	(void)state;
	tmp_write(path, ".json", spec, sizeof(spec) - 1);
	set(cfg, "plugin", "openapi_file", path);
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_OK);
	assert_string_equal(env.openapi_type,
	                    "application/json; charset=utf-8");
	assert_int_equal(env.openapi_len, sizeof(spec) - 1);
	assert_memory_equal(env.openapi, spec, sizeof(spec) - 1);
	plug_env_free(&env);
	unlink(path);

	tmp_write(path, ".yaml", "openapi: 3.0.1\n", 15);
	set(cfg, "plugin", "openapi_file", path);
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_OK);
	assert_string_equal(env.openapi_type, "application/yaml");
	assert_string_equal(env.openapi, "openapi: 3.0.1\n");
	plug_env_free(&env);
	unlink(path);

	/* Missing, or over 1 MiB: refused, naming the key; env empty. */
	assert_int_not_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_OK);
	assert_non_null(strstr(err, "[plugin] openapi_file"));
	assert_null(env.manifest);
	assert_null(env.openapi);
	big = repeat('#', PLUG_OPENAPI_MAX_BYTES + 1);
	tmp_write(path, ".yaml", big, PLUG_OPENAPI_MAX_BYTES + 1);
	set(cfg, "plugin", "openapi_file", path);
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_TOOBIG);
	assert_non_null(strstr(err, "[plugin] openapi_file"));
	unlink(path);
	/* Exactly 1 MiB is fine. */
	tmp_write(path, ".yaml", big, PLUG_OPENAPI_MAX_BYTES);
	set(cfg, "plugin", "openapi_file", path);
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)), ST_OK);
	assert_int_equal(env.openapi_len, PLUG_OPENAPI_MAX_BYTES);
	plug_env_free(&env);
	unlink(path);
	free(big);
	cfg_free(cfg);
}

static void
test_env_bad_manifest_refused(void **state)
{
	struct config *cfg = cfg_new();
	struct plug_env env;
	char err[ERRLEN];

	(void)state;
	set(cfg, "plugin", "name_for_model", "bad name!");
	assert_int_equal(plug_env_init(&env, cfg, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "name_for_model"));
	assert_null(env.manifest);
	assert_null(env.openapi);
	plug_env_free(&env);
	cfg_free(cfg);
}

/* The YAML writer quotes what a YAML reader would take for something
 * else, and nests mappings and sequences. */
static void
test_yaml_dump(void **state)
{
	static const char want[] = "/a/{id}:\n"
	                           "  \"200\": \"x\"\n"
	                           "  \"yes\": true\n"
	                           "  \"a b\": null\n"
	                           "  $ref: \"q\\\"\\n\"\n"
	                           "list:\n"
	                           "  - 1\n"
	                           "  - k: \"v\"\n"
	                           "    e: {}\n"
	                           "  - []\n";
	json_t *v;
	struct buf b;

	(void)state;
	v = json_loads("{\"/a/{id}\": {\"200\": \"x\", \"yes\": true, "
	               "\"a b\": null, \"$ref\": \"q\\\"\\n\"}, "
	               "\"list\": [1, {\"k\": \"v\", \"e\": {}}, []]}",
	               0, NULL);
	assert_non_null(v);
	buf_init(&b, 4096);
	assert_int_equal(plug_yaml_dump(v, &b), ST_OK);
	assert_string_equal(b.p, want);
	buf_free(&b);
	json_decref(v);
}

int main(void);
/* [plugin] openapi_file's servers[0].url: found by a line scan in YAML,
 * by jansson in JSON, and refused when not under the issuer. */
static void
test_openapi_check(void **state)
{
	static const struct {
		const char *text;
		enum status want;
	} cases[] = {
	    {"servers:\n  - url: " ISSUER "/api\n", ST_OK},
	    {"servers:\n- url: '" ISSUER "'\n", ST_OK},
	    {"servers:\n  # c\n  - description: x\n    url: /api # rel\n",
	     ST_OK},
	    {"paths: {}\n", ST_OK}, /* warned only */
	    {"servers:\n  - description: x\nurl: https://x.example\n",
	     ST_OK}, /* not its url */
	    {"servers:\n  - url: https://other.example/api\n", ST_INVALID},
	    {"servers:\n  - url: " ISSUER ".evil.example\n", ST_INVALID},
	    {"servers:\n  - url: //other.example\n", ST_INVALID},
	    {"{\"servers\": [{\"url\": \"" ISSUER "/v1\"}]}", ST_OK},
	    {"{\"servers\": [{\"url\": \"https://x.example\"}]}", ST_INVALID},
	    {"{\"servers\": [", ST_INVALID},
	};
	struct config *cfg = cfg_new();
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum status rc = plug_openapi_check("f.yaml", cases[i].text,
		                                    strlen(cases[i].text), cfg,
		                                    err, sizeof(err));

		if (rc != cases[i].want)
			fail_msg("case %zu: %s (%s)", i, status_str(rc), err);
		if (rc != ST_OK)
			assert_non_null(strstr(err, "[plugin] openapi_file"));
	}
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_every_field),
	    cmocka_unit_test(test_configured_values_win),
	    cmocka_unit_test(test_verification_token),
	    cmocka_unit_test(test_limits_name_the_key),
	    cmocka_unit_test(test_limits_at_the_edge_pass),
	    cmocka_unit_test(test_description_for_model_file),
	    cmocka_unit_test(test_description_for_model_file_limits),
	    cmocka_unit_test(test_manifest_text_matches_build),
	    cmocka_unit_test(test_env_builtin_openapi),
	    cmocka_unit_test(test_env_openapi_file),
	    cmocka_unit_test(test_openapi_check),
	    cmocka_unit_test(test_env_bad_manifest_refused),
	    cmocka_unit_test(test_yaml_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
