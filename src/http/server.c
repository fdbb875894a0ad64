/*
 * libmicrohttpd glue: one access handler accumulates the body under a cap,
 * routes by method and path, and hands the request to its handler. A
 * handler may suspend its request (libmicrohttpd's suspend/resume) to
 * answer later from another thread's result without holding a worker.
 *
 * Offloaded routes (http_route.offload): the access handler suspends the
 * request and queues it for the blocking-work pool (pool.c); a pool thread
 * runs the handler, whose answer is built but kept in the request (only
 * the access handler may queue a response), and resumes the connection;
 * libmicrohttpd then calls the access handler again, which queues the kept
 * answer. Such a request counts as suspended until the pool thread has
 * resumed it, and as in flight until it completes, like any other.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_int.h"

#define DRAIN_STEP_US 20000

static bool
route_match(const struct http_route *r, const char *path)
{
	size_t n;

	if (!r->prefix)
		return strcmp(r->path, path) == 0;
	n = strlen(r->path);
	return strncmp(r->path, path, n) == 0;
}

static void
route_find(struct http_req *req)
{
	const struct http_server *srv = req->srv;

	for (size_t i = 0; i < srv->nroutes; i++) {
		const struct http_route *r = &srv->routes[i];

		if (!route_match(r, req->path))
			continue;
		req->path_known = true;
		if (strcmp(r->method, req->method) == 0) {
			req->route = r;
			return;
		}
	}
}

/* The methods routed for this path, for a 405's Allow header. */
static void
route_allow(const struct http_req *req, char *out, size_t outsz)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < req->srv->nroutes; i++) {
		const struct http_route *r = &req->srv->routes[i];
		int m;

		if (!route_match(r, req->path))
			continue;
		m = snprintf(out + n, outsz - n, "%s%s", n ? ", " : "",
		             r->method);
		if (m < 0 || (size_t)m >= outsz - n)
			return;
		n += (size_t)m;
	}
}

/* Answers for a handler that returned rc without answering. */
static void
answer_failed(struct http_req *req, enum status rc)
{
	char path[LOG_PATH_BYTES];

	if (rc == ST_STORE) {
		(void)http_resp_header_or_500(req, "Retry-After", "1");
		http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		                   "temporarily_unavailable",
		                   "storage unavailable");
	} else {
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                   "server_error", "internal error");
	}
	log_err("event=handler_failed path=%s status=%s",
	        log_safe(req->path, path, sizeof(path)), status_str(rc));
}

/* Runs a handler; a suspended request is answered later. */
static void
run_handler(struct http_req *req, http_handler fn, void *ctx)
{
	enum status rc;
	char path[LOG_PATH_BYTES];

	req->in_handler = true;
	rc = fn(req, ctx);
	req->in_handler = false;
	if (req->answered)
		return;
	if (req->resume_fn != NULL && fn != req->resume_fn) {
		if (rc == ST_OK)
			return; /* suspended: on_resume answers */
		log_err("event=handler_failed path=%s status=%s "
		        "reason=suspended_with_error",
		        log_safe(req->path, path, sizeof(path)),
		        status_str(rc));
		return;
	}
	answer_failed(req, rc);
}

/* Runs the route's head hook, before the body is read (http.h). */
static void
run_head(struct http_req *req)
{
	enum status rc;

	rc = req->route->head(req, req->route->ctx);
	if (rc != ST_OK && !req->answered)
		answer_failed(req, rc);
}

/* Called again after http_req_resume(). */
static void
dispatch_resumed(struct http_req *req)
{
	http_handler fn = req->resume_fn;

	run_handler(req, fn, req->resume_ctx);
	req->resume_fn = NULL;
}

/* Hands an offloaded request back to libmicrohttpd, from any thread;
 * req is not to be touched afterwards. */
static void
offload_resume(struct http_req *req)
{
	struct http_server *srv = req->srv;

	MHD_resume_connection(req->conn);
	atomic_fetch_sub(&srv->suspended, 1);
}

/* On a pool thread: runs the handler, then resumes the request. */
static void
offload_run(void *job, void *arg)
{
	struct http_req *req = job;

	(void)arg;
	run_handler(req, req->route->fn, req->route->ctx);
	offload_resume(req);
}

/* Suspends req and queues it for the pool; with the queue full, answers
 * 503 at once instead. */
static void
offload(struct http_req *req)
{
	struct http_server *srv = req->srv;
	char path[LOG_PATH_BYTES];

	req->offloaded = true;
	atomic_fetch_add(&srv->suspended, 1);
	MHD_suspend_connection(req->conn);
	if (http_pool_push(srv->pool, req))
		return;
	log_warn("event=http_busy path=%s reason=offload_queue_full",
	         log_safe(req->path, path, sizeof(path)));
	(void)http_resp_header_or_500(req, "Retry-After", "1");
	http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
	                   "temporarily_unavailable", "server busy");
	offload_resume(req);
}

/* Back from the pool: queues the kept answer. Without one (none could be
 * built) the connection is closed. */
static enum MHD_Result
offload_answer(struct http_req *req)
{
	enum MHD_Result ok;

	if (req->kept == NULL)
		return MHD_NO;
	ok = MHD_queue_response(req->conn, req->kept_status, req->kept);
	MHD_destroy_response(req->kept);
	req->kept = NULL;
	return ok;
}

static void
dispatch(struct http_req *req)
{
	char allow[128], path[LOG_PATH_BYTES];

	if (req->refused != 0) {
		log_debug("event=http_refused status=%u path=%s reason=\"%s\"",
		          req->refused, log_safe(req->path, path, sizeof(path)),
		          req->refused_why);
		/* A malformed head (400, 501: two lengths, a length with a
		 * transfer coding, a control byte) leaves where the next
		 * request starts unknown: none is read. A body refused by its
		 * size (413) or a head too large (414, 431) has a known
		 * framing and is left to libmicrohttpd: with Connection: close
		 * a client still sending a large body was seen to get a reset
		 * instead of the 413 (bad_input.test.js,
		 * gateway_boundary_1mib). */
		if (req->refused == MHD_HTTP_BAD_REQUEST ||
		    req->refused == MHD_HTTP_NOT_IMPLEMENTED)
			(void)http_resp_header_or_500(req, "Connection",
			                              "close");
		http_respond_error(req, req->refused, "invalid_request",
		                   req->refused_why);
		return;
	}
	if (req->route == NULL) {
		if (!req->path_known) {
			http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found",
			                   "no such endpoint");
			return;
		}
		route_allow(req, allow, sizeof(allow));
		(void)http_resp_header_or_500(req, "Allow", allow);
		http_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED,
		                   "invalid_request", "method not allowed");
		return;
	}
	if (req->route->offload)
		offload(req);
	else
		run_handler(req, req->route->fn, req->route->ctx);
}

/* A new request object; target (may be NULL) is copied. */
static struct http_req *
req_new(struct http_server *srv, struct MHD_Connection *conn,
        const char *target)
{
	struct http_req *req;

	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return NULL;
	if (target != NULL && (req->target = strdup(target)) == NULL) {
		free(req);
		return NULL;
	}
	req->srv = srv;
	req->conn = conn;
	buf_init_secret(&req->body, srv->limits.body_max_bytes);
	buf_init(&req->hdrs, RESP_HEADERS_MAX_BYTES);
	atomic_fetch_add(&srv->inflight, 1);
	return req;
}

/* libmicrohttpd hands over the request-target here, before decoding it:
 * the request object starts life with a copy of it (the gateway forwards
 * the path and query unchanged). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_req *req = req_new(cls, conn, uri);
	char *q;

	if (req == NULL)
		return NULL;
	http_target_check(req, uri);
	/*
	 * libmicrohttpd splits the query right after this callback, one
	 * record per argument from the connection's memory pool; a query
	 * with more than the pool holds leaves the connection hanging with
	 * no answer (0.9.75). A refused request needs no arguments, so its
	 * query is cut here, in libmicrohttpd's own buffer: uri points into
	 * it (the const is the API's promise to callers that only read), and
	 * the '?' it finds stays, followed by an empty query.
	 */
	if (req->refused != 0 && (q = strchr(uri, '?')) != NULL)
		((char *)(uintptr_t)q)[1] = '\0';
	return req;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct http_req *req = *req_cls;

	(void)version;
	if (req == NULL) {
		req = req_new(srv, conn, NULL);
		if (req == NULL)
			return MHD_NO;
		*req_cls = req;
	}
	if (!req->started) {
		req->started = true;
		req->method = method;
		req->path = url;
		route_find(req);
		buf_init_secret(&req->body, http_body_max(req)); /* empty */
		http_head_check(req);
		if (req->refused != 0)
			dispatch(req); /* before reading; the body is dropped */
		else if (req->route != NULL && req->route->head != NULL)
			run_head(req); /* may answer: the body is dropped */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->refused == 0 && !req->answered &&
		    buf_add(&req->body, upload_data, *upload_data_size) !=
		        ST_OK)
			http_refuse(
			    req, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body too large"); /* buf_add freed it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->offloaded)
		return offload_answer(req);
	if (req->resume_fn != NULL)
		dispatch_resumed(req);
	else if (!req->answered)
		dispatch(req);
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req *req = *req_cls;

	(void)conn;
	(void)toe;
	if (req == NULL)
		return;
	if (req->ctx_free != NULL)
		req->ctx_free(req->resume_ctx);
	if (req->stash_free != NULL)
		req->stash_free(req->stash);
	if (req->kept != NULL)
		MHD_destroy_response(req->kept);
	buf_wipe_free(&req->body); /* may hold secrets */
	buf_free(&req->hdrs);
	free(req->target);
	free(req);
	*req_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* Its text may quote the request: one line, no closing quote. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			msg[i] = '?';
	}
	log_warn("event=http_server msg=\"%s\"", msg);
}

static enum status
resolve(const char *listen, struct sockaddr_storage *ss, char *err,
        size_t errlen)
{
	char host[256], port[8];
	unsigned p;
	struct addrinfo hints, *ai = NULL;
	int n;

	if (!cfg_listen_split(listen, host, sizeof(host), &p)) {
		snprintf(err, errlen, "bad listen address \"%s\"", listen);
		return ST_INVALID;
	}
	snprintf(port, sizeof(port), "%u", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	n = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (n != 0 || ai == NULL) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s", host,
		         gai_strerror(n));
		return ST_INVALID;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return ST_OK;
}

/* Starts the blocking-work pool if a route of srv offloads. */
static enum status
pool_start(struct http_server *srv, const struct http_opts *o, char *err,
           size_t errlen)
{
	enum status rc;

	for (size_t i = 0; i < srv->nroutes; i++) {
		if (!srv->routes[i].offload)
			continue;
		rc = http_pool_new(o->blocking_threads,
		                   (size_t)o->blocking_threads *
		                       HTTP_OFFLOAD_QUEUE_PER_THREAD,
		                   offload_run, NULL, &srv->pool);
		if (rc != ST_OK)
			snprintf(err, errlen,
			         "cannot start %u blocking-work threads: %s",
			         o->blocking_threads, status_str(rc));
		return rc;
	}
	return ST_OK;
}

enum status
http_server_start(const struct http_opts *o, const struct http_route *routes,
                  size_t nroutes, struct http_server **out, char *err,
                  size_t errlen)
{
	struct http_server *srv = NULL;
	struct sockaddr_storage ss;
	struct MHD_OptionItem tls_opts[3];
	const union MHD_DaemonInfo *di;
	unsigned flags, threads;
	enum status rc;

	rc = resolve(o->listen, &ss, err, errlen);
	if (rc != ST_OK)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return ST_NOMEM;
	srv->routes = routes;
	srv->nroutes = nroutes;
	srv->limits = o->limits;
	srv->listen_fd = MHD_INVALID_SOCKET;
	threads = o->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	        MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->hsts = o->hsts;
	tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	if (o->tls_cert != NULL) {
		rc = http_tls_start(srv, o, err, errlen);
		if (rc != ST_OK)
			goto fail;
		http_tls_options(srv, tls_opts);
		flags |= MHD_USE_TLS;
	}
	if ((rc = pool_start(srv, o, err, errlen)) != ST_OK)
		goto fail;
	srv->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
	    MHD_OPTION_CONNECTION_LIMIT, o->connection_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_address_limit,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, http_pool_size(&o->limits),
	    MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_ARRAY,
	    tls_opts, MHD_OPTION_END);
	if (srv->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", o->listen,
		         errno ? strerror(errno) : "libmicrohttpd refused");
		rc = ST_INTERNAL;
		goto fail;
	}
	di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : 0;
	*out = srv;
	return ST_OK;
fail:
	http_pool_free(srv->pool);
	http_tls_stop(srv);
	free(srv);
	return rc;
}

unsigned
http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void
http_server_quiesce(struct http_server *srv, unsigned drain_s)
{
	unsigned waited_us = 0;

	if (srv == NULL)
		return;
	if (!srv->quiesced) {
		srv->listen_fd = MHD_quiesce_daemon(srv->d);
		srv->quiesced = true;
	}
	while (atomic_load(&srv->inflight) > 0 &&
	       waited_us < drain_s * 1000000u) {
		usleep(DRAIN_STEP_US);
		waited_us += DRAIN_STEP_US;
	}
}

void
http_server_stop(struct http_server *srv, unsigned drain_s)
{
	unsigned n;

	if (srv == NULL)
		return;
	http_server_quiesce(srv, drain_s);
	/* Runs what is still queued: every offloaded request is resumed. */
	http_pool_free(srv->pool);
	srv->pool = NULL;
	n = atomic_load(&srv->suspended);
	if (n > 0) {
		/* libmicrohttpd aborts the process if we stop now. */
		log_err("event=http_stop_skipped suspended=%u", n);
		return;
	}
	MHD_stop_daemon(srv->d);
	if (srv->listen_fd != MHD_INVALID_SOCKET)
		close(srv->listen_fd);
	http_tls_stop(srv);
	free(srv);
}
