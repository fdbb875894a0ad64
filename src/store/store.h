/*
 * The store: one backend-neutral interface over clients, users, codes,
 * tokens, consents and sessions. Backends: SQLite ("sqlite:PATH"), later
 * PostgreSQL. Secrets are kept only as SHA-256 digests. Every call is safe
 * from any thread; each thread gets its own database connection.
 * Every write is committed before the call returns.
 *
 * Times are seconds since the epoch. A token (or code, or session) is live
 * at now while expires_at > now and, for a token, revoked_at == 0; calls
 * that take now must get now > 0, since 0 marks "not revoked / not used".
 */
#ifndef PLUGAUTH_STORE_H
#define PLUGAUTH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "crypto/sec.h"

struct store;

/* Grant types a client may use at the token endpoint (a bit mask). */
#define STORE_GRANT_CODE 0x1u               /* authorization_code */
#define STORE_GRANT_REFRESH 0x2u            /* refresh_token */
#define STORE_GRANT_CLIENT_CREDENTIALS 0x4u /* client_credentials */
#define STORE_GRANTS_DEFAULT (STORE_GRANT_CODE | STORE_GRANT_REFRESH)
#define STORE_GRANTS_ALL (STORE_GRANTS_DEFAULT | STORE_GRANT_CLIENT_CREDENTIALS)

/* Longest client_id: an https URL of a client ID metadata document. */
#define STORE_CLIENT_ID_MAX_BYTES 2048

/* How a client came to be (`plugauth client list` shows it). */
enum store_client_origin {
	STORE_ORIGIN_CLI = 0,     /* plugauth client add */
	STORE_ORIGIN_REGISTERED,  /* RFC 7591 POST /oauth/register */
	STORE_ORIGIN_METADATA_DOC /* a client ID metadata document */
};

struct store_client {
	/* client_id: random hex, or a metadata document's https URL */
	char id[STORE_CLIENT_ID_MAX_BYTES + 1];
	char *name;
	bool is_public;                          /* no secret: PKCE required */
	uint8_t secret_digest[SEC_DIGEST_BYTES]; /* unused if public */
	/* The secret the last rotation replaced, accepted too while
	 * old_secret_until > now (0: none); ignored by store_client_add(). */
	uint8_t old_secret_digest[SEC_DIGEST_BYTES];
	int64_t old_secret_until;
	bool chatgpt;        /* redirect URIs: the ChatGPT callback family */
	char *redirect_uris; /* newline-separated, exact strings */
	char *scope;         /* allowed scopes, space-separated; "" = all */
	unsigned grants;     /* STORE_GRANT_*; 0 at add: STORE_GRANTS_DEFAULT */
	int64_t created_at;
	enum store_client_origin origin;
	/* Registered clients: the digest of the RFC 7592 registration access
	 * token (zeros: none) and the registered metadata, a JSON object (NULL
	 * for other clients). */
	uint8_t registration_digest[SEC_DIGEST_BYTES];
	char *metadata;
	int64_t first_token_at; /* first token issued (0: never); set by the
	                         * store, ignored by store_client_add() */
	/* `token revoke --client` ran at this time (0: never): JWTs of
	 * the client issued until then are refused; ignored at add. */
	int64_t tokens_revoked_at;
};

struct store_user {
	int64_t id;
	char *name;
	char *password_hash; /* argon2id string */
	int64_t created_at;
};

enum store_token_kind { STORE_TOKEN_ACCESS = 1, STORE_TOKEN_REFRESH = 2 };

struct store_token {
	uint8_t digest[SEC_DIGEST_BYTES];
	enum store_token_kind kind;
	char *client_id;
	int64_t user_id; /* 0: no user (client_credentials) */
	char *scope;
	char *audience;    /* RFC 8707 resource, NULL if none */
	int64_t family_id; /* refresh family; 0 if none */
	int64_t expires_at;
	int64_t revoked_at; /* 0 if live */
	int64_t rotated_at; /* refresh: 0 until used */
	int64_t created_at;
};

struct store_code {
	uint8_t digest[SEC_DIGEST_BYTES];
	char *client_id;
	int64_t user_id;
	char *redirect_uri; /* "" if the request named none */
	char *scope;
	char *code_challenge; /* S256 challenge, NULL if none */
	char *resource;       /* RFC 8707, NULL if none */
	char *state;       /* the request's state (not secret), NULL if none */
	int64_t family_id; /* the token family its tokens will join */
	int64_t expires_at;
	int64_t used_at; /* 0 until redeemed */
	int64_t created_at;
};

struct store_session {
	uint8_t digest[SEC_DIGEST_BYTES];
	int64_t user_id; /* 0: not signed in yet */
	int64_t expires_at;
	int64_t created_at;
};

/* One line of the OAuth event log: what happened, never a secret. */
struct store_event {
	int64_t id; /* set by the store */
	int64_t at;
	char *kind;        /* "authorize", "login", "token", ... */
	char *outcome;     /* "ok" or an error code */
	char *reason;      /* reason code / short text, may be NULL */
	char *client_id;   /* may be NULL */
	char *user;        /* user name, may be NULL */
	char *state;       /* the OAuth state parameter, may be NULL */
	char *peer;        /* client address, may be NULL */
	char *detail;      /* the offending value (sanitised), may be NULL */
	char *method;      /* client auth tried: basic, post, both, none */
	char *description; /* the human sentence, may be NULL */
};

/* Most events one store_events_list() call returns. */
#define STORE_EVENT_LIST_MAX 10000

struct store_event_filter {
	const char *client_id; /* NULL: any */
	const char *user;      /* NULL: any */
	const char *state;     /* NULL: any */
	int64_t after_id;      /* only events with a larger id */
	unsigned limit;        /* newest limit events, oldest first;
	                        * 1 to STORE_EVENT_LIST_MAX */
};

/* Opens the existing database named by url ("sqlite:PATH",
 * "sqlite::memory:"). Does not migrate. ST_NOTFOUND (and err names the
 * path) if there is no such database: nothing is created. *out is new
 * (store_close()). */
enum status store_open(const char *url, struct store **out, char *err,
                       size_t errlen);
/* The same, but creates an empty database (mode 0600) if there is none:
 * for plugauth init and migrate --create only. */
enum status store_create(const char *url, struct store **out, char *err,
                         size_t errlen);

/* Applies pending schema migrations in one transaction each; *applied
 * (may be NULL) counts them. On error writes one line for the user to err
 * (may be NULL), e.g. that the schema is newer than this build. */
enum status store_migrate(struct store *, unsigned *applied, char *err,
                          size_t errlen);

/* Schema version now in the database, and the newest this build knows. */
enum status store_schema_version(struct store *, unsigned *have,
                                 unsigned *want);

/* Closes every connection. NULL-safe. */
void store_close(struct store *);

/* Name of the backend ("sqlite"). */
const char *store_backend(const struct store *);

/* Clients. ST_EXISTS if the id is taken; ST_INVALID for a public or
 * ChatGPT client with STORE_GRANT_CLIENT_CREDENTIALS, or unknown grants. */
enum status store_client_add(struct store *, const struct store_client *);
/* *out is new (store_client_free()); ST_NOTFOUND if absent. */
enum status store_client_get(struct store *, const char *id,
                             struct store_client **out);
/* *out is a new array of *n new clients, oldest first
 * (store_client_list_free()). */
enum status store_client_list(struct store *, struct store_client ***out,
                              size_t *n);
/* Deletes the client and everything issued to it. ST_NOTFOUND if absent. */
enum status store_client_remove(struct store *, const char *id);
/* Replaces the secret digest. The secret it replaces stays valid until
 * old_until (0: it stops at once), in place of any older one still in its
 * window: one previous secret is kept. ST_NOTFOUND if absent. */
enum status store_client_set_secret(struct store *, const char *id,
                                    const uint8_t digest[SEC_DIGEST_BYTES],
                                    int64_t old_until);
/* Replaces the name, scope and redirect_uris of client c->id; its secret,
 * grants and what was issued to it stay. ST_NOTFOUND if absent. */
enum status store_client_update(struct store *, const struct store_client *c);
void store_client_free(struct store_client *);
void store_client_list_free(struct store_client **, size_t n);
/* "cli", "registered", "metadata_document". */
const char *store_client_origin_name(enum store_client_origin);

/*
 * Dynamic registration (store_reg.c). store_client_register() adds c as a
 * registered client, in one transaction with its checks: if iat is not
 * NULL, one use of that initial access token (live at now) is spent, else
 * ST_DENIED; ST_TOOBIG if max registered clients exist already; otherwise
 * as store_client_add(). Nothing is stored on error.
 */
enum status store_client_register(struct store *, const struct store_client *c,
                                  const uint8_t *iat, unsigned max,
                                  int64_t now);
/* RFC 7592 update: replaces the name, scope, redirect_uris, grants and
 * metadata of registered client c->id; its secret, registration token and
 * what was issued to it stay. ST_INVALID as store_client_add() for the
 * grants; ST_NOTFOUND if there is no such registered client. */
enum status store_client_reregister(struct store *,
                                    const struct store_client *c);
/* Client ID metadata documents: stores public client c (its id the
 * document's URL) with origin metadata_document, or replaces the name,
 * scope, redirect_uris, grants and metadata of the one stored; what was
 * issued to it stays. ST_EXISTS if the id is a client of another origin. */
enum status store_client_put_document(struct store *,
                                      const struct store_client *c);
/* Records now as the client's first token time unless it has one. */
enum status store_client_mark_used(struct store *, const char *id, int64_t now);
/* Deletes at most batch registered clients, and at most batch
 * metadata-document clients, created at or before `before` that never
 * obtained a token and hold none, and the initial access tokens expired or
 * used up at now; *deleted (may be NULL) counts the clients. */
enum status store_client_sweep_unused(struct store *, int64_t before,
                                      int64_t now, unsigned batch,
                                      unsigned *deleted);
/* Stores an initial access token (its digest) good for uses (>= 1)
 * registrations until expires_at. ST_EXISTS if the digest is taken. */
enum status store_reg_token_add(struct store *,
                                const uint8_t digest[SEC_DIGEST_BYTES],
                                unsigned uses, int64_t expires_at, int64_t now);
/* ST_OK if that initial access token is live at now with a use left,
 * else ST_NOTFOUND. Spends nothing. */
enum status store_reg_token_live(struct store *,
                                 const uint8_t digest[SEC_DIGEST_BYTES],
                                 int64_t now);

/* Users. ST_EXISTS if the name is taken; *id (may be NULL) gets the id. */
enum status store_user_add(struct store *, const char *name,
                           const char *password_hash, int64_t *id);
/* *out is new (store_user_free()); ST_NOTFOUND if absent. */
enum status store_user_get(struct store *, const char *name,
                           struct store_user **out);
/* The same by id: *out is new (store_user_free()); ST_NOTFOUND if absent
 * (and for id <= 0). */
enum status store_user_get_by_id(struct store *, int64_t id,
                                 struct store_user **out);
/* *out is a new array of *n new users, in id order: oldest first
 * (store_user_list_free()). */
enum status store_user_list(struct store *, struct store_user ***out,
                            size_t *n);
/* Deletes the user and everything issued to them. ST_NOTFOUND if absent. */
enum status store_user_remove(struct store *, const char *name);
/* Replaces the password hash. ST_NOTFOUND if absent. */
enum status store_user_set_password(struct store *, const char *name,
                                    const char *password_hash);
void store_user_free(struct store_user *);
void store_user_list_free(struct store_user **, size_t n);

/* Tokens. Stores t (digest, not the token): store_tokens_issue() of one.
 * ST_EXISTS if the digest is taken; ST_NOTFOUND if the client or the user
 * (when user_id != 0) does not exist; ST_DENIED if its family has been
 * revoked. */
enum status store_token_add(struct store *, const struct store_token *t);
/* *out is new (store_token_free()); ST_NOTFOUND if absent. Returns
 * expired and revoked tokens too: the caller decides. */
enum status store_token_get(struct store *,
                            const uint8_t digest[SEC_DIGEST_BYTES],
                            struct store_token **out);
/* Revokes every live token of a user or a client at time now, and records
 * their families, and those of their codes not yet redeemed, as revoked,
 * in one transaction (such a code then gives no tokens); *n (may be NULL)
 * counts the tokens: only tokens live at now are revoked and counted
 * (expired or already revoked ones keep their revoked_at). For a client,
 * also sets its tokens_revoked_at to now (its unstored JWTs). */
enum status store_token_revoke_user(struct store *, int64_t user_id,
                                    int64_t now, unsigned *n);
enum status store_token_revoke_client(struct store *, const char *client_id,
                                      int64_t now, unsigned *n);
/* Number of live (unrevoked, unexpired) tokens at time now. */
enum status store_token_count_live(struct store *, int64_t now, uint64_t *n);
void store_token_free(struct store_token *);

/*
 * Stores n tokens in one transaction: all of them or, on error, none. If
 * rotate is not NULL it is the digest of the refresh token being spent:
 * in the same transaction it must still be live at now and not rotated,
 * and is marked rotated at now; else (unknown, revoked, expired, rotated
 * already, e.g. by a concurrent request) ST_DENIED. A token of a revoked
 * family is never stored: ST_DENIED if a family of v has been revoked
 * (store_token_revoke_family() and every call that revokes a refresh
 * token), checked in the same transaction. Other errors as
 * store_token_add(). Concurrent calls share commits; each returns once
 * its own rows are committed, and one call's failure is its own.
 */
enum status store_tokens_issue(struct store *, const uint8_t *rotate,
                               int64_t now, const struct store_token *v,
                               size_t n);
/* Revokes every live token of a family (family_id != 0) at now and
 * records the family as revoked, in one transaction; *n (may be NULL)
 * counts the tokens. */
enum status store_token_revoke_family(struct store *, int64_t family_id,
                                      int64_t now, unsigned *n);
/* Revokes one token at now (if live): a refresh token with its whole
 * family (recorded as revoked), an access token alone. ST_NOTFOUND if
 * there is no such token. */
enum status store_token_revoke(struct store *,
                               const uint8_t digest[SEC_DIGEST_BYTES],
                               int64_t now);

/*
 * Revocations, for a caller that remembers tokens it found live (the
 * gateway's cache): when either number below changes, what it remembers
 * may have been revoked since.
 *
 * store_revocations_local(): how many calls through this handle may have
 * ended tokens before their expiry (the store_token_revoke*() calls,
 * store_client_remove(), store_user_remove()), counted when each call
 * returns, so after its commit. One atomic load: for every request.
 */
uint64_t store_revocations_local(struct store *);
/* The revocation epoch of the database, every process's: a counter that
 * the transaction ending an access token before its expiry (revoked, or
 * deleted with its client or user) bumps, whoever runs it. One read of
 * the database: poll it, not per request. */
enum status store_revocation_epoch(struct store *, uint64_t *out);

/* A JWT signing key (docs/jwt.md). der is the private key: secret. */
#define STORE_KEY_DER_MAX 1024
struct store_key {
	char kid[64];
	char alg[16];                   /* "ES256" */
	uint8_t der[STORE_KEY_DER_MAX]; /* PKCS#8 DER */
	size_t der_len;
	int64_t created_at;
	int64_t retired_at; /* 0: the key that signs */
	int64_t keep_until; /* retired: published and verifying until */
};

/* Retires the signing key, if any, at now (kept until keep_until) and
 * adds k (its times ignored) as the one that signs, in one transaction.
 * ST_EXISTS if its kid is taken. */
enum status store_key_rotate(struct store *, const struct store_key *k,
                             int64_t now, int64_t keep_until);
/* *out is a new array of *n new keys, newest first, retired or not
 * (store_key_list_free()). */
enum status store_key_list(struct store *, struct store_key ***out, size_t *n);
/* NULL-safe; wipe. */
void store_key_free(struct store_key *);
void store_key_list_free(struct store_key **, size_t n);

/* Authorization codes. Stores c (digest, not the code). ST_EXISTS if the
 * digest is taken; ST_NOTFOUND if the client or user does not exist. A
 * code is kept, used or not, until store_gc() runs a day after it expired,
 * so that a late replay is still recognised. */
enum status store_code_add(struct store *, const struct store_code *c);
/* *out is new (store_code_free()), used or not, expired or not: the
 * caller checks. ST_NOTFOUND if there is no such code. */
enum status store_code_get(struct store *,
                           const uint8_t digest[SEC_DIGEST_BYTES],
                           struct store_code **out);
/*
 * Marks the code used at now and returns it as it was before (*out is new,
 * store_code_free()): used_at != 0 means it had been redeemed already
 * (a replay). Atomic: of two concurrent takes only one sees used_at == 0.
 * For a refused redemption, which spends the code too; a good one goes
 * through store_code_redeem(). ST_NOTFOUND if there is no such code.
 */
enum status store_code_take(struct store *,
                            const uint8_t digest[SEC_DIGEST_BYTES], int64_t now,
                            struct store_code **out);
/*
 * Redeems a code: marks it used at now and stores the n tokens issued
 * from it, in one transaction, so that a code is never spent without its
 * tokens nor its tokens stored twice. The caller has checked the code
 * (store_code_get(): unused, unexpired, its client, redirect_uri, PKCE).
 * ST_DENIED if it was used meanwhile (a concurrent redemption won: this
 * one is a replay) or its family has been revoked; ST_NOTFOUND if there
 * is no such code, or as store_token_add(); nothing is stored then.
 * Shares commits with store_tokens_issue().
 */
enum status store_code_redeem(struct store *,
                              const uint8_t code[SEC_DIGEST_BYTES], int64_t now,
                              const struct store_token *v, size_t n);
/* NULL-safe; wipes. */
void store_code_free(struct store_code *);

/* Consents: the scope a user granted a client. *scope is new (free());
 * ST_NOTFOUND if the user never consented to the client. */
enum status store_consent_get(struct store *, int64_t user_id,
                              const char *client_id, char **scope);
/* Inserts or replaces the granted scope. ST_NOTFOUND if the client or
 * user does not exist. */
enum status store_consent_set(struct store *, int64_t user_id,
                              const char *client_id, const char *scope,
                              int64_t now);
/* Deletes the consents of a user to client_id, or to every client if
 * client_id is NULL; *n (may be NULL) counts them. ST_OK for none. */
enum status store_consent_revoke(struct store *, int64_t user_id,
                                 const char *client_id, unsigned *n);

/* Sign-in sessions, looked up by the digest of the cookie value.
 * ST_EXISTS if the digest is taken; ST_NOTFOUND if user_id != 0 names no
 * user. */
enum status store_session_add(struct store *, const struct store_session *);
/* *out is new (free()); ST_NOTFOUND if absent or expired at now. */
enum status store_session_get(struct store *,
                              const uint8_t digest[SEC_DIGEST_BYTES],
                              int64_t now, struct store_session **out);
/* Deletes a session. ST_NOTFOUND if there was none. */
enum status store_session_delete(struct store *,
                                 const uint8_t digest[SEC_DIGEST_BYTES]);
/* Deletes every session of a user (signs them out everywhere); *n (may be
 * NULL) counts them. ST_OK for a user with none. */
enum status store_session_delete_user(struct store *, int64_t user_id,
                                      unsigned *n);

/* Events: appends n in one transaction (each needs kind and outcome; the
 * store sets the ids, in order). */
enum status store_events_add(struct store *, const struct store_event *v,
                             size_t n);
/* *out is a new array of *n new events matching f: the newest f->limit of
 * those with id > f->after_id, returned oldest first
 * (store_event_list_free()). ST_INVALID if f->limit is out of range. */
enum status store_events_list(struct store *,
                              const struct store_event_filter *f,
                              struct store_event ***out, size_t *n);
/* One event; NULL-safe. */
void store_event_free(struct store_event *);
void store_event_list_free(struct store_event **, size_t n);
/* Deletes the oldest events beyond the newest max_rows, at most batch of
 * them per call; *deleted (may be NULL) counts them. */
enum status store_events_trim(struct store *, unsigned max_rows, unsigned batch,
                              unsigned *deleted);

/* How long store_gc() keeps what has expired or happened. */
#define STORE_CODE_KEEP_S 86400         /* codes: a day past expiry */
#define STORE_EVENT_KEEP_S (30 * 86400) /* events: 30 days */
#define STORE_FAMILY_KEEP_S 86400       /* revoked families: see below */

/*
 * Deletes, at most batch rows per table per call: tokens and sessions
 * expired at now (expires_at <= now), codes that expired more than
 * STORE_CODE_KEEP_S before now, events older than STORE_EVENT_KEEP_S,
 * the record of a revoked family STORE_FAMILY_KEEP_S after the last
 * of its tokens live at the revocation expired, and retired signing keys
 * whose keep_until has come.
 * *deleted (may be NULL) counts them.
 */
enum status store_gc(struct store *, int64_t now, unsigned batch,
                     unsigned *deleted);

#endif
