/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config.c - whole config messages from any bytes: the first byte
 * picks the mode (unsigned, or signed with a right, wrong or missing
 * "hmac-sha256"), the bytes up to the first NUL are the topic after the
 * prefix, the rest is the payload. eh_config_handle never crashes, always
 * answers (a refusal lists at least one error and changes nothing), and
 * an acceptance says so; match and wants_type run over whatever the table
 * holds. (That answers never quote secrets or header values is checked by
 * test_eh_config: unknown keys are quoted, so bytes alone cannot tell.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_config.h"
#include "eh_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct eh_config C[2];
static struct eh_config_result R;
static struct eh_note N;
static bool ready;
static char vpath[64];
static const uint8_t key[] = "fuzzing-key-0123456789";

static void setup(void)
{
	struct eh_config_init ci;

	eh_log_level_now = -1; /* quiet: refusals are the common case */
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge";
	ci.allow_plain_http = true;
	if (eh_config_init(&C[0], &ci) != EH_OK)
		abort();
	snprintf(vpath, sizeof(vpath), "/tmp/fuzz_config.%d.versions", (int)getpid());
	unlink(vpath);
	ci.hmac_key = key;
	ci.hmac_key_len = sizeof(key) - 1;
	ci.versions_path = vpath;
	if (eh_config_init(&C[1], &ci) != EH_OK)
		abort();
	static const char ev[] = "{\"id\":\"1\",\"event_type\":\"event_created\",\"camera\":3}";
	size_t n;
	if (eh_note_parse_message(ev, strlen(ev), EH_TYPE_EVENTS, &N, 1, &n, NULL) != EH_OK)
		abort();
	ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char topic[300];
	static struct eh_webhook before[EH_MAX_WEBHOOKS];
	char sig[EH_CONFIG_SIG_HEX];
	const uint8_t *nul;
	size_t tn;

	if (!ready)
		setup();
	eh_log_level_now = -1; /* a gateway message may have raised it */
	if (size < 1)
		return 0;
	unsigned mode = data[0] & 3;
	data++;
	size--;
	nul = memchr(data, 0, size);
	tn = nul ? (size_t)(nul - data) : 0;
	if (tn > 200)
		tn = 200;
	memcpy(topic, "edge/", 5);
	memcpy(topic + 5, data, tn);
	topic[5 + tn] = '\0';
	const uint8_t *payload = data;
	size_t plen = size;
	if (nul) {
		payload = nul + 1;
		plen = size - (size_t)(nul - data) - 1;
	}
	struct eh_config *c = &C[mode == 0 ? 0 : 1];
	const char *prop = NULL;
	if (mode == 1 || mode == 2) {
		eh_config_sign(key, sizeof(key) - 1, topic, payload, plen, sig);
		if (mode == 2)
			sig[0] = sig[0] == 'a' ? 'b' : 'a';
		prop = sig;
	}
	memcpy(before, c->webhooks, sizeof(before));
	uint64_t refused = c->refused;
	eh_err rc = eh_config_handle(c, topic, payload, plen, prop, &R);
	if (rc != EH_OK) {
		if (R.accepted || R.nchanges)
			abort();
		if (memcmp(before, c->webhooks, sizeof(before)) != 0)
			abort();
		if (!R.bad_id && c->refused != refused + 1)
			abort();
		if (R.status_topic[0] && strstr(R.status_body, "\"errors\": [\"") == NULL)
			abort();
	} else if (!R.accepted) {
		abort();
	}
	(void)eh_config_match(c, &N);
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			(void)eh_config_wants_type(c, s, t);
	return 0;
}
