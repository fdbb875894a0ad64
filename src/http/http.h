/*
 * The HTTP server: libmicrohttpd glue (the only user of microhttpd.h).
 * Requests are routed by method and path to handlers that run on the
 * server's worker threads (or, for offloaded routes, on its blocking-work
 * threads); each handler answers exactly once through one of the
 * http_respond_*() calls.
 */
#ifndef PLUGAUTH_HTTP_H
#define PLUGAUTH_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/form.h"
#include "core/status.h"
#include "core/str.h"

struct http_req;
struct http_server;

/* A handler answers the request; a non-OK return without an answer makes
 * the server answer 500 (503 for ST_STORE) with a JSON error. */
typedef enum status (*http_handler)(struct http_req *, void *ctx);

/*
 * A route whose handler blocks (a store commit, a password hash) sets
 * offload: its handler then runs on one of http_opts.blocking_threads
 * threads instead of a libmicrohttpd worker, which meanwhile serves other
 * connections. Up to HTTP_OFFLOAD_QUEUE_PER_THREAD requests per thread
 * wait for one; past that the request is answered 503 with Retry-After
 * at once. An offloaded handler answers as any other, but must not call
 * http_req_suspend() (it returns ST_INTERNAL).
 */
struct http_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* exact, or a prefix if prefix */
	bool prefix;
	http_handler fn;
	void *ctx;
	size_t body_max;   /* 0: http_opts.body_max_bytes */
	bool offload;      /* run fn on the blocking-work pool */
	http_handler head; /* NULL, or the head hook (below) */
};

/*
 * A route's head hook runs on a server thread as soon as the request head
 * is in and has passed the limits, before any of the body is read
 * (http_req_body() is empty), with the route's ctx. If it answers, the body
 * is never read (the connection closes after the answer) and fn never
 * runs; if it returns ST_OK without answering, fn runs once the body is
 * in. A non-OK return without an answer gets the server's 500/503. It must
 * not suspend; what it found can be handed to fn with http_req_stash().
 */

#define HTTP_OFFLOAD_QUEUE_PER_THREAD 16

/*
 * Request limits. A request over one is answered with a JSON error and
 * never reaches a handler: 413 for the body, 414 for the request-target,
 * 431 for the headers, 400 for a malformed request-target, more than
 * HTTP_QUERY_ARGS_MAX query arguments, two Content-Lengths, one with a
 * Transfer-Encoding, or a control byte (but HTAB) in a header, 501 for a
 * transfer coding other than chunked; the connection is then closed.
 * Each connection gets a memory pool sized for the largest request head the
 * limits allow (see pool_size() in server.c); only a head past that is refused
 * by libmicrohttpd itself, with its own 431 or 414 page.
 */
#define HTTP_POOL_SLACK 16384     /* the answer's head, alignment */
#define HTTP_POOL_RECORD_BYTES 64 /* one header or argument record */
#define HTTP_QUERY_ARGS_MAX 256   /* '&'-separated query pieces */

struct http_limits {
	size_t body_max_bytes;   /* routes without their own */
	size_t header_max_bytes; /* all header lines together */
	unsigned header_max_count;
	size_t url_max_bytes;    /* the request-target */
	unsigned params_max;     /* for handlers: form/JSON parameters */
	unsigned json_max_depth; /* for handlers: JSON nesting */
};

struct http_opts {
	const char *listen;        /* "host:port"; port 0 picks a free one */
	unsigned threads;          /* 0 = one per core */
	unsigned blocking_threads; /* >= 1 if a route offloads */
	struct http_limits limits;
	unsigned connection_limit;
	unsigned per_address_limit; /* 0: none */
	unsigned connection_timeout_s;
	const char *tls_cert;       /* PEM file paths, NULL for plain HTTP; */
	const char *tls_key;        /* borrowed: must outlive the server */
	const char *tls_priorities; /* GnuTLS; NULL: the default */
	bool hsts;                  /* Strict-Transport-Security on answers */
};

/* TLS 1.2 and 1.3 only, with GnuTLS's NORMAL ciphers and groups. */
#define HTTP_TLS_PRIORITIES_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HTTP_HSTS_VALUE "max-age=31536000"

/* Starts serving routes (borrowed: must outlive the server). *out is new
 * (http_server_stop()). On error writes one line to err. */
enum status http_server_start(const struct http_opts *,
                              const struct http_route *routes, size_t nroutes,
                              struct http_server **out, char *err,
                              size_t errlen);

/* Reads the TLS certificate and key files again; new handshakes use them,
 * those under way keep the old pair. On error (written to err) the old
 * pair stays. From one thread at a time. */
enum status http_server_tls_reload(struct http_server *, char *err,
                                   size_t errlen);

/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *);

/* Stops accepting and waits up to drain_s seconds for requests in flight
 * to complete; the server keeps serving the connections it has. Once is
 * enough; http_server_stop() does it too. NULL-safe. */
void http_server_quiesce(struct http_server *, unsigned drain_s);

/* Stops accepting, waits up to drain_s seconds for requests in flight,
 * then stops. Every suspended request must have been resumed first
 * (http_req_resume()); if one has not, the server is left running and
 * leaked rather than crashed. NULL-safe. */
void http_server_stop(struct http_server *, unsigned drain_s);

/* Request accessors. All borrowed: valid until the handler returns. */
const char *http_req_method(const struct http_req *);
const char *http_req_path(const struct http_req *);
/* Header value (case-insensitive name), or NULL. */
const char *http_req_header(const struct http_req *, const char *name);
/* Decoded query parameter, or NULL. */
const char *http_req_query(const struct http_req *, const char *name);
/* Cookie value by name, or NULL. */
const char *http_req_cookie(const struct http_req *, const char *name);
/* Adds every query parameter to f (form_add: ST_INVALID on a repeated
 * name, ST_TOOBIG past the form's ceiling). */
enum status http_req_query_form(const struct http_req *, struct form *f);
/* The whole request body (NUL-terminated; may contain NULs). */
struct str http_req_body(const struct http_req *);
/* The peer address as text ("127.0.0.1"). */
const char *http_req_peer(const struct http_req *);
/* The request-target as received: path and query, not decoded. */
const char *http_req_target(const struct http_req *);
/* True if the request came over TLS. */
bool http_req_tls(const struct http_req *);
/* The server's request limits (params_max, json_max_depth for parsers). */
const struct http_limits *http_req_limits(const struct http_req *);

/* Keeps p with the request (a head hook's finding, for the handler) and
 * takes it: free_fn(p) (free_fn may be NULL) runs when the request is
 * done, also on error. Once per request (ST_INVALID, p freed, after). */
enum status http_req_stash(struct http_req *, void *p, void (*free_fn)(void *));
/* What http_req_stash() kept, or NULL. Borrowed: valid until the request
 * is done. */
void *http_req_stashed(const struct http_req *);

/* Called for each request header; return false to stop. */
typedef bool (*http_header_fn)(const char *name, const char *value, void *arg);
/* Calls fn for every request header, in the order received. */
void http_req_headers_each(const struct http_req *, http_header_fn fn,
                           void *arg);

/*
 * Suspends the request from inside its handler, which then returns
 * ST_OK without answering: the connection sleeps (costing no thread)
 * until http_req_resume(); on_resume(req, ctx) then runs on a server
 * thread and answers like a handler. ctx_free(ctx) (may be NULL) runs once
 * when the request is done, whether on_resume ran or not (the client went
 * away, the server stopped). Only while the handler runs, once per request,
 * and never from an offloaded route's handler (ST_INTERNAL).
 */
enum status http_req_suspend(struct http_req *, http_handler on_resume,
                             void *ctx, void (*ctx_free)(void *));
/* Wakes a suspended request; from any thread, exactly once per
 * http_req_suspend(). req is not to be touched by the caller afterwards. */
void http_req_resume(struct http_req *);

/* Adds a header to the coming answer (copied). On failure the answer
 * would lack it, so whatever the handler answers next goes out as a bare
 * 500 instead (never an answer short of a header such as Cache-Control:
 * no-store); the caller should stop and return the status. */
enum status http_resp_header(struct http_req *, const char *name,
                             const char *value)
    __attribute__((warn_unused_result));

/* Answers with JSON. Takes body (json_decref'd here, also on error). */
enum status http_respond_json(struct http_req *, unsigned status, json_t *body);
/* Answers with text (copied) of the given content type. */
enum status http_respond_text(struct http_req *, unsigned status,
                              const char *content_type, const char *text,
                              size_t len);
/* Answers with data of len bytes, taken: free()d by the server, also on
 * error. content_type may be NULL (then set it with http_resp_header() or
 * not at all). */
enum status http_respond_take(struct http_req *, unsigned status,
                              const char *content_type, char *data, size_t len);
/* Answers an HTML page (copied) with the page security headers: the given
 * Content-Security-Policy, X-Frame-Options: DENY, Referrer-Policy:
 * no-referrer, X-Content-Type-Options: nosniff, Cache-Control: no-store. */
enum status http_respond_html(struct http_req *, unsigned status,
                              const char *csp, const char *html, size_t len);
/* Answers a redirect (302, 303) to location (copied), with an empty body. */
enum status http_respond_redirect(struct http_req *, unsigned status,
                                  const char *location);
/* Answers {"error": code, "error_description": desc} (desc may be NULL). */
enum status http_respond_error(struct http_req *, unsigned status,
                               const char *code, const char *desc);

/*
 * A streamed answer's source (http_respond_stream()), on a server thread:
 * copies up to max bytes of the body into buf and returns how many (> 0),
 * or HTTP_STREAM_WAIT (nothing yet: the connection sleeps, costing no
 * thread, until http_stream_wake()), HTTP_STREAM_END (the body is
 * complete) or HTTP_STREAM_ABORT (it broke: the connection is closed
 * without the final chunk, so the client sees it cut short).
 */
#define HTTP_STREAM_WAIT 0
#define HTTP_STREAM_END (-1)
#define HTTP_STREAM_ABORT (-2)
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);
/* Answers with a body of unknown length (chunked) pulled from fn as the
 * client takes it, with the headers set so far. Takes ctx: ctx_free(ctx)
 * (may be NULL) runs once the answer is done with, also on error. Not
 * from an offloaded route (ST_INTERNAL). */
enum status http_respond_stream(struct http_req *, unsigned status,
                                http_stream_fn fn, void *ctx,
                                void (*ctx_free)(void *));
/* Asks a streamed answer's fn again (from any thread): the next call sees
 * what came since. Only while req is not done: a suspended request's
 * ctx_free (http_req_suspend()) tells when it is. */
void http_stream_wake(struct http_req *);
/* The socket of req's connection, to watch for the client's close while a
 * stream sleeps (the server does not watch it then); -1 if unknown. Only
 * to poll: it is closed after the request is done (after ctx_free of
 * http_req_suspend()). */
int http_req_socket(const struct http_req *);

#endif
