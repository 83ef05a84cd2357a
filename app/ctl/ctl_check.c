/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_check.c - `edgehookctl check-config [TYPE] FILE`: validate a
 * bootstrap file, a webhook or a gateway document the way the daemon does,
 * and print every problem with its path. The type is an argument; without
 * it, the document's top-level keys must point at exactly one type. */
#include "eh_ctl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "eh_bootstrap.h"
#include "eh_config.h"
#include "eh_errs.h"
#include "eh_json.h"

enum doc_type { DOC_BOOTSTRAP, DOC_WEBHOOK, DOC_GATEWAY, DOC_COUNT };

static const char *const doc_names[DOC_COUNT] = {"bootstrap", "webhook", "gateway"};

/* Keys only one document type has, for the type-less form. log_level is
 * shared by the bootstrap file and the gateway document; "version" and
 * "deleted" by every config message; they decide nothing. */
static const char *const bootstrap_only[] = {
    "device_id",	"topic_prefix",		"mqtt", "inputs",	"queue", "tls",
    "allow_plain_http", "config_hmac_key_file", "coap", "stop_grace_s", NULL};
static const char *const webhook_only[] = {
    "title",	    "url",	 "batch_size", "batch_max_bytes",
    "max_attempts", "active",	 "filters",    "headers",
    "secret",	    "timeout_s", NULL};
static const char *const gateway_only[] = {"external_address", NULL};

/* A command-line tool, run once: its buffers are static, not on the stack. */
static char text[EH_BOOT_BOOTFILE_MAX + 1];
static struct eh_bootstrap boot;

static void usage(FILE *out)
{
	fprintf(out, "usage: edgehookctl check-config TYPE FILE\n"
		     "  TYPE: bootstrap (edgehookd -c FILE), webhook (P/config/webhooks/<id>),\n"
		     "        gateway (P/config/gateway)\n"
		     "  FILE: a path, or - for standard input\n"
		     "  check-config FILE (no TYPE) works when the top-level keys name one type\n"
		     "  exit 0: valid, 1: invalid (each problem on stderr with its path),\n"
		     "       2: bad usage, unreadable file, or a type that cannot be told\n");
}

static bool key_in(struct eh_json_view key, const char *const *list)
{
	for (unsigned i = 0; list[i] != NULL; i++)
		if (eh_json_str_eq(key, list[i]))
			return true;
	return false;
}

/* The type the top-level keys point at; DOC_COUNT when none or several. */
static enum doc_type guess_type(const char *buf, size_t len)
{
	struct eh_json_cur c;
	struct eh_json_view key;
	bool seen[DOC_COUNT] = {false, false, false};
	unsigned kinds = 0;
	enum doc_type found = DOC_COUNT;
	int r;

	eh_json_init(&c, buf, len);
	if (eh_json_peek(&c) != EH_JSON_OBJECT || !eh_json_obj_begin(&c))
		return DOC_COUNT;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &key)) == 1; i++) {
		if (key_in(key, bootstrap_only))
			seen[DOC_BOOTSTRAP] = true;
		if (key_in(key, webhook_only))
			seen[DOC_WEBHOOK] = true;
		if (key_in(key, gateway_only))
			seen[DOC_GATEWAY] = true;
		if (!eh_json_skip(&c, NULL))
			return DOC_COUNT;
	}
	if (r < 0)
		return DOC_COUNT;
	for (unsigned t = 0; t < DOC_COUNT; t++) {
		if (seen[t]) {
			kinds++;
			found = (enum doc_type)t;
		}
	}
	return kinds == 1 ? found : DOC_COUNT;
}

int eh_ctl_check_config(int argc, char **argv)
{
	enum doc_type type = DOC_COUNT;
	const char *path;
	struct eh_errs errs;
	size_t len = 0;
	eh_err rc;

	if (eh_ctl_wants_help(argc, argv)) {
		usage(stdout);
		return EH_CTL_EXIT_OK;
	}
	if (argc == 3) {
		for (unsigned t = 0; t < DOC_COUNT; t++)
			if (strcmp(argv[1], doc_names[t]) == 0)
				type = (enum doc_type)t;
		if (type == DOC_COUNT) {
			fprintf(stderr, "check-config: unknown type \"%s\"\n", argv[1]);
			usage(stderr);
			return EH_CTL_EXIT_USAGE;
		}
		path = argv[2];
	} else if (argc == 2) {
		path = argv[1];
	} else {
		usage(stderr);
		return EH_CTL_EXIT_USAGE;
	}
	rc = eh_ctl_read(path, text, sizeof(text), &len);
	if (rc != EH_OK) {
		fprintf(stderr, "%s: cannot read: %s%s\n", path, eh_err_str(rc),
			rc == EH_ERR_TOOBIG ? " (larger than the daemon accepts)" : "");
		return EH_CTL_EXIT_USAGE;
	}
	if (type == DOC_COUNT) {
		type = guess_type(text, len);
		if (type == DOC_COUNT) {
			fprintf(stderr,
				"%s: cannot tell the document type from its keys; "
				"say it: check-config bootstrap|webhook|gateway FILE\n",
				path);
			return EH_CTL_EXIT_USAGE;
		}
	}

	eh_errs_init(&errs);
	switch (type) {
	case DOC_BOOTSTRAP:
		if (eh_bootstrap_parse(text, len, &boot, &errs) == EH_OK) {
			eh_bootstrap_load_secrets(&boot, &errs);
			eh_bootstrap_check_files(&boot, &errs);
		}
		break;
	case DOC_WEBHOOK:
		eh_config_check_webhook(text, len, true, &errs);
		break;
	default:
		eh_config_check_gateway(text, len, &errs);
		break;
	}
	for (unsigned i = 0; i < errs.n; i++)
		fprintf(stderr, "%s: %s\n", path, errs.msg[i]);
	if (errs.dropped)
		fprintf(stderr, "%s: ... and %u more problems\n", path, errs.dropped);
	if (eh_errs_count(&errs))
		return EH_CTL_EXIT_NO;
	printf("%s: ok (%s)\n", path, doc_names[type]);
	return EH_CTL_EXIT_OK;
}
