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
	if (store_open(url, &st, err, sizeof(err)) != ST_OK)
		fail_msg("store_open(%s): %s", url, err);
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
	assert_int_equal(store_migrate(f->st, &applied), ST_OK);
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

	assert_int_equal(store_migrate(st, &applied), ST_OK);
	assert_int_equal(applied, want);
	assert_int_equal(store_schema_version(st, &have, NULL), ST_OK);
	assert_int_equal(have, want);

	/* Again: nothing to do. */
	applied = 99;
	assert_int_equal(store_migrate(st, &applied), ST_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(store_migrate(st, NULL), ST_OK);
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
	assert_int_equal(store_client_set_secret(f->st, "c1", d), ST_OK);
	assert_int_equal(store_client_set_secret(f->st, "nope", d),
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
	assert_int_equal(store_migrate(f->st, &applied), ST_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(live(f->st, NOW), 1);
}

static void
test_file_newer_schema(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	unsigned have = 0, want = 0, applied = 77;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_schema_version(f->st, &have, &want), ST_OK);
	assert_int_equal(have, 999);
	assert_true(want < 999);
	assert_int_equal(store_migrate(f->st, &applied), ST_STORE);
	assert_int_equal(applied, 77);
	/* Nothing was changed. */
	assert_int_equal(store_schema_version(f->st, &have, NULL), ST_OK);
	assert_int_equal(have, 999);
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

static void
test_memory_stores_separate(void **state)
{
	struct store *a, *b;
	struct store_client *c = NULL;

	(void)state;
	a = open_ok("sqlite::memory:");
	b = open_ok("sqlite::memory:");
	assert_int_equal(store_migrate(a, NULL), ST_OK);
	assert_int_equal(store_migrate(b, NULL), ST_OK);
	add_client(a, "only-in-a", ST_OK);
	assert_int_equal(store_client_get(b, "only-in-a", &c), ST_NOTFOUND);
	assert_int_equal(store_client_get(a, "only-in-a", &c), ST_OK);
	store_client_free(c);
	store_close(a);
	store_close(b);
	store_close(NULL);
}

#define BOTH(fn)                                                               \
	cmocka_unit_test_prestate_setup_teardown(                              \
	    fn, setup, teardown, (void *)(uintptr_t)&target_file),             \
	    cmocka_unit_test_prestate_setup_teardown(                          \
	        fn, setup, teardown, (void *)(uintptr_t)&target_memory)
#define FILE_ONLY(fn)                                                          \
	cmocka_unit_test_prestate_setup_teardown(                              \
	    fn, setup, teardown, (void *)(uintptr_t)&target_file)

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
	    FILE_ONLY(test_file_created_0600),
	    FILE_ONLY(test_file_wal_and_reopen),
	    FILE_ONLY(test_file_newer_schema),
	    cmocka_unit_test(test_url_errors),
	    cmocka_unit_test(test_unwritable_path),
	    cmocka_unit_test(test_memory_stores_separate),
	};

	if (sec_init() != ST_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
