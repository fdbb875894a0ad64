/* TEMPORARY: declared in store.h, implemented in the next change. */
#include <stdlib.h>

#include "store/store.h"

enum status
store_tokens_issue(struct store *st, const uint8_t *rotate, int64_t now,
    const struct store_token *v, size_t n, bool *rotated)
{
	enum status rc = ST_OK;

	(void)rotate, (void)now, (void)rotated;
	for (size_t i = 0; i < n && rc == ST_OK; i++)
		rc = store_token_add(st, &v[i]);
	return rc;
}

enum status
store_token_revoke_family(struct store *st, int64_t family_id, int64_t now,
    unsigned *n)
{
	(void)st, (void)family_id, (void)now, (void)n;
	return ST_INTERNAL;
}

enum status
store_code_take(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
    int64_t now, struct store_code **out)
{
	(void)st, (void)digest, (void)now, (void)out;
	return ST_INTERNAL;
}

void
store_code_free(struct store_code *c)
{
	free(c);
}

enum status
store_events_add(struct store *st, const struct store_event *v, size_t n)
{
	(void)st, (void)v, (void)n;
	return ST_INTERNAL;
}

enum status
store_code_add(struct store *st, const struct store_code *c)
{
	(void)st, (void)c;
	return ST_INTERNAL;
}

enum status
store_consent_get(struct store *st, int64_t user_id, const char *client_id,
    char **scope)
{
	(void)st, (void)user_id, (void)client_id, (void)scope;
	return ST_INTERNAL;
}

enum status
store_consent_set(struct store *st, int64_t user_id, const char *client_id,
    const char *scope, int64_t now)
{
	(void)st, (void)user_id, (void)client_id, (void)scope, (void)now;
	return ST_INTERNAL;
}

enum status
store_session_add(struct store *st, const struct store_session *s)
{
	(void)st, (void)s;
	return ST_INTERNAL;
}

enum status
store_session_get(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
    int64_t now, struct store_session **out)
{
	(void)st, (void)digest, (void)now, (void)out;
	return ST_NOTFOUND;
}

enum status
store_session_delete(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES])
{
	(void)st, (void)digest;
	return ST_INTERNAL;
}

enum status
store_events_list(struct store *st, const struct store_event_filter *f,
    struct store_event ***out, size_t *n)
{
	(void)st, (void)f;
	*out = NULL;
	*n = 0;
	return ST_OK;
}

void
store_event_list_free(struct store_event **v, size_t n)
{
	(void)n;
	free(v);
}
