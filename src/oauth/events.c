/*
 * The OAuth event log: what happened at each step of a flow, with a reason
 * code, never a secret. Events are queued in memory and written in
 * batches by a background thread, so recording one costs the request no
 * database write. The first event after a quiet spell (no write for
 * FLUSH_MS) wakes the writer at once; later ones wait for the next batch,
 * at most FLUSH_MS: so `plugauth events`, another process, sees an event
 * about FLUSH_MS after it happened at worst. A crash may lose the last
 * half second of events; they are diagnostics, not state.
 *
 * Events anyone can cause without credentials (every event but a success
 * of a named user: token-less API calls, unknown clients, login pages,
 * failed attempts) are budgeted per client address (IPv6 by /64), and all
 * together: past ANON_ADDR_MAX (ANON_ALL_MAX) in ANON_WINDOW_S they are
 * only counted, and one summary event per address (reason "suppressed=N")
 * is written once the window is over, or at shutdown. The table is kept
 * to max_rows rows, oldest trimmed first, by the writer thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/ratelimit.h"
#include "core/clock.h"
#include "core/log.h"
#include "oauth/oauth_int.h"

#define QUEUE_MAX 8192 /* events waiting; past it the oldest go */
#define BATCH_MAX 512
#define FLUSH_MS OAUTH_EVENTS_FLUSH_MS
#define FIELD_MAX OAUTH_EVENT_FIELD_MAX

#define ANON_WINDOW_S 60
#define ANON_ADDR_MAX 120 /* per address (IPv6: /64) per window */
#define ANON_ALL_MAX 1200 /* all addresses together per window */
#define SUPP_PEERS 16     /* addresses summarised one by one */
#define TRIM_BATCH 1000   /* rows per DELETE */
#define TRIM_ROUNDS 50
#define TRIM_PERIOD_S 60

/* The suppressed events of one address in the current summary period. */
struct supp {
	char peer[64]; /* address key without "a:"; "" free */
	unsigned long n;
};

struct oauth_events {
	struct store *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_event *q; /* ring of QUEUE_MAX */
	size_t head, len;
	unsigned long dropped;
	bool stop;
	struct auth_limiter *lim_addr, *lim_all; /* the budgets */
	struct supp supp[SUPP_PEERS];            /* under mu */
	unsigned long supp_other;                /* of further addresses */
	int64_t supp_since;                      /* first suppression; 0 none */
	unsigned max_rows;                       /* the table's cap */
	unsigned long added;                     /* rows since the last trim */
	int64_t trimmed_at;
	int64_t flushed_ms; /* monotonic time of the last write; under mu */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
field_dup(const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strnlen(s, FIELD_MAX);
	d = malloc(n + 1);
	if (d == NULL)
		return NULL;
	/* Values came from the network: no control characters. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		d[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
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
	free(e->detail);
	free(e->method);
	free(e->description);
	memset(e, 0, sizeof(*e));
}

/* Appends e (taken) to the queue; past QUEUE_MAX the oldest goes. Called
 * with mu held. */
static void
queue_push(struct oauth_events *ev, struct store_event *e)
{
	if (ev->len == QUEUE_MAX) {
		event_clear(&ev->q[ev->head]);
		ev->head = (ev->head + 1) % QUEUE_MAX;
		ev->len--;
		ev->dropped++;
	}
	ev->q[(ev->head + ev->len) % QUEUE_MAX] = *e;
	ev->len++;
	/* A full batch, or the first event after a quiet spell: now. */
	if (ev->len >= BATCH_MAX ||
	    (ev->len == 1 && mono_ms() - ev->flushed_ms >= FLUSH_MS))
		pthread_cond_signal(&ev->cv);
}

/* Queues a copy of r, whatever the budgets say. */
static void
event_queue(struct oauth_events *ev, const struct oauth_event_rec *r,
            int64_t now)
{
	struct store_event e;

	memset(&e, 0, sizeof(e));
	e.at = now;
	e.kind = field_dup(r->kind);
	e.outcome = field_dup(r->outcome);
	e.reason = field_dup(r->reason);
	e.client_id = field_dup(r->client_id);
	e.user = field_dup(r->user);
	e.state = field_dup(r->state);
	e.peer = field_dup(r->peer);
	e.detail = field_dup(r->detail);
	e.method = field_dup(r->method);
	e.description = field_dup(r->description);
	pthread_mutex_lock(&ev->mu);
	queue_push(ev, &e);
	pthread_mutex_unlock(&ev->mu);
}

/*
 * True if an event like r may cost a row: the success of a named user
 * always may, and so may an event from no address (the CLI); any other
 * only within the budget of its address (key into akey) and of all.
 */
static bool
event_budget(struct oauth_events *ev, const struct oauth_event_rec *r,
             int64_t now, char *akey, size_t akeysz)
{
	if ((r->user != NULL && r->outcome != NULL &&
	     strcmp(r->outcome, "ok") == 0) ||
	    r->peer == NULL)
		return true;
	auth_limiter_addr_key(r->peer, akey, akeysz);
	if (!auth_limiter_take(ev->lim_addr, akey, now, NULL))
		return false;
	if (!auth_limiter_take(ev->lim_all, "*", now, NULL)) {
		auth_limiter_forgive(ev->lim_addr, akey);
		return false;
	}
	return true;
}

/* Counts an event of address key akey ("a:...") that was not written. */
static void
supp_count(struct oauth_events *ev, const char *akey, int64_t now)
{
	const char *peer = strncmp(akey, "a:", 2) == 0 ? akey + 2 : akey;
	size_t i;

	pthread_mutex_lock(&ev->mu);
	if (ev->supp_since == 0)
		ev->supp_since = now;
	/* Slots fill in order and empty all at once: the first free one
	 * ends the search. */
	for (i = 0; i < SUPP_PEERS && ev->supp[i].peer[0] != '\0'; i++)
		if (strcmp(ev->supp[i].peer, peer) == 0)
			break;
	if (i == SUPP_PEERS)
		ev->supp_other++;
	else if (ev->supp[i].peer[0] != '\0' ||
	         str_copy(ev->supp[i].peer, sizeof(ev->supp[i].peer), peer))
		ev->supp[i].n++;
	else
		ev->supp_other++; /* a key too long to keep */
	pthread_mutex_unlock(&ev->mu);
}

/* Queues one summary event ("suppressed=N") per address counted, once
 * ANON_WINDOW_S have passed since the first, or at stop. */
static void
supp_flush(struct oauth_events *ev, bool stop)
{
	struct supp s[SUPP_PEERS];
	struct oauth_event_rec r;
	char reason[64];
	unsigned long other, total = 0;
	int64_t now = clk_now_s();

	pthread_mutex_lock(&ev->mu);
	if (ev->supp_since == 0 ||
	    (!stop && now - ev->supp_since < ANON_WINDOW_S)) {
		pthread_mutex_unlock(&ev->mu);
		return;
	}
	memcpy(s, ev->supp, sizeof(s));
	other = ev->supp_other;
	memset(ev->supp, 0, sizeof(ev->supp));
	ev->supp_other = 0;
	ev->supp_since = 0;
	pthread_mutex_unlock(&ev->mu);
	memset(&r, 0, sizeof(r));
	r.kind = "events";
	r.outcome = "suppressed";
	r.reason = reason;
	for (size_t i = 0; i <= SUPP_PEERS; i++) {
		unsigned long n = i < SUPP_PEERS ? s[i].n : other;

		if (n == 0)
			continue;
		r.peer = i < SUPP_PEERS ? s[i].peer : NULL;
		snprintf(reason, sizeof(reason), "suppressed=%lu", n);
		event_queue(ev, &r, now);
		total += n;
	}
	log_info("event=events_suppressed count=%lu", total);
}

/* Writes what is queued; returns how many rows that was. */
static size_t
events_flush(struct oauth_events *ev)
{
	struct store_event batch[BATCH_MAX];
	size_t n = 0;
	enum status rc = ST_OK;

	pthread_mutex_lock(&ev->mu);
	while (n < BATCH_MAX && ev->len > 0) {
		batch[n++] = ev->q[ev->head];
		memset(&ev->q[ev->head], 0, sizeof(ev->q[ev->head]));
		ev->head = (ev->head + 1) % QUEUE_MAX;
		ev->len--;
	}
	if (n > 0)
		ev->flushed_ms = mono_ms();
	pthread_mutex_unlock(&ev->mu);
	if (n > 0 && (rc = store_events_add(ev->st, batch, n)) != ST_OK)
		log_warn("event=events_lost count=%zu reason=store", n);
	for (size_t i = 0; i < n; i++)
		event_clear(&batch[i]);
	return rc == ST_OK ? n : 0;
}

/* Keeps the table to max_rows: after every tenth of it written (at most
 * TRIM_BATCH rows), or TRIM_PERIOD_S after the last trim. Only the writer
 * thread runs this. */
static void
events_trim(struct oauth_events *ev, size_t written)
{
	unsigned every = ev->max_rows / 10, n, total = 0;
	int64_t now = clk_now_s();

	ev->added += written;
	if (every > TRIM_BATCH)
		every = TRIM_BATCH;
	if (ev->added == 0 ||
	    (ev->added < every && now - ev->trimmed_at < TRIM_PERIOD_S))
		return;
	for (int i = 0; i < TRIM_ROUNDS; i++) {
		n = 0;
		if (store_events_trim(ev->st, ev->max_rows, TRIM_BATCH, &n) !=
		    ST_OK)
			break;
		total += n;
		if (n < TRIM_BATCH)
			break;
	}
	ev->added = 0;
	ev->trimmed_at = now;
	if (total > 0)
		log_info("event=events_trimmed deleted=%u max_rows=%u", total,
		         ev->max_rows);
}

static void *
events_main(void *arg)
{
	struct oauth_events *ev = arg;
	struct timespec ts;
	int64_t wait_ms;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&ev->mu);
		/* Queued events wait out what is left of FLUSH_MS since the
		 * last write; an empty queue waits FLUSH_MS or a signal. */
		wait_ms = FLUSH_MS;
		if (ev->len > 0)
			wait_ms -= mono_ms() - ev->flushed_ms;
		if (!ev->stop && ev->len < BATCH_MAX && wait_ms > 0) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)wait_ms * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		}
		stop = ev->stop;
		pthread_mutex_unlock(&ev->mu);
		supp_flush(ev, stop);
		events_trim(ev, events_flush(ev));
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
oauth_events_new(struct store *st, unsigned max_rows, struct oauth_events **out)
{
	struct oauth_events *ev;
	enum status rc;

	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return ST_NOMEM;
	ev->st = st;
	ev->max_rows = max_rows;
	ev->q = calloc(QUEUE_MAX, sizeof(*ev->q));
	if (ev->q == NULL) {
		rc = ST_NOMEM;
		goto fail;
	}
	if ((rc = auth_limiter_new(ANON_ADDR_MAX, ANON_WINDOW_S,
	                           &ev->lim_addr)) != ST_OK ||
	    (rc = auth_limiter_new(ANON_ALL_MAX, ANON_WINDOW_S,
	                           &ev->lim_all)) != ST_OK)
		goto fail;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	if (pthread_create(&ev->thread, NULL, events_main, ev) != 0) {
		pthread_mutex_destroy(&ev->mu);
		pthread_cond_destroy(&ev->cv);
		rc = ST_INTERNAL;
		goto fail;
	}
	*out = ev;
	return ST_OK;
fail:
	auth_limiter_free(ev->lim_addr);
	auth_limiter_free(ev->lim_all);
	free(ev->q);
	free(ev);
	return rc;
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
	auth_limiter_free(ev->lim_addr);
	auth_limiter_free(ev->lim_all);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
	free(ev);
}

void
oauth_event(struct oauth_events *ev, const struct oauth_event_rec *r)
{
	char akey[128];
	int64_t now;

	if (ev == NULL)
		return;
	now = clk_now_s();
	if (event_budget(ev, r, now, akey, sizeof(akey)))
		event_queue(ev, r, now);
	else
		supp_count(ev, akey, now);
}
