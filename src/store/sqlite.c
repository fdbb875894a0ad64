/*
 * The SQLite backend.
 *
 * Connections: reads use one connection per thread and store, opened on
 * the thread's first call and found again through a pthread key; a
 * thread that exits closes its own, and store_close() closes the rest.
 * Writes all go through one writer connection, used by whichever thread
 * holds st->wlock: writes are serialised anyway (below), and one writer
 * keeps its page cache warm instead of every thread's cache being
 * invalidated by the others' commits. Each connection caches its
 * prepared statements, prepared lazily on first use.
 *
 * Settings (see docs/storage.md):
 *  - journal_mode=WAL (set once; it is stored in the file): readers never
 *    block the writer nor the writer the readers.
 *  - synchronous=NORMAL: in WAL mode a commit is written to the WAL but not
 *    fsync'd; the WAL is fsync'd at checkpoints. A committed transaction
 *    survives the process crashing or being killed (kill -9), which is
 *    what we promise; the last transactions before a power loss or kernel
 *    crash may be rolled back, but the database is never corrupted.
 *  - foreign_keys=ON: deleting a client or user cascades to what was
 *    issued to it.
 *  - busy_timeout=5000: waits for writers in other processes (the CLI
 *    while the server runs).
 *
 * Writes: SQLite has one writer at a time, and its busy handler polls in
 * millisecond sleeps, which ruins latency when many threads write at
 * once. So this process's writes take st->wlock around each write
 * transaction and never wait on each other inside SQLite; busy_timeout is
 * left for other processes. A transaction of one statement runs in
 * autocommit mode, which takes the write lock when the statement starts
 * (as BEGIN IMMEDIATE would) and commits before the step returns; only
 * transactions spanning several statements use BEGIN IMMEDIATE ... COMMIT.
 * Token inserts from concurrent threads share commits: see sq_token_add().
 *
 * "sqlite::memory:" (tests, demo): each store gets its own named database
 * in the "memdb" VFS ("file:/plugauth-mem-N?vfs=memdb"), which every
 * connection of the process opening that name shares, with ordinary
 * locking. WAL does not apply there (the journal is in memory), so reads
 * take st->wlock too and nothing ever waits in SQLite's busy handler. The
 * writer connection lives until store_close(), and the database with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 5000
#define TOKEN_BATCH_MAX 64   /* token inserts per group commit */
#define CKPT_PAGES 1000      /* WAL pages that wake the checkpointer */
#define CKPT_HARD_PAGES 4000 /* ... and that make the writer do it */
#define WRITER_CACHE_KIB "32768"
#define WAL_LIMIT_BYTES "67108864" /* WAL file kept after a restart */

enum stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_USER_VERSION,
	Q_CLIENT_ADD,
	Q_CLIENT_GET,
	Q_CLIENT_LIST,
	Q_CLIENT_REMOVE,
	Q_CLIENT_SET_SECRET,
	Q_USER_ADD,
	Q_USER_GET,
	Q_USER_GET_BY_ID,
	Q_USER_LIST,
	Q_USER_REMOVE,
	Q_USER_SET_PASSWORD,
	Q_TOKEN_ADD,
	Q_TOKEN_GET,
	Q_TOKEN_REVOKE_USER,
	Q_TOKEN_REVOKE_CLIENT,
	Q_TOKEN_COUNT_LIVE,
	Q_GC_TOKENS,
	Q_GC_CODES,
	Q_GC_SESSIONS,
	Q__COUNT
};

#define CLIENT_COLS                                                            \
	"id, name, is_public, secret_digest, chatgpt, redirect_uris, scope, "  \
	"created_at"
#define USER_COLS "id, name, password_hash, created_at"

static const char *const stmt_sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_USER_VERSION] = "PRAGMA user_version",
    [Q_CLIENT_ADD] = "INSERT INTO clients (" CLIENT_COLS ") "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_CLIENT_GET] = "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
    [Q_CLIENT_LIST] = "SELECT " CLIENT_COLS " FROM clients "
                      "ORDER BY created_at, rowid",
    [Q_CLIENT_REMOVE] = "DELETE FROM clients WHERE id = ?1",
    [Q_CLIENT_SET_SECRET] = "UPDATE clients SET secret_digest = ?2 "
                            "WHERE id = ?1",
    [Q_USER_ADD] = "INSERT INTO users (name, password_hash, created_at) "
                   "VALUES (?1, ?2, ?3)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE name = ?1",
    [Q_USER_GET_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [Q_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY id",
    [Q_USER_REMOVE] = "DELETE FROM users WHERE name = ?1",
    [Q_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2 "
                            "WHERE name = ?1",
    [Q_TOKEN_ADD] = "INSERT INTO tokens (digest, kind, client_id, user_id, "
                    "scope, audience, family_id, expires_at, revoked_at, "
                    "rotated_at, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_TOKEN_GET] = "SELECT kind, client_id, user_id, scope, audience, "
                    "family_id, expires_at, revoked_at, rotated_at, "
                    "created_at FROM tokens WHERE digest = ?1",
    [Q_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked_at = ?2 "
                            "WHERE user_id = ?1 AND revoked_at = 0 "
                            "AND expires_at > ?2",
    [Q_TOKEN_REVOKE_CLIENT] = "UPDATE tokens SET revoked_at = ?2 "
                              "WHERE client_id = ?1 AND revoked_at = 0 "
                              "AND expires_at > ?2",
    [Q_TOKEN_COUNT_LIVE] = "SELECT count(*) FROM tokens "
                           "WHERE expires_at > ?1 AND revoked_at = 0",
    [Q_GC_TOKENS] = "DELETE FROM tokens WHERE digest IN "
                    "(SELECT digest FROM tokens WHERE expires_at <= ?1 "
                    "LIMIT ?2)",
    [Q_GC_CODES] = "DELETE FROM codes WHERE digest IN "
                   "(SELECT digest FROM codes WHERE expires_at <= ?1 "
                   "LIMIT ?2)",
    [Q_GC_SESSIONS] = "DELETE FROM sessions WHERE digest IN "
                      "(SELECT digest FROM sessions WHERE expires_at <= ?1 "
                      "LIMIT ?2)",
};

struct sq_store;

/* A token insert waiting in the group commit queue (see sq_token_add()). */
struct tok_req {
	const struct store_token *t;
	struct tok_req *next;
	pthread_cond_t cv; /* signalled when done or head */
	enum status rc;
	bool done;
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q__COUNT];
	struct sq_store *st;
	struct conn *prev, *next; /* st->conns, under st->lock */
};

struct sq_store {
	struct store base;     /* first: see sq() */
	pthread_key_t key;     /* this thread's struct conn */
	pthread_mutex_t lock;  /* protects conns */
	pthread_mutex_t wlock; /* serialises this process's writes */
	pthread_mutex_t qlock; /* protects the token queue */
	struct tok_req *qhead, **qtail;
	struct conn *writer; /* under wlock */
	struct conn *conns;  /* readers, one per thread */
	char *filename;      /* as given to sqlite3_open_v2() */
	char *display;       /* for messages: the path or ":memory:" */
	int open_flags;
	bool memory;
	bool has_key, has_locks;

	/* The checkpointer thread (file databases): see ckpt_hook(). */
	struct conn *ckpt; /* its own connection */
	pthread_t ckpt_thread;
	pthread_mutex_t ckpt_lock; /* protects the fields below */
	pthread_cond_t ckpt_cond;  /* wakes the checkpointer */
	pthread_cond_t ckpt_done;  /* a pass is done */
	bool ckpt_wanted, ckpt_stop, ckpt_busy;
	unsigned long ckpt_passes; /* passes done */
	unsigned long ckpt_seen;   /* passes the hook has caught up on */
	bool ckpt_started;         /* the thread runs */
};

static atomic_uint mem_seq;

static struct sq_store *
sq(struct store *s)
{
	return (struct sq_store *)(void *)s;
}

/* Connections. */

static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < Q__COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	if (sqlite3_close(c->db) != SQLITE_OK)
		log_err(
		    "event=store_error backend=sqlite op=close error=\"%s\"",
		    sqlite3_errmsg(c->db));
	free(c);
}

static void
conn_unlink(struct sq_store *st, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* pthread key destructor: the thread is exiting. */
static void
conn_thread_exit(void *p)
{
	struct conn *c = p;
	struct sq_store *st = c->st;

	pthread_mutex_lock(&st->lock);
	conn_unlink(st, c);
	pthread_mutex_unlock(&st->lock);
	conn_free(c);
}

/* Runs a pragma (no parameters, result rows ignored). */
static int
conn_pragma(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * Opens a connection and applies the per-connection settings. On error
 * writes one line to err (if not NULL) and returns ST_STORE.
 */
static enum status
conn_open(struct sq_store *st, struct conn **out, char *err, size_t errlen)
{
	struct conn *c = NULL;
	int rc;
	enum status ret = ST_STORE;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		ret = ST_NOMEM;
		if (err != NULL)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	c->st = st;
	rc = sqlite3_open_v2(st->filename, &c->db, st->open_flags, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(c->db, 1);
	/* SQLite falls back to read-only without a word; we cannot. */
	if (sqlite3_db_readonly(c->db, "main") == 1) {
		if (err != NULL)
			snprintf(err, errlen,
			         "cannot open database %s: file is read-only",
			         st->display);
		goto out;
	}
	/* busy_timeout: only for other processes, see the top. */
	if ((rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS)) != SQLITE_OK ||
	    (rc = conn_pragma(c->db, "PRAGMA foreign_keys = ON")) !=
	        SQLITE_OK ||
	    (rc = conn_pragma(c->db, "PRAGMA synchronous = NORMAL")) !=
	        SQLITE_OK)
		goto fail;
	*out = c;
	c = NULL;
	ret = ST_OK;
	goto out;
fail:
	if (err != NULL)
		snprintf(
		    err, errlen, "cannot open database %s: %s", st->display,
		    c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
out:
	if (c != NULL) {
		sqlite3_close(c->db); /* NULL-safe */
		free(c);
	}
	return ret;
}

/* This thread's reading connection, opened on first use. */
static enum status
conn_get(struct sq_store *st, struct conn **out)
{
	struct conn *c;
	char err[512];
	enum status rc;

	c = pthread_getspecific(st->key);
	if (c != NULL) {
		*out = c;
		return ST_OK;
	}
	rc = conn_open(st, &c, err, sizeof(err));
	if (rc != ST_OK) {
		log_err(
		    "event=store_error backend=sqlite op=connect error=\"%s\"",
		    err);
		return rc;
	}
	if (pthread_setspecific(st->key, c) != 0) {
		conn_free(c);
		return ST_NOMEM;
	}
	pthread_mutex_lock(&st->lock);
	c->next = st->conns;
	if (st->conns != NULL)
		st->conns->prev = c;
	st->conns = c;
	pthread_mutex_unlock(&st->lock);
	*out = c;
	return ST_OK;
}

/* Statements. */

static void rd_lock(struct sq_store *);
static void rd_unlock(struct sq_store *);

/* The cached statement q of c, prepared on first use. */
static enum status
stmt_get(struct conn *c, enum stmt q, sqlite3_stmt **out)
{
	int rc;

	if (c->stmt[q] == NULL) {
		/* Preparing reads the schema: in memory mode, a read. */
		rd_lock(c->st);
		rc = sqlite3_prepare_v3(c->db, stmt_sql[q], -1,
		                        SQLITE_PREPARE_PERSISTENT, &c->stmt[q],
		                        NULL);
		rd_unlock(c->st);
		if (rc != SQLITE_OK) {
			log_err("event=store_error backend=sqlite op=prepare "
			        "stmt=%d error=\"%s\"",
			        (int)q, sqlite3_errmsg(c->db));
			c->stmt[q] = NULL;
			return ST_STORE;
		}
	}
	*out = c->stmt[q];
	return ST_OK;
}

/* Makes s ready for its next use. Clearing the bindings also drops the
 * SQLITE_STATIC pointers into the caller's memory. */
static void
stmt_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/*
 * Maps a failed step's result code to a status, logging the unexpected
 * ones. Logs the operation and SQLite's message, never a bound value.
 */
static enum status
db_status(struct conn *c, int rc, const char *op)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return ST_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ST_NOTFOUND; /* the client or user is gone */
	case SQLITE_NOMEM:
		return ST_NOMEM;
	default:
		log_err("event=store_error backend=sqlite op=%s code=%d "
		        "error=\"%s\"",
		        op, rc, sqlite3_errmsg(c->db));
		return ST_STORE;
	}
}

/* Takes wlock and returns the writer connection, to be used until
 * wr_end(). */
static struct conn *
wr_begin(struct sq_store *st)
{
	pthread_mutex_lock(&st->wlock);
	return st->writer;
}

static void
wr_end(struct sq_store *st)
{
	pthread_mutex_unlock(&st->wlock);
}

/* Reads need the lock only in memory mode (no WAL there), where wlock
 * is recursive: stmt_get() may prepare while a write holds it. */
static void
rd_lock(struct sq_store *st)
{
	if (st->memory)
		pthread_mutex_lock(&st->wlock);
}

static void
rd_unlock(struct sq_store *st)
{
	if (st->memory)
		pthread_mutex_unlock(&st->wlock);
}

/* Runs one of the statements without parameters nor rows (BEGIN, ...). */
static enum status
exec_simple(struct conn *c, enum stmt q, const char *op)
{
	sqlite3_stmt *s;
	enum status rc;
	int sr;

	if ((rc = stmt_get(c, q, &s)) != ST_OK)
		return rc;
	sr = sqlite3_step(s);
	rc = sr == SQLITE_DONE ? ST_OK : db_status(c, sr, op);
	stmt_done(s);
	return rc;
}

/*
 * Runs a bound write statement of the writer c (wlock held) in its own
 * (autocommit) transaction. *changes (may be NULL) gets the number of
 * rows it changed. Resets s in every case.
 */
static enum status
exec_write(struct conn *c, sqlite3_stmt *s, const char *op, unsigned *changes)
{
	enum status rc;
	int sr;

	sr = sqlite3_step(s);
	if (sr == SQLITE_DONE) {
		rc = ST_OK;
		if (changes != NULL)
			*changes = (unsigned)sqlite3_changes(c->db);
	} else {
		rc = db_status(c, sr, op);
	}
	stmt_done(s);
	return rc;
}

/* Rolls back the transaction c is in, if any. */
static void
txn_rollback(struct conn *c, const char *op)
{
	if (!sqlite3_get_autocommit(c->db))
		(void)exec_simple(c, Q_ROLLBACK, op);
}

static enum status
read_user_version(struct conn *c, unsigned *out)
{
	sqlite3_stmt *s;
	enum status rc;
	int sr;
	sqlite3_int64 v;

	if ((rc = stmt_get(c, Q_USER_VERSION, &s)) != ST_OK)
		return rc;
	sr = sqlite3_step(s);
	if (sr != SQLITE_ROW) {
		rc = db_status(c, sr, "user_version");
		goto out;
	}
	v = sqlite3_column_int64(s, 0);
	if (v < 0 || v > 1000000) {
		log_err("event=store_error backend=sqlite op=user_version "
		        "error=\"schema version %lld makes no sense\"",
		        (long long)v);
		rc = ST_STORE;
		goto out;
	}
	*out = (unsigned)v;
	rc = ST_OK;
out:
	stmt_done(s);
	return rc;
}

/* Column helpers. */

/* *out is a new copy of text column i; NULL stays NULL if nullable. */
static enum status
col_text(sqlite3_stmt *s, int i, bool nullable, char **out)
{
	const unsigned char *p;
	int n;
	char *r;

	p = sqlite3_column_text(s, i);
	if (p == NULL) {
		if (sqlite3_column_type(s, i) != SQLITE_NULL)
			return ST_NOMEM;
		if (nullable) {
			*out = NULL;
			return ST_OK;
		}
		p = (const unsigned char *)"";
	}
	n = sqlite3_column_bytes(s, i);
	r = malloc((size_t)n + 1);
	if (r == NULL)
		return ST_NOMEM;
	memcpy(r, p, (size_t)n);
	r[n] = '\0';
	*out = r;
	return ST_OK;
}

/* Copies a digest column; NULL gives zeros, any other size is corrupt. */
static enum status
col_digest(sqlite3_stmt *s, int i, uint8_t out[SEC_DIGEST_BYTES])
{
	const void *p;

	if (sqlite3_column_type(s, i) == SQLITE_NULL) {
		memset(out, 0, SEC_DIGEST_BYTES);
		return ST_OK;
	}
	p = sqlite3_column_blob(s, i);
	if (p == NULL || sqlite3_column_bytes(s, i) != SEC_DIGEST_BYTES) {
		log_err("event=store_error backend=sqlite op=read "
		        "error=\"digest of the wrong size\"");
		return ST_STORE;
	}
	memcpy(out, p, SEC_DIGEST_BYTES);
	return ST_OK;
}

/*
 * Checkpoints (file databases). SQLite's autocheckpoint would copy the WAL
 * back into the database and fsync it inside a commit, every CKPT_PAGES
 * pages, holding every writer up meanwhile. Instead, the writer's
 * wal_hook, run after each commit, wakes the checkpointer thread, which
 * copies the WAL alongside the writers (a PASSIVE checkpoint never waits).
 * Frames committed during that pass remain, and SQLite starts the WAL over
 * only when a write begins with all of it copied; so after each pass, the
 * next commit's hook copies those few frames itself, with wlock held. If
 * the WAL reaches CKPT_HARD_PAGES all the same (a busy machine), the hook
 * holds the writers until a pass is done: the WAL stays bounded.
 */

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

/* Open, migrate, close. */

/* Frees st and everything in it; connections of live threads too. */
static void
sq_free(struct sq_store *st)
{
	struct conn *c, *next;

	if (st->ckpt_started) {
		pthread_mutex_lock(&st->ckpt_lock);
		st->ckpt_stop = true;
		pthread_cond_signal(&st->ckpt_cond);
		pthread_mutex_unlock(&st->ckpt_lock);
		pthread_join(st->ckpt_thread, NULL);
	}
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
		conn_free(c);
	}
	conn_free(st->ckpt);
	/* Last: it keeps a memory database alive, and closing the last
	 * connection checkpoints and removes the WAL. */
	conn_free(st->writer);
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

/* Sets st's file names; creates a new database file 0600. */
static enum status
sq_names(struct sq_store *st, const char *target, char *err, size_t errlen)
{
	const char *prefix = "";
	size_t len;
	int fd, n;

	if (strcmp(target, ":memory:") == 0) {
		st->memory = true;
		st->open_flags |= SQLITE_OPEN_URI;
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
	/* SQLite would create a new file 0644: make it 0600 first. Its -wal
	 * and -shm files copy the database's mode. */
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
	enum status rc;
	int sr;

	sr = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (sr == SQLITE_OK)
		sr = sqlite3_step(s);
	if (sr != SQLITE_ROW) {
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, sqlite3_errmsg(db));
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
	if (conn_pragma(db, "PRAGMA cache_size = -" WRITER_CACHE_KIB) !=
	        SQLITE_OK ||
	    conn_pragma(db, "PRAGMA journal_size_limit = " WAL_LIMIT_BYTES) !=
	        SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, sqlite3_errmsg(db));
		return ST_STORE;
	}
	if ((rc = conn_open(st, &st->ckpt, err, errlen)) != ST_OK)
		return rc;
	if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return ST_INTERNAL;
	}
	st->ckpt_started = true;
	sqlite3_wal_hook(db, ckpt_hook, st);
	return ST_OK;
}

static enum status
sq_open(const char *target, struct store **out, char *err, size_t errlen)
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
	st->open_flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if ((rc = sq_names(st, target, err, errlen)) != ST_OK ||
	    (rc = sq_locks(st)) != ST_OK)
		goto out;
	if (pthread_key_create(&st->key, conn_thread_exit) != 0) {
		rc = ST_NOMEM;
		goto out;
	}
	st->has_key = true;
	/* The writer first: it reports open errors now. */
	if ((rc = conn_open(st, &st->writer, err, errlen)) != ST_OK)
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

static void
sq_close(struct store *s)
{
	sq_free(sq(s));
}

static enum status
sq_schema_version(struct store *s, unsigned *have, unsigned *want)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	enum status rc;

	if ((rc = conn_get(st, &c)) != ST_OK)
		return rc;
	rd_lock(st);
	rc = read_user_version(c, have);
	rd_unlock(st);
	if (rc == ST_OK)
		*want = sqlite_migrations_count;
	return rc;
}

/* Applies migration v (0-based) in the open transaction. */
static enum status
migrate_one(struct conn *c, unsigned v)
{
	char *msg = NULL;
	char sql[64];
	int rc, n;

	rc = sqlite3_exec(c->db, sqlite_migrations[v], NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_err("event=store_error backend=sqlite op=migrate "
		        "migration=%03u error=\"%s\"",
		        v + 1, msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return ST_STORE;
	}
	/* PRAGMA takes no bound parameters; v + 1 is our own counter. */
	n = snprintf(sql, sizeof(sql), "PRAGMA user_version = %u", v + 1);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return ST_INTERNAL;
	rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_status(c, rc, "migrate");
	return ST_OK;
}

static enum status
sq_migrate(struct store *s, unsigned *applied)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	unsigned have, done = 0;
	const unsigned want = sqlite_migrations_count;
	enum status rc;
	bool txn = false;

	c = wr_begin(st);
	for (;;) {
		if ((rc = exec_simple(c, Q_BEGIN, "migrate")) != ST_OK)
			goto out;
		txn = true;
		/* Read inside the transaction: another process may have
		 * migrated since. */
		if ((rc = read_user_version(c, &have)) != ST_OK)
			goto out;
		if (have > want) {
			log_err("event=store_error backend=sqlite op=migrate "
			        "error=\"database schema version %u is newer "
			        "than this build of plugauth knows (%u): "
			        "upgrade plugauth\"",
			        have, want);
			rc = ST_STORE;
			goto out;
		}
		if (have == want)
			break;
		if ((rc = migrate_one(c, have)) != ST_OK)
			goto out;
		if ((rc = exec_simple(c, Q_COMMIT, "migrate")) != ST_OK)
			goto out;
		txn = false;
		done++;
		log_info("event=store_migrated backend=sqlite version=%u",
		         have + 1);
	}
	rc = exec_simple(c, Q_COMMIT, "migrate");
	if (rc == ST_OK)
		txn = false;
out:
	if (txn)
		txn_rollback(c, "migrate");
	wr_end(st);
	if (rc == ST_OK)
		*applied = done;
	return rc;
}

/* Clients. */

static enum status
client_row(sqlite3_stmt *s, struct store_client **out)
{
	struct store_client *cl;
	const unsigned char *id;
	int n;
	enum status rc;

	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return ST_NOMEM;
	id = sqlite3_column_text(s, 0);
	n = sqlite3_column_bytes(s, 0);
	if (id == NULL || n <= 0 || (size_t)n >= sizeof(cl->id)) {
		rc = id == NULL ? ST_NOMEM : ST_STORE;
		goto out;
	}
	memcpy(cl->id, id, (size_t)n);
	cl->id[n] = '\0';
	if ((rc = col_text(s, 1, false, &cl->name)) != ST_OK)
		goto out;
	cl->is_public = sqlite3_column_int(s, 2) != 0;
	if ((rc = col_digest(s, 3, cl->secret_digest)) != ST_OK)
		goto out;
	cl->chatgpt = sqlite3_column_int(s, 4) != 0;
	if ((rc = col_text(s, 5, false, &cl->redirect_uris)) != ST_OK ||
	    (rc = col_text(s, 6, false, &cl->scope)) != ST_OK)
		goto out;
	cl->created_at = sqlite3_column_int64(s, 7);
	*out = cl;
	cl = NULL;
out:
	store_client_free(cl);
	return rc;
}

static enum status
sq_client_add(struct store *s, const struct store_client *cl)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_CLIENT_ADD, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, cl->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, cl->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, cl->is_public);
	if (cl->is_public)
		sqlite3_bind_null(q, 4);
	else
		sqlite3_bind_blob(q, 4, cl->secret_digest, SEC_DIGEST_BYTES,
		                  SQLITE_STATIC);
	sqlite3_bind_int(q, 5, cl->chatgpt);
	sqlite3_bind_text(q, 6, cl->redirect_uris ? cl->redirect_uris : "", -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(q, 7, cl->scope ? cl->scope : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8,
	                   cl->created_at != 0 ? cl->created_at : clk_now_s());
	rc = exec_write(c, q, "client_add", NULL);
out:
	wr_end(st);
	return rc;
}

static enum status
sq_client_get(struct store *s, const char *id, struct store_client **out)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = conn_get(st, &c)) != ST_OK ||
	    (rc = stmt_get(c, Q_CLIENT_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = client_row(q, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = db_status(c, sr, "client_get");
	stmt_done(q);
	rd_unlock(st);
	return rc;
}

/*
 * Runs list query q and collects its rows with row() into a new array.
 * row has the signature of client_row() or user_row().
 */
static enum status
list_rows(struct sq_store *st, enum stmt qid, const char *op,
          enum status (*row)(sqlite3_stmt *, void **), void (*row_free)(void *),
          void ***out, size_t *nout)
{
	struct conn *c;
	sqlite3_stmt *q;
	void **v = NULL, **nv;
	size_t n = 0, cap = 0;
	enum status rc;
	int sr;

	if ((rc = conn_get(st, &c)) != ST_OK ||
	    (rc = stmt_get(c, qid, &q)) != ST_OK)
		return rc;
	rd_lock(st);
	while ((sr = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = ST_NOMEM;
				goto out;
			}
			v = nv;
		}
		if ((rc = row(q, &v[n])) != ST_OK)
			goto out;
		n++;
	}
	if (sr != SQLITE_DONE) {
		rc = db_status(c, sr, op);
		goto out;
	}
	if (v == NULL && (v = calloc(1, sizeof(*v))) == NULL) {
		rc = ST_NOMEM;
		goto out;
	}
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	rc = ST_OK;
out:
	stmt_done(q);
	rd_unlock(st);
	for (size_t i = 0; i < n; i++)
		row_free(v[i]);
	free(v);
	return rc;
}

static enum status
client_row_v(sqlite3_stmt *s, void **out)
{
	struct store_client *cl;
	enum status rc;

	if ((rc = client_row(s, &cl)) == ST_OK)
		*out = cl;
	return rc;
}

static void
client_free_v(void *p)
{
	store_client_free(p);
}

static enum status
sq_client_list(struct store *s, struct store_client ***out, size_t *n)
{
	void **v;
	enum status rc;

	rc = list_rows(sq(s), Q_CLIENT_LIST, "client_list", client_row_v,
	               client_free_v, &v, n);
	if (rc == ST_OK)
		*out = (struct store_client **)v;
	return rc;
}

static enum status
sq_client_remove(struct store *s, const char *id)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_CLIENT_REMOVE, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = exec_write(c, q, "client_remove", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	wr_end(st);
	return rc;
}

static enum status
sq_client_set_secret(struct store *s, const char *id,
                     const uint8_t digest[SEC_DIGEST_BYTES])
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_CLIENT_SET_SECRET, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	rc = exec_write(c, q, "client_set_secret", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	wr_end(st);
	return rc;
}

/* Users. */

static enum status
user_row(sqlite3_stmt *s, struct store_user **out)
{
	struct store_user *u;
	enum status rc;

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return ST_NOMEM;
	u->id = sqlite3_column_int64(s, 0);
	if ((rc = col_text(s, 1, false, &u->name)) != ST_OK ||
	    (rc = col_text(s, 2, false, &u->password_hash)) != ST_OK)
		goto out;
	u->created_at = sqlite3_column_int64(s, 3);
	*out = u;
	u = NULL;
out:
	store_user_free(u);
	return rc;
}

static enum status
user_row_v(sqlite3_stmt *s, void **out)
{
	struct store_user *u;
	enum status rc;

	if ((rc = user_row(s, &u)) == ST_OK)
		*out = u;
	return rc;
}

static void
user_free_v(void *p)
{
	store_user_free(p);
}

static enum status
sq_user_add(struct store *s, const char *name, const char *password_hash,
            int64_t *id)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_USER_ADD, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, clk_now_s());
	sr = sqlite3_step(q);
	if (sr == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(c->db);
		rc = ST_OK;
	} else {
		rc = db_status(c, sr, "user_add");
	}
	stmt_done(q);
out:
	wr_end(st);
	return rc;
}

static enum status
user_get(struct sq_store *st, enum stmt qid, const char *name, int64_t id,
         struct store_user **out)
{
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = conn_get(st, &c)) != ST_OK ||
	    (rc = stmt_get(c, qid, &q)) != ST_OK)
		return rc;
	if (name != NULL)
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q, 1, id);
	rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = user_row(q, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = db_status(c, sr, "user_get");
	stmt_done(q);
	rd_unlock(st);
	return rc;
}

static enum status
sq_user_get(struct store *s, const char *name, struct store_user **out)
{
	return user_get(sq(s), Q_USER_GET, name, 0, out);
}

static enum status
sq_user_get_by_id(struct store *s, int64_t id, struct store_user **out)
{
	return user_get(sq(s), Q_USER_GET_BY_ID, NULL, id, out);
}

static enum status
sq_user_list(struct store *s, struct store_user ***out, size_t *n)
{
	void **v;
	enum status rc;

	rc = list_rows(sq(s), Q_USER_LIST, "user_list", user_row_v, user_free_v,
	               &v, n);
	if (rc == ST_OK)
		*out = (struct store_user **)v;
	return rc;
}

/* Runs a write keyed by name with an optional second text parameter;
 * ST_NOTFOUND if no row changed. */
static enum status
write_by_name(struct sq_store *st, enum stmt qid, const char *op,
              const char *name, const char *text2)
{
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, qid, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (text2 != NULL)
		sqlite3_bind_text(q, 2, text2, -1, SQLITE_STATIC);
	rc = exec_write(c, q, op, &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	wr_end(st);
	return rc;
}

static enum status
sq_user_remove(struct store *s, const char *name)
{
	return write_by_name(sq(s), Q_USER_REMOVE, "user_remove", name, NULL);
}

static enum status
sq_user_set_password(struct store *s, const char *name,
                     const char *password_hash)
{
	return write_by_name(sq(s), Q_USER_SET_PASSWORD, "user_set_password",
	                     name, password_hash);
}

/* Tokens. */

/* Binds t to the cached INSERT q and runs it; resets q. */
static enum status
token_insert(struct conn *c, sqlite3_stmt *q, const struct store_token *t)
{
	enum status rc;
	int sr;

	sqlite3_bind_blob(q, 1, t->digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)t->kind);
	sqlite3_bind_text(q, 3, t->client_id, -1, SQLITE_STATIC);
	if (t->user_id != 0)
		sqlite3_bind_int64(q, 4, t->user_id);
	else
		sqlite3_bind_null(q, 4);
	sqlite3_bind_text(q, 5, t->scope, -1, SQLITE_STATIC);
	if (t->audience != NULL)
		sqlite3_bind_text(q, 6, t->audience, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	sqlite3_bind_int64(q, 7, t->family_id);
	sqlite3_bind_int64(q, 8, t->expires_at);
	sqlite3_bind_int64(q, 9, t->revoked_at);
	sqlite3_bind_int64(q, 10, t->rotated_at);
	sqlite3_bind_int64(q, 11,
	                   t->created_at != 0 ? t->created_at : clk_now_s());
	sr = sqlite3_step(q);
	rc = sr == SQLITE_DONE ? ST_OK : db_status(c, sr, "token_add");
	stmt_done(q);
	return rc;
}

/*
 * Inserts the n queued tokens from first on, committed when this returns,
 * and sets each one's rc. One token runs in autocommit mode; several share
 * one transaction, in which a row that breaks a constraint fails alone
 * (SQLite rolls back just that statement) and any other error fails the
 * whole batch.
 */
static void
token_batch(struct sq_store *st, struct tok_req *first, unsigned n)
{
	struct tok_req *r;
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	unsigned i;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_TOKEN_ADD, &q)) != ST_OK)
		goto unlock;
	if (n == 1) {
		first->rc = token_insert(c, q, first->t);
		wr_end(st);
		return;
	}
	if ((rc = exec_simple(c, Q_BEGIN, "token_add")) != ST_OK)
		goto unlock;
	/* Not r = r->next after the last: the tail's next may be changing. */
	for (r = first, i = 0;;) {
		r->rc = token_insert(c, q, r->t);
		if (r->rc != ST_OK && r->rc != ST_EXISTS &&
		    r->rc != ST_NOTFOUND) {
			rc = r->rc;
			txn_rollback(c, "token_add");
			goto unlock;
		}
		if (++i == n)
			break;
		r = r->next;
	}
	if ((rc = exec_simple(c, Q_COMMIT, "token_add")) != ST_OK) {
		txn_rollback(c, "token_add");
		goto unlock;
	}
	wr_end(st);
	return;
unlock:
	wr_end(st);
	for (r = first, i = 0;;) {
		r->rc = rc;
		if (++i == n)
			break;
		r = r->next;
	}
}

/*
 * The hot path of the token endpoint. One commit per token would cap the
 * rate at what the disk does per commit (a few thousand a second with the
 * tokens indexes), so concurrent inserts commit together: each caller
 * queues its token; the caller at the head of the queue takes up to
 * TOKEN_BATCH_MAX of them, inserts and commits them in one transaction,
 * wakes their callers with their results and hands the head to the next
 * in line. Nobody returns before their token is committed. Alone, a
 * caller just runs one cached INSERT.
 */
static enum status
sq_token_add(struct store *s, const struct store_token *t)
{
	struct sq_store *st = sq(s);
	struct tok_req me, *r, *next;
	unsigned n;

	memset(&me, 0, sizeof(me));
	me.t = t;
	if (pthread_cond_init(&me.cv, NULL) != 0)
		return ST_NOMEM;
	pthread_mutex_lock(&st->qlock);
	*st->qtail = &me;
	st->qtail = &me.next;
	while (!me.done && st->qhead != &me)
		pthread_cond_wait(&me.cv, &st->qlock);
	if (!me.done) {
		/* At the head: commit a batch for everyone behind. */
		for (n = 1, r = &me; r->next != NULL && n < TOKEN_BATCH_MAX;
		     n++)
			r = r->next;
		pthread_mutex_unlock(&st->qlock);
		token_batch(st, &me, n);
		pthread_mutex_lock(&st->qlock);
		for (r = &me; n > 0; n--, r = next) {
			next = r->next;
			r->done = true;
			if (r != &me)
				pthread_cond_signal(&r->cv);
		}
		st->qhead = r;
		if (r == NULL)
			st->qtail = &st->qhead;
		else
			pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&st->qlock);
	pthread_cond_destroy(&me.cv);
	return me.rc;
}

static enum status
token_row(sqlite3_stmt *s, const uint8_t digest[SEC_DIGEST_BYTES],
          struct store_token **out)
{
	struct store_token *t;
	enum status rc;
	int kind;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return ST_NOMEM;
	memcpy(t->digest, digest, SEC_DIGEST_BYTES);
	kind = sqlite3_column_int(s, 0);
	if (kind != STORE_TOKEN_ACCESS && kind != STORE_TOKEN_REFRESH) {
		log_err("event=store_error backend=sqlite op=token_get "
		        "error=\"unknown token kind %d\"",
		        kind);
		rc = ST_STORE;
		goto out;
	}
	t->kind = (enum store_token_kind)kind;
	if ((rc = col_text(s, 1, false, &t->client_id)) != ST_OK)
		goto out;
	t->user_id = sqlite3_column_int64(s, 2); /* NULL reads as 0 */
	if ((rc = col_text(s, 3, false, &t->scope)) != ST_OK ||
	    (rc = col_text(s, 4, true, &t->audience)) != ST_OK)
		goto out;
	t->family_id = sqlite3_column_int64(s, 5);
	t->expires_at = sqlite3_column_int64(s, 6);
	t->revoked_at = sqlite3_column_int64(s, 7);
	t->rotated_at = sqlite3_column_int64(s, 8);
	t->created_at = sqlite3_column_int64(s, 9);
	*out = t;
	t = NULL;
out:
	store_token_free(t);
	return rc;
}

static enum status
sq_token_get(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
             struct store_token **out)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = conn_get(st, &c)) != ST_OK ||
	    (rc = stmt_get(c, Q_TOKEN_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = token_row(q, digest, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = db_status(c, sr, "token_get");
	stmt_done(q);
	rd_unlock(st);
	return rc;
}

static enum status
sq_token_revoke_user(struct store *s, int64_t user_id, int64_t now, unsigned *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_TOKEN_REVOKE_USER, &q)) != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_int64(q, 2, now);
	rc = exec_write(c, q, "token_revoke_user", n);
out:
	wr_end(st);
	return rc;
}

static enum status
sq_token_revoke_client(struct store *s, const char *client_id, int64_t now,
                       unsigned *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = wr_begin(st);
	if ((rc = stmt_get(c, Q_TOKEN_REVOKE_CLIENT, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	rc = exec_write(c, q, "token_revoke_client", n);
out:
	wr_end(st);
	return rc;
}

static enum status
sq_token_count_live(struct store *s, int64_t now, uint64_t *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = conn_get(st, &c)) != ST_OK ||
	    (rc = stmt_get(c, Q_TOKEN_COUNT_LIVE, &q)) != ST_OK)
		return rc;
	sqlite3_bind_int64(q, 1, now);
	rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(q, 0);
		rc = ST_OK;
	} else {
		rc = db_status(c, sr, "token_count_live");
	}
	stmt_done(q);
	rd_unlock(st);
	return rc;
}

/* Garbage collection: one transaction, one bounded DELETE per table. */
static enum status
sq_gc(struct store *s, int64_t now, unsigned batch, unsigned *deleted)
{
	static const enum stmt tables[] = {Q_GC_TOKENS, Q_GC_CODES,
	                                   Q_GC_SESSIONS};
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned total = 0;
	enum status rc;
	bool txn = false;
	int sr;

	c = wr_begin(st);
	/* Prepare first, so that nothing fails half way for that. */
	for (size_t i = 0; i < ARRAY_LEN(tables); i++)
		if ((rc = stmt_get(c, tables[i], &q)) != ST_OK)
			goto out;
	if ((rc = exec_simple(c, Q_BEGIN, "gc")) != ST_OK)
		goto out;
	txn = true;
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		q = c->stmt[tables[i]];
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)batch);
		sr = sqlite3_step(q);
		if (sr == SQLITE_DONE) {
			total += (unsigned)sqlite3_changes(c->db);
		} else {
			rc = db_status(c, sr, "gc");
		}
		stmt_done(q);
		if (rc != ST_OK)
			goto out;
	}
	if ((rc = exec_simple(c, Q_COMMIT, "gc")) != ST_OK)
		goto out;
	txn = false;
	*deleted = total;
out:
	if (txn)
		txn_rollback(c, "gc");
	wr_end(st);
	return rc;
}

const struct store_ops sqlite_store_ops = {
    .name = "sqlite",
    .open = sq_open,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .close = sq_close,
    .client_add = sq_client_add,
    .client_get = sq_client_get,
    .client_list = sq_client_list,
    .client_remove = sq_client_remove,
    .client_set_secret = sq_client_set_secret,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_get_by_id = sq_user_get_by_id,
    .user_list = sq_user_list,
    .user_remove = sq_user_remove,
    .user_set_password = sq_user_set_password,
    .token_add = sq_token_add,
    .token_get = sq_token_get,
    .token_revoke_user = sq_token_revoke_user,
    .token_revoke_client = sq_token_revoke_client,
    .token_count_live = sq_token_count_live,
    .gc = sq_gc,
};
