/* plugauth templates export DIR [--force] */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/page.h"
#include "cli/cli.h"

#define TEMPLATES_PATH_MAX_BYTES 4096

static const char usage[] =
    "usage: plugauth templates export DIR [--force]\n"
    "\n"
    "Writes the built-in pages as login.html, consent.html and error.html\n"
    "in DIR (created if missing), the names [server] templates_dir reads:\n"
    "pointed at DIR, the server shows the same pages until you edit them.\n"
    "Refuses to overwrite a file that exists unless --force is given.\n"
    "Needs no configuration file or database. docs/templates.md describes\n"
    "the template language and each page's variables.\n"
    "\n"
    "  --force   overwrite login.html, consent.html, error.html in DIR\n";

/* Creates dir and its missing parents (mode 0755, less the umask). Prints
 * the error itself. */
static int
dir_make(const char *dir)
{
	char path[TEMPLATES_PATH_MAX_BYTES];
	struct stat st;
	size_t len = strlen(dir);

	if (len >= sizeof(path)) {
		cli_err("%s: path too long", dir);
		return CLI_FAIL;
	}
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			cli_err("cannot create directory %s: %s", path,
			        strerror(errno));
			return CLI_FAIL;
		}
		path[i] = dir[i];
	}
	if (stat(dir, &st) != 0) {
		cli_err("%s: %s", dir, strerror(errno));
		return CLI_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_err("%s exists and is not a directory", dir);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The path of page which's file in dir, into path[size]. */
static int
page_path(const char *dir, enum auth_page which, char *path, size_t size,
          const char **text)
{
	const char *file = NULL;
	int n;

	*text = auth_page_builtin(which, &file);
	n = snprintf(path, size, "%s/%s", dir, file);
	if (*text == NULL || n < 0 || (size_t)n >= size) {
		cli_err("%s: path too long", dir);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Writes text to path: a new file, or (force) over a regular one. A
 * partly written file is removed. Prints the error itself. */
static int
file_write(const char *path, const char *text, bool force)
{
	size_t len = strlen(text), off = 0;
	ssize_t w;
	int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;

	flags |= force ? O_TRUNC : O_EXCL;
	fd = open(path, flags, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_err("%s exists: use --force to overwrite it", path);
		else if (errno == ELOOP)
			cli_err("%s is a symbolic link: not followed", path);
		else
			cli_err("cannot write %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off < len || close(fd) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		if (off < len)
			close(fd);
		unlink(path);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Writes every built-in page into dir, none unless all are new or force. */
static int
templates_export(const char *dir, bool force)
{
	char path[TEMPLATES_PATH_MAX_BYTES], real[PATH_MAX];
	const char *text;
	struct stat st;
	int rc;

	if ((rc = dir_make(dir)) != CLI_OK)
		return rc;
	for (int i = 0; i < AUTH_PAGE_COUNT && !force; i++) {
		if ((rc = page_path(dir, (enum auth_page)i, path, sizeof(path),
		                    &text)) != CLI_OK)
			return rc;
		if (lstat(path, &st) == 0) {
			cli_err("%s exists: use --force to overwrite it "
			        "(nothing written)",
			        path);
			return CLI_FAIL;
		}
	}
	for (int i = 0; i < AUTH_PAGE_COUNT; i++) {
		if ((rc = page_path(dir, (enum auth_page)i, path, sizeof(path),
		                    &text)) != CLI_OK ||
		    (rc = file_write(path, text, force)) != CLI_OK)
			return rc;
		printf("wrote %s\n", path);
	}
	printf("to use them: set [server] templates_dir = %s\n",
	       realpath(dir, real) != NULL ? real : dir);
	return CLI_OK;
}

int
cli_templates(struct cli *cli, int argc, char **argv)
{
	const char *dir = NULL;
	bool force = false;

	(void)cli; /* no configuration, no database */
	if (cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "export") != 0)
		return cli_usage_err("templates", "the subcommand is 'export'");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else
			return cli_usage_err("templates export",
			                     "unexpected argument '%s'",
			                     argv[i]);
	}
	if (dir == NULL || dir[0] == '\0')
		return cli_usage_err("templates export",
		                     "name the directory to write to");
	return templates_export(dir, force);
}
