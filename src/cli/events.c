/* plugauth events: the recent OAuth events, to see why a flow failed. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "core/log.h"

#define EVENTS_DEFAULT 50
#define EVENTS_MAX 10000
#define FOLLOW_POLL_US 500000

static const char usage[] =
    "usage: plugauth [-c FILE] events [--client ID] [--user NAME]\n"
    "                [--state S] [-n COUNT] [--follow] [--json]\n"
    "\n"
    "Shows the recent OAuth events, oldest first: authorize, login,\n"
    "consent, code issued, token attempts and their outcome, each with a\n"
    "reason code. No secret is ever recorded. When ChatGPT says\n"
    "\"Missing access token\" or a sign-in fails, this tells you why.\n"
    "  --client ID   only this client's events\n"
    "  --user NAME   only this user's events\n"
    "  --state S     only the flow with this OAuth state value\n"
    "  -n COUNT      how many (default 50)\n"
    "  --follow      keep printing new events until interrupted\n"
    "  --json        one JSON object per line (JSON Lines), at in seconds\n"
    "                since the epoch\n"
    "Text: a header row, then one event per line, times in UTC.\n";

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Prints " key=VALUE" with VALUE quoted ("..."), '"' and '\' escaped and
 * bytes outside printable ASCII as '?' (the values came from the network);
 * key=- if v is NULL; nothing at all if v is NULL and skip_null. */
static void
field_print(const char *key, const char *v, bool skip_null)
{
	if (v == NULL) {
		if (!skip_null)
			printf(" %s=-", key);
		return;
	}
	printf(" %s=\"", key);
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\')
			putchar('\\');
		putchar(c >= ' ' && c < 0x7f ? c : '?');
	}
	putchar('"');
}

/* A reason code prints bare; a sentence (older events) quoted. */
static void
reason_print(const char *r)
{
	char s[96];

	if (r != NULL &&
	    r[strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789_=.-")] != '\0')
		field_print("reason", r, false);
	else
		printf(" %s", log_safe(r, s, sizeof(s)));
}

static void
event_json(const struct store_event *e)
{
	cli_json_line(json_pack(
	    "{s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
	    "s:s?, s:s?}",
	    "id", (json_int_t)e->id, "at", (json_int_t)e->at, "kind", e->kind,
	    "outcome", e->outcome, "reason", e->reason, "client_id",
	    e->client_id, "user", e->user, "state", e->state, "peer", e->peer,
	    "detail", e->detail, "method", e->method, "description",
	    e->description));
}

/* The text's columns: the time (UTC), kind, outcome, then the reason and
 * the key="value" details. */
#define EVENT_ROW_FMT "%-20s  %-9s %-22s"

static void
event_print(const struct store_event *e, bool json, bool *head)
{
	char when[CLI_TIME_BYTES];
	char s[3][96];

	if (json) {
		event_json(e);
		return;
	}
	if (!*head) {
		printf(EVENT_ROW_FMT " %s\n", "TIME", "KIND", "OUTCOME",
		       "REASON AND DETAILS");
		*head = true;
	}
	/* Values came from the network: codes through log_safe(), the
	 * rest quoted by field_print(). */
	printf(EVENT_ROW_FMT, cli_time_utc(e->at, when),
	       log_safe(e->kind, s[0], sizeof(s[0])),
	       log_safe(e->outcome, s[1], sizeof(s[1])));
	reason_print(e->reason);
	field_print("client", e->client_id, false);
	field_print("user", e->user, false);
	field_print("state", e->state, false);
	field_print("detail", e->detail, true);
	if (e->method != NULL)
		printf(" method=%s", log_safe(e->method, s[2], sizeof(s[2])));
	printf(" from=%s\n", log_safe(e->peer, s[2], sizeof(s[2])));
}

/* Reads events' options into f (filters and -n), follow and json; *help
 * is set by --help, which stops the reading. CLI_OK, or CLI_USAGE after
 * saying why. */
static int
events_opts_parse(int argc, char **argv, struct store_event_filter *f,
                  bool *follow, bool *json, bool *help)
{
	static const struct option opts[] = {
	    {"client", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"state", required_argument, NULL, 's'},
	    {"follow", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long count;
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			f->client_id = optarg;
			break;
		case 'u':
			f->user = optarg;
			break;
		case 's':
			f->state = optarg;
			break;
		case 'n':
			if (!str_to_u64(str_of(optarg), 1, EVENTS_MAX, &count))
				return cli_usage_err("events",
				                     "-n takes 1 to "
				                     "%d",
				                     EVENTS_MAX);
			f->limit = (unsigned)count;
			break;
		case 'f':
			*follow = true;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			*help = true;
			return CLI_OK;
		default:
			return cli_usage_err("events",
			                     "unknown or incomplete "
			                     "option '%s'",
			                     argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_err("events", "unexpected argument '%s'",
		                     argv[optind]);
	return CLI_OK;
}

/* Prints the events f selects; with follow, keeps printing new ones until
 * SIGINT or SIGTERM. Returns an exit code. */
static int
events_show(struct store *st, struct store_event_filter *f, bool follow,
            bool json)
{
	struct store_event **v = NULL;
	size_t n = 0;
	bool head = false; /* the header row is out */

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	do {
		if (store_events_list(st, f, &v, &n) != ST_OK) {
			cli_err("cannot read events");
			return CLI_FAIL;
		}
		for (size_t i = 0; i < n; i++) {
			event_print(v[i], json, &head);
			f->after_id = v[i]->id;
		}
		if (n == 0 && !follow && f->after_id == 0 && !json)
			printf("no events yet\n");
		fflush(stdout);
		store_event_list_free(v, n);
		v = NULL;
		f->limit = EVENTS_MAX; /* following: everything new */
		if (follow && !stop)
			usleep(FOLLOW_POLL_US);
	} while (follow && !stop);
	return CLI_OK;
}

/* CLI_OK if --user NAME names a user, or one that some event names (a
 * removed user, a name typed at the sign-in page); else says there is no
 * such user and returns CLI_FAIL. */
static int
events_user_known(struct store *st, const char *name)
{
	struct store_event_filter f = {.user = name, .limit = 1};
	struct store_event **v = NULL;
	struct store_user *u = NULL;
	size_t n = 0;
	enum status rc;
	char s[96];

	rc = store_user_get(st, name, &u);
	store_user_free(u);
	if (rc != ST_NOTFOUND)
		return CLI_OK; /* a user; a store error shows when listing */
	if (store_events_list(st, &f, &v, &n) == ST_OK) {
		store_event_list_free(v, n); /* an empty list is an array too */
		if (n > 0)
			return CLI_OK;
	}
	cli_err("no such user '%s': no user and no event has that name",
	        log_safe(name, s, sizeof(s)));
	return CLI_FAIL;
}

int
cli_events(struct cli *cli, int argc, char **argv)
{
	struct store_event_filter f = {.limit = EVENTS_DEFAULT};
	struct config *cfg = NULL;
	struct store *st = NULL;
	bool follow = false, json = false;
	bool help = false;
	int rc;

	rc = events_opts_parse(argc, argv, &f, &follow, &json, &help);
	if (rc != CLI_OK)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	if (f.user == NULL || (rc = events_user_known(st, f.user)) == CLI_OK)
		rc = events_show(st, &f, follow, json);
	store_close(st);
	cfg_free(cfg);
	return rc;
}
