/*
 * The store's front for dynamic client registration (RFC 7591, RFC 7592):
 * argument checks, then the backend. See store.h.
 */
#include <stddef.h>

#include "store/store_int.h"

const char *
store_client_origin_name(enum store_client_origin o)
{
	switch (o) {
	case STORE_ORIGIN_REGISTERED:
		return "registered";
	case STORE_ORIGIN_METADATA_DOC:
		return "metadata_document";
	case STORE_ORIGIN_CLI:
		break;
	}
	return "cli";
}

enum status
store_client_register(struct store *st, const struct store_client *c,
                      const uint8_t *iat, unsigned max, int64_t now)
{
	struct store_client cc;

	if (st == NULL || c == NULL || !store_client_id_ok(c->id) ||
	    c->name == NULL || c->metadata == NULL || now <= 0)
		return ST_INVALID;
	cc = *c;
	cc.origin = STORE_ORIGIN_REGISTERED;
	if (cc.grants == 0)
		cc.grants = STORE_GRANTS_DEFAULT;
	if (store_client_grants_check(&cc) != ST_OK)
		return ST_INVALID;
	return st->ops->client_register(st, &cc, iat, max, now);
}

enum status
store_client_reregister(struct store *st, const struct store_client *c)
{
	if (st == NULL || c == NULL || c->name == NULL ||
	    c->redirect_uris == NULL || c->scope == NULL ||
	    c->metadata == NULL || c->grants == 0 ||
	    store_client_grants_check(c) != ST_OK)
		return ST_INVALID;
	if (!store_client_id_ok(c->id))
		return ST_NOTFOUND;
	return st->ops->client_reregister(st, c);
}

enum status
store_client_put_document(struct store *st, const struct store_client *c)
{
	struct store_client cc;

	if (st == NULL || c == NULL || !store_client_id_ok(c->id) ||
	    c->name == NULL || c->redirect_uris == NULL || c->scope == NULL ||
	    c->metadata == NULL || !c->is_public)
		return ST_INVALID;
	cc = *c;
	cc.origin = STORE_ORIGIN_METADATA_DOC;
	cc.chatgpt = false;
	if (cc.grants == 0)
		cc.grants = STORE_GRANTS_DEFAULT;
	if (store_client_grants_check(&cc) != ST_OK)
		return ST_INVALID;
	return st->ops->client_put_document(st, &cc);
}

enum status
store_client_mark_used(struct store *st, const char *id, int64_t now)
{
	if (st == NULL || id == NULL || now <= 0)
		return ST_INVALID;
	if (!store_client_id_ok(id))
		return ST_NOTFOUND;
	return st->ops->client_mark_used(st, id, now);
}

enum status
store_client_sweep_unused(struct store *st, int64_t before, int64_t now,
                          unsigned batch, unsigned *deleted)
{
	unsigned k = 0;
	enum status rc;

	if (st == NULL || now <= 0 || batch == 0)
		return ST_INVALID;
	rc = st->ops->client_sweep_unused(st, before, now, batch, &k);
	if (rc == ST_OK && deleted != NULL)
		*deleted = k;
	return rc;
}

enum status
store_reg_token_add(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                    unsigned uses, int64_t expires_at, int64_t now)
{
	if (st == NULL || digest == NULL || uses == 0 || now <= 0 ||
	    expires_at <= now)
		return ST_INVALID;
	return st->ops->reg_token_add(st, digest, uses, expires_at, now);
}

enum status
store_reg_token_live(struct store *st, const uint8_t digest[SEC_DIGEST_BYTES],
                     int64_t now)
{
	if (st == NULL || digest == NULL || now <= 0)
		return ST_INVALID;
	return st->ops->reg_token_live(st, digest, now);
}
