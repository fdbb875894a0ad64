/*
 * The SQLite backend: consents, sign-in sessions and the event log. See
 * sqlite.c for how the backend works.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite_int.h"

/* Filters of store_events_list(): Q_EVENT_LIST + a mask of them. */
#define EV_BY_CLIENT 1
#define EV_BY_USER 2
#define EV_BY_STATE 4

#define EVENT_COLS                                                             \
	"id, at, kind, outcome, reason, client_id, user, state, peer, "        \
	"detail, method, description"
/* Newest first, so that LIMIT keeps the newest; each filter column has an
 * index that ends in the id, so each variant is one index range. */
#define EVENT_LIST(where)                                                      \
	"SELECT " EVENT_COLS " FROM events WHERE id > ?4" where                \
	" ORDER BY id DESC LIMIT ?5"
#define EV_CLIENT " AND client_id = ?1"
#define EV_USER " AND user = ?2"
#define EV_STATE " AND state = ?3"

static const char *const sql[Q__COUNT] = {
    [Q_CONSENT_GET] = "SELECT scope FROM consents "
                      "WHERE user_id = ?1 AND client_id = ?2",
    [Q_CONSENT_SET] = "INSERT INTO consents (user_id, client_id, scope, "
                      "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
                      "ON CONFLICT (user_id, client_id) DO UPDATE SET "
                      "scope = excluded.scope, "
                      "updated_at = excluded.updated_at",
    [Q_CONSENT_REVOKE] = "DELETE FROM consents "
                         "WHERE user_id = ?1 AND client_id = ?2",
    [Q_CONSENT_REVOKE_ALL] = "DELETE FROM consents WHERE user_id = ?1",
    [Q_SESSION_ADD] = "INSERT INTO sessions (digest, user_id, expires_at, "
                      "created_at) VALUES (?1, ?2, ?3, ?4)",
    [Q_SESSION_GET] = "SELECT user_id, expires_at, created_at "
                      "FROM sessions WHERE digest = ?1 AND expires_at > ?2",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE digest = ?1",
    /* sessions_user_id (partial: user_id IS NOT NULL) serves this. */
    [Q_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [Q_EVENT_ADD] = "INSERT INTO events (at, kind, outcome, reason, "
                    "client_id, user, state, peer, detail, method, "
                    "description) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* The id of the newest max_rows + 1st event, then the oldest batch up
     * to it: two walks of the rowid, no table scan. */
    [Q_EVENT_TRIM] = "DELETE FROM events WHERE id IN (SELECT id FROM events "
                     "WHERE id <= (SELECT id FROM events ORDER BY id DESC "
                     "LIMIT 1 OFFSET ?1) ORDER BY id LIMIT ?2)",
    [Q_EVENT_LIST + 0] = EVENT_LIST(""),
    [Q_EVENT_LIST + EV_BY_CLIENT] = EVENT_LIST(EV_CLIENT),
    [Q_EVENT_LIST + EV_BY_USER] = EVENT_LIST(EV_USER),
    [Q_EVENT_LIST + EV_BY_CLIENT + EV_BY_USER] = EVENT_LIST(EV_CLIENT EV_USER),
    [Q_EVENT_LIST + EV_BY_STATE] = EVENT_LIST(EV_STATE),
    [Q_EVENT_LIST + EV_BY_CLIENT + EV_BY_STATE] =
        EVENT_LIST(EV_CLIENT EV_STATE),
    [Q_EVENT_LIST + EV_BY_USER + EV_BY_STATE] = EVENT_LIST(EV_USER EV_STATE),
    [Q_EVENT_LIST + EV_BY_CLIENT + EV_BY_USER + EV_BY_STATE] =
        EVENT_LIST(EV_CLIENT EV_USER EV_STATE),
};

/* Binds text, or NULL for a NULL pointer. */
static void
bind_text_or_null(sqlite3_stmt *q, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

/* Consents. */

enum status
sq_consent_get(struct store *s, int64_t user_id, const char *client_id,
               char **scope)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_CONSENT_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_text(q, 2, client_id, -1, SQLITE_STATIC);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = sq_col_text(q, 0, false, scope);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "consent_get");
	sq_stmt_done(q);
	sq_rd_unlock(st);
	return rc;
}

enum status
sq_consent_set(struct store *s, int64_t user_id, const char *client_id,
               const char *scope, int64_t now)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CONSENT_SET, &q)) != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_text(q, 2, client_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now != 0 ? now : clk_now_s());
	rc = sq_exec_write(c, q, "consent_set", NULL);
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_consent_revoke(struct store *s, int64_t user_id, const char *client_id,
                  unsigned *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	rc = sq_stmt_get(
	    c, sql, client_id != NULL ? Q_CONSENT_REVOKE : Q_CONSENT_REVOKE_ALL,
	    &q);
	if (rc != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, user_id);
	if (client_id != NULL)
		sqlite3_bind_text(q, 2, client_id, -1, SQLITE_STATIC);
	rc = sq_exec_write(c, q, "consent_revoke", n);
out:
	sq_wr_end(st);
	return rc;
}

/* Sessions. */

enum status
sq_session_add(struct store *s, const struct store_session *se)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_SESSION_ADD, &q)) != ST_OK)
		goto out;
	sqlite3_bind_blob(q, 1, se->digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	if (se->user_id != 0)
		sqlite3_bind_int64(q, 2, se->user_id);
	else
		sqlite3_bind_null(q, 2);
	sqlite3_bind_int64(q, 3, se->expires_at);
	sqlite3_bind_int64(q, 4,
	                   se->created_at != 0 ? se->created_at : clk_now_s());
	rc = sq_exec_write(c, q, "session_add", NULL);
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_session_get(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
               int64_t now, struct store_session **out)
{
	struct sq_store *st = sq(s);
	struct store_session *se;
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_SESSION_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW) {
		se = calloc(1, sizeof(*se));
		if (se != NULL) {
			memcpy(se->digest, digest, SEC_DIGEST_BYTES);
			se->user_id = sqlite3_column_int64(q, 0); /* NULL: 0 */
			se->expires_at = sqlite3_column_int64(q, 1);
			se->created_at = sqlite3_column_int64(q, 2);
			*out = se;
		}
		rc = se != NULL ? ST_OK : ST_NOMEM;
	} else if (sr == SQLITE_DONE) {
		rc = ST_NOTFOUND;
	} else {
		rc = sq_status(c, sr, "session_get");
	}
	sq_stmt_done(q);
	sq_rd_unlock(st);
	return rc;
}

enum status
sq_session_delete(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES])
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_SESSION_DELETE, &q)) != ST_OK)
		goto out;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	rc = sq_exec_write(c, q, "session_delete", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_session_delete_user(struct store *s, int64_t user_id, unsigned *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_SESSION_DELETE_USER, &q)) != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, user_id);
	rc = sq_exec_write(c, q, "session_delete_user", n);
out:
	sq_wr_end(st);
	return rc;
}

/* Events. */

enum status
sq_events_add(struct store *s, const struct store_event *v, size_t n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	bool txn = false;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_EVENT_ADD, &q)) != ST_OK ||
	    (rc = sq_exec(c, Q_BEGIN, "events_add")) != ST_OK)
		goto out;
	txn = true;
	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = &v[i];

		sqlite3_bind_int64(q, 1, e->at != 0 ? e->at : clk_now_s());
		sqlite3_bind_text(q, 2, e->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, e->outcome, -1, SQLITE_STATIC);
		bind_text_or_null(q, 4, e->reason);
		bind_text_or_null(q, 5, e->client_id);
		bind_text_or_null(q, 6, e->user);
		bind_text_or_null(q, 7, e->state);
		bind_text_or_null(q, 8, e->peer);
		bind_text_or_null(q, 9, e->detail);
		bind_text_or_null(q, 10, e->method);
		bind_text_or_null(q, 11, e->description);
		if ((rc = sq_exec_write(c, q, "events_add", NULL)) != ST_OK)
			goto out;
	}
	if ((rc = sq_exec(c, Q_COMMIT, "events_add")) != ST_OK)
		goto out;
	txn = false;
out:
	if (txn)
		sq_txn_rollback(c, "events_add");
	sq_wr_end(st);
	return rc;
}

static void
event_free_v(void *p)
{
	store_event_free(p);
}

static enum status
event_row(sqlite3_stmt *s, void **out)
{
	struct store_event *e;
	enum status rc;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return ST_NOMEM;
	e->id = sqlite3_column_int64(s, 0);
	e->at = sqlite3_column_int64(s, 1);
	if ((rc = sq_col_text(s, 2, false, &e->kind)) != ST_OK ||
	    (rc = sq_col_text(s, 3, false, &e->outcome)) != ST_OK ||
	    (rc = sq_col_text(s, 4, true, &e->reason)) != ST_OK ||
	    (rc = sq_col_text(s, 5, true, &e->client_id)) != ST_OK ||
	    (rc = sq_col_text(s, 6, true, &e->user)) != ST_OK ||
	    (rc = sq_col_text(s, 7, true, &e->state)) != ST_OK ||
	    (rc = sq_col_text(s, 8, true, &e->peer)) != ST_OK ||
	    (rc = sq_col_text(s, 9, true, &e->detail)) != ST_OK ||
	    (rc = sq_col_text(s, 10, true, &e->method)) != ST_OK ||
	    (rc = sq_col_text(s, 11, true, &e->description)) != ST_OK) {
		event_free_v(e);
		return rc;
	}
	*out = e;
	return ST_OK;
}

enum status
sq_events_list(struct store *s, const struct store_event_filter *f,
               struct store_event ***out, size_t *n)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	void **v, *tmp;
	size_t k;
	unsigned mask = 0;
	enum status rc;

	if (f->client_id != NULL)
		mask |= EV_BY_CLIENT;
	if (f->user != NULL)
		mask |= EV_BY_USER;
	if (f->state != NULL)
		mask |= EV_BY_STATE;
	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_EVENT_LIST + mask, &q)) != ST_OK)
		return rc;
	if (f->client_id != NULL)
		sqlite3_bind_text(q, 1, f->client_id, -1, SQLITE_STATIC);
	if (f->user != NULL)
		sqlite3_bind_text(q, 2, f->user, -1, SQLITE_STATIC);
	if (f->state != NULL)
		sqlite3_bind_text(q, 3, f->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, f->after_id);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)f->limit);
	rc = sq_list_rows(c, q, "events_list", event_row, event_free_v, &v, &k);
	if (rc != ST_OK)
		return rc;
	/* Newest first from the query; oldest first for the caller. */
	for (size_t i = 0; i < k / 2; i++) {
		tmp = v[i];
		v[i] = v[k - 1 - i];
		v[k - 1 - i] = tmp;
	}
	*out = (struct store_event **)v;
	*n = k;
	return ST_OK;
}

enum status
sq_events_trim(struct store *s, unsigned max_rows, unsigned batch,
               unsigned *deleted)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_EVENT_TRIM, &q)) != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)max_rows);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)batch);
	rc = sq_exec_write(c, q, "events_trim", deleted);
out:
	sq_wr_end(st);
	return rc;
}
