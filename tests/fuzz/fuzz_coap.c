/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_coap.c - every input is one UDP datagram sent to a live eh_coap endpoint on
 * 127.0.0.1: libcoap's parser, our dispatch (status, webhooks/<id>, ingest with its code
 * mapping, unknown paths, block-wise and Observe state) and the answers all run for real.
 * The endpoint stays open across inputs, as it would in the daemon. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eh_coap.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct eh_loop loop;
static struct eh_coap coap;
static int client = -1;
static struct sockaddr_in server;
static unsigned figure;

static size_t status_json(void *ctx, char *buf, size_t cap)
{
	(void)ctx;
	return (size_t)snprintf(buf, cap, "{\"figure\":%u}", figure);
}

static eh_err webhook_json(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len)
{
	(void)ctx;
	if (id % 3 == 0)
		return EH_ERR_NOENT;
	if (id % 3 == 1)
		return EH_ERR_IO;
	*len = (size_t)snprintf(buf, cap, "{\"id\":%u}", (unsigned)id);
	return EH_OK;
}

/* The answer depends on the body, so the fuzzer reaches every mapping. */
static eh_err ingest(void *ctx, unsigned type, const uint8_t *p, size_t len, char *diag,
		     size_t diag_cap)
{
	uint8_t sum = 0;

	(void)ctx;
	if (type > 2)
		abort(); /* the driver must only pass the three known types */
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	switch (sum % 5) {
	case 0:
		figure++;
		eh_coap_status_changed(&coap);
		return EH_OK;
	case 1:
		/* A diag filled to the last byte without a NUL: the driver must cope. */
		memset(diag, 'd', diag_cap);
		return EH_ERR_PROTO;
	case 2:
		return EH_ERR_NOSPC;
	case 3:
		return EH_ERR_TOOBIG;
	default:
		return EH_ERR_CORRUPT;
	}
}

static int setup(void)
{
	struct eh_coap_handlers h = {status_json, webhook_json, ingest, NULL};
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .max_body = 4096};

	eh_log_set_level(EH_LOG_LEVEL_ERR);
	if (eh_loop_init(&loop, &eh_clock_system) != EH_OK)
		return -1;
	for (unsigned p = 21000 + (unsigned)getpid() % 9000, n = 0; n < 200; n++, p++) {
		cfg.port = (uint16_t)p;
		if (eh_coap_open(&coap, &cfg, &loop, &h) == EH_OK)
			break;
	}
	if (!eh_coap_is_open(&coap))
		return -1;
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_port = htons(cfg.port);
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return client < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rx[2048];

	if (client < 0 && setup() != 0)
		abort();
	if (size > 1400)
		size = 1400; /* one datagram on a typical link */
	if (sendto(client, data, size, 0, (struct sockaddr *)&server, sizeof(server)) < 0)
		return 0;
	/* Loopback delivery is synchronous: the first turn sees the datagram; a second one
	 * runs anything the first scheduled for "now" (notifications). */
	eh_loop_run_once(&loop, 0);
	eh_loop_run_once(&loop, 0);
	while (recv(client, rx, sizeof(rx), 0) > 0)
		;
	return 0;
}
