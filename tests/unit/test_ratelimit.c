/* auth/ratelimit: failed-login limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "crypto/sec.h"

#define T0 1700000000 /* any start time */

static int
setup(void **state)
{
	(void)state;
	return sec_init() == ST_OK ? 0 : -1;
}

static void
test_new_rejects_zero(void **state)
{
	struct auth_limiter *l = NULL;

	(void)state;
	assert_int_equal(auth_limiter_new(0, 60, &l), ST_INVALID);
	assert_int_equal(auth_limiter_new(5, 0, &l), ST_INVALID);
	assert_null(l);
	auth_limiter_free(NULL);
}

static void
test_blocks_at_max(void **state)
{
	struct auth_limiter *l;
	unsigned retry = 99;

	(void)state;
	assert_int_equal(auth_limiter_new(3, 60, &l), ST_OK);
	assert_false(auth_limiter_blocked(l, "u:alice", T0, &retry));
	assert_int_equal(retry, 0);
	auth_limiter_fail(l, "u:alice", T0);
	auth_limiter_fail(l, "u:alice", T0 + 1);
	assert_false(auth_limiter_blocked(l, "u:alice", T0 + 2, &retry));
	auth_limiter_fail(l, "u:alice", T0 + 2);
	assert_true(auth_limiter_blocked(l, "u:alice", T0 + 2, &retry));
	/* The window started at the first failure, T0. */
	assert_int_equal(retry, 58);
	assert_true(auth_limiter_blocked(l, "u:alice", T0 + 59, &retry));
	assert_int_equal(retry, 1);
	assert_true(auth_limiter_blocked(l, "u:alice", T0 + 30, NULL));
	/* More failures while blocked do not extend the window. */
	for (int i = 0; i < 100; i++)
		auth_limiter_fail(l, "u:alice", T0 + 40);
	assert_true(auth_limiter_blocked(l, "u:alice", T0 + 40, &retry));
	assert_int_equal(retry, 20);
	auth_limiter_free(l);
}

static void
test_window_expiry_unblocks(void **state)
{
	struct auth_limiter *l;
	unsigned retry;

	(void)state;
	assert_int_equal(auth_limiter_new(2, 60, &l), ST_OK);
	auth_limiter_fail(l, "a:192.0.2.7", T0);
	auth_limiter_fail(l, "a:192.0.2.7", T0 + 10);
	assert_true(auth_limiter_blocked(l, "a:192.0.2.7", T0 + 59, &retry));
	assert_false(auth_limiter_blocked(l, "a:192.0.2.7", T0 + 60, &retry));
	assert_int_equal(retry, 0);
	/* A failure after the window starts a new one at count 1. */
	auth_limiter_fail(l, "a:192.0.2.7", T0 + 61);
	assert_false(auth_limiter_blocked(l, "a:192.0.2.7", T0 + 61, NULL));
	auth_limiter_fail(l, "a:192.0.2.7", T0 + 62);
	assert_true(auth_limiter_blocked(l, "a:192.0.2.7", T0 + 62, &retry));
	assert_int_equal(retry, 59);
	/* A failure spread over two windows never blocks. */
	auth_limiter_fail(l, "u:bob", T0);
	auth_limiter_fail(l, "u:bob", T0 + 60);
	assert_false(auth_limiter_blocked(l, "u:bob", T0 + 60, NULL));
	/* A clock that steps back keeps the block, with a sane retry. */
	assert_true(auth_limiter_blocked(l, "a:192.0.2.7", T0, &retry));
	assert_int_equal(retry, 60);
	auth_limiter_free(l);
}

static void
test_reset(void **state)
{
	struct auth_limiter *l;

	(void)state;
	assert_int_equal(auth_limiter_new(2, 60, &l), ST_OK);
	auth_limiter_fail(l, "u:alice", T0);
	auth_limiter_fail(l, "u:alice", T0);
	assert_true(auth_limiter_blocked(l, "u:alice", T0, NULL));
	auth_limiter_reset(l, "u:alice");
	assert_false(auth_limiter_blocked(l, "u:alice", T0, NULL));
	auth_limiter_fail(l, "u:alice", T0);
	assert_false(auth_limiter_blocked(l, "u:alice", T0, NULL));
	auth_limiter_reset(l, "u:nobody"); /* unknown key: no-op */
	auth_limiter_free(l);
}

static void
test_keys_independent(void **state)
{
	struct auth_limiter *l;

	(void)state;
	assert_int_equal(auth_limiter_new(2, 60, &l), ST_OK);
	auth_limiter_fail(l, "u:alice", T0);
	auth_limiter_fail(l, "u:alice", T0);
	auth_limiter_fail(l, "u:bob", T0);
	assert_true(auth_limiter_blocked(l, "u:alice", T0, NULL));
	assert_false(auth_limiter_blocked(l, "u:bob", T0, NULL));
	assert_false(auth_limiter_blocked(l, "a:alice", T0, NULL));
	assert_false(auth_limiter_blocked(l, "u:alic", T0, NULL));
	assert_false(auth_limiter_blocked(l, "u:alicee", T0, NULL));
	assert_false(auth_limiter_blocked(l, "", T0, NULL));
	auth_limiter_reset(l, "u:bob");
	assert_true(auth_limiter_blocked(l, "u:alice", T0, NULL));
	auth_limiter_free(l);
}

static void
test_table_full_eviction(void **state)
{
	struct auth_limiter *l;
	char key[64];
	int n;

	(void)state;
	assert_int_equal(auth_limiter_new(3, 60, &l), ST_OK);
	/* A key at its limit, then a flood of one-off keys, 5x the table. */
	for (int i = 0; i < 3; i++)
		auth_limiter_fail(l, "u:victim", T0);
	for (int i = 0; i < 5 * RATELIMIT_ENTRIES; i++) {
		n = snprintf(key, sizeof(key), "u:flood%d", i);
		assert_true(n > 0 && (size_t)n < sizeof(key));
		auth_limiter_fail(l, key, T0 + 1);
	}
	/* The flood evicted itself, not the blocked key. */
	assert_true(auth_limiter_blocked(l, "u:victim", T0 + 1, NULL));
	/* The full table still counts new keys. */
	for (int i = 0; i < 3; i++)
		auth_limiter_fail(l, "a:198.51.100.1", T0 + 2);
	assert_true(auth_limiter_blocked(l, "a:198.51.100.1", T0 + 2, NULL));
	/* Expired entries are reused first: after the window, a second flood
	 * of distinct keys all fit next to fresh blocked keys. */
	for (int i = 0; i < 3; i++)
		auth_limiter_fail(l, "u:late", T0 + 100);
	for (int i = 0; i < RATELIMIT_ENTRIES / 2; i++) {
		n = snprintf(key, sizeof(key), "u:second%d", i);
		assert_true(n > 0 && (size_t)n < sizeof(key));
		auth_limiter_fail(l, key, T0 + 100);
		auth_limiter_fail(l, key, T0 + 100);
	}
	assert_true(auth_limiter_blocked(l, "u:late", T0 + 100, NULL));
	assert_false(auth_limiter_blocked(l, "u:victim", T0 + 100, NULL));
	auth_limiter_free(l);
}

#define THREADS 4
#define PER_THREAD 2000

struct worker {
	struct auth_limiter *l;
	int id;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char key[32];
	int n;

	for (int i = 0; i < PER_THREAD; i++) {
		/* 25 failures each on the shared key: 100 in all. */
		if (i % (PER_THREAD / 25) == 0)
			auth_limiter_fail(w->l, "u:shared", T0);
		n = snprintf(key, sizeof(key), "a:%d.%d", w->id, i % 100);
		if (n < 0 || (size_t)n >= sizeof(key))
			return NULL;
		auth_limiter_fail(w->l, key, T0);
		(void)auth_limiter_blocked(w->l, key, T0, NULL);
		(void)auth_limiter_blocked(w->l, "u:shared", T0, NULL);
		if (i % 7 == 0)
			auth_limiter_reset(w->l, key);
	}
	return w;
}

static void
test_concurrent(void **state)
{
	struct auth_limiter *l;
	pthread_t th[THREADS];
	struct worker w[THREADS];
	void *ret;

	(void)state;
	/* max 101: the 100 shared failures must all count, and no more. */
	assert_int_equal(auth_limiter_new(101, 3600, &l), ST_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){l, i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_ptr_equal(ret, &w[i]);
	}
	assert_false(auth_limiter_blocked(l, "u:shared", T0, NULL));
	auth_limiter_fail(l, "u:shared", T0);
	assert_true(auth_limiter_blocked(l, "u:shared", T0, NULL));
	auth_limiter_free(l);
}

/* take: check and count in one step; forgive gives a reservation back. */
static void
test_take_reserves_and_forgive(void **state)
{
	struct auth_limiter *l;
	unsigned retry = 99;

	(void)state;
	assert_int_equal(auth_limiter_new(2, 60, &l), ST_OK);
	assert_true(auth_limiter_take(l, "u:alice", T0, &retry));
	assert_int_equal(retry, 0);
	assert_true(auth_limiter_take(l, "u:alice", T0 + 1, &retry));
	/* Two reserved: blocked before either is judged. */
	assert_true(auth_limiter_blocked(l, "u:alice", T0 + 1, NULL));
	assert_false(auth_limiter_take(l, "u:alice", T0 + 1, &retry));
	assert_int_equal(retry, 59);
	/* One turned out right: its slot is free again, once. */
	auth_limiter_forgive(l, "u:alice");
	assert_false(auth_limiter_blocked(l, "u:alice", T0 + 2, NULL));
	assert_true(auth_limiter_take(l, "u:alice", T0 + 2, NULL));
	assert_false(auth_limiter_take(l, "u:alice", T0 + 2, NULL));
	/* Forgiving every count frees the entry; unknown keys: no-op. */
	auth_limiter_forgive(l, "u:alice");
	auth_limiter_forgive(l, "u:alice");
	auth_limiter_forgive(l, "u:alice");
	auth_limiter_forgive(l, "u:nobody");
	assert_true(auth_limiter_take(l, "u:alice", T0 + 3, NULL));
	assert_true(auth_limiter_take(l, "u:alice", T0 + 3, NULL));
	assert_false(auth_limiter_take(l, "u:alice", T0 + 3, NULL));
	auth_limiter_free(l);
}

#define TAKERS 16

struct taker {
	struct auth_limiter *l;
	pthread_barrier_t *go;
	int won;
};

static void *
taker_run(void *arg)
{
	struct taker *t = arg;

	pthread_barrier_wait(t->go);
	for (int i = 0; i < 50; i++)
		t->won += auth_limiter_take(t->l, "u:target", T0, NULL);
	return t;
}

/* Many threads racing for one key: exactly max reservations succeed. */
static void
test_take_concurrent_exactly_max(void **state)
{
	struct auth_limiter *l;
	pthread_t th[TAKERS];
	struct taker t[TAKERS];
	pthread_barrier_t go;
	int won = 0;

	(void)state;
	assert_int_equal(auth_limiter_new(5, 60, &l), ST_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, TAKERS), 0);
	for (int i = 0; i < TAKERS; i++) {
		t[i] = (struct taker){l, &go, 0};
		assert_int_equal(pthread_create(&th[i], NULL, taker_run, &t[i]),
		                 0);
	}
	for (int i = 0; i < TAKERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		won += t[i].won;
	}
	assert_int_equal(won, 5);
	pthread_barrier_destroy(&go);
	auth_limiter_free(l);
}

/* IPv6 peers count by their /64; IPv4-mapped ones as the IPv4 address. */
static void
test_addr_key(void **state)
{
	static const struct {
		const char *peer, *key;
	} v[] = {
	    {"192.0.2.7", "a:192.0.2.7"},
	    {"2001:db8::1", "a:2001:db8::/64"},
	    {"2001:db8::ffff", "a:2001:db8::/64"},
	    {"2001:db8::1:2:3:4", "a:2001:db8::/64"},
	    {"2001:db8:0:1::1", "a:2001:db8:0:1::/64"},
	    {"::ffff:192.0.2.7", "a:192.0.2.7"},
	    {"::1", "a:::/64"},
	    {"-", "a:-"},
	};
	char a[128], b[128], small[8];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		auth_limiter_addr_key(v[i].peer, a, sizeof(a));
		assert_string_equal(a, v[i].key);
	}
	auth_limiter_addr_key("2001:db8::1", a, sizeof(a));
	auth_limiter_addr_key("2001:db8::ffff", b, sizeof(b));
	assert_string_equal(a, b);
	auth_limiter_addr_key("2001:db8:0:1::1", b, sizeof(b));
	assert_string_not_equal(a, b);
	auth_limiter_addr_key("::ffff:192.0.2.7", a, sizeof(a));
	auth_limiter_addr_key("192.0.2.7", b, sizeof(b));
	assert_string_equal(a, b);
	auth_limiter_addr_key("2001:db8::1", small, sizeof(small));
	assert_string_equal(small, "a:2001:");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_rejects_zero),
	    cmocka_unit_test(test_blocks_at_max),
	    cmocka_unit_test(test_window_expiry_unblocks),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_keys_independent),
	    cmocka_unit_test(test_table_full_eviction),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_take_reserves_and_forgive),
	    cmocka_unit_test(test_take_concurrent_exactly_max),
	    cmocka_unit_test(test_addr_key),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
