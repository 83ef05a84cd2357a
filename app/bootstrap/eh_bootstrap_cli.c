/* SPDX-License-Identifier: Apache-2.0 */
/* eh_bootstrap_cli.c - edgehookd's command line before the daemon exists
 * (CONTRACT 1): --help, --version, and the end of loading the bootstrap
 * file (--check-config, --print-config, --log-level). The exact output is
 * part of the contract. */
#include "eh_bootstrap.h"

#include "eh_limits.h"
#include "eh_log.h"

#define EXIT_USAGE 2 /* bad usage or bad bootstrap config */

void eh_bootstrap_cli_usage(FILE *out)
{
	fprintf(out,
		"Usage: edgehookd -c FILE [--log-level LEVEL] [--check-config | --print-config]\n"
		"       edgehookd --help | --version\n"
		"\n"
		"Subscribes to notifications over MQTT, filters them per webhook, keeps\n"
		"them in a crash-safe queue on flash and delivers them over HTTPS.\n"
		"\n"
		"  -c, --config FILE     bootstrap file (JSON; see edgehookd.conf.example)\n"
		"      --check-config    validate FILE (and its key files) and exit\n"
		"      --print-config    validate, then print the effective configuration\n"
		"                        (defaults and derived names; secrets not shown)\n"
		"      --log-level LEVEL error|warning|info|debug (overrides the file)\n"
		"  -h, --help            this text\n"
		"  -V, --version         version and compiled-in limits\n"
		"\n"
		"SIGHUP reloads the log level and the CA bundle from FILE and says which\n"
		"other changes need a restart.\n"
		"\n"
		"Exit codes: 0 clean stop, 1 fatal runtime error, 2 bad usage or\n"
		"configuration, 3 queue storage unusable (cannot open or lock).\n");
}

void eh_bootstrap_cli_version(FILE *out)
{
	fprintf(out, "edgehookd %s\n", EH_VERSION);
	fprintf(out,
		"limits: webhooks=%d filter_ids=%d message_bytes=%d json_depth=%d "
		"array_notifications=%d batch_size=%d headers=%d catalog_bytes=%d "
		"catalog_entries=%d\n",
		EH_MAX_WEBHOOKS, EH_FILTER_MAX_IDS, EH_MAX_MSG_BYTES, EH_JSON_MAX_DEPTH,
		EH_MAX_ARRAY_NOTES, EH_MAX_BATCH, EH_MAX_HEADERS, EH_CATALOG_BYTES,
		EH_CATALOG_MAX_ENTRIES);
}

eh_err eh_bootstrap_load_all(const char *path, struct eh_bootstrap *b, struct eh_errs *errs)
{
	if (eh_bootstrap_load(path, b, errs) == EH_OK) {
		eh_bootstrap_load_secrets(b, errs);
		eh_bootstrap_check_files(b, errs); /* the CA bundle, as start loads it */
	}
	return eh_errs_count(errs) ? EH_ERR_INVAL : EH_OK;
}

int eh_bootstrap_cli_finish(const char *path, struct eh_bootstrap *b, const struct eh_errs *errs,
			    const char *level, enum eh_boot_cli_mode mode, char *buf, size_t cap,
			    FILE *out, FILE *err)
{
	if (eh_errs_count(errs)) {
		for (unsigned i = 0; i < errs->n; i++)
			fprintf(err, "%s: %s\n", path, errs->msg[i]);
		if (errs->dropped)
			fprintf(err, "%s: ... and %u more problems\n", path, errs->dropped);
		return EXIT_USAGE;
	}
	if (level) {
		int l = eh_log_level_parse(level);
		if (l < 0) {
			fprintf(err, "--log-level: expected error, warning, info or debug\n");
			return EXIT_USAGE;
		}
		b->log_level = l;
	}
	if (mode == EH_BOOT_CLI_PRINT) {
		if (eh_bootstrap_render(b, buf, cap) != EH_OK) {
			fprintf(err, "%s: cannot print the configuration\n", path);
			return 1;
		}
		fprintf(out, "%s\n", buf);
		return 0;
	}
	if (mode == EH_BOOT_CLI_CHECK) {
		fprintf(out, "%s: ok\n", path);
		return 0;
	}
	return -1;
}
