/*
 * The JWS parser and verifier (src/crypto/jws.c): jws_shaped() and
 * jws_verify() on the input as a presented bearer token, with one known
 * ES256 key (kid "fuzzkey000000000", a throwaway test key below; the
 * corpus's seed-00 is a token it signed, the other seeds forgeries of it:
 * alg none, HS256, a changed payload, an unknown kid, crit, two parts, a
 * payload that is no object).
 *
 * Checks: input that is not shaped like a compact JWS is ST_INVALID; a
 * token verifies (ST_OK) only if its signing input (header.payload) is
 * exactly the one the key signed, and then its claims are a JSON object;
 * the answer is the same twice; an unknown kid is ST_NOTFOUND, never
 * ST_OK.
 */
#include <string.h>

#include "crypto/jws.h"
#include "crypto/sec.h"
#include "fuzz.h"

#define KID "fuzzkey000000000"

/* PKCS#8 DER of a P-256 key made for this harness only. */
static const uint8_t key_der[] = {
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    0xb2, 0x3c, 0xba, 0xe4, 0xd0, 0x94, 0xc3, 0xcd, 0x1c, 0xfa, 0x61, 0x69,
    0x7a, 0x72, 0x59, 0x38, 0x83, 0x4a, 0x25, 0x59, 0x00, 0xdb, 0x11, 0x8f,
    0xe4, 0x7d, 0xc6, 0xac, 0xea, 0x3a, 0xeb, 0xfb, 0xa1, 0x44, 0x03, 0x42,
    0x00, 0x04, 0xf2, 0xc8, 0x22, 0x3f, 0x8b, 0x43, 0x1a, 0x21, 0xa3, 0x1b,
    0x2f, 0xbc, 0x2a, 0xe4, 0x01, 0xb1, 0xfc, 0x50, 0xcb, 0x05, 0x14, 0xea,
    0xbf, 0xdf, 0x12, 0xdc, 0x5b, 0x40, 0x3d, 0xf1, 0xc7, 0x89, 0x9c, 0xcd,
    0x50, 0xb4, 0x8d, 0x56, 0xb9, 0xa2, 0x7f, 0x62, 0xd0, 0xad, 0xfd, 0x30,
    0xe0, 0x08, 0x02, 0xb3, 0x8e, 0xa9, 0x93, 0xa6, 0x81, 0xda, 0x26, 0x3f,
    0xc4, 0x20, 0xc0, 0x7e, 0x62, 0x04};

/* The signing input of corpus/jws/seed-00. */
static const char signed_input[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImZ1enprZXkwMDAw"
    "MDAwMDAifQ.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUiLCJzdWIiOiJhbGljZ"
    "SIsImF1ZCI6Imh0dHBzOi8vYXMuZXhhbXBsZSIsImV4cCI6MjAwMDAwMDAwMCwia"
    "WF0IjoxNzAwMDAwMDAwLCJqdGkiOiJwYV9hdF94IiwiY2xpZW50X2lkIjoiYzEiL"
    "CJzY29wZSI6InJlYWQifQ";

static struct jws_key *key;

static const struct jws_key *
find(void *arg, const char *kid)
{
	(void)arg;
	return strcmp(kid, KID) == 0 ? key : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tok = (const char *)data;
	json_t *c1 = NULL, *c2 = NULL;
	enum status r1, r2;
	const char *dot;

	if (key == NULL &&
	    (sec_init() != ST_OK ||
	     jws_key_load(KID, key_der, sizeof(key_der), &key) != ST_OK))
		abort();
	r1 = jws_verify(tok, size, "at+jwt", find, NULL, &c1);
	r2 = jws_verify(tok, size, "at+jwt", find, NULL, &c2);
	if (r1 != r2)
		abort();
	if (!jws_shaped(tok, size) && r1 != ST_INVALID)
		abort();
	if (r1 == ST_OK) {
		dot = memchr(tok, '.', size);
		dot = dot != NULL
		          ? memchr(dot + 1, '.', size - (size_t)(dot + 1 - tok))
		          : NULL;
		if (dot == NULL ||
		    (size_t)(dot - tok) != strlen(signed_input) ||
		    memcmp(tok, signed_input, strlen(signed_input)) != 0 ||
		    !json_is_object(c1) || !json_is_object(c2))
			abort();
	} else if (c1 != NULL || c2 != NULL) {
		abort(); /* claims only on success */
	}
	json_decref(c1);
	json_decref(c2);
	return 0;
}
