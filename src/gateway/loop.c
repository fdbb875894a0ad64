/*
 * The curl threads of the upstream client (proxy.c): each drives one curl
 * multi handle over an epoll set, adds the transfers server threads queue,
 * runs the pokes of streams (stream.c), ends transfers past their deadline
 * and hands each ended one back (gw_job_finish()).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "gateway/proxy_int.h"

#define POLL_MS 1000

int64_t
gw_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
gw_easy_put(struct gw_proxy *px, CURL *e)
{
	pthread_mutex_lock(&px->mu);
	if (px->npool < EASY_POOL_MAX) {
		px->pool[px->npool++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&px->mu);
	if (e != NULL)
		curl_easy_cleanup(e);
}

void
gw_job_finish(struct loop *lp, struct job *j, enum job_state state)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else if (lp->active == j)
		lp->active = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->next = j->prev = NULL;
	j->in_loop = false;
	if (j->easy != NULL) {
		gw_easy_put(lp->px, j->easy);
		j->easy = NULL;
	}
	j->state = state;
	if (j->stream)
		gw_stream_ended(j);
	else
		http_req_resume(j->req); /* proxy_resumed() answers */
	gw_job_unref(j);                 /* the loop's */
}

static void
reap(struct loop *lp)
{
	CURLMsg *m;
	struct job *j;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(lp->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv == NULL)
			continue;
		j = (struct job *)(void *)priv;
		j->cc = m->data.result;
		if (!j->stream) /* else the server thread's to read */
			curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE,
			                  &j->status);
		curl_multi_remove_handle(lp->multi, j->easy);
		gw_job_finish(lp, j, JOB_DONE);
	}
}

/* curl: watch socket s for what (CURLMOPT_SOCKETFUNCTION). sockp is
 * non-NULL once the socket is in the epoll set (curl_multi_assign()). */
static int
on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct loop *lp = arg;
	struct epoll_event ev;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	            ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = s;
	if (sockp != NULL && epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
		return 0;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, s, &ev) != 0 &&
	    (errno != EEXIST ||
	     epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev) != 0)) {
		log_warn("event=gateway_epoll_failed errno=%d", errno);
		return 0;
	}
	curl_multi_assign(lp->multi, s, lp);
	return 0;
}

/* curl: call back in timeout_ms (-1: never) (CURLMOPT_TIMERFUNCTION). */
static int
on_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct loop *lp = arg;

	(void)m;
	lp->deadline_ms = timeout_ms < 0 ? -1 : gw_mono_ms() + timeout_ms;
	return 0;
}

/* Lowers the loop's next deadline scan to t. */
static void
scan_at(struct loop *lp, int64_t t)
{
	if (lp->next_scan_ms < 0 || t < lp->next_scan_ms)
		lp->next_scan_ms = t;
}

/* Adds the queued jobs to the multi handle; true once stopped. */
static bool
take_queue(struct loop *lp)
{
	struct job *q, *j, *next;
	bool stop;

	pthread_mutex_lock(&lp->mu);
	q = lp->queue;
	lp->queue = lp->queue_tail = NULL;
	stop = lp->stopped;
	pthread_mutex_unlock(&lp->mu);
	for (j = q; j != NULL; j = next) {
		next = j->next;
		j->next = j->prev = NULL;
		if (stop ||
		    curl_multi_add_handle(lp->multi, j->easy) != CURLM_OK) {
			gw_job_finish(lp, j, stop ? JOB_ABORTED : JOB_DONE);
			continue;
		}
		j->in_loop = true;
		j->deadline_ms = gw_mono_ms() + lp->px->timeout_ms;
		scan_at(lp, j->deadline_ms);
		j->next = lp->active;
		if (lp->active != NULL)
			lp->active->prev = j;
		lp->active = j;
	}
	return stop;
}

/*
 * Ends the transfers past their deadline (504, or a silent stream
 * closed): [gateway] timeout for an answer, or a stream's head, then
 * [gateway] stream_idle_timeout since a stream's last byte either way.
 * Runs when the earliest deadline is due, so it scans rarely.
 */
static void
scan_deadlines(struct loop *lp)
{
	int64_t now = gw_mono_ms(), due;
	struct job *j, *next;

	if (lp->next_scan_ms < 0 || now < lp->next_scan_ms)
		return;
	lp->next_scan_ms = -1;
	for (j = lp->active; j != NULL; j = next) {
		next = j->next;
		due = j->stream ? atomic_load(&j->active_ms) + lp->px->idle_ms
		                : j->deadline_ms;
		if (now < due) {
			scan_at(lp, due);
			continue;
		}
		if (j->stream)
			log_warn("event=stream_closed reason=idle_timeout");
		curl_multi_remove_handle(lp->multi, j->easy);
		j->cc = CURLE_OPERATION_TIMEDOUT;
		gw_job_finish(lp, j, JOB_DONE);
	}
}

/* How long the loop may sleep: until libcurl's timer or a deadline. */
static int
loop_wait_ms(const struct loop *lp)
{
	int64_t now = gw_mono_ms(), wait_ms = POLL_MS;

	if (lp->deadline_ms >= 0 && lp->deadline_ms - now < wait_ms)
		wait_ms = lp->deadline_ms - now;
	if (lp->next_scan_ms >= 0 && lp->next_scan_ms - now < wait_ms)
		wait_ms = lp->next_scan_ms - now;
	return wait_ms < 0 ? 0 : (int)wait_ms;
}

/*
 * A curl thread: libcurl's event-driven interface over one epoll set, so
 * that each wake-up touches only the transfers whose sockets are ready,
 * however many are waiting. The eventfd wakes it for new jobs and pokes.
 */
static void *
loop_main(void *arg)
{
	struct loop *lp = arg;
	struct epoll_event evs[64];
	struct job *j;
	uint64_t junk;
	int n, running, flags;

	while (!take_queue(lp)) {
		n = epoll_wait(lp->epfd, evs, (int)ARRAY_LEN(evs),
		               loop_wait_ms(lp));
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 & WATCH_TAG) {
				gw_stream_client_closed(
				    lp,
				    (struct job *)(uintptr_t)(evs[i].data.u64 &
				                              ~WATCH_TAG));
				continue;
			}
			if (evs[i].data.fd == lp->evfd) {
				/* EAGAIN: another wake-up drained it. */
				(void)!read(lp->evfd, &junk, sizeof(junk));
				continue;
			}
			flags =
			    ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
			    ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT
			                                : 0) |
			    ((evs[i].events & (EPOLLERR | EPOLLHUP))
			         ? CURL_CSELECT_ERR
			         : 0);
			curl_multi_socket_action(lp->multi, evs[i].data.fd,
			                         flags, &running);
		}
		gw_pokes_run(lp, false);
		if (lp->deadline_ms >= 0 && gw_mono_ms() >= lp->deadline_ms) {
			lp->deadline_ms = -1;
			curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT,
			                         0, &running);
		}
		reap(lp);
		scan_deadlines(lp);
	}
	while ((j = lp->active) != NULL) {
		curl_multi_remove_handle(lp->multi, j->easy);
		gw_job_finish(lp, j, JOB_ABORTED);
	}
	gw_pokes_run(lp, true);
	return NULL;
}

void
gw_loop_wake(struct loop *lp)
{
	uint64_t one = 1;

	if (write(lp->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event=gateway_wake_failed errno=%d", errno);
}

enum status
gw_loop_start(struct gw_proxy *px, struct loop *lp)
{
	struct epoll_event ev;

	lp->px = px;
	lp->epfd = lp->evfd = -1;
	lp->deadline_ms = -1;
	pthread_mutex_init(&lp->mu, NULL);
	lp->multi = curl_multi_init();
	if (lp->multi == NULL)
		return ST_NOMEM;
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	lp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lp->epfd < 0 || lp->evfd < 0)
		return ST_INTERNAL;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lp->evfd;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->evfd, &ev) != 0)
		return ST_INTERNAL;
	curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, 256L);
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
	if (pthread_create(&lp->thread, NULL, loop_main, lp) != 0)
		return ST_INTERNAL;
	lp->running = true;
	return ST_OK;
}

void
gw_loop_stop(struct loop *lp)
{
	if (lp->px == NULL)
		return;
	pthread_mutex_lock(&lp->mu);
	lp->stopped = true;
	pthread_mutex_unlock(&lp->mu);
	if (lp->running) {
		gw_loop_wake(lp);
		pthread_join(lp->thread, NULL);
		lp->running = false;
	}
}

void
gw_loop_free(struct loop *lp)
{
	if (lp->px == NULL)
		return;
	gw_loop_stop(lp);
	if (lp->multi != NULL)
		curl_multi_cleanup(lp->multi);
	if (lp->epfd >= 0)
		close(lp->epfd);
	if (lp->evfd >= 0)
		close(lp->evfd);
	pthread_mutex_destroy(&lp->mu);
	lp->px = NULL;
}
