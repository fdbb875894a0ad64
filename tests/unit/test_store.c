/*
 * The store, against a temporary SQLite file and "sqlite::memory:": each
 * store test runs once per backend target (see main()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "crypto/sec.h"
#include "store/store.h"
#include "store/store_int.h" /* sqlite_migrations: an old schema */

#define NOW 1700000000LL
#define HOUR_S 3600
#define THREADS 4
#define PER_THREAD 2000
#define DUPS 500

enum target { T_FILE, T_MEMORY };

static const enum target target_file = T_FILE;
static const enum target target_memory = T_MEMORY;

struct fx {
	enum target target;
	char dir[64];   /* T_FILE: mkdtemp directory */
	char path[128]; /* T_FILE: the database file */
	char url[160];
	struct store *st;
};

/* Helpers. */

static void
rm_dir(const char *dir)
{
	static const char *const names[] = {"store.db", "store.db-wal",
	                                    "store.db-shm", "store.db-journal",
	                                    "file"};
	char p[256];

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		(void)unlink(p);
	}
	(void)rmdir(dir);
}

static void
fx_init(struct fx *f, enum target t)
{
	memset(f, 0, sizeof(*f));
	f->target = t;
	if (t == T_MEMORY) {
		snprintf(f->url, sizeof(f->url), "sqlite::memory:");
		return;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/plugauth-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
}

static struct store *
open_ok(const char *url)
{
	struct store *st = NULL;
	char err[256];

	err[0] = 'x';
	if (store_create(url, &st, err, sizeof(err)) != ST_OK)
		fail_msg("store_create(%s): %s", url, err);
	assert_non_null(st);
	return st;
}

static int
setup(void **state)
{
	const enum target *t = *state;
	struct fx *f;
	unsigned applied = 0;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	fx_init(f, *t);
	f->st = open_ok(f->url);
	assert_int_equal(store_migrate(f->st, &applied, NULL, 0), ST_OK);
	assert_true(applied >= 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	if (f->target == T_FILE)
		rm_dir(f->dir);
	free(f);
	return 0;
}

/* A digest made from a label, so tests can name tokens. */
static void
digest_of(const char *label, int i, uint8_t out[SEC_DIGEST_BYTES])
{
	char buf[64];
	int n;

	n = snprintf(buf, sizeof(buf), "%s-%d", label, i);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	sec_digest(buf, (size_t)n, out);
}

static void
add_client(struct store *st, const char *id, enum status want)
{
	struct store_client c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	c.name = (char *)(uintptr_t) "Test client";
	digest_of("secret", 1, c.secret_digest);
	c.redirect_uris = (char *)(uintptr_t) "https://a.example/cb\n"
	                                      "https://b.example/cb";
	c.scope = (char *)(uintptr_t) "todo.read todo.write";
	assert_int_equal(store_client_add(st, &c), want);
}

static int64_t
add_user(struct store *st, const char *name)
{
	int64_t id = 0;

	assert_int_equal(store_user_add(st, name, "$argon2id$v=19$fake", &id),
	                 ST_OK);
	assert_true(id > 0);
	return id;
}

static void
add_token(struct store *st, const char *label, int i, const char *client,
          int64_t user, int64_t expires_at)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	digest_of(label, i, t.digest);
	t.kind = STORE_TOKEN_ACCESS;
	t.client_id = (char *)(uintptr_t)client;
	t.user_id = user;
	t.scope = (char *)(uintptr_t) "todo.read";
	t.expires_at = expires_at;
	t.created_at = NOW;
	assert_int_equal(store_token_add(st, &t), ST_OK);
}

static enum status
token_status(struct store *st, const char *label, int i,
             struct store_token **out)
{
	uint8_t d[SEC_DIGEST_BYTES];

	digest_of(label, i, d);
	return store_token_get(st, d, out);
}

static uint64_t
live(struct store *st, int64_t now)
{
	uint64_t n = 12345;

	assert_int_equal(store_token_count_live(st, now, &n), ST_OK);
	return n;
}

/* Tests run on both targets. */

static void
test_migrate(void **state)
{
	const enum target *t = *state;
	struct fx f;
	struct store *st;
	unsigned have = 99, want = 0, applied = 99;
	struct store_client *c = NULL;

	fx_init(&f, *t);
	st = open_ok(f.url);
	assert_string_equal(store_backend(st), "sqlite");

	/* Open does not migrate. */
	assert_int_equal(store_schema_version(st, &have, &want), ST_OK);
	assert_int_equal(have, 0);
	assert_true(want >= 1);
	assert_int_not_equal(store_client_get(st, "x", &c), ST_OK);

	assert_int_equal(store_migrate(st, &applied, NULL, 0), ST_OK);
	assert_int_equal(applied, want);
	assert_int_equal(store_schema_version(st, &have, NULL), ST_OK);
	assert_int_equal(have, want);

	/* Again: nothing to do. */
	applied = 99;
	assert_int_equal(store_migrate(st, &applied, NULL, 0), ST_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(store_migrate(st, NULL, NULL, 0), ST_OK);
	assert_int_equal(store_schema_version(st, &have, &want), ST_OK);
	assert_int_equal(have, want);

	/* The schema works. */
	add_client(st, "c1", ST_OK);
	assert_int_equal(store_client_get(st, "c1", &c), ST_OK);
	store_client_free(c);

	store_close(st);
	if (f.target == T_FILE)
		rm_dir(f.dir);
}

static void
test_client(void **state)
{
	struct fx *f = *state;
	struct store_client *c = NULL, **v = NULL;
	struct store_client pub;
	uint8_t d[SEC_DIGEST_BYTES], d1[SEC_DIGEST_BYTES];
	size_t n = 99;

	assert_int_equal(store_client_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 0);
	store_client_list_free(v, n);

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c1", ST_EXISTS);

	memset(&pub, 0, sizeof(pub));
	snprintf(pub.id, sizeof(pub.id), "c2");
	pub.name = (char *)(uintptr_t) "Public \"quoted\" ' name";
	pub.is_public = true;
	pub.chatgpt = true;
	pub.created_at = NOW + 10; /* listed after c1 (created now) */
	assert_int_equal(store_client_add(f->st, &pub), ST_OK);

	assert_int_equal(store_client_get(f->st, "c1", &c), ST_OK);
	assert_string_equal(c->id, "c1");
	assert_string_equal(c->name, "Test client");
	assert_false(c->is_public);
	assert_false(c->chatgpt);
	digest_of("secret", 1, d1);
	assert_memory_equal(c->secret_digest, d1, SEC_DIGEST_BYTES);
	assert_string_equal(c->redirect_uris,
	                    "https://a.example/cb\nhttps://b.example/cb");
	assert_string_equal(c->scope, "todo.read todo.write");
	assert_true(c->created_at >= clk_now_s() - 60);
	store_client_free(c);
	c = NULL;

	assert_int_equal(store_client_get(f->st, "c2", &c), ST_OK);
	assert_true(c->is_public);
	assert_true(c->chatgpt);
	assert_string_equal(c->name, "Public \"quoted\" ' name");
	assert_string_equal(c->redirect_uris, "");
	assert_string_equal(c->scope, "");
	assert_int_equal(c->created_at, NOW + 10);
	memset(d, 0, sizeof(d));
	assert_memory_equal(c->secret_digest, d, SEC_DIGEST_BYTES);
	store_client_free(c);
	c = NULL;

	assert_int_equal(store_client_get(f->st, "nope", &c), ST_NOTFOUND);
	assert_null(c);

	/* Oldest first: c2 was created at NOW + 10, before c1 (now). */
	assert_int_equal(store_client_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->id, "c2");
	assert_string_equal(v[1]->id, "c1");
	store_client_list_free(v, n);

	digest_of("secret", 2, d);
	assert_int_equal(store_client_set_secret(f->st, "c1", d, 0), ST_OK);
	assert_int_equal(store_client_set_secret(f->st, "nope", d, 0),
	                 ST_NOTFOUND);
	assert_int_equal(store_client_get(f->st, "c1", &c), ST_OK);
	assert_memory_equal(c->secret_digest, d, SEC_DIGEST_BYTES);
	store_client_free(c);
	c = NULL;

	assert_int_equal(store_client_remove(f->st, "c1"), ST_OK);
	assert_int_equal(store_client_remove(f->st, "c1"), ST_NOTFOUND);
	assert_int_equal(store_client_get(f->st, "c1", &c), ST_NOTFOUND);
	assert_int_equal(store_client_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->id, "c2");
	store_client_list_free(v, n);

	/* The id may be taken again once free. */
	add_client(f->st, "c1", ST_OK);
}

static void
test_user(void **state)
{
	struct fx *f = *state;
	struct store_user *u = NULL, **v = NULL;
	int64_t alice, bob, id = 0;
	size_t n = 99;

	assert_int_equal(store_user_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 0);
	store_user_list_free(v, n);

	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	assert_true(bob != alice);
	assert_int_equal(store_user_add(f->st, "alice", "$argon2id$other", &id),
	                 ST_EXISTS);
	assert_int_equal(id, 0); /* untouched on error */

	assert_int_equal(store_user_get(f->st, "alice", &u), ST_OK);
	assert_int_equal(u->id, alice);
	assert_string_equal(u->name, "alice");
	assert_string_equal(u->password_hash, "$argon2id$v=19$fake");
	assert_true(u->created_at >= clk_now_s() - 60);
	store_user_free(u);
	u = NULL;

	assert_int_equal(store_user_get_by_id(f->st, bob, &u), ST_OK);
	assert_string_equal(u->name, "bob");
	store_user_free(u);
	u = NULL;
	assert_int_equal(store_user_get(f->st, "carol", &u), ST_NOTFOUND);
	assert_int_equal(store_user_get(f->st, "Alice", &u), ST_NOTFOUND);
	assert_int_equal(store_user_get_by_id(f->st, bob + 100, &u),
	                 ST_NOTFOUND);
	assert_int_equal(store_user_get_by_id(f->st, 0, &u), ST_NOTFOUND);
	assert_null(u);

	assert_int_equal(store_user_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->name, "alice");
	assert_string_equal(v[1]->name, "bob");
	store_user_list_free(v, n);

	assert_int_equal(
	    store_user_set_password(f->st, "alice", "$argon2id$new"), ST_OK);
	assert_int_equal(store_user_set_password(f->st, "carol", "$argon2id$x"),
	                 ST_NOTFOUND);
	assert_int_equal(store_user_get(f->st, "alice", &u), ST_OK);
	assert_string_equal(u->password_hash, "$argon2id$new");
	store_user_free(u);
	u = NULL;

	assert_int_equal(store_user_remove(f->st, "alice"), ST_OK);
	assert_int_equal(store_user_remove(f->st, "alice"), ST_NOTFOUND);
	assert_int_equal(store_user_get(f->st, "alice", &u), ST_NOTFOUND);
	assert_int_equal(store_user_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->name, "bob");
	store_user_list_free(v, n);

	/* Invalid input never reaches the database. */
	assert_int_equal(store_user_add(f->st, "", "$argon2id$x", NULL),
	                 ST_INVALID);
	assert_int_equal(store_user_add(f->st, "dave", "", NULL), ST_INVALID);
}

static void
test_token_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_token t, *g = NULL;
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");

	memset(&t, 0, sizeof(t));
	digest_of("rt", 1, t.digest);
	t.kind = STORE_TOKEN_REFRESH;
	t.client_id = (char *)(uintptr_t) "c1";
	t.user_id = alice;
	t.scope = (char *)(uintptr_t) "todo.read todo.write";
	t.audience = (char *)(uintptr_t) "https://api.example/mcp";
	t.family_id = 42;
	t.expires_at = NOW + HOUR_S;
	t.rotated_at = NOW - 5;
	t.created_at = NOW;
	assert_int_equal(store_token_add(f->st, &t), ST_OK);
	assert_int_equal(store_token_add(f->st, &t), ST_EXISTS);

	assert_int_equal(store_token_get(f->st, t.digest, &g), ST_OK);
	assert_memory_equal(g->digest, t.digest, SEC_DIGEST_BYTES);
	assert_int_equal(g->kind, STORE_TOKEN_REFRESH);
	assert_string_equal(g->client_id, "c1");
	assert_int_equal(g->user_id, alice);
	assert_string_equal(g->scope, "todo.read todo.write");
	assert_string_equal(g->audience, "https://api.example/mcp");
	assert_int_equal(g->family_id, 42);
	assert_int_equal(g->expires_at, NOW + HOUR_S);
	assert_int_equal(g->revoked_at, 0);
	assert_int_equal(g->rotated_at, NOW - 5);
	assert_int_equal(g->created_at, NOW);
	store_token_free(g);
	g = NULL;

	/* No user, no audience (client_credentials). */
	add_token(f->st, "at", 1, "c1", 0, NOW - 1);
	assert_int_equal(token_status(f->st, "at", 1, &g), ST_OK);
	assert_int_equal(g->kind, STORE_TOKEN_ACCESS);
	assert_int_equal(g->user_id, 0);
	assert_null(g->audience);
	assert_int_equal(g->family_id, 0);
	assert_int_equal(g->expires_at, NOW - 1); /* expired: returned */
	store_token_free(g);
	g = NULL;

	assert_int_equal(token_status(f->st, "at", 2, &g), ST_NOTFOUND);
	assert_null(g);

	/* Unknown client or user: nothing to attach the token to. */
	memset(&t, 0, sizeof(t));
	digest_of("orphan", 1, t.digest);
	t.kind = STORE_TOKEN_ACCESS;
	t.client_id = (char *)(uintptr_t) "nope";
	t.scope = (char *)(uintptr_t) "";
	t.expires_at = NOW + HOUR_S;
	assert_int_equal(store_token_add(f->st, &t), ST_NOTFOUND);
	t.client_id = (char *)(uintptr_t) "c1";
	t.user_id = alice + 100;
	assert_int_equal(store_token_add(f->st, &t), ST_NOTFOUND);
	t.user_id = alice;
	t.kind = (enum store_token_kind)7;
	assert_int_equal(store_token_add(f->st, &t), ST_INVALID);
	assert_int_equal(token_status(f->st, "orphan", 1, &g), ST_NOTFOUND);
}

static void
test_token_revoke(void **state)
{
	struct fx *f = *state;
	struct store_token *g = NULL;
	int64_t alice, bob;
	unsigned n = 99;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");

	for (int i = 0; i < 3; i++)
		add_token(f->st, "alice-c1", i, "c1", alice, NOW + HOUR_S);
	for (int i = 0; i < 2; i++)
		add_token(f->st, "alice-c2", i, "c2", alice, NOW + HOUR_S);
	for (int i = 0; i < 4; i++)
		add_token(f->st, "bob-c1", i, "c1", bob, NOW + HOUR_S);
	add_token(f->st, "alice-old", 0, "c1", alice, NOW - 10);
	add_token(f->st, "nouser", 0, "c2", 0, NOW + HOUR_S);
	assert_int_equal(live(f->st, NOW), 10);

	/* Expired tokens are not live, so not counted. */
	assert_int_equal(store_token_revoke_user(f->st, alice, NOW, &n), ST_OK);
	assert_int_equal(n, 5);
	assert_int_equal(live(f->st, NOW), 5);
	assert_int_equal(token_status(f->st, "alice-c2", 1, &g), ST_OK);
	assert_int_equal(g->revoked_at, NOW);
	store_token_free(g);
	g = NULL;
	assert_int_equal(token_status(f->st, "bob-c1", 0, &g), ST_OK);
	assert_int_equal(g->revoked_at, 0);
	store_token_free(g);
	g = NULL;

	/* Revoking again: nothing live is left; the time is kept. */
	assert_int_equal(store_token_revoke_user(f->st, alice, NOW + 5, &n),
	                 ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(token_status(f->st, "alice-c1", 0, &g), ST_OK);
	assert_int_equal(g->revoked_at, NOW);
	store_token_free(g);
	g = NULL;

	/* By client: bob's four on c1 (alice's are revoked already). */
	assert_int_equal(store_token_revoke_client(f->st, "c1", NOW, &n),
	                 ST_OK);
	assert_int_equal(n, 4);
	assert_int_equal(live(f->st, NOW), 1);
	assert_int_equal(store_token_revoke_client(f->st, "c2", NOW, NULL),
	                 ST_OK);
	assert_int_equal(live(f->st, NOW), 0);
	assert_int_equal(store_token_revoke_client(f->st, "nope", NOW, &n),
	                 ST_OK);
	assert_int_equal(n, 0);
}

static void
test_remove_cascades(void **state)
{
	struct fx *f = *state;
	struct store_token *g = NULL;
	int64_t alice, bob;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	add_token(f->st, "t", 1, "c1", alice, NOW + HOUR_S);
	add_token(f->st, "t", 2, "c1", 0, NOW + HOUR_S);
	add_token(f->st, "t", 3, "c2", alice, NOW + HOUR_S);
	add_token(f->st, "t", 4, "c2", bob, NOW + HOUR_S);
	assert_int_equal(live(f->st, NOW), 4);

	assert_int_equal(store_client_remove(f->st, "c1"), ST_OK);
	assert_int_equal(token_status(f->st, "t", 1, &g), ST_NOTFOUND);
	assert_int_equal(token_status(f->st, "t", 2, &g), ST_NOTFOUND);
	assert_int_equal(live(f->st, NOW), 2);

	assert_int_equal(store_user_remove(f->st, "alice"), ST_OK);
	assert_int_equal(token_status(f->st, "t", 3, &g), ST_NOTFOUND);
	assert_int_equal(token_status(f->st, "t", 4, &g), ST_OK);
	assert_int_equal(g->user_id, bob);
	store_token_free(g);
	assert_int_equal(live(f->st, NOW), 1);
}

static void
test_count_live(void **state)
{
	struct fx *f = *state;
	unsigned n;

	add_client(f->st, "c1", ST_OK);
	assert_int_equal(live(f->st, NOW), 0);
	for (int i = 0; i < 5; i++)
		add_token(f->st, "live", i, "c1", 0, NOW + 100 + i);
	add_token(f->st, "dead", 0, "c1", 0, NOW - 1);
	add_token(f->st, "edge", 0, "c1", 0, NOW); /* expires now */
	assert_int_equal(live(f->st, NOW), 5);
	assert_int_equal(live(f->st, NOW + 102), 2);
	assert_int_equal(live(f->st, NOW + 1000), 0);
	assert_int_equal(live(f->st, NOW - 100), 7);

	assert_int_equal(store_token_revoke_client(f->st, "c1", NOW, &n),
	                 ST_OK);
	assert_int_equal(n, 5);
	assert_int_equal(live(f->st, NOW - 100), 2); /* the unrevoked */
}

static void
test_gc(void **state)
{
	struct fx *f = *state;
	struct store_token *g = NULL;
	unsigned n = 99;

	add_client(f->st, "c1", ST_OK);
	for (int i = 0; i < 10; i++)
		add_token(f->st, "old", i, "c1", 0, NOW - 100 + i);
	for (int i = 0; i < 3; i++)
		add_token(f->st, "new", i, "c1", 0, NOW + 1 + i);
	add_token(f->st, "revoked", 0, "c1", 0, NOW + HOUR_S);
	assert_int_equal(store_token_revoke_client(f->st, "c1", NOW, NULL),
	                 ST_OK);

	/* Bounded batches: 4, 4, 2, then nothing. */
	assert_int_equal(store_gc(f->st, NOW, 4, &n), ST_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_gc(f->st, NOW, 4, &n), ST_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_gc(f->st, NOW, 4, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_gc(f->st, NOW, 4, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_gc(f->st, NOW, 4, NULL), ST_OK);

	for (int i = 0; i < 10; i++)
		assert_int_equal(token_status(f->st, "old", i, &g),
		                 ST_NOTFOUND);
	/* Unexpired rows stay, revoked or not, until they expire. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(token_status(f->st, "new", i, &g), ST_OK);
		store_token_free(g);
		g = NULL;
	}
	assert_int_equal(token_status(f->st, "revoked", 0, &g), ST_OK);
	store_token_free(g);
	g = NULL;

	assert_int_equal(store_gc(f->st, NOW + 2, 100, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(token_status(f->st, "new", 2, &g), ST_OK);
	store_token_free(g);
}

struct worker {
	struct store *st;
	int id;
	int failures;
};

static void *
worker_main(void *p)
{
	struct worker *w = p;
	struct store_token t, *g;

	memset(&t, 0, sizeof(t));
	t.kind = STORE_TOKEN_ACCESS;
	t.client_id = (char *)(uintptr_t) "c1";
	t.scope = (char *)(uintptr_t) "todo.read";
	t.expires_at = NOW + HOUR_S;
	t.created_at = NOW;
	for (int i = 0; i < PER_THREAD; i++) {
		digest_of(w->id % 2 ? "odd" : "even", w->id * PER_THREAD + i,
		          t.digest);
		if (store_token_add(w->st, &t) != ST_OK)
			w->failures++;
		/* Reads interleave with the other threads' writes. */
		if (i % 100 == 0) {
			g = NULL;
			if (store_token_get(w->st, t.digest, &g) != ST_OK)
				w->failures++;
			store_token_free(g);
		}
	}
	return NULL;
}

static void
test_concurrent_inserts(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct worker w[THREADS];

	add_client(f->st, "c1", ST_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.st = f->st, .id = i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(live(f->st, NOW), THREADS * PER_THREAD);

	/* The threads' connections are gone; the store still works. */
	add_token(f->st, "after", 0, "c1", 0, NOW + HOUR_S);
	assert_int_equal(live(f->st, NOW), THREADS * PER_THREAD + 1);

	if (f->target == T_FILE) {
		struct stat sb;
		char wal[160];

		/* Checkpoints kept the WAL small: without them these
		 * inserts would leave well over 64 MiB in it. */
		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_int_equal(stat(wal, &sb), 0);
		print_message("wal after %d inserts: %lld KiB\n",
		              THREADS * PER_THREAD,
		              (long long)sb.st_size / 1024);
		assert_true(sb.st_size < 32 * 1024 * 1024);
	}
}

struct dup_worker {
	struct store *st;
	int ok, exists, other;
};

static void *
dup_main(void *p)
{
	struct dup_worker *w = p;
	struct store_token t;
	enum status rc;

	memset(&t, 0, sizeof(t));
	t.kind = STORE_TOKEN_REFRESH;
	t.client_id = (char *)(uintptr_t) "c1";
	t.scope = (char *)(uintptr_t) "";
	t.expires_at = NOW + HOUR_S;
	for (int i = 0; i < DUPS; i++) {
		digest_of("shared", i, t.digest);
		rc = store_token_add(w->st, &t);
		if (rc == ST_OK)
			w->ok++;
		else if (rc == ST_EXISTS)
			w->exists++;
		else
			w->other++;
	}
	return NULL;
}

/* Every thread inserts the same digests: one wins each, the others get
 * ST_EXISTS, and a duplicate sharing a commit with others fails alone. */
static void
test_concurrent_duplicates(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct dup_worker w[THREADS];
	int ok = 0, exists = 0;

	add_client(f->st, "c1", ST_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct dup_worker){.st = f->st};
		assert_int_equal(pthread_create(&th[i], NULL, dup_main, &w[i]),
		                 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].other, 0);
		ok += w[i].ok;
		exists += w[i].exists;
	}
	assert_int_equal(ok, DUPS);
	assert_int_equal(exists, (THREADS - 1) * DUPS);
	assert_int_equal(live(f->st, NOW), DUPS);
}

/* Issue, rotate, revoke. */

/* Fills t as a token of label-i; strings borrowed from literals. */
static void
token_of(struct store_token *t, const char *label, int i,
         enum store_token_kind kind, const char *client, int64_t user,
         int64_t family, int64_t expires_at)
{
	memset(t, 0, sizeof(*t));
	digest_of(label, i, t->digest);
	t->kind = kind;
	t->client_id = (char *)(uintptr_t)client;
	t->user_id = user;
	t->scope = (char *)(uintptr_t) "todo.read";
	t->family_id = family;
	t->expires_at = expires_at;
	t->created_at = NOW;
}

/* The token label-i, which must exist: *out is new. */
static struct store_token *
token_must(struct store *st, const char *label, int i)
{
	struct store_token *g = NULL;

	assert_int_equal(token_status(st, label, i, &g), ST_OK);
	assert_non_null(g);
	return g;
}

static int64_t
revoked_at(struct store *st, const char *label, int i)
{
	struct store_token *g = token_must(st, label, i);
	int64_t r = g->revoked_at;

	store_token_free(g);
	return r;
}

static int64_t
rotated_at(struct store *st, const char *label, int i)
{
	struct store_token *g = token_must(st, label, i);
	int64_t r = g->rotated_at;

	store_token_free(g);
	return r;
}

static bool
token_exists(struct store *st, const char *label, int i)
{
	struct store_token *g = NULL;
	enum status rc;

	rc = token_status(st, label, i, &g);
	assert_true(rc == ST_OK || rc == ST_NOTFOUND);
	store_token_free(g);
	return rc == ST_OK;
}

static void
test_tokens_issue(void **state)
{
	struct fx *f = *state;
	struct store_token v[2], *g;
	uint8_t rt[SEC_DIGEST_BYTES], nope[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");

	/* The code exchange: an access and a refresh token, no rotate. */
	token_of(&v[0], "at", 1, STORE_TOKEN_ACCESS, "c1", alice, 7,
	         NOW + HOUR_S);
	token_of(&v[1], "rt", 1, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + 30 * HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW, v, 2), ST_OK);
	g = token_must(f->st, "rt", 1);
	assert_int_equal(g->kind, STORE_TOKEN_REFRESH);
	assert_int_equal(g->family_id, 7);
	assert_int_equal(g->user_id, alice);
	assert_int_equal(g->rotated_at, 0);
	store_token_free(g);
	assert_int_equal(live(f->st, NOW), 2);

	/* A refresh: rt-1 is spent, rt-2 and at-2 issued. */
	digest_of("rt", 1, rt);
	token_of(&v[0], "at", 2, STORE_TOKEN_ACCESS, "c1", alice, 7,
	         NOW + HOUR_S);
	token_of(&v[1], "rt", 2, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + 30 * HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 5, v, 2), ST_OK);
	assert_int_equal(rotated_at(f->st, "rt", 1), NOW + 5);
	assert_int_equal(rotated_at(f->st, "rt", 2), 0);
	assert_int_equal(live(f->st, NOW), 4);

	/* Spending it again is refused, and stores nothing. */
	token_of(&v[0], "at", 3, STORE_TOKEN_ACCESS, "c1", alice, 7,
	         NOW + HOUR_S);
	token_of(&v[1], "rt", 3, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + 30 * HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 9, v, 2),
	                 ST_DENIED);
	assert_int_equal(rotated_at(f->st, "rt", 1), NOW + 5); /* kept */
	assert_false(token_exists(f->st, "at", 3));
	assert_false(token_exists(f->st, "rt", 3));
	assert_int_equal(live(f->st, NOW), 4);
	/* A retry within the grace window spends nothing: the caller
	 * passes no rotate. */
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW + 9, v, 2), ST_OK);
	assert_true(token_exists(f->st, "at", 3));
	assert_true(token_exists(f->st, "rt", 3));
	assert_int_equal(live(f->st, NOW), 6);

	/* Only a live refresh token is spent: not an access token, nor an
	 * unknown digest, an expired or a revoked token. */
	token_of(&v[0], "at", 4, STORE_TOKEN_ACCESS, "c1", alice, 7,
	         NOW + HOUR_S);
	digest_of("at", 1, nope);
	assert_int_equal(store_tokens_issue(f->st, nope, NOW, v, 1), ST_DENIED);
	assert_int_equal(rotated_at(f->st, "at", 1), 0);
	digest_of("nope", 1, nope);
	assert_int_equal(store_tokens_issue(f->st, nope, NOW, v, 1), ST_DENIED);
	assert_int_equal(store_tokens_issue(f->st, nope, NOW, NULL, 0),
	                 ST_DENIED);
	digest_of("rt", 3, nope);
	assert_int_equal(
	    store_tokens_issue(f->st, nope, NOW + 30 * HOUR_S, v, 1),
	    ST_DENIED);
	assert_int_equal(rotated_at(f->st, "rt", 3), 0);
	assert_false(token_exists(f->st, "at", 4));
	/* Rotating alone, without issuing; then it is spent. */
	digest_of("rt", 2, rt);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 20, NULL, 0),
	                 ST_OK);
	assert_int_equal(rotated_at(f->st, "rt", 2), NOW + 20);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 21, NULL, 0),
	                 ST_DENIED);

	/* Invalid input never reaches the database. */
	assert_int_equal(store_tokens_issue(f->st, rt, 0, v, 2), ST_INVALID);
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW, NULL, 1),
	                 ST_INVALID);
	v[1].kind = (enum store_token_kind)9;
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW, v, 2),
	                 ST_INVALID);
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW, NULL, 0), ST_OK);
	assert_int_equal(live(f->st, NOW), 6);
}

/* A call's rows and its rotate are stored together or not at all. */
static void
test_tokens_issue_atomic(void **state)
{
	struct fx *f = *state;
	struct store_token v[3];
	uint8_t rt[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	token_of(&v[0], "rt", 1, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, NULL, NOW, v, 1), ST_OK);
	digest_of("rt", 1, rt);

	/* The last row is a duplicate: nothing of the call stays. */
	token_of(&v[0], "new", 1, STORE_TOKEN_ACCESS, "c1", alice, 7,
	         NOW + HOUR_S);
	token_of(&v[1], "new", 2, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + HOUR_S);
	token_of(&v[2], "rt", 1, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 1, v, 3),
	                 ST_EXISTS);
	assert_false(token_exists(f->st, "new", 1));
	assert_false(token_exists(f->st, "new", 2));
	assert_int_equal(rotated_at(f->st, "rt", 1), 0);

	/* Unknown client or user: ST_NOTFOUND, nothing stored. */
	token_of(&v[1], "new", 2, STORE_TOKEN_REFRESH, "nope", alice, 7,
	         NOW + HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 1, v, 2),
	                 ST_NOTFOUND);
	token_of(&v[1], "new", 2, STORE_TOKEN_REFRESH, "c1", alice + 50, 7,
	         NOW + HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 1, v, 2),
	                 ST_NOTFOUND);
	assert_false(token_exists(f->st, "new", 1));
	assert_int_equal(rotated_at(f->st, "rt", 1), 0);
	assert_int_equal(live(f->st, NOW), 1);

	/* The same call, fixed, goes through. */
	token_of(&v[1], "new", 2, STORE_TOKEN_REFRESH, "c1", alice, 7,
	         NOW + HOUR_S);
	assert_int_equal(store_tokens_issue(f->st, rt, NOW + 1, v, 2), ST_OK);
	assert_int_equal(rotated_at(f->st, "rt", 1), NOW + 1);
	assert_int_equal(live(f->st, NOW), 3);
}

#define ROUNDS 50

struct rot_worker {
	struct store *st;
	pthread_barrier_t *start;
	int id;
	int rotated; /* rounds in which this thread rotated */
	int wins[ROUNDS];
	int failures;
};

/* Each round, every thread spends the same refresh token round-r. */
static void *
rot_main(void *p)
{
	struct rot_worker *w = p;
	struct store_token v[2];
	uint8_t rt[SEC_DIGEST_BYTES];
	enum status rc;

	for (int r = 0; r < ROUNDS; r++) {
		digest_of("round", r, rt);
		token_of(&v[0], "rot-at", w->id * ROUNDS + r,
		         STORE_TOKEN_ACCESS, "c1", 0, 7, NOW + HOUR_S);
		token_of(&v[1], "rot-rt", w->id * ROUNDS + r,
		         STORE_TOKEN_REFRESH, "c1", 0, 7, NOW + HOUR_S);
		pthread_barrier_wait(w->start);
		rc = store_tokens_issue(w->st, rt, NOW + 1 + r, v, 2);
		if (rc != ST_OK && rc != ST_DENIED)
			w->failures++;
		w->wins[r] = rc == ST_OK;
		w->rotated += rc == ST_OK;
	}
	return NULL;
}

static void
test_concurrent_rotate(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct rot_worker w[THREADS];
	pthread_barrier_t start;
	struct store_token t;
	int total = 0;

	add_client(f->st, "c1", ST_OK);
	for (int r = 0; r < ROUNDS; r++) {
		token_of(&t, "round", r, STORE_TOKEN_REFRESH, "c1", 0, 7,
		         NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
	}
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = f->st;
		w[i].start = &start;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, rot_main, &w[i]),
		                 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		total += w[i].rotated;
	}
	pthread_barrier_destroy(&start);
	/* Exactly one spend per round, and only its tokens stored. */
	for (int r = 0; r < ROUNDS; r++) {
		int wins = 0;

		for (int i = 0; i < THREADS; i++) {
			wins += w[i].wins[r];
			assert_int_equal(
			    token_exists(f->st, "rot-rt", i * ROUNDS + r),
			    w[i].wins[r]);
		}
		assert_int_equal(wins, 1);
		assert_true(rotated_at(f->st, "round", r) >= NOW + 1);
	}
	assert_int_equal(total, ROUNDS);
	assert_int_equal(live(f->st, NOW), ROUNDS + ROUNDS * 2);
}

struct atomic_worker {
	struct store *st;
	pthread_barrier_t *start;
	int id;
	int ok, exists, other;
};

/* Each round, every thread issues [its own token, the round's shared
 * token]: one call wins, and the others' own tokens must not stay. */
static void *
atomic_main(void *p)
{
	struct atomic_worker *w = p;
	struct store_token v[2];
	enum status rc;

	for (int r = 0; r < ROUNDS; r++) {
		token_of(&v[0], "own", w->id * ROUNDS + r, STORE_TOKEN_ACCESS,
		         "c1", 0, 0, NOW + HOUR_S);
		token_of(&v[1], "shared", r, STORE_TOKEN_REFRESH, "c1", 0, 7,
		         NOW + HOUR_S);
		pthread_barrier_wait(w->start);
		rc = store_tokens_issue(w->st, NULL, NOW, v, 2);
		if (rc == ST_OK)
			w->ok++;
		else if (rc == ST_EXISTS)
			w->exists++;
		else
			w->other++;
	}
	return NULL;
}

static void
test_concurrent_issue_atomic(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct atomic_worker w[THREADS];
	pthread_barrier_t start;
	int ok = 0, own = 0;

	add_client(f->st, "c1", ST_OK);
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct atomic_worker){
		    .st = f->st, .start = &start, .id = i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, atomic_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].other, 0);
		assert_int_equal(w[i].ok + w[i].exists, ROUNDS);
		ok += w[i].ok;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(ok, ROUNDS);
	for (int i = 0; i < THREADS * ROUNDS; i++)
		own += token_exists(f->st, "own", i);
	assert_int_equal(own, ROUNDS);
	assert_int_equal(live(f->st, NOW), 2 * ROUNDS);
}

static void
test_revoke_family(void **state)
{
	struct fx *f = *state;
	struct store_token t;
	int64_t alice;
	unsigned n = 99;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	for (int i = 0; i < 3; i++) {
		token_of(&t, "fam-a", i,
		         i % 2 ? STORE_TOKEN_REFRESH : STORE_TOKEN_ACCESS, "c1",
		         alice, 1001, NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
		token_of(&t, "fam-b", i, STORE_TOKEN_ACCESS, "c1", alice, 1002,
		         NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
		token_of(&t, "no-fam", i, STORE_TOKEN_ACCESS, "c1", 0, 0,
		         NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
	}
	token_of(&t, "fam-a-old", 0, STORE_TOKEN_ACCESS, "c1", alice, 1001,
	         NOW - 1);
	assert_int_equal(store_token_add(f->st, &t), ST_OK);
	token_of(&t, "fam-a-revoked", 0, STORE_TOKEN_ACCESS, "c1", alice, 1001,
	         NOW + HOUR_S);
	t.revoked_at = NOW - 50;
	assert_int_equal(store_token_add(f->st, &t), ST_OK);
	assert_int_equal(live(f->st, NOW), 9);

	/* Only family a's live tokens are revoked and counted. */
	assert_int_equal(store_token_revoke_family(f->st, 1001, NOW, &n),
	                 ST_OK);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(revoked_at(f->st, "fam-a", i), NOW);
		assert_int_equal(revoked_at(f->st, "fam-b", i), 0);
		assert_int_equal(revoked_at(f->st, "no-fam", i), 0);
	}
	assert_int_equal(revoked_at(f->st, "fam-a-old", 0), 0);
	assert_int_equal(revoked_at(f->st, "fam-a-revoked", 0), NOW - 50);
	assert_int_equal(live(f->st, NOW), 6);

	/* Again: nothing left. Family 0 is no family. Unknown: nothing. */
	assert_int_equal(store_token_revoke_family(f->st, 1001, NOW + 1, &n),
	                 ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_revoke_family(f->st, 0, NOW, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_revoke_family(f->st, 999, NOW, NULL),
	                 ST_OK);
	assert_int_equal(live(f->st, NOW), 6);
	assert_int_equal(store_token_revoke_family(f->st, 1002, 0, &n),
	                 ST_INVALID);
}

/* Issues [at-i, rt-i] of family fam (spending rotate, if not NULL). */
static enum status
issue_pair(struct store *st, const char *label, int i, int64_t user,
           int64_t fam, const uint8_t *rotate, int64_t now)
{
	struct store_token v[2];
	char at[32], rt[32];

	snprintf(at, sizeof(at), "%s-at", label);
	snprintf(rt, sizeof(rt), "%s-rt", label);
	token_of(&v[0], at, i, STORE_TOKEN_ACCESS, "c1", user, fam,
	         NOW + HOUR_S);
	token_of(&v[1], rt, i, STORE_TOKEN_REFRESH, "c1", user, fam,
	         NOW + 30 * HOUR_S);
	return store_tokens_issue(st, rotate, now, v, 2);
}

/* Whether family fam is recorded as revoked: an issue into it is refused.
 * Tries one with an access token that must not exist afterwards. */
static bool
family_revoked(struct store *st, int64_t fam)
{
	static int probes;
	struct store_token t;
	enum status rc;
	int i = probes++;

	token_of(&t, "probe", i, STORE_TOKEN_ACCESS, "c1", 0, fam,
	         NOW + HOUR_S);
	rc = store_token_add(st, &t);
	assert_true(rc == ST_OK || rc == ST_DENIED);
	assert_int_equal(token_exists(st, "probe", i), rc == ST_OK);
	return rc == ST_DENIED;
}

/*
 * RFC 9700 §4.14.2: nothing is issued into a revoked family, however it
 * was revoked, and the refused call stores nothing and spends nothing.
 */
static void
test_issue_revoked_family(void **state)
{
	struct fx *f = *state;
	struct store_token t;
	uint8_t rt[SEC_DIGEST_BYTES], d[SEC_DIGEST_BYTES];
	int64_t alice, bob;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	for (int fam = 1; fam <= 6; fam++)
		assert_int_equal(
		    issue_pair(f->st, "f", fam, alice, fam, NULL, NOW), ST_OK);
	/* Family 7 is bob's, family 8 on client c2. */
	assert_int_equal(issue_pair(f->st, "f", 7, bob, 7, NULL, NOW), ST_OK);
	token_of(&t, "c2-rt", 8, STORE_TOKEN_REFRESH, "c2", alice, 8,
	         NOW + HOUR_S);
	assert_int_equal(store_token_add(f->st, &t), ST_OK);

	/* A refresh read rt-1 live; then the family is revoked (reuse
	 * detected on another request); then the refresh commits. */
	assert_int_equal(store_token_revoke_family(f->st, 1, NOW + 1, NULL),
	                 ST_OK);
	digest_of("f-rt", 1, rt);
	assert_int_equal(issue_pair(f->st, "new", 1, alice, 1, rt, NOW + 2),
	                 ST_DENIED);
	assert_false(token_exists(f->st, "new-at", 1));
	assert_false(token_exists(f->st, "new-rt", 1));
	assert_int_equal(rotated_at(f->st, "f-rt", 1), 0);
	/* The same as a retry within the grace window: no rotate. */
	assert_int_equal(issue_pair(f->st, "new", 1, alice, 1, NULL, NOW + 2),
	                 ST_DENIED);
	assert_false(token_exists(f->st, "new-rt", 1));

	/* RFC 7009 revocation of a refresh token revokes its family. */
	digest_of("f-rt", 2, d);
	assert_int_equal(store_token_revoke(f->st, d, NOW + 1), ST_OK);
	assert_true(family_revoked(f->st, 2));
	/* Of an access token: that token only. */
	digest_of("f-at", 3, d);
	assert_int_equal(store_token_revoke(f->st, d, NOW + 1), ST_OK);
	assert_false(family_revoked(f->st, 3));
	digest_of("f-rt", 3, rt);
	assert_int_equal(issue_pair(f->st, "new", 3, alice, 3, rt, NOW + 2),
	                 ST_OK);

	/* plugauth token revoke --user: every family of the user's. */
	assert_int_equal(store_token_revoke_user(f->st, bob, NOW + 1, NULL),
	                 ST_OK);
	assert_true(family_revoked(f->st, 7));
	assert_false(family_revoked(f->st, 4));
	/* --client: every family of the client's. */
	assert_int_equal(store_token_revoke_client(f->st, "c2", NOW + 1, NULL),
	                 ST_OK);
	assert_true(family_revoked(f->st, 8));
	assert_false(family_revoked(f->st, 5));

	/* A family revoked before it has any token (a replayed code whose
	 * first redemption has not committed yet) stays revoked. */
	assert_int_equal(store_token_revoke_family(f->st, 9, NOW + 1, NULL),
	                 ST_OK);
	assert_int_equal(issue_pair(f->st, "new", 9, alice, 9, NULL, NOW + 2),
	                 ST_DENIED);
	assert_false(token_exists(f->st, "new-at", 9));

	/* Revoking again keeps the first time and keeps the record. */
	assert_int_equal(store_token_revoke_family(f->st, 1, NOW + 7, NULL),
	                 ST_OK);
	assert_true(family_revoked(f->st, 1));

	/* Other families, and tokens of no family, are not affected. */
	digest_of("f-rt", 6, rt);
	assert_int_equal(issue_pair(f->st, "new", 6, alice, 6, rt, NOW + 2),
	                 ST_OK);
	assert_false(family_revoked(f->st, 0));
	assert_int_equal(revoked_at(f->st, "new-rt", 6), 0);
	assert_int_equal(revoked_at(f->st, "f-rt", 4), 0);
}

struct fam_worker {
	struct store *st;
	pthread_barrier_t *start;
	int id;
	enum status rc[ROUNDS];
};

/* Each round, every thread issues one pair: even threads into family
 * 1000 + r, which the main thread revokes, odd ones into families of
 * their own. */
static void *
fam_main(void *p)
{
	struct fam_worker *w = p;
	int64_t fam;

	for (int r = 0; r < ROUNDS; r++) {
		fam = w->id % 2 ? 5000 + w->id * ROUNDS + r : 1000 + r;
		pthread_barrier_wait(w->start);
		w->rc[r] = issue_pair(w->st, "fam", w->id * ROUNDS + r, 0, fam,
		                      NULL, NOW);
	}
	return NULL;
}

/* Group commit: calls denied for their family fail alone; the others of
 * the same batch are stored. And a revocation racing issues leaves no
 * live token in the family, whichever comes first. */
static void
test_concurrent_issue_revoked_family(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS + 1];
	struct fam_worker w[THREADS];
	pthread_barrier_t start;
	uint64_t n;

	add_client(f->st, "c1", ST_OK);
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS + 1), 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = f->st;
		w[i].start = &start;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, fam_main, &w[i]),
		                 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		/* Half the rounds revoked before, half racing. */
		if (r % 2 == 0)
			assert_int_equal(store_token_revoke_family(
			                     f->st, 1000 + r, NOW, NULL),
			                 ST_OK);
		pthread_barrier_wait(&start);
		if (r % 2 == 1)
			assert_int_equal(store_token_revoke_family(
			                     f->st, 1000 + r, NOW, NULL),
			                 ST_OK);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < THREADS; i++) {
			int k = i * ROUNDS + r;

			if (i % 2) {
				assert_int_equal(w[i].rc[r], ST_OK);
				assert_int_equal(revoked_at(f->st, "fam-rt", k),
				                 0);
				continue;
			}
			if (r % 2 == 0)
				assert_int_equal(w[i].rc[r], ST_DENIED);
			else
				assert_true(w[i].rc[r] == ST_OK ||
				            w[i].rc[r] == ST_DENIED);
			/* Never live in the revoked family. */
			if (w[i].rc[r] == ST_OK)
				assert_int_equal(revoked_at(f->st, "fam-rt", k),
				                 NOW);
			else
				assert_false(token_exists(f->st, "fam-rt", k));
		}
	}
	/* Only the odd threads' pairs are live. */
	assert_int_equal(store_token_count_live(f->st, NOW, &n), ST_OK);
	assert_int_equal(n, (uint64_t)(THREADS / 2) * ROUNDS * 2);
}

/* The record of a revoked family goes STORE_FAMILY_KEEP_S after the last
 * token live at the revocation expires, not before. */
static void
test_gc_revoked_family(void **state)
{
	struct fx *f = *state;
	int64_t end = NOW + 30 * HOUR_S; /* the refresh token's expiry */
	unsigned n = 99;

	add_client(f->st, "c1", ST_OK);
	assert_int_equal(issue_pair(f->st, "g", 1, 0, 1, NULL, NOW), ST_OK);
	assert_int_equal(store_token_revoke_family(f->st, 1, NOW, NULL), ST_OK);
	/* An empty family is kept STORE_FAMILY_KEEP_S after revocation. */
	assert_int_equal(store_token_revoke_family(f->st, 2, NOW, NULL), ST_OK);

	assert_int_equal(
	    store_gc(f->st, NOW + STORE_FAMILY_KEEP_S - 1, 100, &n), ST_OK);
	assert_int_equal(n, 1); /* the access token */
	assert_true(family_revoked(f->st, 2));
	assert_int_equal(store_gc(f->st, NOW + STORE_FAMILY_KEEP_S, 100, &n),
	                 ST_OK);
	assert_int_equal(n, 1); /* family 2 */
	assert_false(family_revoked(f->st, 2));

	assert_int_equal(
	    store_gc(f->st, end + STORE_FAMILY_KEEP_S - 1, 100, &n), ST_OK);
	assert_true(family_revoked(f->st, 1));
	assert_int_equal(store_gc(f->st, end + STORE_FAMILY_KEEP_S, 100, &n),
	                 ST_OK);
	assert_false(family_revoked(f->st, 1));
}

static void
test_token_revoke_one(void **state)
{
	struct fx *f = *state;
	struct store_token t;
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	for (int fam = 1; fam <= 2; fam++) {
		token_of(&t, "at", fam, STORE_TOKEN_ACCESS, "c1", alice, fam,
		         NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
		token_of(&t, "rt", fam, STORE_TOKEN_REFRESH, "c1", alice, fam,
		         NOW + HOUR_S);
		assert_int_equal(store_token_add(f->st, &t), ST_OK);
	}
	token_of(&t, "at", 3, STORE_TOKEN_ACCESS, "c1", alice, 1, NOW + HOUR_S);
	assert_int_equal(store_token_add(f->st, &t), ST_OK);

	/* An access token: just itself, not its family's refresh token. */
	digest_of("at", 1, d);
	assert_int_equal(store_token_revoke(f->st, d, NOW), ST_OK);
	assert_int_equal(revoked_at(f->st, "at", 1), NOW);
	assert_int_equal(revoked_at(f->st, "rt", 1), 0);
	assert_int_equal(revoked_at(f->st, "at", 3), 0);

	/* A refresh token: its whole family, and only it. */
	digest_of("rt", 1, d);
	assert_int_equal(store_token_revoke(f->st, d, NOW + 5), ST_OK);
	assert_int_equal(revoked_at(f->st, "rt", 1), NOW + 5);
	assert_int_equal(revoked_at(f->st, "at", 3), NOW + 5);
	assert_int_equal(revoked_at(f->st, "at", 1), NOW); /* kept */
	assert_int_equal(revoked_at(f->st, "at", 2), 0);
	assert_int_equal(revoked_at(f->st, "rt", 2), 0);

	/* Again: nothing live, still ST_OK. Unknown: ST_NOTFOUND. */
	assert_int_equal(store_token_revoke(f->st, d, NOW + 9), ST_OK);
	assert_int_equal(revoked_at(f->st, "rt", 1), NOW + 5);
	digest_of("nope", 1, d);
	assert_int_equal(store_token_revoke(f->st, d, NOW), ST_NOTFOUND);
	assert_int_equal(store_token_revoke(f->st, d, 0), ST_INVALID);
	assert_int_equal(live(f->st, NOW + 10), 2);
}

/* Codes. */

static void
code_of(struct store_code *c, const char *label, int i, const char *client,
        int64_t user, int64_t expires_at)
{
	memset(c, 0, sizeof(*c));
	digest_of(label, i, c->digest);
	c->client_id = (char *)(uintptr_t)client;
	c->user_id = user;
	c->redirect_uri = (char *)(uintptr_t) "https://a.example/cb";
	c->scope = (char *)(uintptr_t) "todo.read todo.write";
	c->family_id = 4242;
	c->expires_at = expires_at;
	c->created_at = NOW;
}

static enum status
take(struct store *st, const char *label, int i, int64_t now,
     struct store_code **out)
{
	uint8_t d[SEC_DIGEST_BYTES];

	digest_of(label, i, d);
	return store_code_take(st, d, now, out);
}

static void
test_code(void **state)
{
	struct fx *f = *state;
	struct store_code c, *g = NULL;
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	code_of(&c, "code", 1, "c1", alice, NOW + 120);
	c.code_challenge =
	    (char *)(uintptr_t) "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
	c.resource = (char *)(uintptr_t) "https://api.example/mcp";
	c.state = (char *)(uintptr_t) "st-1";
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(store_code_add(f->st, &c), ST_EXISTS);
	code_of(&c, "code", 2, "c1", alice, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);

	/* First take: as it was, unused. */
	assert_int_equal(take(f->st, "code", 1, NOW + 3, &g), ST_OK);
	assert_non_null(g);
	digest_of("code", 1, c.digest);
	assert_memory_equal(g->digest, c.digest, SEC_DIGEST_BYTES);
	assert_string_equal(g->client_id, "c1");
	assert_int_equal(g->user_id, alice);
	assert_string_equal(g->redirect_uri, "https://a.example/cb");
	assert_string_equal(g->scope, "todo.read todo.write");
	assert_string_equal(g->code_challenge,
	                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	assert_string_equal(g->resource, "https://api.example/mcp");
	assert_string_equal(g->state, "st-1");
	assert_int_equal(g->family_id, 4242);
	assert_int_equal(g->expires_at, NOW + 120);
	assert_int_equal(g->used_at, 0);
	assert_int_equal(g->created_at, NOW);
	store_code_free(g);
	g = NULL;

	/* A replay sees when it was used, and the time stays the first. */
	assert_int_equal(take(f->st, "code", 1, NOW + 7, &g), ST_OK);
	assert_int_equal(g->used_at, NOW + 3);
	assert_int_equal(g->family_id, 4242);
	store_code_free(g);
	g = NULL;
	assert_int_equal(take(f->st, "code", 1, NOW + 8, &g), ST_OK);
	assert_int_equal(g->used_at, NOW + 3);
	store_code_free(g);
	g = NULL;

	/* The other code is untouched; no challenge or resource: NULL. */
	assert_int_equal(take(f->st, "code", 2, NOW + 9, &g), ST_OK);
	assert_int_equal(g->used_at, 0);
	assert_null(g->code_challenge);
	assert_null(g->resource);
	assert_null(g->state);
	store_code_free(g);
	g = NULL;

	/* Expired codes are still taken: the caller checks expires_at. */
	code_of(&c, "old", 1, "c1", alice, NOW - 1);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(take(f->st, "old", 1, NOW, &g), ST_OK);
	assert_int_equal(g->used_at, 0);
	store_code_free(g);
	g = NULL;

	assert_int_equal(take(f->st, "code", 3, NOW, &g), ST_NOTFOUND);
	assert_null(g);
	assert_int_equal(take(f->st, "code", 1, 0, &g), ST_INVALID);
	store_code_free(NULL);

	/* Unknown client or user. */
	code_of(&c, "orphan", 1, "nope", alice, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_NOTFOUND);
	code_of(&c, "orphan", 1, "c1", alice + 9, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_NOTFOUND);
	assert_int_equal(take(f->st, "orphan", 1, NOW, &g), ST_NOTFOUND);

	/* Codes go with their client. */
	assert_int_equal(store_client_remove(f->st, "c1"), ST_OK);
	assert_int_equal(take(f->st, "code", 2, NOW, &g), ST_NOTFOUND);
}

#define CODES 100

struct take_worker {
	struct store *st;
	pthread_barrier_t *start;
	int first[CODES]; /* 1 if this thread saw code i unused */
	int failures;
};

static void *
take_main(void *p)
{
	struct take_worker *w = p;
	struct store_code *g;

	for (int i = 0; i < CODES; i++) {
		pthread_barrier_wait(w->start);
		g = NULL;
		if (take(w->st, "race", i, NOW + 1, &g) != ST_OK) {
			w->failures++;
			continue;
		}
		w->first[i] = g->used_at == 0;
		store_code_free(g);
	}
	return NULL;
}

static void
test_concurrent_code_take(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct take_worker w[THREADS];
	pthread_barrier_t start;
	struct store_code c;
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	for (int i = 0; i < CODES; i++) {
		code_of(&c, "race", i, "c1", alice, NOW + 120);
		assert_int_equal(store_code_add(f->st, &c), ST_OK);
	}
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = f->st;
		w[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, take_main, &w[i]),
		                 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	pthread_barrier_destroy(&start);
	for (int i = 0; i < CODES; i++) {
		int firsts = 0;

		for (int k = 0; k < THREADS; k++)
			firsts += w[k].first[i];
		assert_int_equal(firsts, 1);
	}
}

/* The code's tokens: [at-i, rt-i] of the code's family 4242, alice's. */
static void
code_tokens(struct store_token v[2], const char *label, int i, int64_t user)
{
	char at[32], rt[32];

	snprintf(at, sizeof(at), "%s-at", label);
	snprintf(rt, sizeof(rt), "%s-rt", label);
	token_of(&v[0], at, i, STORE_TOKEN_ACCESS, "c1", user, 4242,
	         NOW + HOUR_S);
	token_of(&v[1], rt, i, STORE_TOKEN_REFRESH, "c1", user, 4242,
	         NOW + 30 * HOUR_S);
}

static int64_t
code_used_at(struct store *st, const char *label, int i)
{
	struct store_code *g = NULL;
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t used;

	digest_of(label, i, d);
	assert_int_equal(store_code_get(st, d, &g), ST_OK);
	used = g->used_at;
	store_code_free(g);
	return used;
}

/*
 * store_code_redeem(): the code is marked used and its tokens stored in
 * one transaction. If storing fails, the code stays unused (the client's
 * retry works); once redeemed, a second redemption fails and stores
 * nothing.
 */
/* `token revoke --user` / `--client` also stop the codes issued before it
 * and not yet redeemed: redeeming one is refused afterwards. */
static void
test_revoke_covers_unredeemed_codes(void **state)
{
	struct fx *f = *state;
	struct store_code c;
	struct store_token v[2];
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	code_of(&c, "code", 1, "c1", alice, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(store_token_revoke_user(f->st, alice, NOW + 1, NULL),
	                 ST_OK);
	digest_of("code", 1, d);
	code_tokens(v, "c", 1, alice);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 2, v, 2), ST_DENIED);
	assert_false(token_exists(f->st, "c-at", 1));

	/* By client: a code of another family, revoked through its client. */
	code_of(&c, "code", 2, "c1", alice, NOW + 120);
	c.family_id = 4343;
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(store_token_revoke_client(f->st, "c1", NOW + 3, NULL),
	                 ST_OK);
	digest_of("code", 2, d);
	code_tokens(v, "c", 2, alice);
	v[0].family_id = v[1].family_id = 4343;
	assert_int_equal(store_code_redeem(f->st, d, NOW + 4, v, 2), ST_DENIED);
	assert_false(token_exists(f->st, "c-at", 2));
}

static void
test_code_redeem(void **state)
{
	struct fx *f = *state;
	struct store_code c, *g = NULL;
	struct store_token v[2];
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	code_of(&c, "code", 1, "c1", alice, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	digest_of("code", 1, d);

	/* Read without spending it. */
	assert_int_equal(store_code_get(f->st, d, &g), ST_OK);
	assert_string_equal(g->client_id, "c1");
	assert_int_equal(g->family_id, 4242);
	assert_int_equal(g->used_at, 0);
	store_code_free(g);
	g = NULL;
	assert_int_equal(code_used_at(f->st, "code", 1), 0);

	/* The insert fails (a digest taken): nothing stored, not spent. */
	code_tokens(v, "x", 1, alice);
	assert_int_equal(store_token_add(f->st, &v[1]), ST_OK);
	code_tokens(v, "c", 1, alice);
	digest_of("x-rt", 1, v[1].digest);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 1, v, 2), ST_EXISTS);
	assert_false(token_exists(f->st, "c-at", 1));
	assert_int_equal(code_used_at(f->st, "code", 1), 0);
	/* The user is gone meanwhile (as a failed commit would do). */
	code_tokens(v, "c", 1, alice + 100);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 1, v, 2),
	                 ST_NOTFOUND);
	assert_false(token_exists(f->st, "c-at", 1));
	assert_int_equal(code_used_at(f->st, "code", 1), 0);

	/* The retry redeems it: spent and stored together. */
	code_tokens(v, "c", 1, alice);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 2, v, 2), ST_OK);
	assert_int_equal(code_used_at(f->st, "code", 1), NOW + 2);
	assert_true(token_exists(f->st, "c-at", 1));
	assert_true(token_exists(f->st, "c-rt", 1));

	/* Again: a replay, refused; nothing stored, the time kept. */
	code_tokens(v, "c", 2, alice);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 3, v, 2), ST_DENIED);
	assert_false(token_exists(f->st, "c-at", 2));
	assert_int_equal(code_used_at(f->st, "code", 1), NOW + 2);
	/* store_code_take() sees it used, as before. */
	assert_int_equal(take(f->st, "code", 1, NOW + 4, &g), ST_OK);
	assert_int_equal(g->used_at, NOW + 2);
	store_code_free(g);
	g = NULL;

	/* Into a revoked family: refused, and the code stays unused. */
	code_of(&c, "code", 2, "c1", alice, NOW + 120);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(store_token_revoke_family(f->st, 4242, NOW + 5, NULL),
	                 ST_OK);
	digest_of("code", 2, d);
	assert_int_equal(store_code_redeem(f->st, d, NOW + 6, v, 2), ST_DENIED);
	assert_false(token_exists(f->st, "c-at", 2));
	assert_int_equal(code_used_at(f->st, "code", 2), 0);

	/* Unknown code; bad input. */
	digest_of("code", 3, d);
	assert_int_equal(store_code_get(f->st, d, &g), ST_NOTFOUND);
	assert_null(g);
	assert_int_equal(store_code_redeem(f->st, d, NOW, v, 2), ST_NOTFOUND);
	assert_false(token_exists(f->st, "c-at", 2));
	assert_int_equal(store_code_redeem(f->st, d, 0, v, 2), ST_INVALID);
	assert_int_equal(store_code_redeem(f->st, NULL, NOW, v, 2), ST_INVALID);
	assert_int_equal(store_code_get(f->st, NULL, &g), ST_INVALID);
}

struct redeem_worker {
	struct store *st;
	pthread_barrier_t *start;
	int id;
	int64_t user;
	enum status rc[CODES];
};

static void *
redeem_main(void *p)
{
	struct redeem_worker *w = p;
	struct store_token v[2];
	uint8_t d[SEC_DIGEST_BYTES];

	for (int i = 0; i < CODES; i++) {
		digest_of("race", i, d);
		code_tokens(v, "red", w->id * CODES + i, w->user);
		pthread_barrier_wait(w->start);
		w->rc[i] = store_code_redeem(w->st, d, NOW + 1, v, 2);
	}
	return NULL;
}

/* Of concurrent redemptions of one code exactly one stores its tokens. */
static void
test_concurrent_code_redeem(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct redeem_worker w[THREADS];
	pthread_barrier_t start;
	struct store_code c;
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	for (int i = 0; i < CODES; i++) {
		code_of(&c, "race", i, "c1", alice, NOW + 120);
		assert_int_equal(store_code_add(f->st, &c), ST_OK);
	}
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = f->st;
		w[i].start = &start;
		w[i].id = i;
		w[i].user = alice;
		assert_int_equal(
		    pthread_create(&th[i], NULL, redeem_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < CODES; i++) {
		int wins = 0;

		for (int k = 0; k < THREADS; k++) {
			assert_true(w[k].rc[i] == ST_OK ||
			            w[k].rc[i] == ST_DENIED);
			wins += w[k].rc[i] == ST_OK;
			assert_int_equal(
			    token_exists(f->st, "red-rt", k * CODES + i),
			    w[k].rc[i] == ST_OK);
		}
		assert_int_equal(wins, 1);
		assert_int_equal(code_used_at(f->st, "race", i), NOW + 1);
	}
	assert_int_equal(live(f->st, NOW), 2 * CODES);
}

/* Consents and sessions. */

static void
test_consent(void **state)
{
	struct fx *f = *state;
	char *scope = NULL;
	int64_t alice, bob;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");

	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope),
	                 ST_NOTFOUND);
	assert_null(scope);
	assert_int_equal(
	    store_consent_set(f->st, alice, "c1", "todo.read", NOW), ST_OK);
	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope), ST_OK);
	assert_string_equal(scope, "todo.read");
	free(scope);
	scope = NULL;

	/* Overwrite: the new scope replaces the old one. */
	assert_int_equal(store_consent_set(f->st, alice, "c1",
	                                   "todo.write todo.read", NOW + 1),
	                 ST_OK);
	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope), ST_OK);
	assert_string_equal(scope, "todo.write todo.read");
	free(scope);
	scope = NULL;
	assert_int_equal(store_consent_set(f->st, alice, "c1", "", NOW + 2),
	                 ST_OK);
	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope), ST_OK);
	assert_string_equal(scope, "");
	free(scope);
	scope = NULL;

	/* Per user and client. */
	assert_int_equal(store_consent_get(f->st, alice, "c2", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_get(f->st, bob, "c1", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_set(f->st, bob, "c1", "x", NOW), ST_OK);
	assert_int_equal(store_consent_set(f->st, bob, "c2", "y", NOW), ST_OK);

	/* Unknown user or client. */
	assert_int_equal(store_consent_set(f->st, bob + 7, "c1", "x", NOW),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_set(f->st, bob, "nope", "x", NOW),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_get(f->st, 0, "c1", &scope),
	                 ST_NOTFOUND);

	/* Removing a user or a client takes its consents along. */
	assert_int_equal(store_user_remove(f->st, "alice"), ST_OK);
	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_client_remove(f->st, "c2"), ST_OK);
	assert_int_equal(store_consent_get(f->st, bob, "c2", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_get(f->st, bob, "c1", &scope), ST_OK);
	assert_string_equal(scope, "x");
	free(scope);
}

static void
session_of(struct store_session *s, int i, int64_t user, int64_t expires_at)
{
	memset(s, 0, sizeof(*s));
	digest_of("session", i, s->digest);
	s->user_id = user;
	s->expires_at = expires_at;
	s->created_at = NOW;
}

static void
test_session(void **state)
{
	struct fx *f = *state;
	struct store_session s, *g = NULL;
	int64_t alice;

	alice = add_user(f->st, "alice");
	session_of(&s, 1, 0, NOW + 100); /* not signed in yet */
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	assert_int_equal(store_session_add(f->st, &s), ST_EXISTS);
	session_of(&s, 2, alice, NOW + 200);
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	session_of(&s, 3, alice + 5, NOW + 200);
	assert_int_equal(store_session_add(f->st, &s), ST_NOTFOUND);

	digest_of("session", 1, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g), ST_OK);
	assert_memory_equal(g->digest, s.digest, SEC_DIGEST_BYTES);
	assert_int_equal(g->user_id, 0);
	assert_int_equal(g->expires_at, NOW + 100);
	assert_int_equal(g->created_at, NOW);
	free(g);
	g = NULL;

	digest_of("session", 2, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW + 199, &g),
	                 ST_OK);
	assert_int_equal(g->user_id, alice);
	free(g);
	g = NULL;
	/* Expired at expires_at. */
	assert_int_equal(store_session_get(f->st, s.digest, NOW + 200, &g),
	                 ST_NOTFOUND);
	assert_null(g);

	assert_int_equal(store_session_delete(f->st, s.digest), ST_OK);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g),
	                 ST_NOTFOUND);
	assert_int_equal(store_session_delete(f->st, s.digest), ST_NOTFOUND);
	digest_of("session", 3, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g),
	                 ST_NOTFOUND);

	/* The other session is still there; a removed user's are not. */
	digest_of("session", 1, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g), ST_OK);
	free(g);
	g = NULL;
	session_of(&s, 4, alice, NOW + 200);
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	assert_int_equal(store_user_remove(f->st, "alice"), ST_OK);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g),
	                 ST_NOTFOUND);
}

/* plugauth user passwd: every session of the user goes, no one else's. */
static void
test_session_delete_user(void **state)
{
	struct fx *f = *state;
	struct store_session s, *g = NULL;
	int64_t alice, bob;
	unsigned n = 99;

	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	for (int i = 0; i < 3; i++) {
		session_of(&s, i, alice, NOW + 100 + i);
		assert_int_equal(store_session_add(f->st, &s), ST_OK);
	}
	session_of(&s, 3, bob, NOW + 100);
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	session_of(&s, 4, 0, NOW + 100); /* not signed in */
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	session_of(&s, 5, alice, NOW - 1); /* expired, still there */
	assert_int_equal(store_session_add(f->st, &s), ST_OK);

	assert_int_equal(store_session_delete_user(f->st, alice, &n), ST_OK);
	assert_int_equal(n, 4);
	for (int i = 0; i < 6; i++) {
		digest_of("session", i, s.digest);
		assert_int_equal(
		    store_session_get(f->st, s.digest, NOW - 10, &g),
		    i == 3 || i == 4 ? ST_OK : ST_NOTFOUND);
		free(g);
		g = NULL;
	}
	/* None left; no such user; no user. */
	assert_int_equal(store_session_delete_user(f->st, alice, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_session_delete_user(f->st, bob + 9, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_session_delete_user(f->st, 0, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_session_delete_user(f->st, bob, NULL), ST_OK);
	digest_of("session", 4, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &g), ST_OK);
	free(g);
	assert_int_equal(store_session_delete_user(NULL, bob, NULL),
	                 ST_INVALID);
}

/* Events. */

static void
event_of(struct store_event *e, int64_t at, const char *kind,
         const char *client, const char *user, const char *state)
{
	memset(e, 0, sizeof(*e));
	e->at = at;
	e->kind = (char *)(uintptr_t)kind;
	e->outcome = (char *)(uintptr_t) "ok";
	e->reason = (char *)(uintptr_t) "because";
	e->client_id = (char *)(uintptr_t)client;
	e->user = (char *)(uintptr_t)user;
	e->state = (char *)(uintptr_t)state;
	e->peer = (char *)(uintptr_t) "127.0.0.1";
}

/* Lists with f and checks the events' at values, in order. */
static void
list_expect(struct store *st, const struct store_event_filter *f,
            const int64_t *want, size_t nwant, int64_t *last_id)
{
	struct store_event **v = NULL;
	size_t n = 999;

	assert_int_equal(store_events_list(st, f, &v, &n), ST_OK);
	assert_non_null(v);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i]->at, want[i]);
		if (i > 0)
			assert_true(v[i]->id > v[i - 1]->id);
	}
	if (last_id != NULL && n > 0)
		*last_id = v[n - 1]->id;
	store_event_list_free(v, n);
}

static void
test_events(void **state)
{
	struct fx *f = *state;
	struct store_event e[8], **v = NULL;
	struct store_event_filter flt;
	int64_t last = 0;
	size_t n = 0;

	/* at = NOW + i tells the events apart. */
	event_of(&e[0], NOW + 0, "authorize", "c1", NULL, "s1");
	event_of(&e[1], NOW + 1, "login", "c1", "alice", "s1");
	event_of(&e[2], NOW + 2, "authorize", "c2", NULL, "s2");
	event_of(&e[3], NOW + 3, "code", "c1", "alice", "s1");
	event_of(&e[4], NOW + 4, "token", "c1", "alice", NULL);
	event_of(&e[5], NOW + 5, "login", "c2", "bob", "s2");
	event_of(&e[6], NOW + 6, "token", "c2", "bob", NULL);
	event_of(&e[7], NOW + 7, "token", NULL, NULL, NULL);
	e[7].outcome = (char *)(uintptr_t) "invalid_client";
	e[7].reason = NULL;
	e[7].peer = NULL;
	e[1].detail = (char *)(uintptr_t) "https://x.example/c b";
	e[1].method = (char *)(uintptr_t) "basic";
	e[1].description = (char *)(uintptr_t) "The sentence.";
	assert_int_equal(store_events_add(f->st, e, 5), ST_OK);
	assert_int_equal(store_events_add(f->st, e + 5, 3), ST_OK);

	/* Everything, oldest first. */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 100;
	list_expect(f->st, &flt,
	            (const int64_t[]){NOW, NOW + 1, NOW + 2, NOW + 3, NOW + 4,
	                              NOW + 5, NOW + 6, NOW + 7},
	            8, &last);

	/* Fields come back, NULLs as NULL. */
	assert_int_equal(store_events_list(f->st, &flt, &v, &n), ST_OK);
	assert_string_equal(v[1]->kind, "login");
	assert_string_equal(v[1]->outcome, "ok");
	assert_string_equal(v[1]->reason, "because");
	assert_string_equal(v[1]->client_id, "c1");
	assert_string_equal(v[1]->user, "alice");
	assert_string_equal(v[1]->state, "s1");
	assert_string_equal(v[1]->peer, "127.0.0.1");
	assert_string_equal(v[1]->detail, "https://x.example/c b");
	assert_string_equal(v[1]->method, "basic");
	assert_string_equal(v[1]->description, "The sentence.");
	assert_null(v[0]->detail);
	assert_null(v[0]->method);
	assert_null(v[0]->description);
	assert_null(v[0]->user);
	assert_string_equal(v[7]->outcome, "invalid_client");
	assert_null(v[7]->reason);
	assert_null(v[7]->client_id);
	assert_null(v[7]->state);
	assert_null(v[7]->peer);
	assert_int_equal(v[7]->id, last);
	store_event_list_free(v, n);

	/* The newest limit, still oldest first. */
	flt.limit = 3;
	list_expect(f->st, &flt, (const int64_t[]){NOW + 5, NOW + 6, NOW + 7},
	            3, NULL);

	/* Each filter, and together. */
	flt.limit = 100;
	flt.client_id = "c1";
	list_expect(f->st, &flt,
	            (const int64_t[]){NOW, NOW + 1, NOW + 3, NOW + 4}, 4, NULL);
	flt.limit = 2;
	list_expect(f->st, &flt, (const int64_t[]){NOW + 3, NOW + 4}, 2, NULL);
	flt.limit = 100;
	flt.client_id = NULL;
	flt.user = "bob";
	list_expect(f->st, &flt, (const int64_t[]){NOW + 5, NOW + 6}, 2, NULL);
	flt.user = NULL;
	flt.state = "s1";
	list_expect(f->st, &flt, (const int64_t[]){NOW, NOW + 1, NOW + 3}, 3,
	            NULL);
	flt.client_id = "c1";
	flt.user = "alice";
	list_expect(f->st, &flt, (const int64_t[]){NOW + 1, NOW + 3}, 2, NULL);
	flt.state = NULL;
	list_expect(f->st, &flt, (const int64_t[]){NOW + 1, NOW + 3, NOW + 4},
	            3, NULL);
	flt.client_id = "c2";
	list_expect(f->st, &flt, NULL, 0, NULL);
	flt.client_id = NULL;
	flt.user = "nobody";
	list_expect(f->st, &flt, NULL, 0, NULL);

	/* after_id: only newer ones (events --follow). */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 100;
	flt.after_id = last;
	list_expect(f->st, &flt, NULL, 0, NULL);
	event_of(&e[0], NOW + 8, "authorize", "c1", NULL, "s3");
	event_of(&e[1], NOW + 9, "authorize", "c2", NULL, "s4");
	assert_int_equal(store_events_add(f->st, e, 2), ST_OK);
	list_expect(f->st, &flt, (const int64_t[]){NOW + 8, NOW + 9}, 2, NULL);
	flt.client_id = "c2";
	list_expect(f->st, &flt, (const int64_t[]){NOW + 9}, 1, NULL);
	flt.client_id = NULL;
	flt.limit = 1;
	list_expect(f->st, &flt, (const int64_t[]){NOW + 9}, 1, NULL);

	/* Bad input. */
	flt.limit = 0;
	assert_int_equal(store_events_list(f->st, &flt, &v, &n), ST_INVALID);
	flt.limit = STORE_EVENT_LIST_MAX + 1;
	assert_int_equal(store_events_list(f->st, &flt, &v, &n), ST_INVALID);
	event_of(&e[0], NOW, NULL, "c1", NULL, NULL);
	assert_int_equal(store_events_add(f->st, e, 1), ST_INVALID);
	assert_int_equal(store_events_add(f->st, NULL, 0), ST_OK);
	store_event_list_free(NULL, 0);
}

/*
 * A listing that fails part-way, after some rows were read, frees those
 * rows and reports the error (it used to free a stack address and abort).
 * The fault: events becomes a view whose row 1 raises an integer
 * overflow when read, so the newest-first listing reads two rows first.
 */
static void
test_events_list_fails_part_way(void **state)
{
	static const char fault[] =
	    "ALTER TABLE events RENAME TO events_real;"
	    "CREATE VIEW events AS SELECT id,"
	    " CASE WHEN id = 1 THEN abs(-9223372036854775807 - 1) ELSE at END"
	    " AS at, kind, outcome, reason, client_id, user, state, peer,"
	    " detail, method, description"
	    " FROM events_real;";
	struct fx *f = *state;
	struct store_event e[3], **v = NULL;
	struct store_event_filter flt;
	sqlite3 *db;
	size_t n = 0;

	event_of(&e[0], NOW, "authorize", "c1", NULL, "s1");
	event_of(&e[1], NOW + 1, "login", "c1", "alice", "s1");
	event_of(&e[2], NOW + 2, "token", "c1", "alice", NULL);
	assert_int_equal(store_events_add(f->st, e, 3), ST_OK);
	store_close(f->st);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, fault, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f->st = open_ok(f->url);

	memset(&flt, 0, sizeof(flt));
	flt.limit = 100;
	assert_int_not_equal(store_events_list(f->st, &flt, &v, &n), ST_OK);
	assert_null(v);
	/* Newer than row 1: read whole. */
	flt.after_id = 1;
	assert_int_equal(store_events_list(f->st, &flt, &v, &n), ST_OK);
	assert_int_equal(n, 2);
	store_event_list_free(v, n);
}

/* gc of codes, sessions and events, and event ids after it. */
static void
test_gc_codes_sessions_events(void **state)
{
	struct fx *f = *state;
	struct store_code c, *g = NULL;
	struct store_session s, *sg = NULL;
	struct store_event e;
	struct store_event_filter flt;
	int64_t alice, last = 0, first_new = 0;
	unsigned n = 99;

	add_client(f->st, "c1", ST_OK);
	alice = add_user(f->st, "alice");
	/* Codes: kept until STORE_CODE_KEEP_S after expiry, used or not. */
	code_of(&c, "gone", 0, "c1", alice, NOW - STORE_CODE_KEEP_S - 1);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	code_of(&c, "gone", 1, "c1", alice, NOW - STORE_CODE_KEEP_S);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	code_of(&c, "kept", 0, "c1", alice, NOW - STORE_CODE_KEEP_S + 1);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	assert_int_equal(take(f->st, "kept", 0, NOW - 100, &g), ST_OK);
	store_code_free(g);
	g = NULL;
	code_of(&c, "kept", 1, "c1", alice, NOW + 100);
	assert_int_equal(store_code_add(f->st, &c), ST_OK);
	/* Sessions: until they expire. */
	for (int i = 0; i < 3; i++) {
		session_of(&s, i, alice, NOW - i); /* 0: expires now */
		assert_int_equal(store_session_add(f->st, &s), ST_OK);
	}
	session_of(&s, 3, 0, NOW + 1);
	assert_int_equal(store_session_add(f->st, &s), ST_OK);
	/* Events: STORE_EVENT_KEEP_S. */
	for (int i = 0; i < 5; i++) {
		event_of(&e, NOW - STORE_EVENT_KEEP_S - i, "old", NULL, NULL,
		         NULL);
		assert_int_equal(store_events_add(f->st, &e, 1), ST_OK);
	}
	event_of(&e, NOW - STORE_EVENT_KEEP_S + 1, "recent", NULL, NULL, NULL);
	assert_int_equal(store_events_add(f->st, &e, 1), ST_OK);

	/* Bounded: at most 2 rows per table per call. */
	assert_int_equal(store_gc(f->st, NOW, 2, &n), ST_OK);
	assert_int_equal(n, 2 + 2 + 2); /* codes, sessions, events */
	assert_int_equal(store_gc(f->st, NOW, 2, &n), ST_OK);
	assert_int_equal(n, 1 + 2); /* a session, two events */
	assert_int_equal(store_gc(f->st, NOW, 2, &n), ST_OK);
	assert_int_equal(n, 1); /* the last old event */
	assert_int_equal(store_gc(f->st, NOW, 2, &n), ST_OK);
	assert_int_equal(n, 0);

	assert_int_equal(take(f->st, "gone", 0, NOW, &g), ST_NOTFOUND);
	assert_int_equal(take(f->st, "gone", 1, NOW, &g), ST_NOTFOUND);
	/* A used code still tells a replay from an unknown code. */
	assert_int_equal(take(f->st, "kept", 0, NOW, &g), ST_OK);
	assert_int_equal(g->used_at, NOW - 100);
	store_code_free(g);
	g = NULL;
	assert_int_equal(take(f->st, "kept", 1, NOW, &g), ST_OK);
	store_code_free(g);
	for (int i = 0; i < 3; i++) {
		digest_of("session", i, s.digest);
		assert_int_equal(
		    store_session_get(f->st, s.digest, NOW - 100, &sg),
		    ST_NOTFOUND); /* gone, not just expired */
	}
	digest_of("session", 3, s.digest);
	assert_int_equal(store_session_get(f->st, s.digest, NOW, &sg), ST_OK);
	free(sg);
	memset(&flt, 0, sizeof(flt));
	flt.limit = 100;
	list_expect(f->st, &flt,
	            (const int64_t[]){NOW - STORE_EVENT_KEEP_S + 1}, 1, &last);

	/* Ids are never reused, even once gc has emptied the table. */
	assert_int_equal(store_gc(f->st, NOW + STORE_EVENT_KEEP_S, 100, &n),
	                 ST_OK);
	list_expect(f->st, &flt, NULL, 0, NULL);
	event_of(&e, NOW + STORE_EVENT_KEEP_S, "new", NULL, NULL, NULL);
	assert_int_equal(store_events_add(f->st, &e, 1), ST_OK);
	flt.after_id = last;
	list_expect(f->st, &flt, (const int64_t[]){NOW + STORE_EVENT_KEEP_S}, 1,
	            &first_new);
	assert_true(first_new > last);
}

/* File only. */

static void
test_file_created_0600(void **state)
{
	struct fx *f = *state;
	struct stat sb;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
test_file_wal_and_reopen(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	sqlite3_stmt *s;
	unsigned have = 0, want = 0, applied = 99;

	add_client(f->st, "c1", ST_OK);
	add_token(f->st, "kept", 0, "c1", 0, NOW + HOUR_S);

	/* Committed before returning: another connection sees it now. */
	assert_int_equal(
	    sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM tokens", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);

	store_close(f->st);
	f->st = open_ok(f->url);
	assert_int_equal(store_schema_version(f->st, &have, &want), ST_OK);
	assert_int_equal(have, want);
	assert_int_equal(store_migrate(f->st, &applied, NULL, 0), ST_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(live(f->st, NOW), 1);
}

static void
test_file_newer_schema(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	unsigned have = 0, want = 0, applied = 77;
	char err[256];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_schema_version(f->st, &have, &want), ST_OK);
	assert_int_equal(have, 999);
	assert_true(want < 999);
	err[0] = '\0';
	assert_int_equal(store_migrate(f->st, &applied, err, sizeof(err)),
	                 ST_STORE);
	assert_int_equal(applied, 77);
	/* The reason reaches the user. */
	assert_non_null(strstr(err, "schema version 999 is newer"));
	assert_non_null(strstr(err, "upgrade plugauth"));
	/* Nothing was changed. */
	assert_int_equal(store_schema_version(f->st, &have, NULL), ST_OK);
	assert_int_equal(have, 999);
}

/* A file database at schema version (migrations 1..version applied by
 * hand) holding rows, opened (not migrated) into f. */
static void
old_schema(struct fx *f, unsigned version, const char *rows)
{
	sqlite3 *db;
	char pragma[64];

	fx_init(f, T_FILE);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (unsigned v = 0; v < version; v++)
		assert_int_equal(
		    sqlite3_exec(db, sqlite_migrations[v], NULL, NULL, NULL),
		    SQLITE_OK);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", version);
	assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f->st = open_ok(f->url);
}

/* Migration 002 records the families revoked before it: those with a
 * revoked refresh token, not those with only a revoked access token. */
static void
test_migrate_revoked_families(void **state)
{
	static const char rows[] =
	    "INSERT INTO clients (id, name, created_at) VALUES ('c1', 'C', 1);"
	    "INSERT INTO tokens (digest, kind, client_id, scope, family_id,"
	    " expires_at, revoked_at, created_at) VALUES"
	    " (randomblob(32), 2, 'c1', '', 1, 1700003600, 1700000001, 1),"
	    " (randomblob(32), 1, 'c1', '', 1, 1700000100, 1700000001, 1),"
	    " (randomblob(32), 1, 'c1', '', 2, 1700003600, 1700000001, 1),"
	    " (randomblob(32), 2, 'c1', '', 2, 1700003600, 0, 1),"
	    " (randomblob(32), 2, 'c1', '', 3, 1700003600, 0, 1),"
	    " (randomblob(32), 1, 'c1', '', 0, 1700003600, 1700000001, 1);";
	struct fx f;
	unsigned applied = 0, have = 0, want = 0;

	(void)state;
	old_schema(&f, 1, rows);
	assert_int_equal(store_migrate(f.st, &applied, NULL, 0), ST_OK);
	assert_int_equal(store_schema_version(f.st, &have, &want), ST_OK);
	assert_int_equal(have, want);
	assert_int_equal(applied, want - 1);
	assert_true(family_revoked(f.st, 1));
	assert_false(family_revoked(f.st, 2));
	assert_false(family_revoked(f.st, 3));
	assert_false(family_revoked(f.st, 0));
	store_close(f.st);
	rm_dir(f.dir);
}

/* The grants of client id, which exists. */
static unsigned
grants_of(struct store *st, const char *id)
{
	struct store_client *c = NULL;
	unsigned g;

	assert_int_equal(store_client_get(st, id, &c), ST_OK);
	g = c->grants;
	store_client_free(c);
	return g;
}

/* Migration 003: ChatGPT and public clients lose client_credentials, other
 * confidential clients keep it; new clients get what they are given, the
 * default for 0, and never client_credentials if public or ChatGPT. */
static void
test_migrate_client_grants(void **state)
{
	static const char rows[] =
	    "INSERT INTO clients (id, name, is_public, secret_digest, chatgpt,"
	    " created_at) VALUES"
	    " ('gpt', 'G', 0, randomblob(32), 1, 1),"
	    " ('pub', 'P', 1, NULL, 0, 2),"
	    " ('conf', 'C', 0, randomblob(32), 0, 3);";
	struct fx f;
	struct store_client *c = NULL, n;

	(void)state;
	old_schema(&f, 2, rows);
	assert_int_equal(store_migrate(f.st, NULL, NULL, 0), ST_OK);
	assert_int_equal(grants_of(f.st, "gpt"), STORE_GRANTS_DEFAULT);
	assert_int_equal(grants_of(f.st, "pub"), STORE_GRANTS_DEFAULT);
	assert_int_equal(grants_of(f.st, "conf"), STORE_GRANTS_ALL);

	memset(&n, 0, sizeof(n));
	n.name = (char *)(uintptr_t) "N";
	snprintf(n.id, sizeof(n.id), "dflt");
	assert_int_equal(store_client_add(f.st, &n), ST_OK);
	assert_int_equal(grants_of(f.st, "dflt"), STORE_GRANTS_DEFAULT);
	snprintf(n.id, sizeof(n.id), "cc");
	n.grants = STORE_GRANT_CLIENT_CREDENTIALS;
	assert_int_equal(store_client_add(f.st, &n), ST_OK);
	assert_int_equal(grants_of(f.st, "cc"), STORE_GRANT_CLIENT_CREDENTIALS);
	snprintf(n.id, sizeof(n.id), "bad");
	n.chatgpt = true;
	assert_int_equal(store_client_add(f.st, &n), ST_INVALID);
	n.chatgpt = false;
	n.is_public = true;
	assert_int_equal(store_client_add(f.st, &n), ST_INVALID);
	n.is_public = false;
	n.grants = 0x10;
	assert_int_equal(store_client_add(f.st, &n), ST_INVALID);
	assert_int_equal(store_client_get(f.st, "bad", &c), ST_NOTFOUND);
	store_close(f.st);
	rm_dir(f.dir);
}

/* No fixture. */

static void
test_url_errors(void **state)
{
	struct store *st = NULL;
	char err[256];

	(void)state;
	assert_int_equal(
	    store_open("postgresql://u:hunter2@db/x", &st, err, sizeof(err)),
	    ST_INVALID);
	assert_string_equal(err, "PostgreSQL support is not built yet");
	assert_int_equal(store_open("postgres://db/x", &st, err, sizeof(err)),
	                 ST_INVALID);
	assert_string_equal(err, "PostgreSQL support is not built yet");

	assert_int_equal(
	    store_open("mysql://u:hunter2@db/x", &st, err, sizeof(err)),
	    ST_INVALID);
	assert_non_null(strstr(err, "mysql:"));
	assert_null(strstr(err, "hunter2")); /* never echo a password */

	assert_int_equal(store_open("plugauth.db", &st, err, sizeof(err)),
	                 ST_INVALID);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_open("sqlite:", &st, err, sizeof(err)),
	                 ST_INVALID);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_open(NULL, &st, NULL, 0), ST_INVALID);
	assert_null(st);
}

static void
test_unwritable_path(void **state)
{
	struct fx f;
	struct store *st = NULL;
	char url[256], err[256], file[160];
	FILE *fp;

	(void)state;
	fx_init(&f, T_FILE);
	/* A path below a regular file fails even for root. */
	snprintf(file, sizeof(file), "%s/file", f.dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(url, sizeof(url), "sqlite:%s/x.db", file);
	err[0] = '\0';
	assert_int_equal(store_open(url, &st, err, sizeof(err)), ST_STORE);
	assert_null(st);
	assert_non_null(strstr(err, "cannot open database "));
	assert_non_null(strstr(err, url + strlen("sqlite:")));
	assert_null(strchr(err, '\n'));

	/* A directory is not a database either. */
	snprintf(url, sizeof(url), "sqlite:%s", f.dir);
	assert_int_equal(store_open(url, &st, err, sizeof(err)), ST_STORE);
	assert_null(st);
	assert_non_null(strstr(err, "cannot open database "));

	rm_dir(f.dir);
}

/* store_open() never creates a database: a missing one is ST_NOTFOUND,
 * named in err, and nothing is left behind. store_create() makes it. */
static void
test_open_does_not_create(void **state)
{
	struct fx f;
	struct store *st = NULL;
	char err[256];
	struct stat sb;

	(void)state;
	fx_init(&f, T_FILE);
	err[0] = '\0';
	assert_int_equal(store_open(f.url, &st, err, sizeof(err)), ST_NOTFOUND);
	assert_null(st);
	assert_non_null(strstr(err, f.path));
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(stat(f.path, &sb), -1);

	assert_int_equal(store_create(f.url, &st, err, sizeof(err)), ST_OK);
	assert_int_equal(stat(f.path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_close(st);
	st = NULL;
	assert_int_equal(store_open(f.url, &st, err, sizeof(err)), ST_OK);
	store_close(st);
	rm_dir(f.dir);
}

static void
test_memory_stores_separate(void **state)
{
	struct store *a, *b;
	struct store_client *c = NULL;

	(void)state;
	a = open_ok("sqlite::memory:");
	b = open_ok("sqlite::memory:");
	assert_int_equal(store_migrate(a, NULL, NULL, 0), ST_OK);
	assert_int_equal(store_migrate(b, NULL, NULL, 0), ST_OK);
	add_client(a, "only-in-a", ST_OK);
	assert_int_equal(store_client_get(b, "only-in-a", &c), ST_NOTFOUND);
	assert_int_equal(store_client_get(a, "only-in-a", &c), ST_OK);
	store_client_free(c);
	store_close(a);
	store_close(b);
	store_close(NULL);
}

/* Reads client id's secret digests: current, previous and its end. */
static void
client_secrets(struct store *st, const char *id, uint8_t cur[SEC_DIGEST_BYTES],
               uint8_t old[SEC_DIGEST_BYTES], int64_t *old_until)
{
	struct store_client *c = NULL;

	assert_int_equal(store_client_get(st, id, &c), ST_OK);
	memcpy(cur, c->secret_digest, SEC_DIGEST_BYTES);
	memcpy(old, c->old_secret_digest, SEC_DIGEST_BYTES);
	*old_until = c->old_secret_until;
	store_client_free(c);
}

static void
test_client_secret_grace(void **state)
{
	struct fx *f = *state;
	uint8_t d[4][SEC_DIGEST_BYTES], cur[SEC_DIGEST_BYTES],
	    old[SEC_DIGEST_BYTES], zero[SEC_DIGEST_BYTES];
	int64_t until = -1;

	memset(zero, 0, sizeof(zero));
	for (int i = 0; i < 4; i++)
		digest_of("secret", i + 1, d[i]);
	add_client(f->st, "c1", ST_OK); /* secret 1 */
	client_secrets(f->st, "c1", cur, old, &until);
	assert_memory_equal(old, zero, SEC_DIGEST_BYTES);
	assert_int_equal(until, 0);

	/* With a window, the replaced secret is kept until its end. */
	assert_int_equal(store_client_set_secret(f->st, "c1", d[1], NOW + 60),
	                 ST_OK);
	client_secrets(f->st, "c1", cur, old, &until);
	assert_memory_equal(cur, d[1], SEC_DIGEST_BYTES);
	assert_memory_equal(old, d[0], SEC_DIGEST_BYTES);
	assert_int_equal(until, NOW + 60);

	/* Only one previous secret: a second rotation replaces it. */
	assert_int_equal(store_client_set_secret(f->st, "c1", d[2], NOW + 90),
	                 ST_OK);
	client_secrets(f->st, "c1", cur, old, &until);
	assert_memory_equal(cur, d[2], SEC_DIGEST_BYTES);
	assert_memory_equal(old, d[1], SEC_DIGEST_BYTES);
	assert_int_equal(until, NOW + 90);

	/* Without a window, no previous secret is left. */
	assert_int_equal(store_client_set_secret(f->st, "c1", d[3], 0), ST_OK);
	client_secrets(f->st, "c1", cur, old, &until);
	assert_memory_equal(cur, d[3], SEC_DIGEST_BYTES);
	assert_memory_equal(old, zero, SEC_DIGEST_BYTES);
	assert_int_equal(until, 0);

	assert_int_equal(store_client_set_secret(f->st, "c1", d[0], -1),
	                 ST_INVALID);
	assert_int_equal(store_client_set_secret(f->st, "nope", d[0], NOW),
	                 ST_NOTFOUND);
}

static void
test_client_update(void **state)
{
	struct fx *f = *state;
	struct store_client *c = NULL, *u = NULL;
	struct store_token *t = NULL;
	uint8_t d1[SEC_DIGEST_BYTES];
	int64_t alice;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	add_token(f->st, "at", 1, "c1", alice, NOW + HOUR_S);

	assert_int_equal(store_client_get(f->st, "c1", &c), ST_OK);
	c->name[0] = 'X';
	free(c->scope);
	c->scope = strdup("todo.read");
	free(c->redirect_uris);
	c->redirect_uris = strdup("https://c.example/cb");
	assert_non_null(c->scope);
	assert_non_null(c->redirect_uris);
	c->grants = STORE_GRANTS_ALL; /* not changed by an update */
	memset(c->secret_digest, 7, SEC_DIGEST_BYTES); /* nor this */
	assert_int_equal(store_client_update(f->st, c), ST_OK);

	assert_int_equal(store_client_get(f->st, "c1", &u), ST_OK);
	assert_string_equal(u->name, "Xest client");
	assert_string_equal(u->scope, "todo.read");
	assert_string_equal(u->redirect_uris, "https://c.example/cb");
	assert_int_equal(u->grants, STORE_GRANTS_DEFAULT);
	digest_of("secret", 1, d1);
	assert_memory_equal(u->secret_digest, d1, SEC_DIGEST_BYTES);
	store_client_free(u);
	u = NULL;
	/* The other client is untouched, the token issued stays. */
	assert_int_equal(store_client_get(f->st, "c2", &u), ST_OK);
	assert_string_equal(u->name, "Test client");
	store_client_free(u);
	assert_int_equal(token_status(f->st, "at", 1, &t), ST_OK);
	assert_int_equal(t->revoked_at, 0);
	store_token_free(t);

	snprintf(c->id, sizeof(c->id), "nope");
	assert_int_equal(store_client_update(f->st, c), ST_NOTFOUND);
	free(c->name);
	c->name = NULL;
	assert_int_equal(store_client_update(f->st, c), ST_INVALID);
	store_client_free(c);
}

static void
test_consent_revoke(void **state)
{
	struct fx *f = *state;
	char *scope = NULL;
	unsigned n = 99;
	int64_t alice, bob;

	add_client(f->st, "c1", ST_OK);
	add_client(f->st, "c2", ST_OK);
	alice = add_user(f->st, "alice");
	bob = add_user(f->st, "bob");
	assert_int_equal(store_consent_set(f->st, alice, "c1", "a", NOW),
	                 ST_OK);
	assert_int_equal(store_consent_set(f->st, alice, "c2", "b", NOW),
	                 ST_OK);
	assert_int_equal(store_consent_set(f->st, bob, "c1", "c", NOW), ST_OK);

	/* One client's. */
	assert_int_equal(store_consent_revoke(f->st, alice, "c1", &n), ST_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_consent_get(f->st, alice, "c1", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_get(f->st, alice, "c2", &scope), ST_OK);
	free(scope);
	scope = NULL;

	/* Every client's; none left is no error. */
	assert_int_equal(store_consent_set(f->st, alice, "c1", "a", NOW),
	                 ST_OK);
	assert_int_equal(store_consent_revoke(f->st, alice, NULL, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_consent_get(f->st, alice, "c2", &scope),
	                 ST_NOTFOUND);
	assert_int_equal(store_consent_revoke(f->st, alice, NULL, &n), ST_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_consent_revoke(f->st, alice, "nope", NULL),
	                 ST_OK);
	assert_int_equal(store_consent_revoke(f->st, 0, NULL, &n), ST_OK);
	assert_int_equal(n, 0);

	/* Another user's stays. */
	assert_int_equal(store_consent_get(f->st, bob, "c1", &scope), ST_OK);
	assert_string_equal(scope, "c");
	free(scope);
}

/* A registered client (RFC 7591) with id and the given registration
 * token label. */
static enum status
register_client(struct store *st, const char *id, const uint8_t *iat,
                unsigned max)
{
	struct store_client c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	c.name = (char *)(uintptr_t) "Registered";
	c.is_public = true;
	c.redirect_uris = (char *)(uintptr_t) "http://127.0.0.1/cb";
	c.scope = (char *)(uintptr_t) "";
	c.metadata = (char *)(uintptr_t) "{\"client_name\":\"Registered\"}";
	digest_of("reg", 1, c.registration_digest);
	c.created_at = NOW;
	return store_client_register(st, &c, iat, max, NOW);
}

static void
test_client_register(void **state)
{
	struct fx *f = *state;
	struct store_client *c = NULL, **v = NULL;
	uint8_t iat[SEC_DIGEST_BYTES], reg[SEC_DIGEST_BYTES];
	size_t n = 0;
	unsigned k = 99;
	int64_t alice;

	add_client(f->st, "cli", ST_OK);
	assert_int_equal(register_client(f->st, "r1", NULL, 2), ST_OK);
	assert_int_equal(store_client_get(f->st, "r1", &c), ST_OK);
	assert_int_equal(c->origin, STORE_ORIGIN_REGISTERED);
	assert_string_equal(c->metadata, "{\"client_name\":\"Registered\"}");
	assert_int_equal(c->first_token_at, 0);
	digest_of("reg", 1, reg);
	assert_memory_equal(c->registration_digest, reg, SEC_DIGEST_BYTES);
	store_client_free(c);
	c = NULL;
	assert_int_equal(store_client_get(f->st, "cli", &c), ST_OK);
	assert_int_equal(c->origin, STORE_ORIGIN_CLI);
	assert_null(c->metadata);
	store_client_free(c);
	c = NULL;

	/* The cap counts registered clients only; nothing stored past it. */
	assert_int_equal(register_client(f->st, "r2", NULL, 2), ST_OK);
	assert_int_equal(register_client(f->st, "r3", NULL, 2), ST_TOOBIG);
	assert_int_equal(store_client_get(f->st, "r3", &c), ST_NOTFOUND);

	/* Initial access tokens: each use spent once, unknown refused. */
	digest_of("iat", 1, iat);
	assert_int_equal(store_reg_token_live(f->st, iat, NOW), ST_NOTFOUND);
	assert_int_equal(register_client(f->st, "r4", iat, 10), ST_DENIED);
	assert_int_equal(store_reg_token_add(f->st, iat, 1, NOW + 60, NOW),
	                 ST_OK);
	assert_int_equal(store_reg_token_live(f->st, iat, NOW), ST_OK);
	assert_int_equal(store_reg_token_live(f->st, iat, NOW + 60),
	                 ST_NOTFOUND);
	/* A refusal for the cap spends no use. */
	assert_int_equal(register_client(f->st, "r4", iat, 2), ST_TOOBIG);
	assert_int_equal(register_client(f->st, "r4", iat, 10), ST_OK);
	assert_int_equal(register_client(f->st, "r5", iat, 10), ST_DENIED);
	assert_int_equal(store_reg_token_live(f->st, iat, NOW), ST_NOTFOUND);

	/* The sweep: unused registered clients created by then go; one that
	 * obtained a token, or holds one, and a CLI client stay. */
	alice = add_user(f->st, "alice");
	add_token(f->st, "at", 1, "r2", alice, NOW + HOUR_S);
	assert_int_equal(store_client_mark_used(f->st, "r4", NOW), ST_OK);
	assert_int_equal(
	    store_client_sweep_unused(f->st, NOW - 1, NOW + 1, 100, &k), ST_OK);
	assert_int_equal(k, 0);
	assert_int_equal(
	    store_client_sweep_unused(f->st, NOW, NOW + 1, 100, &k), ST_OK);
	assert_int_equal(k, 1);
	assert_int_equal(store_client_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 3);
	/* Oldest first: the registered ones were made at NOW. */
	assert_string_equal(v[0]->id, "r2");
	assert_string_equal(v[1]->id, "r4");
	assert_string_equal(v[2]->id, "cli");
	assert_true(v[1]->first_token_at == NOW);
	store_client_list_free(v, n);
	/* The count behind the cap follows removals and sweeps (migration
	 * 010's triggers): r2 and r4 are left, so a cap of 3 takes one more
	 * client, and after removing r2 one more again. */
	assert_int_equal(register_client(f->st, "r6", NULL, 3), ST_OK);
	assert_int_equal(register_client(f->st, "r7", NULL, 3), ST_TOOBIG);
	assert_int_equal(store_client_remove(f->st, "r6"), ST_OK);
	assert_int_equal(register_client(f->st, "r7", NULL, 3), ST_OK);
	assert_int_equal(store_client_remove(f->st, "r7"), ST_OK);

	/* An RFC 7592 update reaches registered clients only. */
	assert_int_equal(store_client_get(f->st, "r2", &c), ST_OK);
	free(c->metadata);
	c->metadata = strdup("{}");
	c->grants = STORE_GRANT_CODE;
	assert_int_equal(store_client_reregister(f->st, c), ST_OK);
	snprintf(c->id, sizeof(c->id), "cli");
	assert_int_equal(store_client_reregister(f->st, c), ST_NOTFOUND);
	c->grants = STORE_GRANTS_ALL; /* public: no client_credentials */
	assert_int_equal(store_client_reregister(f->st, c), ST_INVALID);
	store_client_free(c);
	c = NULL;
	assert_int_equal(store_client_get(f->st, "r2", &c), ST_OK);
	assert_string_equal(c->metadata, "{}");
	assert_int_equal(c->grants, STORE_GRANT_CODE);
	store_client_free(c);
}

#define BOTH(fn)                                                               \
	cmocka_unit_test_prestate_setup_teardown(                              \
	    fn, setup, teardown, (void *)(uintptr_t)&target_file),             \
	    cmocka_unit_test_prestate_setup_teardown(                          \
	        fn, setup, teardown, (void *)(uintptr_t)&target_memory)
#define FILE_ONLY(fn)                                                          \
	cmocka_unit_test_prestate_setup_teardown(                              \
	    fn, setup, teardown, (void *)(uintptr_t)&target_file)

/* JWT signing keys: rotate retires the signer and adds the new one. */
static void
test_signing_keys(void **state)
{
	struct fx *f = *state;
	struct store_key k, **v = NULL;
	size_t n = 9;
	unsigned gc = 99;

	assert_int_equal(store_key_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 0);
	store_key_list_free(v, n);
	memset(&k, 0, sizeof(k));
	snprintf(k.kid, sizeof(k.kid), "k1");
	snprintf(k.alg, sizeof(k.alg), "ES256");
	memset(k.der, 0x5a, 100);
	k.der_len = 100;
	assert_int_equal(store_key_rotate(f->st, &k, NOW, 0), ST_OK);
	snprintf(k.kid, sizeof(k.kid), "k2");
	assert_int_equal(store_key_rotate(f->st, &k, NOW + 1, NOW + 99), ST_OK);
	assert_int_equal(store_key_rotate(f->st, &k, NOW + 2, NOW + 99),
	                 ST_EXISTS); /* kid taken: nothing retired */
	assert_int_equal(store_key_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->kid, "k2"); /* newest first */
	assert_int_equal(v[0]->retired_at, 0);
	assert_int_equal(v[0]->der_len, 100);
	assert_string_equal(v[1]->kid, "k1");
	assert_int_equal(v[1]->retired_at, NOW + 1);
	assert_int_equal(v[1]->keep_until, NOW + 99);
	store_key_list_free(v, n);
	/* gc deletes a retired key (its private key) once it is not kept. */
	assert_int_equal(store_gc(f->st, NOW + 98, 100, &gc), ST_OK);
	assert_int_equal(gc, 0);
	assert_int_equal(store_gc(f->st, NOW + 99, 100, &gc), ST_OK);
	assert_int_equal(gc, 1);
	assert_int_equal(store_key_list(f->st, &v, &n), ST_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->kid, "k2");
	store_key_list_free(v, n);
	k.der_len = 0;
	assert_int_equal(store_key_rotate(f->st, &k, NOW, 0), ST_INVALID);
}

/* token revoke --client marks the client (its unstored JWTs) and bumps
 * the revocation epoch; removing a client bumps it too. */
static void
test_client_tokens_revoked(void **state)
{
	struct fx *f = *state;
	struct store_client *c = NULL;
	uint64_t e0 = 0, e1 = 0, e2 = 0;

	add_client(f->st, "c1", ST_OK);
	assert_int_equal(store_client_get(f->st, "c1", &c), ST_OK);
	assert_int_equal(c->tokens_revoked_at, 0);
	store_client_free(c);
	assert_int_equal(store_revocation_epoch(f->st, &e0), ST_OK);
	assert_int_equal(store_token_revoke_client(f->st, "c1", NOW, NULL),
	                 ST_OK);
	assert_int_equal(store_client_get(f->st, "c1", &c), ST_OK);
	assert_int_equal(c->tokens_revoked_at, NOW);
	store_client_free(c);
	assert_int_equal(store_revocation_epoch(f->st, &e1), ST_OK);
	assert_true(e1 > e0);
	assert_int_equal(store_client_remove(f->st, "c1"), ST_OK);
	assert_int_equal(store_revocation_epoch(f->st, &e2), ST_OK);
	assert_true(e2 > e1);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate(test_migrate,
	                              (void *)(uintptr_t)&target_file),
	    cmocka_unit_test_prestate(test_migrate,
	                              (void *)(uintptr_t)&target_memory),
	    BOTH(test_client),
	    BOTH(test_user),
	    BOTH(test_token_roundtrip),
	    BOTH(test_token_revoke),
	    BOTH(test_remove_cascades),
	    BOTH(test_count_live),
	    BOTH(test_gc),
	    BOTH(test_concurrent_inserts),
	    BOTH(test_concurrent_duplicates),
	    BOTH(test_tokens_issue),
	    BOTH(test_tokens_issue_atomic),
	    BOTH(test_concurrent_rotate),
	    BOTH(test_concurrent_issue_atomic),
	    BOTH(test_revoke_family),
	    BOTH(test_issue_revoked_family),
	    BOTH(test_concurrent_issue_revoked_family),
	    BOTH(test_gc_revoked_family),
	    BOTH(test_token_revoke_one),
	    BOTH(test_signing_keys),
	    BOTH(test_client_tokens_revoked),
	    BOTH(test_code),
	    BOTH(test_concurrent_code_take),
	    BOTH(test_revoke_covers_unredeemed_codes),
	    BOTH(test_code_redeem),
	    BOTH(test_concurrent_code_redeem),
	    BOTH(test_consent),
	    BOTH(test_session),
	    BOTH(test_session_delete_user),
	    BOTH(test_events),
	    FILE_ONLY(test_events_list_fails_part_way),
	    BOTH(test_gc_codes_sessions_events),
	    FILE_ONLY(test_file_created_0600),
	    FILE_ONLY(test_file_wal_and_reopen),
	    FILE_ONLY(test_file_newer_schema),
	    cmocka_unit_test(test_migrate_revoked_families),
	    cmocka_unit_test(test_migrate_client_grants),
	    cmocka_unit_test(test_url_errors),
	    cmocka_unit_test(test_unwritable_path),
	    cmocka_unit_test(test_open_does_not_create),
	    cmocka_unit_test(test_memory_stores_separate),
	    BOTH(test_client_secret_grace),
	    BOTH(test_client_update),
	    BOTH(test_client_register),
	    BOTH(test_consent_revoke),
	};

	if (sec_init() != ST_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
