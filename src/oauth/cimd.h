/*
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-
 * document): a client_id that is an https URL names a JSON document of
 * client metadata, fetched (cimd_fetch.c, the SSRF rules) and cached
 * (cimd.c). Shared by src/oauth/, the unit tests and the fuzz harness.
 */
#ifndef PLUGAUTH_CIMD_H
#define PLUGAUTH_CIMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"
#include "store/store.h"

#define CIMD_URL_MAX_BYTES STORE_CLIENT_ID_MAX_BYTES
#define CIMD_DOC_MAX_BYTES 5120 /* the transfer stops past it */
#define CIMD_CACHE_MAX 1000     /* documents kept; the oldest go first */
#define CIMD_TTL_MIN_S 60       /* Cache-Control max-age, bounded */
#define CIMD_TTL_MAX_S 86400
#define CIMD_TTL_DEFAULT_S 300 /* no max-age */
/* Fetches at once, at most: each holds a blocking-work thread for up to
 * the timeout, and they must not take all of them. */
#define CIMD_FETCHES_MAX 8

/* Why a metadata document was refused; cimd_reason() names each. */
enum cimd_fail {
	CIMD_OK = 0,
	CIMD_URL_INVALID,        /* not an acceptable client ID URL */
	CIMD_HOST_NOT_ALLOWED,   /* not in client_id_metadata_hosts */
	CIMD_SSRF_REFUSED,       /* resolved to a non-public address */
	CIMD_FETCH_FAILED,       /* no answer, TLS, not 200 */
	CIMD_REDIRECT,           /* a 3xx */
	CIMD_TIMEOUT,            /* slower than client_metadata_timeout_ms */
	CIMD_TOO_LARGE,          /* over CIMD_DOC_MAX_BYTES */
	CIMD_NOT_JSON,           /* Content-Type not JSON */
	CIMD_INVALID,            /* not valid client metadata */
	CIMD_CLIENT_ID_MISMATCH, /* its client_id is not the URL */
	CIMD_AUTH_METHOD,        /* token_endpoint_auth_method not none */
	CIMD_STORE,              /* the store failed */
	CIMD_BUSY,               /* CIMD_FETCHES_MAX fetches under way */
	CIMD_RATE_LIMITED,       /* this address fetched too many */
};

/* The event reason code ("cimd_ssrf_refused"). */
const char *cimd_reason(enum cimd_fail);

/* True if [oauth] client_id_metadata_documents is on. */
bool cimd_enabled(const struct config *);

/* True if id is meant as a metadata document URL: it starts with a URL
 * scheme of http or https (any case). Such an id is handled here, and
 * refused unless cimd_url_ok(). */
bool cimd_url_like(const char *id);

/* True if url may be a client ID: "https://" (lower case), a host, no
 * userinfo, no fragment, a path with no "." or ".." segment (also
 * percent-encoded), printable ASCII, at most CIMD_URL_MAX_BYTES. */
bool cimd_url_ok(const char *url);

/* host[:port] of url into out, as the consent page shows it; "" if url
 * has userinfo or it does not fit. */
void cimd_url_authority(const char *url, char *out, size_t outsz);

/* True if url's host (without port or brackets, case-insensitive) is one
 * of the space-separated names in list (NULL: false). */
bool cimd_host_listed(const char *list, const char *url);

/* True if the socket address is one a fetch may connect to: not
 * loopback, private, link-local, unique-local, CGNAT, 0/8, multicast,
 * reserved or documentation ranges, nor an IPv4-mapped (or NAT64,
 * 6to4) IPv6 form of one. Other families: false. */
bool cimd_addr_public(const struct sockaddr *sa, socklen_t len);

/* The lifetime of a fetched document from its Cache-Control header value
 * (NULL: none): max-age bounded to CIMD_TTL_MIN_S..CIMD_TTL_MAX_S,
 * no-store and no-cache as the minimum, else CIMD_TTL_DEFAULT_S. */
unsigned cimd_ttl_of(const char *cache_control);

/*
 * Checks the document body fetched from url: one JSON object whose
 * client_id is url exactly, token_endpoint_auth_method none (or absent),
 * the other fields as dynamic registration checks them (register_check.c)
 * except scope, which a document written for many servers may not fit
 * (ignored: the client may ask for any scope). On CIMD_OK *out is new
 * (store_client_free()): a public client with origin metadata_document.
 * *why (static) says what is wrong.
 */
enum cimd_fail cimd_doc_parse(struct str body, const char *url,
                              const struct config *cfg,
                              struct store_client **out, const char **why);

/*
 * Fetches url (cimd_fetch.c) by the SSRF rules: https only, no redirect,
 * no proxy, at most CIMD_DOC_MAX_BYTES, within cfg's timeout, a JSON
 * Content-Type, and every address curl connects to checked by
 * cimd_addr_public() unless url's host is in client_id_metadata_hosts.
 * body is initialised here (buf_free() it, also on error); *ttl_s is the
 * document's cache lifetime. *why (static) says what failed.
 */
enum cimd_fail cimd_fetch(const struct config *cfg, const char *url,
                          struct buf *body, unsigned *ttl_s, const char **why);

/* The in-memory cache of URLs whose document was fetched and stored, with
 * their expiry; thread-safe. */
struct cimd_cache;
enum status cimd_cache_new(struct cimd_cache **out);
void cimd_cache_free(struct cimd_cache *);

/* Who asks for a fetch: a fetch takes one from lim for key (the client
 * address's limiter key); lim NULL: no limit. */
struct auth_limiter;
struct cimd_asker {
	struct auth_limiter *lim;
	const char *key;
	unsigned retry_after_s; /* set on CIMD_RATE_LIMITED */
};

/*
 * Makes sure the store holds the client of metadata document url, fresh:
 * checks url and its host; unless the cache has it unexpired (and
 * !force), fetches (within CIMD_FETCHES_MAX and the asker's limit) and
 * parses the document and stores its client
 * (store_client_put_document()), then caches url. *why (static) says why
 * it failed.
 */
enum cimd_fail cimd_resolve(struct cimd_cache *, const struct config *,
                            struct store *, const char *url, bool force,
                            struct cimd_asker *asker, const char **why);

/*
 * For the authorization endpoint (authorize_check.c), with metadata
 * documents on: cimd_resolve() of client_id id over env for the client
 * at address peer (fetches count against [oauth] registration_rate), so
 * that the store holds its client. False with err filled for an error
 * page (never a redirect: the redirect URIs are not trusted yet), reason
 * a cimd_reason() code, detail the URL.
 */
struct oauth_env;
struct oauth_authz_err;
bool oauth_cimd_authz(const struct oauth_env *env, const char *id,
                      const char *peer, bool force,
                      struct oauth_authz_err *err);

#endif
