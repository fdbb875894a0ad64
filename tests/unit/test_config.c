#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

#define ERRLEN 512

/* A pointer cfg_load() must leave alone on error. */
static char untouched_;
#define UNTOUCHED ((struct config *)(void *)&untouched_)

/* Writes len bytes to a new file under /tmp; path gets its name. */
static void
tmp_write(char path[64], const char *text, size_t len)
{
	int fd;

	assert_true(snprintf(path, 64, "/tmp/plugauth-cfg-XXXXXX") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Loads text as a config file; path keeps the (removed) file's name. */
static enum status
load_text(const char *text, char path[64], struct config **out, char *err)
{
	enum status rc;

	tmp_write(path, text, strlen(text));
	rc = cfg_load(path, true, out, err, ERRLEN);
	unlink(path);
	return rc;
}

/* No PLUGAUTH_* variable from the caller's environment leaks in. */
static int
env_clear(void **state)
{
	char name[256];

	(void)state;
	for (size_t i = 0; environ[i] != NULL;) {
		const char *eq = strchr(environ[i], '=');

		if (strncmp(environ[i], "PLUGAUTH_", 9) == 0 && eq != NULL &&
		    (size_t)(eq - environ[i]) < sizeof(name)) {
			memcpy(name, environ[i], (size_t)(eq - environ[i]));
			name[eq - environ[i]] = '\0';
			unsetenv(name);
			continue; /* environ shifted */
		}
		i++;
	}
	return 0;
}

static void
test_defaults(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_string_equal(err, "");
	assert_string_equal(c->server.listen, "127.0.0.1:8080");
	assert_string_equal(c->server.issuer, "http://127.0.0.1:8080");
	assert_int_equal(c->server.threads, 0);
	assert_int_equal(c->server.blocking_threads, 32);
	assert_null(c->server.tls_cert);
	assert_null(c->server.tls_key);
	assert_int_equal(c->server.body_max_bytes, 65536);
	assert_int_equal(c->server.connection_limit, 1024);
	assert_int_equal(c->server.connection_timeout, 30);
	assert_int_equal(c->server.per_address_connections, 256);
	assert_int_equal(c->server.header_max_bytes, 16384);
	assert_int_equal(c->server.header_max_count, 100);
	assert_int_equal(c->server.url_max_bytes, 8192);
	assert_int_equal(c->server.params_max, 32);
	assert_int_equal(c->server.json_max_depth, 32);
	assert_int_equal(c->gateway.body_max_bytes, 1048576);
	assert_string_equal(c->server.log_level, "info");
	assert_string_equal(c->database.url, "sqlite:plugauth.db");
	assert_string_equal(c->oauth.scopes, "todo.read todo.write");
	assert_string_equal(c->oauth.default_scope, "todo.read");
	assert_int_equal(c->oauth.code_ttl, 120);
	assert_int_equal(c->oauth.access_ttl, 3600);
	assert_int_equal(c->oauth.refresh_ttl, 2592000);
	assert_int_equal(c->oauth.refresh_reuse_grace, 10);
	assert_string_equal(c->oauth.registration, "closed");
	/* No demo names outside the demo (plugauth demo sets its own). */
	assert_null(c->plugin.name_for_human);
	assert_null(c->service.name);
	assert_int_equal(c->oauth.nscope_descs, 0);
	assert_string_equal(c->plugin.name_for_model, "service");
	assert_string_equal(c->plugin.description_for_human,
	                    "Use your account on this service.");
	assert_string_equal(c->plugin.description_for_model,
	                    "Acts on the signed-in user's account on this "
	                    "service through its API.");
	assert_null(c->plugin.logo_url);
	assert_string_equal(c->plugin.contact_email, "support@example.com");
	assert_null(c->plugin.legal_info_url);
	assert_null(c->plugin.openapi_url);
	assert_null(c->plugin.openapi_file);
	assert_string_equal(c->plugin.authorization_content_type,
	                    "application/json");
	assert_null(c->plugin.verification_openai);
	assert_null(c->gateway.upstream);
	assert_string_equal(c->gateway.path, "/api/");
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_OK);
	cfg_free(c);
}

static const char good_file[] =
    "; a full configuration\n"
    "# hash comments too\n"
    "\n"
    "[server]\n"
    "listen = [::1]:9090\n"
    "issuer = https://auth.example.com/\n" /* slash stripped */
    "threads = 256\n"
    "tls_cert = /etc/pa/cert.pem\n"
    "tls_key = /etc/pa/key.pem\n"
    "body_max_bytes = 1024\n"
    "connection_limit = 65536\n"
    "connection_timeout = 3600\n"
    "log_level = debug ; inline comment\n"
    "\n"
    "[database]\n"
    "url = postgresql://pa:s3cret@db.example/pa?sslmode=require\n"
    "\n"
    "[oauth]\n"
    "scopes = todo.read todo.write admin:all\n"
    "default_scope = todo.read todo.write\n"
    "code_ttl = 10\n"
    "access_ttl = 604800\n"
    "refresh_ttl = 31536000\n"
    "refresh_reuse_grace = 0\n"
    "registration = open\n"
    "\n"
    "[plugin]\n"
    "name_for_human = Shopping List\n"
    "name_for_model = shopping\n"
    "description_for_human = Keep track of groceries; fast.\n"
    "description_for_model = Use this for the user's shopping list=ok.\n"
    "logo_url = https://plugin.example.com/logo.png\n"
    "contact_email = ops@example.com\n"
    "legal_info_url = https://example.com/legal\n"
    "openapi_url = https://plugin.example.com/openapi.yaml\n"
    "openapi_file = /etc/pa/openapi.yaml\n"
    "authorization_content_type = application/x-www-form-urlencoded\n"
    "\n"
    "[plugin.verification_tokens]\n"
    "openai = abc123def456\n"
    "\n"
    "[gateway]\n"
    "upstream = http://127.0.0.1:5000\n"
    "path = /\n";

static void
check_good(const struct config *c)
{
	assert_string_equal(c->server.listen, "[::1]:9090");
	assert_string_equal(c->server.issuer, "https://auth.example.com");
	assert_int_equal(c->server.threads, 256);
	assert_string_equal(c->server.tls_cert, "/etc/pa/cert.pem");
	assert_string_equal(c->server.tls_key, "/etc/pa/key.pem");
	assert_int_equal(c->server.body_max_bytes, 1024);
	assert_int_equal(c->server.connection_limit, 65536);
	assert_int_equal(c->server.connection_timeout, 3600);
	assert_string_equal(c->server.log_level, "debug");
	assert_string_equal(
	    c->database.url,
	    "postgresql://pa:s3cret@db.example/pa?sslmode=require");
	assert_string_equal(c->oauth.scopes, "todo.read todo.write admin:all");
	assert_string_equal(c->oauth.default_scope, "todo.read todo.write");
	assert_int_equal(c->oauth.code_ttl, 10);
	assert_int_equal(c->oauth.access_ttl, 604800);
	assert_int_equal(c->oauth.refresh_ttl, 31536000);
	assert_int_equal(c->oauth.refresh_reuse_grace, 0);
	assert_string_equal(c->oauth.registration, "open");
	assert_string_equal(c->plugin.name_for_human, "Shopping List");
	assert_string_equal(c->plugin.name_for_model, "shopping");
	assert_string_equal(c->plugin.description_for_human,
	                    "Keep track of groceries; fast.");
	assert_string_equal(c->plugin.description_for_model,
	                    "Use this for the user's shopping list=ok.");
	assert_string_equal(c->plugin.logo_url,
	                    "https://plugin.example.com/logo.png");
	assert_string_equal(c->plugin.contact_email, "ops@example.com");
	assert_string_equal(c->plugin.legal_info_url,
	                    "https://example.com/legal");
	assert_string_equal(c->plugin.openapi_url,
	                    "https://plugin.example.com/openapi.yaml");
	assert_string_equal(c->plugin.openapi_file, "/etc/pa/openapi.yaml");
	assert_string_equal(c->plugin.authorization_content_type,
	                    "application/x-www-form-urlencoded");
	assert_string_equal(c->plugin.verification_openai, "abc123def456");
	assert_string_equal(c->gateway.upstream, "http://127.0.0.1:5000");
	assert_string_equal(c->gateway.path, "/");
}

static void
test_good_file(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN], path[64];

	(void)state;
	assert_int_equal(load_text(good_file, path, &c, err), ST_OK);
	assert_string_equal(err, "");
	check_good(c);
	cfg_free(c);
}

static void
test_file_forms(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN], path[64];

	(void)state;
	/* UTF-8 BOM, CRLF, "key: value", blank-padded lines. */
	assert_int_equal(load_text("\xef\xbb\xbf[oauth]\r\n"
	                           "code_ttl: 300\r\n"
	                           "  access_ttl   =   7200   \r\n"
	                           "\t\r\n",
	                           path, &c, err),
	                 ST_OK);
	assert_int_equal(c->oauth.code_ttl, 300);
	assert_int_equal(c->oauth.access_ttl, 7200);
	cfg_free(c);

	/*
	 * An indented line is a key of its own: libinih would otherwise take
	 * it for a continuation of code_ttl's value.
	 */
	assert_int_equal(load_text("[oauth]\ncode_ttl = 100\n    "
	                           "access_ttl = 120\n",
	                           path, &c, err),
	                 ST_OK);
	assert_int_equal(c->oauth.code_ttl, 100);
	assert_int_equal(c->oauth.access_ttl, 120);
	cfg_free(c);

	/* A comment may follow a section header. */
	assert_int_equal(
	    load_text("[oauth] ; tokens\ncode_ttl = 99\n", path, &c, err),
	    ST_OK);
	assert_int_equal(c->oauth.code_ttl, 99);
	cfg_free(c);

	/* A section may appear twice; a key only once. */
	assert_int_equal(load_text("[oauth]\ncode_ttl = 100\n[server]\n"
	                           "threads = 2\n[oauth]\naccess_ttl = 120\n",
	                           path, &c, err),
	                 ST_OK);
	assert_int_equal(c->oauth.code_ttl, 100);
	assert_int_equal(c->oauth.access_ttl, 120);
	assert_int_equal(c->server.threads, 2);
	cfg_free(c);

	/* Optional keys left empty stay unset. */
	assert_int_equal(load_text("[gateway]\nupstream =\n", path, &c, err),
	                 ST_OK);
	assert_null(c->gateway.upstream);
	cfg_free(c);
}

/*
 * Each file must fail; the message must be exactly "<file>:<line>: <msg>".
 * Values are never echoed (some are secrets).
 */
static const struct {
	const char *text;
	int line;
	const char *msg;
} bad_files[] = {
    /* Unknown names. */
    {"[server]\nthreads = 1\n[bogus]\nx = 1\n", 4,
     "[bogus] x: unknown section"},
    {"[Server]\nthreads = 1\n", 2, "[Server] threads: unknown section"},
    {"[oauth]\ncode_tll = 5\n", 2, "[oauth] code_tll: unknown key"},
    {"[plugin]\nopenai = x\n", 2, "[plugin] openai: unknown key"},
    {"threads = 1\n", 1, "threads: key outside any [section]"},
    /* Given twice, also across a repeated section. */
    {"[oauth]\ncode_ttl = 100\ncode_ttl = 200\n", 3,
     "[oauth] code_ttl: given twice (first on line 2)"},
    {"[oauth]\ncode_ttl = 100\n[server]\nthreads = 1\n[oauth]\n"
     "code_ttl = 100\n",
     6, "[oauth] code_ttl: given twice (first on line 2)"},
    /* Not a number. */
    {"[server]\nthreads = four\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads = -1\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads = +1\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads = 0x10\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads = 1 2\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads = 1.5\n", 2, "[server] threads: must be a number"},
    {"[server]\nthreads =\n", 2, "[server] threads: must not be empty"},
    /* Out of range, both ends, and past 64 bits. */
    {"[server]\nthreads = 257\n", 2, "[server] threads: must be 0..256"},
    {"[server]\nblocking_threads = 0\n", 2,
     "[server] blocking_threads: must be 1..1024"},
    {"[server]\nblocking_threads = 1025\n", 2,
     "[server] blocking_threads: must be 1..1024"},
    {"[oauth]\ncode_ttl = 9\n", 2, "[oauth] code_ttl: must be 10..3600"},
    {"[oauth]\ncode_ttl = 3601\n", 2, "[oauth] code_ttl: must be 10..3600"},
    {"[oauth]\naccess_ttl = 604801\n", 2,
     "[oauth] access_ttl: must be 60..604800"},
    {"[oauth]\nrefresh_ttl = 3599\n", 2,
     "[oauth] refresh_ttl: must be 3600..31536000"},
    {"[oauth]\nrefresh_reuse_grace = 301\n", 2,
     "[oauth] refresh_reuse_grace: must be 0..300"},
    {"[server]\nbody_max_bytes = 1023\n", 2,
     "[server] body_max_bytes: must be 1024..16777216"},
    {"[server]\nper_address_connections = 65537\n", 2,
     "[server] per_address_connections: must be 0..65536"},
    {"[server]\nheader_max_count = 7\n", 2,
     "[server] header_max_count: must be 8..10000"},
    {"[server]\nurl_max_bytes = 255\n", 2,
     "[server] url_max_bytes: must be 256..1048576"},
    {"[server]\njson_max_depth = 0\n", 2,
     "[server] json_max_depth: must be 1..1000"},
    {"[gateway]\nbody_max_bytes = 67108865\n", 2,
     "[gateway] body_max_bytes: must be 1024..67108864"},
    {"[server]\nconnection_limit = 0\n", 2,
     "[server] connection_limit: must be 1..65536"},
    {"[server]\nconnection_timeout = 99999999999999999999999999\n", 2,
     "[server] connection_timeout: must be 1..3600"},
    {"[server]\nconnection_timeout = 4294967297\n", 2,
     "[server] connection_timeout: must be 1..3600"},
    /* Not one of the choices (case matters). */
    {"[server]\nlog_level = verbose\n", 2,
     "[server] log_level: must be one of error|warn|info|debug"},
    {"[oauth]\nregistration = Open\n", 2,
     "[oauth] registration: must be one of closed|open|token"},
    {"[plugin]\nauthorization_content_type = text/plain\n", 2,
     "[plugin] authorization_content_type: must be one of "
     "application/json|application/x-www-form-urlencoded"},
    /* Issuer. */
    {"[server]\nissuer = ftp://auth.example.com\n", 2,
     "[server] issuer: must be an absolute http:// or https:// URL"},
    {"[server]\nissuer = auth.example.com\n", 2,
     "[server] issuer: must be an absolute http:// or https:// URL"},
    {"[server]\nissuer = https://\n", 2,
     "[server] issuer: must be an absolute http:// or https:// URL"},
    {"[server]\nissuer = https://a b.example\n", 2,
     "[server] issuer: must be an absolute http:// or https:// URL"},
    {"[server]\nissuer = http://auth.example.com\n", 2,
     "[server] issuer: must use https unless the host is loopback "
     "(127.0.0.0/8, [::1], localhost)"},
    {"[server]\nissuer = http://127.0.0.1.nip.io\n", 2,
     "[server] issuer: must use https unless the host is loopback "
     "(127.0.0.0/8, [::1], localhost)"},
    {"[server]\nissuer = http://localhost.example.com:8080\n", 2,
     "[server] issuer: must use https unless the host is loopback "
     "(127.0.0.0/8, [::1], localhost)"},
    {"[server]\nissuer = https://auth.example.com/?x=1\n", 2,
     "[server] issuer: must not have a query or fragment"},
    {"[server]\nissuer = https://auth.example.com#top\n", 2,
     "[server] issuer: must not have a query or fragment"},
    {"[server]\nissuer = http://127.0.0.1@evil.example\n", 2,
     "[server] issuer: must not contain user info"},
    /* Listen. */
    {"[server]\nlisten = 8080\n", 2,
     "[server] listen: must be host:port with port 0..65535 "
     "(IPv6 as [::1]:8080)"},
    {"[server]\nlisten = ::1:8080\n", 2,
     "[server] listen: must be host:port with port 0..65535 "
     "(IPv6 as [::1]:8080)"},
    {"[server]\nlisten = 127.0.0.1:65536\n", 2,
     "[server] listen: must be host:port with port 0..65535 "
     "(IPv6 as [::1]:8080)"},
    /* Scopes. */
    {"[oauth]\ndefault_scope = admin\n", 2,
     "[oauth] default_scope: 'admin' is not in [oauth] scopes"},
    {"[oauth]\ndefault_scope = todo.read admin\n", 2,
     "[oauth] default_scope: 'admin' is not in [oauth] scopes"},
    /* default_scope left at its default: the scopes line is blamed. */
    {"[oauth]\n\nscopes = a b\n", 3,
     "[oauth] default_scope: 'todo.read' is not in [oauth] scopes"},
    {"[oauth]\nscopes = todo.read \"q\"\n", 2,
     "[oauth] scopes: '\"q\"' is not a valid scope token "
     "(RFC 6749 section 3.3)"},
    {"[oauth]\nscopes = todo.read back\\slash\n", 2,
     "[oauth] scopes: 'back\\slash' is not a valid scope token "
     "(RFC 6749 section 3.3)"},
    {"[oauth]\nscopes = todo.read  todo.write\n", 2,
     "[oauth] scopes: must be scope tokens separated by single spaces"},
    {"[oauth]\nscopes = todo.read todo.write todo.read\n", 2,
     "[oauth] scopes: 'todo.read' is listed twice"},
    /* TLS, gateway, URLs. */
    {"[server]\ntls_cert = /c.pem\n", 2,
     "[server] tls_cert: needs [server] tls_key as well"},
    {"[server]\ntls_key = /k.pem\n", 2,
     "[server] tls_key: needs [server] tls_cert as well"},
    {"[gateway]\npath = api/\n", 2,
     "[gateway] path: must start and end with '/'"},
    {"[gateway]\npath = /api\n", 2,
     "[gateway] path: must start and end with '/'"},
    {"[gateway]\nupstream = 127.0.0.1:5000\n", 2,
     "[gateway] upstream: must be an absolute http:// or https:// URL"},
    {"[plugin]\nlogo_url = /logo.png\n", 2,
     "[plugin] logo_url: must be an absolute http:// or https:// URL"},
    {"[database]\nurl =\n", 2, "[database] url: must not be empty"},
    {"[database]\nurl = ;x\n", 2, "[database] url: must not be empty"},
    {"[database]\nurl =;x\n", 2,
     "[database] url: must not contain ';' at the start or after a "
     "space (it starts a comment)"},
    /* libinih would drop the key silently. */
    {"[server] threads = 4\n", 1,
     "text after ']' (put each key on a line of its own)"},
    /* Syntax. */
    {"[server\nthreads = 1\n", 1,
     "syntax error (expected [section], key = value or a ; comment)"},
    {"[server]\njust words\n", 2,
     "syntax error (expected [section], key = value or a ; comment)"},
    /* The first error wins, whichever kind. */
    {"[server]\nnonsense\nthreads = x\n", 2,
     "syntax error (expected [section], key = value or a ; comment)"},
    {"[server]\nthreads = x\nnonsense\n", 2,
     "[server] threads: must be a number"},
    {"[server]\nthreads = 1\nlog_level = x\nthreads = y\n", 3,
     "[server] log_level: must be one of error|warn|info|debug"},
};

static void
test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct config *c = UNTOUCHED;
		char err[ERRLEN], want[ERRLEN], path[64];
		enum status rc;

		rc = load_text(bad_files[i].text, path, &c, err);
		assert_true(snprintf(want, sizeof(want), "%s:%d: %s", path,
		                     bad_files[i].line, bad_files[i].msg) > 0);
		if (rc != ST_INVALID || strcmp(err, want) != 0)
			fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc,
			         err, want);
		assert_ptr_equal(c, UNTOUCHED);
	}
}

/* Never echo a value: database.url may hold a password. */
static void
test_values_not_echoed(void **state)
{
	struct config *c = UNTOUCHED;
	char err[ERRLEN], path[64];

	(void)state;
	assert_int_equal(load_text("[database]\nurl = postgresql://u:hunter2@h/"
	                           "db\x01\n",
	                           path, &c, err),
	                 ST_INVALID);
	assert_non_null(strstr(err, "[database] url: must not contain control "
	                            "characters"));
	assert_null(strstr(err, "hunter2"));
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_int_equal(cfg_set(c, "database", "url",
	                         "postgresql://u:hunter2@h/db ;x", err,
	                         sizeof(err)),
	                 ST_INVALID);
	assert_null(strstr(err, "hunter2"));
	assert_string_equal(c->database.url, "sqlite:plugauth.db");
	cfg_free(c);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[server]\nthreads = 1\0 2\n";
	struct config *c = UNTOUCHED;
	char err[ERRLEN], want[ERRLEN], path[64];
	enum status rc;

	(void)state;
	tmp_write(path, text, sizeof(text) - 1);
	rc = cfg_load(path, true, &c, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, ST_INVALID);
	assert_true(snprintf(want, sizeof(want),
	                     "%s:2: line contains a NUL byte", path) > 0);
	assert_string_equal(err, want);
	assert_ptr_equal(c, UNTOUCHED);
}

static char *
repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/*
 * libinih (Debian build) reads lines into a 200-byte buffer and parses
 * the rest of a longer line as further lines: the value was silently cut
 * to 195 characters, and what followed could even parse as another key
 * or a [section]. Long lines must be refused instead.
 */
static void
test_long_lines(void **state)
{
	struct config *c = UNTOUCHED;
	char err[ERRLEN], want[ERRLEN], path[64], text[1200];
	char *x = repeat('x', 500);
	char *y;

	(void)state;
	/* A 500-character value. */
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %s\n", x) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_true(
	    snprintf(want, sizeof(want),
	             "%s:2: line too long (524 characters; at most 199)",
	             path) > 0);
	assert_string_equal(err, want);
	assert_ptr_equal(c, UNTOUCHED);

	/* The tail at the cut would read as a key and as a section. */
	y = repeat('y', 199 - strlen("description_for_model = "));
	assert_true(
	    snprintf(text, sizeof(text),
	             "[plugin]\ndescription_for_model = %sname_for_model = "
	             "evil\n",
	             y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_non_null(strstr(err, ":2: line too long"));
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %s[oauth]\n"
	                     "code_ttl = 11\n",
	                     y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_non_null(strstr(err, ":2: line too long"));
	assert_ptr_equal(c, UNTOUCHED);

	/* Tails libinih accepted without any error: a comment (the value
	 * just cut), a continuation line, and a key injected. */
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %s;tail\n",
	                     y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_non_null(strstr(err, ":2: line too long"));
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %s  more\n",
	                     y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_non_null(strstr(err, ":2: line too long"));
	assert_ptr_equal(c, UNTOUCHED);

	/* Exactly 199 characters: read whole. */
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %s\n", y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_OK);
	assert_string_equal(c->plugin.description_for_model, y);
	cfg_free(c);
	c = UNTOUCHED;

	/* 200: refused. */
	assert_true(snprintf(text, sizeof(text),
	                     "[plugin]\ndescription_for_model = %sz\n", y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
	assert_non_null(strstr(err, ":2: line too long (200 characters"));

	/* Surrounding blanks do not count; long comments are fine. */
	assert_true(
	    snprintf(text, sizeof(text),
	             "; %s\n[plugin]\n   description_for_model = %s   \r\n", x,
	             y) > 0);
	assert_int_equal(load_text(text, path, &c, err), ST_OK);
	assert_string_equal(c->plugin.description_for_model, y);
	cfg_free(c);
	free(x);
	free(y);
}

static void
test_missing_file(void **state)
{
	struct config *c = UNTOUCHED;
	char err[ERRLEN];
	const char *path = "/tmp/plugauth-cfg-does-not-exist.conf";

	(void)state;
	unlink(path);
	assert_int_equal(cfg_load(path, true, &c, err, sizeof(err)),
	                 ST_NOTFOUND);
	assert_string_equal(err, "/tmp/plugauth-cfg-does-not-exist.conf: No "
	                         "such file or directory");
	assert_ptr_equal(c, UNTOUCHED);

	assert_int_equal(cfg_load(path, false, &c, err, sizeof(err)), ST_OK);
	assert_string_equal(c->oauth.registration, "closed");
	cfg_free(c);

	/* A directory is not a missing file. */
	c = UNTOUCHED;
	assert_int_equal(cfg_load("/tmp", false, &c, err, sizeof(err)),
	                 ST_INVALID);
	assert_string_equal(err, "/tmp:1: cannot read: Is a directory");
	assert_ptr_equal(c, UNTOUCHED);
}

/* Only a missing file may be skipped, not one we cannot read. */
static void
test_unreadable_file(void **state)
{
	struct config *c = UNTOUCHED;
	char err[ERRLEN], want[ERRLEN], path[64];
	enum status rc;

	(void)state;
	if (geteuid() == 0) {
		/* Root reads any file: a directory cannot be read by anyone. */
		char dir[] = "/tmp/plugauth-cfgdir-XXXXXX";

		assert_non_null(mkdtemp(dir));
		rc = cfg_load(dir, false, &c, err, sizeof(err));
		rmdir(dir);
		assert_int_equal(rc, ST_INVALID);
		assert_true(snprintf(want, sizeof(want),
		                     "%s:1: cannot read: "
		                     "Is a directory",
		                     dir) > 0);
		assert_string_equal(err, want);
		assert_ptr_equal(c, UNTOUCHED);
		return;
	}
	tmp_write(path, "[server]\n", 9);
	assert_int_equal(chmod(path, 0), 0);
	rc = cfg_load(path, false, &c, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, ST_INVALID);
	assert_true(
	    snprintf(want, sizeof(want), "%s: Permission denied", path) > 0);
	assert_string_equal(err, want);
	assert_ptr_equal(c, UNTOUCHED);
}

static void
test_env_overrides_file(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN], path[64];

	(void)state;
	setenv("PLUGAUTH_OAUTH_CODE_TTL", "200", 1);
	setenv("PLUGAUTH_DATABASE_URL", "sqlite:/var/lib/pa.db", 1);
	setenv("PLUGAUTH_PLUGIN_VERIFICATION_TOKENS_OPENAI", "tok-env", 1);
	setenv("PLUGAUTH_SERVER_ISSUER", "https://env.example.com/", 1);
	setenv("PLUGAUTH_PLUGIN_AUTHORIZATION_CONTENT_TYPE",
	       "application/x-www-form-urlencoded", 1);
	setenv("PLUGAUTH_GATEWAY_UPSTREAM", "", 1); /* unsets */
	setenv("PLUGAUTH_CONFIG", "/not/a/key", 1); /* ignored */
	assert_int_equal(load_text("[oauth]\ncode_ttl = 100\naccess_ttl = 120\n"
	                           "[plugin.verification_tokens]\n"
	                           "openai = tok-file\n"
	                           "[gateway]\nupstream = http://[::1]:5000\n",
	                           path, &c, err),
	                 ST_OK);
	env_clear(NULL);
	assert_int_equal(c->oauth.code_ttl, 200);
	assert_int_equal(c->oauth.access_ttl, 120); /* file still */
	assert_string_equal(c->database.url, "sqlite:/var/lib/pa.db");
	assert_string_equal(c->plugin.verification_openai, "tok-env");
	assert_string_equal(c->server.issuer, "https://env.example.com");
	assert_string_equal(c->plugin.authorization_content_type,
	                    "application/x-www-form-urlencoded");
	assert_null(c->gateway.upstream);
	cfg_free(c);
}

static const struct {
	const char *var, *value;
	const char *err;
} bad_env[] = {
    {"PLUGAUTH_OAUTH_CODE_TTL", "5",
     "environment PLUGAUTH_OAUTH_CODE_TTL: must be 10..3600"},
    {"PLUGAUTH_SERVER_THREADS", "many",
     "environment PLUGAUTH_SERVER_THREADS: must be a number"},
    {"PLUGAUTH_SERVER_LOG_LEVEL", "trace",
     "environment PLUGAUTH_SERVER_LOG_LEVEL: must be one of "
     "error|warn|info|debug"},
    {"PLUGAUTH_DATABASE_URL", "",
     "environment PLUGAUTH_DATABASE_URL: must not be empty"},
    {"PLUGAUTH_PLUGIN_DESCRIPTION_FOR_HUMAN", "two\nlines",
     "environment PLUGAUTH_PLUGIN_DESCRIPTION_FOR_HUMAN: must not "
     "contain control characters"},
    /* Rules between keys name the variable too. */
    {"PLUGAUTH_SERVER_ISSUER", "http://auth.example.com",
     "environment PLUGAUTH_SERVER_ISSUER: must use https unless the "
     "host is loopback (127.0.0.0/8, [::1], localhost)"},
    {"PLUGAUTH_OAUTH_DEFAULT_SCOPE", "nope",
     "environment PLUGAUTH_OAUTH_DEFAULT_SCOPE: 'nope' is not in "
     "[oauth] scopes"},
    {"PLUGAUTH_OAUTH_SCOPES", "x y",
     "environment PLUGAUTH_OAUTH_SCOPES: [oauth] default_scope: "
     "'todo.read' is not in [oauth] scopes"},
};

static void
test_env_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_env) / sizeof(bad_env[0]); i++) {
		struct config *c = UNTOUCHED;
		char err[ERRLEN];
		enum status rc;

		setenv(bad_env[i].var, bad_env[i].value, 1);
		rc = cfg_load(NULL, false, &c, err, sizeof(err));
		unsetenv(bad_env[i].var);
		if (rc != ST_INVALID || strcmp(err, bad_env[i].err) != 0)
			fail_msg("case %zu: rc %d\n got: %s\nwant: %s", i, rc,
			         err, bad_env[i].err);
		assert_ptr_equal(c, UNTOUCHED);
	}
}

/* An env value fixes what the file got wrong only if it is read first. */
static void
test_env_after_file_error(void **state)
{
	struct config *c = UNTOUCHED;
	char err[ERRLEN], path[64];

	(void)state;
	setenv("PLUGAUTH_OAUTH_CODE_TTL", "100", 1);
	assert_int_equal(load_text("[oauth]\ncode_ttl = 1\n", path, &c, err),
	                 ST_INVALID);
	unsetenv("PLUGAUTH_OAUTH_CODE_TTL");
	assert_non_null(strstr(err, ":2: [oauth] code_ttl: must be 10..3600"));
	assert_ptr_equal(c, UNTOUCHED);
}

static void
load_render(const char *text, struct buf *out, struct config **c)
{
	char err[ERRLEN], path[64];

	if (load_text(text, path, c, err) != ST_OK)
		fail_msg("%s", err);
	buf_init(out, 1 << 16);
	assert_int_equal(cfg_render(*c, out), ST_OK);
}

static void
test_render_roundtrip(void **state)
{
	struct config *c1, *c2;
	struct buf r1, r2;

	(void)state;
	load_render(good_file, &r1, &c1);
	load_render(r1.p, &r2, &c2);
	check_good(c2);
	assert_string_equal(r1.p, r2.p);
	/* Secrets are written as they are: this is the file. */
	assert_non_null(strstr(r1.p, "\nurl = postgresql://pa:s3cret@"));
	assert_non_null(strstr(r1.p, "\n[plugin.verification_tokens]\n"));
	assert_non_null(strstr(r1.p, "\nopenai = abc123def456\n"));
	cfg_free(c1);
	cfg_free(c2);
	buf_free(&r1);
	buf_free(&r2);
}

static void
test_render_defaults(void **state)
{
	struct config *c1, *c2;
	struct buf r1, r2;
	static const char *const unset[] = {
	    "tls_cert",    "tls_key",      "logo_url", "legal_info_url",
	    "openapi_url", "openapi_file", "openai",   "upstream"};
	char line[64];

	(void)state;
	load_render("", &r1, &c1);
	/* Unset optional keys are there, commented out. */
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
		assert_true(
		    snprintf(line, sizeof(line), "\n; %s = ", unset[i]) > 0);
		assert_non_null(strstr(r1.p, line));
		assert_true(snprintf(line, sizeof(line), "\n%s =", unset[i]) >
		            0);
		assert_null(strstr(r1.p, line));
	}
	assert_non_null(strstr(r1.p, "\n[server]\n"));
	assert_non_null(strstr(r1.p, "\nissuer = http://127.0.0.1:8080\n"));
	assert_non_null(strstr(r1.p, "\nscopes = todo.read todo.write\n"));
	assert_non_null(strstr(r1.p, "\ncode_ttl = 120\n"));
	load_render(r1.p, &r2, &c2);
	assert_string_equal(r1.p, r2.p);
	assert_null(c2->server.tls_cert);
	assert_null(c2->gateway.upstream);
	assert_int_equal(c2->oauth.refresh_ttl, 2592000);
	cfg_free(c1);
	cfg_free(c2);
	buf_free(&r1);
	buf_free(&r2);
}

/* What the file could not hold is refused rather than written. */
static void
test_render_refuses_long_value(void **state)
{
	struct config *c;
	struct buf b;
	char err[ERRLEN];
	char *v = repeat('v', 250);

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_int_equal(
	    cfg_set(c, "plugin", "description_for_model", v, err, sizeof(err)),
	    ST_OK);
	buf_init(&b, 1 << 16);
	assert_int_equal(cfg_render(c, &b), ST_INVALID);
	assert_null(b.p);
	buf_free(&b);
	cfg_free(c);
	free(v);

	/* Set by hand, past cfg_set(): a newline would forge a key. */
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	free(c->plugin.name_for_human);
	c->plugin.name_for_human = strdup("x\nregistration = open");
	assert_non_null(c->plugin.name_for_human);
	buf_init(&b, 1 << 16);
	assert_int_equal(cfg_render(c, &b), ST_INVALID);
	assert_null(b.p);
	cfg_free(c);
}

static void
test_set(void **state)
{
	struct config *c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_int_equal(
	    cfg_set(c, "oauth", "code_ttl", " 600 ", err, sizeof(err)), ST_OK);
	assert_int_equal(c->oauth.code_ttl, 600);
	assert_int_equal(
	    cfg_set(c, "oauth", "code_ttl", "6000", err, sizeof(err)),
	    ST_INVALID);
	assert_string_equal(err, "[oauth] code_ttl: must be 10..3600");
	assert_int_equal(c->oauth.code_ttl, 600); /* kept */
	assert_int_equal(cfg_set(c, "oauth", "nope", "1", err, sizeof(err)),
	                 ST_NOTFOUND);
	assert_string_equal(err, "[oauth] nope: unknown key");
	assert_int_equal(cfg_set(c, "nope", "code_ttl", "1", err, sizeof(err)),
	                 ST_NOTFOUND);
	assert_string_equal(err, "[nope] code_ttl: unknown section");
	assert_int_equal(cfg_set(c, "server", "issuer", "https://a.example///",
	                         err, sizeof(err)),
	                 ST_OK);
	assert_string_equal(c->server.issuer, "https://a.example");
	assert_int_equal(
	    cfg_set(c, "server", "tls_cert", "/c", err, sizeof(err)), ST_OK);
	assert_int_equal(cfg_set(c, "server", "tls_cert", "", err, sizeof(err)),
	                 ST_OK);
	assert_null(c->server.tls_cert);
	/* A small error buffer is cut, not overrun. */
	assert_int_equal(cfg_set(c, "oauth", "code_ttl", "1", err, 8),
	                 ST_INVALID);
	assert_string_equal(err, "[oauth]");
	assert_int_equal(cfg_set(c, "oauth", "code_ttl", "1", NULL, 0),
	                 ST_INVALID);
	cfg_free(c);
	cfg_free(NULL);
}

static void
test_validate(void **state)
{
	struct config *c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_int_equal(cfg_set(c, "oauth", "default_scope", "todo.admin", err,
	                         sizeof(err)),
	                 ST_OK); /* no cross-key checks in cfg_set() */
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_INVALID);
	assert_string_equal(err, "[oauth] default_scope: 'todo.admin' is not "
	                         "in [oauth] scopes");
	assert_int_equal(cfg_set(c, "oauth", "default_scope", "todo.write", err,
	                         sizeof(err)),
	                 ST_OK);
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_OK);

	/* A configuration built by hand is checked key by key too. */
	c->oauth.code_ttl = 5;
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_INVALID);
	assert_string_equal(err, "[oauth] code_ttl: must be 10..3600");
	c->oauth.code_ttl = 120;
	free(c->server.log_level);
	c->server.log_level = NULL;
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_INVALID);
	assert_string_equal(err, "[server] log_level: must be set");
	assert_int_equal(
	    cfg_set(c, "server", "log_level", "warn", err, sizeof(err)), ST_OK);
	free(c->server.issuer);
	c->server.issuer = strdup("https://a.example/");
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_INVALID);
	assert_string_equal(err, "[server] issuer: must not end with '/'");
	cfg_free(c);
}

static const struct {
	const char *url;
	bool loopback;
} loopback[] = {
    {"http://127.0.0.1", true},
    {"http://127.0.0.1:8080/cb?x=1", true},
    {"https://127.255.3.4", true},
    {"http://localhost", true},
    {"HTTP://LocalHost:99/", true},
    {"http://[::1]:8080", true},
    {"http://[0:0:0:0:0:0:0:1]/", true},
    {"http://user@127.0.0.1/", true},
    {"http://128.0.0.1", false},
    {"http://126.255.255.255", false},
    {"http://127.0.0.1.nip.io", false},
    {"http://localhost.example.com", false},
    {"http://127.0.0.1@evil.example", false},
    {"http://evil.example#@127.0.0.1", false},
    {"http://evil.example?@127.0.0.1", false},
    {"http://evil.example/127.0.0.1", false},
    {"http://127.0.0.1\\@evil.example", false},
    {"http://[::2]", false},
    {"http://[::ffff:127.0.0.1]", false},
    {"http://127.1", false},
    {"http://0x7f.0.0.1", false},
    {"http://127.0.0.1:99999", false},
    {"ftp://127.0.0.1", false},
    {"127.0.0.1", false},
    {"http://", false},
    {"", false},
};

static void
test_url_is_loopback(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (cfg_url_is_loopback(loopback[i].url) !=
		    loopback[i].loopback)
			fail_msg("case %zu: %s", i, loopback[i].url);
	assert_false(cfg_url_is_loopback(NULL));
}

/* RFC 8707 resources: the gateway under its two names, [oauth] resources,
 * one trailing '/' aside, nothing else. */
static void
test_resources(void **state)
{
	struct config c;
	char msg[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.server.issuer = (char *)(uintptr_t) "https://plug.example";
	c.gateway.path = (char *)(uintptr_t) "/api/";
	c.oauth.resources = (char *)(uintptr_t) " https://mcp.example/mcp  "
	                                        "http://127.0.0.1:9/m ";
	assert_true(cfg_resource_is_gateway(&c, "https://plug.example"));
	assert_true(cfg_resource_is_gateway(&c, "https://plug.example/"));
	assert_true(cfg_resource_is_gateway(&c, "https://plug.example/api/"));
	assert_true(cfg_resource_is_gateway(&c, "https://plug.example/api"));
	assert_false(cfg_resource_is_gateway(&c, "https://plug.example/api/x"));
	assert_false(cfg_resource_is_gateway(&c, "https://plug.example/apix"));
	assert_false(cfg_resource_is_gateway(&c, "https://plug.example.evil/"));
	assert_false(cfg_resource_is_gateway(&c, "https://plug.example//"));
	assert_false(cfg_resource_is_gateway(&c, "https://mcp.example/mcp"));
	assert_true(cfg_resource_known(&c, "https://mcp.example/mcp"));
	assert_true(cfg_resource_known(&c, "https://mcp.example/mcp/"));
	assert_true(cfg_resource_known(&c, "http://127.0.0.1:9/m"));
	assert_true(cfg_resource_known(&c, "https://plug.example/api/"));
	assert_false(cfg_resource_known(&c, "https://mcp.example/mc"));
	assert_false(cfg_resource_known(&c, "https://mcp.example/mcp/x"));
	assert_false(cfg_resource_known(&c, ""));
	assert_true(
	    cfg_resource_same("https://a.example/x/", "https://a.example/x"));
	assert_false(
	    cfg_resource_same("https://a.example/x//", "https://a.example/x"));
	assert_true(cfg_resources_ok(NULL, msg, sizeof(msg)));
	assert_true(cfg_resources_ok(c.oauth.resources, msg, sizeof(msg)));
	assert_false(
	    cfg_resources_ok("https://a.example/#f", msg, sizeof(msg)));
	assert_false(
	    cfg_resources_ok("https://a.example/?q", msg, sizeof(msg)));
	assert_false(
	    cfg_resources_ok("https://u@a.example/", msg, sizeof(msg)));
	assert_false(cfg_resources_ok("http://a.example/", msg, sizeof(msg)));
	assert_false(cfg_resources_ok("a.example", msg, sizeof(msg)));
}

static const struct {
	const char *listen;
	const char *host; /* NULL: must fail */
	unsigned port;
} listens[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080},
    {"0.0.0.0:0", "0.0.0.0", 0},
    {"localhost:65535", "localhost", 65535},
    {"[::1]:8080", "::1", 8080},
    {"[::]:443", "::", 443},
    {"plugin-1.example.com:80", "plugin-1.example.com", 80},
    {"8080", NULL, 0},
    {":8080", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:65536", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:80x", NULL, 0},
    {"127.0.0.1:8080:1", NULL, 0},
    {"::1:8080", NULL, 0},
    {"[::1]8080", NULL, 0},
    {"[::1]", NULL, 0},
    {"[::1]:", NULL, 0},
    {"[nothost]:80", NULL, 0},
    {"a b:80", NULL, 0},
    {"", NULL, 0},
};

static void
test_listen_split(void **state)
{
	char host[64];
	unsigned port;

	(void)state;
	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		bool ok;

		port = 12345;
		ok = cfg_listen_split(listens[i].listen, host, sizeof(host),
		                      &port);
		if (ok != (listens[i].host != NULL))
			fail_msg("case %zu: %s", i, listens[i].listen);
		if (ok) {
			assert_string_equal(host, listens[i].host);
			assert_int_equal(port, listens[i].port);
		} else
			assert_int_equal(port, 12345);
	}
	/* hostbuf too small. */
	assert_false(cfg_listen_split("127.0.0.1:80", host, 9, &port));
	assert_true(cfg_listen_split("127.0.0.1:80", host, 10, &port));
	assert_false(cfg_listen_split(NULL, host, sizeof(host), &port));
}

int main(void);

/* [gateway.scopes]: methods and an optional prefix as keys, rendered back
 * as read; bad rules name the file, line and key. */
static void
test_gateway_scopes(void **state)
{
	static const struct {
		const char *line, *msg;
	} bad[] = {
	    {"GET = nope", "GET: 'nope' is not in [oauth] scopes"},
	    {"get = a", "get: 'get' is not an HTTP method"},
	    {"GET /x/ = a", "GET: path prefix must start with [gateway] path"},
	    {"/api/x/ = a", "/api/x/: must name HTTP methods"},
	    {"GET /api/ POST = a", "the path prefix must come last"},
	    {"GET = a\nPOST GET = b", "POST GET: GET for /api/ given twice"},
	    {"GET = a  b", "must be scope tokens separated by single"},
	};
	struct config *c = UNTOUCHED, *c2;
	struct buf r, r2;
	char err[ERRLEN], path[64], text[256];

	(void)state;
	load_render("[oauth]\nscopes = a b\ndefault_scope = a\n"
	            "[gateway.scopes]\n"
	            "GET = a\n"
	            "POST  PUT\tDELETE = b\n"
	            "GET /api/admin/ = a b\n",
	            &r, &c2);
	assert_int_equal(c2->gateway.nrules, 3);
	assert_string_equal(c2->gateway.rules[1].methods, "POST PUT DELETE");
	assert_null(c2->gateway.rules[1].prefix);
	assert_string_equal(c2->gateway.rules[2].prefix, "/api/admin/");
	assert_non_null(strstr(r.p, "\n[gateway.scopes]\n; scopes a method"));
	assert_non_null(strstr(r.p, "\nGET /api/admin/ = a b\n"));
	cfg_free(c2);
	load_render(r.p, &r2, &c2); /* the rendered file reads back */
	assert_string_equal(r.p, r2.p);
	cfg_free(c2);
	buf_free(&r);
	buf_free(&r2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(
		    snprintf(text, sizeof(text),
		             "[oauth]\nscopes = a b\ndefault_scope = a\n"
		             "[gateway.scopes]\n%s\n",
		             bad[i].line) > 0);
		c = UNTOUCHED;
		assert_int_equal(load_text(text, path, &c, err), ST_INVALID);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, "[gateway.scopes] "));
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: %s", bad[i].line, err);
		assert_ptr_equal(c, UNTOUCHED);
	}
}

/* [oauth.scope_descriptions]: scopes as keys, checked against [oauth]
 * scopes with the line named, rendered back as they were read. */
static void
test_scope_descriptions(void **state)
{
	struct config *c = UNTOUCHED, *c2;
	struct buf r, r2;
	char err[ERRLEN], want[ERRLEN], path[64];

	(void)state;
	load_render("[oauth.scope_descriptions]\n"
	            "notes.read = See your notes\n"
	            "[oauth]\n"
	            "scopes = notes.read notes.write\n"
	            "default_scope = notes.read\n",
	            &r, &c2);
	assert_string_equal(cfg_scope_description(c2, "notes.read", 10),
	                    "See your notes");
	assert_null(cfg_scope_description(c2, "notes.write", 11));
	assert_null(cfg_scope_description(c2, "notes.rea", 9));
	assert_non_null(strstr(r.p, "\n[oauth.scope_descriptions]\n"
	                            "; what the consent page says"));
	assert_non_null(strstr(r.p, "\nnotes.read = See your notes\n"));
	cfg_free(c2);
	load_render(r.p, &r2, &c2); /* the rendered file reads back */
	assert_string_equal(r.p, r2.p);
	cfg_free(c2);
	buf_free(&r);
	buf_free(&r2);

	/* A scope the server does not know: the file and the line. */
	assert_int_equal(load_text("[oauth]\nscopes = a b\ndefault_scope = a\n"
	                           "[oauth.scope_descriptions]\n"
	                           "a = Do A\n"
	                           "nope = Do what?\n",
	                           path, &c, err),
	                 ST_INVALID);
	assert_true(snprintf(want, sizeof(want),
	                     "%s:6: [oauth.scope_descriptions] nope: 'nope' "
	                     "is not in [oauth] scopes",
	                     path) > 0);
	assert_string_equal(err, want);
	assert_ptr_equal(c, UNTOUCHED);
	/* Given twice. */
	assert_int_equal(load_text("[oauth.scope_descriptions]\n"
	                           "todo.read = A\ntodo.read = B\n",
	                           path, &c, err),
	                 ST_INVALID);
	assert_non_null(strstr(err, ":3: [oauth.scope_descriptions] todo.read: "
	                            "given twice (first on line 2)"));
	assert_ptr_equal(c, UNTOUCHED);
}

/* cfg_set() and cfg_validate() on descriptions, as init and demo use. */
static void
test_scope_descriptions_set(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_int_equal(cfg_set(c, CFG_SCOPE_DESCS_SECTION, "todo.read",
	                         "Read <it>", err, sizeof(err)),
	                 ST_OK);
	assert_int_equal(cfg_set(c, CFG_SCOPE_DESCS_SECTION, "todo.read",
	                         "Read it", err, sizeof(err)),
	                 ST_OK); /* replaced */
	assert_string_equal(cfg_scope_description(c, "todo.read", 9),
	                    "Read it");
	assert_int_equal(cfg_set(c, CFG_SCOPE_DESCS_SECTION, "todo.write", "",
	                         err, sizeof(err)),
	                 ST_INVALID);
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_OK);
	assert_int_equal(
	    cfg_set(c, CFG_SCOPE_DESCS_SECTION, "other", "x", err, sizeof(err)),
	    ST_OK);
	assert_int_equal(cfg_validate(c, err, sizeof(err)), ST_INVALID);
	assert_string_equal(err, "[oauth.scope_descriptions] other: 'other' "
	                         "is not in [oauth] scopes");
	cfg_free(c);
}

/* The name on the sign-in pages: [service] name, name_for_human, host. */
static void
test_service_name(void **state)
{
	struct config *c = NULL;
	char err[ERRLEN], buf[64];

	(void)state;
	assert_int_equal(cfg_load(NULL, false, &c, err, sizeof(err)), ST_OK);
	assert_string_equal(cfg_service_name(c, buf, sizeof(buf)), "127.0.0.1");
	assert_int_equal(
	    cfg_set(c, "plugin", "name_for_human", "Notes", err, sizeof(err)),
	    ST_OK);
	assert_string_equal(cfg_service_name(c, buf, sizeof(buf)), "Notes");
	assert_int_equal(
	    cfg_set(c, "service", "name", "Acme Notes", err, sizeof(err)),
	    ST_OK);
	assert_string_equal(cfg_service_name(c, buf, sizeof(buf)),
	                    "Acme Notes");
	cfg_free(c);

	cfg_name_from_issuer("https://notes.example.com", 20, buf, sizeof(buf));
	assert_string_equal(buf, "notes.example.com");
	cfg_name_from_issuer("https://notes-api.internal.example.com:8443/x",
	                     20, buf, sizeof(buf));
	assert_string_equal(buf, "notes-api");
	cfg_name_from_issuer("https://a-very-long-first-label-here.example.com",
	                     20, buf, sizeof(buf));
	assert_string_equal(buf, "a-very-long-first-la");
	cfg_name_from_issuer("http://[::1]:9000", 20, buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	cfg_name_from_issuer("not a url", 20, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_good_file),
	    cmocka_unit_test(test_file_forms),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_values_not_echoed),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_unreadable_file),
	    cmocka_unit_test(test_env_overrides_file),
	    cmocka_unit_test(test_env_bad),
	    cmocka_unit_test(test_env_after_file_error),
	    cmocka_unit_test(test_render_roundtrip),
	    cmocka_unit_test(test_render_defaults),
	    cmocka_unit_test(test_render_refuses_long_value),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_url_is_loopback),
	    cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_listen_split),
	    cmocka_unit_test(test_scope_descriptions),
	    cmocka_unit_test(test_gateway_scopes),
	    cmocka_unit_test(test_scope_descriptions_set),
	    cmocka_unit_test(test_service_name),
	};

	return cmocka_run_group_tests(tests, env_clear, NULL);
}
