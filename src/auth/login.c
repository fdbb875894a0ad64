#include <string.h>

#include "auth/login.h"
#include "core/log.h"
#include "crypto/sec.h"

enum status
auth_login_verify(struct store *st, const char *name, const char *password,
                  struct store_user **out)
{
	struct store_user *u = NULL;
	char hash[SEC_PWHASH_STRLEN];
	bool rehash = false;
	enum status rc;

	rc = store_user_get(st, name, &u);
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return rc;
	/* Unknown users cost one argon2id run too (sec verifies a dummy). */
	rc = sec_password_verify(u != NULL ? u->password_hash : NULL, password,
	                         strlen(password), &rehash);
	if (rc != ST_OK) {
		store_user_free(u);
		return rc == ST_TOOBIG ? ST_TOOBIG : ST_DENIED;
	}
	if (rehash &&
	    sec_password_hash(password, strlen(password), hash) == ST_OK) {
		if (store_user_set_password(st, name, hash) == ST_OK)
			log_info("event=password_rehashed user=%s", name);
		sec_wipe(hash, sizeof(hash));
	}
	*out = u;
	return ST_OK;
}
