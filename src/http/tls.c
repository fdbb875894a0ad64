/*
 * Built-in TLS (libmicrohttpd over GnuTLS): the protocol versions and
 * ciphers (a GnuTLS priority string, checked before the daemon starts),
 * and the certificate, handed to GnuTLS per handshake by a callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK), so that http_server_tls_reload() can
 * swap in a new key pair while the server runs: libmicrohttpd 0.9.75 has
 * no call to change a running daemon's certificate.
 *
 * A key pair handed to a handshake must outlive it; GnuTLS neither copies
 * nor frees it. So a replaced pair is retired, not freed, until the server
 * stops: a few kilobytes per reload.
 */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "http/http_int.h"

#define TLS_FILE_MAX_BYTES (1 << 20)
#define TLS_CHAIN_MAX 16 /* certificates in a chain */

struct http_tls_pair {
	gnutls_pcert_st certs[TLS_CHAIN_MAX];
	unsigned ncerts;
	gnutls_privkey_t key;
	struct http_tls_pair *retired_next;
};

static void
pair_free(struct http_tls_pair *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->ncerts; i++)
		gnutls_pcert_deinit(&p->certs[i]);
	if (p->key != NULL)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/* Reads path whole into b (secret: a key file is one). */
static enum status
file_read(const char *path, struct buf *b, char *err, size_t errlen)
{
	FILE *f;
	char chunk[4096];
	size_t n;
	enum status rc = ST_OK;

	f = fopen(path, "r");
	if (f == NULL) {
		str_errf(err, errlen, "cannot read %s: %s", path,
		         strerror(errno));
		return ST_INVALID;
	}
	while (rc == ST_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_add(b, chunk, n);
	explicit_bzero(chunk, sizeof(chunk));
	if (rc == ST_OK && ferror(f))
		rc = ST_INVALID;
	fclose(f);
	if (rc != ST_OK)
		str_errf(err, errlen, "cannot read %s: %s", path,
		         rc == ST_TOOBIG ? "too big" : "read error");
	return rc;
}

/*
 * Loads the PEM chain and key at these paths. *out is new (pair_free());
 * untouched on error, which names the file. The key must match the first
 * certificate (GnuTLS checks when building credentials from them).
 */
static enum status
pair_load(const char *cert_path, const char *key_path,
          struct http_tls_pair **out, char *err, size_t errlen)
{
	struct http_tls_pair *p = NULL;
	struct buf cert, key;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t cd, kd;
	unsigned n = TLS_CHAIN_MAX;
	enum status rc;
	int g;

	buf_init(&cert, TLS_FILE_MAX_BYTES);
	buf_init_secret(&key, TLS_FILE_MAX_BYTES);
	if ((rc = file_read(cert_path, &cert, err, errlen)) != ST_OK ||
	    (rc = file_read(key_path, &key, err, errlen)) != ST_OK)
		goto out;
	cd = (gnutls_datum_t){(unsigned char *)cert.p, (unsigned)cert.len};
	kd = (gnutls_datum_t){(unsigned char *)key.p, (unsigned)key.len};
	rc = ST_INVALID;
	if ((g = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
	    (g = gnutls_certificate_set_x509_key_mem2(
	         cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		str_errf(err, errlen, "TLS certificate %s with key %s: %s",
		         cert_path, key_path, gnutls_strerror(g));
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = ST_NOMEM;
		goto out;
	}
	if ((g = gnutls_pcert_list_import_x509_raw(
	         p->certs, &n, &cd, GNUTLS_X509_FMT_PEM, 0)) < 0) {
		str_errf(err, errlen, "TLS certificate %s: %s", cert_path,
		         gnutls_strerror(g));
		goto out;
	}
	p->ncerts = n;
	if ((g = gnutls_privkey_init(&p->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(
	         p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		str_errf(err, errlen, "TLS key %s: %s", key_path,
		         gnutls_strerror(g));
		goto out;
	}
	*out = p;
	p = NULL;
	rc = ST_OK;
out:
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	pair_free(p);
	buf_free(&cert);
	buf_free(&key); /* secret: wiped */
	return rc;
}

/* The server whose daemon a session belongs to: GnuTLS's session pointer
 * is the only argument, so the one TLS server of the process is kept here
 * (plugauth runs one; a second would replace it, see http_tls_start()). */
static struct http_server *_Atomic tls_server;

static int
on_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
        const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
        gnutls_pcert_st **pcert, unsigned int *pcert_length,
        gnutls_privkey_t *pkey)
{
	struct http_server *srv = atomic_load(&tls_server);
	struct http_tls_pair *p;

	(void)session;
	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (srv == NULL || (p = atomic_load(&srv->tls_pair)) == NULL)
		return -1;
	*pcert = p->certs;
	*pcert_length = p->ncerts;
	*pkey = p->key;
	return 0;
}

enum status
http_tls_start(struct http_server *srv, const struct http_opts *o, char *err,
               size_t errlen)
{
	struct http_tls_pair *p = NULL;
	gnutls_priority_t prio;
	const char *pos = NULL;
	enum status rc;
	int g;

	srv->tls_priorities = o->tls_priorities != NULL
	                          ? o->tls_priorities
	                          : HTTP_TLS_PRIORITIES_DEFAULT;
	/* libmicrohttpd would refuse a bad one with no word of why. */
	g = gnutls_priority_init(&prio, srv->tls_priorities, &pos);
	if (g < 0) {
		str_errf(err, errlen,
		         "[server] tls_priorities \"%s\": %s "
		         "at \"%s\"",
		         srv->tls_priorities, gnutls_strerror(g),
		         pos != NULL ? pos : "");
		return ST_INVALID;
	}
	gnutls_priority_deinit(prio);
	rc = pair_load(o->tls_cert, o->tls_key, &p, err, errlen);
	if (rc != ST_OK)
		return rc;
	srv->tls_cert_path = o->tls_cert;
	srv->tls_key_path = o->tls_key;
	atomic_store(&srv->tls_pair, p);
	atomic_store(&tls_server, srv);
	return ST_OK;
}

void
http_tls_options(const struct http_server *srv, struct MHD_OptionItem *opts)
{
	/* libmicrohttpd casts ptr_value back to the callback's type. */
	opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
	                                  (void *)(uintptr_t)on_cert};
	opts[1] =
	    (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
	                            (void *)(uintptr_t)srv->tls_priorities};
	opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

enum status
http_server_tls_reload(struct http_server *srv, char *err, size_t errlen)
{
	struct http_tls_pair *p = NULL, *old;
	enum status rc;

	if (srv == NULL || srv->tls_cert_path == NULL) {
		str_errf(err, errlen, "no TLS: nothing to reload");
		return ST_INVALID;
	}
	rc = pair_load(srv->tls_cert_path, srv->tls_key_path, &p, err, errlen);
	if (rc != ST_OK)
		return rc; /* the old pair stays */
	old = atomic_exchange(&srv->tls_pair, p);
	if (old != NULL) {
		old->retired_next = srv->tls_retired;
		srv->tls_retired = old;
	}
	return ST_OK;
}

void
http_tls_stop(struct http_server *srv)
{
	struct http_tls_pair *p, *next;
	struct http_server *self = srv;

	atomic_compare_exchange_strong(&tls_server, &self, NULL);
	pair_free(atomic_exchange(&srv->tls_pair, NULL));
	for (p = srv->tls_retired; p != NULL; p = next) {
		next = p->retired_next;
		pair_free(p);
	}
	srv->tls_retired = NULL;
}
