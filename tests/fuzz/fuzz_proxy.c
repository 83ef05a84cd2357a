/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_proxy.c - the proxy's answer to CONNECT on hostile bytes: the parser
 * alone on an exact-size copy (ASan sees any read past the end), then the
 * whole tunnel over the fake transport with the input as the proxy's
 * answer, cut into chunks of the first byte's size. Whatever the proxy
 * says, connect ends (open, or a failure with a text) within a bounded
 * number of calls, and a reason view stays inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_transport.h"
#include "eh_transport_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct eh_transport inner, px;
static struct eh_transport_fake fake;
static struct eh_transport_proxy pst;
static char script[EH_PROXY_HEAD_MAX * 2 + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason = NULL;
	size_t rl = 0, used = 0, n;
	int status = 0;
	eh_err rc;
	char *buf = malloc(size ? size : 1); /* test harness only: exact-size copy */

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	rc = eh_transport_proxy_parse(buf, size, &status, &reason, &rl, &used);
	if (rc == EH_OK && (used > size || status < 100 || status > 999 || reason < buf ||
			    reason + rl > buf + size))
		abort();
	free(buf);

	if (size < 1)
		return 0;
	n = size - 1 < sizeof(script) - 1 ? size - 1 : sizeof(script) - 1;
	memcpy(script, data + 1, n);
	script[n] = '\0';
	memset(&fake, 0, sizeof(fake));
	eh_transport_fake_init(&inner, &fake);
	fake.seg[0].data = script;
	fake.seg[0].len = n ? n : 1;
	fake.seg[0].after = (data[0] & 0x80) ? EH_ERR_CLOSED : EH_ERR_AGAIN;
	fake.nseg = 1;
	fake.max_chunk = (size_t)(data[0] & 0x3f) + 1;
	eh_transport_proxy_init(&px, &pst, &inner);
	eh_transport_proxy_set(&px, "proxy.test", 3128);
	rc = EH_ERR_AGAIN;
	for (unsigned i = 0; i < 2 * EH_PROXY_HEAD_MAX + 16 && rc == EH_ERR_AGAIN; i++)
		rc = eh_transport_connect(&px, "hook.test", 443);
	/* A proxy that stops talking leaves connect waiting: the caller's
	 * deadline ends it. Anything else is a decision. */
	if (rc != EH_OK && rc != EH_ERR_AGAIN && eh_transport_error(&px)[0] == '\0')
		abort();
	eh_transport_close(&px);
	return 0;
}
