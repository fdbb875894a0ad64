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

static bool
content_length_over(struct http_req *req)
{
	const char		*cl;
	unsigned long long	 n;

	cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
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

struct hdr_scan {
	unsigned	 n;
	size_t		 bytes;
	unsigned	 content_lengths;
};

static enum MHD_Result
hdr_scan_each(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct hdr_scan *hs = cls;

	(void)kind;
	hs->n++;
	/* "name: value\r\n" */
	hs->bytes += key_size + value_size + 4;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		hs->content_lengths++;
	return MHD_YES;
}

/* Checks the headers against the limits and for what would make the
 * request mean two things (RFC 9112 §6.3: two Content-Lengths). */
void
http_head_check(struct http_req *req)
{
	const struct http_limits *l = &req->srv->limits;
	struct hdr_scan		 hs;
	const char		*te;

	memset(&hs, 0, sizeof(hs));
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, hdr_scan_each,
	    &hs);
	if (hs.n > l->header_max_count || hs.bytes > l->header_max_bytes)
		http_refuse(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
		    "too many or too large request headers");
	if (hs.content_lengths > 1)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		    "more than one Content-Length");
	te = http_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te != NULL && strcasecmp(te, "chunked") != 0)
		http_refuse(req, MHD_HTTP_NOT_IMPLEMENTED,
		    "only the chunked transfer coding is understood");
	if (content_length_over(req))
		http_refuse(req, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large");
}

/* True if t is printable ASCII with '%' only before two hex digits: what
 * RFC 3986 allows in a request-target, loosely (no character classes). */
static bool
target_ok(const char *t)
{
	for (; *t != '\0'; t++) {
		unsigned char c = (unsigned char)*t;

		if (c <= 0x20 || c >= 0x7f)
			return false;
		if (c == '%' && !(isxdigit((unsigned char)t[1]) &&
		    isxdigit((unsigned char)t[2])))
			return false;
	}
	return true;
}

/* The arguments in t's query ('&'-separated pieces), counting no further
 * than max + 1. */
static size_t
query_args(const char *t, size_t max)
{
	const char	*q = strchr(t, '?');
	size_t		 n = 1;

	if (q == NULL)
		return 0;
	for (q++; *q != '\0' && n <= max; q++)
		if (*q == '&')
			n++;
	return n;
}

/* Checks the request-target, before libmicrohttpd splits its query. */
void
http_target_check(struct http_req *req, const char *target)
{
	const struct http_limits *l = &req->srv->limits;

	if (strlen(target) > l->url_max_bytes)
		http_refuse(req, MHD_HTTP_URI_TOO_LONG, "request URL too long");
	else if (query_args(target, HTTP_QUERY_ARGS_MAX) >
	    HTTP_QUERY_ARGS_MAX)
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
		    "too many query parameters");
	else if (!target_ok(target))
		http_refuse(req, MHD_HTTP_BAD_REQUEST,
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

