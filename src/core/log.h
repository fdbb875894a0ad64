/* One key=value line per event on stderr. Never pass a secret. */
#ifndef PLUGAUTH_LOG_H
#define PLUGAUTH_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level written (default LOG_INFO). */
void log_set_level(enum log_level);

/* Parses "error", "warn", "info" or "debug"; false if none. */
bool log_level_parse(const char *, enum log_level *out);

/* Copies s (NULL: "-") into out[outsz] for a log line: bytes outside
 * printable ASCII, spaces, quotes and '=' become '?'; truncated. Returns
 * out. */
const char *log_safe(const char *s, char *out, size_t outsz);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
