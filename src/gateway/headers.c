/*
 * The request head the upstream gets: the client's headers minus the
 * hop-by-hop ones, Authorization, any X-Plugauth-*, the client-address
 * headers plugauth sets itself (X-Forwarded-*, X-Real-IP) or that would
 * let a client claim an address (Forwarded, X-Client-IP, ...), the path
 * and method overrides (X-Original-URL, X-HTTP-Method-Override, ...), every
 * header whose name has an '_' (CGI, WSGI and Rack map X_Plugauth_User to the
 * same key as X-Plugauth-User; nginx drops them too), and plugauth's
 * session cookie (with it the upstream could act as the signed-in user at
 * /oauth/authorize); plus the identity and X-Forwarded-* headers.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "gateway/gateway_int.h"

#define REQ_HEADER_MAX_BYTES 65536 /* one forwarded header line */

/* True if the "name=value" pair p[0..len) is named one of drop. */
static bool
pair_dropped(const char *p, size_t len, const char *const *drop)
{
	const char *eq = memchr(p, '=', len);
	size_t n = eq != NULL ? (size_t)(eq - p) : len;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	/* Any case: libmicrohttpd finds cookies by name in any case. */
	for (; *drop != NULL; drop++)
		if (strlen(*drop) == n && strncasecmp(*drop, p, n) == 0)
			return true;
	return false;
}

bool
gw_set_cookie_dropped(const char *value, size_t len, const char *const *drop)
{
	const char *semi = memchr(value, ';', len);

	/* RFC 6265 §5.2: the name-value-pair is what precedes the first ';';
	 * without an '=' browsers take it as a value with an empty name, so it
	 * is dropped too when it spells a dropped name. */
	return pair_dropped(value, semi != NULL ? (size_t)(semi - value) : len,
	                    drop);
}

enum status
gw_cookie_filter(const char *value, const char *const *drop, struct buf *out)
{
	const char *p = value, *e;
	size_t len;
	enum status rc = ST_OK;

	/* RFC 6265 §4.2.1: cookie-pair *( ";" SP cookie-pair ) */
	while (*p != '\0' && rc == ST_OK) {
		p += strspn(p, " \t;");
		e = p + strcspn(p, ";");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && !pair_dropped(p, len, drop)) {
			if (out->len > 0)
				rc = buf_add(out, "; ", 2);
			if (rc == ST_OK)
				rc = buf_add(out, p, len);
		}
		p = e;
	}
	return rc;
}

static bool
name_is(const char *name, const char *want)
{
	return strcasecmp(name, want) == 0;
}

static bool
name_has_prefix(const char *name, const char *prefix)
{
	return strncasecmp(name, prefix, strlen(prefix)) == 0;
}

/* True if the comma-separated Connection header value lists name. */
static bool
connection_lists(const char *conn, const char *name)
{
	size_t n = strlen(name);

	while (conn != NULL && *conn != '\0') {
		const char *e;
		size_t len;

		conn += strspn(conn, " \t,");
		e = conn + strcspn(conn, ",");
		len = (size_t)(e - conn);
		while (len > 0 &&
		       (conn[len - 1] == ' ' || conn[len - 1] == '\t'))
			len--;
		if (len == n && len > 0 && strncasecmp(conn, name, n) == 0)
			return true;
		conn = e;
	}
	return false;
}

/* Hop-by-hop headers (RFC 9110 §7.6.1), those the proxy sets itself and
 * those that would tell the upstream another client address. */
static bool
request_header_dropped(const char *name, const char *conn)
{
	static const char *const drop[] = {
	    "Authorization", "Connection", "Keep-Alive", "TE", "Trailer",
	    "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "Expect",
	    "Forwarded", "X-Real-IP", "X-Client-IP", "True-Client-IP",
	    "X-Cluster-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
	    /* Path overrides (Symfony, IIS URL Rewrite): they would route
	     * the request outside [gateway] path at the upstream. */
	    "X-Original-URL", "X-Rewrite-URL",
	    /* Method overrides (Express method-override, Symfony, Rails,
	     * ASP.NET): a GET checked against [gateway.scopes] could act
	     * as a DELETE at the upstream. */
	    "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"};

	if (strchr(name, '_') != NULL)
		return true;
	for (size_t i = 0; i < ARRAY_LEN(drop); i++)
		if (name_is(name, drop[i]))
			return true;
	/* X-Forwarded-For is not among them: it is appended to. */
	return name_has_prefix(name, "X-Plugauth-") ||
	       name_has_prefix(name, "X-Forwarded-") ||
	       name_has_prefix(name, "Proxy-") || connection_lists(conn, name);
}

struct hdr_build {
	struct curl_slist *list;
	struct buf xff; /* incoming X-Forwarded-For values */
	const char *const *drop_cookies;
	const char *conn; /* the Connection header, or NULL */
	const char *host; /* the Host header, or NULL */
	bool has_type, has_accept;
	enum status rc;
};

/* Appends "name: value" (or "name;" for an empty value, curl's way of
 * sending an empty header) to the list. */
static enum status
slist_add(struct curl_slist **list, const char *name, const char *value)
{
	struct buf line;
	struct curl_slist *l;
	enum status rc;

	buf_init(&line, REQ_HEADER_MAX_BYTES);
	if (*value == '\0')
		rc = buf_printf(&line, "%s;", name);
	else if ((rc = buf_adds(&line, name)) == ST_OK &&
	         (rc = buf_add(&line, ": ", 2)) == ST_OK)
		rc = buf_adds(&line, value);
	if (rc != ST_OK)
		return rc;
	l = curl_slist_append(*list, line.p);
	buf_free(&line);
	if (l == NULL)
		return ST_NOMEM;
	*list = l;
	return ST_OK;
}

static enum status
slist_raw(struct curl_slist **list, const char *line)
{
	struct curl_slist *l;

	l = curl_slist_append(*list, line);
	if (l == NULL)
		return ST_NOMEM;
	*list = l;
	return ST_OK;
}

/* True if name is an RFC 9110 token (so curl sends it as it is). */
static bool
name_is_token(const char *name)
{
	if (*name == '\0')
		return false;
	for (; *name != '\0'; name++)
		if (!isalnum((unsigned char)*name) &&
		    strchr("!#$%&'*+-.^_`|~", *name) == NULL)
			return false;
	return true;
}

/* A Cookie header, less plugauth's session cookie (gw_cookie_filter()). */
static bool
on_cookie_header(struct hdr_build *hb, const char *value)
{
	struct buf kept;

	buf_init_secret(&kept, REQ_HEADER_MAX_BYTES);
	hb->rc = gw_cookie_filter(value, hb->drop_cookies, &kept);
	if (hb->rc == ST_OK && kept.len > 0)
		hb->rc = slist_add(&hb->list, "Cookie", kept.p);
	buf_wipe_free(&kept); /* other cookies may be secrets too */
	return hb->rc == ST_OK;
}

static bool
on_request_header(const char *name, const char *value, void *arg)
{
	struct hdr_build *hb = arg;

	if (!name_is_token(name))
		return true; /* not a header anyone could rely on: dropped */
	if (name_is(name, "Host"))
		hb->host = value;
	if (name_is(name, "X-Forwarded-For")) {
		if (hb->xff.len > 0)
			hb->rc = buf_add(&hb->xff, ", ", 2);
		if (hb->rc == ST_OK)
			hb->rc = buf_adds(&hb->xff, value);
		return hb->rc == ST_OK;
	}
	if (request_header_dropped(name, hb->conn))
		return true;
	if (name_is(name, "Cookie"))
		return on_cookie_header(hb, value);
	if (name_is(name, "Content-Type"))
		hb->has_type = true;
	if (name_is(name, "Accept"))
		hb->has_accept = true;
	hb->rc = slist_add(&hb->list, name, value);
	return hb->rc == ST_OK;
}

enum status
gw_identity_headers(const struct gw_identity *id, gw_header_add_fn add,
                    void *arg)
{
	enum status rc = ST_OK;

	/* Never an empty one: an absent header cannot be mistaken for a
	 * user (or a scope) named "". */
	if (id->user[0] != '\0')
		rc = add(arg, "X-Plugauth-User", id->user);
	else
		rc = add(arg, "X-Plugauth-Grant", "client_credentials");
	if (rc == ST_OK)
		rc = add(arg, "X-Plugauth-Client", id->client_id);
	if (rc == ST_OK && id->scope[0] != '\0')
		rc = add(arg, "X-Plugauth-Scope", id->scope);
	return rc;
}

static enum status
add_identity(void *arg, const char *name, const char *value)
{
	return slist_add(arg, name, value);
}

enum status
gw_request_headers(struct http_req *req, const struct gw_identity *id,
                   const struct gw_env *gw, struct curl_slist **out)
{
	struct hdr_build hb;
	char sig[GW_SIG_STRLEN];
	enum status rc;

	memset(&hb, 0, sizeof(hb));
	buf_init(&hb.xff, REQ_HEADER_MAX_BYTES);
	hb.conn = http_req_header(req, "Connection");
	hb.drop_cookies = gw->drop_cookies;
	http_req_headers_each(req, on_request_header, &hb);
	rc = hb.rc;
	if (rc == ST_OK && hb.xff.len > 0)
		rc = buf_add(&hb.xff, ", ", 2);
	if (rc == ST_OK)
		rc = buf_adds(&hb.xff, http_req_peer(req));
	if (rc == ST_OK)
		rc = gw_identity_headers(id, add_identity, &hb.list);
	if (rc == ST_OK && gw->id_key != NULL &&
	    (rc = gw_signature(gw, req, id, gw_now_ms() / 1000, sig)) == ST_OK)
		rc = slist_add(&hb.list, "X-Plugauth-Signature", sig);
	if (rc == ST_OK)
		rc = slist_add(&hb.list, "X-Forwarded-For", hb.xff.p);
	if (rc == ST_OK)
		rc = slist_add(&hb.list, "X-Real-IP", http_req_peer(req));
	if (rc == ST_OK)
		rc = slist_add(&hb.list, "X-Forwarded-Proto",
		               http_req_tls(req) ? "https" : "http");
	if (rc == ST_OK && hb.host != NULL)
		rc = slist_add(&hb.list, "X-Forwarded-Host", hb.host);
	/* "Name:" removes what curl would send by itself. */
	if (rc == ST_OK)
		rc = slist_raw(&hb.list, "Expect:");
	if (rc == ST_OK && !hb.has_type)
		rc = slist_raw(&hb.list, "Content-Type:");
	if (rc == ST_OK && !hb.has_accept)
		rc = slist_raw(&hb.list, "Accept:");
	buf_free(&hb.xff);
	if (rc != ST_OK) {
		curl_slist_free_all(hb.list);
		return rc;
	}
	*out = hb.list;
	return ST_OK;
}
