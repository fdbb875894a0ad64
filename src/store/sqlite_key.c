/*
 * The SQLite backend: JWT signing keys (008_signing_keys.sql). See
 * sqlite.c for how the backend works.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

#define KEY_COLS "kid, alg, private_key, created_at, retired_at, keep_until"

static const char *const sql[Q__COUNT] = {
    [Q_KEY_ADD] = "INSERT INTO signing_keys (" KEY_COLS ") "
                  "VALUES (?1, ?2, ?3, ?4, 0, 0)",
    [Q_KEY_RETIRE] = "UPDATE signing_keys SET retired_at = ?1, "
                     "keep_until = ?2 WHERE retired_at = 0",
    [Q_KEY_LIST] = "SELECT " KEY_COLS " FROM signing_keys "
                   "ORDER BY created_at DESC, rowid DESC",
};

static enum status
key_row(sqlite3_stmt *s, void **out)
{
	struct store_key *k;
	const void *der;
	int n;
	enum status rc = ST_STORE;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ST_NOMEM;
	if (!str_copy(k->kid, sizeof(k->kid),
	              (const char *)sqlite3_column_text(s, 0)) ||
	    !str_copy(k->alg, sizeof(k->alg),
	              (const char *)sqlite3_column_text(s, 1)))
		goto out;
	der = sqlite3_column_blob(s, 2);
	n = sqlite3_column_bytes(s, 2);
	if (der == NULL || n <= 0 || (size_t)n > sizeof(k->der))
		goto out;
	memcpy(k->der, der, (size_t)n);
	k->der_len = (size_t)n;
	k->created_at = sqlite3_column_int64(s, 3);
	k->retired_at = sqlite3_column_int64(s, 4);
	k->keep_until = sqlite3_column_int64(s, 5);
	*out = k;
	k = NULL;
	rc = ST_OK;
out:
	store_key_free(k);
	return rc;
}

static void
key_free_v(void *k)
{
	store_key_free(k);
}

enum status
sq_key_list(struct store *s, struct store_key ***out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *q;
	void **v;
	enum status rc;

	if ((rc = sq_conn_get(sq(s), &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_KEY_LIST, &q)) != ST_OK)
		return rc;
	rc = sq_list_rows(c, q, "key_list", key_row, key_free_v, &v, n);
	if (rc == ST_OK)
		*out = (struct store_key **)v;
	return rc;
}

/* Retires the signing key (if any) and adds k, in one transaction. */
enum status
sq_key_rotate(struct store *s, const struct store_key *k, int64_t now,
              int64_t keep_until)
{
	struct sq_store *st = sq(s);
	sqlite3_stmt *retire, *add;
	struct conn *c;
	enum status rc;
	bool txn = false;

	c = sq_wr_begin(st);
	if ((rc = sq_stmt_get(c, sql, Q_KEY_RETIRE, &retire)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, Q_KEY_ADD, &add)) != ST_OK ||
	    (rc = sq_exec(c, Q_BEGIN, "key_rotate")) != ST_OK)
		goto out;
	txn = true;
	sqlite3_bind_int64(retire, 1, now);
	sqlite3_bind_int64(retire, 2, keep_until);
	if ((rc = sq_exec_write(c, retire, "key_rotate", NULL)) != ST_OK)
		goto out;
	sqlite3_bind_text(add, 1, k->kid, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 2, k->alg, -1, SQLITE_STATIC);
	sqlite3_bind_blob(add, 3, k->der, (int)k->der_len, SQLITE_STATIC);
	sqlite3_bind_int64(add, 4, now);
	if ((rc = sq_exec_write(c, add, "key_rotate", NULL)) != ST_OK ||
	    (rc = sq_exec(c, Q_COMMIT, "key_rotate")) != ST_OK)
		goto out;
	txn = false;
out:
	if (txn)
		sq_txn_rollback(c, "key_rotate");
	sq_wr_end(st);
	return rc;
}
