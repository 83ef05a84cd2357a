/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.c - edgehookctl, the operator's tool: queue stat|dump, sign,
 * check-config, explain. Each command lives in app/ctl/; this file only
 * dispatches. */
#include "eh_bootstrap.h"
#include "eh_config.h"
#include "eh_ctl.h"
#include "eh_errs.h"
#include "eh_file.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: edgehookctl COMMAND ...\n"
		"  queue stat FILE                        capacity, fill, per-cursor lag, drops, damage\n"
		"  queue dump FILE                        records, cursors and damage found\n"
		"  sign --key-file K --topic T FILE       the hmac-sha256 user property for a config message\n"
		"  check-config FILE                      validate a bootstrap file or a webhook JSON\n"
		"  explain WEBHOOK.json NOTIFICATION.json why a notification is (not) delivered\n"
		"  --version\n");
}

/* A webhook JSON has "url" or "filters"; anything else is taken for a
 * bootstrap file. Every problem is printed with its path. */
static int check_config(int argc, char **argv)
{
	static char text[EH_BOOT_BOOTFILE_MAX + 1];
	static struct eh_bootstrap b;
	struct eh_errs errs;
	size_t len = 0;
	eh_err rc;

	if (argc != 2) {
		fprintf(stderr, "usage: edgehookctl check-config FILE\n");
		return 2;
	}
	rc = eh_file_read_all(argv[1], text, sizeof(text), &len);
	if (rc != EH_OK) {
		fprintf(stderr, "%s: cannot read: %s\n", argv[1], eh_err_str(rc));
		return 2;
	}
	eh_errs_init(&errs);
	bool webhook = strstr(text, "\"url\"") != NULL || strstr(text, "\"filters\"") != NULL;
	if (webhook)
		eh_config_check_webhook(text, len, true, &errs);
	else if (eh_bootstrap_parse(text, len, &b, &errs) == EH_OK) {
		eh_bootstrap_load_secrets(&b, &errs);
		eh_bootstrap_check_files(&b, &errs);
	}
	for (unsigned i = 0; i < errs.n; i++)
		fprintf(stderr, "%s: %s\n", argv[1], errs.msg[i]);
	if (errs.dropped)
		fprintf(stderr, "%s: ... and %u more problems\n", argv[1], errs.dropped);
	if (eh_errs_count(&errs))
		return 2;
	printf("%s: ok (%s)\n", argv[1], webhook ? "webhook" : "bootstrap file");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "queue") == 0)
		return eh_ctl_queue(argc - 1, argv + 1);
	if (strcmp(cmd, "sign") == 0)
		return eh_ctl_sign(argc - 1, argv + 1);
	if (strcmp(cmd, "explain") == 0)
		return eh_ctl_explain(argc - 1, argv + 1);
	if (strcmp(cmd, "check-config") == 0)
		return check_config(argc - 1, argv + 1);
	if (strcmp(cmd, "--version") == 0) {
		printf("edgehookctl %s\n", EH_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "edgehookctl: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
