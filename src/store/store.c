/*
 * The backend-neutral front of the store: picks a backend from the URL,
 * checks arguments, dispatches through the backend's ops, and frees (and
 * wipes) the objects the backends hand out.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "crypto/sec.h"
#include "store/store_int.h"

#define URL_SQLITE "sqlite:"
#define URL_PG "postgresql://"
#define URL_PG_SHORT "postgres://"

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

bool
store_client_id_ok(const char *id)
{
	return id != NULL && id[0] != '\0' &&
	       strnlen(id, sizeof(((struct store_client *)0)->id)) <
	           sizeof(((struct store_client *)0)->id);
}

/* Counts a call that may have ended tokens early, once it has returned
 * (committed or not: a spare count only costs a cache refill). */
static enum status
revoked(struct store *st, enum status rc)
{
	atomic_fetch_add(&st->revocations, 1);
	return rc;
}

static enum status
open_url(const char *url, bool create, struct store **out, char *err,
         size_t errlen)
{
	const struct store_ops *ops;
	const char *target;
	char dummy[1];
	size_t n;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	set_err(err, errlen, "");
	if (url == NULL || out == NULL) {
		set_err(err, errlen, "no database URL");
		return ST_INVALID;
	}
	if (has_prefix(url, URL_SQLITE)) {
		ops = &sqlite_store_ops;
		target = url + strlen(URL_SQLITE);
	} else if (has_prefix(url, URL_PG) || has_prefix(url, URL_PG_SHORT)) {
		set_err(err, errlen, "PostgreSQL support is not built yet");
		return ST_INVALID;
	} else {
		/* Name only the scheme: the rest may hold a password. */
		n = strcspn(url, ":/");
		if (err != NULL && errlen > 0) {
			if (url[n] == ':' && n > 0 && n < 32)
				snprintf(
				    err, errlen,
				    "unknown database URL scheme \"%.*s:\" "
				    "(use sqlite:PATH)",
				    (int)n, url);
			else
				snprintf(err, errlen,
				         "database URL has no known scheme "
				         "(use sqlite:PATH)");
		}
		return ST_INVALID;
	}
	if (target[0] == '\0') {
		set_err(err, errlen,
		        "database URL has an empty path "
		        "(use sqlite:PATH)");
		return ST_INVALID;
	}
	return ops->open(target, create, out, err, errlen);
}

enum status
store_open(const char *url, struct store **out, char *err, size_t errlen)
{
	return open_url(url, false, out, err, errlen);
}

enum status
store_create(const char *url, struct store **out, char *err, size_t errlen)
{
	return open_url(url, true, out, err, errlen);
}

enum status
store_migrate(struct store *st, unsigned *applied, char *err, size_t errlen)
{
	unsigned n = 0;
	char dummy[1];
	enum status rc;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (st == NULL) {
		set_err(err, errlen, "no database");
		return ST_INVALID;
	}
	rc = st->ops->migrate(st, &n, err, errlen);
	if (rc != ST_OK && err[0] == '\0')
		snprintf(err, errlen, "cannot migrate the database: %s",
		         status_str(rc));
	if (rc == ST_OK && applied != NULL)
		*applied = n;
	return rc;
}

enum status
store_schema_version(struct store *st, unsigned *have, unsigned *want)
{
	unsigned h = 0, w = 0;
	enum status rc;

	if (st == NULL)
		return ST_INVALID;
	rc = st->ops->schema_version(st, &h, &w);
	if (rc != ST_OK)
		return rc;
	if (have != NULL)
		*have = h;
	if (want != NULL)
		*want = w;
	return ST_OK;
}

void
store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

const char *
store_backend(const struct store *st)
{
	return st != NULL ? st->ops->name : "none";
}

enum status
store_client_grants_check(const struct store_client *c)
{
	/* A client without a secret, or whose secret is pasted into a third
	 * party's UI, never mints tokens without a user. */
	if ((c->grants & ~STORE_GRANTS_ALL) != 0 ||
	    ((c->is_public || c->chatgpt) &&
	     (c->grants & STORE_GRANT_CLIENT_CREDENTIALS) != 0))
		return ST_INVALID;
	return ST_OK;
}

enum status
store_client_add(struct store *st, const struct store_client *c)
{
	struct store_client cc;

	if (st == NULL || c == NULL || !store_client_id_ok(c->id) ||
	    c->name == NULL)
		return ST_INVALID;
	cc = *c;
	if (cc.grants == 0)
		cc.grants = STORE_GRANTS_DEFAULT;
	if (store_client_grants_check(&cc) != ST_OK)
		return ST_INVALID;
	return st->ops->client_add(st, &cc);
}

enum status
store_client_get(struct store *st, const char *id, struct store_client **out)
{
	if (st == NULL || id == NULL || out == NULL)
		return ST_INVALID;
	if (!store_client_id_ok(id))
		return ST_NOTFOUND;
	return st->ops->client_get(st, id, out);
}

enum status
store_client_list(struct store *st, struct store_client ***out, size_t *n)
{
	if (st == NULL || out == NULL || n == NULL)
		return ST_INVALID;
	return st->ops->client_list(st, out, n);
}

enum status
store_client_remove(struct store *st, const char *id)
{
	if (st == NULL || id == NULL)
		return ST_INVALID;
	if (!store_client_id_ok(id))
		return ST_NOTFOUND;
	return revoked(st, st->ops->client_remove(st, id));
}

enum status
store_client_set_secret(struct store *st, const char *id,
                        const uint8_t digest[SEC_DIGEST_BYTES],
                        int64_t old_until)
{
	if (st == NULL || id == NULL || digest == NULL || old_until < 0)
		return ST_INVALID;
	if (!store_client_id_ok(id))
		return ST_NOTFOUND;
	return st->ops->client_set_secret(st, id, digest, old_until);
}

enum status
store_client_update(struct store *st, const struct store_client *c)
{
	if (st == NULL || c == NULL || c->name == NULL ||
	    c->redirect_uris == NULL || c->scope == NULL)
		return ST_INVALID;
	if (!store_client_id_ok(c->id))
		return ST_NOTFOUND;
	return st->ops->client_update(st, c);
}

void
store_client_free(struct store_client *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->redirect_uris);
	free(c->scope);
	free(c->metadata);
	sec_wipe(c, sizeof(*c));
	free(c);
}

void
store_client_list_free(struct store_client **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_client_free(v[i]);
	free(v);
}

enum status
store_user_add(struct store *st, const char *name, const char *password_hash,
               int64_t *id)
{
	int64_t uid = 0;
	enum status rc;

	if (st == NULL || name == NULL || name[0] == '\0' ||
	    password_hash == NULL || password_hash[0] == '\0')
		return ST_INVALID;
	rc = st->ops->user_add(st, name, password_hash, &uid);
	if (rc == ST_OK && id != NULL)
		*id = uid;
	return rc;
}

enum status
store_user_get(struct store *st, const char *name, struct store_user **out)
{
	if (st == NULL || name == NULL || out == NULL)
		return ST_INVALID;
	return st->ops->user_get(st, name, out);
}

enum status
store_user_get_by_id(struct store *st, int64_t id, struct store_user **out)
{
	if (st == NULL || out == NULL)
		return ST_INVALID;
	if (id <= 0)
		return ST_NOTFOUND;
	return st->ops->user_get_by_id(st, id, out);
}

enum status
store_user_list(struct store *st, struct store_user ***out, size_t *n)
{
	if (st == NULL || out == NULL || n == NULL)
		return ST_INVALID;
	return st->ops->user_list(st, out, n);
}

enum status
store_user_remove(struct store *st, const char *name)
{
	if (st == NULL || name == NULL)
		return ST_INVALID;
	return revoked(st, st->ops->user_remove(st, name));
}

enum status
store_user_set_password(struct store *st, const char *name,
                        const char *password_hash)
{
	if (st == NULL || name == NULL || password_hash == NULL ||
	    password_hash[0] == '\0')
		return ST_INVALID;
	return st->ops->user_set_password(st, name, password_hash);
}

void
store_user_free(struct store_user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	if (u->password_hash != NULL) {
		sec_wipe(u->password_hash, strlen(u->password_hash));
		free(u->password_hash);
	}
	sec_wipe(u, sizeof(*u));
	free(u);
}

void
store_user_list_free(struct store_user **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_user_free(v[i]);
	free(v);
}

static bool
token_ok(const struct store_token *t)
{
	return t->client_id != NULL && t->scope != NULL && t->user_id >= 0 &&
	       (t->kind == STORE_TOKEN_ACCESS ||
	        t->kind == STORE_TOKEN_REFRESH);
}

enum status
store_token_add(struct store *st, const struct store_token *t)
{
	if (st == NULL || t == NULL || !token_ok(t))
		return ST_INVALID;
	return st->ops->tokens_issue(st, NULL, NULL, 0, t, 1);
}

static bool
tokens_ok(const struct store_token *v, size_t n)
{
	if (n > 0 && v == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!token_ok(&v[i]))
			return false;
	return true;
}

enum status
store_tokens_issue(struct store *st, const uint8_t *rotate, int64_t now,
                   const struct store_token *v, size_t n)
{
	/* rotated_at = 0 means not rotated, so now must be after the epoch. */
	if (st == NULL || !tokens_ok(v, n) || (rotate != NULL && now <= 0))
		return ST_INVALID;
	if (n == 0 && rotate == NULL)
		return ST_OK;
	return st->ops->tokens_issue(st, rotate, NULL, now, v, n);
}

enum status
store_code_redeem(struct store *st, const uint8_t code[SEC_DIGEST_BYTES],
                  int64_t now, const struct store_token *v, size_t n)
{
	/* used_at = 0 means unused, so now must be after the epoch. */
	if (st == NULL || code == NULL || !tokens_ok(v, n) || now <= 0)
		return ST_INVALID;
	return st->ops->tokens_issue(st, NULL, code, now, v, n);
}

enum status
store_token_get(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                struct store_token **out)
{
	if (st == NULL || digest == NULL || out == NULL)
		return ST_INVALID;
	return st->ops->token_get(st, digest, out);
}

enum status
store_token_revoke_user(struct store *st, int64_t user_id, int64_t now,
                        unsigned *n)
{
	unsigned k = 0;
	enum status rc;

	/* revoked_at = 0 means live, so now must be after the epoch. */
	if (st == NULL || now <= 0)
		return ST_INVALID;
	if (user_id > 0)
		rc = revoked(st,
		             st->ops->token_revoke_user(st, user_id, now, &k));
	else
		rc = ST_OK; /* no user has id <= 0 */
	if (rc == ST_OK && n != NULL)
		*n = k;
	return rc;
}

enum status
store_token_revoke_client(struct store *st, const char *client_id, int64_t now,
                          unsigned *n)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL || client_id == NULL || now <= 0)
		return ST_INVALID;
	rc = revoked(st, st->ops->token_revoke_client(st, client_id, now, &k));
	if (rc == ST_OK && n != NULL)
		*n = k;
	return rc;
}

enum status
store_token_count_live(struct store *st, int64_t now, uint64_t *n)
{
	if (st == NULL || n == NULL)
		return ST_INVALID;
	return st->ops->token_count_live(st, now, n);
}

enum status
store_token_revoke_family(struct store *st, int64_t family_id, int64_t now,
                          unsigned *n)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL || now <= 0)
		return ST_INVALID;
	if (family_id != 0)
		rc = revoked(
		    st, st->ops->token_revoke_family(st, family_id, now, &k));
	else
		rc = ST_OK; /* 0 is no family: nothing belongs to it */
	if (rc == ST_OK && n != NULL)
		*n = k;
	return rc;
}

enum status
store_token_revoke(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                   int64_t now)
{
	if (st == NULL || digest == NULL || now <= 0)
		return ST_INVALID;
	return revoked(st, st->ops->token_revoke(st, digest, now));
}

uint64_t
store_revocations_local(struct store *st)
{
	return st != NULL ? atomic_load(&st->revocations) : 0;
}

enum status
store_key_rotate(struct store *st, const struct store_key *k, int64_t now,
                 int64_t keep_until)
{
	if (st == NULL || k == NULL || k->kid[0] == '\0' || k->alg[0] == '\0' ||
	    k->der_len == 0 || k->der_len > sizeof(k->der) || now <= 0)
		return ST_INVALID;
	return st->ops->key_rotate(st, k, now, keep_until);
}

enum status
store_key_list(struct store *st, struct store_key ***out, size_t *n)
{
	if (st == NULL || out == NULL || n == NULL)
		return ST_INVALID;
	return st->ops->key_list(st, out, n);
}

void
store_key_free(struct store_key *k)
{
	if (k == NULL)
		return;
	sec_wipe(k, sizeof(*k));
	free(k);
}

void
store_key_list_free(struct store_key **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_key_free(v[i]);
	free(v);
}

enum status
store_revocation_epoch(struct store *st, uint64_t *out)
{
	if (st == NULL || out == NULL)
		return ST_INVALID;
	return st->ops->revocation_epoch(st, out);
}

void
store_token_free(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->client_id);
	free(t->scope);
	free(t->audience);
	sec_wipe(t, sizeof(*t));
	free(t);
}

enum status
store_code_add(struct store *st, const struct store_code *c)
{
	if (st == NULL || c == NULL || c->client_id == NULL ||
	    c->user_id <= 0 || c->redirect_uri == NULL || c->scope == NULL)
		return ST_INVALID;
	return st->ops->code_add(st, c);
}

enum status
store_code_get(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
               struct store_code **out)
{
	if (st == NULL || digest == NULL || out == NULL)
		return ST_INVALID;
	return st->ops->code_get(st, digest, out);
}

enum status
store_code_take(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                int64_t now, struct store_code **out)
{
	/* used_at = 0 means unused, so now must be after the epoch. */
	if (st == NULL || digest == NULL || out == NULL || now <= 0)
		return ST_INVALID;
	return st->ops->code_take(st, digest, now, out);
}

void
store_code_free(struct store_code *c)
{
	if (c == NULL)
		return;
	free(c->client_id);
	free(c->redirect_uri);
	free(c->scope);
	free(c->code_challenge);
	free(c->resource);
	free(c->state);
	sec_wipe(c, sizeof(*c));
	free(c);
}

enum status
store_consent_get(struct store *st, int64_t user_id, const char *client_id,
                  char **scope)
{
	if (st == NULL || client_id == NULL || scope == NULL)
		return ST_INVALID;
	if (user_id <= 0)
		return ST_NOTFOUND;
	return st->ops->consent_get(st, user_id, client_id, scope);
}

enum status
store_consent_set(struct store *st, int64_t user_id, const char *client_id,
                  const char *scope, int64_t now)
{
	if (st == NULL || client_id == NULL || scope == NULL)
		return ST_INVALID;
	if (user_id <= 0)
		return ST_NOTFOUND;
	return st->ops->consent_set(st, user_id, client_id, scope, now);
}

enum status
store_consent_revoke(struct store *st, int64_t user_id, const char *client_id,
                     unsigned *n)
{
	unsigned k = 0;
	enum status rc = ST_OK; /* no user has id <= 0 */

	if (st == NULL)
		return ST_INVALID;
	if (user_id > 0)
		rc = st->ops->consent_revoke(st, user_id, client_id, &k);
	if (rc == ST_OK && n != NULL)
		*n = k;
	return rc;
}

enum status
store_session_add(struct store *st, const struct store_session *s)
{
	if (st == NULL || s == NULL || s->user_id < 0)
		return ST_INVALID;
	return st->ops->session_add(st, s);
}

enum status
store_session_get(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                  int64_t now, struct store_session **out)
{
	if (st == NULL || digest == NULL || out == NULL)
		return ST_INVALID;
	return st->ops->session_get(st, digest, now, out);
}

enum status
store_session_delete(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES])
{
	if (st == NULL || digest == NULL)
		return ST_INVALID;
	return st->ops->session_delete(st, digest);
}

enum status
store_session_delete_user(struct store *st, int64_t user_id, unsigned *n)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL)
		return ST_INVALID;
	if (user_id > 0)
		rc = st->ops->session_delete_user(st, user_id, &k);
	else
		rc = ST_OK; /* no user has id <= 0 */
	if (rc == ST_OK && n != NULL)
		*n = k;
	return rc;
}

enum status
store_events_add(struct store *st, const struct store_event *v, size_t n)
{
	if (st == NULL || (n > 0 && v == NULL))
		return ST_INVALID;
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == NULL || v[i].outcome == NULL)
			return ST_INVALID;
	if (n == 0)
		return ST_OK;
	return st->ops->events_add(st, v, n);
}

enum status
store_events_list(struct store *st, const struct store_event_filter *f,
                  struct store_event ***out, size_t *n)
{
	if (st == NULL || f == NULL || out == NULL || n == NULL ||
	    f->limit == 0 || f->limit > STORE_EVENT_LIST_MAX)
		return ST_INVALID;
	return st->ops->events_list(st, f, out, n);
}

enum status
store_events_trim(struct store *st, unsigned max_rows, unsigned batch,
                  unsigned *deleted)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL || batch == 0)
		return ST_INVALID;
	rc = st->ops->events_trim(st, max_rows, batch, &k);
	if (rc == ST_OK && deleted != NULL)
		*deleted = k;
	return rc;
}

void
store_event_free(struct store_event *e)
{
	if (e == NULL)
		return;
	free(e->kind);
	free(e->outcome);
	free(e->reason);
	free(e->client_id);
	free(e->user);
	free(e->state);
	free(e->peer);
	free(e->detail);
	free(e->method);
	free(e->description);
	free(e);
}

void
store_event_list_free(struct store_event **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_event_free(v[i]);
	free(v);
}

enum status
store_gc(struct store *st, int64_t now, unsigned batch, unsigned *deleted)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL || batch == 0)
		return ST_INVALID;
	rc = st->ops->gc(st, now, batch, &k);
	if (rc == ST_OK && deleted != NULL)
		*deleted = k;
	return rc;
}
