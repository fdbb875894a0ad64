/*
 * Inside http/: the server and request objects, shared by the server
 * (server.c: routing, dispatch, offloading, libmicrohttpd's callbacks,
 * start and stop), the request accessors and responders (request.c) and
 * the request limits (limits.c).
 */
#ifndef PLUGAUTH_HTTP_INT_H
#define PLUGAUTH_HTTP_INT_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/buf.h"
#include "http/http.h"
#include "http/pool.h"

#define RESP_HEADERS_MAX_BYTES 16384
/* A request path in a log line (through log_safe(), truncated). */
#define LOG_PATH_BYTES 256

struct http_server {
	struct MHD_Daemon *d;
	const struct http_route *routes;
	size_t nroutes;
	struct http_limits limits;
	unsigned port;
	atomic_uint inflight;   /* requests not yet completed */
	atomic_uint suspended;  /* suspended, not yet resumed */
	struct http_pool *pool; /* NULL if no route offloads */
	bool quiesced;
	MHD_socket listen_fd; /* after quiescing */
	/* TLS (tls.c); tls_cert_path is NULL for plain HTTP. */
	const char *tls_cert_path; /* borrowed from http_opts */
	const char *tls_key_path;
	const char *tls_priorities;
	struct http_tls_pair *_Atomic tls_pair; /* handed to handshakes */
	struct http_tls_pair *tls_retired;      /* replaced, freed at stop */
	bool hsts;                              /* Strict-Transport-Security */
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const struct http_route *route; /* NULL: no route for the path */
	bool path_known;                /* some route has this path */
	const char *method;
	const char *path;
	char *target; /* as received; NULL if unknown */
	struct buf body;
	bool started;            /* the access handler saw it */
	unsigned refused;        /* the status refusing it, or 0 */
	const char *refused_why; /* static text */
	bool answered;
	bool in_handler;           /* a handler is running */
	bool offloaded;            /* handed to the pool */
	struct MHD_Response *kept; /* offloaded: the answer to queue */
	unsigned kept_status;
	http_handler resume_fn; /* set while suspended */
	void *resume_ctx;
	void (*ctx_free)(void *);
	void *stash; /* http_req_stash() */
	void (*stash_free)(void *);
	struct buf hdrs;  /* "name\0value\0"... for the answer */
	bool hdrs_failed; /* a header was lost: answer 500 */
	char peer[INET6_ADDRSTRLEN];
	struct http_stream *stream; /* http_respond_stream(); NULL */
};

/* request.c. http_resp_header() without the must-use, for the answers
 * the server builds itself: a lost header sets req->hdrs_failed, and the
 * answer that follows goes out as a bare 500 instead. */
enum status http_resp_header_or_500(struct http_req *, const char *name,
                                    const char *value);

/* request.c. Adds the content type (may be NULL), HSTS and the handler's
 * headers (req->hdrs, emptied) to resp; false if one was lost. */
bool http_resp_headers_add(struct http_req *, struct MHD_Response *resp,
                           const char *content_type);
/* True if req has no answer yet; logs a second answer. */
bool http_resp_unanswered(struct http_req *);
/* Hands resp (taken) to libmicrohttpd, or keeps it for the access handler
 * of an offloaded request. */
enum status http_resp_queue(struct http_req *, unsigned status,
                            struct MHD_Response *resp);

/* limits.c. The body cap of the request's route (the server's for no
 * route). */
size_t http_body_max(const struct http_req *);
/* Refuses req with status and why (static text), answered by dispatch()
 * before any handler runs. The first refusal stands. */
void http_refuse(struct http_req *, unsigned status, const char *why);
/* Checks the request-target, before libmicrohttpd splits its query. */
void http_target_check(struct http_req *, const char *target);
/* Checks the headers against the limits (and the body's announced size). */
void http_head_check(struct http_req *);
/* A connection's memory pool for these limits. */
size_t http_pool_size(const struct http_limits *);

/* tls.c. Checks o's priority string and loads its key pair into srv,
 * for the daemon's certificate callback; on error writes err. */
enum status http_tls_start(struct http_server *, const struct http_opts *o,
                           char *err, size_t errlen);
/* Fills opts[3] (an MHD_OPTION_ARRAY) with the certificate callback and
 * the priority string. */
void http_tls_options(const struct http_server *, struct MHD_OptionItem *);
/* Frees the key pairs, the retired ones too; after the daemon stopped. */
void http_tls_stop(struct http_server *);

#endif
