/*
 * The reverse proxy to [gateway] upstream. A request under [gateway] path
 * with a valid bearer token is turned into a curl transfer on the server
 * thread that received it, and its connection is suspended: curl multi
 * handles, each driven by a thread of its own (loop.c), run every transfer, so
 * a slow or dead upstream holds no server thread and the OAuth endpoints keep
 * answering. When a transfer ends the connection is resumed and a server
 * thread answers with what the upstream said.
 *
 * There is one such loop per core (GW_LOOPS_MAX at most), transfers spread
 * over them in turn: a single one would cap the gateway at what one core
 * can do for libcurl. Each loop keeps its own keep-alive connections to
 * the upstream.
 *
 * Bodies are buffered whole: the request's is already (capped by
 * [gateway] body_max_bytes), the upstream's is capped by [gateway]
 * response_max_bytes (502 past it), but for a text/event-stream answer,
 * which goes to the client as it comes (stream.c). The path and query go
 * upstream exactly as received, once gw_path_ok() has found that no URL parser
 * can resolve the path out of [gateway] path; the Authorization header,
 * plugauth's session cookie, any X-Plugauth-* header and the hop-by-hop headers
 * do not (headers.c). The upstream's answer cannot set or clear plugauth's
 * session cookie (Set-Cookie for it, Clear-Site-Data are dropped).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "gateway/proxy_int.h"

#define RESP_HEADERS_MAX_BYTES 12288 /* upstream answer's headers */
#define REQ_HEADER_MAX_BYTES 65536   /* one forwarded header line */
#define STREAMS_FULL_DESC                                                      \
	"too many open event streams for this token or address"

static size_t on_response_header(char *, size_t, size_t, void *);
static size_t on_response_body(char *, size_t, size_t, void *);

/* A handle with the options every transfer shares: from the pool (the
 * per-transfer options are all set again by job_new()), or a new one. */
static CURL *
easy_get(struct gw_proxy *px)
{
	CURL *e = NULL;

	pthread_mutex_lock(&px->mu);
	if (px->npool > 0)
		e = px->pool[--px->npool];
	pthread_mutex_unlock(&px->mu);
	if (e != NULL || (e = curl_easy_init()) == NULL)
		return e;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never from the environment */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, px->timeout_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_response_header);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response_body);
	return e;
}

/* --- building a transfer (on the server thread that got the request) -- */
/* curl: one line of the upstream's answer head. */
static size_t
on_response_header(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, nlen, vlen;
	const char *colon, *v;
	static const char *const drop[] = {"Connection",
	                                   "Keep-Alive",
	                                   "TE",
	                                   "Trailer",
	                                   "Transfer-Encoding",
	                                   "Upgrade",
	                                   "Content-Length",
	                                   "Date",
	                                   "Clear-Site-Data",
	                                   "Proxy-"};

	if (j->stream)
		return size * n; /* trailers: the head is gone already */
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		buf_free(&j->rhdrs); /* a new answer (after a 1xx) */
		j->sse = false;
		return size * n;
	}
	if (len == 0) { /* the end of a head */
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->status);
		if (!gw_stream_start(j) && j->over_cap)
			return 0; /* aborts: 429 */
		return size * n;
	}
	if (len == 0 || p[0] == ' ' || p[0] == '\t' ||
	    memchr(p, '\0', len) != NULL ||
	    (colon = memchr(p, ':', len)) == NULL)
		return size * n; /* end of head, obs-fold, junk */
	nlen = (size_t)(colon - p);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (size_t i = 0; i < ARRAY_LEN(drop); i++) {
		size_t dlen = strlen(drop[i]);

		/* "Proxy-" drops every Proxy-* header. */
		if ((dlen == nlen ||
		     (drop[i][dlen - 1] == '-' && dlen < nlen)) &&
		    strncasecmp(p, drop[i], dlen) == 0)
			return size * n;
	}
	/* The sign-in cookie is plugauth's: the API neither sets nor clears
	 * it (a session fixation, a forced sign-out). */
	if (nlen == 10 && strncasecmp(p, "Set-Cookie", 10) == 0 &&
	    gw_set_cookie_dropped(v, vlen, j->px->gw->drop_cookies)) {
		log_warn("event=upstream_cookie_dropped reason=session_cookie");
		return size * n;
	}
	if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0)
		j->sse = vlen >= 17 &&
		         strncasecmp(v, "text/event-stream", 17) == 0 &&
		         (vlen == 17 || v[17] == ';' || v[17] == ' ');
	if (nlen == 0 || buf_add(&j->rhdrs, p, nlen) != ST_OK ||
	    buf_add(&j->rhdrs, "", 1) != ST_OK ||
	    buf_add(&j->rhdrs, v, vlen) != ST_OK ||
	    buf_add(&j->rhdrs, "", 1) != ST_OK) {
		j->too_big = nlen != 0;
		return nlen == 0 ? size * n : 0;
	}
	return size * n;
}

/* curl: a piece of the upstream's answer body. */
static size_t
on_response_body(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;

	if (j->stream)
		return gw_stream_write(j, p, size * n);
	if (buf_add(&j->body, p, size * n) != ST_OK) {
		j->too_big = true;
		return 0; /* aborts the transfer */
	}
	return size * n;
}

void
gw_job_unref(void *arg)
{
	struct job *j = arg;

	if (j == NULL || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->easy != NULL)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->hdrs);
	free(j->url);
	buf_free(&j->rhdrs);
	buf_free(&j->body);
	free(j->sbuf);
	pthread_mutex_destroy(&j->smu);
	free(j);
}

static enum status
job_new(struct gw_proxy *px, struct http_req *req, const struct gw_identity *id,
        struct job **out)
{
	struct job *j;
	struct buf url;
	struct str body = http_req_body(req), tok;
	const char *m = http_req_method(req);
	CURL *e;
	enum status rc;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return ST_NOMEM;
	j->px = px;
	j->req = req;
	atomic_init(&j->refs, 1);
	j->cfd = -1;
	pthread_mutex_init(&j->smu, NULL);
	j->head = strcmp(m, "HEAD") == 0;
	str_copy(j->peer, sizeof(j->peer), http_req_peer(req));
	if (gw_bearer_parse(http_req_header(req, "Authorization"), &tok) ==
	    GW_OK)
		sec_digest(tok.p, tok.len, j->token);
	buf_init(&j->rhdrs, RESP_HEADERS_MAX_BYTES);
	buf_init(&j->body, px->resp_max);
	str_copy(j->client_id, sizeof(j->client_id), id->client_id);
	str_copy(j->user, sizeof(j->user), id->user);
	buf_init(&url, SIZE_MAX);
	if ((rc = buf_adds(&url, px->base)) != ST_OK ||
	    (rc = buf_adds(&url, http_req_target(req))) != ST_OK)
		goto fail;
	j->url = buf_take(&url);
	if (j->url == NULL) {
		rc = ST_NOMEM;
		goto fail;
	}
	if ((rc = gw_request_headers(req, id, px->gw, &j->hdrs)) != ST_OK)
		goto fail;
	e = j->easy = easy_get(px);
	if (e == NULL) {
		rc = ST_NOMEM;
		goto fail;
	}
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	/* Back to a plain GET without a body, whatever the handle did last. */
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "GET") == 0 && body.len == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(m, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
		/* A body, even an empty one, for methods that carry one. */
		if (body.len > 0 || strcmp(m, "POST") == 0 ||
		    strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)body.len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS,
			                 body.p != NULL ? body.p : "");
		}
	}
	*out = j;
	return ST_OK;
fail:
	buf_free(&url);
	gw_job_unref(j);
	return rc;
}

/* --- answering -------------------------------------------------------- */

static enum status
upstream_failed(struct gw_env *gw, struct http_req *req, struct job *j,
                unsigned status, const char *code, const char *reason,
                const char *desc)
{
	struct gw_identity id;

	memset(&id, 0, sizeof(id));
	str_copy(id.client_id, sizeof(id.client_id), j->client_id);
	str_copy(id.user, sizeof(id.user), j->user);
	gw_event(gw, req, &id, code, reason);
	log_warn("event=upstream_failed status=%u reason=%s curl=\"%s\"",
	         status, reason, curl_easy_strerror(j->cc));
	return http_respond_error(req, status, code, desc);
}

/* Runs on a server thread once the transfer has ended. */
static enum status
proxy_resumed(struct http_req *req, void *ctx)
{
	struct job *j = ctx;
	struct gw_env *gw = j->px->gw;
	struct str h;
	char *body;
	size_t len;
	enum status rc;

	if (j->stream) /* first: the transfer goes on */
		return gw_stream_respond(req, j);
	if (j->state == JOB_ABORTED) {
		if ((rc = http_resp_header(req, "Retry-After", "1")) != ST_OK)
			return rc;
		return http_respond_error(req, 503, "temporarily_unavailable",
		                          "the server is shutting down");
	}
	if (j->over_cap)
		return upstream_failed(gw, req, j, 429, "too_many_streams",
		                       "too_many_streams", STREAMS_FULL_DESC);
	if (j->too_big)
		return upstream_failed(gw, req, j, 502, "bad_gateway",
		                       "response_too_big",
		                       "the upstream's answer is too large");
	if (j->cc == CURLE_OPERATION_TIMEDOUT)
		return upstream_failed(gw, req, j, 504, "gateway_timeout",
		                       "upstream_timeout",
		                       "the upstream did not answer in time");
	if (j->cc != CURLE_OK || j->status < 100 || j->status > 999)
		return upstream_failed(gw, req, j, 502, "bad_gateway",
		                       j->cc == CURLE_COULDNT_CONNECT
		                           ? "upstream_unreachable"
		                           : "upstream_error",
		                       "the upstream cannot be reached");
	h = buf_str(&j->rhdrs);
	for (size_t off = 0; off < h.len;) {
		const char *name = h.p + off;
		const char *value = name + strlen(name) + 1;

		rc = http_resp_header(req, name, value);
		if (rc != ST_OK)
			return rc;
		off = (size_t)(value + strlen(value) + 1 - h.p);
	}
	len = j->body.len;
	body = buf_take(&j->body);
	if (body == NULL)
		return ST_NOMEM;
	return http_respond_take(req, (unsigned)j->status, NULL, body, len);
}

/* The checks before the body is read: the token, an upstream, the path.
 * NULL once req is answered (*rc, as gw_identify()). */
static const struct gw_identity *
proxy_admit(struct gw_env *gw, struct http_req *req, enum status *rc)
{
	const struct gw_identity *id;

	if ((id = gw_identify(gw, req, true, rc)) == NULL)
		return NULL;
	if (gw->proxy == NULL) {
		*rc = http_respond_error(req, 404, "not_found",
		                         "no upstream configured");
		return NULL;
	}
	if (!gw_path_ok(http_req_target(req), gw->cfg->gateway.path)) {
		*rc = http_respond_error(
		    req, 400, "invalid_request",
		    "the path must be under the gateway path as sent, without "
		    ". or .. segments (also encoded or before a ';'), "
		    "backslashes, NULs or '#'");
		return NULL;
	}
	return id;
}

enum status
gw_proxy_head(struct http_req *req, void *ctx)
{
	enum status rc;

	(void)proxy_admit(ctx, req, &rc);
	return rc;
}

/* True if req asks for an event stream: GET with Accept:
 * text/event-stream (what MCP's Streamable HTTP sends for one). */
static bool
wants_stream(const struct http_req *req)
{
	const char *a = http_req_header(req, "Accept");

	return a != NULL && strcmp(http_req_method(req), "GET") == 0 &&
	       strcasestr(a, "text/event-stream") != NULL;
}

enum status
gw_proxy_handle(struct http_req *req, void *ctx)
{
	struct gw_env *gw = ctx;
	struct gw_proxy *px = gw->proxy;
	const struct gw_identity *id;
	struct job *j = NULL;
	struct loop *lp;
	enum status rc;

	if ((id = proxy_admit(gw, req, &rc)) == NULL)
		return rc;
	rc = job_new(px, req, id, &j);
	if (rc == ST_TOOBIG)
		return http_respond_error(req, 431, "invalid_request",
		                          "request headers too large");
	if (rc != ST_OK)
		return rc;
	if (wants_stream(req) && gw_stream_full(px, j)) {
		rc = upstream_failed(gw, req, j, 429, "too_many_streams",
		                     "too_many_streams", STREAMS_FULL_DESC);
		gw_job_unref(j);
		return rc;
	}
	lp = &px->loops[atomic_fetch_add(&px->next, 1) % px->nloops];
	j->lp = lp;
	pthread_mutex_lock(&lp->mu);
	if (lp->stopped) {
		pthread_mutex_unlock(&lp->mu);
		gw_job_unref(j);
		if ((rc = http_resp_header(req, "Retry-After", "1")) != ST_OK)
			return rc;
		return http_respond_error(req, 503, "temporarily_unavailable",
		                          "the server is shutting down");
	}
	rc = http_req_suspend(req, proxy_resumed, j, gw_job_server_done);
	if (rc == ST_OK) {
		atomic_fetch_add(&j->refs, 1); /* the loop's */
		if (lp->queue_tail != NULL)
			lp->queue_tail->next = j;
		else
			lp->queue = j;
		lp->queue_tail = j;
	}
	pthread_mutex_unlock(&lp->mu);
	if (rc != ST_OK) {
		gw_job_unref(j);
		return rc;
	}
	gw_loop_wake(lp);
	return ST_OK;
}

/* --- life cycle --------------------------------------------------------- */
enum status
gw_proxy_new(struct gw_env *gw, struct gw_proxy **out, char *err, size_t errlen)
{
	const struct config *cfg = gw->cfg;
	struct gw_proxy *px;
	struct str base = str_of(cfg->gateway.upstream);
	long ncpu;
	enum status rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		str_errf(err, errlen, "gateway: cannot initialise libcurl");
		return ST_INTERNAL;
	}
	px = calloc(1, sizeof(*px));
	if (px == NULL) {
		str_errf(err, errlen, "gateway: out of memory");
		return ST_NOMEM;
	}
	px->gw = gw;
	pthread_mutex_init(&px->mu, NULL);
	px->timeout_ms = (long)cfg->gateway.timeout * 1000;
	px->resp_max = cfg->gateway.response_max_bytes;
	px->idle_ms = (long)cfg->gateway.stream_idle_timeout * 1000;
	pthread_mutex_init(&px->caps_mu, NULL);
	while (base.len > 0 && base.p[base.len - 1] == '/')
		base.len--;
	px->base = str_dup(base);
	if (px->base == NULL) {
		str_errf(err, errlen, "gateway: out of memory");
		gw_proxy_free(px);
		return ST_NOMEM;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	px->nloops = ncpu < 1              ? 1
	             : ncpu > GW_LOOPS_MAX ? GW_LOOPS_MAX
	                                   : (size_t)ncpu;
	for (size_t i = 0; i < px->nloops; i++) {
		rc = gw_loop_start(px, &px->loops[i]);
		if (rc != ST_OK) {
			str_errf(
			    err, errlen,
			    "gateway: cannot start the upstream client: %s",
			    status_str(rc));
			gw_proxy_free(px);
			return rc;
		}
	}
	*out = px;
	return ST_OK;
}

void
gw_proxy_abort(struct gw_proxy *px)
{
	if (px == NULL)
		return;
	for (size_t i = 0; i < px->nloops; i++)
		gw_loop_stop(&px->loops[i]);
}

void
gw_proxy_free(struct gw_proxy *px)
{
	if (px == NULL)
		return;
	for (size_t i = 0; i < GW_LOOPS_MAX; i++)
		gw_loop_free(&px->loops[i]);
	for (size_t i = 0; i < px->npool; i++)
		curl_easy_cleanup(px->pool[i]);
	pthread_mutex_destroy(&px->mu);
	gw_stream_caps_free(px);
	free(px->base);
	free(px);
}
