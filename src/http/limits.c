/*
 * Request limits (http.h, docs/deploy.md "Limits"): what is refused before
 * any handler runs, and the connection memory pool those limits need.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* The body cap of the request's route (the server's for no route). */
size_t
http_body_max(const struct http_req *req)
{
	if (req->route != NULL && req->route->body_max != 0)
		return req->route->body_max;
	return req->srv->limits.body_max_bytes;
}

/* True if the Content-Length value cl (may be NULL) is past the route's
 * body cap, or no number at all. */
static bool
content_length_over(const struct http_req *req, const char *cl)
{
	unsigned long long n;

	if (cl == NULL)
		return false;
	return !str_to_u64(str_of(cl), 0, http_body_max(req), &n);
}

/* Refuses req with status and why (static text), answered by dispatch()
 * before any handler runs. The first refusal stands. */
void
http_refuse(struct http_req *req, unsigned status, const char *why)
{
	if (req->refused != 0)
		return;
	req->refused = status;
	req->refused_why = why;
}

/* What one pass over the headers finds. */
struct hdr_scan {
	unsigned n;
	size_t bytes;
	unsigned content_lengths;
	const char *content_length; /* the first one's value */
	const char *transfer_encoding;
	bool ctl; /* a control byte in a name or value */
};

/* True if s[0..n) holds a control character other than HTAB (RFC 9110
 * §5.5: CTL is 0x00-0x1F and 0x7F). obs-text (0x80-0xFF) is allowed.
 * By length: a NUL inside a value shows only in its size. */
static bool
has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

static enum MHD_Result
hdr_scan_each(void *cls, enum MHD_ValueKind kind, const char *key,
              size_t key_size, const char *value, size_t value_size)
{
	struct hdr_scan *hs = cls;

	(void)kind;
	hs->n++;
	/* "name: value\r\n" */
	hs->bytes += key_size + value_size + 4;
	if (has_ctl(key, key_size) ||
	    (value != NULL && has_ctl(value, value_size)))
		hs->ctl = true;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (hs->content_lengths++ == 0)
			hs->content_length = value;
	} else if (hs->transfer_encoding == NULL &&
	           strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		hs->transfer_encoding = value;
	}
	return MHD_YES;
}

/* Checks the headers against the limits and for what would make the
 * request mean two things to us and to the upstream (RFC 9112 §6.3: two
 * Content-Lengths, or one with Transfer-Encoding; a bare CR or other
 * control byte, which some parsers take as a line break), in one pass
 * over them. */
void
http_head_check(struct http_req *req)
{
	const struct http_limits *l = &req->srv->limits;
	struct hdr_scan hs;

	memset(&hs, 0, sizeof(hs));
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, hdr_scan_each,
	                            &hs);
	if (hs.n > l->header_max_count || hs.bytes > l->header_max_bytes)
		http_refuse(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
		            "too many or too large request headers");
	if (hs.ctl)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		            "control character in a request header");
	if (hs.content_lengths > 1)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		            "more than one Content-Length");
	/* RFC 9112 §6.1: a request with both is a smuggling attempt; the
	 * connection is closed after the answer (dispatch()). */
	if (hs.content_lengths > 0 && hs.transfer_encoding != NULL)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		            "both Content-Length and Transfer-Encoding");
	if (hs.transfer_encoding != NULL &&
	    strcasecmp(hs.transfer_encoding, "chunked") != 0)
		http_refuse(req, MHD_HTTP_NOT_IMPLEMENTED,
		            "only the chunked transfer coding is understood");
	if (content_length_over(req, hs.content_length))
		http_refuse(req, MHD_HTTP_CONTENT_TOO_LARGE,
		            "request body too large");
}

/*
 * Checks the request-target, before libmicrohttpd splits its query, in one
 * pass: its length, its query arguments ('&'-separated pieces after the
 * first '?'), and its bytes: printable ASCII with '%' only before two hex
 * digits, what RFC 3986 allows, loosely (no character classes).
 */
void
http_target_check(struct http_req *req, const char *target)
{
	const struct http_limits *l = &req->srv->limits;
	const char *t;
	size_t args = 0;
	bool ok = true;

	for (t = target; *t != '\0'; t++) {
		unsigned char c = (unsigned char)*t;

		if ((size_t)(t - target) >= l->url_max_bytes) {
			http_refuse(req, MHD_HTTP_URI_TOO_LONG,
			            "request URL too long");
			return;
		}
		if (c <= 0x20 || c >= 0x7f ||
		    (c == '%' && !(isxdigit((unsigned char)t[1]) &&
		                   isxdigit((unsigned char)t[2]))))
			ok = false;
		else if (c == '?' && args == 0)
			args = 1;
		else if (c == '&' && args > 0)
			args++;
	}
	if (args > HTTP_QUERY_ARGS_MAX)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		            "too many query parameters");
	else if (!ok)
		http_refuse(
		    req, MHD_HTTP_BAD_REQUEST,
		    "malformed request URL (bytes outside printable ASCII, "
		    "or a '%' not followed by two hex digits)");
}

/*
 * A connection's memory pool: libmicrohttpd keeps the request head and one
 * record per header and per query argument in it, and a request that does
 * not fit gets no answer at all (the 431 it means to send finds no room
 * either). So it holds the largest head the limits let through: the text,
 * a record for each header and each query argument (on_uri() cuts the
 * query of a request with more), and room for the answer's head. It is
 * kept small: libmicrohttpd touches much of each connection's pool.
 */
size_t
http_pool_size(const struct http_limits *l)
{
	size_t records = HTTP_QUERY_ARGS_MAX + 1 + l->header_max_count;

	return l->header_max_bytes + l->url_max_bytes +
	       records * HTTP_POOL_RECORD_BYTES + HTTP_POOL_SLACK;
}
