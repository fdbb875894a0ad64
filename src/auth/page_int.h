/*
 * Inside auth/page: the template engine (tmpl.c) and the built-in pages
 * (page_builtin.c), used by page.c.
 */
#ifndef PLUGAUTH_PAGE_INT_H
#define PLUGAUTH_PAGE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/page.h"

enum node_kind {
	NODE_TEXT,   /* literal template text */
	NODE_VAR,    /* {{name}} */
	NODE_RAW,    /* {{{name}}} */
	NODE_IF,     /* {{#name}} */
	NODE_UNLESS, /* {{^name}} */
	NODE_END,    /* {{/name}} */
};

struct node {
	enum node_kind kind;
	size_t off; /* into tmpl.text: the text, or the name */
	size_t len;
	size_t end; /* NODE_IF, NODE_UNLESS: index of the NODE_END */
};

struct tmpl {
	char *text;
	size_t len;
	struct node *nodes;
	size_t n;
	size_t cap;
};

/* The built-in login, consent and error templates. */
extern const char auth_login_html[];
extern const char auth_consent_html[];
extern const char auth_error_html[];

/* Writes "label:line: message" (line 0: "label: message") to err. A message
 * longer than errlen is cut short, which is fine for a diagnostic. */
void auth_page_err(char *err, size_t errlen, const char *label, size_t line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Compiles text[len] (takes text: freed here on error) into *t. label
 * names the template in messages. form: the page must use {{action}} and
 * {{{hidden}}}.
 */
enum status auth_tmpl_compile(const char *label, char *text, size_t len,
                              bool form, struct tmpl *t, char *err,
                              size_t errlen);
void auth_tmpl_free(struct tmpl *t);

#endif
