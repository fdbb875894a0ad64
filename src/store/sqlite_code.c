/*
 * The SQLite backend: authorization codes. See sqlite.c for how the
 * backend works. A code is spent by the token issue that redeems it, in
 * the same transaction (sq_code_spend(), called from sqlite_token.c).
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite_int.h"

#define CODE_COLS                                                              \
	"client_id, user_id, redirect_uri, scope, code_challenge, resource, "  \
	"family_id, expires_at, used_at, created_at, state"

static const char *const sql[Q__COUNT] = {
    [Q_CODE_ADD] = "INSERT INTO codes (digest, " CODE_COLS ") "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    /* Of concurrent takes only one matches used_at = 0. */
    [Q_CODE_TAKE] = "UPDATE codes SET used_at = ?2 "
                    "WHERE digest = ?1 AND used_at = 0 "
                    "RETURNING " CODE_COLS,
    [Q_CODE_GET] = "SELECT " CODE_COLS " FROM codes WHERE digest = ?1",
    /* Of concurrent redemptions only one matches used_at = 0. */
    [Q_CODE_SPEND] = "UPDATE codes SET used_at = ?2 "
                     "WHERE digest = ?1 AND used_at = 0",
};

enum status
sq_code_add(struct store *s, const struct store_code *cd)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CODE_ADD, &q)) != ST_OK)
		goto out;
	sqlite3_bind_blob(q, 1, cd->digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, cd->client_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, cd->user_id);
	sqlite3_bind_text(q, 4, cd->redirect_uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, cd->scope, -1, SQLITE_STATIC);
	if (cd->code_challenge != NULL)
		sqlite3_bind_text(q, 6, cd->code_challenge, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	if (cd->resource != NULL)
		sqlite3_bind_text(q, 7, cd->resource, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_int64(q, 8, cd->family_id);
	sqlite3_bind_int64(q, 9, cd->expires_at);
	sqlite3_bind_int64(q, 10, cd->used_at);
	sqlite3_bind_int64(q, 11,
	                   cd->created_at != 0 ? cd->created_at : clk_now_s());
	if (cd->state != NULL)
		sqlite3_bind_text(q, 12, cd->state, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 12);
	rc = sq_exec_write(c, q, "code_add", NULL);
out:
	sq_wr_end(st);
	return rc;
}

static enum status
code_row(sqlite3_stmt *s, const uint8_t digest[SEC_DIGEST_BYTES],
         struct store_code **out)
{
	struct store_code *cd;
	enum status rc;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return ST_NOMEM;
	memcpy(cd->digest, digest, SEC_DIGEST_BYTES);
	if ((rc = sq_col_text(s, 0, false, &cd->client_id)) != ST_OK)
		goto out;
	cd->user_id = sqlite3_column_int64(s, 1);
	if ((rc = sq_col_text(s, 2, false, &cd->redirect_uri)) != ST_OK ||
	    (rc = sq_col_text(s, 3, false, &cd->scope)) != ST_OK ||
	    (rc = sq_col_text(s, 4, true, &cd->code_challenge)) != ST_OK ||
	    (rc = sq_col_text(s, 5, true, &cd->resource)) != ST_OK)
		goto out;
	cd->family_id = sqlite3_column_int64(s, 6);
	cd->expires_at = sqlite3_column_int64(s, 7);
	cd->used_at = sqlite3_column_int64(s, 8);
	cd->created_at = sqlite3_column_int64(s, 9);
	if ((rc = sq_col_text(s, 10, true, &cd->state)) != ST_OK)
		goto out;
	*out = cd;
	cd = NULL;
out:
	store_code_free(cd);
	return rc;
}

/* Steps q (bound, on c) for at most one row: *out is new, or ST_NOTFOUND.
 * Runs q to its end, so that an UPDATE ... RETURNING is complete. */
static enum status
code_step(struct conn *c, sqlite3_stmt *q,
          const uint8_t digest[SEC_DIGEST_BYTES], struct store_code **out)
{
	struct store_code *cd = NULL;
	enum status rc;
	int sr;

	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW) {
		if ((rc = code_row(q, digest, &cd)) != ST_OK)
			goto out;
		sr = sqlite3_step(q);
	}
	if (sr != SQLITE_DONE) {
		rc = sq_status(c, sr, "code_take");
		goto out;
	}
	if (cd == NULL) {
		rc = ST_NOTFOUND;
		goto out;
	}
	*out = cd;
	cd = NULL;
	rc = ST_OK;
out:
	sq_stmt_done(q);
	store_code_free(cd);
	return rc;
}

enum status
sq_code_get(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
            struct store_code **out)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_CODE_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sq_rd_lock(st);
	rc = code_step(c, q, digest, out);
	sq_rd_unlock(st);
	return rc;
}

/*
 * One UPDATE ... WHERE used_at = 0 RETURNING marks the code used and
 * tells whether this call did: only one of concurrent takes can. If it
 * matched nothing, the code is either unknown or used already, which the
 * SELECT that follows (under the same wlock) tells apart.
 */
enum status
sq_code_take(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
             int64_t now, struct store_code **out)
{
	struct sq_store *st = sq(s);
	struct store_code *cd = NULL;
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CODE_TAKE, &q)) != ST_OK)
		goto out;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	rc = code_step(c, q, digest, &cd);
	if (rc == ST_OK) {
		cd->used_at = 0; /* as it was before this take */
		goto out;
	}
	if (rc != ST_NOTFOUND ||
	    (rc = sq_stmt_get(c, sql, Q_CODE_GET, &q)) != ST_OK)
		goto out;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	rc = code_step(c, q, digest, &cd);
out:
	sq_wr_end(st);
	if (rc == ST_OK)
		*out = cd;
	else
		store_code_free(cd);
	return rc;
}

enum status
sq_code_spend(struct conn *c, const uint8_t digest[SEC_DIGEST_BYTES],
              int64_t now)
{
	sqlite3_stmt *q;
	unsigned changes = 0;
	enum status rc;
	int sr;

	if ((rc = sq_stmt_get(c, sql, Q_CODE_SPEND, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	if ((rc = sq_exec_write(c, q, "code_spend", &changes)) != ST_OK ||
	    changes == 1)
		return rc;
	/* Used already, or gone? */
	if ((rc = sq_stmt_get(c, sql, Q_CODE_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = ST_DENIED;
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "code_spend");
	sq_stmt_done(q);
	return rc;
}
