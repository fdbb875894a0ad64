#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static enum log_level log_max = LOG_INFO;

void
log_set_level(enum log_level l)
{
	log_max = l;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *
log_safe(const char *s, char *out, size_t outsz)
{
	size_t i;

	if (outsz == 0)
		return "";
	if (s == NULL)
		s = "-";
	for (i = 0; s[i] != '\0' && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] =
		    c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\'
		        ? (char)c
		        : '?';
	}
	out[i] = '\0';
	return out;
}

static void log_write(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
log_write(enum log_level l, const char *fmt, va_list ap)
{
	static const char *const tags[] = {"error", "warn", "info", "debug"};
	char line[2048];
	char ts[32];
	struct timespec now;
	struct tm tm;
	int n, m;

	if (l > log_max)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s ", ts,
	             now.tv_nsec / 1000000, tags[l]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line keeps lines whole across threads. */
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}

#define LOG_FN(name, level)                                                    \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_write(level, fmt, ap);                                     \
		va_end(ap);                                                    \
	}

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)
