/*
 * Client authentication at the token endpoint (RFC 6749 §2.3): HTTP Basic
 * with form-encoded id and secret, or both in the body. Plugins and GPT
 * Actions use either, so every client accepts both; never both at once.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "crypto/sec.h"
#include "oauth/oauth_int.h"

#define BASIC_MAX_BYTES 1024

TESTABLE void
oauth_basic_free(struct oauth_basic_creds *bc)
{
	buf_free(&bc->id);
	buf_wipe_free(&bc->secret);
}

/* Decodes "Basic base64(urlenc(id):urlenc(secret))". */
TESTABLE enum status
oauth_basic_parse(const char *hdr, struct oauth_basic_creds *bc)
{
	uint8_t raw[BASIC_MAX_BYTES];
	size_t len = 0;
	const char *b64, *colon;
	enum status rc;

	buf_init(&bc->id, BASIC_MAX_BYTES);
	buf_init_secret(&bc->secret, BASIC_MAX_BYTES);
	if (strncasecmp(hdr, "Basic ", 6) != 0)
		return ST_INVALID;
	b64 = hdr + 6;
	while (*b64 == ' ')
		b64++;
	rc = sec_base64_decode(str_of(b64), raw, sizeof(raw), &len);
	if (rc != ST_OK)
		goto out;
	colon = memchr(raw, ':', len);
	if (colon == NULL) {
		rc = ST_INVALID;
		goto out;
	}
	rc = form_unescape((struct str){(const char *)raw,
	                                (size_t)(colon - (const char *)raw)},
	                   true, &bc->id);
	if (rc == ST_OK)
		rc = form_unescape(
		    (struct str){colon + 1,
		                 len - (size_t)(colon + 1 - (const char *)raw)},
		    true, &bc->secret);
out:
	sec_wipe(raw, sizeof(raw));
	return rc;
}

/* Keeps the client_id a request presented, for the event and the log:
 * an identifier, but one that looks like one of our secrets (a secret sent
 * as the client_id) is not kept. */
static void
presented_keep(struct oauth_client_auth *ca, const char *id)
{
	static const char *const secret_prefixes[] = {
	    SEC_PREFIX_SECRET, SEC_PREFIX_ACCESS, SEC_PREFIX_REFRESH,
	    SEC_PREFIX_CODE, SEC_PREFIX_SESSION};
	size_t n;

	ca->presented_id[0] = '\0';
	if (id == NULL)
		return;
	for (size_t i = 0; i < ARRAY_LEN(secret_prefixes); i++)
		if (strncmp(id, secret_prefixes[i],
		            strlen(secret_prefixes[i])) == 0) {
			str_copy(ca->presented_id, sizeof(ca->presented_id),
			         "(a secret, not kept)");
			return;
		}
	n = strnlen(id, sizeof(ca->presented_id) - 1);
	memcpy(ca->presented_id, id, n);
	ca->presented_id[n] = '\0';
}

/* Sets why and ca->reason; returns e. */
static enum oauth_error
auth_fail(struct oauth_client_auth *ca, const char **why, enum oauth_error e,
          const char *reason, const char *sentence)
{
	ca->reason = reason;
	*why = sentence;
	return e;
}

/* Reads the credentials of one method into *id and *secret (borrowed
 * from bc or f); sets ca->method and the presented client_id. */
static enum oauth_error
creds_read(const struct http_req *req, const struct form *f,
           struct oauth_basic_creds *bc, struct oauth_client_auth *ca,
           const char **id, const char **secret, const char **why)
{
	const char *hdr = http_req_header(req, "Authorization");

	ca->basic_tried = hdr != NULL && strncasecmp(hdr, "Basic ", 6) == 0;
	*id = form_get(f, "client_id");
	*secret = form_get(f, "client_secret");
	ca->method = ca->basic_tried   ? (*secret != NULL ? "both" : "basic")
	             : *secret != NULL ? "post"
	                               : "none";
	if (ca->basic_tried) {
		if (oauth_basic_parse(hdr, bc) != ST_OK || bc->id.len == 0) {
			presented_keep(ca, *id);
			return auth_fail(ca, why, OAUTH_INVALID_CLIENT,
			                 "credentials_malformed",
			                 "malformed Basic credentials");
		}
		presented_keep(ca, bc->id.p);
		if (*secret != NULL)
			return auth_fail(ca, why, OAUTH_INVALID_REQUEST,
			                 "credentials_twice",
			                 "client credentials in both the "
			                 "Authorization header and the body");
		if (*id != NULL && strcmp(*id, bc->id.p) != 0)
			return auth_fail(ca, why, OAUTH_INVALID_REQUEST,
			                 "client_id_mismatch",
			                 "client_id in the body differs from "
			                 "the Authorization header");
		*id = bc->id.p;
		*secret = bc->secret.p != NULL ? bc->secret.p : "";
		return OAUTH_OK;
	}
	presented_keep(ca, *id);
	if (hdr != NULL)
		return auth_fail(ca, why, OAUTH_INVALID_CLIENT,
		                 "auth_scheme_unsupported",
		                 "unsupported Authorization scheme");
	if (*id == NULL)
		return auth_fail(ca, why, OAUTH_INVALID_CLIENT,
		                 "credentials_missing",
		                 "no client authentication");
	return OAUTH_OK;
}

/* True if digest is the client's secret's, or that of the secret its last
 * rotation replaced while its grace window lasts. Both compared in
 * constant time, always both: the time taken tells neither. */
static bool
secret_ok(const struct store_client *c, const uint8_t digest[SEC_DIGEST_BYTES])
{
	bool cur = sec_digest_eq(digest, c->secret_digest);
	bool old = sec_digest_eq(digest, c->old_secret_digest);

	return cur | (old & (c->old_secret_until > clk_now_s()));
}

enum oauth_error
oauth_client_authenticate(struct store *st, const struct http_req *req,
                          const struct form *f, struct oauth_client_auth *ca,
                          const char **why)
{
	struct oauth_basic_creds bc;
	const char *id, *secret;
	uint8_t digest[SEC_DIGEST_BYTES];
	struct store_client *c = NULL;
	enum oauth_error e;
	enum status rc;

	memset(&bc, 0, sizeof(bc));
	ca->client = NULL;
	ca->authenticated = false;
	ca->reason = NULL;
	e = creds_read(req, f, &bc, ca, &id, &secret, why);
	if (e != OAUTH_OK)
		goto out;
	rc = store_client_get(st, id, &c);
	if (rc == ST_NOTFOUND) {
		e = auth_fail(ca, why, OAUTH_INVALID_CLIENT, "client_unknown",
		              "unknown client");
	} else if (rc != ST_OK) {
		e = auth_fail(ca, why, OAUTH_TEMPORARILY_UNAVAILABLE,
		              "store_error", "storage unavailable");
	} else if (c->is_public) {
		if (secret != NULL && secret[0] != '\0')
			e = auth_fail(ca, why, OAUTH_INVALID_CLIENT,
			              "public_client_secret",
			              "public client sent a secret");
	} else if (secret == NULL) {
		e = auth_fail(ca, why, OAUTH_INVALID_CLIENT, "secret_missing",
		              "client secret missing");
	} else {
		sec_digest(secret, strlen(secret), digest);
		if (!secret_ok(c, digest))
			e = auth_fail(ca, why, OAUTH_INVALID_CLIENT,
			              "secret_wrong", "wrong client secret");
		else
			ca->authenticated = true;
	}
	if (e != OAUTH_OK)
		goto out;
	ca->client = c;
	c = NULL;
out:
	store_client_free(c);
	oauth_basic_free(&bc);
	return e;
}

const char *
oauth_client_auth_id(const struct oauth_client_auth *ca, char *buf,
                     size_t bufsz)
{
	return log_safe(ca->client != NULL            ? ca->client->id
	                : ca->presented_id[0] != '\0' ? ca->presented_id
	                                              : NULL,
	                buf, bufsz);
}

void
oauth_client_auth_event(const struct oauth_env *env, const struct http_req *req,
                        const char *kind, const struct oauth_client_auth *ca,
                        enum oauth_error e, const char *why)
{
	struct oauth_event_rec r = {
	    .kind = kind,
	    .outcome = oauth_error_code(e),
	    .reason = ca->reason,
	    .client_id = ca->presented_id[0] != '\0' ? ca->presented_id : NULL,
	    .method = ca->method,
	    .description = why,
	    .peer = http_req_peer(req),
	};

	if (ca->client != NULL || ca->reason == NULL)
		return;
	oauth_event(env->events, &r);
}
