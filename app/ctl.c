/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.c - edgehookctl, the operator's tool: queue stat|dump, sign,
 * check-config, explain, and over MQTT status, webhook, tail. Each command lives in app/ctl/; this
 * file only dispatches. */
#include "eh_ctl.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "Usage: edgehookctl [-c BOOTSTRAP] COMMAND ...\n"
		     "  queue stat FILE                   capacity, fill, lag per cursor, drops,\n"
		     "                                    damage\n"
		     "  queue dump FILE                   records, cursors and damage found\n"
		     "  sign --key-file K --topic T FILE  the hmac-sha256 user property of a\n"
		     "                                    config message\n"
		     "  check-config TYPE FILE            validate a document; TYPE is bootstrap,\n"
		     "                                    webhook or gateway\n"
		     "  explain WEBHOOK.json NOTIFICATION.json\n"
		     "                                    why a notification is (not) delivered\n"
		     "With -c BOOTSTRAP, through the daemon's broker (its MQTT settings, its\n"
		     "signing key); each takes --timeout S [10]:\n"
		     "  status                            the daemon's P/status\n"
		     "  webhook list                      ids, title, url, active, config-status\n"
		     "  webhook get ID                    a webhook's retained config\n"
		     "  webhook set ID FILE               publish it, wait for its config-status\n"
		     "  webhook rm ID                     delete it, wait for the daemon\n"
		     "  tail [--count N]                  states and dead letters as they come\n"
		     "  -V, --version                     print the version\n"
		     "  -h, --help                        this text; COMMAND --help: its usage\n"
		     "A FILE that is read as a document may be - (standard input).\n"
		     "Exit status: 0 ok, 1 refused or a negative answer (invalid, not\n"
		     "  matched), 2 bad usage or a file that cannot be read or used,\n"
		     "  3 unreachable.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EH_CTL_EXIT_USAGE;
	}
	const char *bootfile = NULL;
	if (strcmp(argv[1], "-c") == 0) {
		if (argc < 4) {
			usage(stderr);
			return EH_CTL_EXIT_USAGE;
		}
		bootfile = argv[2];
		argc -= 2;
		argv += 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "webhook") == 0 || strcmp(cmd, "tail") == 0)
		return eh_ctl_mqtt(bootfile, argc - 1, argv + 1);
	if (strcmp(cmd, "queue") == 0)
		return eh_ctl_queue(argc - 1, argv + 1);
	if (strcmp(cmd, "sign") == 0)
		return eh_ctl_sign(argc - 1, argv + 1);
	if (strcmp(cmd, "explain") == 0)
		return eh_ctl_explain(argc - 1, argv + 1);
	if (strcmp(cmd, "check-config") == 0)
		return eh_ctl_check_config(argc - 1, argv + 1);
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("edgehookctl %s\n", EH_VERSION);
		return EH_CTL_EXIT_OK;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EH_CTL_EXIT_OK;
	}
	fprintf(stderr, "edgehookctl: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EH_CTL_EXIT_USAGE;
}
