/*
 * The SQLite backend: clients and users. See sqlite.c for how the backend
 * works.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite_int.h"

#define CLIENT_COLS                                                            \
	"id, name, is_public, secret_digest, chatgpt, redirect_uris, scope, "  \
	"created_at, grants, old_secret_digest, old_secret_until, origin, "    \
	"registration_digest, first_token_at, metadata, tokens_revoked_at"
#define USER_COLS "id, name, password_hash, created_at"

static const char *const sql[Q__COUNT] = {
    [Q_CLIENT_ADD] = "INSERT INTO clients (" CLIENT_COLS ") "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, 0, "
                     "?10, ?11, 0, ?12, 0)",
    [Q_CLIENT_GET] = "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
    [Q_CLIENT_LIST] = "SELECT " CLIENT_COLS " FROM clients "
                      "ORDER BY created_at, rowid",
    [Q_CLIENT_REMOVE] = "DELETE FROM clients WHERE id = ?1",
    /* The right-hand sides read the row as it was: the secret replaced. */
    [Q_CLIENT_SET_SECRET] = "UPDATE clients SET secret_digest = ?2, "
                            "old_secret_digest = CASE WHEN ?3 > 0 "
                            "THEN secret_digest END, "
                            "old_secret_until = ?3 WHERE id = ?1",
    [Q_CLIENT_UPDATE] = "UPDATE clients SET name = ?2, scope = ?3, "
                        "redirect_uris = ?4 WHERE id = ?1",
    [Q_USER_ADD] = "INSERT INTO users (name, password_hash, created_at) "
                   "VALUES (?1, ?2, ?3)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE name = ?1",
    [Q_USER_GET_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [Q_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY id",
    [Q_USER_REMOVE] = "DELETE FROM users WHERE name = ?1",
    [Q_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2 "
                            "WHERE name = ?1",
};

/* Runs the list query qid of the caller's reader; rows as sq_list_rows(). */
static enum status
list_all(struct sq_store *st, enum stmt qid, const char *op,
         enum status (*row)(sqlite3_stmt *, void **), void (*row_free)(void *),
         void ***out, size_t *nout)
{
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, qid, &q)) != ST_OK)
		return rc;
	return sq_list_rows(c, q, op, row, row_free, out, nout);
}

/* Clients. */

static enum store_client_origin
origin_of(const char *text)
{
	if (text != NULL && strcmp(text, "registered") == 0)
		return STORE_ORIGIN_REGISTERED;
	if (text != NULL && strcmp(text, "metadata_document") == 0)
		return STORE_ORIGIN_METADATA_DOC;
	return STORE_ORIGIN_CLI;
}

static bool
digest_set(const uint8_t d[SEC_DIGEST_BYTES])
{
	uint8_t acc = 0;

	for (size_t i = 0; i < SEC_DIGEST_BYTES; i++)
		acc |= d[i];
	return acc != 0;
}

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
	if ((rc = sq_col_text(s, 1, false, &cl->name)) != ST_OK)
		goto out;
	cl->is_public = sqlite3_column_int(s, 2) != 0;
	if ((rc = sq_col_digest(s, 3, cl->secret_digest)) != ST_OK)
		goto out;
	cl->chatgpt = sqlite3_column_int(s, 4) != 0;
	if ((rc = sq_col_text(s, 5, false, &cl->redirect_uris)) != ST_OK ||
	    (rc = sq_col_text(s, 6, false, &cl->scope)) != ST_OK)
		goto out;
	cl->created_at = sqlite3_column_int64(s, 7);
	cl->grants = (unsigned)sqlite3_column_int(s, 8) & STORE_GRANTS_ALL;
	if ((rc = sq_col_digest(s, 9, cl->old_secret_digest)) != ST_OK)
		goto out;
	cl->old_secret_until = sqlite3_column_int64(s, 10);
	cl->origin = origin_of((const char *)sqlite3_column_text(s, 11));
	if ((rc = sq_col_digest(s, 12, cl->registration_digest)) != ST_OK)
		goto out;
	cl->first_token_at = sqlite3_column_int64(s, 13);
	if ((rc = sq_col_text(s, 14, true, &cl->metadata)) != ST_OK)
		goto out;
	cl->tokens_revoked_at = sqlite3_column_int64(s, 15);
	*out = cl;
	cl = NULL;
out:
	store_client_free(cl);
	return rc;
}

enum status
sq_client_insert(struct conn *c, const struct store_client *cl)
{
	sqlite3_stmt *q;
	enum status rc;

	if ((rc = sq_stmt_get(c, sql, Q_CLIENT_ADD, &q)) != ST_OK)
		return rc;
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
	sqlite3_bind_int(q, 9, (int)cl->grants);
	sqlite3_bind_text(q, 10, store_client_origin_name(cl->origin), -1,
	                  SQLITE_STATIC);
	if (digest_set(cl->registration_digest))
		sqlite3_bind_blob(q, 11, cl->registration_digest,
		                  SEC_DIGEST_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 11);
	if (cl->metadata != NULL)
		sqlite3_bind_text(q, 12, cl->metadata, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 12);
	return sq_exec_write(c, q, "client_add", NULL);
}

enum status
sq_client_add(struct store *s, const struct store_client *cl)
{
	struct sq_store *st = sq(s);
	enum status rc;

	rc = sq_client_insert(sq_wr_begin(st), cl);
	sq_wr_end(st);
	return rc;
}

enum status
sq_client_get(struct store *s, const char *id, struct store_client **out)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_CLIENT_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = client_row(q, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "client_get");
	sq_stmt_done(q);
	sq_rd_unlock(st);
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

enum status
sq_client_list(struct store *s, struct store_client ***out, size_t *n)
{
	void **v;
	enum status rc;

	rc = list_all(sq(s), Q_CLIENT_LIST, "client_list", client_row_v,
	              client_free_v, &v, n);
	if (rc == ST_OK)
		*out = (struct store_client **)v;
	return rc;
}

enum status
sq_client_remove(struct store *s, const char *id)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CLIENT_REMOVE, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sq_exec_write(c, q, "client_remove", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_client_set_secret(struct store *s, const char *id,
                     const uint8_t digest[SEC_DIGEST_BYTES], int64_t old_until)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CLIENT_SET_SECRET, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, old_until);
	rc = sq_exec_write(c, q, "client_set_secret", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_client_update(struct store *s, const struct store_client *cl)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	unsigned n = 0;
	enum status rc;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_CLIENT_UPDATE, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, cl->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, cl->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, cl->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, cl->redirect_uris, -1, SQLITE_STATIC);
	rc = sq_exec_write(c, q, "client_update", &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	sq_wr_end(st);
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
	if ((rc = sq_col_text(s, 1, false, &u->name)) != ST_OK ||
	    (rc = sq_col_text(s, 2, false, &u->password_hash)) != ST_OK)
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

enum status
sq_user_add(struct store *s, const char *name, const char *password_hash,
            int64_t *id)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_USER_ADD, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, clk_now_s());
	sr = sqlite3_step(q);
	if (sr == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(c->db);
		rc = ST_OK;
	} else {
		rc = sq_status(c, sr, "user_add");
	}
	sq_stmt_done(q);
out:
	sq_wr_end(st);
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

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, qid, &q)) != ST_OK)
		return rc;
	if (name != NULL)
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q, 1, id);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = user_row(q, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "user_get");
	sq_stmt_done(q);
	sq_rd_unlock(st);
	return rc;
}

enum status
sq_user_get(struct store *s, const char *name, struct store_user **out)
{
	return user_get(sq(s), Q_USER_GET, name, 0, out);
}

enum status
sq_user_get_by_id(struct store *s, int64_t id, struct store_user **out)
{
	return user_get(sq(s), Q_USER_GET_BY_ID, NULL, id, out);
}

enum status
sq_user_list(struct store *s, struct store_user ***out, size_t *n)
{
	void **v;
	enum status rc;

	rc = list_all(sq(s), Q_USER_LIST, "user_list", user_row_v, user_free_v,
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

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, qid, &q)) != ST_OK)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (text2 != NULL)
		sqlite3_bind_text(q, 2, text2, -1, SQLITE_STATIC);
	rc = sq_exec_write(c, q, op, &n);
	if (rc == ST_OK && n == 0)
		rc = ST_NOTFOUND;
out:
	sq_wr_end(st);
	return rc;
}

enum status
sq_user_remove(struct store *s, const char *name)
{
	return write_by_name(sq(s), Q_USER_REMOVE, "user_remove", name, NULL);
}

enum status
sq_user_set_password(struct store *s, const char *name,
                     const char *password_hash)
{
	return write_by_name(sq(s), Q_USER_SET_PASSWORD, "user_set_password",
	                     name, password_hash);
}
