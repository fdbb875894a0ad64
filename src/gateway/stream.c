/*
 * Streamed answers: an upstream answer of type text/event-stream goes to
 * the client as it comes. The curl thread writes into a bounded buffer
 * (STREAM_BUF_BYTES) that the client's connection drains through
 * http_respond_stream(); when the buffer is full curl is paused
 * (CURL_WRITEFUNC_PAUSE) and it is unpaused once the client has taken
 * half of it, so memory stays bounded however fast either side is, and
 * neither side spins: an empty buffer suspends the client's connection, a
 * full one the upstream transfer.
 *
 * [gateway] timeout covers the answer's head; after it the stream may stay
 * silent (no byte in either direction) for [gateway] stream_idle_timeout.
 * Open streams are counted per access token and per client address
 * (max_streams_per_token, max_streams_per_address): a stream over either
 * is refused with 429, at the request when it asks for one (GET with
 * Accept: text/event-stream), else when the upstream's head says so.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "core/log.h"
#include "gateway/proxy_int.h"

#define CAP_KEY_BYTES 48 /* a token digest, or an address as text */

/* Open streams of one token or address. */
struct stream_cap {
	struct stream_cap *next;
	uint8_t key[CAP_KEY_BYTES]; /* kind byte, then the key */
	unsigned n;
};

static void
cap_key(uint8_t key[CAP_KEY_BYTES], bool addr, const struct job *j)
{
	memset(key, 0, CAP_KEY_BYTES);
	key[0] = addr ? 'a' : 't';
	if (addr)
		memcpy(key + 1, j->peer, strnlen(j->peer, sizeof(j->peer)));
	else
		memcpy(key + 1, j->token, sizeof(j->token));
}

/* The bucket of key. */
static struct stream_cap **
cap_slot(struct gw_proxy *px, const uint8_t key[CAP_KEY_BYTES])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < CAP_KEY_BYTES; i++)
		h = (h ^ key[i]) * 16777619u;
	return &px->caps[h % STREAM_CAP_BUCKETS];
}

/* The entry for key (caps_mu held); with create, made if absent. */
static struct stream_cap *
cap_find(struct gw_proxy *px, const uint8_t key[CAP_KEY_BYTES], bool create)
{
	struct stream_cap **pp = cap_slot(px, key), *c;

	for (c = *pp; c != NULL; c = c->next)
		if (memcmp(c->key, key, CAP_KEY_BYTES) == 0)
			return c;
	if (!create || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	memcpy(c->key, key, CAP_KEY_BYTES);
	c->next = *pp;
	*pp = c;
	return c;
}

/* One stream fewer for key (caps_mu held); the entry goes at 0. */
static void
cap_drop(struct gw_proxy *px, const uint8_t key[CAP_KEY_BYTES])
{
	struct stream_cap **pp, *c;

	for (pp = cap_slot(px, key); (c = *pp) != NULL; pp = &c->next) {
		if (memcmp(c->key, key, CAP_KEY_BYTES) != 0)
			continue;
		if (c->n > 0)
			c->n--;
		if (c->n == 0) {
			*pp = c->next;
			free(c);
		}
		return;
	}
}

bool
gw_stream_full(struct gw_proxy *px, const struct job *j)
{
	const struct config *cfg = px->gw->cfg;
	uint8_t tk[CAP_KEY_BYTES], ak[CAP_KEY_BYTES];
	struct stream_cap *t, *a;
	bool full;

	cap_key(tk, false, j);
	cap_key(ak, true, j);
	pthread_mutex_lock(&px->caps_mu);
	t = cap_find(px, tk, false);
	a = cap_find(px, ak, false);
	full = (t != NULL && t->n >= cfg->gateway.max_streams_per_token) ||
	       (a != NULL && a->n >= cfg->gateway.max_streams_per_address);
	pthread_mutex_unlock(&px->caps_mu);
	return full;
}

/* Counts j in the caps; false (nothing counted) if one is reached. */
static bool
caps_take(struct gw_proxy *px, struct job *j)
{
	const struct config *cfg = px->gw->cfg;
	uint8_t tk[CAP_KEY_BYTES], ak[CAP_KEY_BYTES];
	struct stream_cap *t, *a;
	bool ok = false;

	cap_key(tk, false, j);
	cap_key(ak, true, j);
	pthread_mutex_lock(&px->caps_mu);
	t = cap_find(px, tk, true);
	a = cap_find(px, ak, true);
	if (t != NULL && a != NULL &&
	    t->n < cfg->gateway.max_streams_per_token &&
	    a->n < cfg->gateway.max_streams_per_address) {
		t->n++;
		a->n++;
		ok = true;
	}
	if (t != NULL && t->n == 0)
		cap_drop(px, tk); /* made here: none open */
	if (a != NULL && a->n == 0)
		cap_drop(px, ak);
	pthread_mutex_unlock(&px->caps_mu);
	j->counted = ok;
	return ok;
}

void
gw_stream_caps_free(struct gw_proxy *px)
{
	struct stream_cap *c, *next;

	for (size_t i = 0; i < STREAM_CAP_BUCKETS; i++) {
		for (c = px->caps[i]; c != NULL; c = next) {
			next = c->next;
			free(c);
		}
		px->caps[i] = NULL;
	}
	pthread_mutex_destroy(&px->caps_mu);
}

bool
gw_stream_start(struct job *j)
{
	if (j->head || !j->sse || j->status < 200 || j->status > 299 ||
	    j->status == 204)
		return false;
	if (!caps_take(j->px, j)) {
		j->over_cap = true;
		log_warn("event=stream_refused reason=too_many_streams");
		return false;
	}
	j->sbuf = malloc(STREAM_BUF_BYTES);
	if (j->sbuf == NULL) {
		j->too_big = true; /* 502 */
		return false;
	}
	j->stream = true;
	atomic_store(&j->active_ms, gw_mono_ms());
	http_req_resume(j->req); /* gw_stream_respond() answers */
	return true;
}

size_t
gw_stream_write(struct job *j, const char *p, size_t len)
{
	size_t rc = len;

	pthread_mutex_lock(&j->smu);
	if (j->gone || len > STREAM_BUF_BYTES) {
		rc = 0; /* ends the transfer */
	} else if (STREAM_BUF_BYTES - j->slen < len) {
		j->paused = true;
		rc = CURL_WRITEFUNC_PAUSE; /* offered again when unpaused */
	} else {
		if (j->soff + j->slen + len > STREAM_BUF_BYTES) {
			memmove(j->sbuf, j->sbuf + j->soff, j->slen);
			j->soff = 0;
		}
		memcpy(j->sbuf + j->soff + j->slen, p, len);
		j->slen += len;
		atomic_store(&j->active_ms, gw_mono_ms());
		if (j->answering)
			http_stream_wake(j->req);
	}
	pthread_mutex_unlock(&j->smu);
	return rc;
}

/* Asks j's loop to unpause or cancel j (from a server thread). */
static void
poke(struct job *j, bool cancel)
{
	struct loop *lp = j->lp;
	bool wake = false;

	pthread_mutex_lock(&lp->mu);
	if (!lp->exited) {
		if (cancel)
			j->want_cancel = true;
		else
			j->want_unpause = true;
		if (!j->poked) {
			j->poked = true;
			atomic_fetch_add(&j->refs, 1);
			j->poke_next = lp->pokes;
			lp->pokes = j;
		}
		wake = true;
	}
	pthread_mutex_unlock(&lp->mu);
	if (wake)
		gw_loop_wake(lp);
}

void
gw_pokes_run(struct loop *lp, bool stopping)
{
	struct job *j, *next;
	bool cancel, unpause;

	pthread_mutex_lock(&lp->mu);
	j = lp->pokes;
	lp->pokes = NULL;
	lp->exited = stopping;
	pthread_mutex_unlock(&lp->mu);
	for (; j != NULL; j = next) {
		pthread_mutex_lock(&lp->mu);
		next = j->poke_next;
		cancel = j->want_cancel;
		unpause = j->want_unpause;
		j->poked = j->want_cancel = j->want_unpause = false;
		pthread_mutex_unlock(&lp->mu);
		if (j->in_loop && !stopping && cancel) {
			gw_stream_client_closed(lp, j);
		} else if (j->in_loop && !stopping && unpause) {
			curl_easy_pause(j->easy, CURLPAUSE_CONT);
		}
		gw_job_unref(j);
	}
}

/*
 * The client's socket is watched for its close (EPOLLRDHUP) in the loop's
 * epoll set while the stream runs, since the server library does not
 * watch a sleeping connection. It is added once the answer is under way
 * and the transfer still runs, and taken out (smu held) when the transfer
 * ends (on the loop thread, so no later wake-up names j) or when the
 * request is done (before the server closes the socket, so a reused
 * descriptor is never touched).
 */
static void
watch(struct job *j)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLRDHUP;
	ev.data.u64 = WATCH_TAG | (uint64_t)(uintptr_t)j;
	if (j->cfd >= 0 && !j->ended && !j->gone &&
	    epoll_ctl(j->lp->epfd, EPOLL_CTL_ADD, j->cfd, &ev) == 0)
		j->watching = true;
}

static void
unwatch(struct job *j)
{
	if (!j->watching)
		return;
	epoll_ctl(j->lp->epfd, EPOLL_CTL_DEL, j->cfd, NULL);
	j->watching = false;
}

void
gw_stream_client_closed(struct loop *lp, struct job *j)
{
	pthread_mutex_lock(&j->smu);
	unwatch(j);
	pthread_mutex_unlock(&j->smu);
	if (!j->in_loop)
		return;
	log_info("event=stream_closed reason=client_gone");
	curl_multi_remove_handle(lp->multi, j->easy);
	j->cc = CURLE_ABORTED_BY_CALLBACK;
	gw_job_finish(lp, j, JOB_ABORTED);
}

/* http_respond_stream()'s source, on a server thread. */
static ssize_t
stream_pull(void *ctx, char *buf, size_t max)
{
	struct job *j = ctx;
	ssize_t n = HTTP_STREAM_WAIT;
	bool unpause = false;

	pthread_mutex_lock(&j->smu);
	if (j->slen > 0) {
		size_t k = j->slen < max ? j->slen : max;

		memcpy(buf, j->sbuf + j->soff, k);
		j->soff += k;
		j->slen -= k;
		if (j->slen == 0)
			j->soff = 0;
		atomic_store(&j->active_ms, gw_mono_ms());
		if (j->paused && j->slen <= STREAM_BUF_BYTES / 2) {
			j->paused = false;
			unpause = true;
		}
		n = (ssize_t)k;
	} else if (j->ended) {
		n = j->cc == CURLE_OK && j->state == JOB_DONE
		        ? HTTP_STREAM_END
		        : HTTP_STREAM_ABORT;
	}
	pthread_mutex_unlock(&j->smu);
	if (unpause)
		poke(j, false);
	return n;
}

enum status
gw_stream_respond(struct http_req *req, struct job *j)
{
	struct str h = buf_str(&j->rhdrs);
	enum status rc;

	for (size_t off = 0; off < h.len;) {
		const char *name = h.p + off;
		const char *value = name + strlen(name) + 1;

		if ((rc = http_resp_header(req, name, value)) != ST_OK)
			return rc;
		off = (size_t)(value + strlen(value) + 1 - h.p);
	}
	atomic_fetch_add(&j->refs, 1); /* the answer's */
	rc = http_respond_stream(req, (unsigned)j->status, stream_pull, j,
	                         gw_job_unref);
	if (rc == ST_OK) {
		pthread_mutex_lock(&j->smu);
		j->answering = true;
		j->cfd = http_req_socket(req);
		watch(j);
		pthread_mutex_unlock(&j->smu);
	}
	return rc;
}

void
gw_stream_ended(struct job *j)
{
	uint8_t key[CAP_KEY_BYTES];

	if (j->counted) {
		pthread_mutex_lock(&j->px->caps_mu);
		cap_key(key, false, j);
		cap_drop(j->px, key);
		cap_key(key, true, j);
		cap_drop(j->px, key);
		pthread_mutex_unlock(&j->px->caps_mu);
		j->counted = false;
	}
	pthread_mutex_lock(&j->smu);
	j->ended = true;
	unwatch(j);
	if (j->answering && !j->gone)
		http_stream_wake(j->req);
	pthread_mutex_unlock(&j->smu);
}

void
gw_job_server_done(void *arg)
{
	struct job *j = arg;
	bool cancel;

	pthread_mutex_lock(&j->smu);
	j->gone = true;
	unwatch(j);
	cancel = j->stream && !j->ended;
	pthread_mutex_unlock(&j->smu);
	if (cancel)
		poke(j, true);
	gw_job_unref(j);
}
