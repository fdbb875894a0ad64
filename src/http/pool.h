/*
 * http/ internal: a pool of threads for blocking work (a store commit, a
 * password hash) that must not hold one of libmicrohttpd's workers. Jobs
 * wait in a bounded FIFO queue; each runs once, on any pool thread.
 */
#ifndef PLUGAUTH_HTTP_POOL_H
#define PLUGAUTH_HTTP_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

struct http_pool;

/* Runs one job (borrowed: the pool never touches it afterwards). */
typedef void (*http_pool_fn)(void *job, void *arg);

/* Starts threads (>= 1) threads calling fn(job, arg) on each job pushed;
 * at most queue_max (>= 1) jobs wait at once. *out is new
 * (http_pool_free()). The threads inherit the caller's signal mask. */
enum status http_pool_new(unsigned threads, size_t queue_max, http_pool_fn fn,
                          void *arg, struct http_pool **out);

/* Queues job for a pool thread; false (job untouched) if queue_max jobs
 * wait already or the pool is being freed. From any thread. */
bool http_pool_push(struct http_pool *, void *job);

/* Runs every job still queued, then joins the threads and frees the pool.
 * No push may start after this is called. NULL-safe. */
void http_pool_free(struct http_pool *);

#endif
