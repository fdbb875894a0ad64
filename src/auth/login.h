/* Checking a user's password at sign-in. */
#ifndef PLUGAUTH_AUTH_LOGIN_H
#define PLUGAUTH_AUTH_LOGIN_H

#include "store/store.h"

/*
 * ST_OK and *out (new, store_user_free()) if name and password match;
 * ST_DENIED otherwise, after the same argon2id work for an unknown user;
 * ST_STORE on storage failure; ST_TOOBIG when too many passwords are being
 * checked at once (nothing judged: try again in a moment). Rehashes the
 * password when its parameters are older than today's.
 */
enum status auth_login_verify(struct store *, const char *name,
                              const char *password, struct store_user **out);

#endif
