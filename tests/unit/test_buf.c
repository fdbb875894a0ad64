#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
