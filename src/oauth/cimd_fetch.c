/*
 * Fetching a client ID metadata document: the SSRF surface. Anyone can
 * make the server fetch a URL of their choice by naming it as client_id,
 * so the fetch is held to: https only, no redirect followed, no proxy
 * (not even one from the environment), no compression, a short timeout,
 * at most CIMD_DOC_MAX_BYTES (the transfer stops as soon as it is over),
 * a JSON Content-Type, and only public addresses: every address curl is
 * about to connect to is checked in CURLOPT_OPENSOCKETFUNCTION, so the
 * check holds for the address actually used, whatever DNS answered
 * (rebinding included). A host listed in [oauth] client_id_metadata_hosts
 * may be on a loopback or private address.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "oauth/cimd.h"

#define CIMD_CONNECT_MAX_MS 3000
#define CIMD_HEADER_MAX_BYTES 256

struct fetch {
	struct buf *body;
	bool allow_private; /* the host is listed */
	bool refused;       /* a non-public address was refused */
	bool too_large;
	char cache_control[CIMD_HEADER_MAX_BYTES];
};

static curl_socket_t
open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = ud;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    (!f->allow_private && !cimd_addr_public(&a->addr, a->addrlen))) {
		f->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;

	/* size is always 1 (libcurl); body->len <= CIMD_DOC_MAX_BYTES. */
	if (size != 1 || n > CIMD_DOC_MAX_BYTES - f->body->len ||
	    buf_add(f->body, p, n) != ST_OK) {
		f->too_large = true;
		return 0; /* stops the transfer */
	}
	return size * n;
}

/* Keeps the Cache-Control value (the last one; cut if long). */
static size_t
header_cb(char *p, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n, v;

	if (len > 14 && strncasecmp(p, "cache-control:", 14) == 0) {
		p += 14;
		len -= 14;
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		v = len;
		while (v > 0 && (p[v - 1] == '\r' || p[v - 1] == '\n'))
			v--;
		if (v >= sizeof(f->cache_control))
			v = sizeof(f->cache_control) - 1;
		memcpy(f->cache_control, p, v);
		f->cache_control[v] = '\0';
	}
	return size * n;
}

/* application/json or application/<something>+json, parameters after. */
static bool
json_type(const char *ct)
{
	size_t n;

	if (ct == NULL || strncasecmp(ct, "application/", 12) != 0)
		return false;
	ct += 12;
	n = strcspn(ct, "; \t");
	return (n == 4 && strncasecmp(ct, "json", 4) == 0) ||
	       (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static bool
setup(CURL *h, const struct config *cfg, const char *url, struct fetch *f)
{
	long ms = (long)cfg->oauth.cimd_timeout_ms;

	return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") ==
	           CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                        ms < CIMD_CONNECT_MAX_MS
	                            ? ms
	                            : (long)CIMD_CONNECT_MAX_MS) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	                        (curl_off_t)CIMD_DOC_MAX_BYTES) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_USERAGENT, "plugauth") == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_cb) ==
	           CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, f) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) ==
	           CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_WRITEDATA, f) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb) ==
	           CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HEADERDATA, f) == CURLE_OK &&
	       (cfg->oauth.cimd_ca_file == NULL ||
	        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->oauth.cimd_ca_file) ==
	            CURLE_OK);
}

/* What went wrong with a transfer that returned cr. */
static enum cimd_fail
transfer_fail(const struct fetch *f, CURLcode cr, const char **why)
{
	if (f->refused) {
		*why = "The app's metadata document is on an address this "
		       "server may not fetch from (loopback, private or "
		       "reserved).";
		return CIMD_SSRF_REFUSED;
	}
	if (f->too_large || cr == CURLE_FILESIZE_EXCEEDED) {
		*why = "The app's metadata document is larger than 5 KiB.";
		return CIMD_TOO_LARGE;
	}
	if (cr == CURLE_OPERATION_TIMEDOUT) {
		*why = "The app's metadata document took too long to fetch.";
		return CIMD_TIMEOUT;
	}
	*why = "The app's metadata document could not be fetched.";
	return CIMD_FETCH_FAILED;
}

enum cimd_fail
cimd_fetch(const struct config *cfg, const char *url, struct buf *body,
           unsigned *ttl_s, const char **why)
{
	struct fetch f = {.body = body};
	CURL *h = NULL;
	CURLcode cr;
	long status = 0;
	char *ct = NULL;
	enum cimd_fail fail = CIMD_FETCH_FAILED;

	buf_init(body, CIMD_DOC_MAX_BYTES);
	*why = "The app's metadata document could not be fetched.";
	f.allow_private = cimd_host_listed(cfg->oauth.cimd_hosts, url);
	if ((h = curl_easy_init()) == NULL || !setup(h, cfg, url, &f))
		goto out;
	cr = curl_easy_perform(h);
	if (cr != CURLE_OK) {
		fail = transfer_fail(&f, cr, why);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (status >= 300 && status < 400) {
		*why = "The app's metadata document URL redirects; "
		       "redirects are not followed.";
		fail = CIMD_REDIRECT;
	} else if (status != 200) {
		*why = "The app's metadata document URL did not answer 200.";
	} else if (!json_type(ct)) {
		*why = "The app's metadata document is not served as "
		       "application/json.";
		fail = CIMD_NOT_JSON;
	} else {
		*ttl_s = cimd_ttl_of(
		    f.cache_control[0] != '\0' ? f.cache_control : NULL);
		fail = CIMD_OK;
	}
out:
	curl_easy_cleanup(h);
	return fail;
}
