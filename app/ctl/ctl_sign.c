/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_sign.c - `edgehookctl sign --key-file K --topic T FILE`: print the
 * "hmac-sha256" user property that signed mode wants on a config message
 * (lowercase hex of HMAC-SHA256(key, topic + "\0" + file bytes)). The key
 * file is read as the daemon reads config_hmac_key_file. */
#include "eh_ctl.h"

#include <stdio.h>
#include <string.h>

#include "eh_bootstrap.h"
#include "eh_config.h"
#include "eh_file.h"

/* A command-line tool, run once: its buffers are static, not on the stack. */
static char payload[EH_MAX_MSG_BYTES + 1];

static int usage(FILE *out)
{
	fprintf(out, "usage: edgehookctl sign --key-file K --topic T FILE\n"
		     "  prints the hmac-sha256 user property for publishing FILE on topic T\n"
		     "  (an empty FILE signs an empty payload; - reads standard input)\n"
		     "  exit 0: printed, 2: bad usage or a file that cannot be read\n");
	return out == stdout ? EH_CTL_EXIT_OK : EH_CTL_EXIT_USAGE;
}

int eh_ctl_sign(int argc, char **argv)
{
	const char *key_file = NULL, *topic = NULL, *file = NULL;
	uint8_t key[EH_BOOT_SECRET_MAX];
	char hex[EH_CONFIG_SIG_HEX];
	size_t klen = 0, len = 0;
	eh_err rc;

	if (eh_ctl_wants_help(argc, argv))
		return usage(stdout);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc)
			key_file = argv[++i];
		else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
			topic = argv[++i];
		else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && file == NULL)
			file = argv[i];
		else
			return usage(stderr);
	}
	if (key_file == NULL || topic == NULL || file == NULL || topic[0] == '\0')
		return usage(stderr);
	rc = eh_bootstrap_read_secret(key_file, key, sizeof(key), &klen);
	if (rc != EH_OK) {
		fprintf(stderr, "%s: cannot read the key: %s\n", key_file, eh_err_str(rc));
		return EH_CTL_EXIT_USAGE;
	}
	if (klen < EH_BOOT_HMAC_MIN) {
		fprintf(stderr, "%s: the key is %zu bytes; the daemon needs at least %d\n",
			key_file, klen, EH_BOOT_HMAC_MIN);
		memset(key, 0, sizeof(key));
		return EH_CTL_EXIT_USAGE;
	}
	rc = eh_ctl_read(file, payload, sizeof(payload), &len);
	if (rc != EH_OK) {
		fprintf(stderr, "%s: cannot read: %s%s\n", file, eh_err_str(rc),
			rc == EH_ERR_TOOBIG ? " (larger than the daemon accepts)" : "");
		memset(key, 0, sizeof(key));
		return EH_CTL_EXIT_USAGE;
	}
	rc = eh_config_sign(key, klen, topic, (const uint8_t *)payload, len, hex);
	memset(key, 0, sizeof(key));
	if (rc != EH_OK) {
		fprintf(stderr, "cannot sign: %s\n", eh_err_str(rc));
		return EH_CTL_EXIT_USAGE;
	}
	printf("%s\n", hex);
	return EH_CTL_EXIT_OK;
}
