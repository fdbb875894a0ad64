/*
 * Shared by the SQLite backend's own files only:
 *
 *   sqlite.c          how it works (read its top comment first), the
 *                     connections, statement cache, locks, transactions,
 *                     errors, row helpers, gc and the ops table
 *   sqlite_open.c     open, close, file and memory databases, migrations
 *   sqlite_ckpt.c     the background checkpointer of file databases
 *   sqlite_client.c   clients and users
 *   sqlite_reg.c      registered clients, initial access tokens
 *   sqlite_token.c    tokens (group commit) and revoked families
 *   sqlite_code.c     authorization codes
 *   sqlite_key.c      JWT signing keys
 *   sqlite_session.c  consents, sessions and events
 *
 * Each file keeps the SQL of its own statements next to the code that
 * binds them, in a table indexed by enum stmt (see sq_stmt_get()).
 */
#ifndef PLUGAUTH_SQLITE_INT_H
#define PLUGAUTH_SQLITE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "store/store_int.h"

#define SQ_BUSY_TIMEOUT_MS 5000 /* waiting for another process's lock */

/* Every cached statement, grouped by the file that holds its SQL. */
enum stmt {
	/* sqlite.c */
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_USER_VERSION,
	Q_GC_TOKENS,
	Q_GC_CODES,
	Q_GC_SESSIONS,
	Q_GC_EVENTS,
	Q_GC_FAMILIES,
	Q_GC_KEYS,
	/* sqlite_client.c */
	Q_CLIENT_ADD,
	Q_CLIENT_GET,
	Q_CLIENT_LIST,
	Q_CLIENT_REMOVE,
	Q_CLIENT_SET_SECRET,
	Q_CLIENT_UPDATE,
	Q_USER_ADD,
	Q_USER_GET,
	Q_USER_GET_BY_ID,
	Q_USER_LIST,
	Q_USER_REMOVE,
	Q_USER_SET_PASSWORD,
	/* sqlite_reg.c */
	Q_REG_SPEND,
	Q_REG_COUNT,
	Q_REG_MARK_USED,
	Q_REG_UPDATE,
	Q_REG_SWEEP_CLIENTS,
	Q_DOC_SWEEP_CLIENTS,
	Q_REG_SWEEP_TOKENS,
	Q_REG_TOKEN_ADD,
	Q_REG_TOKEN_LIVE,
	/* sqlite_token.c */
	Q_TOKEN_ADD,
	Q_TOKEN_ROTATE,
	Q_TOKEN_GET,
	Q_TOKEN_REVOKE_USER,
	Q_TOKEN_REVOKE_CLIENT,
	Q_TOKEN_REVOKE_FAMILY,
	Q_TOKEN_REVOKE_ONE,
	Q_TOKEN_COUNT_LIVE,
	Q_FAMILY_REVOKED,
	Q_FAMILY_REVOKE,
	Q_FAMILY_REVOKE_USER,
	Q_FAMILY_REVOKE_CLIENT,
	Q_REVOCATION_EPOCH,
	Q_CLIENT_TOKENS_REVOKED,
	/* sqlite_key.c */
	Q_KEY_ADD,
	Q_KEY_RETIRE,
	Q_KEY_LIST,
	/* sqlite_code.c */
	Q_CODE_ADD,
	Q_CODE_TAKE,
	Q_CODE_GET,
	Q_CODE_SPEND,
	/* sqlite_session.c */
	Q_CONSENT_GET,
	Q_CONSENT_SET,
	Q_CONSENT_REVOKE,
	Q_CONSENT_REVOKE_ALL,
	Q_SESSION_ADD,
	Q_SESSION_GET,
	Q_SESSION_DELETE,
	Q_SESSION_DELETE_USER,
	Q_EVENT_ADD,
	Q_EVENT_TRIM,
	Q_EVENT_LIST, /* + a mask of EV_BY_* filters: 8 statements */
	Q__COUNT = Q_EVENT_LIST + 8
};

struct sq_store;
struct tok_req; /* sqlite_token.c */

/* A database connection and its prepared statements. */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q__COUNT];
	struct sq_store *st;
	int64_t busy_until_ms;    /* the busy handler's current wait ends */
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
	/* When a wait for another process's lock last timed out (monotonic
	 * ms), 0 once a commit got through: see conn_busy() in sqlite.c. */
	atomic_llong busy_gave_up_ms;

	/* The checkpointer thread (file databases): see sqlite_ckpt.c. */
	struct conn *ckpt; /* its own connection */
	pthread_t ckpt_thread;
	pthread_mutex_t ckpt_lock; /* protects the fields below */
	pthread_cond_t ckpt_cond;  /* wakes the checkpointer */
	pthread_cond_t ckpt_done;  /* a pass is done */
	bool ckpt_wanted, ckpt_stop, ckpt_busy;
	bool ckpt_hold;            /* the writer's hook checkpoints: wait */
	int ckpt_copied;           /* WAL pages copied by the last pass */
	unsigned long ckpt_passes; /* passes done */
	bool ckpt_started;         /* the thread runs */
};

/* sqlite.c: handle, connections, statements, transactions. */

struct sq_store *sq(struct store *);
/* Opens a connection with the per-connection settings; on error writes
 * one line to err (if not NULL). *out is new (sq_conn_free()). */
enum status sq_conn_open(struct sq_store *, struct conn **out, char *err,
                         size_t errlen);
/* NULL-safe. */
void sq_conn_free(struct conn *);
/* The pthread key destructor: the thread's reader is closed. */
void sq_conn_thread_exit(void *);
/* This thread's reading connection, opened on first use. Borrowed: the
 * thread's until it exits or the store closes. */
enum status sq_conn_get(struct sq_store *, struct conn **out);
/* The cached statement q of c, prepared on first use from sql[q], where
 * sql is the Q__COUNT-long table of the file that owns q. Borrowed: valid
 * until c is freed; sq_stmt_done() after each use. */
enum status sq_stmt_get(struct conn *c, const char *const *sql, enum stmt q,
                        sqlite3_stmt **out);
/* Resets s and clears its bindings. NULL-safe. */
void sq_stmt_done(sqlite3_stmt *s);
/* SQLite's message for the last error of db (result code rc), followed by
 * the OS error behind it, if any: "disk I/O error (No space left on
 * device)". Returns buf. */
const char *sq_errmsg(sqlite3 *db, int rc, char *buf, size_t len);
/* Status for a failed step's result code; logs the unexpected ones. */
enum status sq_status(struct conn *c, int rc, const char *op);
/* Takes wlock and returns the writer, to be used until sq_wr_end(). */
struct conn *sq_wr_begin(struct sq_store *);
void sq_wr_end(struct sq_store *);
/* Around reads: a no-op for files, wlock for memory databases. */
void sq_rd_lock(struct sq_store *);
void sq_rd_unlock(struct sq_store *);
/* Runs a statement of sqlite.c without parameters nor rows (BEGIN,
 * COMMIT, SAVEPOINT, ...). */
enum status sq_exec(struct conn *c, enum stmt q, const char *op);
/* Steps a bound write statement to its end and resets it; *changes (may
 * be NULL) gets the rows changed. */
enum status sq_exec_write(struct conn *c, sqlite3_stmt *s, const char *op,
                          unsigned *changes);
/* Rolls back the transaction c is in, if any. */
void sq_txn_rollback(struct conn *c, const char *op);
/* Reads PRAGMA user_version (the caller holds the lock it needs). */
enum status sq_user_version(struct conn *c, unsigned *out);

/* *out is a new copy of text column i; NULL stays NULL if nullable, else
 * reads as "". */
enum status sq_col_text(sqlite3_stmt *s, int i, bool nullable, char **out);
/* Copies a digest column; NULL gives zeros, any other size is corrupt. */
enum status sq_col_digest(sqlite3_stmt *s, int i,
                          uint8_t out[SEC_DIGEST_BYTES]);
/* Steps the bound read statement q (of the caller's reader c) and
 * collects its rows with row() into a new array of *nout; resets q. */
enum status sq_list_rows(struct conn *c, sqlite3_stmt *q, const char *op,
                         enum status (*row)(sqlite3_stmt *, void **),
                         void (*row_free)(void *), void ***out, size_t *nout);

/* sqlite_key.c */
enum status sq_key_rotate(struct store *, const struct store_key *, int64_t now,
                          int64_t keep_until);
enum status sq_key_list(struct store *, struct store_key ***out, size_t *n);

/* sqlite_open.c */
enum status sq_open(const char *target, bool create, struct store **out,
                    char *err, size_t errlen);
void sq_close(struct store *);
enum status sq_migrate(struct store *, unsigned *applied, char *err,
                       size_t errlen);
enum status sq_schema_version(struct store *, unsigned *have, unsigned *want);

/* sqlite_ckpt.c: starts the checkpointer of a file database (writer set
 * up); sq_ckpt_stop() is NULL-safe and a no-op if it never started. */
enum status sq_ckpt_start(struct sq_store *, char *err, size_t errlen);
void sq_ckpt_stop(struct sq_store *);

/* sqlite_client.c */
enum status sq_client_add(struct store *, const struct store_client *);
enum status sq_client_get(struct store *, const char *id,
                          struct store_client **out);
enum status sq_client_list(struct store *, struct store_client ***out,
                           size_t *n);
enum status sq_client_remove(struct store *, const char *id);
enum status sq_client_set_secret(struct store *, const char *id,
                                 const uint8_t digest[SEC_DIGEST_BYTES],
                                 int64_t old_until);
enum status sq_client_update(struct store *, const struct store_client *);
/* Inserts cl on the writer c (the caller holds it, in its transaction or
 * not). */
enum status sq_client_insert(struct conn *c, const struct store_client *cl);
enum status sq_user_add(struct store *, const char *name,
                        const char *password_hash, int64_t *id);
enum status sq_user_get(struct store *, const char *name,
                        struct store_user **out);
enum status sq_user_get_by_id(struct store *, int64_t id,
                              struct store_user **out);
enum status sq_user_list(struct store *, struct store_user ***out, size_t *n);
enum status sq_user_remove(struct store *, const char *name);
enum status sq_user_set_password(struct store *, const char *name,
                                 const char *password_hash);

/* sqlite_reg.c */
enum status sq_client_register(struct store *, const struct store_client *,
                               const uint8_t *iat, unsigned max, int64_t now);
enum status sq_client_reregister(struct store *, const struct store_client *);
enum status sq_client_put_document(struct store *, const struct store_client *);
enum status sq_client_mark_used(struct store *, const char *id, int64_t now);
enum status sq_client_sweep_unused(struct store *, int64_t before, int64_t now,
                                   unsigned batch, unsigned *deleted);
enum status sq_reg_token_add(struct store *,
                             const uint8_t digest[SEC_DIGEST_BYTES],
                             unsigned uses, int64_t expires_at, int64_t now);
enum status sq_reg_token_live(struct store *,
                              const uint8_t digest[SEC_DIGEST_BYTES],
                              int64_t now);

/* sqlite_token.c */
enum status sq_tokens_issue(struct store *, const uint8_t *rotate,
                            const uint8_t *code, int64_t now,
                            const struct store_token *v, size_t n);
enum status sq_token_get(struct store *, const uint8_t digest[SEC_DIGEST_BYTES],
                         struct store_token **out);
enum status sq_token_revoke_user(struct store *, int64_t user_id, int64_t now,
                                 unsigned *n);
enum status sq_token_revoke_client(struct store *, const char *client_id,
                                   int64_t now, unsigned *n);
enum status sq_token_revoke_family(struct store *, int64_t family_id,
                                   int64_t now, unsigned *n);
enum status sq_token_revoke(struct store *,
                            const uint8_t digest[SEC_DIGEST_BYTES],
                            int64_t now);
enum status sq_token_count_live(struct store *, int64_t now, uint64_t *n);
enum status sq_revocation_epoch(struct store *, uint64_t *out);

/* sqlite_code.c */
enum status sq_code_add(struct store *, const struct store_code *);
enum status sq_code_get(struct store *, const uint8_t digest[SEC_DIGEST_BYTES],
                        struct store_code **out);
enum status sq_code_take(struct store *, const uint8_t digest[SEC_DIGEST_BYTES],
                         int64_t now, struct store_code **out);
/* Spends the code with this digest on the writer c, in the caller's
 * transaction: ST_OK if this call did, ST_DENIED if it was spent already,
 * ST_NOTFOUND if unknown. */
enum status sq_code_spend(struct conn *c,
                          const uint8_t digest[SEC_DIGEST_BYTES], int64_t now);

/* sqlite_session.c */
enum status sq_consent_get(struct store *, int64_t user_id,
                           const char *client_id, char **scope);
enum status sq_consent_set(struct store *, int64_t user_id,
                           const char *client_id, const char *scope,
                           int64_t now);
enum status sq_consent_revoke(struct store *, int64_t user_id,
                              const char *client_id, unsigned *n);
enum status sq_session_add(struct store *, const struct store_session *);
enum status sq_session_get(struct store *,
                           const uint8_t digest[SEC_DIGEST_BYTES], int64_t now,
                           struct store_session **out);
enum status sq_session_delete(struct store *,
                              const uint8_t digest[SEC_DIGEST_BYTES]);
enum status sq_session_delete_user(struct store *, int64_t user_id,
                                   unsigned *n);
enum status sq_events_add(struct store *, const struct store_event *v,
                          size_t n);
enum status sq_events_list(struct store *, const struct store_event_filter *f,
                           struct store_event ***out, size_t *n);
enum status sq_events_trim(struct store *, unsigned max_rows, unsigned batch,
                           unsigned *deleted);

#endif
