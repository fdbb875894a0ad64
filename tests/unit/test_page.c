/* auth/page: templates, escaping, overrides, the built-in pages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/page.h"

#define TMPL_DIR_TEMPLATE "/tmp/plugauth-test-page-XXXXXX"

struct fixture {
	char dir[sizeof(TMPL_DIR_TEMPLATE)];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	memcpy(f->dir, TMPL_DIR_TEMPLATE, sizeof(f->dir));
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
write_file(const struct fixture *f, const char *name, const char *text,
           size_t len)
{
	char path[512];
	FILE *fp;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_true(n > 0 && (size_t)n < sizeof(path));
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
write_tmpl(const struct fixture *f, const char *name, const char *text)
{
	write_file(f, name, text, strlen(text));
}

/* Loads f->dir with error.html = text and renders the error page. */
static enum status
render_error_tmpl(const struct fixture *f, const char *text,
                  const struct page_var *vars, size_t n, struct buf *out,
                  char *err, size_t errlen)
{
	struct auth_pages *ap = NULL;
	enum status rc;

	write_tmpl(f, "error.html", text);
	rc = auth_pages_load(f->dir, &ap, err, errlen);
	if (rc != ST_OK)
		return rc;
	rc = auth_page_render(ap, AUTH_PAGE_ERROR, vars, n, out);
	auth_pages_free(ap);
	return rc;
}

static void
test_escape_hostile(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"<script>alert(1)</script>",
	     "&lt;script&gt;alert(1)&lt;/script&gt;"},
	    {"\" onmouseover=\"x", "&quot; onmouseover=&quot;x"},
	    {"' autofocus onfocus='x", "&#39; autofocus onfocus=&#39;x"},
	    {"a&b", "a&amp;b"},
	    {"&amp;", "&amp;amp;"},
	    {"`x`", "&#96;x&#96;"},
	    {"https://chatgpt.com/aip/g-1/oauth/callback?x=1",
	     "https://chatgpt.com/aip/g-1/oauth/callback?x=1"},
	    {"pa_ac_AbC-_09==", "pa_ac_AbC-_09=="},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"", ""},
	};
	struct buf b;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		buf_init(&b, 1024);
		assert_int_equal(html_escape(&b, cases[i].in), ST_OK);
		assert_string_equal(buf_str(&b).len ? b.p : "", cases[i].want);
		buf_free(&b);
	}
	buf_init(&b, 1024);
	assert_int_equal(html_escape(&b, NULL), ST_OK);
	assert_int_equal(b.len, 0);
	/* Past the ceiling: ST_TOOBIG and the buffer is freed. */
	buf_init(&b, 8);
	assert_int_equal(html_escape(&b, "<<<"), ST_TOOBIG);
	assert_null(b.p);
}

static void
test_hidden_and_items(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(auth_hidden_add(&b, "state", "a\"><script>"), ST_OK);
	assert_int_equal(auth_hidden_add(&b, "empty", ""), ST_OK);
	assert_int_equal(auth_hidden_add(&b, "null", NULL), ST_OK);
	assert_int_equal(auth_hidden_add(&b, "csrf", "tok"), ST_OK);
	assert_string_equal(
	    b.p, "<input type=\"hidden\" name=\"state\" "
	         "value=\"a&quot;&gt;&lt;script&gt;\">\n"
	         "<input type=\"hidden\" name=\"csrf\" value=\"tok\">\n");
	buf_free(&b);

	buf_init(&b, 4096);
	assert_int_equal(auth_item_add(&b, "Read <your> todos"), ST_OK);
	assert_int_equal(auth_item_add(&b, ""), ST_OK);
	assert_int_equal(auth_item_add(&b, NULL), ST_OK);
	assert_string_equal(b.p, "<li>Read &lt;your&gt; todos</li>\n");
	buf_free(&b);
}

static void
test_values_escaped_not_reexpanded(void **state)
{
	struct fixture *f = *state;
	const struct page_var vars[] = {
	    {"title", "<script>alert('x')</script>"},
	    {"message", "{{title}} {{{hidden}}} {{#a}}"},
	    {"hint", "\" onclick=\"evil()"},
	    {"hidden", "<b>raw</b>"},
	};
	struct buf out;
	char err[256];

	assert_int_equal(
	    render_error_tmpl(f,
	                      "<h1>{{title}}</h1><p>{{message}}</p>"
	                      "<a title=\"{{hint}}\">x</a>{{{hidden}}}",
	                      vars, ARRAY_LEN(vars), &out, err, sizeof(err)),
	    ST_OK);
	assert_string_equal(
	    out.p, "<h1>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</h1>"
	           "<p>{{title}} {{{hidden}}} {{#a}}</p>"
	           "<a title=\"&quot; onclick=&quot;evil()\">x</a><b>raw</b>");
	buf_free(&out);
}

static void
test_sections(void **state)
{
	struct fixture *f = *state;
	const char *tmpl = "[{{#a}}A={{a}}{{/a}}|{{^a}}no a{{/a}}|"
	                   "{{# b }}B{{/ b }}|{{^b}}no b{{/b}}]";
	const struct page_var with[] = {{"a", "1"}, {"b", "x"}};
	const struct page_var empty[] = {{"a", ""}, {"b", NULL}};
	struct buf out;
	char err[256];

	assert_int_equal(render_error_tmpl(f, tmpl, with, ARRAY_LEN(with), &out,
	                                   err, sizeof(err)),
	                 ST_OK);
	assert_string_equal(out.p, "[A=1||B|]");
	buf_free(&out);

	assert_int_equal(render_error_tmpl(f, tmpl, empty, ARRAY_LEN(empty),
	                                   &out, err, sizeof(err)),
	                 ST_OK);
	assert_string_equal(out.p, "[|no a||no b]");
	buf_free(&out);

	/* Absent variables count as empty. */
	assert_int_equal(
	    render_error_tmpl(f, tmpl, NULL, 0, &out, err, sizeof(err)), ST_OK);
	assert_string_equal(out.p, "[|no a||no b]");
	buf_free(&out);
}

static void
test_unknown_variable_renders_empty(void **state)
{
	struct fixture *f = *state;
	const struct page_var vars[] = {{"title", "T"}, {"title", "2nd"}};
	struct buf out;
	char err[256];

	assert_int_equal(
	    render_error_tmpl(f, "[{{title}}|{{nosuch}}|{{titl}}|{{title_x}}]",
	                      vars, ARRAY_LEN(vars), &out, err, sizeof(err)),
	    ST_OK);
	assert_string_equal(out.p, "[T|||]"); /* first match wins */
	buf_free(&out);
}

static void
test_malformed_rejected(void **state)
{
	static const struct {
		const char *tmpl;
		const char *msg; /* part of the error message */
	} cases[] = {
	    {"x {{title", "is never closed"},
	    {"x {{{hidden}} y", "is never closed"},
	    {"{{ti {{tle}}", "is never closed"},
	    {"{{}}", "bad variable name"},
	    {"{{ti-tle}}", "bad variable name"},
	    {"{{#}}x{{/}}", "bad variable name"},
	    {"{{>partial}}", "unsupported tag"},
	    {"{{!comment}}", "unsupported tag"},
	    {"{{#a}}x", "{{#a}} is never closed"},
	    {"{{^a}}x", "{{^a}} is never closed"},
	    {"x{{/a}}", "without an opening"},
	    {"{{#a}}x{{/b}}", "{{/b}} closes {{#a}}"},
	    {"{{#a}}{{#b}}x{{/b}}{{/a}}", "sections do not nest"},
	    {"{{#a}}{{^a}}x{{/a}}{{/a}}", "sections do not nest"},
	    {"{{{title}}}", "may be inserted unescaped"},
	    {"<a href={{title}}>", "not in a quoted attribute"},
	    {"<a href= {{title}}>", "not in a quoted attribute"},
	    {"<a {{title}}>", "not in a quoted attribute"},
	    {"<{{title}}>", "not in a quoted attribute"},
	    {"<a title=\"x\" {{title}}>", "not in a quoted attribute"},
	    {"<a title='>' {{title}}>", "not in a quoted attribute"},
	};
	struct fixture *f = *state;
	struct auth_pages *ap;
	char err[256];
	enum status rc;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		ap = NULL;
		write_tmpl(f, "error.html", cases[i].tmpl);
		rc = auth_pages_load(f->dir, &ap, err, sizeof(err));
		if (rc != ST_INVALID || strstr(err, cases[i].msg) == NULL ||
		    strstr(err, "error.html:1:") == NULL)
			fail_msg("template \"%s\": rc %d, err \"%s\"",
			         cases[i].tmpl, rc, err);
		assert_null(ap);
	}
}

static void
test_error_names_line(void **state)
{
	struct fixture *f = *state;
	struct auth_pages *ap = NULL;
	char err[256];

	write_tmpl(f, "error.html", "a\nb\n{{#open}}\nc\n");
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(
	    strstr(err, "/error.html:3: {{#open}} is never closed"));
	assert_non_null(strstr(err, f->dir));

	/* A short error buffer is cut, never overrun. */
	char tiny[8];
	assert_int_equal(auth_pages_load(f->dir, &ap, tiny, sizeof(tiny)),
	                 ST_INVALID);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void
test_form_pages_need_action_and_hidden(void **state)
{
	struct fixture *f = *state;
	struct auth_pages *ap = NULL;
	char err[256];

	write_tmpl(f, "login.html", "<form>{{{hidden}}}</form>");
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "login.html: missing {{action}}"));

	write_tmpl(f, "login.html", "<form action=\"{{action}}\"></form>");
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "login.html: missing {{{hidden}}}"));

	write_tmpl(f, "login.html",
	           "<form action=\"{{action}}\">{{{hidden}}}</form>");
	write_tmpl(f, "consent.html", "<form>{{{hidden}}}</form>");
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "consent.html: missing {{action}}"));
}

static void
test_override_replaces_one_page(void **state)
{
	struct fixture *f = *state;
	struct auth_pages *ap = NULL;
	const struct page_var vars[] = {
	    {"plugin_name", "TODO <List>"},
	    {"client_name", "ChatGPT"},
	    {"action", "/oauth/authorize"},
	    {"hidden", "<input type=\"hidden\" name=\"csrf\" value=\"t\">"},
	    {"title", "Oops"},
	};
	struct buf out;
	char err[256];

	write_tmpl(
	    f, "login.html",
	    "CUSTOM {{plugin_name}} <form action=\"{{action}}\">{{{hidden}}}"
	    "</form>");
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)), ST_OK);

	assert_int_equal(
	    auth_page_render(ap, AUTH_PAGE_LOGIN, vars, ARRAY_LEN(vars), &out),
	    ST_OK);
	assert_string_equal(
	    out.p, "CUSTOM TODO &lt;List&gt; <form action=\"/oauth/authorize\">"
	           "<input type=\"hidden\" name=\"csrf\" value=\"t\"></form>");
	buf_free(&out);

	/* The other two stay built-in. */
	assert_int_equal(auth_page_render(ap, AUTH_PAGE_CONSENT, vars,
	                                  ARRAY_LEN(vars), &out),
	                 ST_OK);
	assert_non_null(strstr(out.p, "<!doctype html>"));
	assert_non_null(strstr(out.p, "value=\"allow\""));
	buf_free(&out);
	assert_int_equal(
	    auth_page_render(ap, AUTH_PAGE_ERROR, vars, ARRAY_LEN(vars), &out),
	    ST_OK);
	assert_non_null(strstr(out.p, "<h1>Oops</h1>"));
	buf_free(&out);
	auth_pages_free(ap);
}

static void
test_override_errors(void **state)
{
	struct fixture *f = *state;
	struct auth_pages *ap = NULL;
	char err[512], path[512];
	char *big;
	size_t n = PAGE_TEMPLATE_MAX_BYTES + 1;
	int len;

	/* Missing directory. */
	len = snprintf(path, sizeof(path), "%s/nope", f->dir);
	assert_true(len > 0 && (size_t)len < sizeof(path));
	assert_int_equal(auth_pages_load(path, &ap, err, sizeof(err)),
	                 ST_NOTFOUND);
	assert_non_null(strstr(err, path));
	assert_null(ap);

	/* Not a directory. */
	write_tmpl(f, "plain", "x");
	len = snprintf(path, sizeof(path), "%s/plain", f->dir);
	assert_true(len > 0 && (size_t)len < sizeof(path));
	assert_int_equal(auth_pages_load(path, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "not a directory"));
	unlink(path);

	/* Too big. */
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	write_file(f, "consent.html", big, n);
	free(big);
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_TOOBIG);
	assert_non_null(strstr(err, "consent.html: "));
	assert_non_null(strstr(err, "262145 bytes"));
	assert_null(ap);

	/* Exactly at the cap is fine (as long as it is a valid page). */
	big = malloc(PAGE_TEMPLATE_MAX_BYTES);
	assert_non_null(big);
	memset(big, ' ', PAGE_TEMPLATE_MAX_BYTES);
	memcpy(big, "{{action}}{{{hidden}}}", 22);
	write_file(f, "consent.html", big, PAGE_TEMPLATE_MAX_BYTES);
	free(big);
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)), ST_OK);
	auth_pages_free(ap);
	ap = NULL;

	/* A NUL byte. */
	write_file(f, "consent.html", "{{action}}{{{hidden}}}\0x", 24);
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "NUL byte"));

	/* A directory where a template should be. */
	len = snprintf(path, sizeof(path), "%s/consent.html", f->dir);
	assert_true(len > 0 && (size_t)len < sizeof(path));
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)),
	                 ST_INVALID);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(path);
}

static void
test_output_bounded(void **state)
{
	struct fixture *f = *state;
	struct auth_pages *ap = NULL;
	char err[256], *val;
	struct page_var vars[1];
	struct buf out;
	char tmpl[] = "{{message}}{{message}}";

	write_tmpl(f, "error.html", tmpl);
	assert_int_equal(auth_pages_load(f->dir, &ap, err, sizeof(err)), ST_OK);
	/* 100 KiB of '<' escapes to 400 KiB: over the cap. */
	val = malloc(100 * 1024 + 1);
	assert_non_null(val);
	memset(val, '<', 100 * 1024);
	val[100 * 1024] = '\0';
	vars[0] = (struct page_var){"message", val};
	assert_int_equal(auth_page_render(ap, AUTH_PAGE_ERROR, vars, 1, &out),
	                 ST_TOOBIG);
	assert_null(out.p);
	assert_int_equal(out.len, 0);
	free(val);
	assert_int_equal(
	    auth_page_render(ap, (enum auth_page)99, NULL, 0, &out),
	    ST_INVALID);
	auth_pages_free(ap);
}

static void
test_builtin_pages(void **state)
{
	struct auth_pages *ap = NULL;
	struct buf hidden, scopes, out;
	char err[256];

	(void)state;
	buf_init(&hidden, 4096);
	assert_int_equal(auth_hidden_add(&hidden, "csrf", "CSRF123"), ST_OK);
	assert_int_equal(auth_hidden_add(&hidden, "state", "s\"t"), ST_OK);
	buf_init(&scopes, 4096);
	assert_int_equal(auth_item_add(&scopes, "Read your <todos>"), ST_OK);

	const struct page_var vars[] = {
	    {"plugin_name", "TODO <List>"}, {"client_name", "Chat\"GPT"},
	    {"username", "al'ice"},         {"action", "/oauth/authorize"},
	    {"hidden", hidden.p},           {"scopes", scopes.p},
	    {"error", "Wrong <password>"},  {"title", "Bad <request>"},
	    {"message", "Unknown client"},
	};

	assert_int_equal(auth_pages_load(NULL, &ap, err, sizeof(err)), ST_OK);

	/* login */
	assert_int_equal(
	    auth_page_render(ap, AUTH_PAGE_LOGIN, vars, ARRAY_LEN(vars), &out),
	    ST_OK);
	assert_non_null(strstr(out.p, "<h1>Sign in to TODO &lt;List&gt;</h1>"));
	assert_non_null(strstr(out.p, "Chat&quot;GPT</strong> wants to "
	                              "access your account"));
	assert_non_null(strstr(
	    out.p, "<form method=\"post\" action=\"/oauth/authorize\">"));
	assert_non_null(strstr(out.p, "name=\"username\""));
	assert_non_null(strstr(out.p, "autocomplete=\"username\""));
	assert_non_null(strstr(out.p, "name=\"password\" type=\"password\" "
	                              "autocomplete=\"current-password\""));
	assert_non_null(strstr(out.p, "value=\"al&#39;ice\""));
	assert_non_null(strstr(out.p, hidden.p));
	assert_non_null(strstr(out.p, "value=\"s&quot;t\""));
	assert_non_null(strstr(out.p, "role=\"alert\">Wrong &lt;password&gt;"));
	assert_non_null(strstr(out.p, ">Sign in</button>"));
	assert_null(strstr(out.p, "<img")); /* no logo configured */
	assert_null(strstr(out.p, "{{"));
	assert_null(strstr(out.p, "<script"));
	buf_free(&out);

	/* login with a logo and no error */
	const struct page_var logo[] = {
	    {"logo_url", "https://example.com/logo.png"},
	    {"action", "/oauth/authorize"},
	};
	assert_int_equal(
	    auth_page_render(ap, AUTH_PAGE_LOGIN, logo, ARRAY_LEN(logo), &out),
	    ST_OK);
	assert_non_null(
	    strstr(out.p, "<img class=\"logo\" "
	                  "src=\"https://example.com/logo.png\" alt=\"\""));
	assert_null(strstr(out.p, "role=\"alert\""));
	buf_free(&out);

	/* consent */
	assert_int_equal(auth_page_render(ap, AUTH_PAGE_CONSENT, vars,
	                                  ARRAY_LEN(vars), &out),
	                 ST_OK);
	assert_non_null(strstr(out.p, "wants to access your <strong>TODO "
	                              "&lt;List&gt;</strong> account as "
	                              "<strong>al&#39;ice</strong>"));
	assert_non_null(strstr(out.p, "<li>Read your &lt;todos&gt;</li>"));
	assert_non_null(strstr(
	    out.p, "<form method=\"post\" action=\"/oauth/authorize\">"));
	assert_non_null(strstr(out.p, "name=\"decision\" value=\"allow\""));
	assert_non_null(strstr(out.p, "name=\"decision\" value=\"deny\""));
	assert_non_null(strstr(out.p, ">Allow</button>"));
	assert_non_null(strstr(out.p, ">Deny</button>"));
	assert_non_null(strstr(out.p, hidden.p));
	assert_null(strstr(out.p, "{{"));
	buf_free(&out);

	/* error */
	assert_int_equal(
	    auth_page_render(ap, AUTH_PAGE_ERROR, vars, ARRAY_LEN(vars), &out),
	    ST_OK);
	assert_non_null(strstr(out.p, "<title>Bad &lt;request&gt;</title>"));
	assert_non_null(strstr(out.p, "<h1>Bad &lt;request&gt;</h1>"));
	assert_non_null(strstr(out.p, "Unknown client"));
	assert_non_null(strstr(out.p, "Return to the app and try again."));
	assert_null(strstr(out.p, "<form"));
	buf_free(&out);

	/* error with nothing set still reads well */
	assert_int_equal(auth_page_render(ap, AUTH_PAGE_ERROR, NULL, 0, &out),
	                 ST_OK);
	assert_non_null(strstr(out.p, "<h1>Something went wrong</h1>"));
	buf_free(&out);

	auth_pages_free(ap);
	buf_free(&hidden);
	buf_free(&scopes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_hostile),
	    cmocka_unit_test(test_hidden_and_items),
	    cmocka_unit_test_setup_teardown(test_values_escaped_not_reexpanded,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_variable_renders_empty,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_rejected, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_error_names_line, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_form_pages_need_action_and_hidden, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_override_replaces_one_page,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_override_errors, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_output_bounded, setup,
	                                    teardown),
	    cmocka_unit_test(test_builtin_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
