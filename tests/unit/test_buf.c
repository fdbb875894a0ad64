/* explicit_bzero() is replaced below: no fortified inline wrapper. */
#undef _FORTIFY_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

size_t buf_grow_size(const struct buf *, size_t need);

/*
 * Every wipe buf.c makes comes here (this definition wins over libc's for
 * the whole test executable; fortified builds call __explicit_bzero_chk):
 * it records the block's first bytes before zeroing it.
 */
void __explicit_bzero_chk(void *, size_t, size_t);

static unsigned wipes;
static char wiped[64]; /* the last wiped block's first bytes */
static size_t wiped_len;

void
explicit_bzero(void *p, size_t n)
{
	wipes++;
	wiped_len = n;
	memset(wiped, 0, sizeof(wiped));
	memcpy(wiped, p, n < sizeof(wiped) ? n : sizeof(wiped));
	memset(p, 0, n);
}

void
__explicit_bzero_chk(void *p, size_t n, size_t destlen)
{
	(void)destlen;
	explicit_bzero(p, n);
}

static void
test_init_empty(void **state)
{
	struct buf b;
	struct str s;

	(void)state;
	buf_init(&b, 16);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 16);
	s = buf_str(&b);
	assert_non_null(s.p);
	assert_int_equal(s.len, 0);
	buf_free(&b);
	buf_free(&b); /* twice is fine */
}

static void
test_add_and_terminate(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_add(&b, "abc", 3), ST_OK);
	assert_int_equal(buf_adds(&b, "def"), ST_OK);
	assert_int_equal(buf_add(&b, "ignored", 0), ST_OK);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.p, "abcdef");
	assert_memory_equal(buf_str(&b).p, "abcdef", 6);
	buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void
test_binary_bytes(void **state)
{
	static const char bin[] = {'a', '\0', 'b', '\xff'};
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_add(&b, bin, sizeof(bin)), ST_OK);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.p, bin, 4);
	assert_int_equal(b.p[4], '\0');
	buf_free(&b);
}

/* Table: appends of these sizes into a buffer with this ceiling. */
static const struct {
	size_t max;
	size_t first, second;
	enum status want;
} ceiling_cases[] = {
    {10, 5, 5, ST_OK},      /* exactly at the ceiling */
    {10, 5, 6, ST_TOOBIG},  /* one past */
    {10, 11, 0, ST_TOOBIG}, /* first alone too big */
    {0, 0, 1, ST_TOOBIG},        {0, 0, 0, ST_OK},
    {4096, 4000, 96, ST_OK}, /* grows several times */
    {4096, 4000, 97, ST_TOOBIG},
};

static void
test_ceiling_table(void **state)
{
	char buf[8192];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	for (size_t i = 0; i < sizeof(ceiling_cases) / sizeof(ceiling_cases[0]);
	     i++) {
		struct buf b;
		enum status rc;

		buf_init(&b, ceiling_cases[i].max);
		rc = buf_add(&b, buf, ceiling_cases[i].first);
		if (rc == ST_OK)
			rc = buf_add(&b, buf, ceiling_cases[i].second);
		assert_int_equal(rc, ceiling_cases[i].want);
		if (rc == ST_OK) {
			assert_int_equal(b.len, ceiling_cases[i].first +
			                            ceiling_cases[i].second);
			assert_true(b.len <= b.max);
			assert_int_equal(b.p[b.len], '\0');
		} else {
			/* The buffer freed itself. */
			assert_null(b.p);
			assert_int_equal(b.len, 0);
			assert_int_equal(b.cap, 0);
		}
		buf_free(&b);
	}
}

static void
test_toobig_frees_then_reusable(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(buf_adds(&b, "abc"), ST_OK);
	assert_int_equal(buf_adds(&b, "de"), ST_TOOBIG);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	/* Reusable after the error, with the same ceiling. */
	assert_int_equal(buf_adds(&b, "wxyz"), ST_OK);
	assert_string_equal(b.p, "wxyz");
	assert_int_equal(buf_adds(&b, "!"), ST_TOOBIG);
	buf_free(&b);
}

static void
test_printf(void **state)
{
	struct buf b;
	char big[300];

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), ST_OK);
	assert_int_equal(buf_printf(&b, "&%s", "x"), ST_OK);
	assert_string_equal(b.p, "n=42&x");
	assert_int_equal(b.len, 6);
	/* Past the initial allocation. */
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), ST_OK);
	assert_int_equal(b.len, 6 + 2 + 299);
	assert_int_equal(b.p[6], '[');
	assert_int_equal(b.p[b.len - 1], ']');
	assert_int_equal(strlen(b.p), b.len);
	buf_free(&b);
}

static void
test_printf_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%08d", 1), ST_OK);
	assert_string_equal(b.p, "00000001");
	buf_free(&b);

	buf_init(&b, 8);
	assert_int_equal(buf_adds(&b, "ab"), ST_OK);
	assert_int_equal(buf_printf(&b, "%s", "1234567"), ST_TOOBIG);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_take(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_adds(&b, "hello"), ST_OK);
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "hello");
	/* b is empty and usable again; s is the caller's. */
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_adds(&b, "again"), ST_OK);
	assert_string_equal(b.p, "again");
	assert_string_equal(s, "hello");
	free(s);
	buf_free(&b);
}

static void
test_take_empty(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 100);
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void
test_many_small_adds(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_add(&b, i % 2 ? "b" : "a", 1), ST_OK);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap >= b.len + 1);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.p[i], i % 2 ? 'b' : 'a');
	assert_int_equal(buf_add(&b, "c", 1), ST_TOOBIG);
	assert_null(b.p);
	buf_free(&b);
}

static void
test_wipe_free(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_adds(&b, "secret"), ST_OK);
	buf_wipe_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_wipe_free(&b); /* empty is fine */
	assert_int_equal(buf_adds(&b, "x"), ST_OK);
	buf_wipe_free(&b);
}

static void
test_size_max_cap_no_wrap(void **state)
{
	static const char x[4] = "abc";
	struct buf b;

	(void)state;
	/* src/gateway/proxy.c passes SIZE_MAX: len + n + 1 must not wrap to
	 * a small size that "fits" and then memcpy() n bytes. */
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_add(&b, x, 3), ST_OK);
	assert_int_equal(buf_add(&b, x, SIZE_MAX - 3), ST_TOOBIG);
	assert_null(b.p);
	assert_int_equal(buf_add(&b, x, SIZE_MAX), ST_TOOBIG);
	assert_int_equal(buf_add(&b, x, 3), ST_OK);
	assert_int_equal(buf_add(&b, x, SIZE_MAX - 2), ST_TOOBIG);
	buf_free(&b);
	/* A ceiling just under SIZE_MAX: the same. */
	buf_init(&b, SIZE_MAX - 1);
	assert_int_equal(buf_add(&b, x, 2), ST_OK);
	assert_int_equal(buf_add(&b, x, SIZE_MAX - 2), ST_TOOBIG);
	buf_free(&b);
}

/* Table: the capacity a buffer grows to. */
static const struct {
	size_t cap, max, need, want;
} grow_cases[] = {
    {0, 1000, 1, 64},
    {0, 1000, 65, 128},
    {64, 100, 90, 101},                        /* at most max + 1 */
    {0, SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 1}, /* doubling would wrap */
    {SIZE_MAX / 2 + 1, SIZE_MAX, SIZE_MAX, SIZE_MAX},
    {SIZE_MAX / 2, SIZE_MAX, SIZE_MAX / 2 + 1, SIZE_MAX - 1},
    {(SIZE_MAX / 4) * 3, SIZE_MAX, SIZE_MAX - 5, SIZE_MAX - 5},
};

static void
test_grow_size_never_wraps(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(grow_cases) / sizeof(grow_cases[0]);
	     i++) {
		struct buf b;
		size_t got;

		buf_init(&b, grow_cases[i].max);
		b.cap = grow_cases[i].cap;
		got = buf_grow_size(&b, grow_cases[i].need);
		assert_true(got >= grow_cases[i].need);
		assert_int_equal(got, grow_cases[i].want);
	}
}

static void
test_secret_wiped_when_grown(void **state)
{
	char big[300];
	struct buf b;

	(void)state;
	memset(big, 'y', sizeof(big));
	buf_init_secret(&b, 4096);
	assert_int_equal(buf_adds(&b, "pa_rt_secret"), ST_OK);
	wipes = 0;
	/* Past the first 64 bytes: the old block is wiped, then freed. */
	assert_int_equal(buf_add(&b, big, sizeof(big)), ST_OK);
	assert_int_equal(wipes, 1);
	assert_int_equal(wiped_len, 64);
	assert_memory_equal(wiped, "pa_rt_secret", 12);
	assert_memory_equal(b.p, "pa_rt_secret", 12);
	assert_int_equal(b.p[12], 'y');
	assert_int_equal(b.len, 12 + sizeof(big));
	/* Freeing it wipes it too. */
	wipes = 0;
	buf_free(&b);
	assert_int_equal(wipes, 1);
	assert_memory_equal(wiped, "pa_rt_secret", 12);
}

static void
test_secret_wiped_on_error(void **state)
{
	struct buf b;

	(void)state;
	buf_init_secret(&b, 16);
	assert_int_equal(buf_adds(&b, "pa_at_secret"), ST_OK);
	wipes = 0;
	assert_int_equal(buf_adds(&b, "too much"), ST_TOOBIG);
	assert_int_equal(wipes, 1);
	assert_memory_equal(wiped, "pa_at_secret", 12);
	assert_null(b.p);
	/* Still a secret buffer after the error. */
	assert_int_equal(buf_adds(&b, "again"), ST_OK);
	wipes = 0;
	buf_free(&b);
	assert_int_equal(wipes, 1);
}

static void
test_plain_buffer_not_wiped(void **state)
{
	char big[300];
	struct buf b;

	(void)state;
	memset(big, 'z', sizeof(big));
	buf_init(&b, 4096);
	wipes = 0;
	assert_int_equal(buf_adds(&b, "abc"), ST_OK);
	assert_int_equal(buf_add(&b, big, sizeof(big)), ST_OK);
	buf_free(&b);
	assert_int_equal(wipes, 0);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_empty),
	    cmocka_unit_test(test_add_and_terminate),
	    cmocka_unit_test(test_binary_bytes),
	    cmocka_unit_test(test_ceiling_table),
	    cmocka_unit_test(test_toobig_frees_then_reusable),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_printf_ceiling),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_take_empty),
	    cmocka_unit_test(test_many_small_adds),
	    cmocka_unit_test(test_wipe_free),
	    cmocka_unit_test(test_size_max_cap_no_wrap),
	    cmocka_unit_test(test_grow_size_never_wraps),
	    cmocka_unit_test(test_secret_wiped_when_grown),
	    cmocka_unit_test(test_secret_wiped_on_error),
	    cmocka_unit_test(test_plain_buffer_not_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
