/*
 * The validated-token cache. Every API call checks a bearer token, so the
 * check must not cost a database read each time: a token found live is
 * remembered for a few seconds. The table is set-associative (WAYS entries
 * per set, chosen by the token digest, which is uniformly random) and its
 * sets are guarded by a fixed number of lock stripes, so threads rarely
 * wait for each other and memory stays bounded. The identity is kept
 * packed in one allocation per entry; no token is ever stored, only its
 * digest.
 */
#include <pthread.h>
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
	char *blob; /* user\0client_id\0scope\0audience\0 */
};

struct stripe {
	pthread_mutex_t mu;
} __attribute__((aligned(64)));

struct gw_cache {
	struct entry *e; /* nsets * WAYS */
	size_t nsets;    /* power of two */
	int64_t ttl_ms;
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
gw_cache_new(size_t entries, int64_t ttl_ms, struct gw_cache **out)
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

bool
gw_cache_get(struct gw_cache *c, const uint8_t digest[SEC_DIGEST_BYTES],
             int64_t now_ms, struct gw_identity *out)
{
	size_t set = set_of(c, digest);
	struct entry *e = &c->e[set * WAYS];
	pthread_mutex_t *mu = &c->locks[set & (STRIPES - 1)].mu;
	bool hit = false;

	pthread_mutex_lock(mu);
	for (size_t w = 0; w < WAYS; w++) {
		if (e[w].until_ms > now_ms &&
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
             const struct gw_identity *id, int64_t now_ms)
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
		if (victim == NULL || e[w].until_ms < victim->until_ms)
			victim = &e[w]; /* empty (0) or first to expire */
	}
	old = victim->blob;
	memcpy(victim->digest, digest, SEC_DIGEST_BYTES);
	victim->until_ms = until;
	victim->expires_at = id->expires_at;
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
