/*
 * src/http/request.c: an answer never goes out short of a header the
 * handler added. When a header is lost (past the answer's header cap, or
 * out of memory), whatever the handler answers next becomes a bare 500
 * with Cache-Control: no-store.
 *
 * The request is marked offloaded, so that the answer is kept in
 * req->kept instead of being queued on a connection (there is none here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

struct fx {
	struct http_server srv;
	struct http_req req;
};

static int
setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));

	f->req.srv = &f->srv;
	f->req.path = "/t";
	f->req.offloaded = true;
	buf_init(&f->req.hdrs, 64); /* room for two short headers */
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->req.kept != NULL)
		MHD_destroy_response(f->req.kept);
	buf_free(&f->req.hdrs);
	test_free(f);
	return 0;
}

static void
test_headers_kept(void **state)
{
	struct fx *f = *state;
	const char *v;

	assert_int_equal(http_resp_header(&f->req, "Cache-Control", "no-store"),
	                 ST_OK);
	assert_int_equal(
	    http_respond_json(&f->req, 200, json_pack("{s:s}", "a", "b")),
	    ST_OK);
	assert_int_equal(f->req.kept_status, 200);
	v = MHD_get_response_header(f->req.kept, "Cache-Control");
	assert_non_null(v);
	assert_string_equal(v, "no-store");
}

static void
test_lost_header_answers_500(void **state)
{
	struct fx *f = *state;
	char long_value[128];
	const char *v;

	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(http_resp_header(&f->req, "Cache-Control", "no-store"),
	                 ST_OK);
	assert_int_not_equal(http_resp_header(&f->req, "X-Long", long_value),
	                     ST_OK);
	/* Later headers fail too: the answer is already lost. */
	assert_int_not_equal(http_resp_header(&f->req, "Pragma", "no-cache"),
	                     ST_OK);
	/* A handler that goes on answering 200 gets a 500 out instead. */
	assert_int_equal(
	    http_respond_json(&f->req, 200,
	                      json_pack("{s:s}", "access_token", "secret")),
	    ST_OK);
	assert_int_equal(f->req.kept_status, 500);
	v = MHD_get_response_header(f->req.kept, "Cache-Control");
	assert_non_null(v);
	assert_string_equal(v, "no-store");
	assert_null(MHD_get_response_header(f->req.kept, "X-Long"));
}

static void
test_lost_header_error_answer_is_500(void **state)
{
	struct fx *f = *state;
	char long_value[128];

	memset(long_value, 'y', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_not_equal(
	    http_resp_header(&f->req, "WWW-Authenticate", long_value), ST_OK);
	assert_int_equal(
	    http_respond_error(&f->req, 401, "invalid_token", "no"), ST_OK);
	assert_int_equal(f->req.kept_status, 500);
	assert_null(MHD_get_response_header(f->req.kept, "WWW-Authenticate"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_headers_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_header_answers_500, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lost_header_error_answer_is_500, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
