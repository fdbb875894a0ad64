/*
 * The SQLite backend: opening and closing a store, file and memory
 * databases, schema version and migrations. See sqlite.c for how the
 * backend works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "store/sqlite_int.h"

#define WRITER_CACHE_KIB "32768"
#define WAL_LIMIT_BYTES "67108864" /* WAL file kept after a restart */

static atomic_uint mem_seq;

/* Frees st and everything in it; connections of live threads too. */
static void
sq_free(struct sq_store *st)
{
	struct conn *c, *next;

	sq_ckpt_stop(st);
	if (st->has_key)
		pthread_key_delete(st->key);
	/* No destructor runs for a deleted key, so no thread touches the
	 * list from here on (calling the store during close is a bug). */
	if (st->has_locks)
		pthread_mutex_lock(&st->lock);
	c = st->conns;
	st->conns = NULL;
	if (st->has_locks)
		pthread_mutex_unlock(&st->lock);
	for (; c != NULL; c = next) {
		next = c->next;
		sq_conn_free(c);
	}
	sq_conn_free(st->ckpt);
	/* Last: it keeps a memory database alive, and closing the last
	 * connection checkpoints and removes the WAL. */
	sq_conn_free(st->writer);
	if (st->has_locks) {
		pthread_mutex_destroy(&st->lock);
		pthread_mutex_destroy(&st->qlock);
		pthread_mutex_destroy(&st->wlock);
		pthread_mutex_destroy(&st->ckpt_lock);
		pthread_cond_destroy(&st->ckpt_cond);
		pthread_cond_destroy(&st->ckpt_done);
	}
	free(st->filename);
	free(st->display);
	free(st);
}

/* Sets st's file names; if create, creates a new database file 0600,
 * else a missing file is ST_NOTFOUND. */
static enum status
sq_names(struct sq_store *st, const char *target, bool create, char *err,
         size_t errlen)
{
	const char *prefix = "";
	size_t len;
	int fd, n;

	if (strcmp(target, ":memory:") == 0) {
		st->memory = true;
		st->open_flags |= SQLITE_OPEN_URI | SQLITE_OPEN_CREATE;
		len = 64;
		st->filename = malloc(len);
		st->display = strdup(":memory:");
		if (st->filename == NULL || st->display == NULL)
			return ST_NOMEM;
		n = snprintf(st->filename, len,
		             "file:/plugauth-mem-%ld-%u?vfs=memdb",
		             (long)getpid(), atomic_fetch_add(&mem_seq, 1));
		if (n < 0 || (size_t)n >= len)
			return ST_TOOBIG;
		return ST_OK;
	}
	/* SQLite may be built to read "file:..." as a URI. */
	if (strncmp(target, "file:", 5) == 0)
		prefix = "./";
	len = strlen(prefix) + strlen(target) + 1;
	st->filename = malloc(len);
	st->display = strdup(target);
	if (st->filename == NULL || st->display == NULL)
		return ST_NOMEM;
	snprintf(st->filename, len, "%s%s", prefix, target);
	/* Only init and migrate --create make a database: a wrong path
	 * must not give a new empty one that every command then uses. */
	if (!create) {
		if (access(st->filename, F_OK) == 0)
			return ST_OK;
		if (errno == ENOENT) {
			snprintf(err, errlen, "database %s does not exist",
			         st->display);
			return ST_NOTFOUND;
		}
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, strerror(errno));
		return ST_STORE;
	}
	/* SQLite would create a new file 0644: make it 0600 first. Its -wal
	 * and -shm files copy the database's mode. Connections then open it
	 * without SQLITE_OPEN_CREATE: one opened later (each thread's reader)
	 * while the file is gone (moved, deleted) fails, rather than making a
	 * new empty database there, and deleting the WAL of the real one,
	 * which SQLite does for a WAL next to an empty database. */
	fd = open(st->filename, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, strerror(errno));
		return ST_STORE;
	}
	return ST_OK;
}

static enum status
sq_locks(struct sq_store *st)
{
	pthread_mutexattr_t attr;
	int rc;

	if (pthread_mutexattr_init(&attr) != 0)
		return ST_NOMEM;
	if (st->memory)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&st->wlock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0)
		return ST_NOMEM;
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		goto wlock;
	if (pthread_mutex_init(&st->qlock, NULL) != 0)
		goto lock;
	if (pthread_mutex_init(&st->ckpt_lock, NULL) != 0)
		goto qlock;
	if (pthread_cond_init(&st->ckpt_cond, NULL) != 0)
		goto ckpt_lock;
	if (pthread_cond_init(&st->ckpt_done, NULL) != 0)
		goto ckpt_cond;
	st->has_locks = true;
	return ST_OK;
ckpt_cond:
	pthread_cond_destroy(&st->ckpt_cond);
ckpt_lock:
	pthread_mutex_destroy(&st->ckpt_lock);
qlock:
	pthread_mutex_destroy(&st->qlock);
lock:
	pthread_mutex_destroy(&st->lock);
wlock:
	pthread_mutex_destroy(&st->wlock);
	return ST_NOMEM;
}

/* Sets up the writer of a file database: WAL (once: it is stored in the
 * file), its cache, and checkpoints by the checkpointer thread. */
static enum status
sq_writer_file(struct sq_store *st, char *err, size_t errlen)
{
	sqlite3 *db = st->writer->db;
	sqlite3_stmt *s = NULL;
	const char *mode;
	char msg[256];
	int sr;

	sr = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (sr == SQLITE_OK)
		sr = sqlite3_step(s);
	if (sr != SQLITE_ROW) {
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, sq_errmsg(db, sr, msg, sizeof(msg)));
		sqlite3_finalize(s);
		return ST_STORE;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0)
		log_warn("event=store_wal_unavailable backend=sqlite "
		         "journal_mode=%s",
		         mode != NULL ? mode : "?");
	sqlite3_finalize(s);

	/* The writer's cache holds the index pages every insert touches. */
	if ((sr = sqlite3_exec(db, "PRAGMA cache_size = -" WRITER_CACHE_KIB,
	                       NULL, NULL, NULL)) != SQLITE_OK ||
	    (sr = sqlite3_exec(db,
	                       "PRAGMA journal_size_limit = " WAL_LIMIT_BYTES,
	                       NULL, NULL, NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, sq_errmsg(db, sr, msg, sizeof(msg)));
		return ST_STORE;
	}
	return sq_ckpt_start(st, err, errlen);
}

enum status
sq_open(const char *target, bool create, struct store **out, char *err,
        size_t errlen)
{
	struct sq_store *st;
	enum status rc;

	if (!sqlite3_threadsafe()) {
		snprintf(err, errlen,
		         "this SQLite library is built without "
		         "thread support");
		return ST_STORE;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return ST_NOMEM;
	}
	st->base.ops = &sqlite_store_ops;
	st->qtail = &st->qhead;
	st->open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if ((rc = sq_names(st, target, create, err, errlen)) != ST_OK ||
	    (rc = sq_locks(st)) != ST_OK)
		goto out;
	if (pthread_key_create(&st->key, sq_conn_thread_exit) != 0) {
		rc = ST_NOMEM;
		goto out;
	}
	st->has_key = true;
	/* The writer first: it reports open errors now. */
	if ((rc = sq_conn_open(st, &st->writer, err, errlen)) != ST_OK)
		goto out;
	if (!st->memory && (rc = sq_writer_file(st, err, errlen)) != ST_OK)
		goto out;
	*out = &st->base;
	return ST_OK;
out:
	if (rc == ST_NOMEM)
		snprintf(err, errlen, "out of memory");
	else if (err[0] == '\0')
		snprintf(err, errlen, "cannot open database %s: %s", target,
		         status_str(rc));
	sq_free(st);
	return rc;
}

void
sq_close(struct store *s)
{
	sq_free(sq(s));
}

enum status
sq_schema_version(struct store *s, unsigned *have, unsigned *want)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	enum status rc;

	if ((rc = sq_conn_get(st, &c)) != ST_OK)
		return rc;
	sq_rd_lock(st);
	rc = sq_user_version(c, have);
	sq_rd_unlock(st);
	if (rc == ST_OK)
		*want = sqlite_migrations_count;
	return rc;
}

/* Applies migration v (0-based) in the open transaction. */
static enum status
migrate_one(struct conn *c, unsigned v, char *err, size_t errlen)
{
	char *msg = NULL;
	char pragma[64];
	int rc, n;

	rc = sqlite3_exec(c->db, sqlite_migrations[v], NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database migration %03u failed: %s",
		         v + 1, msg != NULL ? msg : sqlite3_errstr(rc));
		log_err("event=store_error backend=sqlite op=migrate "
		        "migration=%03u error=\"%s\"",
		        v + 1, msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return ST_STORE;
	}
	/* PRAGMA takes no bound parameters; v + 1 is our own counter. */
	n = snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", v + 1);
	if (n < 0 || (size_t)n >= sizeof(pragma))
		return ST_INTERNAL;
	rc = sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_status(c, rc, "migrate");
	return ST_OK;
}

enum status
sq_migrate(struct store *s, unsigned *applied, char *err, size_t errlen)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	unsigned have, done = 0;
	const unsigned want = sqlite_migrations_count;
	enum status rc;
	bool txn = false;

	c = sq_wr_begin(st);
	for (;;) {
		if ((rc = sq_exec(c, Q_BEGIN, "migrate")) != ST_OK)
			goto out;
		txn = true;
		/* Read inside the transaction: another process may have
		 * migrated since. */
		if ((rc = sq_user_version(c, &have)) != ST_OK)
			goto out;
		if (have > want) {
			snprintf(err, errlen,
			         "database schema version %u is newer than "
			         "this build of plugauth knows (%u): upgrade "
			         "plugauth",
			         have, want);
			log_err("event=store_error backend=sqlite op=migrate "
			        "error=\"database schema version %u is newer "
			        "than this build of plugauth knows (%u)\"",
			        have, want);
			rc = ST_STORE;
			goto out;
		}
		if (have == want)
			break;
		if ((rc = migrate_one(c, have, err, errlen)) != ST_OK)
			goto out;
		if ((rc = sq_exec(c, Q_COMMIT, "migrate")) != ST_OK)
			goto out;
		txn = false;
		done++;
		log_info("event=store_migrated backend=sqlite version=%u",
		         have + 1);
	}
	rc = sq_exec(c, Q_COMMIT, "migrate");
	if (rc == ST_OK)
		txn = false;
out:
	if (txn)
		sq_txn_rollback(c, "migrate");
	sq_wr_end(st);
	if (rc == ST_OK)
		*applied = done;
	else if (err[0] == '\0')
		snprintf(err, errlen, "cannot migrate database %s: %s",
		         st->display, status_str(rc));
	return rc;
}
