/* plugauth user add | list | remove | passwd */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "crypto/sec.h"

#define PASSWORD_MIN_BYTES 8
#define PASSWORD_MAX_BYTES 1024
#define USERNAME_MAX_BYTES 64

static const char usage[] =
    "usage: plugauth [-c FILE] user add NAME [--password-stdin]\n"
    "       plugauth [-c FILE] user list [--json]\n"
    "       plugauth [-c FILE] user remove NAME\n"
    "       plugauth [-c FILE] user passwd NAME [--password-stdin]\n"
    "\n"
    "add     creates a user who can sign in on the login page\n"
    "list    lists users and when they were added (UTC); --json: one\n"
    "        {name, created_at} object per line (JSON Lines), created_at\n"
    "        in seconds since the epoch\n"
    "remove  deletes a user and revokes everything issued to them\n"
    "passwd  sets a new password and ends the user's sign-in sessions, so\n"
    "        that a stolen session cookie stops working; the tokens issued\n"
    "        to apps stay valid: 'plugauth token revoke --user NAME' revokes\n"
    "        them\n"
    "\n"
    "The password is read twice with no echo from the terminal, or, with\n"
    "--password-stdin, as one line from standard input. At least 8 bytes.\n"
    "Names: 1 to 64 of A-Z a-z 0-9 . _ @ -\n";

static bool
username_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USERNAME_MAX_BYTES)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                 "0123456789._@-") == n;
}

/* One line of at most PASSWORD_MAX_BYTES from f, without its newline. */
static bool
line_read(FILE *f, char *out, size_t outsz)
{
	size_t n;

	if (fgets(out, (int)outsz, f) == NULL)
		return false;
	n = strlen(out);
	if (n > 0 && out[n - 1] != '\n' && !feof(f))
		return false; /* longer than the buffer */
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return true;
}

static bool
prompt_noecho(const char *prompt, char *out, size_t outsz)
{
	struct termios old, quiet;
	bool ok;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return false;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	ok = line_read(stdin, out, outsz);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return ok;
}

/* Reads the password as the flags say; prints the error itself. */
static int
password_read(bool from_stdin, char *pw, size_t pwsz)
{
	char again[PASSWORD_MAX_BYTES + 2];
	int rc = CLI_FAIL;

	if (from_stdin) {
		if (!line_read(stdin, pw, pwsz)) {
			cli_err("cannot read a password line from stdin (at "
			        "most %d bytes)",
			        PASSWORD_MAX_BYTES);
			return CLI_FAIL;
		}
	} else if (!isatty(STDIN_FILENO)) {
		cli_err("stdin is not a terminal: use --password-stdin");
		return CLI_USAGE;
	} else {
		if (!prompt_noecho("Password: ", pw, pwsz) ||
		    !prompt_noecho("Password again: ", again, sizeof(again)))
			goto out;
		if (strcmp(pw, again) != 0) {
			cli_err("the passwords differ");
			goto out;
		}
	}
	if (strlen(pw) < PASSWORD_MIN_BYTES) {
		cli_err("password too short: at least %d bytes",
		        PASSWORD_MIN_BYTES);
		goto out;
	}
	rc = CLI_OK;
out:
	sec_wipe(again, sizeof(again));
	return rc;
}

/* After a password change: ends every sign-in session of the user and
 * says what was done, and what was not. */
static int
passwd_end_sessions(struct store *st, const char *name)
{
	struct store_user *u = NULL;
	unsigned n = 0;
	enum status s;

	s = store_user_get(st, name, &u);
	if (s == ST_OK)
		s = store_session_delete_user(st, u->id, &n);
	store_user_free(u);
	if (s != ST_OK) {
		cli_err("changed the password of %s, but could not end their "
		        "sign-in sessions: %s",
		        name, status_str(s));
		return CLI_FAIL;
	}
	printf("changed the password of %s and ended %u sign-in session%s\n",
	       name, n, n == 1 ? "" : "s");
	printf("tokens issued to apps stay valid: revoke them with "
	       "'plugauth token revoke --user %s'\n",
	       name);
	return CLI_OK;
}

/* add and passwd: NAME [--password-stdin]. */
static int
user_set(struct cli *cli, int argc, char **argv, bool add)
{
	const char *cmd = add ? "user add" : "user passwd";
	const char *name = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	char pw[PASSWORD_MAX_BYTES + 2];
	char hash[SEC_PWHASH_STRLEN];
	bool from_stdin = false;
	enum status s;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			from_stdin = true;
		else if (argv[i][0] == '-' || name != NULL)
			return cli_usage_err(cmd, "unexpected argument '%s'",
			                     argv[i]);
		else
			name = argv[i];
	}
	if (name == NULL)
		return cli_usage_err(cmd, "a user name is required");
	if (!username_ok(name))
		return cli_usage_err(cmd, "bad user name '%s'", name);
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	rc = password_read(from_stdin, pw, sizeof(pw));
	if (rc != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if (sec_password_hash(pw, strlen(pw), hash) != ST_OK) {
		cli_err("cannot hash the password");
		goto out;
	}
	s = add ? store_user_add(st, name, hash, NULL)
	        : store_user_set_password(st, name, hash);
	if (s == ST_EXISTS)
		cli_err("user '%s' already exists", name);
	else if (s == ST_NOTFOUND)
		cli_err("no user '%s'", name);
	else if (s != ST_OK)
		cli_err("cannot save user '%s': %s", name, status_str(s));
	else if (add) {
		printf("added user %s\n", name);
		rc = CLI_OK;
	} else
		rc = passwd_end_sessions(st, name);
out:
	sec_wipe(pw, sizeof(pw));
	sec_wipe(hash, sizeof(hash));
	store_close(st);
	cfg_free(cfg);
	return rc;
}

/* Prints the users as a table, or as JSON Lines of {name, created_at}
 * (seconds since the epoch, as client list --json and events --json). */
static int
user_list_print(struct store_user *const *v, size_t n, bool json)
{
	static const char *const head[] = {"NAME", "ADDED"};
	struct cli_table t;

	if (json) {
		for (size_t i = 0; i < n; i++)
			cli_json_line(json_pack("{s:s, s:I}", "name",
			                        v[i]->name, "created_at",
			                        (json_int_t)v[i]->created_at));
		return CLI_OK;
	}
	if (n == 0) {
		printf("no users: add one with 'plugauth user add NAME'\n");
		return CLI_OK;
	}
	cli_table_init(&t, head, ARRAY_LEN(head));
	for (size_t i = 0; i < n; i++) {
		char added[CLI_TIME_BYTES];
		const char *row[] = {v[i]->name,
		                     cli_time_utc(v[i]->created_at, added)};

		cli_table_add(&t, row);
	}
	return cli_table_print(&t);
}

static int
user_list(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_user **v = NULL;
	bool json = false;
	size_t n = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0)
			return cli_usage_err(
			    "user list", "unexpected argument '%s'", argv[i]);
		json = true;
	}
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	if (store_user_list(st, &v, &n) != ST_OK) {
		cli_err("cannot list users");
		rc = CLI_FAIL;
	} else {
		rc = user_list_print(v, n, json);
	}
	store_user_list_free(v, n);
	store_close(st);
	cfg_free(cfg);
	return rc;
}

static int
user_remove(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	enum status s;
	int rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_err("user remove", "exactly one user name is "
		                                    "required");
	rc = cli_open(cli, &cfg, &st);
	if (rc != CLI_OK)
		return rc;
	s = store_user_remove(st, argv[1]);
	if (s == ST_OK) {
		printf("removed user %s and revoked their tokens\n", argv[1]);
	} else {
		if (s == ST_NOTFOUND)
			cli_err("no user '%s'", argv[1]);
		else
			cli_err("cannot remove user '%s': %s", argv[1],
			        status_str(s));
		rc = CLI_FAIL;
	}
	store_close(st);
	cfg_free(cfg);
	return rc;
}

int
cli_user(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_err("user", "a subcommand is required: add, "
		                             "list, remove or passwd");
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "add") == 0)
		return user_set(cli, argc - 1, argv + 1, true);
	if (strcmp(argv[1], "passwd") == 0)
		return user_set(cli, argc - 1, argv + 1, false);
	if (strcmp(argv[1], "list") == 0)
		return user_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return user_remove(cli, argc - 1, argv + 1);
	return cli_usage_err("user", "unknown subcommand '%s'", argv[1]);
}
