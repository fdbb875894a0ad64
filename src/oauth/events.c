/*
 * The OAuth event log: what happened at each step of a flow, with a reason
 * code, never a secret. Events are queued in memory and written in
 * batches by a background thread, so recording one costs the request no
 * database write. A crash may lose the last half second of events; they
 * are diagnostics, not state.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth_int.h"

#define QUEUE_MAX	8192	/* events waiting; past it the oldest go */
#define BATCH_MAX	512
#define FLUSH_MS	200
#define FIELD_MAX	256

struct oauth_events {
	struct store		*st;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct store_event	*q;	/* ring of QUEUE_MAX */
	size_t			 head, len;
	unsigned long		 dropped;
	bool			 stop;
};

static char *
field_dup(const char *s)
{
	size_t	 n;
	char	*d;

	if (s == NULL)
		return NULL;
	n = strnlen(s, FIELD_MAX);
	d = malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void
event_clear(struct store_event *e)
{
	free(e->kind);
	free(e->outcome);
	free(e->reason);
	free(e->client_id);
	free(e->user);
	free(e->state);
	free(e->peer);
	memset(e, 0, sizeof(*e));
}

static void
events_flush(struct oauth_events *ev)
{
	struct store_event	batch[BATCH_MAX];
	size_t			n = 0;

	pthread_mutex_lock(&ev->mu);
	while (n < BATCH_MAX && ev->len > 0) {
		batch[n++] = ev->q[ev->head];
		memset(&ev->q[ev->head], 0, sizeof(ev->q[ev->head]));
		ev->head = (ev->head + 1) % QUEUE_MAX;
		ev->len--;
	}
	pthread_mutex_unlock(&ev->mu);
	if (n > 0 && store_events_add(ev->st, batch, n) != ST_OK)
		log_warn("event=events_lost count=%zu reason=store", n);
	for (size_t i = 0; i < n; i++)
		event_clear(&batch[i]);
}

static void *
events_main(void *arg)
{
	struct oauth_events	*ev = arg;
	struct timespec		 ts;
	bool			 stop;

	for (;;) {
		pthread_mutex_lock(&ev->mu);
		if (!ev->stop && ev->len < BATCH_MAX) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += FLUSH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		}
		stop = ev->stop;
		pthread_mutex_unlock(&ev->mu);
		events_flush(ev);
		if (stop) {
			pthread_mutex_lock(&ev->mu);
			stop = ev->len == 0;
			pthread_mutex_unlock(&ev->mu);
			if (stop)
				return NULL;
		}
	}
}

enum status
oauth_events_new(struct store *st, struct oauth_events **out)
{
	struct oauth_events *ev;

	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return ST_NOMEM;
	ev->q = calloc(QUEUE_MAX, sizeof(*ev->q));
	if (ev->q == NULL) {
		free(ev);
		return ST_NOMEM;
	}
	ev->st = st;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	if (pthread_create(&ev->thread, NULL, events_main, ev) != 0) {
		free(ev->q);
		free(ev);
		return ST_INTERNAL;
	}
	*out = ev;
	return ST_OK;
}

void
oauth_events_free(struct oauth_events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stop = true;
	pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->thread, NULL);
	if (ev->dropped > 0)
		log_warn("event=events_dropped count=%lu", ev->dropped);
	for (size_t i = 0; i < QUEUE_MAX; i++)
		event_clear(&ev->q[i]);
	free(ev->q);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
	free(ev);
}

void
oauth_event(struct oauth_events *ev, const struct oauth_event_rec *r)
{
	struct store_event	 e;
	struct store_event	*slot;

	if (ev == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.at = clk_now_s();
	e.kind = field_dup(r->kind);
	e.outcome = field_dup(r->outcome);
	e.reason = field_dup(r->reason);
	e.client_id = field_dup(r->client_id);
	e.user = field_dup(r->user);
	e.state = field_dup(r->state);
	e.peer = field_dup(r->peer);
	pthread_mutex_lock(&ev->mu);
	if (ev->len == QUEUE_MAX) {
		event_clear(&ev->q[ev->head]);
		ev->head = (ev->head + 1) % QUEUE_MAX;
		ev->len--;
		ev->dropped++;
	}
	slot = &ev->q[(ev->head + ev->len) % QUEUE_MAX];
	*slot = e;
	ev->len++;
	if (ev->len >= BATCH_MAX)
		pthread_cond_signal(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}
