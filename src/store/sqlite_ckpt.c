/*
 * The SQLite backend: checkpoints of file databases.
 *
 * SQLite's autocheckpoint would copy the WAL back into the database and
 * fsync it inside a commit, every CKPT_PAGES pages, holding every writer
 * up meanwhile. Instead, the writer's wal_hook, run after each commit,
 * wakes the checkpointer thread, which copies the WAL alongside the
 * writers (a PASSIVE checkpoint never waits, nor makes a writer wait)
 * whenever CKPT_PAGES are left to copy, or any at all once the WAL holds
 * CKPT_RESTART_PAGES.
 *
 * Frames committed during a pass remain, and SQLite starts the WAL over
 * only when a write begins with all of it copied; that takes one copy
 * with the writers held (wlock), with two fsyncs. So the WAL is let grow
 * to CKPT_RESTART_PAGES first, and meanwhile each pass fsyncs the pages
 * it copied into the database, outside wlock. Then, once no more than
 * CKPT_CATCHUP_PAGES are left to copy, the next commit's hook copies them
 * with wlock held (small fsyncs: the passes synced the rest), and the
 * write after it starts the WAL over. If the WAL reaches CKPT_HARD_PAGES
 * all the same (a busy machine), the hook holds the writers until a pass
 * is done: the WAL stays bounded.
 */
#include <stdio.h>

#include "core/log.h"
#include "store/sqlite_int.h"

/* WAL pages: */
#define CKPT_PAGES 1000         /* left to copy: wake the checkpointer */
#define CKPT_RESTART_PAGES 3072 /* in all: start the WAL over, */
#define CKPT_CATCHUP_PAGES 64   /* ... once this few are left to copy */
#define CKPT_HARD_PAGES 6144    /* in all: the writer waits for a pass */

/* The writer's wal_hook: wlock is held. */
static int
ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_store *st = arg;
	bool catch_up = false;
	char msg[256];
	int left, rc;

	if (pages < CKPT_PAGES)
		return SQLITE_OK;
	pthread_mutex_lock(&st->ckpt_lock);
	if (pages < st->ckpt_copied)
		st->ckpt_copied = 0; /* the WAL started over */
	if (pages >= CKPT_HARD_PAGES) {
		/* A busy machine: wait for a pass that began after this
		 * commit, so that little is left to copy here. */
		unsigned long want = st->ckpt_passes + 1 + st->ckpt_busy;

		st->ckpt_wanted = true;
		pthread_cond_signal(&st->ckpt_cond);
		while (st->ckpt_passes < want && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_done, &st->ckpt_lock);
	}
	left = pages - st->ckpt_copied;
	if (st->ckpt_busy) {
		/* The pass copies what it can; the hook looks again after. */
	} else if (pages >= CKPT_RESTART_PAGES &&
	           (left <= CKPT_CATCHUP_PAGES || pages >= CKPT_HARD_PAGES)) {
		/* The checkpointer does not start while ckpt_hold is set,
		 * so this copy does not find it busy. */
		st->ckpt_hold = true;
		catch_up = true;
	} else if (left >= CKPT_PAGES || pages >= CKPT_RESTART_PAGES) {
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
			        rc, sq_errmsg(db, rc, msg, sizeof(msg)));
		pthread_mutex_lock(&st->ckpt_lock);
		st->ckpt_copied = 0; /* the next write starts it over */
		st->ckpt_hold = false;
		pthread_cond_signal(&st->ckpt_cond);
		pthread_mutex_unlock(&st->ckpt_lock);
	}
	return SQLITE_OK;
}

/*
 * A pass that stops short of the end of the WAL leaves the pages it
 * copied unsynced, and the catch-up that starts the WAL over would fsync
 * them all with the writers held. Syncing the database after each pass,
 * outside wlock, leaves the catch-up only its own few pages to sync.
 */
static void
ckpt_sync_db(sqlite3 *db)
{
	sqlite3_file *f = NULL;
	int rc;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) !=
	        SQLITE_OK ||
	    f == NULL || f->pMethods == NULL)
		return;
	rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	if (rc != SQLITE_OK)
		log_err("event=store_error backend=sqlite op=checkpoint_sync "
		        "code=%d",
		        rc);
}

static void *
ckpt_main(void *arg)
{
	struct sq_store *st = arg;
	sqlite3 *db = st->ckpt->db;
	char msg[256];
	int rc, copied;

	pthread_mutex_lock(&st->ckpt_lock);
	for (;;) {
		while ((!st->ckpt_wanted || st->ckpt_hold) && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
		if (st->ckpt_stop)
			break;
		st->ckpt_wanted = false;
		st->ckpt_busy = true;
		pthread_mutex_unlock(&st->ckpt_lock);
		copied = 0;
		rc = sqlite3_wal_checkpoint_v2(
		    db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_err("event=store_error backend=sqlite "
			        "op=checkpoint code=%d error=\"%s\"",
			        rc, sq_errmsg(db, rc, msg, sizeof(msg)));
		if (rc == SQLITE_OK && copied > 0)
			ckpt_sync_db(db);
		pthread_mutex_lock(&st->ckpt_lock);
		if (rc == SQLITE_OK && copied > 0)
			st->ckpt_copied = copied;
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
