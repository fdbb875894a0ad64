/*
 * Inside the configuration module, shared by its three files: the table of
 * keys and the rendering (config_keys.c), the checks (config_check.c) and
 * the loader (config.c).
 */
#ifndef PLUGAUTH_CONFIG_INT_H
#define PLUGAUTH_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <ini.h>

#include "core/config.h"
#include "core/str.h"

enum cfg_type {
	CFG_STR,  /* any text */
	CFG_UINT, /* decimal, min..max */
	CFG_ENUM, /* one of choices */
	CFG_URL,  /* absolute http(s) URL */
};

#define CFG_SECRET 0x1   /* never echoed; wiped on free */
#define CFG_OPTIONAL 0x2 /* NULL default; empty value unsets */
#define CFG_NOSLASH 0x4  /* trailing '/' stripped */

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	const char *def;            /* as file text; NULL if optional */
	unsigned min, max;          /* CFG_UINT */
	const char *const *choices; /* CFG_ENUM, NULL-terminated */
	unsigned flags;
	size_t off;          /* offsetof(struct config, ...) */
	const char *help;    /* comment written by cfg_render() */
	const char *example; /* optional keys: shown commented */
};

#define OFF(f) offsetof(struct config, f)

/* Every key: a row of cfg_keys[] and a field of struct config. */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;
#define CFG_KEYS_MAX 128 /* the loader keeps one origin per row */

/* Longest "key = value" line libinih hands over whole (see ini_read). */
#define LINE_MAX_CHARS (INI_MAX_LINE - 1)

#define MSG_MAX 256

static inline char **
key_str(struct config *cfg, const struct cfg_key *k)
{
	return (char **)(void *)((char *)cfg + k->off);
}

static inline unsigned *
key_uint(struct config *cfg, const struct cfg_key *k)
{
	return (unsigned *)(void *)((char *)cfg + k->off);
}

static inline const char *
key_cstr(const struct config *cfg, const struct cfg_key *k)
{
	return *(char *const *)(const void *)((const char *)cfg + k->off);
}

static inline unsigned
key_cuint(const struct config *cfg, const struct cfg_key *k)
{
	return *(const unsigned *)(const void *)((const char *)cfg + k->off);
}

/* config_env.c. _name: the PLUGAUTH_<SECTION>_<KEY> variable of k (upper
 * case, '.' as '_'), false if it does not fit. _unknown_warn: a warning
 * for each PLUGAUTH_* variable that names no key (nor one plugauth reads
 * itself), with the closest key's variable if one is near. */
bool cfg_env_name(const struct cfg_key *k, char *dst, size_t dstsz);
void cfg_env_unknown_warn(void);

/* The row of the field at offset off (aborts if there is none). */
const struct cfg_key *cfg_key_at(size_t off);

/* True if "key = value" survives a trip through the INI file as is;
 * otherwise *why says what is wrong. */
bool cfg_value_fits_ini(struct str v, const char **why);

/* "a|b|c" for messages and comments; cut short if dst is too small. */
const char *cfg_choices_join(const char *const *c, char *dst, size_t dstsz);

/* Parts of an absolute http(s) URL; host without brackets. */
struct url_parts {
	bool https;
	bool userinfo;
	bool ipv6;
	bool query;
	bool fragment;
	struct str host;
	unsigned port; /* 0 if none given */
};

/* Splits an absolute http(s) URL; false if it is not one (strict). */
bool cfg_url_split(const char *url, struct url_parts *u);

/*
 * The checks behind cfg_validate(). *bad is the key the message is about;
 * *alt, if set, is another key whose value took part.
 */
enum status cfg_validate_keys(const struct config *cfg,
                              const struct cfg_key **bad,
                              const struct cfg_key **alt, char *msg,
                              size_t msglen);

/*
 * [oauth.scope_descriptions] (config_scope.c). _set: text for scope,
 * replacing an earlier one unless both come from the file (line > 0);
 * msg says what is wrong. _check: the first description whose scope is
 * not in [oauth] scopes (msg says so), or NULL. _render: appends the
 * section (as buf_add() on error). _free: empties the list.
 */
enum status cfg_scope_desc_set(struct config *, const char *scope,
                               const char *text, int line, char *msg,
                               size_t msglen);
const struct cfg_scope_desc *cfg_scope_descs_check(const struct config *,
                                                   char *msg, size_t msglen);
enum status cfg_scope_descs_render(const struct config *, struct buf *out);
void cfg_scope_descs_free(struct config *);

/* Checks a scope list: scope-tokens separated by single spaces; with known
 * set, each in known; without, none twice. msg says what is wrong. */
bool cfg_scopes_ok(const char *list, const char *known, char *msg,
                   size_t msglen);

/*
 * [gateway.scopes] (config_gwscope.c), as the scope descriptions above:
 * _set parses key (methods, optional prefix) and value (scopes); _check
 * returns the first rule naming a scope not in [oauth] scopes, or a prefix
 * not under [gateway] path, or a method and prefix given twice.
 */
enum status cfg_gw_rule_set(struct config *, const char *key, const char *value,
                            int line, char *msg, size_t msglen);
const struct cfg_gw_rule *cfg_gw_rules_check(const struct config *, char *msg,
                                             size_t msglen);
enum status cfg_gw_rules_render(const struct config *, struct buf *out);
void cfg_gw_rules_free(struct config *);

#endif
