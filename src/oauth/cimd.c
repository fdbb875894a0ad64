/*
 * Client ID metadata documents: which URLs may be client IDs, which
 * addresses a fetch may reach, what a document must say, and the cache of
 * documents fetched. The fetch itself is cimd_fetch.c.
 *
 * Storage: the URL is the client's id. struct store_client holds ids of
 * up to STORE_CLIENT_ID_MAX_BYTES, and codes, tokens and consents refer
 * to it as to any client, so that everything shown (the token endpoint's
 * client_id, introspection, events, `client list`) is the URL. A
 * successful fetch stores the client (origin metadata_document) or
 * refreshes it; the token endpoint then reads the stored client and never
 * fetches. See docs/cimd.md.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/ratelimit.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/cimd.h"
#include "oauth/oauth_int.h"
#include "oauth/register_int.h"

const char *
cimd_reason(enum cimd_fail f)
{
	static const char *const names[] = {
	    [CIMD_OK] = "ok",
	    [CIMD_URL_INVALID] = "cimd_url_invalid",
	    [CIMD_HOST_NOT_ALLOWED] = "cimd_host_not_allowed",
	    [CIMD_SSRF_REFUSED] = "cimd_ssrf_refused",
	    [CIMD_FETCH_FAILED] = "cimd_fetch_failed",
	    [CIMD_REDIRECT] = "cimd_redirect_refused",
	    [CIMD_TIMEOUT] = "cimd_timeout",
	    [CIMD_TOO_LARGE] = "cimd_too_large",
	    [CIMD_NOT_JSON] = "cimd_not_json",
	    [CIMD_INVALID] = "cimd_invalid",
	    [CIMD_CLIENT_ID_MISMATCH] = "cimd_client_id_mismatch",
	    [CIMD_AUTH_METHOD] = "cimd_auth_method_unsupported",
	    [CIMD_STORE] = "store_error",
	    [CIMD_BUSY] = "cimd_busy",
	    [CIMD_RATE_LIMITED] = "cimd_rate_limited",
	};

	return (size_t)f < ARRAY_LEN(names) ? names[f] : "cimd_invalid";
}

bool
cimd_enabled(const struct config *cfg)
{
	return cfg->oauth.cimd != NULL && strcmp(cfg->oauth.cimd, "on") == 0;
}

bool
cimd_url_like(const char *id)
{
	return strncasecmp(id, "https:", 6) == 0 ||
	       strncasecmp(id, "http:", 5) == 0;
}

/* True if the path segment s[n] is "." or "..", also percent-encoded. */
static bool
dot_segment(const char *s, size_t n)
{
	size_t dots = 0;

	for (size_t i = 0; i < n; dots++) {
		if (s[i] == '.')
			i++;
		else if (n - i >= 3 && strncasecmp(s + i, "%2e", 3) == 0)
			i += 3;
		else
			return false;
	}
	return dots == 1 || dots == 2;
}

/* A host name of letters, digits and '-' in non-empty labels, or an IPv6
 * literal (checked by cfg_url_plain()); host[n] ends at ':' or the path. */
static bool
host_ok(const char *host, size_t n)
{
	if (n > 0 && host[0] == '[')
		return true;
	if (n == 0 || host[0] == '.' || host[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c == '.' ? host[i + 1] == '.'
		             : !(c == '-' || (c >= '0' && c <= '9') ||
		                 ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
			return false;
	}
	return true;
}

bool
cimd_url_ok(const char *url)
{
	size_t n = strnlen(url, CIMD_URL_MAX_BYTES + 1);
	const char *p, *path, *end;
	bool https;

	if (n > CIMD_URL_MAX_BYTES || strncmp(url, "https://", 8) != 0 ||
	    !cfg_url_plain(url, &https) || !https)
		return false; /* also: userinfo, fragment, bad bytes */
	path = url + 8 + strcspn(url + 8, "/?#");
	if (*path != '/' || !host_ok(url + 8, strcspn(url + 8, ":/?#")))
		return false; /* no path, or an odd host */
	end = path + strcspn(path, "?#");
	for (p = path; p < end; p += n) {
		p++; /* past the '/' */
		n = strcspn(p, "/?#");
		if (dot_segment(p, n))
			return false;
	}
	return true;
}

void
cimd_url_authority(const char *url, char *out, size_t outsz)
{
	const char *p = strstr(url, "://");
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	n = strcspn(p, "/?#");
	if (memchr(p, '@', n) != NULL || n >= outsz)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

bool
cimd_host_listed(const char *list, const char *url)
{
	char auth[512], *host = auth, *colon;
	size_t n;

	if (list == NULL)
		return false;
	cimd_url_authority(url, auth, sizeof(auth));
	if (auth[0] == '[') { /* [v6]:port */
		host = auth + 1;
		if ((colon = strchr(host, ']')) == NULL)
			return false;
		*colon = '\0';
	} else if ((colon = strrchr(auth, ':')) != NULL) {
		*colon = '\0';
	}
	if (*host == '\0')
		return false;
	for (const char *p = list; *p != '\0'; p += n) {
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n > 0 && n == strlen(host) && strncasecmp(p, host, n) == 0)
			return true;
	}
	return false;
}

/* True if the IPv4 address a (host order) is public. */
static bool
v4_public(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
	} refused[] = {
	    {0x00000000, 0xff000000}, /* 0/8 "this network" */
	    {0x0a000000, 0xff000000}, /* 10/8 */
	    {0x64400000, 0xffc00000}, /* 100.64/10 CGNAT */
	    {0x7f000000, 0xff000000}, /* 127/8 loopback */
	    {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local */
	    {0xac100000, 0xfff00000}, /* 172.16/12 */
	    {0xc0000000, 0xffffff00}, /* 192.0.0/24 IETF */
	    {0xc0000200, 0xffffff00}, /* 192.0.2/24 documentation */
	    {0xc0a80000, 0xffff0000}, /* 192.168/16 */
	    {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
	    {0xc6336400, 0xffffff00}, /* 198.51.100/24 documentation */
	    {0xcb007100, 0xffffff00}, /* 203.0.113/24 documentation */
	    {0xe0000000, 0xe0000000}, /* 224/3: multicast, reserved */
	};

	for (size_t i = 0; i < ARRAY_LEN(refused); i++)
		if ((a & refused[i].mask) == refused[i].net)
			return false;
	return true;
}

static uint32_t
v4_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* True if the IPv6 address b[16] is public. */
static bool
v6_public(const uint8_t *b)
{
	static const uint8_t zero[12] = {0};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
	                                   0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};

	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return v4_public(v4_at(b + 12)); /* ::ffff:a.b.c.d */
	if (memcmp(b, zero, 12) == 0)
		return false; /* ::, ::1, IPv4-compatible */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_public(v4_at(b + 2));        /* 6to4 */
	if ((b[0] & 0xfe) == 0xfc ||                   /* fc00::/7 ULA */
	    (b[0] == 0xfe && (b[1] & 0x80) == 0x80) || /* fe80::/9 */
	    b[0] == 0xff ||                            /* multicast */
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8))
		return false; /* link-, site-local; 2001:db8::/32 docs */
	return (b[0] & 0xe0) == 0x20; /* 2000::/3: global unicast */
}

bool
cimd_addr_public(const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return v4_public(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		return v6_public(in6->sin6_addr.s6_addr);
	}
	return false;
}

unsigned
cimd_ttl_of(const char *cc)
{
	const char *p;
	unsigned long long v;
	char *end;

	if (cc == NULL)
		return CIMD_TTL_DEFAULT_S;
	for (p = cc; *p != '\0'; p += strcspn(p, ",")) {
		p += strspn(p, ", \t");
		if (strncasecmp(p, "no-store", 8) == 0 ||
		    strncasecmp(p, "no-cache", 8) == 0)
			return CIMD_TTL_MIN_S;
		if (strncasecmp(p, "max-age=", 8) == 0) {
			p += 8;
			if (*p == '"')
				p++;
			if (*p < '0' || *p > '9')
				continue;
			v = strtoull(p, &end, 10);
			if (v < CIMD_TTL_MIN_S)
				return CIMD_TTL_MIN_S;
			return v > CIMD_TTL_MAX_S ? CIMD_TTL_MAX_S
			                          : (unsigned)v;
		}
	}
	return CIMD_TTL_DEFAULT_S;
}

/* client_id and token_endpoint_auth_method of the document in; makes the
 * latter "none" and drops the fields registration must not see. */
static enum cimd_fail
doc_identity(json_t *in, const char *url, const char **why)
{
	json_t *v = json_object_get(in, "client_id");
	const char *m;

	if (!json_is_string(v) || json_string_length(v) != strlen(url) ||
	    memcmp(json_string_value(v), url, strlen(url)) != 0) {
		*why = "The app's metadata document names another client_id "
		       "than its own URL.";
		return CIMD_CLIENT_ID_MISMATCH;
	}
	v = json_object_get(in, "token_endpoint_auth_method");
	m = json_string_value(v);
	if (v != NULL && (m == NULL || strcmp(m, "none") != 0)) {
		*why = m != NULL && strcmp(m, "private_key_jwt") == 0
		           ? "The app's metadata document asks for "
		             "private_key_jwt, which this server does not "
		             "support yet: only token_endpoint_auth_method "
		             "none."
		           : "The app's metadata document must use "
		             "token_endpoint_auth_method none.";
		return CIMD_AUTH_METHOD;
	}
	if (json_object_set_new(in, "token_endpoint_auth_method",
	                        json_string("none")) != 0 ||
	    json_object_del(in, "client_id") != 0) {
		*why = "out of memory";
		return CIMD_INVALID;
	}
	json_object_del(in, "scope"); /* absent: fine */
	return CIMD_OK;
}

/* The client of the checked metadata m, for url; NULL on ENOMEM. */
static struct store_client *
doc_client(const char *url, struct reg_meta *m)
{
	struct store_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	str_copy(c->id, sizeof(c->id), url);
	c->is_public = true;
	c->grants = m->grants;
	c->origin = STORE_ORIGIN_METADATA_DOC;
	c->created_at = clk_now_s();
	c->scope = strdup("");
	c->name = m->name;
	c->redirect_uris = m->redirect_uris;
	m->name = m->redirect_uris = NULL;
	if (json_object_set_new(m->doc, "client_id", json_string(url)) == 0)
		c->metadata = json_dumps(m->doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (c->scope == NULL || c->metadata == NULL) {
		store_client_free(c);
		return NULL;
	}
	return c;
}

enum cimd_fail
cimd_doc_parse(struct str body, const char *url, const struct config *cfg,
               struct store_client **out, const char **why)
{
	struct reg_meta m;
	json_error_t jerr;
	json_t *in = NULL;
	char *clean = NULL;
	enum cimd_fail f = CIMD_INVALID;

	memset(&m, 0, sizeof(m));
	*out = NULL;
	if (oauth_json_depth(body, REG_JSON_DEPTH_MAX) > REG_JSON_DEPTH_MAX ||
	    (in = json_loadb(body.p, body.len, JSON_REJECT_DUPLICATES,
	                     &jerr)) == NULL ||
	    !json_is_object(in)) {
		*why = "The app's metadata document is not one JSON object.";
		goto out;
	}
	if ((f = doc_identity(in, url, why)) != CIMD_OK)
		goto out;
	f = CIMD_INVALID;
	if ((clean = json_dumps(in, JSON_COMPACT)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	if (reg_meta_parse(str_of(clean), cfg, &m) != REG_OK) {
		*why = m.why;
		goto out;
	}
	if ((*out = doc_client(url, &m)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	f = CIMD_OK;
out:
	reg_meta_free(&m);
	free(clean);
	json_decref(in);
	return f;
}

bool
oauth_cimd_authz(const struct oauth_env *env, const char *id, const char *peer,
                 bool force, struct oauth_authz_err *err)
{
	char safe[OAUTH_EVENT_FIELD_MAX + 1], key[80];
	struct cimd_asker asker = {env->lim_reg, key, 0};
	enum cimd_fail f;

	auth_limiter_addr_key(peer != NULL ? peer : "-", key, sizeof(key));
	f = cimd_resolve(env->cimd, env->cfg, env->st, id, force, &asker,
	                 &err->why);
	if (f == CIMD_OK)
		return true;
	err->retry_after_s = asker.retry_after_s;
	log_info("event=cimd_refused reason=%s client=%s", cimd_reason(f),
	         log_safe(id, safe, sizeof(safe)));
	err->page = true;
	err->e = f == CIMD_STORE || f == CIMD_BUSY || f == CIMD_RATE_LIMITED
	             ? OAUTH_TEMPORARILY_UNAVAILABLE
	             : OAUTH_INVALID_CLIENT;
	err->reason = cimd_reason(f);
	err->detail = id;
	return false;
}

/* The cache: URLs whose document is stored, until expires_at. */
struct cimd_entry {
	char *url;
	int64_t added_at;
	int64_t expires_at;
};

struct cimd_cache {
	pthread_mutex_t mu;
	struct cimd_entry e[CIMD_CACHE_MAX];
	size_t n;
	atomic_uint inflight; /* fetches under way */
};

enum status
cimd_cache_new(struct cimd_cache **out)
{
	struct cimd_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return ST_NOMEM;
	/* Reference-counted; at start-up, before any thread fetches. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(c);
		return ST_INTERNAL;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		curl_global_cleanup();
		free(c);
		return ST_NOMEM;
	}
	*out = c;
	return ST_OK;
}

void
cimd_cache_free(struct cimd_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].url);
	pthread_mutex_destroy(&c->mu);
	curl_global_cleanup();
	free(c);
}

/* The index of url, or c->n. Under c->mu. */
static size_t
cache_find(const struct cimd_cache *c, const char *url)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].url, url) == 0)
			break;
	return i;
}

static bool
cache_fresh(struct cimd_cache *c, const char *url, int64_t now)
{
	size_t i;
	bool fresh;

	pthread_mutex_lock(&c->mu);
	i = cache_find(c, url);
	fresh = i < c->n && c->e[i].expires_at > now;
	pthread_mutex_unlock(&c->mu);
	return fresh;
}

/* Sets url's expiry (ttl_s from now; 0: forgets it). When full, the
 * oldest entry goes. */
static void
cache_set(struct cimd_cache *c, const char *url, int64_t now, unsigned ttl_s)
{
	size_t i, old = 0;
	char *copy = NULL;

	if (ttl_s > 0 && (copy = strdup(url)) == NULL)
		return; /* not cached: fetched again next time */
	pthread_mutex_lock(&c->mu);
	i = cache_find(c, url);
	if (i < c->n) {
		free(c->e[i].url);
		c->e[i] = c->e[--c->n];
	}
	if (copy != NULL && c->n == CIMD_CACHE_MAX) {
		for (i = 1; i < c->n; i++)
			if (c->e[i].added_at < c->e[old].added_at)
				old = i;
		free(c->e[old].url);
		c->e[old] = c->e[--c->n];
	}
	if (copy != NULL)
		c->e[c->n++] = (struct cimd_entry){copy, now, now + ttl_s};
	pthread_mutex_unlock(&c->mu);
}

enum cimd_fail
cimd_resolve(struct cimd_cache *cache, const struct config *cfg,
             struct store *st, const char *url, bool force,
             struct cimd_asker *asker, const char **why)
{
	struct store_client *c = NULL;
	int64_t now = clk_now_s();
	struct buf body;
	unsigned ttl_s = 0;
	enum cimd_fail f;
	enum status rc;

	buf_init(&body, 0);
	if (!cimd_url_ok(url)) {
		*why = "The client_id is not a valid client ID URL: https, "
		       "with a path, no fragment, no user name or password, "
		       "no dot segments, at most 2048 bytes.";
		return CIMD_URL_INVALID;
	}
	if (cfg->oauth.cimd_hosts != NULL &&
	    !cimd_host_listed(cfg->oauth.cimd_hosts, url)) {
		*why = "This server does not accept client IDs from that "
		       "host.";
		return CIMD_HOST_NOT_ALLOWED;
	}
	if (!force && cache_fresh(cache, url, now))
		return CIMD_OK;
	if (asker != NULL && asker->lim != NULL &&
	    !auth_limiter_take(asker->lim, asker->key, now,
	                       &asker->retry_after_s)) {
		*why = "Too many apps were looked up from your address. Wait "
		       "a minute, then try again.";
		return CIMD_RATE_LIMITED;
	}
	if (atomic_fetch_add(&cache->inflight, 1) >= CIMD_FETCHES_MAX) {
		atomic_fetch_sub(&cache->inflight, 1);
		*why = "Too many apps are being looked up right now. Try "
		       "again in a moment.";
		return CIMD_BUSY;
	}
	f = cimd_fetch(cfg, url, &body, &ttl_s, why);
	atomic_fetch_sub(&cache->inflight, 1);
	if (f == CIMD_OK)
		f = cimd_doc_parse(buf_str(&body), url, cfg, &c, why);
	if (f == CIMD_OK && (rc = store_client_put_document(st, c)) != ST_OK) {
		f = rc == ST_EXISTS ? CIMD_INVALID : CIMD_STORE;
		*why = rc == ST_EXISTS
		           ? "That URL is already the client_id of another "
		             "client."
		           : "The service is unavailable. Try again shortly.";
	}
	cache_set(cache, url, now, f == CIMD_OK ? ttl_s : 0);
	store_client_free(c);
	buf_free(&body);
	return f;
}
