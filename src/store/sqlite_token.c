/*
 * The SQLite backend: access and refresh tokens and revoked families (the
 * codes are in sqlite_code.c). See sqlite.c for how the backend works; the
 * token endpoint's hot path, the group commit of sq_tokens_issue(), is here.
 *
 * Families (002_revoked_families.sql): every call that revokes a refresh
 * token records its family in revoked_families, in the transaction that
 * revokes the family's tokens, before it does; every issue of a token of
 * a family looks the family up there in its own transaction. Issues and
 * revocations all hold the write lock, so one of them comes first: a
 * revocation first, and the issue finds the family and stores nothing; the
 * issue first, and the revocation revokes its tokens too. Never a live
 * token in a revoked family.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/sqlite_int.h"

#define TOKEN_BATCH_MAX 64 /* store_tokens_issue() calls per group commit */

#define TOKEN_COLS                                                             \
	"kind, client_id, user_id, scope, audience, family_id, expires_at, "   \
	"revoked_at, rotated_at, created_at"

/* Records revoked families; the first revocation time stays. */
#define FAMILY_UPSERT                                                          \
	" ON CONFLICT (family_id) DO UPDATE SET "                              \
	"keep_until = max(keep_until, excluded.keep_until)"
/* The families of the tokens live at ?2 that match where, and of the codes
 * not yet redeemed (so a code issued before the revocation cannot give
 * tokens after it), each kept until the last of those expires. WHERE
 * comes before the upsert, as SQLite needs (else ON could be read as a
 * join's). */
#define FAMILY_REVOKE(key)                                                     \
	"INSERT INTO revoked_families (family_id, revoked_at, keep_until) "    \
	"SELECT family_id, ?2, max(expires_at) FROM ("                         \
	"SELECT family_id, expires_at FROM tokens "                            \
	"WHERE " key " = ?1 AND revoked_at = 0 AND expires_at > ?2 "           \
	"UNION ALL SELECT family_id, expires_at FROM codes "                   \
	"WHERE " key " = ?1 AND used_at = 0 AND expires_at > ?2) "             \
	"WHERE family_id != 0 GROUP BY family_id" FAMILY_UPSERT

/* A token is live at ?2 while "revoked_at = 0 AND expires_at > ?2". */
static const char *const sql[Q__COUNT] = {
    [Q_TOKEN_ADD] = "INSERT INTO tokens (digest, " TOKEN_COLS ") "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* Spends a refresh token: only a live one, and only once. */
    [Q_TOKEN_ROTATE] = "UPDATE tokens SET rotated_at = ?2 "
                       "WHERE digest = ?1 AND kind = 2 AND rotated_at = 0 "
                       "AND revoked_at = 0 AND expires_at > ?2",
    [Q_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE digest = ?1",
    [Q_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked_at = ?2 "
                            "WHERE user_id = ?1 AND revoked_at = 0 "
                            "AND expires_at > ?2",
    [Q_TOKEN_REVOKE_CLIENT] = "UPDATE tokens SET revoked_at = ?2 "
                              "WHERE client_id = ?1 AND revoked_at = 0 "
                              "AND expires_at > ?2",
    /* "family_id != 0" lets SQLite use the partial index. */
    [Q_TOKEN_REVOKE_FAMILY] = "UPDATE tokens SET revoked_at = ?2 "
                              "WHERE family_id = ?1 AND family_id != 0 "
                              "AND revoked_at = 0 AND expires_at > ?2",
    [Q_TOKEN_REVOKE_ONE] = "UPDATE tokens SET revoked_at = ?2 "
                           "WHERE digest = ?1 AND revoked_at = 0 "
                           "AND expires_at > ?2",
    [Q_TOKEN_COUNT_LIVE] = "SELECT count(*) FROM tokens "
                           "WHERE expires_at > ?1 AND revoked_at = 0",
    /* The check of every issue into a family: one rowid lookup. */
    [Q_FAMILY_REVOKED] = "SELECT 1 FROM revoked_families "
                         "WHERE family_id = ?1",
    /* A whole family, even one with nothing live (then kept until ?2):
     * an aggregate without GROUP BY always gives its one row. */
    [Q_FAMILY_REVOKE] =
        "INSERT INTO revoked_families (family_id, revoked_at, keep_until) "
        "SELECT ?1, ?2, coalesce(max(expires_at), ?2) FROM tokens "
        "WHERE family_id = ?1 AND family_id != 0 AND revoked_at = 0 "
        "AND expires_at > ?2" FAMILY_UPSERT,
    [Q_FAMILY_REVOKE_USER] = FAMILY_REVOKE("user_id"),
    [Q_FAMILY_REVOKE_CLIENT] = FAMILY_REVOKE("client_id"),
    /* Bumped by the triggers of 004_revocation_epoch.sql. */
    [Q_REVOCATION_EPOCH] = "SELECT n FROM revocation_epoch WHERE id = 1",
    /* For the client's JWTs that are not stored (008_signing_keys.sql). */
    [Q_CLIENT_TOKENS_REVOKED] = "UPDATE clients SET tokens_revoked_at = "
                                "max(tokens_revoked_at, ?2) WHERE id = ?1",
};

/* A store_tokens_issue() or store_code_redeem() call waiting in the
 * group commit queue. */
struct tok_req {
	const uint8_t *rotate; /* refresh token to spend, or NULL */
	const uint8_t *code;   /* code to spend, or NULL */
	int64_t now;
	const struct store_token *v;
	size_t n;
	enum status rc; /* out */
	bool done;
	pthread_cond_t cv; /* signalled when done or at the head */
	struct tok_req *next;
};

/* Binds t to the cached INSERT q and runs it; resets q. */
static enum status
token_insert(struct conn *c, sqlite3_stmt *q, const struct store_token *t)
{
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
	return sq_exec_write(c, q, "token_add", NULL);
}

/* True for the errors that fail one call of a batch, not all of it. */
static bool
fails_alone(enum status rc)
{
	return rc == ST_EXISTS || rc == ST_NOTFOUND || rc == ST_DENIED;
}

/* True if r is one statement, which needs no transaction of its own: one
 * insert with no family to check (client_credentials), or a spend alone. */
static bool
one_statement(const struct tok_req *r)
{
	if (r->rotate != NULL || r->code != NULL)
		return r->n == 0;
	return r->n == 1 && r->v[0].family_id == 0;
}

/* ST_DENIED if the family of one of r's tokens has been revoked. */
static enum status
family_check(struct conn *c, const struct tok_req *r)
{
	sqlite3_stmt *q;
	int64_t fam, last = 0;
	enum status rc;
	int sr;

	for (size_t i = 0; i < r->n; i++) {
		fam = r->v[i].family_id;
		if (fam == 0 || fam == last)
			continue;
		last = fam;
		if ((rc = sq_stmt_get(c, sql, Q_FAMILY_REVOKED, &q)) != ST_OK)
			return rc;
		sqlite3_bind_int64(q, 1, fam);
		sr = sqlite3_step(q);
		if (sr == SQLITE_ROW)
			rc = ST_DENIED;
		else if (sr != SQLITE_DONE)
			rc = sq_status(c, sr, "tokens_issue");
		sq_stmt_done(q);
		if (rc != ST_OK)
			return rc;
	}
	return ST_OK;
}

/* Spends r's refresh token (rotates it) or code (marks it used). ST_DENIED
 * unless this call did: spent already; for a refresh token also revoked,
 * expired, unknown or not a refresh token; ST_NOTFOUND for an unknown
 * code. */
static enum status
spend(struct conn *c, const struct tok_req *r)
{
	sqlite3_stmt *q;
	unsigned changes = 0;
	enum status rc;

	if (r->code == NULL) {
		if ((rc = sq_stmt_get(c, sql, Q_TOKEN_ROTATE, &q)) != ST_OK)
			return rc;
		sqlite3_bind_blob(q, 1, r->rotate, SEC_DIGEST_BYTES,
		                  SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, r->now);
		rc = sq_exec_write(c, q, "token_rotate", &changes);
		return rc == ST_OK && changes != 1 ? ST_DENIED : rc;
	}
	return sq_code_spend(c, r->code, r->now);
}

/*
 * Runs r's statements on the writer c, inside the batch's transaction if
 * there is one, and sets r->rc: the spend, the family check, the inserts.
 * A call of several writes runs inside a savepoint, so that when one of
 * them fails alone (a broken constraint, a revoked family, a spent token
 * or code), the call's earlier statements are undone with it (SQLite
 * itself undoes only the failing statement) and the rest of the batch
 * goes on. Returns an error only if the whole batch must fail.
 */
static enum status
issue_one(struct conn *c, struct tok_req *r)
{
	sqlite3_stmt *add;
	bool spends = r->rotate != NULL || r->code != NULL;
	bool sp = r->n + spends > 1;
	enum status rc;

	if ((rc = sq_stmt_get(c, sql, Q_TOKEN_ADD, &add)) != ST_OK)
		return rc;
	if (sp && (rc = sq_exec(c, Q_SAVEPOINT, "tokens_issue")) != ST_OK)
		return rc;
	rc = spends ? spend(c, r) : ST_OK;
	if (rc == ST_OK)
		rc = family_check(c, r);
	for (size_t i = 0; rc == ST_OK && i < r->n; i++)
		rc = token_insert(c, add, &r->v[i]);
	r->rc = rc;
	if (rc == ST_OK)
		return sp ? sq_exec(c, Q_RELEASE, "tokens_issue") : ST_OK;
	if (!fails_alone(rc))
		return rc;
	if (sp && ((rc = sq_exec(c, Q_ROLLBACK_TO, "tokens_issue")) != ST_OK ||
	           (rc = sq_exec(c, Q_RELEASE, "tokens_issue")) != ST_OK))
		return rc;
	return ST_OK;
}

/*
 * Runs the n queued calls from first on, commits them, and sets each
 * one's results. One call of one statement runs in autocommit mode;
 * anything else in one transaction, in which a call that fails alone
 * (see issue_one()) does, and any other error fails the whole batch.
 */
static void
tok_batch(struct sq_store *st, struct tok_req *first, unsigned n)
{
	struct tok_req *r;
	struct conn *c;
	enum status rc;
	unsigned i;

	c = sq_wr_begin(st);
	if (n == 1 && one_statement(first)) {
		rc = issue_one(c, first);
		sq_wr_end(st);
		if (rc != ST_OK)
			first->rc = rc;
		return;
	}
	if ((rc = sq_exec(c, Q_BEGIN, "tokens_issue")) != ST_OK)
		goto fail;
	/* Not r = r->next after the last: the tail's next may be changing. */
	for (r = first, i = 0;;) {
		if ((rc = issue_one(c, r)) != ST_OK)
			goto fail;
		if (++i == n)
			break;
		r = r->next;
	}
	if ((rc = sq_exec(c, Q_COMMIT, "tokens_issue")) != ST_OK)
		goto fail;
	sq_wr_end(st);
	return;
fail:
	sq_txn_rollback(c, "tokens_issue");
	sq_wr_end(st);
	for (r = first, i = 0;;) {
		r->rc = rc;
		if (++i == n)
			break;
		r = r->next;
	}
}

/*
 * The hot path of the token endpoint. One commit per call would cap the
 * rate at what the disk does per commit (a few thousand a second with the
 * tokens indexes), so concurrent calls commit together: each caller
 * queues its request; the caller at the head of the queue takes up to
 * TOKEN_BATCH_MAX of them, runs and commits them in one transaction,
 * wakes their callers with their results and hands the head to the next
 * in line. Nobody returns before their rows are committed. Alone, a
 * caller just runs its statements.
 */
enum status
sq_tokens_issue(struct store *s, const uint8_t *rotate, const uint8_t *code,
                int64_t now, const struct store_token *v, size_t n)
{
	struct sq_store *st = sq(s);
	struct tok_req me, *r, *next;
	unsigned k;

	memset(&me, 0, sizeof(me));
	me.rotate = rotate;
	me.code = code;
	me.now = now;
	me.v = v;
	me.n = n;
	if (pthread_cond_init(&me.cv, NULL) != 0)
		return ST_NOMEM;
	pthread_mutex_lock(&st->qlock);
	*st->qtail = &me;
	st->qtail = &me.next;
	while (!me.done && st->qhead != &me)
		pthread_cond_wait(&me.cv, &st->qlock);
	if (!me.done) {
		/* At the head: commit a batch for everyone behind. */
		for (k = 1, r = &me; r->next != NULL && k < TOKEN_BATCH_MAX;
		     k++)
			r = r->next;
		pthread_mutex_unlock(&st->qlock);
		tok_batch(st, &me, k);
		pthread_mutex_lock(&st->qlock);
		for (r = &me; k > 0; k--, r = next) {
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
	if ((rc = sq_col_text(s, 1, false, &t->client_id)) != ST_OK)
		goto out;
	t->user_id = sqlite3_column_int64(s, 2); /* NULL reads as 0 */
	if ((rc = sq_col_text(s, 3, false, &t->scope)) != ST_OK ||
	    (rc = sq_col_text(s, 4, true, &t->audience)) != ST_OK)
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

/* Looks a token up on c (a reader with the read lock, or the writer). */
static enum status
token_find(struct conn *c, const uint8_t digest[SEC_DIGEST_BYTES],
           struct store_token **out)
{
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_stmt_get(c, sql, Q_TOKEN_GET, &q)) != ST_OK)
		return rc;
	sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES, SQLITE_STATIC);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW)
		rc = token_row(q, digest, out);
	else if (sr == SQLITE_DONE)
		rc = ST_NOTFOUND;
	else
		rc = sq_status(c, sr, "token_get");
	sq_stmt_done(q);
	return rc;
}

enum status
sq_token_get(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
             struct store_token **out)
{
	struct sq_store *st = sq(s);
	struct conn *c;
	enum status rc;

	if ((rc = sq_conn_get(st, &c)) != ST_OK)
		return rc;
	sq_rd_lock(st);
	rc = token_find(c, digest, out);
	sq_rd_unlock(st);
	return rc;
}

/*
 * Revokes the live tokens matching a key (?1; ?2 now) on the writer: fam
 * records their families as revoked, then revoke marks the tokens, then
 * mark (Q__COUNT: none) runs, in one transaction (fam first: it looks at
 * the tokens still live).
 */
static enum status
revoke_by(struct sq_store *st, enum stmt fam, enum stmt revoke, enum stmt mark,
          const char *op, const char *text_key, int64_t int_key, int64_t now,
          unsigned *n)
{
	const enum stmt qid[3] = {fam, revoke, mark};
	size_t nq = mark == Q__COUNT ? 2 : 3;
	sqlite3_stmt *q[3];
	struct conn *c;
	enum status rc;
	bool txn = false;

	c = sq_wr_begin(st);
	for (size_t i = 0; i < nq; i++)
		if ((rc = sq_stmt_get(c, sql, qid[i], &q[i])) != ST_OK)
			goto out;
	if ((rc = sq_exec(c, Q_BEGIN, op)) != ST_OK)
		goto out;
	txn = true;
	for (size_t i = 0; i < nq; i++) {
		if (text_key != NULL)
			sqlite3_bind_text(q[i], 1, text_key, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(q[i], 1, int_key);
		sqlite3_bind_int64(q[i], 2, now);
		if ((rc = sq_exec_write(c, q[i], op, i == 1 ? n : NULL)) !=
		    ST_OK)
			goto out;
	}
	if ((rc = sq_exec(c, Q_COMMIT, op)) != ST_OK)
		goto out;
	txn = false;
out:
	if (txn)
		sq_txn_rollback(c, op);
	sq_wr_end(st);
	return rc;
}

enum status
sq_token_revoke_user(struct store *s, int64_t user_id, int64_t now, unsigned *n)
{
	return revoke_by(sq(s), Q_FAMILY_REVOKE_USER, Q_TOKEN_REVOKE_USER,
	                 Q__COUNT, "token_revoke_user", NULL, user_id, now, n);
}

enum status
sq_token_revoke_client(struct store *s, const char *client_id, int64_t now,
                       unsigned *n)
{
	return revoke_by(sq(s), Q_FAMILY_REVOKE_CLIENT, Q_TOKEN_REVOKE_CLIENT,
	                 Q_CLIENT_TOKENS_REVOKED, "token_revoke_client",
	                 client_id, 0, now, n);
}

enum status
sq_token_revoke_family(struct store *s, int64_t family_id, int64_t now,
                       unsigned *n)
{
	return revoke_by(sq(s), Q_FAMILY_REVOKE, Q_TOKEN_REVOKE_FAMILY,
	                 Q__COUNT, "token_revoke_family", NULL, family_id, now,
	                 n);
}

/* Reads the token and revokes it, or its family, in one transaction. */
enum status
sq_token_revoke(struct store *s, const uint8_t digest[SEC_DIGEST_BYTES],
                int64_t now)
{
	struct sq_store *st = sq(s);
	struct store_token *t = NULL;
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	bool txn = false;

	c = sq_wr_begin(st);
	if ((rc = sq_exec(c, Q_BEGIN, "token_revoke")) != ST_OK)
		goto out;
	txn = true;
	if ((rc = token_find(c, digest, &t)) != ST_OK)
		goto out;
	if (t->kind == STORE_TOKEN_REFRESH && t->family_id != 0) {
		if ((rc = sq_stmt_get(c, sql, Q_FAMILY_REVOKE, &q)) != ST_OK)
			goto out;
		sqlite3_bind_int64(q, 1, t->family_id);
		sqlite3_bind_int64(q, 2, now);
		if ((rc = sq_exec_write(c, q, "token_revoke", NULL)) != ST_OK ||
		    (rc = sq_stmt_get(c, sql, Q_TOKEN_REVOKE_FAMILY, &q)) !=
		        ST_OK)
			goto out;
		sqlite3_bind_int64(q, 1, t->family_id);
	} else {
		if ((rc = sq_stmt_get(c, sql, Q_TOKEN_REVOKE_ONE, &q)) != ST_OK)
			goto out;
		sqlite3_bind_blob(q, 1, digest, SEC_DIGEST_BYTES,
		                  SQLITE_STATIC);
	}
	sqlite3_bind_int64(q, 2, now);
	if ((rc = sq_exec_write(c, q, "token_revoke", NULL)) != ST_OK ||
	    (rc = sq_exec(c, Q_COMMIT, "token_revoke")) != ST_OK)
		goto out;
	txn = false;
out:
	if (txn)
		sq_txn_rollback(c, "token_revoke");
	sq_wr_end(st);
	store_token_free(t);
	return rc;
}

/* Runs the one-row read qid of this file on this thread's reader, with
 * ?1 bound to *arg if arg is not NULL, and reads its first column. */
static enum status
read_int(struct sq_store *st, enum stmt qid, const int64_t *arg, const char *op,
         int64_t *out)
{
	struct conn *c;
	sqlite3_stmt *q;
	enum status rc;
	int sr;

	if ((rc = sq_conn_get(st, &c)) != ST_OK ||
	    (rc = sq_stmt_get(c, sql, qid, &q)) != ST_OK)
		return rc;
	if (arg != NULL)
		sqlite3_bind_int64(q, 1, *arg);
	sq_rd_lock(st);
	sr = sqlite3_step(q);
	if (sr == SQLITE_ROW) {
		*out = sqlite3_column_int64(q, 0);
		rc = ST_OK;
	} else if (sr == SQLITE_DONE) {
		rc = ST_NOTFOUND;
	} else {
		rc = sq_status(c, sr, op);
	}
	sq_stmt_done(q);
	sq_rd_unlock(st);
	return rc;
}

enum status
sq_token_count_live(struct store *s, int64_t now, uint64_t *n)
{
	int64_t v = 0;
	enum status rc;

	rc = read_int(sq(s), Q_TOKEN_COUNT_LIVE, &now, "token_count_live", &v);
	if (rc == ST_OK)
		*n = (uint64_t)v;
	return rc;
}

/* One rowid lookup. ST_NOTFOUND if the row is gone (a damaged schema). */
enum status
sq_revocation_epoch(struct store *s, uint64_t *out)
{
	int64_t v = 0;
	enum status rc;

	rc = read_int(sq(s), Q_REVOCATION_EPOCH, NULL, "revocation_epoch", &v);
	if (rc == ST_OK)
		*out = (uint64_t)v;
	return rc;
}
