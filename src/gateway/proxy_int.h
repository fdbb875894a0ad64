/* Shared by the upstream client's files: proxy.c (transfers, the curl
 * threads, buffered answers) and stream.c (streamed answers). */
#ifndef PLUGAUTH_GATEWAY_PROXY_INT_H
#define PLUGAUTH_GATEWAY_PROXY_INT_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/buf.h"
#include "gateway/gateway_int.h"

#define EASY_POOL_MAX 256 /* idle curl handles kept */
#define GW_LOOPS_MAX 8
#define STREAM_BUF_BYTES                                                       \
	65536 /* a stream's bytes in flight; >= 4 curl                         \
	       * writes (CURL_MAX_WRITE_SIZE) */
#define STREAM_CAP_BUCKETS 256

enum job_state { JOB_RUNNING = 0, JOB_DONE, JOB_ABORTED };

struct loop;

struct job {
	struct job *next, *prev; /* queue, then active list */
	struct gw_proxy *px;
	struct loop *lp;
	struct http_req *req; /* suspended while running */
	atomic_int refs;      /* server, loop, stream answer, pokes */
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char client_id[128]; /* for the event log */
	char user[128];
	enum job_state state;
	CURLcode cc;
	long status;
	bool too_big;     /* answer over a limit */
	bool head;        /* a HEAD request: never streamed */
	bool sse;         /* the answer is text/event-stream */
	bool over_cap;    /* a stream over max_streams_*: 429 */
	struct buf rhdrs; /* "name\0value\0"... */
	struct buf body;
	/* the loop thread's */
	bool in_loop;        /* in the multi handle */
	int64_t deadline_ms; /* the answer (head, for a stream) is due */
	/* lp->mu: pokes from server threads */
	struct job *poke_next;
	bool poked, want_unpause, want_cancel;
	/* streams (stream.c); stream is set once, before the resume */
	bool stream;
	bool counted; /* in the stream caps */
	uint8_t token[SEC_DIGEST_BYTES];
	char peer[INET6_ADDRSTRLEN];
	atomic_int_least64_t active_ms; /* last byte in or out */
	pthread_mutex_t smu;
	char *sbuf;        /* smu: STREAM_BUF_BYTES */
	size_t soff, slen; /* smu: bytes waiting in sbuf */
	bool ended;        /* smu: the transfer is over (cc) */
	bool paused;       /* smu: curl paused for room */
	bool gone;         /* smu: the request is done */
	bool answering;    /* smu: http_stream_wake() allowed */
	int cfd;           /* the client's socket, watched if */
	bool watching;     /* smu: cfd is in lp->epfd */
};

/* epoll data of a watched client socket (a job, tagged); curl sockets
 * carry their fd, which is below 2^31. */
#define WATCH_TAG (UINT64_C(1) << 63)

/* One curl multi handle and the thread that drives it. */
struct loop {
	struct gw_proxy *px;
	CURLM *multi;
	pthread_t thread;
	bool running; /* thread started, not joined */
	pthread_mutex_t mu;
	struct job *queue, *queue_tail; /* mu: waiting to be added */
	struct job *pokes;              /* mu: to unpause or cancel */
	bool stopped;                   /* mu: no more jobs */
	bool exited;                    /* mu: the thread is gone */
	struct job *active;             /* the thread's own */
	int epfd;                       /* the thread's sockets and evfd */
	int evfd;                       /* wakes the thread */
	int64_t deadline_ms;  /* libcurl's timer (monotonic); -1: none */
	int64_t next_scan_ms; /* the earliest job deadline; -1: none */
};

struct stream_cap; /* stream.c */

struct gw_proxy {
	struct gw_env *gw;
	struct loop loops[GW_LOOPS_MAX];
	size_t nloops;
	atomic_uint next; /* the loop for the next transfer */
	pthread_mutex_t mu;
	CURL *pool[EASY_POOL_MAX]; /* mu: idle handles */
	size_t npool;
	char *base; /* upstream without a final '/' */
	long timeout_ms;
	long idle_ms; /* [gateway] stream_idle_timeout */
	size_t resp_max;
	pthread_mutex_t caps_mu;
	struct stream_cap *caps[STREAM_CAP_BUCKETS]; /* caps_mu */
};

/* proxy.c. Drops a reference to j; the last one frees it. NULL-safe. */
void gw_job_unref(void *j);

/* loop.c. The monotonic clock, milliseconds. */
int64_t gw_mono_ms(void);
/* Ends j's transfer on its loop (the loop thread): a buffered answer's
 * request is resumed, a stream is told it ended. */
void gw_job_finish(struct loop *, struct job *, enum job_state);
/* Wakes a curl thread (from any thread). */
void gw_loop_wake(struct loop *);
/* Keeps an idle curl handle for the next transfer (or frees it). */
void gw_easy_put(struct gw_proxy *, CURL *);
/* Starts lp's thread for px; on error gw_loop_free() cleans up. */
enum status gw_loop_start(struct gw_proxy *, struct loop *lp);
/* Answers what the loop holds (503; streams cut) and stops its thread. */
void gw_loop_stop(struct loop *);
/* Stops and frees a started (or half-started) loop; NULL-safe fields. */
void gw_loop_free(struct loop *);

/* stream.c. Called by the curl callbacks for a job whose head is in:
 * true if the answer is to be streamed, which then has begun (caps
 * counted, the request resumed); false with j->over_cap set if a cap
 * refuses it. */
bool gw_stream_start(struct job *);
/* curl's write callback for a streamed answer. */
size_t gw_stream_write(struct job *, const char *p, size_t len);
/* Answers a resumed request whose j->stream is set (on a server thread). */
enum status gw_stream_respond(struct http_req *, struct job *);
/* True if the caps are reached for j's token or address. */
bool gw_stream_full(struct gw_proxy *, const struct job *);
/* The stream's part of the end of its transfer (loop thread). */
void gw_stream_ended(struct job *);
/* The client of a watched stream closed its connection (loop thread). */
void gw_stream_client_closed(struct loop *, struct job *);
/* The server is done with j's request (http_req_suspend()'s ctx_free). */
void gw_job_server_done(void *j);
/* Unpauses or cancels the jobs poked from server threads (loop thread);
 * at exit (stopping) only drops them. */
void gw_pokes_run(struct loop *, bool stopping);
/* Frees the caps table (at gw_proxy_free()). */
void gw_stream_caps_free(struct gw_proxy *);

#endif
