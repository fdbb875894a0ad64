/*
 * Failed-login limiter: counts failures per key ("u:alice", "a:192.0.2.7")
 * in fixed windows of window_s seconds from a key's first failure, and
 * reports the key blocked once the count reaches max, until that window
 * ends. In memory, per process, thread-safe, and bounded: a fixed table of
 * RATELIMIT_ENTRIES entries; when it is full, the entry least worth keeping
 * (expired first, then the fewest failures, then the oldest) is evicted.
 * Keys are kept only as keyed 64-bit hashes, never as text.
 * Times are seconds on any monotonic or wall clock the caller picks, passed
 * in so tests can move them.
 */
#ifndef PLUGAUTH_RATELIMIT_H
#define PLUGAUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define RATELIMIT_ENTRIES 4096

struct auth_limiter;

/* A limiter allowing max (>= 1) failures per key per window_s (>= 1)
 * seconds. ST_INVALID for a zero argument. *out is new (free with
 * auth_limiter_free()); untouched on error. Call sec_init() first. */
enum status auth_limiter_new(unsigned max, unsigned window_s,
                             struct auth_limiter **out);

/* True if key has reached max failures in its current window; then
 * *retry_after_s (if not NULL) is the seconds until the window ends
 * (>= 1), else it is 0. */
bool auth_limiter_blocked(struct auth_limiter *, const char *key, int64_t now,
                          unsigned *retry_after_s);

/* Counts one failure for key at now. */
void auth_limiter_fail(struct auth_limiter *, const char *key, int64_t now);

/*
 * Reserves one failure for key before the attempt is judged: in one step
 * under the limiter's lock, false (and *retry_after_s as for
 * auth_limiter_blocked()) if key is blocked, else counts one failure and
 * true (*retry_after_s 0). Concurrent attempts thus pass at most max times
 * per window. An attempt that turns out not to be a failure gives its
 * reservation back with auth_limiter_forgive().
 */
bool auth_limiter_take(struct auth_limiter *, const char *key, int64_t now,
                       unsigned *retry_after_s);

/* Takes back one failure counted for key by auth_limiter_take(). */
void auth_limiter_forgive(struct auth_limiter *, const char *key);

/* Forgets key's failures (after a successful sign-in). */
void auth_limiter_reset(struct auth_limiter *, const char *key);

/*
 * The limiter key of a client address, into out ("a:" + address): an IPv6
 * address counts by its /64 ("a:2001:db8::/64"), since whoever has one
 * address has the whole /64; an IPv4-mapped IPv6 address counts as its
 * IPv4 address; anything else (IPv4, "-") as it is. Truncated to fit.
 */
void auth_limiter_addr_key(const char *peer, char *out, size_t outsz);

/* NULL-safe. */
void auth_limiter_free(struct auth_limiter *);

#endif
