/*
 * The request's accessors and responders (http.h): what a handler reads of
 * its request, and the one answer it gives.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/http_int.h"

const char *
http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *
http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *
http_req_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_query(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

const char *
http_req_cookie(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

struct query_ctx {
	struct form *f;
	enum status rc;
};

/* With the lengths: a value decoded from "%00" holds a NUL, which
 * form_add() refuses. */
static enum MHD_Result
query_each(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
           const char *value, size_t value_size)
{
	struct query_ctx *qc = cls;

	(void)kind;
	qc->rc = form_add(qc->f, (struct str){key, key_size},
	                  (struct str){value != NULL ? value : "", value_size});
	return qc->rc == ST_OK ? MHD_YES : MHD_NO;
}

enum status
http_req_query_form(const struct http_req *req, struct form *f)
{
	struct query_ctx qc = {f, ST_OK};

	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND,
	                            query_each, &qc);
	return qc.rc;
}

struct str
http_req_body(const struct http_req *req)
{
	return buf_str(&req->body);
}

const char *
http_req_peer(const struct http_req *req)
{
	struct http_req *r = (struct http_req *)(uintptr_t)req;
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (r->peer[0] != '\0')
		return r->peer;
	ci = MHD_get_connection_info(r->conn,
	                             MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return "-";
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(
		    AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    r->peer, sizeof(r->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(
		    AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    r->peer, sizeof(r->peer));
	return r->peer[0] != '\0' ? r->peer : "-";
}

const char *
http_req_target(const struct http_req *req)
{
	return req->target != NULL ? req->target : req->path;
}

bool
http_req_tls(const struct http_req *req)
{
	return req->srv->tls_cert_path != NULL;
}

const struct http_limits *
http_req_limits(const struct http_req *req)
{
	return &req->srv->limits;
}

struct header_ctx {
	http_header_fn fn;
	void *arg;
};

static enum MHD_Result
header_each(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
	struct header_ctx *hc = cls;

	(void)kind;
	return hc->fn(key, value != NULL ? value : "", hc->arg) ? MHD_YES
	                                                        : MHD_NO;
}

void
http_req_headers_each(const struct http_req *req, http_header_fn fn, void *arg)
{
	struct header_ctx hc = {fn, arg};

	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_each, &hc);
}

enum status
http_req_stash(struct http_req *req, void *p, void (*free_fn)(void *))
{
	if (req->stash != NULL) {
		if (free_fn != NULL)
			free_fn(p);
		return ST_INVALID;
	}
	req->stash = p;
	req->stash_free = free_fn;
	return ST_OK;
}

void *
http_req_stashed(const struct http_req *req)
{
	return req->stash;
}

enum status
http_req_suspend(struct http_req *req, http_handler on_resume, void *ctx,
                 void (*ctx_free)(void *))
{
	char path[LOG_PATH_BYTES];

	if (req->offloaded) {
		log_err("event=http_suspend_offloaded path=%s",
		        log_safe(req->path, path, sizeof(path)));
		return ST_INTERNAL;
	}
	if (!req->in_handler || req->answered || req->resume_fn != NULL ||
	    on_resume == NULL)
		return ST_INVALID;
	req->resume_fn = on_resume;
	req->resume_ctx = ctx;
	req->ctx_free = ctx_free;
	atomic_fetch_add(&req->srv->suspended, 1);
	MHD_suspend_connection(req->conn);
	return ST_OK;
}

void
http_req_resume(struct http_req *req)
{
	struct http_server *srv = req->srv;

	/* From here on req may be answered and freed by a server thread. */
	MHD_resume_connection(req->conn);
	atomic_fetch_sub(&srv->suspended, 1);
}

enum status
http_resp_header_or_500(struct http_req *req, const char *name,
                        const char *value)
{
	enum status rc;

	if (req->hdrs_failed)
		return ST_TOOBIG;
	if ((rc = buf_add(&req->hdrs, name, strlen(name) + 1)) != ST_OK ||
	    (rc = buf_add(&req->hdrs, value, strlen(value) + 1)) != ST_OK) {
		req->hdrs_failed = true; /* buf_add freed the others */
		return rc;
	}
	return ST_OK;
}

enum status
http_resp_header(struct http_req *req, const char *name, const char *value)
{
	return http_resp_header_or_500(req, name, value);
}

enum status
http_resp_queue(struct http_req *req, unsigned status,
                struct MHD_Response *resp)
{
	enum MHD_Result ok;

	if (req->offloaded) {
		req->kept = resp;
		req->kept_status = status;
		req->answered = true;
		return ST_OK;
	}
	ok = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	if (ok != MHD_YES)
		return ST_INTERNAL;
	req->answered = true;
	return ST_OK;
}

/* The answer when the one a handler built lost a header: a fixed 500. */
static enum status
respond_broken(struct http_req *req)
{
	static const char body[] = "{\"error\":\"server_error\","
	                           "\"error_description\":\"internal error\"}";
	struct MHD_Response *resp;
	char path[LOG_PATH_BYTES];

	log_err("event=http_answer_failed path=%s reason=header_lost",
	        log_safe(req->path, path, sizeof(path)));
	buf_free(&req->hdrs);
	resp = MHD_create_response_from_buffer(
	    sizeof(body) - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return ST_NOMEM;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            "application/json; charset=utf-8") !=
	        MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	                            "no-store") != MHD_YES) {
		MHD_destroy_response(resp);
		return ST_NOMEM;
	}
	return http_resp_queue(req, MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
}

bool
http_resp_headers_add(struct http_req *req, struct MHD_Response *resp,
                      const char *content_type)
{
	struct str h;
	bool ok = true;

	if (content_type != NULL)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		                             content_type) == MHD_YES;
	if (ok && req->srv->hsts) /* RFC 6797 */
		ok = MHD_add_response_header(resp, "Strict-Transport-Security",
		                             HTTP_HSTS_VALUE) == MHD_YES;
	h = buf_str(&req->hdrs);
	for (size_t off = 0; ok && off < h.len;) {
		const char *name = h.p + off;
		const char *value = name + strlen(name) + 1;

		ok = MHD_add_response_header(resp, name, value) == MHD_YES;
		off = (size_t)(value + strlen(value) + 1 - h.p);
	}
	buf_free(&req->hdrs);
	return ok;
}

bool
http_resp_unanswered(struct http_req *req)
{
	char path[LOG_PATH_BYTES];

	if (!req->answered)
		return true;
	log_err("event=http_double_answer path=%s",
	        log_safe(req->path, path, sizeof(path)));
	return false;
}

/* Queues data (taken: freed by libmicrohttpd, or here on error); for an
 * offloaded request, keeps the answer for the access handler to queue. */
static enum status
respond(struct http_req *req, unsigned status, const char *content_type,
        char *data, size_t len)
{
	struct MHD_Response *resp;

	if (!http_resp_unanswered(req)) {
		free(data);
		return ST_INTERNAL;
	}
	if (req->hdrs_failed) {
		free(data);
		return respond_broken(req);
	}
	resp =
	    MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return ST_NOMEM;
	}
	if (!http_resp_headers_add(req, resp, content_type)) {
		MHD_destroy_response(resp); /* frees data */
		return respond_broken(req);
	}
	return http_resp_queue(req, status, resp);
}

enum status
http_respond_text(struct http_req *req, unsigned status,
                  const char *content_type, const char *text, size_t len)
{
	char *copy;

	copy = malloc(len + 1);
	if (copy == NULL)
		return ST_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	return respond(req, status, content_type, copy, len);
}

enum status
http_respond_take(struct http_req *req, unsigned status,
                  const char *content_type, char *data, size_t len)
{
	return respond(req, status, content_type, data, len);
}

enum status
http_respond_json(struct http_req *req, unsigned status, json_t *body)
{
	char *text;

	if (body == NULL)
		return ST_NOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return ST_NOMEM;
	return respond(req, status, "application/json; charset=utf-8", text,
	               strlen(text));
}

enum status
http_respond_html(struct http_req *req, unsigned status, const char *csp,
                  const char *html, size_t len)
{
	enum status rc;

	if ((rc = http_resp_header_or_500(req, "Content-Security-Policy",
	                                  csp)) != ST_OK ||
	    (rc = http_resp_header_or_500(req, "X-Frame-Options", "DENY")) !=
	        ST_OK ||
	    (rc = http_resp_header_or_500(req, "Referrer-Policy",
	                                  "no-referrer")) != ST_OK ||
	    (rc = http_resp_header_or_500(req, "X-Content-Type-Options",
	                                  "nosniff")) != ST_OK ||
	    (rc = http_resp_header_or_500(req, "Cache-Control", "no-store")) !=
	        ST_OK)
		return rc;
	return http_respond_text(req, status, "text/html; charset=utf-8", html,
	                         len);
}

enum status
http_respond_redirect(struct http_req *req, unsigned status,
                      const char *location)
{
	enum status rc;

	rc = http_resp_header_or_500(req, "Location", location);
	if (rc != ST_OK)
		return rc;
	return http_respond_text(req, status, NULL, "", 0);
}

enum status
http_respond_error(struct http_req *req, unsigned status, const char *code,
                   const char *desc)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return ST_NOMEM;
	json_object_set_new(o, "error", json_string(code));
	if (desc != NULL)
		json_object_set_new(o, "error_description", json_string(desc));
	/* If it is lost, respond() answers a bare 500. */
	(void)http_resp_header_or_500(req, "Cache-Control", "no-store");
	return http_respond_json(req, status, o);
}
