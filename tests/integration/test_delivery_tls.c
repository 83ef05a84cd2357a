/* SPDX-License-Identifier: Apache-2.0 */
/* test_delivery_tls.c - delivery against a real TLS server on 127.0.0.1
 * (tests/integration/tls_receiver.py, certificates made by the openssl CLI
 * at test time). The real mbedTLS transport and sockets, the loop on a
 * hand-moved clock: retries happen when the test moves time, never by
 * sleeping. The receiver's record proves what reached it. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_delivery.h"
#include "eh_log.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
	c.ca_file = cafile;
	c.queue_uid = 0xfeedull;
	c.source = &fq_ops;
	c.render = copy_render;
	c.deadletter = dead;
	return eh_delivery_init(&D, &c) == EH_OK ? 0 : -1;
}

static void fini(void)
{
	eh_delivery_stop(&D);
	eh_loop_deinit(&loop);
	eh_log_set_sink(NULL, NULL);
	rx_stop();
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
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certdir);
}
