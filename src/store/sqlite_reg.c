/*
 * The SQLite backend: registered clients (RFC 7591) and initial access
 * tokens. See sqlite.c for how the backend works.
 */
#include <string.h>

#include "store/sqlite_int.h"

static const char *const sql[Q__COUNT] = {
    [Q_REG_SPEND] = "UPDATE registration_tokens SET uses_left = "
                    "uses_left - 1 WHERE digest = ?1 AND expires_at > ?2 "
                    "AND uses_left > 0",
    /* Kept by the triggers of migration 010. */
    [Q_REG_COUNT] = "SELECT n FROM client_counts "
                    "WHERE origin = 'registered'",
    /* ?7: the origin, registered or metadata_document. */
    [Q_REG_UPDATE] = "UPDATE clients SET name = ?2, scope = ?3, "
                     "redirect_uris = ?4, grants = ?5, metadata = ?6 "
                     "WHERE id = ?1 AND origin = ?7",
    [Q_REG_MARK_USED] = "UPDATE clients SET first_token_at = ?2 "
                        "WHERE id = ?1 AND first_token_at = 0",
    /* The partial index clients_unused finds the candidates; a client
     * holding a token (marked or not) is kept. */
    [Q_REG_SWEEP_CLIENTS] =
        "DELETE FROM clients WHERE id IN (SELECT id FROM clients "
        "WHERE origin = 'registered' AND first_token_at = 0 "
        "AND created_at <= ?1 AND NOT EXISTS (SELECT 1 FROM tokens "
        "WHERE tokens.client_id = clients.id) LIMIT ?2)",
    /* The same for metadata-document clients, by clients_unused_doc. */
    [Q_DOC_SWEEP_CLIENTS] =
        "DELETE FROM clients WHERE id IN (SELECT id FROM clients "
        "WHERE origin = 'metadata_document' AND first_token_at = 0 "
        "AND created_at <= ?1 AND NOT EXISTS (SELECT 1 FROM tokens "
        "WHERE tokens.client_id = clients.id) LIMIT ?2)",
    [Q_REG_SWEEP_TOKENS] = "DELETE FROM registration_tokens "
                           "WHERE expires_at <= ?1 OR uses_left <= 0",
    [Q_REG_TOKEN_ADD] = "INSERT INTO registration_tokens (digest, "
                        "uses_left, expires_at, created_at) "
                        "VALUES (?1, ?2, ?3, ?4)",
    [Q_REG_TOKEN_LIVE] = "SELECT 1 FROM registration_tokens WHERE "
                         "digest = ?1 AND expires_at > ?2 AND uses_left > 0",
};

/* In the writer's transaction: spends one use of the initial access token
 * iat (ST_DENIED if none is left), then checks the cap (ST_TOOBIG). */
static enum status
register_checks(struct conn *c, const uint8_t *iat, unsigned max, int64_t now)
{
	sqlite3_stmt *q;
	unsigned n = 0;
	int64_t count;
	enum status rc;
	int sr;

	if (iat != NULL) {
		if ((rc = sq_stmt_get(c, sql, Q_REG_SPEND, &q)) != ST_OK)
			return rc;
		sqlite3_bind_blob(q, 1, iat, SEC_DIGEST_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, now);
		if ((rc = sq_exec_write(c, q, "reg_spend", &n)) != ST_OK)
			return rc;
		if (n == 0)
			return ST_DENIED;
	}
	if ((rc = sq_stmt_get(c, sql, Q_REG_COUNT, &q)) != ST_OK)
		return rc;
	sr = sqlite3_step(q);
	count = sr == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	rc = sr == SQLITE_ROW ? ST_OK : sq_status(c, sr, "reg_count");
	sq_stmt_done(q);
	if (rc == ST_OK && count >= (int64_t)max)
		rc = ST_TOOBIG;
	return rc;
}

enum status
sq_client_register(struct store *s, const struct store_client *cl,
                   const uint8_t *iat, unsigned max, int64_t now)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_exec(c, Q_BEGIN, "client_register")) != ST_OK)
		goto out;
	if ((rc = register_checks(c, iat, max, now)) == ST_OK &&
	    (rc = sq_client_insert(c, cl)) == ST_OK)
		rc = sq_exec(c, Q_COMMIT, "client_register");
	if (rc != ST_OK)
		sq_txn_rollback(c, "client_register");
out:
	sq_wr_end(st);
	return rc;
}

/* In the writer's connection: replaces the metadata fields of client
 * cl->id if its origin is o; *n counts the rows changed (0 or 1). */
static enum status
meta_update(struct conn *c, const struct store_client *cl,
            enum store_client_origin o, const char *op, unsigned *n)
{
	sqlite3_stmt *q;
	enum status rc;

	if ((rc = sq_stmt_get(c, sql, Q_REG_UPDATE, &q)) != ST_OK)
		return rc;
	sqlite3_bind_text(q, 1, cl->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, cl->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, cl->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, cl->redirect_uris, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, (int)cl->grants);
	sqlite3_bind_text(q, 6, cl->metadata, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, store_client_origin_name(o), -1, SQLITE_STATIC);
	return sq_exec_write(c, q, op, n);
}

enum status
sq_client_reregister(struct store *s, const struct store_client *cl)
{
	struct sq_store *st = sq(s);
	unsigned n = 0;
	enum status rc;

	rc = meta_update(sq_wr_begin(st), cl, STORE_ORIGIN_REGISTERED,
	                 "client_reregister", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
	sq_wr_end(st);
	return rc;
}

/* Updates the metadata-document client, else inserts it (ST_EXISTS if the
 * id is another client's), under the writer lock: no race between both. */
enum status
sq_client_put_document(struct store *s, const struct store_client *cl)
{
	struct sq_store *st = sq(s);
	struct conn *c = sq_wr_begin(st);
	unsigned n = 0;
	enum status rc;

	rc = meta_update(c, cl, STORE_ORIGIN_METADATA_DOC,
	                 "client_put_document", &n);
	if (rc == ST_OK && n == 0)
		rc = sq_client_insert(c, cl);
	sq_wr_end(st);
	return rc;
}

enum status
sq_client_mark_used(struct store *s, const char *id, int64_t now)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_REG_MARK_USED, &q)) == ST_OK) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, now);
		rc = sq_exec_write(c, q, "client_mark_used", NULL);
	}
	sq_wr_end(st);
	return rc;
}

enum status
sq_client_sweep_unused(struct store *s, int64_t before, int64_t now,
                       unsigned batch, unsigned *deleted)
{
	static const enum stmt sweeps[] = {Q_REG_SWEEP_CLIENTS,
	                                   Q_DOC_SWEEP_CLIENTS};
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n, total = 0;
	enum status rc = ST_OK;

	c = sq_wr_begin(st);
	for (size_t i = 0; i < ARRAY_LEN(sweeps) && rc == ST_OK; i++) {
		if ((rc = sq_stmt_get(c, sql, sweeps[i], &q)) != ST_OK)
			goto out;
		sqlite3_bind_int64(q, 1, before);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)batch);
		n = 0;
		rc = sq_exec_write(c, q, "client_sweep", &n);
		total += n;
	}
	if (deleted != NULL)
		*deleted = total;
	if (rc != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_REG_SWEEP_TOKENS, &q)) != ST_OK)
		goto out;
	sqlite3_bind_int64(q, 1, now);
	rc = sq_exec_write(c, q, "reg_token_sweep", NULL);
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_reg_token_add(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
                 unsigned uses, int64_t expires_at, int64_t now)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_REG_TOKEN_ADD, &q)) == ST_OK) {
		sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES,
		                  SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)uses);
		sqlite3_bind_int64(q, 3, expires_at);
		sqlite3_bind_int64(q, 4, now);
		rc = sq_exec_write(c, q, "reg_token_add", NULL);
	}
	sq_wr_end(st);
	return rc;
}

enum status
sq_reg_token_live(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
                  int64_t now)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_REG_TOKEN_LIVE, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = ST_OK;
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "reg_token_live");
	sq_stmt_done(q);
	sq_rd_unlock(st);
	return rc;
}
