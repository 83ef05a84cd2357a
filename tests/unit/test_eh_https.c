/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_https.c - the response parser, the chunked decoder, Retry-After,
 * and the HTTP client over the scripted fake transport (short I/O,
 * EH_ERR_AGAIN, keep-alive, stale connections, timeouts, resets). */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_https.h"
#include "eh_loop.h"
#include "eh_transport_fake.h"

/* ==== Parser ==== */

EH_TEST(parse_status_and_headers)
{
	static const char r[] = "HTTP/1.1 405 Not Allowed\r\nContent-Length: 3\r\n"
				"X-A:  spaced value  \r\nRetry-After: 7\r\n\r\nabc";
	struct eh_http_response res;
	size_t used = 0;
	const char *v;
	size_t vl;

	REQUIRE(eh_http_parse_response(r, sizeof(r) - 1, &res, &used) == EH_OK);
	CHECK_EQ(res.status, 405);
	CHECK_EQ(res.minor_version, 1);
	CHECK_EQ(res.reason_len, 11);
	CHECK(memcmp(res.reason, "Not Allowed", 11) == 0);
	CHECK_EQ(res.nheaders, 3);
	CHECK_EQ(used, sizeof(r) - 1 - 3);
	REQUIRE(eh_http_header_find(&res, "x-a", &v, &vl));
	CHECK_EQ(vl, 12);
	CHECK(memcmp(v, "spaced value", 12) == 0);
	REQUIRE(eh_http_header_find(&res, "RETRY-AFTER", &v, &vl));
	CHECK(vl == 1 && v[0] == '7');
	CHECK(!eh_http_header_find(&res, "missing", &v, &vl));
}

EH_TEST(parse_every_prefix_is_incomplete)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 0\r\n\r\n";
	struct eh_http_response res;
	size_t used;

	for (size_t n = 0; n < sizeof(r) - 1; n++)
		CHECK_EQ(eh_http_parse_response(r, n, &res, &used), EH_ERR_AGAIN);
	CHECK_EQ(eh_http_parse_response(r, sizeof(r) - 1, &res, &used), EH_OK);
	CHECK_EQ(used, sizeof(r) - 1);
}

EH_TEST(parse_bare_lf_and_no_reason)
{
	static const char r[] = "HTTP/1.0 204\nA: b\n\n";
	struct eh_http_response res;
	size_t used;

	REQUIRE(eh_http_parse_response(r, sizeof(r) - 1, &res, &used) == EH_OK);
	CHECK_EQ(res.status, 204);
	CHECK_EQ(res.reason_len, 0);
	CHECK_EQ(res.minor_version, 0);
}

EH_TEST(parse_rejects_garbage)
{
	static const char *const bad[] = {
	    "HTTP/2 200 OK\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    "HTTP/1.1 099 x\r\n\r\n",
	    "HTTP/1.2 200 OK\r\n\r\n",
	    "http/1.1 200 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
	    "HTTP/1.1 200 OK\rX\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",
	    "SSH-2.0-OpenSSH\r\n\r\n",
	};
	struct eh_http_response res;
	size_t used;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eh_err rc = eh_http_parse_response(bad[i], strlen(bad[i]), &res, &used);
		if (rc != EH_ERR_PROTO)
			fprintf(stderr, "  case %zu: %s\n", i, eh_err_str(rc));
		CHECK_EQ(rc, EH_ERR_PROTO);
	}
}

EH_TEST(parse_header_count_is_bounded)
{
	static char r[4096];
	struct eh_http_response res;
	size_t n = 0, used;

	n += (size_t)snprintf(r + n, sizeof(r) - n, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < EH_HTTP_MAX_HEADERS + 1; i++)
		n += (size_t)snprintf(r + n, sizeof(r) - n, "H%d: v\r\n", i);
	n += (size_t)snprintf(r + n, sizeof(r) - n, "\r\n");
	CHECK_EQ(eh_http_parse_response(r, n, &res, &used), EH_ERR_TOOBIG);
}

static eh_err framing_of(const char *r, enum eh_http_framing *f, uint64_t *len, int *ka)
{
	struct eh_http_response res;
	size_t used;
	eh_err rc = eh_http_parse_response(r, strlen(r), &res, &used);

	if (rc != EH_OK)
		return rc;
	return eh_http_framing(&res, f, len, ka);
}

EH_TEST(framing_rules)
{
	enum eh_http_framing f;
	uint64_t len;
	int ka;

	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", &f, &len, &ka), EH_OK);
	CHECK(f == EH_HTTP_FRAME_LENGTH && len == 12 && ka == 1);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &f, &len, &ka),
		 EH_OK);
	CHECK(f == EH_HTTP_FRAME_CHUNKED && ka == 1);
	CHECK_EQ(framing_of("HTTP/1.1 204 No Content\r\n\r\n", &f, &len, &ka), EH_OK);
	CHECK(f == EH_HTTP_FRAME_NONE && ka == 1);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\n\r\n", &f, &len, &ka), EH_OK);
	CHECK(f == EH_HTTP_FRAME_CLOSE && ka == 0);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
			    "Content-Length: 0\r\n\r\n",
			    &f, &len, &ka),
		 EH_OK);
	CHECK_EQ(ka, 0);
	CHECK_EQ(framing_of("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &f, &len, &ka), EH_OK);
	CHECK_EQ(ka, 0);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &f,
			    &len, &ka),
		 EH_ERR_PROTO);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &f, &len, &ka),
		 EH_ERR_PROTO);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", &f,
			    &len, &ka),
		 EH_ERR_PROTO);
	CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &f, &len, &ka),
		 EH_ERR_PROTO);
}

/* ==== Chunked ==== */

EH_TEST(chunked_whole_and_bytewise)
{
	static const char body[] = "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
				   "0\r\nTrailer: x\r\n\r\nNEXT";
	struct eh_http_chunked c;
	size_t used = 0, total = 0;
	uint64_t data = 0;
	eh_err rc = EH_ERR_AGAIN;

	memset(&c, 0, sizeof(c));
	CHECK_EQ(eh_http_chunked_feed(&c, body, sizeof(body) - 1, &used, &data), EH_OK);
	CHECK_EQ(data, 23);
	CHECK_EQ(used, sizeof(body) - 1 - 4);

	memset(&c, 0, sizeof(c));
	data = 0;
	for (size_t i = 0; i < sizeof(body) - 1 && rc == EH_ERR_AGAIN; i++) {
		rc = eh_http_chunked_feed(&c, body + i, 1, &used, &data);
		total += used;
	}
	CHECK_EQ(rc, EH_OK);
	CHECK_EQ(data, 23);
	CHECK_EQ(total, sizeof(body) - 1 - 4);
}

EH_TEST(chunked_rejects_bad_input)
{
	static const char *const bad[] = {"x\r\n", "\r\n", "5\r\nabcdeX\r\n",
					  "1000000000000000\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct eh_http_chunked c;
		size_t used;
		uint64_t data = 0;
		memset(&c, 0, sizeof(c));
		CHECK_EQ(eh_http_chunked_feed(&c, bad[i], strlen(bad[i]), &used, &data),
			 EH_ERR_PROTO);
	}
}

/* ==== Retry-After ==== */

EH_TEST(retry_after_forms)
{
	uint64_t d = 0;

	CHECK_EQ(eh_http_retry_after(" 120 ", 5, 0, &d), EH_OK);
	CHECK_EQ(d, 120);
	/* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
	CHECK_EQ(eh_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111777 - 42, &d),
		 EH_OK);
	CHECK_EQ(d, 42);
	CHECK_EQ(eh_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111777 + 5, &d),
		 EH_OK);
	CHECK_EQ(d, 0);
	CHECK_EQ(eh_http_retry_after("soon", 4, 0, &d), EH_ERR_INVAL);
	CHECK_EQ(eh_http_retry_after("-5", 2, 0, &d), EH_ERR_INVAL);
	CHECK_EQ(eh_http_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 29, 0, &d), EH_ERR_INVAL);
}

/* ==== Client over the fake transport ==== */

struct rig {
	struct eh_clock clock;
	struct eh_clock_fake fc;
	struct eh_loop loop;
	struct eh_transport t;
	struct eh_transport_fake f;
	struct eh_https h;
	struct eh_https_req req;
	struct eh_https_result res;
	int done;
};

static struct eh_transport *rig_transport(void *ctx, unsigned idx,
					  const struct eh_transport_route *route)
{
	struct rig *r = ctx;
	(void)idx;
	(void)route;
	return &r->t;
}

static void rig_done(struct eh_https_req *req, const struct eh_https_result *res, void *arg)
{
	struct rig *r = arg;
	(void)req;
	r->res = *res;
	r->done++;
}

static struct rig R; /* large: the fake keeps 512 KiB of writes */

static void rig_init(bool plain_ok)
{
	struct eh_https_config hc;

	memset(&R, 0, sizeof(R));
	R.fc.mono_ms = 1000;
	R.fc.wall_ms = 1700000000000ull;
	eh_clock_fake_init(&R.clock, &R.fc);
	eh_loop_init(&R.loop, &R.clock);
	memset(&hc, 0, sizeof(hc));
	hc.loop = &R.loop;
	hc.transport = rig_transport;
	hc.transport_ctx = &R;
	hc.allow_plain_http = plain_ok;
	hc.idle_ms = 5000;
	eh_https_init(&R.h, &hc);
}

static const struct eh_https_hdr hdrs[] = {{"Content-Type", "application/json"}, {"X-Test", "1"}};

static eh_err rig_post(const char *body)
{
	memset(&R.req, 0, sizeof(R.req));
	R.req.tls = true;
	R.req.host = "hooks.example";
	R.req.port = 8443;
	R.req.path = "/ff?x=1";
	R.req.method = "POST";
	R.req.hdrs = hdrs;
	R.req.nhdrs = 2;
	R.req.body = body;
	R.req.body_len = strlen(body);
	R.req.timeout_ms = 10000;
	R.req.done = rig_done;
	R.req.arg = &R;
	R.done = 0;
	return eh_https_start(&R.h, &R.req);
}

static void rig_run(int iterations)
{
	for (int i = 0; i < iterations && !R.done; i++)
		eh_loop_run_once(&R.loop, 0);
}

static void rig_fini(void)
{
	eh_https_close_all(&R.h);
	eh_loop_deinit(&R.loop);
}

static const char ok_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

EH_TEST(client_post_exact_request)
{
	static const char want[] = "POST /ff?x=1 HTTP/1.1\r\nHost: hooks.example:8443\r\n"
				   "Content-Length: 7\r\nContent-Type: application/json\r\n"
				   "X-Test: 1\r\n\r\n[1,2,3]";
	rig_init(false);
	eh_transport_fake_add(&R.f, ok_resp, EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1,2,3]") == EH_OK);
	CHECK_EQ(R.done, 0); /* never completes inside start */
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_OK);
	CHECK_EQ(R.res.status, 200);
	CHECK_STR(R.res.reason, "OK");
	CHECK_EQ(R.f.tx_len, sizeof(want) - 1);
	CHECK(memcmp(R.f.tx, want, sizeof(want) - 1) == 0);
	rig_fini();
}

EH_TEST(client_short_io_and_again)
{
	static char body[3000];
	memset(body, 'x', sizeof(body) - 1);
	rig_init(false);
	eh_transport_fake_add(&R.f,
			      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "3\r\nabc\r\n0\r\n\r\n",
			      EH_OK);
	R.f.max_chunk = 1;
	R.f.again_every = 3;
	R.f.connect_again = 4;
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post(body) == EH_OK);
	rig_run(100000);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_OK);
	CHECK_EQ(R.res.status, 201);
	CHECK(R.f.tx_len > sizeof(body) - 1);
	CHECK(memcmp(R.f.tx + R.f.tx_len - (sizeof(body) - 1), body, sizeof(body) - 1) == 0);
	rig_fini();
}

EH_TEST(client_keep_alive_reuses_connection)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, ok_resp, EH_OK);
	eh_transport_fake_add(&R.f, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.reused, 0);
	CHECK_EQ(eh_https_open_conns(&R.h), 1);
	REQUIRE(rig_post("[2]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.status, 500);
	CHECK_STR(R.res.reason, "Oops");
	CHECK_EQ(R.res.reused, 1);
	CHECK_EQ(R.f.connects, 1);
	CHECK_EQ(eh_https_get_stats(&R.h)->reused, 1);
	rig_fini();
}

EH_TEST(client_connection_close_reconnects)
{
	rig_init(false);
	eh_transport_fake_add(
	    &R.f, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", EH_OK);
	eh_transport_fake_add(&R.f, ok_resp, EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	CHECK_EQ(eh_https_open_conns(&R.h), 0);
	REQUIRE(rig_post("[2]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.status, 200);
	CHECK_EQ(R.f.connects, 2);
	rig_fini();
}

EH_TEST(client_stale_keepalive_is_retried_once)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, ok_resp, EH_ERR_CLOSED); /* server closes after answering */
	eh_transport_fake_add(&R.f, ok_resp, EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(rig_post("[2]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_OK);
	CHECK_EQ(R.res.status, 200);
	CHECK_EQ(R.f.connects, 2);
	rig_fini();
}

EH_TEST(client_reset_mid_response_fails)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
			      EH_ERR_NET);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_ERR_NET);
	CHECK(strstr(R.res.error, "reset") != NULL);
	CHECK_EQ(R.f.connects, 1); /* a response had started: no silent resend */
	CHECK_EQ(eh_https_open_conns(&R.h), 0);
	rig_fini();
}

EH_TEST(client_stall_times_out_on_the_clock)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, "HTTP/1.1 200 OK\r\n", EH_ERR_AGAIN);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(200);
	CHECK_EQ(R.done, 0); /* the clock has not moved: no timeout */
	R.fc.mono_ms += 9999;
	rig_run(50);
	CHECK_EQ(R.done, 0);
	R.fc.mono_ms += 1;
	rig_run(50);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_ERR_TIMEOUT);
	CHECK_STR(R.res.error, "timeout after 10.000 seconds while waiting for the response");
	rig_fini();
}

EH_TEST(client_connect_failure)
{
	rig_init(false);
	R.f.connect_result = EH_ERR_NET;
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_ERR_NET);
	CHECK_STR(R.res.error, "fake connect failure");
	CHECK_EQ(R.f.tx_len, 0); /* nothing was written */
	rig_fini();
}

EH_TEST(client_oversized_head_is_refused)
{
	static char big[EH_HTTPS_RX_MAX + 200];
	size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	rig_init(false);
	eh_transport_fake_add(&R.f, big, EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(1000);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_ERR_PROTO);
	rig_fini();
}

EH_TEST(client_garbage_response)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, "<html>hello</html>\r\n\r\n", EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.err, EH_ERR_PROTO);
	rig_fini();
}

EH_TEST(client_interim_and_retry_after)
{
	rig_init(false);
	eh_transport_fake_add(&R.f,
			      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\n"
			      "Retry-After: 3\r\nContent-Length: 4\r\n\r\nslow",
			      EH_OK);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(R.res.status, 429);
	CHECK_STR(R.res.retry_after, "3");
	rig_fini();
}

EH_TEST(client_refuses_plain_and_injection)
{
	struct eh_https_hdr evil[] = {{"X-Evil", "a\r\nInjected: 1"}};

	rig_init(false);
	eh_transport_fake_init(&R.t, &R.f);
	memset(&R.req, 0, sizeof(R.req));
	R.req.tls = false;
	R.req.host = "h";
	R.req.port = 80;
	R.req.path = "/";
	R.req.method = "POST";
	R.req.done = rig_done;
	CHECK_EQ(eh_https_start(&R.h, &R.req), EH_ERR_PERM);
	R.req.tls = true;
	R.req.hdrs = evil;
	R.req.nhdrs = 1;
	CHECK_EQ(eh_https_start(&R.h, &R.req), EH_ERR_INVAL);
	R.req.nhdrs = 0;
	R.req.path = "/a b";
	CHECK_EQ(eh_https_start(&R.h, &R.req), EH_ERR_INVAL);
	CHECK_EQ(R.f.connects, 0);
	rig_fini();
}

EH_TEST(client_cancel_and_idle_close)
{
	rig_init(false);
	eh_transport_fake_add(&R.f, ok_resp, EH_OK);
	eh_transport_fake_add(&R.f, "HTTP/1.1 200 OK\r\n", EH_ERR_AGAIN);
	eh_transport_fake_init(&R.t, &R.f);
	REQUIRE(rig_post("[1]") == EH_OK);
	rig_run(100);
	REQUIRE(R.done == 1);
	CHECK_EQ(eh_https_open_conns(&R.h), 1);
	R.fc.mono_ms += 5000; /* idle_ms */
	eh_loop_run_once(&R.loop, 0);
	CHECK_EQ(eh_https_open_conns(&R.h), 0);
	REQUIRE(rig_post("[2]") == EH_OK);
	rig_run(50);
	CHECK_EQ(R.done, 0);
	eh_https_cancel(&R.h, &R.req);
	CHECK(R.req.conn == NULL);
	CHECK_EQ(eh_https_open_conns(&R.h), 0);
	R.fc.mono_ms += 20000;
	rig_run(50);
	CHECK_EQ(R.done, 0); /* an abandoned request never reports */
	rig_fini();
}

EH_TEST(client_all_connections_busy)
{
	struct eh_https_req more[EH_HTTPS_MAX_CONNS];

	rig_init(false);
	eh_transport_fake_add(&R.f, "HTTP/1.1 200 OK\r\n", EH_ERR_AGAIN);
	eh_transport_fake_init(&R.t, &R.f);
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS; i++) {
		memset(&more[i], 0, sizeof(more[i]));
		more[i].tls = true;
		more[i].host = "h";
		more[i].port = 443;
		more[i].path = "/";
		more[i].method = "POST";
		more[i].done = rig_done;
		more[i].arg = &R;
		CHECK_EQ(eh_https_start(&R.h, &more[i]), EH_OK);
	}
	CHECK_EQ(rig_post("[1]"), EH_ERR_BUSY);
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS; i++)
		eh_https_cancel(&R.h, &more[i]);
	rig_fini();
}
