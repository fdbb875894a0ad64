/*
 * The page served at /legal while [plugin] legal_info_url is unset.
 * ChatGPT requires legal_info_url in the manifest, whose default points
 * here, so it must answer: it says, in fixed text (no configured value,
 * nothing to escape), that the operator has not published terms yet and
 * how to set them. serve warns at start-up while it is in use.
 */
#include <string.h>

#include "plugin/plugin.h"

/* No script, no style from anywhere but this page. */
#define LEGAL_CSP                                                              \
	"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors "      \
	"'none'; "                                                             \
	"base-uri 'none'; form-action 'none'"

static const char legal_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Terms and privacy</title>\n"
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;"
    "margin:3em auto;padding:0 1em;color:#222}</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Terms and privacy</h1>\n"
    "<p>The operator of this service has not published its terms of use "
    "and privacy policy here yet.</p>\n"
    "<p>Operators: set <code>[plugin] legal_info_url</code> in "
    "<code>plugauth.conf</code> to the address of your own terms page; "
    "this page then answers 404.</p>\n"
    "</body>\n"
    "</html>\n";

enum status
plug_legal_handle(struct http_req *req, void *ctx)
{
	const struct plug_env *env = ctx;

	if (!env->legal)
		return http_respond_error(req, 404, "not_found", NULL);
	return http_respond_html(req, 200, LEGAL_CSP, legal_html,
	                         sizeof(legal_html) - 1);
}
