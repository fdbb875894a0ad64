/*
 * X-Plugauth-Signature: an HMAC-SHA256, under the key in [gateway]
 * identity_secret_file, over the identity headers and the request line the
 * upstream gets, so that an upstream reachable by other paths can tell a
 * request plugauth forwarded from one that only claims to be (the
 * canonical string and checks in Python and Node: docs/gateway.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gateway_int.h"

#define ID_KEY_MIN_BYTES 32
#define ID_KEY_MAX_BYTES 4096
#define SIG_VERSION "plugauth-signature-v1"
#define SIG_INPUT_MAX_BYTES (1024 * 1024)

/* Reads up to max + 1 bytes of fd into k; the count, or -1. */
static ssize_t
read_all(int fd, uint8_t *k, size_t max)
{
	size_t got = 0;
	ssize_t n;

	while (got <= max) {
		n = read(fd, k + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

enum status
gw_id_key_load(const char *path, uint8_t **key, size_t *len, char *err,
               size_t errlen)
{
	struct stat st;
	uint8_t *k = NULL;
	ssize_t n = -1;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		str_errf(err, errlen, "[gateway] identity_secret_file: %s: %s",
		         path, strerror(errno));
		return ST_INVALID;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		str_errf(err, errlen,
		         "[gateway] identity_secret_file: %s: not a regular "
		         "file",
		         path);
		goto bad;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		str_errf(err, errlen,
		         "[gateway] identity_secret_file: %s: mode %03o lets "
		         "group or others at the secret (chmod 600 it)",
		         path, (unsigned)(st.st_mode & 0777));
		goto bad;
	}
	if ((k = malloc(ID_KEY_MAX_BYTES + 3)) == NULL) {
		close(fd);
		str_errf(err, errlen, "gateway: out of memory");
		return ST_NOMEM;
	}
	n = read_all(fd, k, ID_KEY_MAX_BYTES + 2);
	if (n > ID_KEY_MAX_BYTES + 2)
		n = -1; /* more follows: too long, whatever it ends with */
	/* A trailing newline (echo, an editor) is no part of the secret. */
	while (n > 0 && (k[n - 1] == '\n' || k[n - 1] == '\r'))
		n--;
	if (n < ID_KEY_MIN_BYTES || n > ID_KEY_MAX_BYTES) {
		str_errf(err, errlen,
		         "[gateway] identity_secret_file: %s: must hold %d to "
		         "%d bytes of secret (e.g. openssl rand -hex 32)",
		         path, ID_KEY_MIN_BYTES, ID_KEY_MAX_BYTES);
		goto bad;
	}
	close(fd);
	*key = k;
	*len = (size_t)n;
	return ST_OK;
bad:
	if (k != NULL) {
		sec_wipe(k, ID_KEY_MAX_BYTES + 3);
		free(k);
	}
	close(fd);
	return ST_INVALID;
}

/* The path part of [gateway] upstream, less any final '/': what proxy.c
 * puts before the request-target. */
static struct str
upstream_path(const char *upstream)
{
	const char *p = strstr(upstream, "://");
	struct str s;

	p = p != NULL ? p + 3 : upstream;
	s.p = p + strcspn(p, "/");
	s.len = strlen(s.p);
	while (s.len > 0 && s.p[s.len - 1] == '/')
		s.len--;
	return s;
}

enum status
gw_signature(const struct gw_env *gw, const struct http_req *req,
             const struct gw_identity *id, int64_t t, char out[GW_SIG_STRLEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[SEC_HMAC_BYTES];
	char machex[2 * SEC_HMAC_BYTES + 1];
	struct str up = upstream_path(gw->cfg->gateway.upstream);
	struct buf b;
	bool cc = id->user[0] == '\0';
	enum status rc;
	int n;

	/* No value holds a newline: gw_header_value_ok() and the HTTP
	 * parser saw to that. */
	buf_init(&b, SIG_INPUT_MAX_BYTES);
	rc = buf_printf(&b, "%s\n%lld\n%s\n%s\n%s\n%s\n%s\n%s\n", SIG_VERSION,
	                (long long)t, id->user, cc ? id->client_id : id->user,
	                id->client_id, id->scope,
	                cc ? "client_credentials" : "", http_req_method(req));
	if (rc == ST_OK)
		rc = buf_add(&b, up.p, up.len);
	if (rc == ST_OK)
		rc = buf_adds(&b, http_req_target(req));
	if (rc != ST_OK)
		return rc;
	sec_hmac_sha256(gw->id_key, gw->id_keylen, b.p, b.len, mac);
	buf_free(&b);
	for (size_t i = 0; i < sizeof(mac); i++) {
		machex[2 * i] = hex[mac[i] >> 4];
		machex[2 * i + 1] = hex[mac[i] & 15];
	}
	machex[sizeof(machex) - 1] = '\0';
	n = snprintf(out, GW_SIG_STRLEN, "t=%lld, v1=%s", (long long)t, machex);
	if (n < 0 || n >= GW_SIG_STRLEN)
		return ST_INTERNAL;
	return ST_OK;
}
