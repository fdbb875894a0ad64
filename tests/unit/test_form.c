#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/form.h"

#define MAXP 8

/* A parse that succeeds, and the parameters it must give, in order. */
static const struct {
	const char *in;
	size_t n;
	const char *kv[MAXP][2];
} good[] = {
    {"", 0, {{NULL, NULL}}},
    {"&&&", 0, {{NULL, NULL}}},
    {"a=1", 1, {{"a", "1"}}},
    {"a=1&b=2", 2, {{"a", "1"}, {"b", "2"}}},
    /* UTF-8, up to four bytes, percent-encoded or raw. */
    {"n=%C3%A9t%C3%A9&e=%E2%82%AC&g=%F0%9F%98%80&r=\xc3\xa9",
     4,
     {{"n", "\xc3\xa9t\xc3\xa9"},
      {"e", "\xe2\x82\xac"},
      {"g", "\xf0\x9f\x98\x80"},
      {"r", "\xc3\xa9"}}},
    {"m=%F4%8F%BF%BF", 1, {{"m", "\xf4\x8f\xbf\xbf"}}},
    /* '+' is a space in both parts; %2B is a literal plus. */
    {"a+b=c+d", 1, {{"a b", "c d"}}},
    {"p=%2B", 1, {{"p", "+"}}},
    {"p=%2b", 1, {{"p", "+"}}},
    {"p=1+%2B+1", 1, {{"p", "1 + 1"}}},
    {"p=%20", 1, {{"p", " "}}},
    /* Hex digits in either case, mixed too. */
    {"e=%E2%82%AC", 1, {{"e", "\xe2\x82\xac"}}},
    {"e=%e2%82%ac", 1, {{"e", "\xe2\x82\xac"}}},
    {"e=%E2%82%aC", 1, {{"e", "\xe2\x82\xac"}}},
    /* UTF-8 multibyte: 4-byte emoji, and raw UTF-8 passed through. */
    {"u=%F0%9F%98%80", 1, {{"u", "\xf0\x9f\x98\x80"}}},
    {"u=\xc3\xa9t\xc3\xa9", 1, {{"u", "\xc3\xa9t\xc3\xa9"}}},
    {"%C3%A9=x", 1, {{"\xc3\xa9", "x"}}},
    /* Reserved characters decoded. */
    {"r=https%3A%2F%2Fc.example%2Fcb%3Fx%3D1%26y%3D2",
     1,
     {{"r", "https://c.example/cb?x=1&y=2"}}},
    /* Only the first '=' splits. */
    {"a==b=", 1, {{"a", "=b="}}},
    /* Empty values and no '=' at all. */
    {"a=", 1, {{"a", ""}}},
    {"a", 1, {{"a", ""}}},
    {"a&b=2", 2, {{"a", ""}, {"b", "2"}}},
    /* Empty pieces skipped. */
    {"a=1&&b=2", 2, {{"a", "1"}, {"b", "2"}}},
    {"&a=1&", 1, {{"a", "1"}}},
    /* An empty name is a name like any other. */
    {"=x", 1, {{"", "x"}}},
    /* Names are case-sensitive: not repeats. */
    {"A=1&a=2", 2, {{"A", "1"}, {"a", "2"}}},
    /* Percent sign itself, and a '%' that ends a value legally. */
    {"p=100%25", 1, {{"p", "100%"}}},
    /* ';' is not a separator. */
    {"a=1;b=2", 1, {{"a", "1;b=2"}}},
};

static void
test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct form f;

		form_init(&f, MAXP);
		if (form_parse(&f, str_of(good[i].in)) != ST_OK)
			fail_msg("case %zu: %s", i, good[i].in);
		assert_int_equal(f.n, good[i].n);
		for (size_t j = 0; j < good[i].n; j++) {
			assert_string_equal(f.v[j].name, good[i].kv[j][0]);
			assert_string_equal(f.v[j].value, good[i].kv[j][1]);
		}
		assert_string_equal(f.bad, "");
		form_free(&f);
	}
}

/* A parse that fails; bad is what must end up in f->bad. */
static const struct {
	const char *in;
	enum status want;
	const char *bad;
} bad[] = {
    {"a=%", ST_INVALID, ""},
    {"a=%4", ST_INVALID, ""},
    {"a=%G0", ST_INVALID, ""},
    {"a=%0G", ST_INVALID, ""},
    {"a=%%41", ST_INVALID, ""},
    {"a=% 4", ST_INVALID, ""},
    {"%zz=1", ST_INVALID, ""},
    {"a%=1", ST_INVALID, ""},
    {"ok=1&a=%", ST_INVALID, ""},
    /* Decoded NUL bytes. */
    {"a=%00", ST_INVALID, ""},
    {"a=x%00y", ST_INVALID, ""},
    {"a%00=1", ST_INVALID, ""},
    /* Not UTF-8 once decoded: a lone continuation byte, a truncated
     * sequence, overlong forms, a surrogate, past U+10FFFF, raw bytes. */
    {"a=%80", ST_INVALID, ""},
    {"a=x%C3", ST_INVALID, ""},
    {"a=%C0%AF", ST_INVALID, ""},
    {"a=%E0%80%AF", ST_INVALID, ""},
    {"a=%ED%A0%80", ST_INVALID, ""},
    {"a=%F4%90%80%80", ST_INVALID, ""},
    {"a=%FF%FE", ST_INVALID, ""},
    {"%C3=1", ST_INVALID, ""},
    {"a=\xc3\x28", ST_INVALID, ""},
    /* Repeated names, after decoding, with or without values. */
    {"a=1&a=2", ST_INVALID, "a"},
    {"a=1&a=1", ST_INVALID, "a"},
    {"a&a", ST_INVALID, "a"},
    {"a=&a=1", ST_INVALID, "a"},
    {"a=1&%61=2", ST_INVALID, "a"},
    {"x+y=1&x%20y=2", ST_INVALID, "x y"},
    {"=1&=2", ST_INVALID, ""}, /* the empty name, repeated */
    /* Repeated name with bytes unsafe to print: made printable. */
    {"%0Ax=1&%0Ax=2", ST_INVALID, "?x"},
    {"%C3%A9=1&%C3%A9=2", ST_INVALID, "??"},
};

static void
test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct form f;

		form_init(&f, MAXP);
		if (form_parse(&f, str_of(bad[i].in)) != bad[i].want)
			fail_msg("case %zu: %s", i, bad[i].in);
		assert_string_equal(f.bad, bad[i].bad);
		/* All or nothing: nothing from the failed call stays. */
		assert_int_equal(f.n, 0);
		form_free(&f);
	}
}

static void
test_raw_nul_in_input(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, (struct str){"a=x\0y", 5}), ST_INVALID);
	assert_int_equal(form_parse(&f, (struct str){"a\0=1", 4}), ST_INVALID);
	/* Bytes after a NUL are not silently dropped either. */
	assert_int_equal(form_parse(&f, (struct str){"a=1\0&b=2", 8}),
	                 ST_INVALID);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void
test_slice_not_nul_terminated(void **state)
{
	struct form f;
	const char in[] = "a=1&b=2&c=3";

	(void)state;
	form_init(&f, MAXP);
	/* Only "a=1&b" is in the slice. */
	assert_int_equal(form_parse(&f, (struct str){in, 5}), ST_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "a"), "1");
	assert_null(form_get(&f, "b"));
	assert_null(form_get(&f, "c"));
	form_free(&f);

	/* An escape cut by the end of the slice is malformed: the bytes
	 * after it are not part of the input. */
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, (struct str){"a=%41", 4}), ST_INVALID);
	assert_int_equal(form_parse(&f, (struct str){"a=%41", 3}), ST_INVALID);
	assert_int_equal(form_parse(&f, (struct str){"a=%41", 5}), ST_OK);
	assert_string_equal(form_get(&f, "a"), "A");
	form_free(&f);
}

static void
test_repeat_across_calls_and_rollback(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, str_of("a=1&b=2")), ST_OK);
	/* c is new, then b repeats: the whole second call is undone. */
	assert_int_equal(form_parse(&f, str_of("c=3&b=9")), ST_INVALID);
	assert_string_equal(f.bad, "b");
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "a"), "1");
	assert_string_equal(form_get(&f, "b"), "2");
	assert_null(form_get(&f, "c"));
	/* A later good call clears bad. */
	assert_int_equal(form_parse(&f, str_of("c=3")), ST_OK);
	assert_string_equal(f.bad, "");
	assert_string_equal(form_get(&f, "c"), "3");
	form_free(&f);
}

static void
test_bad_name_truncated(void **state)
{
	struct form f;
	char in[300];
	char name[120];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_true(snprintf(in, sizeof(in), "%s=1&%s=2", name, name) > 0);
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, str_of(in)), ST_INVALID);
	assert_int_equal(strlen(f.bad), sizeof(f.bad) - 1);
	assert_memory_equal(f.bad, name, sizeof(f.bad) - 1);
	form_free(&f);
}

static void
test_ceiling(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, 3);
	assert_int_equal(form_parse(&f, str_of("a&b&c")), ST_OK);
	assert_int_equal(f.n, 3);
	assert_int_equal(form_parse(&f, str_of("d")), ST_TOOBIG);
	assert_int_equal(f.n, 3);
	/* Empty pieces do not count. */
	assert_int_equal(form_parse(&f, str_of("&&&")), ST_OK);
	form_free(&f);

	form_init(&f, 3);
	assert_int_equal(form_parse(&f, str_of("a=1&b=2&c=3&d=4")), ST_TOOBIG);
	assert_int_equal(f.n, 0);
	assert_string_equal(f.bad, "");
	form_free(&f);

	form_init(&f, 0);
	assert_int_equal(form_parse(&f, str_of("a")), ST_TOOBIG);
	assert_int_equal(form_parse(&f, str_of("")), ST_OK);
	form_free(&f);

	form_init(&f, 2);
	assert_int_equal(form_add(&f, STR_LIT("a"), STR_LIT("1")), ST_OK);
	assert_int_equal(form_add(&f, STR_LIT("b"), STR_LIT("2")), ST_OK);
	assert_int_equal(form_add(&f, STR_LIT("c"), STR_LIT("3")), ST_TOOBIG);
	assert_int_equal(f.n, 2);
	form_free(&f);
}

/* Pointers handed out stay valid while the form grows. */
static void
test_pointers_stable_while_growing(void **state)
{
	struct form f;
	const char *first, *v;
	char name[16], val[16];

	(void)state;
	form_init(&f, 2000);
	assert_int_equal(form_parse(&f, str_of("first=value0")), ST_OK);
	first = form_get(&f, "first");
	for (int i = 0; i < 1500; i++) {
		assert_true(snprintf(name, sizeof(name), "n%d", i) > 0);
		assert_true(snprintf(val, sizeof(val), "v%d", i) > 0);
		assert_int_equal(form_add(&f, str_of(name), str_of(val)),
		                 ST_OK);
	}
	assert_int_equal(f.n, 1501);
	assert_ptr_equal(form_get(&f, "first"), first);
	assert_string_equal(first, "value0");
	v = form_get(&f, "n1499");
	assert_non_null(v);
	assert_string_equal(v, "v1499");
	assert_string_equal(form_get(&f, "n0"), "v0");
	form_free(&f);
}

static void
test_get(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, MAXP);
	assert_null(form_get(&f, "a"));
	assert_int_equal(form_parse(&f, str_of("a=1&empty=&bare&sp=+")), ST_OK);
	assert_string_equal(form_get(&f, "a"), "1");
	/* RFC 6749 §3.1: sent without a value = omitted. */
	assert_null(form_get(&f, "empty"));
	assert_null(form_get(&f, "bare"));
	assert_null(form_get(&f, "absent"));
	assert_null(form_get(&f, "A"));
	/* A single space is a value. */
	assert_string_equal(form_get(&f, "sp"), " ");
	form_free(&f);
}

static void
test_add(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, MAXP);
	/* Copied as is: no decoding. */
	assert_int_equal(form_add(&f, STR_LIT("a+b"), STR_LIT("%41")), ST_OK);
	assert_string_equal(form_get(&f, "a+b"), "%41");
	assert_int_equal(form_add(&f, STR_LIT("a+b"), STR_LIT("x")),
	                 ST_INVALID);
	assert_string_equal(f.bad, "a+b");
	assert_int_equal(form_add(&f, (struct str){"n\0x", 3}, STR_LIT("1")),
	                 ST_INVALID);
	assert_int_equal(form_add(&f, STR_LIT("v"), (struct str){"1\0", 2}),
	                 ST_INVALID);
	assert_string_equal(f.bad, ""); /* not a repeat */
	assert_int_equal(form_add(&f, STR_LIT("e"), STR_NULL), ST_OK);
	assert_null(form_get(&f, "e"));
	assert_int_equal(f.n, 2);
	/* Mixing with parse: a repeat either way round. */
	assert_int_equal(form_parse(&f, str_of("e=1")), ST_INVALID);
	assert_string_equal(f.bad, "e");
	form_free(&f);
}

static void
test_free_reuse(void **state)
{
	struct form f;

	(void)state;
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, str_of("code=SplxlOBeZQQYbYS6WxSbIA")),
	                 ST_OK);
	form_free(&f);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
	form_free(&f); /* twice */
	form_free(NULL);
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, str_of("code=x")), ST_OK);
	assert_string_equal(form_get(&f, "code"), "x");
	form_free(&f);
}

static const struct {
	const char *in;
	bool plus;
	enum status want;
	const char *out;
} unescape[] = {
    {"a+b", true, ST_OK, "a b"},
    {"a+b", false, ST_OK, "a+b"},
    {"a%2Bb", false, ST_OK, "a+b"},
    {"a%2bb", true, ST_OK, "a+b"},
    {"%7e%7E", false, ST_OK, "~~"},
    {"", true, ST_OK, ""},
    {"caf%C3%A9", false, ST_OK, "caf\xc3\xa9"},
    {"%", false, ST_INVALID, NULL},
    {"%4", false, ST_INVALID, NULL},
    {"%G0", false, ST_INVALID, NULL},
    {"x%00", false, ST_INVALID, NULL},
};

static void
test_unescape(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(unescape) / sizeof(unescape[0]); i++) {
		struct buf b;
		enum status rc;

		buf_init(&b, 64);
		assert_int_equal(buf_adds(&b, ">"), ST_OK);
		rc =
		    form_unescape(str_of(unescape[i].in), unescape[i].plus, &b);
		if (rc != unescape[i].want)
			fail_msg("case %zu: %s", i, unescape[i].in);
		if (rc == ST_OK) {
			/* Appended after what was there. */
			assert_int_equal(b.p[0], '>');
			assert_string_equal(b.p + 1, unescape[i].out);
		} else
			assert_string_equal(b.p, ">"); /* untouched */
		buf_free(&b);
	}
}

static void
test_unescape_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 3);
	/* Six encoded bytes decode to three: fits. */
	assert_int_equal(form_unescape(str_of("%41%42%43"), false, &b), ST_OK);
	assert_string_equal(b.p, "ABC");
	assert_int_equal(form_unescape(str_of("D"), false, &b), ST_TOOBIG);
	assert_null(b.p);
	buf_free(&b);
}

static const struct {
	const char *in;
	const char *out;
} escape[] = {
    {"", ""},
    {"AZaz09-._~", "AZaz09-._~"},
    {" ", "%20"},
    {"+", "%2B"},
    {"a b+c", "a%20b%2Bc"},
    {"%", "%25"},
    {":/?#[]@", "%3A%2F%3F%23%5B%5D%40"},
    {"!$&'()*,;=", "%21%24%26%27%28%29%2A%2C%3B%3D"},
    {"\xe2\x82\xac", "%E2%82%AC"},
    {"\x01\x7f\xff", "%01%7F%FF"},
    {"https://client.example/cb?x=1",
     "https%3A%2F%2Fclient.example%2Fcb%3Fx%3D1"},
};

static void
test_escape(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(escape) / sizeof(escape[0]); i++) {
		struct buf b;

		buf_init(&b, 256);
		assert_int_equal(form_escape(&b, escape[i].in), ST_OK);
		assert_string_equal(buf_str(&b).p, escape[i].out);
		buf_free(&b);
	}
}

static void
test_escape_long_and_ceiling(void **state)
{
	struct buf b;
	char in[1001];

	(void)state;
	/* Longer than escape's internal chunk. */
	memset(in, ' ', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	buf_init(&b, 3000);
	assert_int_equal(form_escape(&b, in), ST_OK);
	assert_int_equal(b.len, 3000);
	for (size_t i = 0; i < b.len; i += 3)
		assert_memory_equal(b.p + i, "%20", 3);
	buf_free(&b);

	buf_init(&b, 2999);
	assert_int_equal(form_escape(&b, in), ST_TOOBIG);
	assert_null(b.p);
	buf_free(&b);
}

/* Every ASCII byte but NUL, and UTF-8, survive escape then parse (other
 * bytes alone are not UTF-8: form_parse() refuses them); every byte
 * 1..255 survives escape then unescape. */
static void
test_escape_roundtrip_all_bytes(void **state)
{
	struct buf b;
	struct form f;
	char all[256], text[256];

	(void)state;
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	for (int i = 1; i < 128; i++)
		text[i - 1] = (char)i;
	snprintf(text + 127, sizeof(text) - 127, "%s",
	         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	buf_init(&b, 4096);
	assert_int_equal(form_append(&b, text, text), ST_OK);
	assert_int_equal(form_append(&b, "plain", "a b+c&d=e"), ST_OK);
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, buf_str(&b)), ST_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].name, text);
	assert_string_equal(f.v[0].value, text);
	assert_string_equal(form_get(&f, "plain"), "a b+c&d=e");
	form_free(&f);
	buf_free(&b);

	buf_init(&b, 4096);
	assert_int_equal(form_append(&b, "a", all), ST_OK);
	form_init(&f, MAXP);
	assert_int_equal(form_parse(&f, buf_str(&b)), ST_INVALID);
	form_free(&f);
	buf_free(&b);

	buf_init(&b, 4096);
	assert_int_equal(form_escape(&b, all), ST_OK);
	assert_int_equal(form_escape(&b, ""), ST_OK);
	{
		struct buf d;

		buf_init(&d, 4096);
		assert_int_equal(form_unescape(buf_str(&b), false, &d), ST_OK);
		assert_string_equal(d.p, all);
		buf_free(&d);
	}
	buf_free(&b);
}

static const struct {
	const char *start;
	const char *out;
} append[] = {
    {"", "code=a%2Fb"},
    {"https://c.example/cb", "https://c.example/cb&code=a%2Fb"},
    {"https://c.example/cb?", "https://c.example/cb?code=a%2Fb"},
    {"https://c.example/cb?x=1", "https://c.example/cb?x=1&code=a%2Fb"},
    {"https://c.example/cb#", "https://c.example/cb#code=a%2Fb"},
};

static void
test_append(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(append) / sizeof(append[0]); i++) {
		struct buf b;

		buf_init(&b, 256);
		assert_int_equal(buf_adds(&b, append[i].start), ST_OK);
		assert_int_equal(form_append(&b, "code", "a/b"), ST_OK);
		assert_string_equal(buf_str(&b).p, append[i].out);
		buf_free(&b);
	}
}

static void
test_append_sequence(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(buf_adds(&b, "https://c.example/cb?"), ST_OK);
	assert_int_equal(form_append(&b, "code", "x y"), ST_OK);
	assert_int_equal(form_append(&b, "state", "s&t=1"), ST_OK);
	assert_int_equal(form_append(&b, "iss", "https://as.example"), ST_OK);
	assert_string_equal(b.p, "https://c.example/cb?code=x%20y"
	                         "&state=s%26t%3D1"
	                         "&iss=https%3A%2F%2Fas.example");
	buf_free(&b);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_raw_nul_in_input),
	    cmocka_unit_test(test_slice_not_nul_terminated),
	    cmocka_unit_test(test_repeat_across_calls_and_rollback),
	    cmocka_unit_test(test_bad_name_truncated),
	    cmocka_unit_test(test_ceiling),
	    cmocka_unit_test(test_pointers_stable_while_growing),
	    cmocka_unit_test(test_get),
	    cmocka_unit_test(test_add),
	    cmocka_unit_test(test_free_reuse),
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_unescape_ceiling),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_escape_long_and_ceiling),
	    cmocka_unit_test(test_escape_roundtrip_all_bytes),
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_append_sequence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
