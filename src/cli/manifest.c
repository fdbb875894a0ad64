/* plugauth manifest: print the ai-plugin.json the server would serve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "plugin/plugin.h"

int
cli_manifest(struct cli *cli, int argc, char **argv)
{
	struct config *cfg = NULL;
	char *text = NULL, err[512];
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf(
		    "usage: plugauth [-c FILE] manifest\n\n"
		    "Prints the plugin manifest (ai-plugin.json) exactly as "
		    "'plugauth serve'\n"
		    "answers GET /.well-known/ai-plugin.json, after checking "
		    "it against\n"
		    "ChatGPT's limits.\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_err("manifest", "unexpected argument '%s'",
		                     argv[1]);
	rc = cli_config_load(cli, &cfg);
	if (rc != CLI_OK)
		return rc;
	if (plug_manifest_text(cfg, &text, err, sizeof(err)) != ST_OK) {
		cli_err("%s", err);
		rc = CLI_FAIL;
		goto out;
	}
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
		cli_err("cannot write the manifest to stdout");
		rc = CLI_FAIL;
	}
out:
	free(text);
	cfg_free(cfg);
	return rc;
}
