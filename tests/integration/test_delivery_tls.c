/* SPDX-License-Identifier: Apache-2.0 */
/* test_delivery_tls.c - delivery against a real TLS server on 127.0.0.1
 * (tests/integration/tls_receiver.py, or openssl s_server for the TLS
 * floor; certificates made by the openssl CLI at test time), directly or
 * through a real tinyproxy started by the test. The real mbedTLS transport and sockets, the loop on
 * a hand-moved clock: retries happen when the test moves time, never by sleeping. The receiver's
 * record proves what reached it. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_delivery.h"
#include "eh_tls_pool.h"
#include "eh_log.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#ifndef EH_RECEIVER
#error "EH_RECEIVER must name tls_receiver.py"
#endif

static char certdir[256];
static char cafile[300];
static char recfile[300];

/* ==== The receiver process ==== */

static pid_t rx_pid = -1;
static uint16_t rx_port;
static const char *rx_extra; /* one more receiver option for the next rx_start */

static void rx_stop(void)
{
	if (rx_pid > 0) {
		kill(rx_pid, SIGTERM);
		waitpid(rx_pid, NULL, 0);
	}
	rx_pid = -1;
}

/* Start the receiver with extra args; 0 on success (port known). */
static int rx_start(const char *cert, const char *script, const char *secret)
{
	int pfd[2];
	posix_spawn_file_actions_t fa;
	char *argv[16];
	int a = 0;
	char line[64];
	size_t n = 0;

	rx_stop(); /* one left by a test that stopped at a REQUIRE */
	snprintf(recfile, sizeof(recfile), "%s/record.jsonl", certdir);
	unlink(recfile);
	if (pipe(pfd) != 0)
		return -1;
	argv[a++] = "/usr/bin/python3";
	argv[a++] = EH_RECEIVER;
	argv[a++] = "--certdir";
	argv[a++] = certdir;
	if (strcmp(cert, "plain") == 0) {
		argv[a++] = "--plain";
	} else {
		argv[a++] = "--cert";
		argv[a++] = (char *)cert;
	}
	argv[a++] = "--record";
	argv[a++] = recfile;
	argv[a++] = "--script";
	argv[a++] = (char *)script;
	if (secret != NULL) {
		argv[a++] = "--secret";
		argv[a++] = (char *)secret;
	}
	if (rx_extra != NULL)
		argv[a++] = (char *)rx_extra;
	rx_extra = NULL;
	argv[a] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	if (posix_spawn(&rx_pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	/* "PORT <n>\n", within 20 s (certificate generation on first use) */
	while (n < sizeof(line) - 1) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		if (poll(&p, 1, 20000) <= 0)
			break;
		if (read(pfd[0], line + n, 1) != 1)
			break;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	close(pfd[0]);
	if (sscanf(line, "PORT %hu", &rx_port) != 1) {
		rx_stop();
		return -1;
	}
	return 0;
}

static size_t rec_read(char *buf, size_t cap)
{
	FILE *f = fopen(recfile, "rb");
	size_t n;

	if (f == NULL) {
		buf[0] = '\0';
		return 0;
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static unsigned rec_count(const char *needle)
{
	static char buf[1 << 20];
	unsigned c = 0;

	rec_read(buf, sizeof(buf));
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

/* ==== Fake queue (one worker: slot 0, events) ==== */

#define MAXREC 128
static struct {
	uint64_t seq[MAXREC];
	char raw[MAXREC][128];
	size_t n, head;
} Q;

static void fq_add(const char *raw)
{
	Q.seq[Q.n] = 1 + Q.n;
	snprintf(Q.raw[Q.n], sizeof(Q.raw[0]), "%s", raw);
	Q.n++;
}

static eh_err fq_peek(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		      size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (slot != 0 || type != 0)
		return EH_OK;
	for (size_t i = Q.head; i < Q.n && *n < max; i++) {
		items[*n].seq = Q.seq[i];
		items[*n].raw = (const uint8_t *)Q.raw[i];
		items[*n].len = strlen(Q.raw[i]);
		(*n)++;
	}
	return EH_OK;
}

static eh_err fq_ack(void *ctx, unsigned slot, unsigned type, uint64_t upto)
{
	(void)ctx;
	(void)slot;
	(void)type;
	while (Q.head < Q.n && Q.seq[Q.head] <= upto)
		Q.head++;
	return EH_OK;
}

static uint64_t fq_lag(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	return (slot == 0 && type == 0) ? Q.n - Q.head : 0;
}

static const struct eh_delivery_source_ops fq_ops = {fq_peek, fq_ack, fq_lag};

static eh_err copy_render(void *ctx, unsigned type, const uint8_t *raw, size_t len,
			  const struct eh_webhook *wh, char *out, size_t cap, size_t *out_len)
{
	int hn;

	(void)ctx;
	(void)wh;
	if (cap < len + 40)
		return EH_ERR_NOSPC;
	hn = snprintf(out, cap, "{\"webhook_type\":\"%s\",", eh_type_name(type));
	memcpy(out + hn, raw + 1, len - 1);
	*out_len = (size_t)hn + len - 1;
	return EH_OK;
}

static unsigned dl_count;
static struct eh_delivery D;
static struct eh_tls_pool pool; /* the daemon's transport factory, as main.c wires it */
static bool pool_open;

/* A publisher whose broker acknowledges at once. */
static eh_err dead(void *ctx, const struct eh_webhook *wh, unsigned type, const char *b, size_t l,
		   uint64_t tag)
{
	(void)ctx;
	(void)wh;
	(void)type;
	(void)b;
	(void)l;
	dl_count++;
	eh_delivery_deadletter_done(&D, tag, true);
	return EH_OK;
}

#define MAXLINES 128
static char lines[MAXLINES][512];
static unsigned nlines;
static void sink(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	if (nlines < MAXLINES)
		snprintf(lines[nlines++], sizeof(lines[0]), "%s", line);
}

static int log_contains(const char *s)
{
	for (unsigned i = 0; i < nlines; i++)
		if (strstr(lines[i], s) != NULL)
			return 1;
	fprintf(stderr, "  no log line contains: %s\n", s);
	for (unsigned i = 0; i < nlines; i++)
		fprintf(stderr, "    have: %s\n", lines[i]);
	return 0;
}

/* ==== Rig ==== */

static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_loop loop;
static struct eh_webhook W;

static uint64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The gateway's proxy for the next rig() (bootstrap https_proxy, no_proxy). */
static const char *rig_proxy_host;
static uint16_t rig_proxy_port;
static const char *const *rig_no_proxy;
static size_t rig_n_no_proxy;
static bool rig_no_keepalive;

static int rig(uint16_t port, uint16_t max_attempts, unsigned batch_size)
{
	struct eh_delivery_config c;

	memset(&Q, 0, sizeof(Q));
	nlines = 0;
	dl_count = 0;
	eh_log_set_sink(sink, NULL);
	fclk.mono_ms = 1000000;
	fclk.wall_ms = (uint64_t)time(NULL) * 1000u;
	eh_clock_fake_init(&clk, &fclk);
	eh_loop_init(&loop, &clk);
	memset(&W, 0, sizeof(W));
	W.id = 7;
	W.gen = 1;
	W.active = true;
	W.url.tls = true;
	snprintf(W.url.host, sizeof(W.url.host), "127.0.0.1");
	W.url.port = port;
	snprintf(W.url.path, sizeof(W.url.path), "/hook");
	W.batch_size = (uint16_t)batch_size;
	W.batch_max_bytes = 1048576;
	W.max_attempts = max_attempts;
	W.timeout_s = 2;
	memset(&c, 0, sizeof(c));
	c.loop = &loop;
	c.clock = &clk;
	if (pool_open)
		eh_tls_pool_free(&pool); /* a rig without fini() before it */
	eh_tls_pool_init(&pool);
	pool_open = true;
	if (eh_tls_pool_open(&pool, cafile) != EH_OK)
		return -1;
	c.transport = &eh_tls_pool_factory;
	c.transport_ctx = &pool;
	c.queue_uid = 0xfeedull;
	c.source = &fq_ops;
	c.render = copy_render;
	c.deadletter = dead;
	c.proxy_host = rig_proxy_host;
	c.proxy_port = rig_proxy_port;
	c.no_proxy = rig_no_proxy;
	c.n_no_proxy = rig_n_no_proxy;
	c.no_keepalive = rig_no_keepalive;
	return eh_delivery_init(&D, &c) == EH_OK ? 0 : -1;
}

static void tp_stop(void);
static void ss_stop(void);

static void fini(void)
{
	eh_delivery_stop(&D);
	if (pool_open)
		eh_tls_pool_free(&pool);
	pool_open = false;
	eh_loop_deinit(&loop);
	eh_log_set_sink(NULL, NULL);
	rx_stop();
	tp_stop();
	ss_stop();
	rig_proxy_host = NULL;
	rig_proxy_port = 0;
	rig_no_proxy = NULL;
	rig_n_no_proxy = 0;
	rig_no_keepalive = false;
}

/* Run the loop (really waiting on sockets, up to 10 ms a turn) until
 * pred() holds or 15 s of real time pass. */
static int run_until(int (*pred)(void))
{
	uint64_t t0 = real_ms();

	while (!pred()) {
		if (real_ms() - t0 > 15000)
			return 0;
		eh_loop_run_once(&loop, 10);
	}
	return 1;
}

static int in_backoff(void)
{
	struct eh_delivery_wstats st;
	eh_delivery_stats(&D, 0, &st);
	return st.next_attempt_in_ms > 0;
}

static int all_acked(void)
{
	return Q.head == Q.n;
}

static int gave_up(void)
{
	return dl_count > 0;
}

static uint64_t next_in(void)
{
	struct eh_delivery_wstats st;
	eh_delivery_stats(&D, 0, &st);
	return st.next_attempt_in_ms;
}

static const char *last_error(void)
{
	static struct eh_delivery_wstats st;
	eh_delivery_stats(&D, 0, &st);
	return st.last_error;
}

/* Move the hand clock to the worker's next attempt. */
static void to_next_attempt(void)
{
	uint64_t ms = next_in();
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	eh_loop_run_once(&loop, 0); /* the timer fires: the attempt starts */
}

/* ==== Tests ==== */

EH_TEST(batches_arrive_with_body_headers_and_keepalive)
{
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 10) == 0);
	for (int i = 0; i < 30; i++) {
		char raw[64];
		snprintf(raw, sizeof(raw), "{\"id\":\"%d\"}", 5000 + i);
		fq_add(raw);
	}
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 3);
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 1); /* one connection for three POSTs */
	CHECK_EQ(rec_count("\"version\": \"TLSv1.2\""), 1);
	CHECK_EQ(rec_count("\"X-Edgehook-Batch\": \"000000000000feed-7-events-1\""), 1);
	CHECK_EQ(rec_count("\"X-Edgehook-Batch\": \"000000000000feed-7-events-21\""), 1);
	CHECK_EQ(rec_count("\"Content-Type\": \"application/json\""), 3);
	CHECK_EQ(rec_count("\"User-Agent\": \"edgehookd/" EH_VERSION "\""), 3);
	CHECK_EQ(rec_count(
		     "\"body\": \"[{\\\"webhook_type\\\":\\\"events\\\",\\\"id\\\":\\\"5000\\\"},"),
		 1);
	CHECK_EQ(rec_count("\\\"id\\\":\\\"5029\\\"}]\""), 1);
	CHECK(log_contains("<queue:  0> Webhook worker(id-7, type-\"events\") sent "
			   "batch(len-10, type-\"events\")"));
	fini();
}

EH_TEST(reconnect_resumes_the_tls_session)
{
	REQUIRE(rx_start("good", "close,200", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	fq_add("{\"id\":\"2\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 2);
	CHECK_EQ(rec_count("\"reused\": true"), 1);
	CHECK_EQ(eh_delivery_https_stats(&D)->resumed, 1);
	fini();
}

/* One failing status: attempts, exact schedule, log line, then success. */
static void status_fault(const char *script, const char *reason)
{
	static const uint64_t waits[] = {729, 1968};
	REQUIRE(rx_start("good", script, NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"4267685965791894192\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	for (unsigned k = 0; k < 2; k++) {
		REQUIRE(run_until(in_backoff));
		CHECK_EQ(next_in(), waits[k]);
		CHECK_EQ(rec_count("\"ev\": \"request\""), k + 1);
		to_next_attempt();
	}
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 3);
	CHECK(log_contains(reason));
	CHECK(log_contains("Attempt 2 out of 10. Next attempt in 0.729 seconds."));
	CHECK(log_contains("Attempt 3 out of 10. Next attempt in 1.968 seconds."));
	fini();
}

EH_TEST(fault_405_as_in_the_seed)
{
	status_fault("405,405,200",
		     "<queue:  1> Webhook worker(id-7, type-\"events\") Error "
		     "sending webhook: 405, message='Not Allowed'. Attempt 2 out of 10.");
}

EH_TEST(fault_500)
{
	status_fault("500,500,200", "Error sending webhook: 500, message='Internal Server Error'.");
}

EH_TEST(fault_reset_mid_response)
{
	status_fault("reset,reset,200", "Error sending webhook: connection reset by peer.");
}

EH_TEST(fault_500_gives_up_after_max_attempts)
{
	REQUIRE(rx_start("good", "500,500,200", NULL) == 0);
	REQUIRE(rig(rx_port, 2, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	fq_add("{\"id\":\"2\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	to_next_attempt();
	CHECK(run_until(gave_up));
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 3);
	CHECK(log_contains("Gave up batch(len-1, type-\"events\") after 2 attempts"));
	fini();
}

EH_TEST(fault_connection_refused)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	getsockname(s, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	close(s); /* nothing listens there now */
	REQUIRE(rig(port, 3, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 729);
	to_next_attempt();
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 1968);
	to_next_attempt();
	CHECK(run_until(gave_up));
	CHECK(log_contains("Error sending webhook: cannot connect to 127.0.0.1:"));
	CHECK(log_contains("after 3 attempts"));
	fini();
}

EH_TEST(fault_stalled_server_times_out)
{
	REQUIRE(rx_start("good", "stall,200", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	/* wait (real time) until the request is at the receiver */
	for (uint64_t t0 = real_ms();
	     rec_count("\"ev\": \"request\"") < 1 && real_ms() - t0 < 15000;)
		eh_loop_run_once(&loop, 10);
	for (int i = 0; i < 20; i++)
		eh_loop_run_once(&loop, 5);
	CHECK(!in_backoff()); /* no timeout while the hand clock stands still */
	fclk.mono_ms += 1999;
	eh_loop_run_once(&loop, 0);
	CHECK(!in_backoff());
	fclk.mono_ms += 1;
	REQUIRE(run_until(in_backoff));
	CHECK(log_contains("Error sending webhook: timeout after 2.000 seconds while waiting for "
			   "the response. Attempt 2 out of 10. Next attempt in 0.729 seconds."));
	to_next_attempt();
	CHECK(run_until(all_acked));
	fini();
}

static void cert_fault(const char *cert, const char *text)
{
	REQUIRE(rx_start(cert, "", NULL) == 0);
	REQUIRE(rig(rx_port, 2, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 729);
	to_next_attempt();
	CHECK(run_until(gave_up));
	CHECK(log_contains(text));
	CHECK(log_contains("after 2 attempts"));
	/* the receiver saw both handshakes fail (it logs them from its own
	 * threads: wait for that, bounded) and never got a request */
	for (uint64_t t0 = real_ms();
	     rec_count("\"ev\": \"handshake_failed\"") < 2 && real_ms() - t0 < 5000;)
		eh_loop_run_once(&loop, 10);
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 0);
	CHECK_EQ(rec_count("\"ev\": \"handshake_failed\""), 2);
	fini();
}

EH_TEST(fault_untrusted_certificate_gets_no_body)
{
	cert_fault("untrusted",
		   "Error sending webhook: TLS certificate verify failed: not trusted.");
}

EH_TEST(fault_wrong_host_name_gets_no_body)
{
	cert_fault("wronghost", "Error sending webhook: TLS certificate verify failed: does not "
				"match host 127.0.0.1.");
}

EH_TEST(fault_429_retry_after)
{
	REQUIRE(rx_start("good", "429:ra=3,503:ra=1000,200", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 3000);
	to_next_attempt();
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 100000);
	to_next_attempt();
	CHECK(run_until(all_acked));
	CHECK(log_contains("429, message='Too Many Requests'. Attempt 2 out of 10. Next attempt "
			   "in 3.000 seconds."));
	CHECK(log_contains("503, message='Service Unavailable'. Attempt 3 out of 10. Next attempt "
			   "in 100.000 seconds."));
	fini();
}

EH_TEST(signature_verified_by_the_receiver)
{
	/* "whsec_" + base64 of the key bytes; the receiver decodes and checks */
	static const char key[] = "edgehook-test-secret-0123456789";
	REQUIRE(rx_start("good", "", "ZWRnZWhvb2stdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==") == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	W.has_secret = true;
	memcpy(W.secret, key, sizeof(key) - 1);
	W.secret_len = sizeof(key) - 1;
	fq_add("{\"id\":\"1\"}");
	fq_add("{\"id\":\"2\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"sig_ok\": true"), 2);
	CHECK_EQ(rec_count("\"sig_ok\": false"), 0);
	CHECK_EQ(rec_count("\"webhook-id\": \"000000000000feed-7-events-2\""), 1);
	fini();
}

EH_TEST(chunked_response_keeps_the_connection)
{
	REQUIRE(rx_start("good", "chunked,200", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	fq_add("{\"id\":\"2\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 2);
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 1);
	fini();
}

EH_TEST(server_dropping_a_kept_connection_costs_no_attempt)
{
	struct eh_delivery_wstats st;

	REQUIRE(rx_start("good", "drop,drop,200", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	fq_add("{\"id\":\"2\"}");
	fq_add("{\"id\":\"3\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.failed_attempts, 0);
	CHECK_EQ(st.sent, 3);
	CHECK_EQ(rec_count("\"ev\": \"request\""), 3);
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 3);
	fini();
}

EH_TEST(host_name_is_verified_and_sent_as_sni)
{
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	snprintf(W.url.host, sizeof(W.url.host), "localhost");
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"sni\": \"localhost\""), 1);
	CHECK_EQ(rec_count("\"Host\": \"localhost:"), 1);
	fini();
}

EH_TEST(wrong_host_name_by_dns_name_gets_no_body)
{
	REQUIRE(rx_start("wronghost", "", NULL) == 0);
	REQUIRE(rig(rx_port, 1, 1) == 0);
	snprintf(W.url.host, sizeof(W.url.host), "localhost");
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(gave_up));
	CHECK_STR(last_error(), "TLS certificate verify failed: does not match host localhost");
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	fini();
}

EH_TEST(plain_http_only_when_allowed)
{
	struct eh_delivery_config c;

	REQUIRE(rx_start("plain", "", NULL) == 0);
	REQUIRE(rig(rx_port, 1, 1) == 0);
	W.url.tls = false;
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(gave_up));
	CHECK_STR(last_error(), "plain http:// is not allowed");
	CHECK(log_contains("Gave up batch(len-1, type-\"events\") after 1 attempts"));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	eh_delivery_stop(&D);
	/* the same with allow_plain_http */
	c = D.cfg;
	c.allow_plain_http = true;
	REQUIRE(eh_delivery_init(&D, &c) == EH_OK);
	fq_add("{\"id\":\"2\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 1);
	fini();
}

/* ==== Other processes: tinyproxy and openssl s_server ==== */

static pid_t tp_pid = -1;
static uint16_t tp_port;
static char tp_log[300];
static pid_t ss_pid = -1;
static int ss_stdin = -1; /* kept open: s_server stops at the end of its input */
static uint16_t ss_port;
static char ss_out[300];

static void tp_stop(void)
{
	if (tp_pid > 0) {
		kill(tp_pid, SIGTERM);
		waitpid(tp_pid, NULL, 0);
	}
	tp_pid = -1;
}

static void ss_stop(void)
{
	if (ss_pid > 0) {
		kill(ss_pid, SIGTERM);
		waitpid(ss_pid, NULL, 0);
	}
	ss_pid = -1;
	if (ss_stdin >= 0)
		close(ss_stdin);
	ss_stdin = -1;
}

/* A loopback port nothing listens on (bound, then released). */
static uint16_t free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static int port_open(uint16_t port)
{
	struct sockaddr_in a = {0};
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* Start argv with stdout and stderr into out (NULL: /dev/null), stdin from
 * in_fd (-1: /dev/null). */
static pid_t spawn_to(char **argv, const char *out, int in_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	posix_spawn_file_actions_init(&fa);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static size_t file_read(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

static unsigned file_count(const char *path, const char *needle)
{
	static char buf[1 << 18];
	unsigned c = 0;

	file_read(path, buf, sizeof(buf));
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

/* tinyproxy on a free loopback port with its own config file; extra is a
 * config line or NULL. 0 once it accepts connections. */
static int tp_start(const char *extra)
{
	char conf[300], *argv[] = {"tinyproxy", "-d", "-c", conf, NULL};
	FILE *f;

	tp_stop();
	snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", certdir);
	snprintf(tp_log, sizeof(tp_log), "%s/tinyproxy.log", certdir);
	unlink(tp_log);
	tp_port = free_port();
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f,
		"Port %u\nListen 127.0.0.1\nTimeout 30\nLogFile \"%s\"\nLogLevel Connect\n"
		"MaxClients 32\nAllow 127.0.0.1\nDisableViaHeader Yes\n%s\n",
		(unsigned)tp_port, tp_log, extra ? extra : "");
	fclose(f);
	if ((tp_pid = spawn_to(argv, NULL, -1)) < 0)
		return -1;
	for (uint64_t t0 = real_ms(); real_ms() - t0 < 10000;) {
		if (port_open(tp_port))
			return 0;
		usleep(20000);
	}
	tp_stop();
	return -1;
}

/* openssl s_server with cert (a name of tls_receiver.py's) and the given
 * protocol and cipher options; its output goes to ss_out. */
static int ss_start(const char *cert, const char *proto, const char *cipher)
{
	char crt[300], key[300], line[4096], *p;
	int in[2];
	char *argv[] = {"openssl", "s_server", "-accept",     "127.0.0.1:0", "-cert",	     crt,
			"-key",	   key,	       (char *)proto, "-cipher",     (char *)cipher, NULL};

	snprintf(crt, sizeof(crt), "%s/%s.crt", certdir, cert);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, cert);
	ss_stop();
	snprintf(ss_out, sizeof(ss_out), "%s/s_server.out", certdir);
	unlink(ss_out);
	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	ss_pid = spawn_to(argv, ss_out, in[0]);
	close(in[0]);
	ss_stdin = in[1];
	if (ss_pid < 0)
		return -1;
	for (uint64_t t0 = real_ms(); real_ms() - t0 < 10000; usleep(20000)) {
		file_read(ss_out, line, sizeof(line));
		if ((p = strstr(line, "ACCEPT")) != NULL && strchr(p, '\n') != NULL) {
			*strchr(p, '\n') = '\0';
			if ((p = strrchr(p, ':')) != NULL && sscanf(p + 1, "%hu", &ss_port) == 1)
				return 0;
		}
	}
	ss_stop();
	return -1;
}

static int has_last_error(void)
{
	return last_error()[0] != '\0';
}

/* last_error() holds text; says what it held when it does not. */
static int error_has(const char *text)
{
	if (strstr(last_error(), text) != NULL)
		return 1;
	fprintf(stderr, "  last_error \"%s\" lacks \"%s\"\n", last_error(), text);
	return 0;
}

/* ==== Client certificates ==== */

static void client_cert(struct eh_webhook *w, const char *name, const char *key)
{
	snprintf(w->client_cert_file, sizeof(w->client_cert_file), "%.200s/%.20s.crt", certdir,
		 name);
	snprintf(w->client_key_file, sizeof(w->client_key_file), "%.200s/%.20s.key", certdir, key);
}

EH_TEST(client_certificate_required_by_the_receiver)
{
	rx_extra = "--client-ca";
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(rig(rx_port, 1, 1) == 0);
	/* a webhook without a certificate: refused by the receiver */
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(gave_up));
	CHECK(error_has("TLS handshake"));
	for (uint64_t t0 = real_ms();
	     rec_count("\"ev\": \"handshake_failed\"") < 1 && real_ms() - t0 < 5000;)
		eh_loop_run_once(&loop, 10);
	CHECK_EQ(rec_count("\"ev\": \"handshake_failed\""), 1);
	/* the same receiver, a webhook with one: its batches arrive */
	W.gen++;
	client_cert(&W, "client", "client");
	fq_add("{\"id\":\"2\"}");
	fq_add("{\"id\":\"3\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 2);
	CHECK_EQ(rec_count("\"client_cn\": \"edgehook device\""), 1);
	CHECK_EQ(rec_count("\\\"id\\\":\\\"1\\\""), 0);
	fini();
}

EH_TEST(client_certificate_the_receiver_does_not_trust_gets_no_body)
{
	rx_extra = "--client-ca";
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(rig(rx_port, 1, 1) == 0);
	client_cert(&W, "otherclient", "otherclient");
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(gave_up));
	CHECK(error_has("TLS handshake"));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	fini();
}

EH_TEST(client_certificate_files_that_do_not_load_name_the_field)
{
	struct eh_webhook w2;
	struct eh_errs errs;

	REQUIRE(rig(443, 1, 1) == 0);
	w2 = W;
	client_cert(&w2, "nonexistent", "client");
	eh_errs_init(&errs);
	CHECK_EQ(eh_delivery_check_webhook(&D, &w2, &errs), EH_ERR_NOENT);
	REQUIRE(errs.n == 1);
	CHECK(strncmp(errs.msg[0], "client_cert_file: cannot read ", 30) == 0);
	client_cert(&w2, "client", "otherclient"); /* a key of another certificate */
	eh_errs_init(&errs);
	CHECK_EQ(eh_delivery_check_webhook(&D, &w2, &errs), EH_ERR_TLS);
	REQUIRE(errs.n == 1);
	CHECK(strncmp(errs.msg[0], "client_key_file: the key in ", 28) == 0);
	/* not a key at all */
	snprintf(w2.client_key_file, sizeof(w2.client_key_file), "%.200s/ca.crt", certdir);
	eh_errs_init(&errs);
	CHECK_EQ(eh_delivery_check_webhook(&D, &w2, &errs), EH_ERR_TLS);
	REQUIRE(errs.n == 1);
	CHECK(strncmp(errs.msg[0], "client_key_file: no unencrypted PEM private key", 47) == 0);
	client_cert(&w2, "client", "client");
	eh_errs_init(&errs);
	CHECK_EQ(eh_delivery_check_webhook(&D, &w2, &errs), EH_OK);
	CHECK_EQ(errs.n, 0);
	/* loading and releasing many times leaks no identity slot */
	for (int i = 0; i < 3 * EH_TLS_POOL_IDENTITIES; i++)
		CHECK_EQ(eh_delivery_check_webhook(&D, &w2, &errs), EH_OK);
	fini();
}

/* ==== TLS floor and SNI ==== */

EH_TEST(ip_literal_is_verified_without_sni)
{
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(rig(rx_port, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"sni\": null"), 1);
	CHECK_EQ(rec_count("\"ev\": \"request\""), 1);
	fini();
}

/* A receiver offering only what the floor refuses: the handshake fails and
 * s_server never reports a cipher. */
static void floor_refuses(const char *cert, const char *proto, const char *cipher)
{
	REQUIRE(ss_start(cert, proto, cipher) == 0);
	REQUIRE(rig(ss_port, 1, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(has_last_error));
	CHECK(error_has("TLS handshake"));
	CHECK_EQ(file_count(ss_out, "CIPHER is"), 0);
	fini();
}

EH_TEST(tls_floor_refuses_tls_1_1)
{
	floor_refuses("good", "-tls1_1", "DEFAULT@SECLEVEL=0");
}

EH_TEST(tls_floor_refuses_cbc_suites)
{
	floor_refuses("good", "-tls1_2", "ECDHE-ECDSA-AES128-SHA256");
}

EH_TEST(tls_floor_refuses_rsa_key_exchange)
{
	floor_refuses("rsa", "-tls1_2", "AES128-GCM-SHA256");
}

static int ss_cipher(void)
{
	return file_count(ss_out, "CIPHER is") > 0;
}

EH_TEST(tls_floor_accepts_ecdhe_aead)
{
	REQUIRE(ss_start("rsa", "-tls1_2", "ECDHE-RSA-AES256-GCM-SHA384") == 0);
	REQUIRE(rig(ss_port, 1, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(ss_cipher));
	CHECK_EQ(file_count(ss_out, "CIPHER is ECDHE-RSA-AES256-GCM-SHA384"), 1);
	fini();
}

/* ==== HTTP CONNECT proxies (tinyproxy) ==== */

static unsigned tp_connects(const char *target)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "CONNECT %s HTTP/1.1", target);
	return file_count(tp_log, needle);
}

EH_TEST(batches_go_through_the_https_proxy)
{
	char target[64];

	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start(NULL) == 0);
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = tp_port;
	REQUIRE(rig(rx_port, 10, 1) == 0);
	for (int i = 0; i < 3; i++)
		fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 3);
	CHECK_EQ(rec_count("\"ev\": \"handshake\""), 1); /* end-to-end TLS, kept alive */
	snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)rx_port);
	CHECK_EQ(tp_connects(target), 1);
	fini();
}

EH_TEST(no_proxy_host_goes_direct)
{
	static const char *const np[] = {"example.org", "localhost"};

	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start(NULL) == 0);
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = tp_port;
	rig_no_proxy = np;
	rig_n_no_proxy = 2;
	REQUIRE(rig(rx_port, 10, 1) == 0);
	snprintf(W.url.host, sizeof(W.url.host), "localhost");
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 1);
	CHECK_EQ(file_count(tp_log, "CONNECT localhost"), 0);
	CHECK_EQ(file_count(tp_log, "Request ("), 0);
	fini();
}

EH_TEST(webhook_proxy_overrides_the_gateway)
{
	char target[64];

	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start(NULL) == 0);
	/* the gateway's proxy is dead: "direct" does not use it */
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = free_port();
	REQUIRE(rig(rx_port, 10, 1) == 0);
	W.proxy = EH_WEBHOOK_PROXY_DIRECT;
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	CHECK(run_until(all_acked));
	CHECK_EQ(file_count(tp_log, "Request ("), 0);
	/* its own proxy URL wins over the gateway's */
	W.proxy = EH_WEBHOOK_PROXY_URL;
	snprintf(W.proxy_host, sizeof(W.proxy_host), "127.0.0.1");
	W.proxy_port = tp_port;
	eh_delivery_set_webhook(&D, 0, &W);
	eh_https_close_all(&D.https); /* the kept direct connection is another route anyway */
	fq_add("{\"id\":\"2\"}");
	eh_delivery_kick(&D, 0, 0);
	CHECK(run_until(all_acked));
	snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)rx_port);
	CHECK_EQ(tp_connects(target), 1);
	CHECK_EQ(rec_count("\"ev\": \"request\""), 2);
	fini();
}

EH_TEST(stopped_proxy_fails_on_the_seed_schedule)
{
	char want[96];

	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start(NULL) == 0);
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = tp_port;
	tp_stop();
	REQUIRE(rig(rx_port, 3, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 729);
	to_next_attempt();
	REQUIRE(run_until(in_backoff));
	CHECK_EQ(next_in(), 1968);
	to_next_attempt();
	CHECK(run_until(gave_up));
	snprintf(want, sizeof(want), "proxy: cannot connect to 127.0.0.1:%u", (unsigned)tp_port);
	CHECK_STR(last_error(), want);
	CHECK(log_contains("Error sending webhook: proxy: cannot connect to 127.0.0.1:"));
	CHECK(log_contains("Attempt 3 out of 3. Next attempt in 1.968 seconds."));
	CHECK(log_contains("after 3 attempts"));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	fini();
}

EH_TEST(refusing_proxy_is_a_failed_attempt_with_its_status)
{
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start("ConnectPort 443") == 0); /* our receiver's port is not 443 */
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = tp_port;
	REQUIRE(rig(rx_port, 2, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	REQUIRE(run_until(in_backoff));
	CHECK_STR(last_error(), "proxy: 403 Access violation");
	CHECK(log_contains("Error sending webhook: proxy: 403 Access violation. Attempt 2 out of "
			   "2. Next attempt in 0.729 seconds."));
	CHECK_EQ(rec_count("\"ev\": \"request\""), 0);
	fini();
}

EH_TEST(hanging_proxy_times_out)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	/* a proxy that accepts the TCP connection (the kernel's backlog) and
	 * never answers the CONNECT */
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 4) == 0);
	getsockname(s, (struct sockaddr *)&a, &al);
	rig_proxy_host = "127.0.0.1";
	rig_proxy_port = ntohs(a.sin_port);
	REQUIRE(rig(443, 10, 1) == 0);
	fq_add("{\"id\":\"1\"}");
	eh_delivery_set_webhook(&D, 0, &W);
	for (int i = 0; i < 20; i++)
		eh_loop_run_once(&loop, 5);
	CHECK(!in_backoff()); /* waiting, not failing, while the hand clock stands */
	fclk.mono_ms += 2000;
	REQUIRE(run_until(in_backoff));
	CHECK_STR(last_error(), "proxy: timeout after 2.000 seconds");
	CHECK_EQ(next_in(), 729);
	close(s);
	fini();
}

/* The cost of the extra hop, per batch, on loopback: a figure printed for
 * docs/BENCHMARKS.md (kept alive: one tunnel for all; a new connection per
 * batch: a CONNECT exchange each). Not a pass/fail threshold. */
static double ms_per_batch(unsigned n, bool via_proxy, bool new_conn)
{
	uint64_t t0;

	rig_proxy_host = via_proxy ? "127.0.0.1" : NULL;
	rig_proxy_port = via_proxy ? tp_port : 0;
	rig_no_keepalive = new_conn;
	if (rig(rx_port, 10, 1) != 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		fq_add("{\"id\":\"1\"}");
	t0 = real_ms();
	eh_delivery_set_webhook(&D, 0, &W);
	if (!run_until(all_acked))
		return -1;
	eh_delivery_stop(&D);
	eh_loop_deinit(&loop);
	return (double)(real_ms() - t0) / n;
}

EH_TEST(proxy_overhead_per_batch)
{
	double d, p, dn, pn;

	rx_extra = "--quiet";
	REQUIRE(rx_start("good", "", NULL) == 0);
	REQUIRE(tp_start(NULL) == 0);
	d = ms_per_batch(100, false, false);
	p = ms_per_batch(100, true, false);
	dn = ms_per_batch(50, false, true);
	pn = ms_per_batch(50, true, true);
	CHECK(d > 0 && p > 0 && dn > 0 && pn > 0);
	printf("  figure: ms per batch, direct %.2f, via tinyproxy %.2f (kept alive); "
	       "new connection each: direct %.2f, via tinyproxy %.2f\n",
	       d, p, dn, pn);
	fini();
}

/* Certificates once per run, in a fresh temporary directory. */
__attribute__((constructor)) static void setup_certs(void)
{
	char *argv[] = {"/usr/bin/python3", EH_RECEIVER, "--certdir", certdir, "--gen", NULL};
	pid_t pid;
	int st = 0;

	snprintf(certdir, sizeof(certdir), "/tmp/eh-delivery-tls-XXXXXX");
	if (mkdtemp(certdir) == NULL)
		exit(2);
	snprintf(cafile, sizeof(cafile), "%s/ca.crt", certdir);
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "cannot make test certificates\n");
		exit(2);
	}
}

__attribute__((destructor)) static void cleanup_certs(void)
{
	char cmd[300];
	rx_stop();
	tp_stop();
	ss_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certdir);
}
