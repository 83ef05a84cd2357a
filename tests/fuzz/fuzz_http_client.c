/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_http_client.c - the HTTP client's state machine against a hostile
 * server: the input (after two control bytes: short-I/O size and EH_ERR_AGAIN
 * rate) is what the scripted peer answers to one POST. Whatever it says, the
 * request must end exactly once (at the latest when its deadline passes on
 * the hand-moved clock), with a status in range when it succeeded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_https.h"
#include "eh_transport_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct eh_transport_fake fk;
static struct eh_transport tr;
static struct eh_https h;
static struct eh_loop loop;
static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_https_req req;
static struct eh_https_result res;
static unsigned done;
static char script[8192];

static struct eh_transport *factory(void *ctx, unsigned idx, const struct eh_transport_route *route)
{
	(void)ctx;
	(void)idx;
	(void)route;
	return &tr;
}

static void on_done(struct eh_https_req *r, const struct eh_https_result *x, void *arg)
{
	(void)r;
	(void)arg;
	res = *x;
	done++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_https_config hc;
	static const struct eh_https_hdr hdrs[] = {{"Content-Type", "application/json"}};

	if (size < 2 || size - 2 > 2048)
		return 0;
	memset(&fk, 0, sizeof(fk));
	fk.max_chunk = data[0] & 0x7f;
	fk.again_every = data[1] & 7;
	memcpy(script, data + 2, size - 2);
	fk.seg[0].data = script;
	fk.seg[0].len = size - 2;
	fk.seg[0].after = (data[0] & 0x80) ? EH_ERR_CLOSED : EH_ERR_AGAIN;
	fk.nseg = size > 2 ? 1 : 0;
	eh_transport_fake_init(&tr, &fk);
	fclk.mono_ms = 1000;
	fclk.wall_ms = 0;
	eh_clock_fake_init(&clk, &fclk);
	if (eh_loop_init(&loop, &clk) != EH_OK)
		return 0;
	memset(&hc, 0, sizeof(hc));
	hc.loop = &loop;
	hc.transport = factory;
	eh_https_init(&h, &hc);
	memset(&req, 0, sizeof(req));
	req.tls = true;
	req.host = "h.example";
	req.port = 443;
	req.path = "/";
	req.method = "POST";
	req.hdrs = hdrs;
	req.nhdrs = 1;
	req.body = "[1]";
	req.body_len = 3;
	req.timeout_ms = 5000;
	req.done = on_done;
	done = 0;
	if (eh_https_start(&h, &req) != EH_OK)
		abort();
	for (int i = 0; i < 3000 && done == 0; i++)
		eh_loop_run_once(&loop, 0);
	fclk.mono_ms += 5000; /* the deadline ends anything still open */
	for (int i = 0; i < 10; i++)
		eh_loop_run_once(&loop, 0);
	if (done != 1)
		abort();
	if (res.err == EH_OK && (res.status < 100 || res.status > 999))
		abort();
	if (req.conn != NULL || eh_https_open_conns(&h) > 1)
		abort();
	eh_https_close_all(&h);
	eh_loop_deinit(&loop);
	return 0;
}
