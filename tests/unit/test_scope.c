/* oauth/scope: RFC 6749 §3.3 scope resolution. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/oauth_int.h"

#define SERVER "todo.read todo.write admin"
#define DEFLT "todo.read"

static const struct {
	const char *requested;
	const char *client; /* "" = all */
	enum oauth_error want;
	const char *scope; /* on success */
} cases[] = {
    {NULL, "", OAUTH_OK, "todo.read"},
    {"", "", OAUTH_OK, "todo.read"},
    {"todo.write", "", OAUTH_OK, "todo.write"},
    {"todo.read todo.write", "", OAUTH_OK, "todo.read todo.write"},
    {"  todo.write   todo.read ", "", OAUTH_OK, "todo.write todo.read"},
    {"todo.read todo.read", "", OAUTH_OK, "todo.read"},
    {"todo.rea", "", OAUTH_INVALID_SCOPE, NULL},
    {"todo.read2", "", OAUTH_INVALID_SCOPE, NULL},
    {"todo.read unknown", "", OAUTH_INVALID_SCOPE, NULL},
    {"   ", "", OAUTH_INVALID_SCOPE, NULL},
    {"admin", "todo.read todo.write", OAUTH_INVALID_SCOPE, NULL},
    {"todo.write", "todo.read todo.write", OAUTH_OK, "todo.write"},
    {NULL, "todo.write", OAUTH_INVALID_SCOPE, NULL},
};

static void
test_scope_resolve_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		const char *why = NULL;
		enum oauth_error e;

		e = oauth_scope_resolve(cases[i].requested, SERVER, DEFLT,
		                        cases[i].client, &out, &why);
		if (e != cases[i].want)
			fail_msg("case %zu: got %d want %d", i, e,
			         cases[i].want);
		if (e == OAUTH_OK)
			assert_string_equal(out, cases[i].scope);
		else
			assert_non_null(why);
		free(out);
	}
}

static void
test_scope_has(void **state)
{
	(void)state;
	assert_true(oauth_scope_has("a b c", "b", 1));
	assert_true(oauth_scope_has(" a  b ", "b", 1));
	assert_false(oauth_scope_has("ab c", "a", 1));
	assert_false(oauth_scope_has("a b", "ab", 2));
	assert_false(oauth_scope_has("", "a", 1));
}

static void
test_scope_too_long(void **state)
{
	char big[2000];
	char *out = NULL;
	const char *why = NULL;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(
	    oauth_scope_resolve(big, SERVER, DEFLT, "", &out, &why),
	    OAUTH_INVALID_SCOPE);
	assert_null(out);
}

int main(void);
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scope_resolve_table),
	    cmocka_unit_test(test_scope_has),
	    cmocka_unit_test(test_scope_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
