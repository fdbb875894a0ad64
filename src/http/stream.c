/*
 * Streamed answers (http_respond_stream()): libmicrohttpd pulls the body
 * from a callback as the client's socket can take it. When the source has
 * nothing yet, the connection is suspended from inside that callback (the
 * way libmicrohttpd allows it) instead of being asked again at once, which
 * would spin; http_stream_wake() resumes it. A wake that comes between the
 * source saying "nothing yet" and the suspension is remembered, so no
 * wake is lost and none makes the connection spin.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/log.h"
#include "http/http_int.h"

#define STREAM_BLOCK_BYTES 16384 /* libmicrohttpd's pull size */

struct http_stream {
	struct MHD_Connection *conn;
	struct http_server *srv;
	http_stream_fn fn;
	void *ctx;
	void (*ctx_free)(void *);
	pthread_mutex_t mu;
	bool asleep;       /* mu: suspended, counted in srv->suspended */
	bool wake_pending; /* mu: woken while not asleep */
};

/* libmicrohttpd: the next piece of the body. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	ssize_t n;

	(void)pos;
	n = s->fn(s->ctx, buf, max);
	if (n > 0)
		return n;
	if (n == HTTP_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n != HTTP_STREAM_WAIT)
		return MHD_CONTENT_READER_END_WITH_ERROR; /* closes */
	pthread_mutex_lock(&s->mu);
	if (s->wake_pending) {
		s->wake_pending = false; /* asked again: fn sees what came */
	} else {
		s->asleep = true;
		atomic_fetch_add(&s->srv->suspended, 1);
		MHD_suspend_connection(s->conn);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void
stream_free(void *cls)
{
	struct http_stream *s = cls;

	if (s->ctx_free != NULL)
		s->ctx_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The fixed 500 of an answer that lost a header (respond_broken() in
 * request.c, which answers so for any answer once a header is lost). */
static enum status
respond_broken_500(struct http_req *req)
{
	req->hdrs_failed = true;
	return http_respond_text(req, 500, NULL, "", 0);
}

enum status
http_respond_stream(struct http_req *req, unsigned status, http_stream_fn fn,
                    void *ctx, void (*ctx_free)(void *))
{
	struct MHD_Response *resp;
	struct http_stream *s;

	if (!http_resp_unanswered(req) || req->offloaded ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		if (ctx_free != NULL)
			ctx_free(ctx);
		return req->answered || req->offloaded ? ST_INTERNAL : ST_NOMEM;
	}
	s->conn = req->conn;
	s->srv = req->srv;
	s->fn = fn;
	s->ctx = ctx;
	s->ctx_free = ctx_free;
	pthread_mutex_init(&s->mu, NULL);
	if (req->hdrs_failed) {
		stream_free(s);
		return respond_broken_500(req);
	}
	resp = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES, stream_read, s, stream_free);
	if (resp == NULL) {
		stream_free(s);
		return ST_NOMEM;
	}
	if (!http_resp_headers_add(req, resp, NULL)) {
		MHD_destroy_response(resp); /* frees s */
		return respond_broken_500(req);
	}
	req->stream = s;
	return http_resp_queue(req, status, resp);
}

int
http_req_socket(const struct http_req *req)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(req->conn,
	                             MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci != NULL ? (int)ci->connect_fd : -1;
}

void
http_stream_wake(struct http_req *req)
{
	struct http_stream *s = req->stream;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->asleep) {
		s->asleep = false;
		MHD_resume_connection(s->conn);
		atomic_fetch_sub(&s->srv->suspended, 1);
	} else {
		s->wake_pending = true;
	}
	pthread_mutex_unlock(&s->mu);
}
