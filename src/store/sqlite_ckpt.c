/*
 * The SQLite backend: checkpoints of file databases.
 *
 * SQLite's autocheckpoint would copy the WAL back into the database and
 * fsync it inside a commit, every CKPT_PAGES pages, holding every writer
 * up meanwhile. Instead, the writer's wal_hook, run after each commit,
 * wakes the checkpointer thread, which copies the WAL alongside the
 * writers (a PASSIVE checkpoint never waits). Frames committed during that
 * pass remain, and SQLite starts the WAL over only when a write begins
 * with all of it copied; so after each pass, the next commit's hook copies
 * those few frames itself, with wlock held. If the WAL reaches
 * CKPT_HARD_PAGES all the same (a busy machine), the hook holds the
 * writers until a pass is done: the WAL stays bounded.
 */
#include <stdio.h>

#include "core/log.h"
#include "store/sqlite_int.h"

#define CKPT_PAGES 1000      /* WAL pages that wake the checkpointer */
#define CKPT_HARD_PAGES 4000 /* ... and that make the writer do it */

/* The writer's wal_hook: wlock is held. */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_store *st = arg;
	bool catch_up = false;
	int rc;

	if (pages < CKPT_PAGES)
		return SQLITE_OK;
	pthread_mutex_lock(&st->ckpt_lock);
	if (st->ckpt_passes == st->ckpt_seen && pages >= CKPT_HARD_PAGES) {
		st->ckpt_wanted = true;
		pthread_cond_signal(&st->ckpt_cond);
		while (st->ckpt_passes == st->ckpt_seen && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_done, &st->ckpt_lock);
	}
	if (st->ckpt_passes != st->ckpt_seen) {
		st->ckpt_seen = st->ckpt_passes;
		catch_up = true;
	} else if (!st->ckpt_busy) {
		st->ckpt_wanted = true;
		pthread_cond_signal(&st->ckpt_cond);
	}
	pthread_mutex_unlock(&st->ckpt_lock);
	if (catch_up) {
		rc = sqlite3_wal_checkpoint_v2(
		    db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_err("event=store_error backend=sqlite "
			        "op=checkpoint code=%d error=\"%s\"",
			        rc, sqlite3_errmsg(db));
	}
	return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
	struct sq_store *st = arg;
	sqlite3 *db = st->ckpt->db;
	int rc;

	pthread_mutex_lock(&st->ckpt_lock);
	for (;;) {
		while (!st->ckpt_wanted && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
		if (st->ckpt_stop)
			break;
		st->ckpt_wanted = false;
		st->ckpt_busy = true;
		pthread_mutex_unlock(&st->ckpt_lock);
		rc = sqlite3_wal_checkpoint_v2(
		    db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_err("event=store_error backend=sqlite "
			        "op=checkpoint code=%d error=\"%s\"",
			        rc, sqlite3_errmsg(db));
		pthread_mutex_lock(&st->ckpt_lock);
		st->ckpt_busy = false;
		st->ckpt_passes++;
		pthread_cond_broadcast(&st->ckpt_done);
	}
	/* Nobody waits for a pass that will not come. */
	pthread_cond_broadcast(&st->ckpt_done);
	pthread_mutex_unlock(&st->ckpt_lock);
	return NULL;
}

enum status
sq_ckpt_start(struct sq_store *st, char *err, size_t errlen)
{
	enum status rc;

	if ((rc = sq_conn_open(st, &st->ckpt, err, errlen)) != ST_OK)
		return rc;
	if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return ST_INTERNAL;
	}
	st->ckpt_started = true;
	sqlite3_wal_hook(st->writer->db, ckpt_hook, st);
	return ST_OK;
}

void
sq_ckpt_stop(struct sq_store *st)
{
	if (st == NULL || !st->ckpt_started)
		return;
	pthread_mutex_lock(&st->ckpt_lock);
	st->ckpt_stop = true;
	pthread_cond_signal(&st->ckpt_cond);
	pthread_mutex_unlock(&st->ckpt_lock);
	pthread_join(st->ckpt_thread, NULL);
	st->ckpt_started = false;
}
