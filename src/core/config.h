/*
 * Configuration: plugauth.conf (INI, via libinih) over built-in defaults,
 * then PLUGAUTH_<SECTION>_<KEY> environment overrides, all driven by one
 * table of keys with types, defaults and ranges. Parsed once at start-up.
 */
#ifndef PLUGAUTH_CONFIG_H
#define PLUGAUTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

/* One line of [oauth.scope_descriptions]: what the consent page says for a
 * scope. */
struct cfg_scope_desc {
	char *scope;
	char *text;
	int line; /* in the file; 0 if set otherwise */
};

#define CFG_SCOPE_DESCS_MAX 64
#define CFG_SCOPE_DESCS_SECTION "oauth.scope_descriptions"

/* One line of [gateway.scopes]: "GET POST /api/admin/ = admin.read". */
struct cfg_gw_rule {
	char *methods; /* HTTP method tokens, single spaces between */
	char *prefix;  /* path prefix; NULL: [gateway] path */
	char *scope;   /* scopes the request needs, space-separated */
	int line;      /* in the file; 0 if set otherwise */
};

#define CFG_GW_RULES_MAX 64
#define CFG_GW_PREFIX_MAX 1024 /* bytes of a path prefix */
#define CFG_GW_RULES_SECTION "gateway.scopes"

struct config {
	struct {
		char *listen;              /* "host:port" */
		char *issuer;              /* no trailing slash */
		unsigned threads;          /* 0 = one per core */
		unsigned blocking_threads; /* offloaded handlers */
		char *tls_cert;            /* NULL if unset */
		char *tls_key;
		char *tls_priorities; /* NULL: built-in */
		unsigned body_max_bytes;
		unsigned connection_limit;
		unsigned connection_timeout;      /* seconds */
		unsigned per_address_connections; /* 0: no cap */
		unsigned header_max_bytes;
		unsigned header_max_count;
		unsigned url_max_bytes;
		unsigned params_max;
		unsigned json_max_depth;
		unsigned events_max_rows; /* event log cap */
		char *log_level;          /* error|warn|info|debug */
		char *templates_dir;      /* NULL: built-in pages */
	} server;
	struct {
		char *url; /* sqlite:PATH | postgresql://… */
	} database;
	struct {
		char *scopes; /* space-separated */
		char *default_scope;
		unsigned code_ttl; /* seconds */
		unsigned access_ttl;
		unsigned refresh_ttl;
		unsigned refresh_reuse_grace;
		char *registration;         /* closed|open|token */
		unsigned registration_rate; /* per address per minute */
		unsigned registration_max_clients;
		unsigned registration_unused_ttl; /* seconds */
		char *access_token_format;        /* opaque|jwt */
		char *resources;    /* RFC 8707, space-separated; NULL */
		char *cimd;         /* client_id_metadata_documents: on|off */
		char *cimd_hosts;   /* space-separated host names; NULL: any */
		char *cimd_ca_file; /* extra CAs; NULL: none */
		unsigned cimd_timeout_ms; /* whole fetch */
		struct cfg_scope_desc
		    *scope_descs; /* [oauth.scope_descriptions] */
		size_t nscope_descs;
	} oauth;
	struct {
		char *name_for_human;
		char *name_for_model;
		char *description_for_human;
		char *description_for_model;
		char *logo_url;
		char *contact_email;
		char *legal_info_url;
		char *openapi_url;
		char *openapi_file;
		char *description_for_model_file; /* overrides the key */
		char *authorization_content_type;
		char *verification_openai; /* [plugin.verification_tokens]
		                              openai */
	} plugin;
	struct {
		char *name; /* on the sign-in pages; NULL: cfg_service_name() */
	} service;
	struct {
		unsigned session_ttl;        /* seconds */
		unsigned login_max_failures; /* per user, per window */
		unsigned login_max_failures_per_address;
		unsigned login_window; /* seconds */
	} auth;
	struct {
		char *upstream; /* NULL if unset */
		char *path;
		char *scope;             /* required scopes; NULL if none */
		unsigned timeout;        /* seconds */
		unsigned body_max_bytes; /* proxied request bodies */
		unsigned response_max_bytes;
		unsigned stream_idle_timeout; /* seconds between stream bytes */
		unsigned max_streams_per_token;
		unsigned max_streams_per_address;
		char *identity_secret_file; /* NULL: no X-Plugauth-Signature */
		struct cfg_gw_rule *rules;  /* [gateway.scopes] */
		size_t nrules;
	} gateway;
};

/*
 * Loads defaults, then the file at path (NULL: no file; if must_exist is
 * false, a missing file is no error), then the environment. On error writes one
 * line to err ("plugauth.conf:12: [oauth] access_ttl: must be 60..86400") and
 * returns ST_INVALID (or ST_NOTFOUND for a missing file, ST_NOMEM).
 * *out is new (free with cfg_free()); untouched on error.
 */
enum status cfg_load(const char *path, bool must_exist, struct config **out,
                     char *err, size_t errlen);

/*
 * Makes a relative "sqlite:PATH" database url absolute: PATH names a file
 * in the directory of the configuration file config_path (which exists),
 * wherever plugauth runs from. cfg_load() does this when it reads a file,
 * for the file's value and PLUGAUTH_DATABASE_URL alike.
 */
enum status cfg_database_resolve(struct config *, const char *config_path,
                                 char *err, size_t errlen);

/* Sets one key from text, as if read from a file (checks type and range;
 * no cross-key checks). ST_NOTFOUND for an unknown key. Section
 * "oauth.scope_descriptions" takes any scope as key, "gateway.scopes"
 * methods and an optional path prefix. */
enum status cfg_set(struct config *, const char *section, const char *key,
                    const char *value, char *err, size_t errlen);

/* Checks rules between keys (issuer scheme, default_scope in scopes, ...). */
enum status cfg_validate(const struct config *, char *err, size_t errlen);

/* Appends the whole configuration as an INI file, with comments. Refuses
 * (ST_INVALID) a value a file line cannot hold; frees out on error. */
enum status cfg_render(const struct config *, struct buf *out);

/* Host and port of server.listen; false if malformed. host is copied
 * into hostbuf. */
bool cfg_listen_split(const char *listen, char *hostbuf, size_t hostsz,
                      unsigned *port);

/* True if url is http(s) to a loopback host (127.0.0.0/8, ::1, localhost). */
bool cfg_url_is_loopback(const char *url);

/* True if url is an absolute http(s) URL (strictly parsed, as for the
 * issuer) without userinfo or fragment; *https tells which. */
bool cfg_url_plain(const char *url, bool *https);

/* The description of the scope p[len] in [oauth.scope_descriptions], or
 * NULL. Borrowed from cfg. */
const char *cfg_scope_description(const struct config *, const char *p,
                                  size_t len);

/* The host of issuer url as a name of at most max bytes: the whole host
 * if it fits, else its first label, cut to max. "" if url has no host. */
void cfg_name_from_issuer(const char *url, size_t max, char *buf, size_t bufsz);

/* The name users see on the sign-in pages: [service] name, else [plugin]
 * name_for_human, else the issuer's host (written to buf). Borrowed. */
const char *cfg_service_name(const struct config *, char *buf, size_t bufsz);

/* Longest resource URI (RFC 8707) plugauth takes. */
#define CFG_RESOURCE_MAX 2048

/* RFC 8707 resources (config_resource.c). _same: a and b name the same
 * resource (equal but for one trailing '/'). _is_gateway: r is the
 * gateway (the issuer, or the issuer and [gateway] path). _known: the
 * gateway or one of [oauth] resources. _ok: list is a valid value of
 * [oauth] resources (else a message in msg). */
bool cfg_resource_same(const char *a, const char *b);
bool cfg_resource_is_gateway(const struct config *, const char *r);
bool cfg_resource_known(const struct config *, const char *r);
bool cfg_resources_ok(const char *list, char *msg, size_t msglen);

/* NULL-safe; wipes secret values. */
void cfg_free(struct config *);

#endif
