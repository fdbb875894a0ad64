/*
 * Shared by the store's own files only: the backend interface and the
 * embedded migrations. store.c checks arguments and dispatches; a backend
 * gets only well-formed input (non-NULL pointers, NUL-terminated ids).
 */
#ifndef PLUGAUTH_STORE_INT_H
#define PLUGAUTH_STORE_INT_H

#include <stdatomic.h>

#include "store/store.h"

/*
 * A backend: name and one function per public call, same contracts as in
 * store.h. A backend embeds struct store as the first member of its own
 * handle and converts with its own helper.
 */
struct store_ops {
	const char *name;

	/* target is the URL without its scheme ("PATH", ":memory:");
	 * create: make an empty database if there is none, else
	 * ST_NOTFOUND. */
	enum status (*open)(const char *target, bool create, struct store **out,
	                    char *err, size_t errlen);
	/* err is never NULL here and errlen > 0. */
	enum status (*migrate)(struct store *, unsigned *applied, char *err,
	                       size_t errlen);
	enum status (*schema_version)(struct store *, unsigned *have,
	                              unsigned *want);
	void (*close)(struct store *);

	enum status (*client_add)(struct store *, const struct store_client *);
	enum status (*client_get)(struct store *, const char *id,
	                          struct store_client **out);
	enum status (*client_list)(struct store *, struct store_client ***out,
	                           size_t *n);
	enum status (*client_remove)(struct store *, const char *id);
	enum status (*client_set_secret)(struct store *, const char *id,
	                                 const uint8_t digest[SEC_DIGEST_BYTES],
	                                 int64_t old_until);
	enum status (*client_update)(struct store *,
	                             const struct store_client *);
	enum status (*client_register)(struct store *,
	                               const struct store_client *,
	                               const uint8_t *iat, unsigned max,
	                               int64_t now);
	enum status (*client_reregister)(struct store *,
	                                 const struct store_client *);
	enum status (*client_put_document)(struct store *,
	                                   const struct store_client *);
	enum status (*client_mark_used)(struct store *, const char *id,
	                                int64_t now);
	enum status (*client_sweep_unused)(struct store *, int64_t before,
	                                   int64_t now, unsigned batch,
	                                   unsigned *deleted);
	enum status (*reg_token_add)(struct store *,
	                             const uint8_t digest[SEC_DIGEST_BYTES],
	                             unsigned uses, int64_t expires_at,
	                             int64_t now);
	enum status (*reg_token_live)(struct store *,
	                              const uint8_t digest[SEC_DIGEST_BYTES],
	                              int64_t now);

	enum status (*user_add)(struct store *, const char *name,
	                        const char *password_hash, int64_t *id);
	enum status (*user_get)(struct store *, const char *name,
	                        struct store_user **out);
	enum status (*user_get_by_id)(struct store *, int64_t id,
	                              struct store_user **out);
	enum status (*user_list)(struct store *, struct store_user ***out,
	                         size_t *n);
	enum status (*user_remove)(struct store *, const char *name);
	enum status (*user_set_password)(struct store *, const char *name,
	                                 const char *password_hash);

	/* Also store_token_add() (one token, nothing spent) and
	 * store_code_redeem() (code set): at most one of rotate and code. */
	enum status (*tokens_issue)(struct store *, const uint8_t *rotate,
	                            const uint8_t *code, int64_t now,
	                            const struct store_token *v, size_t n);
	enum status (*token_get)(struct store *,
	                         const uint8_t digest[SEC_DIGEST_BYTES],
	                         struct store_token **out);
	enum status (*token_revoke_user)(struct store *, int64_t user_id,
	                                 int64_t now, unsigned *n);
	enum status (*token_revoke_client)(struct store *,
	                                   const char *client_id, int64_t now,
	                                   unsigned *n);
	enum status (*token_count_live)(struct store *, int64_t now,
	                                uint64_t *n);
	enum status (*token_revoke_family)(struct store *, int64_t family_id,
	                                   int64_t now, unsigned *n);
	enum status (*token_revoke)(struct store *,
	                            const uint8_t digest[SEC_DIGEST_BYTES],
	                            int64_t now);
	enum status (*revocation_epoch)(struct store *, uint64_t *out);
	enum status (*key_rotate)(struct store *, const struct store_key *,
	                          int64_t now, int64_t keep_until);
	enum status (*key_list)(struct store *, struct store_key ***out,
	                        size_t *n);

	enum status (*code_add)(struct store *, const struct store_code *);
	enum status (*code_get)(struct store *,
	                        const uint8_t digest[SEC_DIGEST_BYTES],
	                        struct store_code **out);
	enum status (*code_take)(struct store *,
	                         const uint8_t digest[SEC_DIGEST_BYTES],
	                         int64_t now, struct store_code **out);

	enum status (*consent_get)(struct store *, int64_t user_id,
	                           const char *client_id, char **scope);
	enum status (*consent_set)(struct store *, int64_t user_id,
	                           const char *client_id, const char *scope,
	                           int64_t now);
	enum status (*consent_revoke)(struct store *, int64_t user_id,
	                              const char *client_id, unsigned *n);

	enum status (*session_add)(struct store *,
	                           const struct store_session *);
	enum status (*session_get)(struct store *,
	                           const uint8_t digest[SEC_DIGEST_BYTES],
	                           int64_t now, struct store_session **out);
	enum status (*session_delete)(struct store *,
	                              const uint8_t digest[SEC_DIGEST_BYTES]);
	enum status (*session_delete_user)(struct store *, int64_t user_id,
	                                   unsigned *n);

	enum status (*events_add)(struct store *, const struct store_event *v,
	                          size_t n);
	enum status (*events_list)(struct store *,
	                           const struct store_event_filter *f,
	                           struct store_event ***out, size_t *n);
	enum status (*events_trim)(struct store *, unsigned max_rows,
	                           unsigned batch, unsigned *deleted);

	enum status (*gc)(struct store *, int64_t now, unsigned batch,
	                  unsigned *deleted);
};

/* The common head of every backend's handle (zeroed by the backend's
 * open, but for ops). */
struct store {
	const struct store_ops *ops;
	/* Calls through this handle that may have ended tokens early: see
	 * store_revocations_local(). Bumped by store.c after the call. */
	_Atomic uint64_t revocations;
};

extern const struct store_ops sqlite_store_ops;

/* store.c: true if id is a NUL-terminated string that fits a client id. */
bool store_client_id_ok(const char *id);
/* store.c: ST_INVALID for grants a client may not have (see
 * store_client_add()), else ST_OK. */
enum status store_client_grants_check(const struct store_client *c);

/* Migrations embedded by scripts/embed-sql.py, 001 first: applying
 * sqlite_migrations[i] brings the schema to version i + 1. */
extern const char *const sqlite_migrations[];
extern const unsigned sqlite_migrations_count;

#endif
