/*
 * The configuration keys: one row per key drives defaults, the INI file,
 * the environment, validation, rendering and freeing. Adding a key is one
 * row in cfg_keys[] and one field in struct config. Also cfg_render().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_int.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};
static const char *const registrations[] = {"closed", "open", "token", NULL};
static const char *const token_formats[] = {"opaque", "jwt", NULL};
static const char *const on_off[] = {"off", "on", NULL};
static const char *const content_types[] = {
    "application/json", "application/x-www-form-urlencoded", NULL};

const struct cfg_key cfg_keys[] = {
    {"server", "listen", CFG_STR, "127.0.0.1:8080", 0, 0, NULL, 0,
     OFF(server.listen), "host:port to listen on, IPv6 as [::1]:8080", NULL},
    {"server", "issuer", CFG_URL, "http://127.0.0.1:8080", 0, 0, NULL,
     CFG_NOSLASH, OFF(server.issuer),
     "public base URL; https required unless the host is loopback", NULL},
    {"server", "threads", CFG_UINT, "0", 0, 256, NULL, 0, OFF(server.threads),
     "worker threads, 0 = one per core", NULL},
    {"server", "blocking_threads", CFG_UINT, "32", 1, 1024, NULL, 0,
     OFF(server.blocking_threads),
     "threads for the handlers that block (token, revoke, sign-in)", NULL},
    {"server", "tls_cert", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.tls_cert), "PEM certificate chain (needs tls_key)",
     "/etc/plugauth/cert.pem"},
    {"server", "tls_key", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.tls_key), "PEM private key (needs tls_cert)",
     "/etc/plugauth/key.pem"},
    {"server", "tls_priorities", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.tls_priorities),
     "GnuTLS priority string for built-in TLS (unset: TLS 1.2 and 1.3 only)",
     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
    {"server", "body_max_bytes", CFG_UINT, "65536", 1024, 16777216, NULL, 0,
     OFF(server.body_max_bytes), "largest request body accepted", NULL},
    {"server", "connection_limit", CFG_UINT, "1024", 1, 65536, NULL, 0,
     OFF(server.connection_limit), "most concurrent connections", NULL},
    {"server", "connection_timeout", CFG_UINT, "30", 1, 3600, NULL, 0,
     OFF(server.connection_timeout), "idle connection timeout, seconds", NULL},
    {"server", "per_address_connections", CFG_UINT, "256", 0, 65536, NULL, 0,
     OFF(server.per_address_connections),
     "most concurrent connections from one address, 0 = no cap "
     "(raise it behind a reverse proxy)",
     NULL},
    {"server", "header_max_bytes", CFG_UINT, "16384", 1024, 1048576, NULL, 0,
     OFF(server.header_max_bytes), "largest request header block (431 past it)",
     NULL},
    {"server", "header_max_count", CFG_UINT, "100", 8, 10000, NULL, 0,
     OFF(server.header_max_count), "most request headers (431 past it)", NULL},
    {"server", "url_max_bytes", CFG_UINT, "8192", 256, 1048576, NULL, 0,
     OFF(server.url_max_bytes), "longest request URL (414 past it)", NULL},
    {"server", "params_max", CFG_UINT, "32", 8, 1000, NULL, 0,
     OFF(server.params_max),
     "most parameters in a token, revocation or introspection request", NULL},
    {"server", "json_max_depth", CFG_UINT, "32", 1, 1000, NULL, 0,
     OFF(server.json_max_depth), "deepest JSON nesting in a request body",
     NULL},
    {"server", "events_max_rows", CFG_UINT, "200000", 100, 100000000, NULL, 0,
     OFF(server.events_max_rows),
     "most rows kept in the event log: the oldest go after every tenth "
     "of it written, and every minute",
     NULL},
    {"server", "log_level", CFG_ENUM, "info", 0, 0, log_levels, 0,
     OFF(server.log_level), "most verbose level logged", NULL},
    {"server", "templates_dir", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(server.templates_dir),
     "login.html, consent.html, error.html overriding the built-in pages",
     "/etc/plugauth/templates"},

    {"database", "url", CFG_STR, "sqlite:plugauth.db", 0, 0, NULL, CFG_SECRET,
     OFF(database.url),
     "sqlite:PATH (relative: next to this file) or "
     "postgresql://user:pass@host/db",
     NULL},

    {"oauth", "scopes", CFG_STR, "todo.read todo.write", 0, 0, NULL, 0,
     OFF(oauth.scopes), "scopes this server knows, space-separated", NULL},
    {"oauth", "default_scope", CFG_STR, "todo.read", 0, 0, NULL, 0,
     OFF(oauth.default_scope),
     "granted when a client asks for none; must be in scopes", NULL},
    {"oauth", "code_ttl", CFG_UINT, "120", 10, 3600, NULL, 0,
     OFF(oauth.code_ttl), "authorization code lifetime, seconds", NULL},
    {"oauth", "access_ttl", CFG_UINT, "3600", 60, 86400 * 7, NULL, 0,
     OFF(oauth.access_ttl), "access token lifetime, seconds", NULL},
    {"oauth", "refresh_ttl", CFG_UINT, "2592000", 3600, 31536000, NULL, 0,
     OFF(oauth.refresh_ttl), "refresh token lifetime, seconds", NULL},
    {"oauth", "refresh_reuse_grace", CFG_UINT, "10", 0, 300, NULL, 0,
     OFF(oauth.refresh_reuse_grace),
     "seconds a rotated refresh token may be retried (0: never)", NULL},
    {"oauth", "access_token_format", CFG_ENUM, "opaque", 0, 0, token_formats, 0,
     OFF(oauth.access_token_format),
     "access tokens: random strings, or signed JWTs (docs/jwt.md)", NULL},
    {"oauth", "registration", CFG_ENUM, "closed", 0, 0, registrations, 0,
     OFF(oauth.registration),
     "dynamic client registration (RFC 7591) at /oauth/register: open to "
     "anyone, or token: with an initial access token from `plugauth "
     "registration token`",
     NULL},
    {"oauth", "registration_rate", CFG_UINT, "10", 1, 100000000, NULL, 0,
     OFF(oauth.registration_rate),
     "registrations and metadata document fetches per client address per "
     "minute (then 429)",
     NULL},
    {"oauth", "registration_max_clients", CFG_UINT, "1000", 1, 10000000, NULL,
     0, OFF(oauth.registration_max_clients),
     "most registered clients kept at once (then 400)", NULL},
    {"oauth", "registration_unused_ttl", CFG_UINT, "86400", 1, 31536000, NULL,
     0, OFF(oauth.registration_unused_ttl),
     "seconds a registered or metadata-document client that never obtained "
     "a token is kept",
     NULL},
    {"oauth", "resources", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(oauth.resources),
     "RFC 8707 resources besides the gateway that tokens may be bound "
     "to (MCP servers that check tokens themselves), space-separated "
     "https URLs",
     "https://mcp.example.com/mcp"},
    {"oauth", "client_id_metadata_documents", CFG_ENUM, "off", 0, 0, on_off, 0,
     OFF(oauth.cimd),
     "accept an https URL as client_id: a client ID metadata document, "
     "fetched and cached (docs/cimd.md)",
     NULL},
    {"oauth", "client_id_metadata_hosts", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(oauth.cimd_hosts),
     "the only hosts whose URLs may be client IDs, space-separated (unset: "
     "any public host); a listed host may be loopback or private",
     "chatgpt.com claude.ai"},
    {"oauth", "client_metadata_ca_file", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(oauth.cimd_ca_file),
     "PEM CA certificates trusted for metadata document fetches",
     "/etc/plugauth/cimd-ca.pem"},
    {"oauth", "client_metadata_timeout_ms", CFG_UINT, "5000", 100, 10000, NULL,
     0, OFF(oauth.cimd_timeout_ms),
     "longest a metadata document fetch may take, milliseconds", NULL},

    {"plugin", "name_for_human", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.name_for_human),
     "ai-plugin.json manifest fields; name_for_human: at most 20 characters "
     "(unset: [service] name if it fits, else the issuer's host)",
     "My Notes"},
    {"plugin", "name_for_model", CFG_STR, "service", 0, 0, NULL, 0,
     OFF(plugin.name_for_model), NULL, NULL},
    {"plugin", "description_for_human", CFG_STR,
     "Use your account on this service.", 0, 0, NULL, 0,
     OFF(plugin.description_for_human), NULL, NULL},
    {"plugin", "description_for_model", CFG_STR,
     "Acts on the signed-in user's account on this service through its "
     "API.",
     0, 0, NULL, 0, OFF(plugin.description_for_model), NULL, NULL},
    {"plugin", "logo_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.logo_url), "unset: <issuer>/logo.png, a built-in logo",
     "https://plugin.example.com/logo.png"},
    {"plugin", "contact_email", CFG_STR, "support@example.com", 0, 0, NULL, 0,
     OFF(plugin.contact_email), NULL, NULL},
    {"plugin", "legal_info_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.legal_info_url), NULL, "https://example.com/legal"},
    {"plugin", "openapi_url", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.openapi_url), "where ChatGPT fetches the API spec",
     "https://plugin.example.com/openapi.yaml"},
    {"plugin", "openapi_file", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(plugin.openapi_file),
     "the OpenAPI spec served at /openapi.yaml (unset: 404); its "
     "servers[0].url must be under the issuer",
     "/etc/plugauth/openapi.yaml"},
    {"plugin", "description_for_model_file", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(plugin.description_for_model_file),
     "file whose text replaces description_for_model (up to 8000 chars)",
     "/etc/plugauth/description_for_model.txt"},
    {"plugin", "authorization_content_type", CFG_ENUM, "application/json", 0, 0,
     content_types, 0, OFF(plugin.authorization_content_type),
     "how ChatGPT posts to the token endpoint", NULL},

    {"plugin.verification_tokens", "openai", CFG_STR, NULL, 0, 0, NULL,
     CFG_OPTIONAL, OFF(plugin.verification_openai), "token from the ChatGPT UI",
     "0123456789abcdef"},

    {"service", "name", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(service.name),
     "what users see on the sign-in pages (unset: [plugin] name_for_human, "
     "else the issuer's host)",
     "My Notes"},

    {"auth", "session_ttl", CFG_UINT, "86400", 300, 2592000, NULL, 0,
     OFF(auth.session_ttl), "sign-in session lifetime, seconds", NULL},
    {"auth", "login_max_failures", CFG_UINT, "5", 1, 1000, NULL, 0,
     OFF(auth.login_max_failures),
     "failed sign-ins per user within login_window before a pause", NULL},
    {"auth", "login_max_failures_per_address", CFG_UINT, "20", 1, 100000, NULL,
     0, OFF(auth.login_max_failures_per_address),
     "failed sign-ins per client address within login_window", NULL},
    {"auth", "login_window", CFG_UINT, "900", 10, 86400, NULL, 0,
     OFF(auth.login_window), "seconds failed sign-ins are counted", NULL},

    {"gateway", "upstream", CFG_URL, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(gateway.upstream), "the plugin's own API", "http://127.0.0.1:5000"},
    {"gateway", "path", CFG_STR, "/api/", 0, 0, NULL, 0, OFF(gateway.path),
     "requests under this path are proxied, path kept", NULL},
    {"gateway", "scope", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(gateway.scope), "scope every request under path needs (403 without)",
     "todo.read"},
    {"gateway", "timeout", CFG_UINT, "30", 1, 3600, NULL, 0,
     OFF(gateway.timeout), "seconds to wait for the upstream (then 504)", NULL},
    {"gateway", "body_max_bytes", CFG_UINT, "1048576", 1024, 67108864, NULL, 0,
     OFF(gateway.body_max_bytes),
     "largest request body passed to the upstream (413 past it)", NULL},
    {"gateway", "response_max_bytes", CFG_UINT, "10485760", 1024, 1073741824,
     NULL, 0, OFF(gateway.response_max_bytes),
     "largest upstream response passed on (then 502)", NULL},
    {"gateway", "stream_idle_timeout", CFG_UINT, "300", 1, 86400, NULL, 0,
     OFF(gateway.stream_idle_timeout),
     "seconds a text/event-stream answer may stay silent (then closed)", NULL},
    {"gateway", "max_streams_per_token", CFG_UINT, "4", 1, 10000, NULL, 0,
     OFF(gateway.max_streams_per_token),
     "open text/event-stream answers per access token (then 429)", NULL},
    {"gateway", "max_streams_per_address", CFG_UINT, "32", 1, 100000, NULL, 0,
     OFF(gateway.max_streams_per_address),
     "open text/event-stream answers per client address (then 429)", NULL},
    {"gateway", "identity_secret_file", CFG_STR, NULL, 0, 0, NULL, CFG_OPTIONAL,
     OFF(gateway.identity_secret_file),
     "file of >= 32 secret bytes (mode 0600): adds X-Plugauth-Signature",
     "/etc/plugauth/identity.key"},
};

const size_t cfg_nkeys = ARRAY_LEN(cfg_keys);
_Static_assert(ARRAY_LEN(cfg_keys) <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");

const struct cfg_key *
cfg_key_at(size_t off)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (cfg_keys[i].off == off)
			return &cfg_keys[i];
	abort(); /* a field without a row in cfg_keys[] */
}

/* True if "key = value" survives a trip through the INI file as is. */
bool
cfg_value_fits_ini(struct str v, const char **why)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x20 || c == 0x7f) {
			*why = "must not contain control characters";
			return false;
		}
		/* libinih: ';' after whitespace starts an inline comment. */
		if (c == ';' && (i == 0 || v.p[i - 1] == ' ')) {
			*why = "must not contain ';' at the start or after a "
			       "space (it starts a comment)";
			return false;
		}
	}
	if (v.len > 0 && (v.p[0] == ' ' || v.p[v.len - 1] == ' ')) {
		*why = "must not start or end with a space";
		return false;
	}
	return true;
}

/* "a|b|c" for messages and comments; cut short if dst is too small. */
const char *
cfg_choices_join(const char *const *c, char *dst, size_t dstsz)
{
	size_t len = 0;
	int n;

	dst[0] = '\0';
	for (; *c != NULL; c++) {
		n = snprintf(dst + len, dstsz - len, "%s%s", len > 0 ? "|" : "",
		             *c);
		if (n < 0 || (size_t)n >= dstsz - len) {
			dst[len] = '\0';
			break;
		}
		len += (size_t)n;
	}
	return dst;
}

static const char render_head[] =
    "; plugauth configuration.\n"
    ";\n"
    "; Every key can be overridden from the environment as\n"
    "; PLUGAUTH_<SECTION>_<KEY> (upper case, dots as underscores),\n"
    "; e.g. PLUGAUTH_DATABASE_URL. Lines are at most 199 characters.\n"
    "; This file may hold secrets: keep it readable by plugauth only.\n";

enum status
cfg_render(const struct config *cfg, struct buf *out)
{
	const struct cfg_key *k;
	const char *prev = "", *v, *why;
	char num[16], list[128];
	enum status rc;
	int n;

	rc = buf_adds(out, render_head);
	for (size_t i = 0; i < cfg_nkeys && rc == ST_OK; i++) {
		k = &cfg_keys[i];
		if (strcmp(prev, "oauth") == 0 &&
		    strcmp(k->section, "oauth") != 0)
			rc = cfg_scope_descs_render(cfg, out);
		if (rc == ST_OK && strcmp(prev, k->section) != 0)
			rc = buf_printf(out, "\n[%s]\n", k->section);
		prev = k->section;
		list[0] = '\0';
		if (k->type == CFG_UINT) {
			n = snprintf(list, sizeof(list), "%u..%u", k->min,
			             k->max);
			if (n < 0 || (size_t)n >= sizeof(list))
				list[0] = '\0';
		} else if (k->type == CFG_ENUM)
			cfg_choices_join(k->choices, list, sizeof(list));
		if (rc == ST_OK && k->help != NULL && list[0] != '\0')
			rc = buf_printf(out, "; %s (%s)\n", k->help, list);
		else if (rc == ST_OK && k->help != NULL)
			rc = buf_printf(out, "; %s\n", k->help);
		else if (rc == ST_OK && list[0] != '\0')
			rc = buf_printf(out, "; %s\n", list);
		if (rc != ST_OK)
			break;
		if (k->type == CFG_UINT) {
			n = snprintf(num, sizeof(num), "%u", key_cuint(cfg, k));
			if (n < 0 || (size_t)n >= sizeof(num)) {
				rc = ST_INTERNAL;
				break;
			}
			v = num;
		} else
			v = key_cstr(cfg, k);
		if (v == NULL) {
			rc = buf_printf(out, "; %s = %s\n", k->key,
			                k->example != NULL ? k->example : "");
			continue;
		}
		/* What could not be read back is refused, not written. */
		if (!cfg_value_fits_ini(str_of(v), &why) || *v == '\0' ||
		    strlen(k->key) + 3 + strlen(v) > LINE_MAX_CHARS) {
			rc = ST_INVALID;
			break;
		}
		rc = buf_printf(out, "%s = %s\n", k->key, v);
	}
	if (rc == ST_OK)
		rc = cfg_gw_rules_render(cfg, out); /* after [gateway] */
	if (rc != ST_OK)
		buf_free(out); /* as buf_add() does on error */
	return rc;
}
