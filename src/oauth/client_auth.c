/*
 * Client authentication at the token endpoint (RFC 6749 §2.3): HTTP Basic
 * with form-encoded id and secret, or both in the body. Plugins and GPT
 * Actions use either, so every client accepts both; never both at once.
 */
#include <stdlib.h>
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
	const char *hdr, *id, *secret;
	uint8_t digest[SEC_DIGEST_BYTES];
	struct store_client *c = NULL;
	enum oauth_error e = OAUTH_INVALID_CLIENT;
	enum status rc;

	memset(&bc, 0, sizeof(bc));
	ca->client = NULL;
	ca->authenticated = false;
	hdr = http_req_header(req, "Authorization");
	ca->basic_tried = hdr != NULL && strncasecmp(hdr, "Basic ", 6) == 0;
	id = form_get(f, "client_id");
	secret = form_get(f, "client_secret");
	if (ca->basic_tried) {
		if (oauth_basic_parse(hdr, &bc) != ST_OK || bc.id.len == 0) {
			*why = "malformed Basic credentials";
			goto out;
		}
		if (secret != NULL) {
			*why = "client credentials in both the Authorization "
			       "header and the body";
			e = OAUTH_INVALID_REQUEST;
			goto out;
		}
		if (id != NULL && strcmp(id, bc.id.p) != 0) {
			*why = "client_id in the body differs from the "
			       "Authorization header";
			e = OAUTH_INVALID_REQUEST;
			goto out;
		}
		id = bc.id.p;
		secret = bc.secret.p != NULL ? bc.secret.p : "";
	} else if (hdr != NULL) {
		*why = "unsupported Authorization scheme";
		goto out;
	}
	if (id == NULL) {
		*why = "no client authentication";
		goto out;
	}
	rc = store_client_get(st, id, &c);
	if (rc == ST_NOTFOUND) {
		*why = "unknown client";
		goto out;
	}
	if (rc != ST_OK) {
		*why = "storage unavailable";
		e = OAUTH_TEMPORARILY_UNAVAILABLE;
		goto out;
	}
	if (c->is_public) {
		if (secret != NULL && secret[0] != '\0') {
			*why = "public client sent a secret";
			goto out;
		}
	} else {
		if (secret == NULL) {
			*why = "client secret missing";
			goto out;
		}
		sec_digest(secret, strlen(secret), digest);
		if (!secret_ok(c, digest)) {
			*why = "wrong client secret";
			goto out;
		}
		ca->authenticated = true;
	}
	ca->client = c;
	c = NULL;
	e = OAUTH_OK;
out:
	store_client_free(c);
	oauth_basic_free(&bc);
	return e;
}
