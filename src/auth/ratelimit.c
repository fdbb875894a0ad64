/*
 * auth/ratelimit: failed-login counting in a fixed, set-associative table.
 *
 * A key hashes (SHA-256 under a per-process random seed, so nobody can aim
 * keys at one bucket) to a 64-bit tag; the tag picks one bucket of
 * RATELIMIT_WAYS entries and is compared in full within it. An entry with
 * count 0 is free. One mutex guards the table: every operation is a few
 * dozen instructions under it, the hashing is done before taking it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "crypto/sec.h"

#define RATELIMIT_WAYS 8
#define RATELIMIT_BUCKETS (RATELIMIT_ENTRIES / RATELIMIT_WAYS)
#define RATELIMIT_SEED_BYTES (SEC_ID_STRLEN - 1)

struct rl_entry {
	uint64_t tag;
	int64_t start;  /* the window's first failure */
	unsigned count; /* 0: free */
};

struct auth_limiter {
	pthread_mutex_t mu;
	unsigned max;
	unsigned window_s;
	char seed[SEC_ID_STRLEN];
	struct rl_entry e[RATELIMIT_ENTRIES];
};

enum status
auth_limiter_new(unsigned max, unsigned window_s, struct auth_limiter **out)
{
	struct auth_limiter *l;

	if (max == 0 || window_s == 0)
		return ST_INVALID;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return ST_NOMEM;
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return ST_INTERNAL;
	}
	l->max = max;
	l->window_s = window_s;
	sec_random_id(l->seed);
	*out = l;
	return ST_OK;
}

void
auth_limiter_free(struct auth_limiter *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static uint64_t
key_tag(const struct auth_limiter *l, const char *key)
{
	uint8_t in[RATELIMIT_SEED_BYTES + SEC_DIGEST_BYTES];
	uint8_t d[SEC_DIGEST_BYTES];
	uint64_t tag = 0;

	memcpy(in, l->seed, RATELIMIT_SEED_BYTES);
	sec_digest(key, strlen(key), in + RATELIMIT_SEED_BYTES);
	sec_digest(in, sizeof(in), d);
	for (size_t i = 0; i < sizeof(tag); i++)
		tag = tag << 8 | d[i];
	return tag;
}

static struct rl_entry *
bucket_of(struct auth_limiter *l, uint64_t tag)
{
	return &l->e[(tag % RATELIMIT_BUCKETS) * RATELIMIT_WAYS];
}

/* The live entry for tag in bucket b, or NULL. */
static struct rl_entry *
entry_find(struct rl_entry *b, uint64_t tag)
{
	for (size_t i = 0; i < RATELIMIT_WAYS; i++)
		if (b[i].count > 0 && b[i].tag == tag)
			return &b[i];
	return NULL;
}

/* True once the window that started at e->start is over. A clock that
 * went backwards leaves the window open. */
static bool
entry_expired(const struct auth_limiter *l, const struct rl_entry *e,
              int64_t now)
{
	return now >= e->start && now - e->start >= (int64_t)l->window_s;
}

/*
 * The entry to reuse in a full bucket: a free or expired one if any, else
 * the one with the fewest failures (oldest first), so that a flood of
 * one-off keys evicts itself before it evicts a key close to its limit.
 */
static struct rl_entry *
entry_victim(const struct auth_limiter *l, struct rl_entry *b, int64_t now)
{
	struct rl_entry *v = &b[0];

	for (size_t i = 0; i < RATELIMIT_WAYS; i++) {
		if (b[i].count == 0 || entry_expired(l, &b[i], now))
			return &b[i];
		if (b[i].count < v->count ||
		    (b[i].count == v->count && b[i].start < v->start))
			v = &b[i];
	}
	return v;
}

/* Seconds until e's window ends if e is blocked at now, else 0. Called
 * with the lock held; e may be NULL. */
static unsigned
entry_wait(const struct auth_limiter *l, const struct rl_entry *e, int64_t now)
{
	int64_t left;

	if (e == NULL || e->count < l->max || entry_expired(l, e, now))
		return 0;
	left = e->start + (int64_t)l->window_s - now;
	if (left < 1)
		left = 1;
	if (left > (int64_t)l->window_s)
		left = l->window_s; /* the clock went backwards */
	return (unsigned)left;
}

/* Counts one failure for tag, whose live entry in bucket b is e (or NULL).
 * Called with the lock held. */
static void
entry_count(struct auth_limiter *l, struct rl_entry *b, struct rl_entry *e,
            uint64_t tag, int64_t now)
{
	if (e != NULL && !entry_expired(l, e, now)) {
		if (e->count < l->max)
			e->count++; /* past max it only stays blocked */
		return;
	}
	if (e == NULL)
		e = entry_victim(l, b, now);
	e->tag = tag;
	e->start = now;
	e->count = 1;
}

bool
auth_limiter_blocked(struct auth_limiter *l, const char *key, int64_t now,
                     unsigned *retry_after_s)
{
	unsigned left;
	uint64_t tag;

	tag = key_tag(l, key);
	pthread_mutex_lock(&l->mu);
	left = entry_wait(l, entry_find(bucket_of(l, tag), tag), now);
	pthread_mutex_unlock(&l->mu);
	if (retry_after_s != NULL)
		*retry_after_s = left;
	return left > 0;
}

void
auth_limiter_fail(struct auth_limiter *l, const char *key, int64_t now)
{
	struct rl_entry *b;
	uint64_t tag;

	tag = key_tag(l, key);
	pthread_mutex_lock(&l->mu);
	b = bucket_of(l, tag);
	entry_count(l, b, entry_find(b, tag), tag, now);
	pthread_mutex_unlock(&l->mu);
}

bool
auth_limiter_take(struct auth_limiter *l, const char *key, int64_t now,
                  unsigned *retry_after_s)
{
	struct rl_entry *b, *e;
	unsigned left;
	uint64_t tag;

	tag = key_tag(l, key);
	pthread_mutex_lock(&l->mu);
	b = bucket_of(l, tag);
	e = entry_find(b, tag);
	left = entry_wait(l, e, now);
	if (left == 0)
		entry_count(l, b, e, tag, now);
	pthread_mutex_unlock(&l->mu);
	if (retry_after_s != NULL)
		*retry_after_s = left;
	return left == 0;
}

/* Takes back one of key's failures, or all of them. */
static void
entry_uncount(struct auth_limiter *l, const char *key, bool all)
{
	struct rl_entry *e;
	uint64_t tag;

	tag = key_tag(l, key);
	pthread_mutex_lock(&l->mu);
	e = entry_find(bucket_of(l, tag), tag);
	if (e != NULL && (all || --e->count == 0))
		memset(e, 0, sizeof(*e)); /* free again */
	pthread_mutex_unlock(&l->mu);
}

void
auth_limiter_forgive(struct auth_limiter *l, const char *key)
{
	entry_uncount(l, key, false);
}

void
auth_limiter_reset(struct auth_limiter *l, const char *key)
{
	entry_uncount(l, key, true);
}

void
auth_limiter_addr_key(const char *peer, char *out, size_t outsz)
{
	struct in6_addr a6;
	char txt[INET6_ADDRSTRLEN];
	const char *key = peer;
	const char *suffix = "";

	if (inet_pton(AF_INET6, peer, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			/* The IPv4 address in the last 4 bytes. */
			inet_ntop(AF_INET, &a6.s6_addr[12], txt, sizeof(txt));
		} else {
			memset(&a6.s6_addr[8], 0, 8); /* the /64 */
			inet_ntop(AF_INET6, &a6, txt, sizeof(txt));
			suffix = "/64";
		}
		key = txt;
	}
	/* A truncated key still names the address's prefix: fine. */
	if (snprintf(out, outsz, "a:%s%s", key, suffix) < 0 && outsz > 0)
		out[0] = '\0';
}
