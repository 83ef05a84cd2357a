/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_coap_serve.c - the CoAP endpoint in a real-clock eh_loop with fake daemon
 * handlers, for tests/integration/test_coap.py, which drives it with coap-client.
 *   test_eh_coap_serve PORT DIR [MAX_BODY [STATUS_PAD]]
 * Prints "READY PORT" once serving; stops on SIGTERM and prints its counters. The body of a
 * POST picks the answer: containing "force":"full" -> queue full, "force":"toobig" -> too
 * big, not starting with '{' and ending with '}' -> bad JSON; otherwise it is accepted,
 * written to DIR/ingest-NNN-TYPE.bin and the /status figure goes up (and observers hear). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eh_coap.h"
#include "eh_loop.h"
#include "eh_time.h"

struct serve {
	struct eh_loop loop;
	struct eh_coap coap;
	const char *dir;
	unsigned figure; /* accepted notifications so far */
	unsigned calls;	 /* ingest calls */
	size_t pad;	 /* extra /status bytes, to force Block2 */
};

static struct serve sv;

static size_t status_json(void *ctx, char *buf, size_t cap)
{
	struct serve *s = ctx;
	int n = snprintf(buf, cap, "{\"accepted\":%u,\"pad\":\"", s->figure);
	size_t len = (size_t)n;

	for (size_t i = 0; i < s->pad && len + 3 < cap; i++)
		buf[len++] = (char)('a' + i % 26);
	buf[len++] = '"';
	buf[len++] = '}';
	return len;
}

static eh_err webhook_json(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len)
{
	(void)ctx;
	if (id != 3)
		return EH_ERR_NOENT;
	*len = (size_t)snprintf(buf, cap, "{\"id\":3,\"state\":\"delivering\"}");
	return EH_OK;
}

static eh_err ingest(void *ctx, unsigned type, const uint8_t *p, size_t len, char *diag,
		     size_t diag_cap)
{
	struct serve *s = ctx;
	char path[512];
	FILE *out;

	s->calls++;
	if (memmem(p, len, "\"force\":\"full\"", 14) != NULL)
		return EH_ERR_NOSPC;
	if (memmem(p, len, "\"force\":\"toobig\"", 16) != NULL)
		return EH_ERR_TOOBIG;
	if (len == 0 || p[0] != '{' || p[len - 1] != '}') {
		snprintf(diag, diag_cap, "payload: expected a JSON object at byte 0");
		return EH_ERR_PROTO;
	}
	snprintf(path, sizeof(path), "%s/ingest-%03u-%u.bin", s->dir, s->calls, type);
	if ((out = fopen(path, "wb")) == NULL)
		return EH_ERR_IO;
	fwrite(p, 1, len, out);
	fclose(out);
	s->figure++;
	eh_coap_status_changed(&s->coap);
	return EH_OK;
}

static void on_term(int sig)
{
	(void)sig;
	eh_loop_stop(&sv.loop);
}

int main(int argc, char **argv)
{
	struct eh_coap_handlers h = {status_json, webhook_json, ingest, &sv};
	struct eh_coap_config cfg = {.bind = "127.0.0.1"};
	struct sigaction sa;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PORT DIR [MAX_BODY [STATUS_PAD]]\n", argv[0]);
		return 2;
	}
	cfg.port = (uint16_t)atoi(argv[1]);
	cfg.max_body = argc > 3 ? (size_t)atol(argv[3]) : 0;
	sv.dir = argv[2];
	sv.pad = argc > 4 ? (size_t)atol(argv[4]) : 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (eh_loop_init(&sv.loop, &eh_clock_system) != EH_OK)
		return 1;
	if (eh_coap_open(&sv.coap, &cfg, &sv.loop, &h) != EH_OK)
		return 1;
	printf("READY %u\n", (unsigned)cfg.port);
	fflush(stdout);
	eh_loop_run(&sv.loop);
	const struct eh_coap_stats *st = eh_coap_stats(&sv.coap);
	printf("STATS requests=%llu ingested=%llu rejected=%llu notifies=%llu blocks=%llu "
	       "wakeups=%llu\n",
	       (unsigned long long)st->requests, (unsigned long long)st->ingested,
	       (unsigned long long)st->rejected, (unsigned long long)st->notifies,
	       (unsigned long long)st->blocks, (unsigned long long)st->wakeups);
	fflush(stdout);
	eh_coap_close(&sv.coap);
	eh_loop_deinit(&sv.loop);
	return 0;
}
