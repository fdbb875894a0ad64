/*
 * The blocking-work pool (pool.h): a fixed set of threads taking jobs from
 * one ring buffer under one mutex. A push wakes one idle thread, if any;
 * a thread finishing a job takes the next without sleeping. Freeing the
 * pool lets the threads empty the queue before they exit.
 */
#include <pthread.h>
#include <stdlib.h>

#include "http/pool.h"

struct http_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a job queued, or stopping */
	void **q;          /* ring of qmax */
	size_t qmax, head, len;
	unsigned idle; /* threads waiting on cv */
	bool stop;
	http_pool_fn fn;
	void *arg;
	unsigned nthreads; /* started */
	pthread_t *threads;
};

static void *
pool_main(void *arg)
{
	struct http_pool *p = arg;
	void *job;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->len == 0 && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (p->len == 0)
			break; /* stopping, and nothing left */
		job = p->q[p->head];
		p->head = (p->head + 1) % p->qmax;
		p->len--;
		pthread_mutex_unlock(&p->mu);
		p->fn(job, p->arg);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stops and joins the started threads, then frees p. */
static void
pool_end(struct http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->q);
	free(p);
}

enum status
http_pool_new(unsigned threads, size_t queue_max, http_pool_fn fn, void *arg,
              struct http_pool **out)
{
	struct http_pool *p;

	if (threads == 0 || queue_max == 0 || fn == NULL)
		return ST_INVALID;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return ST_NOMEM;
	p->q = calloc(queue_max, sizeof(*p->q));
	p->threads = calloc(threads, sizeof(*p->threads));
	if (p->q == NULL || p->threads == NULL ||
	    pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p->q);
		free(p->threads);
		free(p);
		return ST_NOMEM;
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p->q);
		free(p->threads);
		free(p);
		return ST_NOMEM;
	}
	p->qmax = queue_max;
	p->fn = fn;
	p->arg = arg;
	for (; p->nthreads < threads; p->nthreads++) {
		if (pthread_create(&p->threads[p->nthreads], NULL, pool_main,
		                   p) != 0) {
			pool_end(p);
			return ST_INTERNAL;
		}
	}
	*out = p;
	return ST_OK;
}

bool
http_pool_push(struct http_pool *p, void *job)
{
	pthread_mutex_lock(&p->mu);
	if (p->stop || p->len == p->qmax) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	p->q[(p->head + p->len) % p->qmax] = job;
	p->len++;
	if (p->idle > 0)
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return true;
}

void
http_pool_free(struct http_pool *p)
{
	if (p != NULL)
		pool_end(p);
}
