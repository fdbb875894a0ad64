/* http/pool: the blocking-work pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/pool.h"

#define JOBS 1000

/* A job counts itself; while gate is closed, jobs wait for it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	unsigned running; /* jobs inside run() */
	atomic_uint done;
};

static void
run(void *job, void *arg)
{
	struct gate *g = arg;

	(void)job;
	pthread_mutex_lock(&g->mu);
	g->running++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_fetch_add(&g->done, 1);
}

static void
gate_init(struct gate *g, bool open)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = open;
	g->running = 0;
	atomic_init(&g->done, 0);
}

/* Waits until n jobs are inside run(). */
static void
gate_wait_running(struct gate *g, unsigned n)
{
	pthread_mutex_lock(&g->mu);
	while (g->running < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

static void
test_new_rejects_zero(void **state)
{
	struct http_pool *p = NULL;
	struct gate g;

	(void)state;
	gate_init(&g, true);
	assert_int_equal(http_pool_new(0, 1, run, &g, &p), ST_INVALID);
	assert_int_equal(http_pool_new(1, 0, run, &g, &p), ST_INVALID);
	assert_int_equal(http_pool_new(1, 1, NULL, &g, &p), ST_INVALID);
	assert_null(p);
	http_pool_free(NULL);
	gate_destroy(&g);
}

/* Every job pushed runs once; freeing waits for the last. */
static void
test_runs_every_job(void **state)
{
	struct http_pool *p;
	struct gate g;
	unsigned pushed = 0;

	(void)state;
	gate_init(&g, true);
	assert_int_equal(http_pool_new(4, JOBS, run, &g, &p), ST_OK);
	for (int i = 0; i < JOBS; i++)
		if (http_pool_push(p, &g))
			pushed++;
	assert_int_equal(pushed, JOBS);
	http_pool_free(p);
	assert_int_equal(atomic_load(&g.done), JOBS);
	gate_destroy(&g);
}

/* With every thread busy, queue_max jobs wait and the next is refused;
 * freeing the pool runs the ones waiting. */
static void
test_full_queue_refuses(void **state)
{
	struct http_pool *p;
	struct gate g;

	(void)state;
	gate_init(&g, false);
	assert_int_equal(http_pool_new(2, 3, run, &g, &p), ST_OK);
	assert_true(http_pool_push(p, &g));
	assert_true(http_pool_push(p, &g));
	gate_wait_running(&g, 2); /* both threads held */
	assert_true(http_pool_push(p, &g));
	assert_true(http_pool_push(p, &g));
	assert_true(http_pool_push(p, &g));
	assert_false(http_pool_push(p, &g));
	gate_open(&g);
	http_pool_free(p);
	assert_int_equal(atomic_load(&g.done), 5);
	gate_destroy(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_rejects_zero),
	    cmocka_unit_test(test_runs_every_job),
	    cmocka_unit_test(test_full_queue_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
