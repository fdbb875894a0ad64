/*
 * The validated-token cache. Every API call checks a bearer token, so the
 * check must not cost a database read each time: a token found live is
 * remembered for a few seconds. The table is set-associative (WAYS entries
 * per set, chosen by the token digest, which is uniformly random) and its
 * sets are guarded by a fixed number of lock stripes, so threads rarely
 * wait for each other and memory stays bounded. The identity is kept
 * packed in one allocation per entry; no token is ever stored, only its
 * digest.
 *
 * Revocation: an entry is served only under the generation it was put
 * with (gw_cache_gen()), the sum of two counters that only grow: the
 * store's count of this process's revoking calls (one atomic load per
 * check, so this process's revocations take effect at once), and the
 * number of times the database's revocation epoch, which every process's
 * revocations bump, was seen to change. That one costs a database read,
 * so one caller reads it at most every poll_ms: another process's
 * revocation is seen within poll_ms and one read. A changed generation
 * drops every entry, not just the revoked tokens': revocations are rare,
 * and the cache refills with one store read per token.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_int.h"

#define WAYS 4
#define STRIPES 256 /* power of two */

struct entry {
	uint8_t digest[SEC_DIGEST_BYTES];
	int64_t until_ms; /* served while now < until_ms; 0: empty */
	int64_t expires_at;
	uint64_t gen; /* served only while the generation is this */
	char *blob;   /* user\0client_id\0scope\0audience\0 */
};

struct stripe {
	pthread_mutex_t mu;
} __attribute__((aligned(64)));

struct gw_cache {
	struct entry *e; /* nsets * WAYS */
	size_t nsets;    /* power of two */
	int64_t ttl_ms;
	int64_t poll_ms;
	_Atomic int64_t polled_ms; /* the epoch was last read; 0: never */
	_Atomic uint64_t epoch;    /* as last read */
	_Atomic uint64_t changes;  /* it changed, or could not be read */
	struct stripe locks[STRIPES];
};

int64_t
gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum status
gw_cache_new(size_t entries, int64_t ttl_ms, int64_t poll_ms,
             struct gw_cache **out)
{
	struct gw_cache *c;
	size_t nsets = 1;

	while (nsets * WAYS < entries)
		nsets <<= 1;
	c = aligned_alloc(64, (sizeof(*c) + 63) / 64 * 64);
	if (c == NULL)
		return ST_NOMEM;
	memset(c, 0, sizeof(*c));
	c->e = calloc(nsets * WAYS, sizeof(*c->e));
	if (c->e == NULL) {
		free(c);
		return ST_NOMEM;
	}
	c->nsets = nsets;
	c->ttl_ms = ttl_ms;
	c->poll_ms = poll_ms;
	atomic_init(&c->polled_ms, 0);
	atomic_init(&c->epoch, 0);
	atomic_init(&c->changes, 0);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i].mu, NULL);
	*out = c;
	return ST_OK;
}

void
gw_cache_free(struct gw_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nsets * WAYS; i++)
		free(c->e[i].blob);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i].mu);
	free(c->e);
	free(c);
}

static size_t
set_of(const struct gw_cache *c, const uint8_t digest[SEC_DIGEST_BYTES])
{
	uint64_t h;

	memcpy(&h, digest, sizeof(h));
	return (size_t)h & (c->nsets - 1);
}

/* Copies the packed fields of blob into id. */
static void
unpack(const char *blob, int64_t expires_at, struct gw_identity *id)
{
	const char *p = blob;

	str_copy(id->user, sizeof(id->user), p);
	p += strlen(p) + 1;
	str_copy(id->client_id, sizeof(id->client_id), p);
	p += strlen(p) + 1;
	str_copy(id->scope, sizeof(id->scope), p);
	p += strlen(p) + 1;
	str_copy(id->audience, sizeof(id->audience), p);
	id->expires_at = expires_at;
}

static char *
pack(const struct gw_identity *id)
{
	size_t nu, nc, ns, na;
	char *b;

	nu = strlen(id->user) + 1;
	nc = strlen(id->client_id) + 1;
	ns = strlen(id->scope) + 1;
	na = strlen(id->audience) + 1;
	b = malloc(nu + nc + ns + na);
	if (b == NULL)
		return NULL;
	memcpy(b, id->user, nu);
	memcpy(b + nu, id->client_id, nc);
	memcpy(b + nu + nc, id->scope, ns);
	memcpy(b + nu + nc + ns, id->audience, na);
	return b;
}

uint64_t
gw_cache_gen(struct gw_cache *c, struct store *st, int64_t now_ms)
{
	int64_t last = atomic_load(&c->polled_ms);
	uint64_t v;

	/* Due (or the clock stepped back): the caller that wins the
	 * exchange reads, the others go on with the last value read. */
	if ((now_ms - last >= c->poll_ms || now_ms < last) &&
	    atomic_compare_exchange_strong(&c->polled_ms, &last, now_ms)) {
		if (store_revocation_epoch(st, &v) != ST_OK) {
			atomic_fetch_add(&c->changes, 1); /* cannot tell */
		} else if (v != atomic_load(&c->epoch)) {
			atomic_store(&c->epoch, v);
			atomic_fetch_add(&c->changes, 1);
		}
	}
	return store_revocations_local(st) + atomic_load(&c->changes);
}

bool
gw_cache_get(struct gw_cache *c, const uint8_t digest[SEC_DIGEST_BYTES],
             int64_t now_ms, uint64_t gen, struct gw_identity *out)
{
	size_t set = set_of(c, digest);
	struct entry *e = &c->e[set * WAYS];
	pthread_mutex_t *mu = &c->locks[set & (STRIPES - 1)].mu;
	bool hit = false;

	pthread_mutex_lock(mu);
	for (size_t w = 0; w < WAYS; w++) {
		if (e[w].until_ms > now_ms && e[w].gen == gen &&
		    sec_digest_eq(e[w].digest, digest)) {
			unpack(e[w].blob, e[w].expires_at, out);
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(mu);
	return hit;
}

void
gw_cache_put(struct gw_cache *c, const uint8_t digest[SEC_DIGEST_BYTES],
             const struct gw_identity *id, int64_t now_ms, uint64_t gen)
{
	size_t set = set_of(c, digest);
	struct entry *e = &c->e[set * WAYS], *victim = NULL;
	pthread_mutex_t *mu = &c->locks[set & (STRIPES - 1)].mu;
	int64_t until;
	char *blob, *old;

	until = now_ms + c->ttl_ms;
	if (id->expires_at * 1000 < until)
		until = id->expires_at * 1000; /* never past the token */
	if (until <= now_ms)
		return;
	blob = pack(id);
	if (blob == NULL)
		return; /* only a cache: the next check reads the store */
	pthread_mutex_lock(mu);
	for (size_t w = 0; w < WAYS; w++) {
		if (e[w].until_ms != 0 && sec_digest_eq(e[w].digest, digest)) {
			victim = &e[w];
			break;
		}
		if (e[w].gen != gen)
			victim = &e[w]; /* another generation's: dead */
		else if (victim == NULL || (victim->gen == gen &&
		                            e[w].until_ms < victim->until_ms))
			victim = &e[w]; /* empty (0) or first to expire */
	}
	old = victim->blob;
	memcpy(victim->digest, digest, SEC_DIGEST_BYTES);
	victim->until_ms = until;
	victim->expires_at = id->expires_at;
	victim->gen = gen;
	victim->blob = blob;
	pthread_mutex_unlock(mu);
	free(old);
}

size_t
gw_cache_count(struct gw_cache *c)
{
	size_t n = 0;

	for (size_t set = 0; set < c->nsets; set++) {
		pthread_mutex_t *mu = &c->locks[set & (STRIPES - 1)].mu;

		pthread_mutex_lock(mu);
		for (size_t w = 0; w < WAYS; w++)
			n += c->e[set * WAYS + w].until_ms != 0;
		pthread_mutex_unlock(mu);
	}
	return n;
}
