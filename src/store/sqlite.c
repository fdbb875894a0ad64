/*
 * The SQLite backend. The files of the backend are listed in sqlite_int.h;
 * this one holds the connections, the statement cache, the locks,
 * transactions and errors, the row helpers, gc and the ops table.
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
 *  - a busy handler (conn_busy()) that waits up to SQ_BUSY_TIMEOUT_MS for
 *    writers in other processes (the CLI while the server runs), and once
 *    such a wait has timed out, lets the calls that meet the lock right
 *    after fail at once instead of each waiting in turn.
 *
 * Writes: SQLite has one writer at a time, and its busy handler polls in
 * millisecond sleeps, which ruins latency when many threads write at
 * once. So this process's writes take st->wlock around each write
 * transaction and never wait on each other inside SQLite; the busy handler
 * is left for other processes. A transaction of one statement runs in
 * autocommit mode, which takes the write lock when the statement starts
 * (as BEGIN IMMEDIATE would) and commits before the step returns; only
 * transactions spanning several statements use BEGIN IMMEDIATE ... COMMIT.
 * Token issues from concurrent threads share commits: see
 * sq_tokens_issue() in sqlite_token.c, which also checks, in the issuing
 * transaction, that the tokens' family has not been revoked and spends
 * the refresh token or code they are issued for.
 *
 * Errors: any failure of SQLite but a broken constraint or a lack of
 * memory (a full disk, an I/O error, a read-only or locked database, a
 * file that cannot be opened) is ST_STORE, which callers answer with 503,
 * and one log line naming the operation and the kind of fault (never a
 * bound value). A failed write transaction is rolled back, and every write
 * section ends with the writer out of any transaction (sq_wr_end()), so
 * the writer keeps working once the fault is gone (say, after SQLITE_FULL
 * in WAL mode, once there is space again).
 *
 * "sqlite::memory:" (tests, demo): each store gets its own named database
 * in the "memdb" VFS ("file:/plugauth-mem-N?vfs=memdb"), which every
 * connection of the process opening that name shares, with ordinary
 * locking. WAL does not apply there (the journal is in memory), so reads
 * take st->wlock too and nothing ever waits in SQLite's busy handler. The
 * writer connection lives until store_close(), and the database with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "store/sqlite_int.h"

static const char *const sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT sp",
    [Q_RELEASE] = "RELEASE sp",
    [Q_ROLLBACK_TO] = "ROLLBACK TO sp",
    [Q_USER_VERSION] = "PRAGMA user_version",
    /* gc: see sq_gc() and store_gc() in store.h. */
    [Q_GC_TOKENS] = "DELETE FROM tokens WHERE id IN "
                    "(SELECT id FROM tokens WHERE expires_at <= ?1 "
                    "LIMIT ?2)",
    [Q_GC_CODES] = "DELETE FROM codes WHERE id IN "
                   "(SELECT id FROM codes WHERE expires_at <= ?1 "
                   "LIMIT ?2)",
    [Q_GC_SESSIONS] = "DELETE FROM sessions WHERE digest IN "
                      "(SELECT digest FROM sessions WHERE expires_at <= ?1 "
                      "LIMIT ?2)",
    [Q_GC_EVENTS] = "DELETE FROM events WHERE id IN "
                    "(SELECT id FROM events WHERE at <= ?1 LIMIT ?2)",
    [Q_GC_FAMILIES] = "DELETE FROM revoked_families WHERE family_id IN "
                      "(SELECT family_id FROM revoked_families "
                      "WHERE keep_until <= ?1 LIMIT ?2)",
    /* A retired signing key past its overlap: its private key goes. */
    [Q_GC_KEYS] = "DELETE FROM signing_keys WHERE rowid IN "
                  "(SELECT rowid FROM signing_keys WHERE retired_at != 0 "
                  "AND keep_until <= ?1 LIMIT ?2)",
};

struct sq_store *
sq(struct store *s)
{
	return (struct sq_store *)(void *)s;
}

/* Connections. */

void
sq_conn_free(struct conn *c)
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

void
sq_conn_thread_exit(void *p)
{
	struct conn *c = p;
	struct sq_store *st = c->st;

	pthread_mutex_lock(&st->lock);
	conn_unlink(st, c);
	pthread_mutex_unlock(&st->lock);
	sq_conn_free(c);
}

/* After a wait for another process's lock timed out, calls meeting the
 * lock within this long fail at once. */
#define BUSY_EPISODE_GAP_MS 2000

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The busy handler of every connection: polls for another process's lock
 * like SQLite's own, for up to SQ_BUSY_TIMEOUT_MS. But this process's
 * writes queue on wlock, and each waiting its own timeout in turn, the
 * last would wait several: so once a wait has timed out, the lock is
 * taken to be held for long, and calls that meet it less than
 * BUSY_EPISODE_GAP_MS after the last one gave up give up at once (each
 * keeping that going). A commit ends it (conn_committed()); a lock met
 * after a quiet gap is waited for again.
 */
static int
conn_busy(void *arg, int count)
{
	static const int delay_ms[] = {1,  2,  5,  10, 15, 20,
	                               25, 25, 25, 50, 50, 100};
	struct conn *c = arg;
	struct sq_store *st = c->st;
	int64_t now = mono_ms(), gave_up, left;
	int d;

	if (count == 0) {
		gave_up = atomic_load(&st->busy_gave_up_ms);
		if (gave_up != 0 && now - gave_up < BUSY_EPISODE_GAP_MS)
			goto give_up;
		c->busy_until_ms = now + SQ_BUSY_TIMEOUT_MS;
	}
	left = c->busy_until_ms - now;
	if (left <= 0)
		goto give_up;
	d = delay_ms[(size_t)count < ARRAY_LEN(delay_ms)
	                 ? (size_t)count
	                 : ARRAY_LEN(delay_ms) - 1];
	sqlite3_sleep(d < left ? d : (int)left);
	return 1;
give_up:
	atomic_store(&st->busy_gave_up_ms, now > 0 ? now : 1);
	return 0;
}

/* The commit hook: whoever commits holds the write lock, so another
 * process's lock is gone. Returns 0: the commit goes on. */
static int
conn_committed(void *arg)
{
	struct sq_store *st = arg;

	atomic_store(&st->busy_gave_up_ms, 0);
	return 0;
}

/* Runs a pragma (no parameters, result rows ignored). */
static int
conn_pragma(sqlite3 *db, const char *pragma)
{
	return sqlite3_exec(db, pragma, NULL, NULL, NULL);
}

enum status
sq_conn_open(struct sq_store *st, struct conn **out, char *err, size_t errlen)
{
	char msg[256];
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
	/* The busy handler: only for other processes, see the top. */
	if ((rc = sqlite3_busy_handler(c->db, conn_busy, c)) != SQLITE_OK ||
	    (rc = conn_pragma(c->db, "PRAGMA foreign_keys = ON")) !=
	        SQLITE_OK ||
	    (rc = conn_pragma(c->db, "PRAGMA synchronous = NORMAL")) !=
	        SQLITE_OK)
		goto fail;
	sqlite3_commit_hook(c->db, conn_committed, st);
	*out = c;
	c = NULL;
	ret = ST_OK;
	goto out;
fail:
	if (err != NULL)
		snprintf(err, errlen, "cannot open database %s: %s",
		         st->display, sq_errmsg(c->db, rc, msg, sizeof(msg)));
out:
	if (c != NULL) {
		sqlite3_close(c->db); /* NULL-safe */
		free(c);
	}
	return ret;
}

enum status
sq_conn_get(struct sq_store *st, struct conn **out)
{
	struct conn *c;
	char err[512];
	enum status rc;

	c = pthread_getspecific(st->key);
	if (c != NULL) {
		*out = c;
		return ST_OK;
	}
	rc = sq_conn_open(st, &c, err, sizeof(err));
	if (rc != ST_OK) {
		log_err(
		    "event=store_error backend=sqlite op=connect error=\"%s\"",
		    err);
		return rc;
	}
	if (pthread_setspecific(st->key, c) != 0) {
		sq_conn_free(c);
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

enum status
sq_stmt_get(struct conn *c, const char *const *tab, enum stmt q,
            sqlite3_stmt **out)
{
	int rc;

	if (c->stmt[q] == NULL) {
		if (tab[q] == NULL) {
			log_err("event=store_error backend=sqlite op=prepare "
			        "stmt=%d error=\"no SQL for the statement\"",
			        (int)q);
			return ST_INTERNAL;
		}
		/* Preparing reads the schema: in memory mode, a read. */
		sq_rd_lock(c->st);
		rc = sqlite3_prepare_v3(c->db, tab[q], -1,
		                        SQLITE_PREPARE_PERSISTENT, &c->stmt[q],
		                        NULL);
		sq_rd_unlock(c->st);
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

/* Clearing the bindings also drops the SQLITE_STATIC pointers into the
 * caller's memory. */
void
sq_stmt_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* The kind of fault of a result code, for the log. */
static const char *
fault_name(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return "disk_full";
	case SQLITE_IOERR:
		return "io_error";
	case SQLITE_READONLY:
		return "read_only";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_PROTOCOL:
		return "locked";
	case SQLITE_CANTOPEN:
		return "cannot_open";
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "permission";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "corrupt";
	default:
		return "other";
	}
}

const char *
sq_errmsg(sqlite3 *db, int rc, char *buf, size_t len)
{
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int e = db != NULL ? sqlite3_system_errno(db) : 0;
	int n = -1;

	switch (rc & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		if (e != 0)
			n = snprintf(buf, len, "%s (%s)", msg, strerror(e));
		break;
	default:
		break;
	}
	if (n < 0 || (size_t)n >= len)
		snprintf(buf, len, "%s", msg);
	return buf;
}

/* Logs the operation, the fault and SQLite's message, never a bound
 * value. */
enum status
sq_status(struct conn *c, int rc, const char *op)
{
	char msg[256];

	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return ST_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ST_NOTFOUND; /* the client or user is gone */
	case SQLITE_NOMEM:
		return ST_NOMEM;
	default:
		log_err("event=store_error backend=sqlite op=%s fault=%s "
		        "code=%d error=\"%s\"",
		        op, fault_name(rc), rc,
		        sq_errmsg(c->db, rc, msg, sizeof(msg)));
		return ST_STORE;
	}
}

struct conn *
sq_wr_begin(struct sq_store *st)
{
	pthread_mutex_lock(&st->wlock);
	return st->writer;
}

/* Every write section ends out of any transaction: one left open (a
 * failed COMMIT whose ROLLBACK failed too) would fail every later BEGIN
 * and hold SQLite's write lock, so it is rolled back here. */
void
sq_wr_end(struct sq_store *st)
{
	sqlite3 *db = st->writer->db;
	char msg[256];
	int rc;

	if (!sqlite3_get_autocommit(db)) {
		rc = sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		log_err("event=store_error backend=sqlite op=write_end "
		        "fault=%s code=%d error=\"a transaction was left "
		        "open: %s\"",
		        rc == SQLITE_OK ? "other" : fault_name(rc), rc,
		        rc == SQLITE_OK ? "rolled back"
		                        : sq_errmsg(db, rc, msg, sizeof(msg)));
	}
	pthread_mutex_unlock(&st->wlock);
}

/* Reads need the lock only in memory mode (no WAL there), where wlock
 * is recursive: sq_stmt_get() may prepare while a write holds it. */
void
sq_rd_lock(struct sq_store *st)
{
	if (st->memory)
		pthread_mutex_lock(&st->wlock);
}

void
sq_rd_unlock(struct sq_store *st)
{
	if (st->memory)
		pthread_mutex_unlock(&st->wlock);
}

enum status
sq_exec(struct conn *c, enum stmt q, const char *op)
{
	sqlite3_stmt *s;
	enum status rc;
	int sr;

	if ((rc = sq_stmt_get(c, sql, q, &s)) != ST_OK)
		return rc;
	sr = sqlite3_step(s);
	rc = sr == SQLITE_DONE ? ST_OK : sq_status(c, sr, op);
	sq_stmt_done(s);
	return rc;
}

enum status
sq_exec_write(struct conn *c, sqlite3_stmt *s, const char *op,
              unsigned *changes)
{
	enum status rc;
	int sr;

	sr = sqlite3_step(s);
	if (sr == SQLITE_DONE) {
		rc = ST_OK;
		if (changes != NULL)
			*changes = (unsigned)sqlite3_changes(c->db);
	} else {
		rc = sq_status(c, sr, op);
	}
	sq_stmt_done(s);
	return rc;
}

void
sq_txn_rollback(struct conn *c, const char *op)
{
	if (!sqlite3_get_autocommit(c->db))
		(void)sq_exec(c, Q_ROLLBACK, op);
}

enum status
sq_user_version(struct conn *c, unsigned *out)
{
	sqlite3_stmt *s;
	enum status rc;
	int sr;
	sqlite3_int64 v;

	if ((rc = sq_stmt_get(c, sql, Q_USER_VERSION, &s)) != ST_OK)
		return rc;
	sr = sqlite3_step(s);
	if (sr != SQLITE_ROW) {
		rc = sq_status(c, sr, "user_version");
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
	sq_stmt_done(s);
	return rc;
}

/* Rows. */

enum status
sq_col_text(sqlite3_stmt *s, int i, bool nullable, char **out)
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

enum status
sq_col_digest(sqlite3_stmt *s, int i, uint8_t out[SEC_DIGEST_BYTES])
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

enum status
sq_list_rows(struct conn *c, sqlite3_stmt *q, const char *op,
             enum status (*row)(sqlite3_stmt *, void **),
             void (*row_free)(void *), void ***out, size_t *nout)
{
	void **v = NULL, **nv;
	size_t n = 0, cap = 0;
	enum status rc;
	int sr;

	sq_rd_lock(c->st);
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
		rc = sq_status(c, sr, op);
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
	sq_stmt_done(q);
	sq_rd_unlock(c->st);
	for (size_t i = 0; i < n; i++)
		row_free(v[i]);
	free(v);
	return rc;
}

/* Garbage collection: one transaction, one bounded DELETE per table. */
static enum status
sq_gc(struct store *s, int64_t now, unsigned batch, unsigned *deleted)
{
	static const struct {
		enum stmt q;
		int64_t keep_s; /* kept this long after the time column */
	} tables[] = {
	    {Q_GC_TOKENS, 0},
	    {Q_GC_CODES, STORE_CODE_KEEP_S},
	    {Q_GC_SESSIONS, 0},
	    {Q_GC_EVENTS, STORE_EVENT_KEEP_S},
	    {Q_GC_FAMILIES, STORE_FAMILY_KEEP_S},
	    {Q_GC_KEYS, 0},
	};
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned total = 0;
	enum status rc;
	bool txn = false;
	int sr;

	c = sq_wr_begin(st);
	/* Prepare first, so that nothing fails half way for that. */
	for (size_t i = 0; i < ARRAY_LEN(tables); i++)
		if ((rc = sq_stmt_get(c, sql, tables[i].q, &q)) != ST_OK)
			goto out;
	if ((rc = sq_exec(c, Q_BEGIN, "gc")) != ST_OK)
		goto out;
	txn = true;
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		q = c->stmt[tables[i].q];
		sqlite3_bind_int64(q, 1, now - tables[i].keep_s);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)batch);
		sr = sqlite3_step(q);
		if (sr == SQLITE_DONE)
			total += (unsigned)sqlite3_changes(c->db);
		else
			rc = sq_status(c, sr, "gc");
		sq_stmt_done(q);
		if (rc != ST_OK)
			goto out;
	}
	if ((rc = sq_exec(c, Q_COMMIT, "gc")) != ST_OK)
		goto out;
	txn = false;
	*deleted = total;
out:
	if (txn)
		sq_txn_rollback(c, "gc");
	sq_wr_end(st);
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
    .client_update = sq_client_update,
    .client_register = sq_client_register,
    .client_reregister = sq_client_reregister,
    .client_put_document = sq_client_put_document,
    .client_mark_used = sq_client_mark_used,
    .client_sweep_unused = sq_client_sweep_unused,
    .reg_token_add = sq_reg_token_add,
    .reg_token_live = sq_reg_token_live,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_get_by_id = sq_user_get_by_id,
    .user_list = sq_user_list,
    .user_remove = sq_user_remove,
    .user_set_password = sq_user_set_password,
    .tokens_issue = sq_tokens_issue,
    .token_get = sq_token_get,
    .token_revoke_user = sq_token_revoke_user,
    .token_revoke_client = sq_token_revoke_client,
    .token_count_live = sq_token_count_live,
    .token_revoke_family = sq_token_revoke_family,
    .token_revoke = sq_token_revoke,
    .revocation_epoch = sq_revocation_epoch,
    .key_rotate = sq_key_rotate,
    .key_list = sq_key_list,
    .code_add = sq_code_add,
    .code_get = sq_code_get,
    .code_take = sq_code_take,
    .consent_get = sq_consent_get,
    .consent_set = sq_consent_set,
    .consent_revoke = sq_consent_revoke,
    .session_add = sq_session_add,
    .session_get = sq_session_get,
    .session_delete = sq_session_delete,
    .session_delete_user = sq_session_delete_user,
    .events_add = sq_events_add,
    .events_list = sq_events_list,
    .events_trim = sq_events_trim,
    .gc = sq_gc,
};
