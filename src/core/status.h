/* One status type for the whole program: 0 is success everywhere. */
#ifndef PLUGAUTH_STATUS_H
#define PLUGAUTH_STATUS_H

enum status {
	ST_OK = 0,
	ST_NOMEM,    /* allocation failed */
	ST_INVALID,  /* malformed input */
	ST_TOOBIG,   /* over a configured or built-in limit */
	ST_NOTFOUND, /* no such row or key */
	ST_DENIED,   /* authentication or authorization refused */
	ST_EXISTS,   /* unique key already taken */
	ST_STORE,    /* database failure */
	ST_INTERNAL, /* anything else: a bug or the OS */
};

/* Static, human readable name of a status ("invalid input", ...). */
const char *status_str(enum status);

/* TESTABLE: static in release builds, visible to the unit tests. */
#ifdef PLUGAUTH_TESTING
#define TESTABLE
#else
#define TESTABLE static
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
