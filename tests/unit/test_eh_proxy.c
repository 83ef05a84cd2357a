/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_proxy.c - the HTTP CONNECT tunnel over the fake transport: the
 * request it writes, the proxy's answers (accepted, refused, closed,
 * malformed, oversized), short I/O and EH_ERR_AGAIN at every step, tunnel
 * bytes that arrive with the answer, and the answer parser at buffer ends. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_transport.h"
#include "eh_transport_fake.h"

#include <stdlib.h>
#include <string.h>

static struct eh_transport inner, px;
static struct eh_transport_fake fake;
static struct eh_transport_proxy pst;

static void rig_again(const char *answer, eh_err after, unsigned connect_again)
{
	memset(&fake, 0, sizeof(fake));
	fake.connect_again = connect_again;
	eh_transport_fake_init(&inner, &fake);
	if (answer != NULL)
		eh_transport_fake_add(&fake, answer, after);
	eh_transport_proxy_init(&px, &pst, &inner);
	eh_transport_proxy_set(&px, "proxy.local", 3128);
}

static void rig(const char *answer, eh_err after)
{
	rig_again(answer, after, 0);
}

/* connect until it stops asking to be called again (at most n times). */
static eh_err connect_all(const char *host, uint16_t port, unsigned n, unsigned *agains)
{
	eh_err rc = EH_ERR_AGAIN;

	*agains = 0;
	while (n-- > 0 && (rc = eh_transport_connect(&px, host, port)) == EH_ERR_AGAIN)
		(*agains)++;
	return rc;
}

EH_TEST(tunnel_opens_on_200_and_writes_one_connect)
{
	static const char want[] = "CONNECT hooks.example:443 HTTP/1.1\r\n"
				   "Host: hooks.example:443\r\n\r\n";
	unsigned agains = 0;
	size_t n = 0;

	rig("HTTP/1.1 200 Connection established\r\nProxy-agent: test\r\n\r\n", EH_OK);
	CHECK_EQ(connect_all("hooks.example", 443, 10, &agains), EH_OK);
	CHECK_EQ(fake.tx_len, sizeof(want) - 1);
	CHECK(memcmp(fake.tx, want, sizeof(want) - 1) == 0);
	CHECK(eh_transport_stage(&px) == NULL);
	/* the tunnel carries the caller's bytes unchanged */
	CHECK_EQ(eh_transport_send(&px, "hello", 5, &n), EH_OK);
	CHECK_EQ(n, 5);
	CHECK(memcmp(fake.tx + sizeof(want) - 1, "hello", 5) == 0);
	CHECK_STR(px.name, "proxy");
	eh_transport_close(&px);
	CHECK_EQ(fake.closes, 1);
}

EH_TEST(ipv6_target_is_bracketed)
{
	static const char want[] = "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n";
	unsigned agains = 0;

	rig("HTTP/1.0 200 OK\r\n\r\n", EH_OK);
	CHECK_EQ(connect_all("::1", 8443, 10, &agains), EH_OK);
	CHECK_EQ(fake.tx_len, sizeof(want) - 1);
	CHECK(memcmp(fake.tx, want, sizeof(want) - 1) == 0);
}

EH_TEST(short_io_and_again_at_every_step)
{
	unsigned agains = 0;

	for (size_t chunk = 1; chunk <= 7; chunk += 3) {
		rig_again("HTTP/1.1 200 Connection established\r\n\r\n", EH_OK, 2);
		fake.max_chunk = chunk;
		fake.again_every = 2;
		CHECK_EQ(connect_all("a.example", 443, 1000, &agains), EH_OK);
		CHECK(agains >= 2);
		CHECK_EQ(fake.connects, 1);
	}
}

EH_TEST(stage_names_the_proxy_until_the_answer)
{
	unsigned agains = 0;

	rig_again("HTTP/1.1 200 OK\r\n\r\n", EH_OK, 1);
	CHECK(eh_transport_stage(&px) == NULL);
	CHECK_EQ(eh_transport_connect(&px, "a.example", 443), EH_ERR_AGAIN);
	CHECK_STR(eh_transport_stage(&px), "proxy");
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_OK);
	CHECK(eh_transport_stage(&px) == NULL);
}

EH_TEST(refusal_is_a_failure_with_the_proxy_status)
{
	unsigned agains = 0;

	rig("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!", EH_OK);
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_NET);
	CHECK_STR(eh_transport_error(&px), "proxy: 403 Forbidden");
	rig("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", EH_OK);
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_NET);
	CHECK_STR(eh_transport_error(&px), "proxy: 407 Proxy Authentication Required");
	rig("HTTP/1.1 502\r\n\r\n", EH_OK); /* no reason phrase */
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_NET);
	CHECK_STR(eh_transport_error(&px), "proxy: 502");
}

EH_TEST(closed_refused_and_malformed)
{
	unsigned agains = 0;

	rig("HTTP/1.1 200 Conn", EH_ERR_CLOSED); /* half an answer, then the proxy closes */
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_NET);
	CHECK_STR(eh_transport_error(&px), "proxy: closed the connection");
	rig(NULL, EH_OK);
	fake.connect_result = EH_ERR_NET;
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_NET);
	CHECK_STR(eh_transport_error(&px), "proxy: cannot connect to proxy.local:3128");
	rig("SSH-2.0-OpenSSH_9.2\r\n", EH_OK);
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_PROTO);
	CHECK_STR(eh_transport_error(&px), "proxy: malformed answer to CONNECT");
}

EH_TEST(answer_head_is_bounded)
{
	static char big[EH_PROXY_HEAD_MAX + 64];
	unsigned agains = 0;
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	rig(big, EH_ERR_AGAIN); /* the proxy keeps sending header bytes */
	CHECK_EQ(connect_all("a.example", 443, 100, &agains), EH_ERR_PROTO);
	CHECK(strstr(eh_transport_error(&px), "answer head over") != NULL);
}

EH_TEST(bytes_after_the_answer_belong_to_the_tunnel)
{
	unsigned agains = 0;
	char buf[8];
	size_t n = 0;

	rig("HTTP/1.1 200 OK\r\n\r\nEARLY", EH_OK);
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_OK);
	CHECK_EQ(eh_transport_recv(&px, buf, 3, &n), EH_OK);
	CHECK_EQ(n, 3);
	CHECK(memcmp(buf, "EAR", 3) == 0);
	CHECK_EQ(eh_transport_recv(&px, buf, sizeof(buf), &n), EH_OK);
	CHECK_EQ(n, 2);
	CHECK(memcmp(buf, "LY", 2) == 0);
}

EH_TEST(no_proxy_configured_is_refused)
{
	unsigned agains = 0;

	memset(&fake, 0, sizeof(fake));
	eh_transport_fake_init(&inner, &fake);
	eh_transport_proxy_init(&px, &pst, &inner);
	CHECK_EQ(connect_all("a.example", 443, 10, &agains), EH_ERR_INVAL);
	CHECK_EQ(fake.connects, 0);
}

/* ==== The parser alone, at every length ==== */

EH_TEST(parse_every_prefix_is_incomplete_then_whole)
{
	static const char a[] = "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n";
	int status = 0;
	const char *reason = NULL;
	size_t rl = 0, used = 0;

	for (size_t len = 0; len < sizeof(a) - 1; len++) {
		char *b = malloc(len ? len : 1); /* exact size: ASan sees overreads */
		REQUIRE(b != NULL);
		memcpy(b, a, len);
		CHECK_EQ(eh_transport_proxy_parse(b, len, &status, &reason, &rl, &used),
			 EH_ERR_AGAIN);
		free(b);
	}
	CHECK_EQ(eh_transport_proxy_parse(a, sizeof(a) - 1, &status, &reason, &rl, &used), EH_OK);
	CHECK_EQ(status, 200);
	CHECK_EQ(rl, strlen("Connection established"));
	CHECK(memcmp(reason, "Connection established", rl) == 0);
	CHECK_EQ(used, sizeof(a) - 1);
}

EH_TEST(parse_bare_lf_and_rejects)
{
	int status = 0;
	const char *reason = NULL;
	size_t rl = 0, used = 0;

	CHECK_EQ(eh_transport_proxy_parse("HTTP/1.0 200 OK\n\n", 17, &status, &reason, &rl, &used),
		 EH_OK);
	CHECK_EQ(used, 17);
	CHECK_EQ(eh_transport_proxy_parse("HTTP/2 200\r\n\r\n", 14, &status, &reason, &rl, &used),
		 EH_ERR_PROTO);
	CHECK_EQ(
	    eh_transport_proxy_parse("HTTP/1.1 20x OK\r\n\r\n", 19, &status, &reason, &rl, &used),
	    EH_ERR_PROTO);
	CHECK_EQ(
	    eh_transport_proxy_parse("HTTP/1.1 099 X\r\n\r\n", 18, &status, &reason, &rl, &used),
	    EH_ERR_PROTO);
	CHECK_EQ(
	    eh_transport_proxy_parse("HTTP/1.1 200 OK\rX\n\r\n", 20, &status, &reason, &rl, &used),
	    EH_ERR_PROTO);
	CHECK_EQ(eh_transport_proxy_parse("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n", 25, &status, &reason,
					  &rl, &used),
		 EH_ERR_PROTO);
}
