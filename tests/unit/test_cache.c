/*
 * gateway: the validated-token cache (src/gateway/cache.c), driven by an
 * injected clock, and the revocation signals it follows: this process's
 * revoking calls (store_revocations_local()) and the database's
 * revocation epoch (store_revocation_epoch(), 004_revocation_epoch.sql),
 * which another process's revocations bump. "Another process" is a second
 * store handle on the same database file: its calls count in its own
 * handle only, as the CLI's do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "gateway/gateway_int.h"
#include "store/store.h"

#define T0_MS 1800000000000LL /* an arbitrary "now", in ms */
#define TTL_MS (GW_CACHE_TTL_S * 1000)
#define POLL_MS GW_REVOKE_POLL_MS

static void
identity(struct gw_identity *id, const char *user, int64_t expires_at)
{
	memset(id, 0, sizeof(*id));
	str_copy(id->user, sizeof(id->user), user);
	str_copy(id->client_id, sizeof(id->client_id), "client-1");
	str_copy(id->scope, sizeof(id->scope), "todo.read todo.write");
	str_copy(id->audience, sizeof(id->audience),
	         "https://plugin.example.com");
	id->expires_at = expires_at;
}

static void
digest_of(const char *tok, uint8_t d[SEC_DIGEST_BYTES])
{
	sec_digest(tok, strlen(tok), d);
}

static void
test_cache_hit_until_ttl(void **state)
{
	struct gw_cache *c = NULL;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];

	(void)state;
	assert_int_equal(gw_cache_new(1024, TTL_MS, POLL_MS, &c), ST_OK);
	digest_of("pa_at_one", d);
	identity(&in, "alice", T0_MS / 1000 + 3600);
	assert_false(gw_cache_get(c, d, T0_MS, 0, &out));
	gw_cache_put(c, d, &in, T0_MS, 0);
	assert_true(gw_cache_get(c, d, T0_MS, 0, &out));
	assert_string_equal(out.user, "alice");
	assert_string_equal(out.client_id, "client-1");
	assert_string_equal(out.scope, "todo.read todo.write");
	assert_string_equal(out.audience, "https://plugin.example.com");
	assert_int_equal(out.expires_at, in.expires_at);
	/* Served for the TTL, and not one millisecond longer: a revocation
	 * is seen within GW_CACHE_TTL_S. */
	assert_true(gw_cache_get(c, d, T0_MS + TTL_MS - 1, 0, &out));
	assert_false(gw_cache_get(c, d, T0_MS + TTL_MS, 0, &out));
	/* A clock stepping back keeps serving it: until is absolute. */
	assert_true(gw_cache_get(c, d, T0_MS - 1000, 0, &out));
	gw_cache_free(c);
}

static void
test_cache_never_outlives_token(void **state)
{
	struct gw_cache *c = NULL;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t exp_s = T0_MS / 1000 + 2; /* in 2 s */

	(void)state;
	assert_int_equal(gw_cache_new(1024, TTL_MS, POLL_MS, &c), ST_OK);
	digest_of("pa_at_short", d);
	identity(&in, "bob", exp_s);
	gw_cache_put(c, d, &in, T0_MS, 0);
	assert_true(gw_cache_get(c, d, exp_s * 1000 - 1, 0, &out));
	assert_false(gw_cache_get(c, d, exp_s * 1000, 0, &out));
	/* Already expired: not stored at all. */
	digest_of("pa_at_dead", d);
	identity(&in, "bob", T0_MS / 1000);
	gw_cache_put(c, d, &in, T0_MS, 0);
	assert_false(gw_cache_get(c, d, T0_MS, 0, &out));
	gw_cache_free(c);
}

static void
test_cache_refresh_replaces(void **state)
{
	struct gw_cache *c = NULL;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES], other[SEC_DIGEST_BYTES];

	(void)state;
	assert_int_equal(gw_cache_new(1024, TTL_MS, POLL_MS, &c), ST_OK);
	digest_of("pa_at_x", d);
	digest_of("pa_at_y", other);
	identity(&in, "carol", T0_MS / 1000 + 3600);
	gw_cache_put(c, d, &in, T0_MS, 0);
	identity(&in, "carol2", T0_MS / 1000 + 3600);
	gw_cache_put(c, d, &in, T0_MS + 4000, 0);
	assert_int_equal(gw_cache_count(c), 1);
	assert_true(gw_cache_get(c, d, T0_MS + 8000, 0, &out));
	assert_string_equal(out.user, "carol2");
	assert_false(gw_cache_get(c, other, T0_MS, 0, &out));
	gw_cache_free(c);
}

static void
test_cache_bounded(void **state)
{
	struct gw_cache *c = NULL;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	char tok[32];
	size_t hits = 0;

	(void)state;
	assert_int_equal(gw_cache_new(4096, TTL_MS, POLL_MS, &c), ST_OK);
	identity(&in, "dave", T0_MS / 1000 + 3600);
	for (int i = 0; i < 20000; i++) {
		snprintf(tok, sizeof(tok), "pa_at_%d", i);
		digest_of(tok, d);
		gw_cache_put(c, d, &in, T0_MS + i, 0);
	}
	assert_true(gw_cache_count(c) <= 4096);
	assert_true(gw_cache_count(c) > 4096 / 2);
	/* The newest entries are the ones kept. */
	for (int i = 20000 - 512; i < 20000; i++) {
		snprintf(tok, sizeof(tok), "pa_at_%d", i);
		digest_of(tok, d);
		hits += gw_cache_get(c, d, T0_MS + 20000, 0, &out);
	}
	assert_true(hits >= 500);
	gw_cache_free(c);
}

/* A database file opened twice: srv (the server) and cli (another
 * process), with a client and a user. */
struct fx {
	char dir[64];
	char path[128];
	struct store *srv, *cli;
	struct gw_cache *c;
	int64_t uid;
};

/* Opens path, creating it if create (the first handle). */
static struct store *
open_ok(const char *path, bool create)
{
	struct store *st = NULL;
	char url[160], err[256];
	enum status rc;

	snprintf(url, sizeof(url), "sqlite:%s", path);
	rc = create ? store_create(url, &st, err, sizeof(err))
	            : store_open(url, &st, err, sizeof(err));
	if (rc != ST_OK)
		fail_msg("store_open(%s): %s", url, err);
	return st;
}

static void
add_client_user(struct store *st, const char *client, const char *user,
                int64_t *uid)
{
	struct store_client c;

	memset(&c, 0, sizeof(c));
	str_copy(c.id, sizeof(c.id), client);
	c.name = (char *)(uintptr_t)client;
	c.redirect_uris = (char *)(uintptr_t) "https://client.example/cb";
	c.scope = (char *)(uintptr_t) "";
	c.created_at = clk_now_s();
	assert_int_equal(store_client_add(st, &c), ST_OK);
	assert_int_equal(store_user_add(st, user, "$argon2id$x", uid), ST_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/plugauth-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/cache.db", f->dir);
	f->srv = open_ok(f->path, true);
	assert_int_equal(store_migrate(f->srv, NULL, NULL, 0), ST_OK);
	f->cli = open_ok(f->path, false);
	add_client_user(f->srv, "client-1", "alice", &f->uid);
	assert_int_equal(gw_cache_new(1024, TTL_MS, POLL_MS, &f->c), ST_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	static const char *const names[] = {"cache.db", "cache.db-wal",
	                                    "cache.db-shm"};
	struct fx *f = *state;
	char p[256];

	gw_cache_free(f->c);
	store_close(f->cli);
	store_close(f->srv);
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		(void)unlink(p);
	}
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

/* Stores a token named tok of kind k for client and user uid, expiring
 * at exp (real time: the triggers read the real clock). */
static void
add_token_exp(struct store *st, const char *tok, enum store_token_kind k,
              const char *client, int64_t uid, int64_t family, int64_t exp)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	digest_of(tok, t.digest);
	t.kind = k;
	t.client_id = (char *)(uintptr_t)client;
	t.user_id = uid;
	t.scope = (char *)(uintptr_t) "todo.read";
	t.family_id = family;
	t.expires_at = exp;
	t.created_at = clk_now_s() - 7200;
	assert_int_equal(store_token_add(st, &t), ST_OK);
}

/* The same, live for an hour. */
static void
add_token(struct store *st, const char *tok, enum store_token_kind k,
          const char *client, int64_t uid, int64_t family)
{
	add_token_exp(st, tok, k, client, uid, family, clk_now_s() + 3600);
}

static uint64_t
epoch_of(struct store *st)
{
	uint64_t v = 0;

	assert_int_equal(store_revocation_epoch(st, &v), ST_OK);
	return v;
}

/* (d) No revocation, no miss: over a whole TTL, with polls of the epoch
 * and writes that revoke nothing in between, every check hits. */
static void
test_cache_hits_while_nothing_is_revoked(void **state)
{
	struct fx *f = *state;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	unsigned gone = 0;
	uint64_t gen;

	add_token(f->srv, "pa_at_live", STORE_TOKEN_ACCESS, "client-1", f->uid,
	          0);
	digest_of("pa_at_live", d);
	identity(&in, "alice", T0_MS / 1000 + 3600);
	gen = gw_cache_gen(f->c, f->srv, T0_MS);
	assert_false(gw_cache_get(f->c, d, T0_MS, gen, &out));
	gw_cache_put(f->c, d, &in, T0_MS, gen);
	for (int64_t t = T0_MS; t < T0_MS + TTL_MS; t += POLL_MS / 2) {
		if (t == T0_MS + 2 * POLL_MS) {
			/* Issuing and collecting are no revocations. */
			add_token(f->cli, "pa_at_other", STORE_TOKEN_ACCESS,
			          "client-1", f->uid, 0);
			add_token(f->srv, "pa_rt_other", STORE_TOKEN_REFRESH,
			          "client-1", f->uid, 7);
			assert_int_equal(
			    store_gc(f->cli, clk_now_s(), 100, &gone), ST_OK);
		}
		assert_int_equal(gw_cache_gen(f->c, f->srv, t), gen);
		assert_true(gw_cache_get(f->c, d, t, gen, &out));
	}
	assert_string_equal(out.user, "alice");
}

/* Every revoking call of this process changes the generation at once:
 * the very next check, at the same millisecond, misses. */
static void
test_cache_revocation_here_is_seen_at_once(void **state)
{
	enum { ONE, FAMILY, USER, CLIENT, CLIENT_REMOVE, USER_REMOVE, N };
	struct fx *f = *state;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	char client[32], user[32], tok[32];
	int64_t uid, now = clk_now_s();
	uint64_t gen;

	identity(&in, "alice", T0_MS / 1000 + 3600);
	for (int k = 0; k < N; k++) {
		snprintf(client, sizeof(client), "client-k%d", k);
		snprintf(user, sizeof(user), "user-k%d", k);
		snprintf(tok, sizeof(tok), "pa_at_k%d", k);
		add_client_user(f->srv, client, user, &uid);
		add_token(f->srv, tok, STORE_TOKEN_ACCESS, client, uid,
		          100 + k);
		digest_of(tok, d);
		gen = gw_cache_gen(f->c, f->srv, T0_MS);
		gw_cache_put(f->c, d, &in, T0_MS, gen);
		assert_true(gw_cache_get(f->c, d, T0_MS, gen, &out));
		switch (k) {
		case ONE:
			assert_int_equal(store_token_revoke(f->srv, d, now),
			                 ST_OK);
			break;
		case FAMILY:
			assert_int_equal(store_token_revoke_family(
			                     f->srv, 100 + k, now, NULL),
			                 ST_OK);
			break;
		case USER:
			assert_int_equal(
			    store_token_revoke_user(f->srv, uid, now, NULL),
			    ST_OK);
			break;
		case CLIENT:
			assert_int_equal(store_token_revoke_client(
			                     f->srv, client, now, NULL),
			                 ST_OK);
			break;
		case CLIENT_REMOVE:
			assert_int_equal(store_client_remove(f->srv, client),
			                 ST_OK);
			break;
		case USER_REMOVE:
			assert_int_equal(store_user_remove(f->srv, user),
			                 ST_OK);
			break;
		}
		gen = gw_cache_gen(f->c, f->srv, T0_MS);
		if (gw_cache_get(f->c, d, T0_MS, gen, &out))
			fail_msg("revoking call %d: still a hit", k);
	}
}

/* A revocation by another process is seen at the first poll of the
 * epoch: not before poll_ms after the last one (the database is not read
 * per check), at once if the clock steps back. */
static void
test_cache_revocation_elsewhere_is_seen_within_poll(void **state)
{
	struct fx *f = *state;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t uid;
	uint64_t gen;

	add_token(f->srv, "pa_at_a", STORE_TOKEN_ACCESS, "client-1", f->uid, 0);
	digest_of("pa_at_a", d);
	identity(&in, "alice", T0_MS / 1000 + 3600);
	gen = gw_cache_gen(f->c, f->srv, T0_MS); /* polls */
	gw_cache_put(f->c, d, &in, T0_MS, gen);
	assert_int_equal(
	    store_token_revoke_user(f->cli, f->uid, clk_now_s(), NULL), ST_OK);
	assert_int_equal(gw_cache_gen(f->c, f->srv, T0_MS + POLL_MS - 1), gen);
	assert_true(gw_cache_get(f->c, d, T0_MS + POLL_MS - 1, gen, &out));
	gen = gw_cache_gen(f->c, f->srv, T0_MS + POLL_MS);
	assert_false(gw_cache_get(f->c, d, T0_MS + POLL_MS, gen, &out));

	/* Removing a client elsewhere deletes its tokens: seen too, here
	 * right away since the clock went back. */
	add_client_user(f->srv, "client-2", "bob", &uid);
	add_token(f->srv, "pa_at_b", STORE_TOKEN_ACCESS, "client-2", uid, 0);
	digest_of("pa_at_b", d);
	gen = gw_cache_gen(f->c, f->srv, T0_MS + POLL_MS);
	gw_cache_put(f->c, d, &in, T0_MS + POLL_MS, gen);
	assert_int_equal(store_client_remove(f->cli, "client-2"), ST_OK);
	assert_int_equal(gw_cache_gen(f->c, f->srv, T0_MS + POLL_MS + 1), gen);
	gen = gw_cache_gen(f->c, f->srv, T0_MS);
	assert_false(gw_cache_get(f->c, d, T0_MS, gen, &out));
}

/* A check that read the store before a revocation and puts after it puts
 * with the generation it took before its read: a dead entry. */
static void
test_cache_put_racing_a_revocation_is_stale(void **state)
{
	struct fx *f = *state;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	uint64_t before, after;

	add_token(f->srv, "pa_at_r", STORE_TOKEN_ACCESS, "client-1", f->uid, 0);
	digest_of("pa_at_r", d);
	identity(&in, "alice", T0_MS / 1000 + 3600);
	before = gw_cache_gen(f->c, f->srv, T0_MS);
	assert_int_equal(store_token_revoke(f->srv, d, clk_now_s()), ST_OK);
	gw_cache_put(f->c, d, &in, T0_MS, before);
	after = gw_cache_gen(f->c, f->srv, T0_MS);
	assert_false(gw_cache_get(f->c, d, T0_MS, after, &out));
}

/* An epoch that cannot be read drops the cache: no revocation can be
 * ruled out. */
static void
test_cache_unreadable_epoch_drops_entries(void **state)
{
	struct fx *f = *state;
	struct gw_identity in, out;
	uint8_t d[SEC_DIGEST_BYTES];
	sqlite3 *db = NULL;
	uint64_t gen;

	digest_of("pa_at_u", d);
	identity(&in, "alice", T0_MS / 1000 + 3600);
	gen = gw_cache_gen(f->c, f->srv, T0_MS);
	gw_cache_put(f->c, d, &in, T0_MS, gen);
	/* The epoch's row gone, as in a damaged database. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "DELETE FROM revocation_epoch", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	gen = gw_cache_gen(f->c, f->srv, T0_MS + POLL_MS);
	assert_false(gw_cache_get(f->c, d, T0_MS + POLL_MS, gen, &out));
}

/* The epoch moves with every early end of an access token, by any
 * process, and with nothing else. */
static void
test_store_epoch_moves_only_on_revocation(void **state)
{
	struct fx *f = *state;
	uint8_t d[SEC_DIGEST_BYTES];
	int64_t now = clk_now_s();
	uint64_t e;
	unsigned gone = 0;

	e = epoch_of(f->srv);
	add_token(f->srv, "pa_at_e1", STORE_TOKEN_ACCESS, "client-1", f->uid,
	          9);
	add_token(f->srv, "pa_rt_e1", STORE_TOKEN_REFRESH, "client-1", f->uid,
	          9);
	add_token(f->srv, "pa_at_e2", STORE_TOKEN_ACCESS, "client-1", f->uid,
	          0);
	assert_int_equal(store_gc(f->srv, now, 100, &gone), ST_OK);
	assert_int_equal(epoch_of(f->cli), e);
	/* A refresh token revoked revokes its family's access token. */
	digest_of("pa_rt_e1", d);
	assert_int_equal(store_token_revoke(f->cli, d, now), ST_OK);
	assert_true(epoch_of(f->srv) > e);
	e = epoch_of(f->srv);
	/* Revoking what is revoked already changes nothing. */
	assert_int_equal(store_token_revoke_family(f->cli, 9, now, NULL),
	                 ST_OK);
	assert_int_equal(epoch_of(f->srv), e);
	/* The user removed: its live access token goes with it. */
	assert_int_equal(store_user_remove(f->cli, "alice"), ST_OK);
	assert_true(epoch_of(f->srv) > e);
	e = epoch_of(f->srv);
	/* Collecting expired tokens is no revocation. */
	add_client_user(f->srv, "client-g", "gina", &f->uid);
	add_token_exp(f->srv, "pa_at_g", STORE_TOKEN_ACCESS, "client-g", f->uid,
	              0, now - 1);
	assert_int_equal(store_gc(f->srv, now, 100, &gone), ST_OK);
	assert_true(gone >= 1);
	assert_int_equal(epoch_of(f->cli), e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_hit_until_ttl),
	    cmocka_unit_test(test_cache_never_outlives_token),
	    cmocka_unit_test(test_cache_refresh_replaces),
	    cmocka_unit_test(test_cache_bounded),
	    cmocka_unit_test_setup_teardown(
	        test_cache_hits_while_nothing_is_revoked, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cache_revocation_here_is_seen_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cache_revocation_elsewhere_is_seen_within_poll, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cache_put_racing_a_revocation_is_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cache_unreadable_epoch_drops_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_store_epoch_moves_only_on_revocation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
