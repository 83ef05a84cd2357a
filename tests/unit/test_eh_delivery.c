/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_delivery.c - webhook workers over a fake queue, a copy-renderer
 * and the scripted fake transport, on a hand-moved clock: batching by count
 * and bytes, headers and keys, the seed's retry schedule and log lines,
 * Retry-After, giving up to the dead letter, deletion and stop. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_crypto.h"
#include "eh_delivery.h"
#include "eh_log.h"
#include "eh_transport_fake.h"

/* ==== Fake queue ==== */

#define MAXREC 256
struct fq {
	uint64_t seq[MAXREC];
	char raw[MAXREC][2048];
	size_t len[MAXREC];
	size_t n, head; /* records [head, n) are unacknowledged */
	unsigned acks;
};
static struct fq Q; /* one worker: slot 0, type events (others stay empty) */
static struct eh_delivery D;
/* The ack hook: an app that kicks the worker from inside the ack (held
 * input retried at once) must not start a second POST for that worker. */
static bool kick_in_ack;

static void fq_add(const char *raw)
{
	Q.seq[Q.n] = 100 + Q.n;
	snprintf(Q.raw[Q.n], sizeof(Q.raw[0]), "%s", raw);
	Q.len[Q.n] = strlen(raw);
	Q.n++;
}

static eh_err fq_peek(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		      size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (slot != 0 || type != EH_TYPE_EVENTS)
		return EH_OK;
	for (size_t i = Q.head; i < Q.n && *n < max; i++) {
		items[*n].seq = Q.seq[i];
		items[*n].raw = (const uint8_t *)Q.raw[i];
		items[*n].len = Q.len[i];
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
	Q.acks++;
	if (kick_in_ack)
		eh_delivery_kick(&D, 0, EH_TYPE_EVENTS);
	return EH_OK;
}

static uint64_t fq_lag(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	return (slot == 0 && type == EH_TYPE_EVENTS) ? Q.n - Q.head : 0;
}

static const struct eh_delivery_source_ops fq_ops = {fq_peek, fq_ack, fq_lag};

/* ==== Renderer, ids, dead letter ==== */

/* Copy the raw object with "webhook_type" spliced in after its '{'. */
static eh_err copy_render(void *ctx, unsigned type, const uint8_t *raw, size_t len,
			  const struct eh_webhook *wh, char *out, size_t cap, size_t *out_len)
{
	char head[40];
	int hn = snprintf(head, sizeof(head), "{\"webhook_type\":\"%s\",", eh_type_name(type));

	(void)ctx;
	(void)wh;
	if (len < 2 || raw[0] != '{')
		return EH_ERR_PROTO;
	if ((size_t)hn + len - 1 > cap)
		return EH_ERR_NOSPC;
	memcpy(out, head, (size_t)hn);
	memcpy(out + hn, raw + 1, len - 1);
	*out_len = (size_t)hn + len - 1;
	return EH_OK;
}

static size_t id_of(void *ctx, const uint8_t *raw, size_t len, char *buf, size_t cap)
{
	const char *p = memmem(raw, len, "\"id\":\"", 6);
	size_t n = 0;

	(void)ctx;
	if (p == NULL)
		return 0;
	p += 6;
	while (p + n < (const char *)raw + len && p[n] != '"' && n + 1 < cap) {
		buf[n] = p[n];
		n++;
	}
	buf[n] = '\0';
	return n;
}

static char dl_body[65536];
static size_t dl_len;
static unsigned dl_count;
static uint64_t dl_tag;	 /* of the last publish */
static eh_err dl_result; /* what the publisher answers */

static eh_err dead(void *ctx, const struct eh_webhook *wh, unsigned type, const char *body,
		   size_t len, uint64_t tag)
{
	(void)ctx;
	(void)wh;
	(void)type;
	if (dl_result != EH_OK)
		return dl_result;
	memcpy(dl_body, body, len);
	dl_len = len;
	dl_count++;
	dl_tag = tag;
	return EH_OK;
}

/* ==== Log capture ==== */

#define MAXLINES 256
static char lines[MAXLINES][512];
static unsigned nlines;

static void sink(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	if (nlines < MAXLINES)
		snprintf(lines[nlines++], sizeof(lines[0]), "%s", line);
}

static int log_has(const char *s)
{
	for (unsigned i = 0; i < nlines; i++)
		if (strcmp(lines[i], s) == 0)
			return 1;
	fprintf(stderr, "  missing log line: %s\n", s);
	for (unsigned i = 0; i < nlines; i++)
		fprintf(stderr, "    have: %s\n", lines[i]);
	return 0;
}

static int log_contains(const char *s)
{
	for (unsigned i = 0; i < nlines; i++)
		if (strstr(lines[i], s) != NULL)
			return 1;
	return 0;
}

/* ==== Rig ==== */

static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_loop loop;
static struct eh_transport tr;
static struct eh_transport_fake fk;
static struct eh_webhook W;

/* The route of the last connection the client asked for. */
static char seen_proxy[64];
static uint16_t seen_proxy_port;
static unsigned seen_identity;
static unsigned seen_routes;

static struct eh_transport *fake_factory(void *ctx, unsigned idx,
					 const struct eh_transport_route *route)
{
	(void)ctx;
	(void)idx;
	snprintf(seen_proxy, sizeof(seen_proxy), "%s",
		 route->proxy_host ? route->proxy_host : "(direct)");
	seen_proxy_port = route->proxy_port;
	seen_identity = route->identity;
	seen_routes++;
	return &tr;
}

static const struct eh_transport_factory_ops fake_factory_ops = {fake_factory, NULL, NULL, NULL};

/* A factory that also loads identities and reloads CAs, as main.c's TLS
 * pool does: what delivery asked of it. */
static char id_loaded[64];
static unsigned id_refs, id_puts, ca_reloads;

static eh_err id_load(void *ctx, const char *cert, const char *key, unsigned *handle,
		      bool *key_at_fault, char *why, size_t cap)
{
	(void)ctx;
	(void)key;
	(void)key_at_fault;
	(void)why;
	(void)cap;
	snprintf(id_loaded, sizeof(id_loaded), "%s", cert);
	id_refs++;
	*handle = 5;
	return EH_OK;
}

static void id_put(void *ctx, unsigned handle)
{
	(void)ctx;
	if (handle == 5)
		id_puts++;
}

static eh_err ca_reload(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	ca_reloads++;
	return EH_OK;
}

static const struct eh_transport_factory_ops full_factory_ops = {fake_factory, id_load, id_put,
								 ca_reload};
static const struct eh_transport_factory_ops *rig_factory = &fake_factory_ops;

/* The gateway's proxy for the next rig(). */
static const char *rig_proxy;
static const char *const *rig_np;
static size_t rig_nnp;
/* The build time for the next rig() (0: no clock check). */
static uint64_t rig_not_before_s;

static void rig(unsigned batch_size, uint32_t max_bytes, uint16_t max_attempts)
{
	struct eh_delivery_config c;

	memset(&Q, 0, sizeof(Q));
	memset(&fk, 0, sizeof(fk));
	nlines = 0;
	dl_count = 0;
	dl_len = 0;
	dl_tag = 0;
	dl_result = EH_OK;
	kick_in_ack = false;
	eh_log_set_sink(sink, NULL);
	eh_log_set_level(EH_LOG_LEVEL_INF);
	fclk.mono_ms = 50000;
	fclk.wall_ms = 1700000000123ull;
	eh_clock_fake_init(&clk, &fclk);
	eh_loop_init(&loop, &clk);
	memset(&W, 0, sizeof(W));
	W.id = 2;
	W.gen = 1;
	W.active = true;
	snprintf(W.url_text, sizeof(W.url_text), "https://hooks.example/ff");
	W.url.tls = true;
	snprintf(W.url.host, sizeof(W.url.host), "hooks.example");
	W.url.port = 443;
	snprintf(W.url.path, sizeof(W.url.path), "/ff");
	W.batch_size = (uint16_t)batch_size;
	W.batch_max_bytes = max_bytes;
	W.max_attempts = max_attempts;
	W.timeout_s = 10;
	W.nheaders = 1;
	snprintf(W.headers[0].name, sizeof(W.headers[0].name), "Authorization");
	snprintf(W.headers[0].value, sizeof(W.headers[0].value), "Bearer s3cr3t-token");
	memset(&c, 0, sizeof(c));
	c.loop = &loop;
	c.clock = &clk;
	c.queue_uid = 0x0123456789abcdefull;
	c.source = &fq_ops;
	c.render = copy_render;
	c.note_id = id_of;
	c.deadletter = dead;
	c.transport = rig_factory;
	c.proxy_host = rig_proxy;
	c.proxy_port = rig_proxy ? 3128 : 0;
	c.no_proxy = rig_np;
	c.n_no_proxy = rig_nnp;
	c.not_before_s = rig_not_before_s;
	seen_routes = 0;
	REQUIRE(eh_delivery_init(&D, &c) == EH_OK);
}

static void start(void)
{
	eh_transport_fake_init(&tr, &fk);
	eh_delivery_set_webhook(&D, 0, &W);
}

static void run(void)
{
	for (int i = 0; i < 400; i++)
		eh_loop_run_once(&loop, 0);
}

static void advance(uint64_t ms)
{
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	run();
}

static void fini(void)
{
	eh_delivery_stop(&D);
	eh_loop_deinit(&loop);
	eh_log_set_sink(NULL, NULL);
}

/* The n-th request (0-based) the fake received: head and body views. */
static int request_at(unsigned n, const char **head, size_t *hlen, const char **body, size_t *blen)
{
	const char *p = (const char *)fk.tx, *end = p + fk.tx_len;

	for (unsigned i = 0;; i++) {
		const char *e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		const char *cl;
		size_t len;
		if (e == NULL)
			return 0;
		cl = memmem(p, (size_t)(e - p), "Content-Length: ", 16);
		if (cl == NULL)
			return 0;
		len = strtoul(cl + 16, NULL, 10);
		if (i == n) {
			*head = p;
			*hlen = (size_t)(e - p) + 4;
			*body = e + 4;
			*blen = len;
			return 1;
		}
		p = e + 4 + len;
	}
}

static int head_value(const char *head, size_t hlen, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p, *e;
	int n = snprintf(pat, sizeof(pat), "\r\n%s: ", name);

	p = memmem(head, hlen, pat, (size_t)n);
	if (p == NULL)
		return 0;
	p += n;
	e = memmem(p, hlen - (size_t)(p - head), "\r\n", 2);
	snprintf(out, cap, "%.*s", (int)(e - p), p);
	return 1;
}

static const char R200[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char R405[] = "HTTP/1.1 405 Not Allowed\r\nContent-Length: 0\r\n\r\n";

/* ==== Tests ==== */

EH_TEST(backoff_schedule_values)
{
	static const uint64_t want[] = {0, 0, 729, 1968, 5314, 14349, 38742, 100000, 100000};
	for (uint32_t k = 2; k < 9; k++)
		CHECK_EQ(eh_delivery_backoff_ms(k), want[k]);
}

EH_TEST(batches_by_count_in_order_with_headers)
{
	const char *h, *b;
	size_t hl, bl;
	char v[128];
	struct eh_delivery_wstats st;

	rig(10, 1048576, 10);
	for (int i = 0; i < 25; i++) {
		char raw[96];
		snprintf(raw, sizeof(raw), "{\"id\":\"%d\",\"event_type\":\"event_created\"}",
			 1000 + i);
		fq_add(raw);
	}
	for (int i = 0; i < 3; i++)
		eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(fk.connects, 1); /* keep-alive */
	CHECK_EQ(Q.head, 25);
	REQUIRE(request_at(0, &h, &hl, &b, &bl));
	CHECK(memcmp(h, "POST /ff HTTP/1.1\r\nHost: hooks.example\r\n", 40) == 0);
	CHECK(head_value(h, hl, "Content-Type", v, sizeof(v)) &&
	      strcmp(v, "application/json") == 0);
	CHECK(head_value(h, hl, "User-Agent", v, sizeof(v)) &&
	      strcmp(v, "edgehookd/" EH_VERSION) == 0);
	CHECK(head_value(h, hl, "X-Edgehook-Webhook", v, sizeof(v)) && strcmp(v, "2") == 0);
	CHECK(head_value(h, hl, "X-Edgehook-Batch", v, sizeof(v)) &&
	      strcmp(v, "0123456789abcdef-2-events-100") == 0);
	CHECK(head_value(h, hl, "Authorization", v, sizeof(v)) &&
	      strcmp(v, "Bearer s3cr3t-token") == 0);
	CHECK(!head_value(h, hl, "webhook-signature", v, sizeof(v)));
	CHECK(bl > 2 && b[0] == '[' && b[bl - 1] == ']');
	CHECK(memmem(b, bl, "{\"webhook_type\":\"events\",\"id\":\"1000\"", 36) == b + 1);
	CHECK(memmem(b, bl, "\"1009\"", 6) != NULL);
	CHECK(memmem(b, bl, "\"1010\"", 6) == NULL);
	REQUIRE(request_at(2, &h, &hl, &b, &bl));
	CHECK(head_value(h, hl, "X-Edgehook-Batch", v, sizeof(v)) &&
	      strcmp(v, "0123456789abcdef-2-events-120") == 0);
	CHECK(memmem(b, bl, "\"1024\"", 6) != NULL);
	CHECK(memmem(b, bl, "\"1019\"", 6) == NULL);
	CHECK(log_has("INFO     [WebhooksManager:2] <queue: 15> Webhook worker(id-2, "
		      "type-\"events\") sent batch(len-10, type-\"events\"): ['1000', '1001', "
		      "'1002', '1003', '1004', '1005', '1006', '1007', '1008', '1009']"));
	CHECK(log_has("INFO     [WebhooksManager:2] <queue:  0> Webhook worker(id-2, "
		      "type-\"events\") sent batch(len-5, type-\"events\"): ['1020', '1021', "
		      "'1022', '1023', '1024']"));
	CHECK(!log_contains("s3cr3t"));
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.sent, 25);
	CHECK_EQ(st.batches, 3);
	CHECK_EQ(st.failed_attempts, 0);
	CHECK_EQ(st.by_type[0].sent, 25); /* all events: the per-type split */
	CHECK_EQ(st.by_type[1].sent + st.by_type[2].sent, 0);
	fini();
}

EH_TEST(batches_by_bytes_and_oversized_alone)
{
	const char *h, *b;
	size_t hl, bl;
	static char big[1500];

	rig(100, 300, 10);
	for (int i = 0; i < 4; i++) {
		char raw[128];
		snprintf(raw, sizeof(raw), "{\"id\":\"%d\",\"pad\":\"%060d\"}", i, 0);
		fq_add(raw); /* ~110 bytes rendered: two fit in 300 */
	}
	snprintf(big, sizeof(big), "{\"id\":\"big\",\"pad\":\"%01000d\"}", 0);
	fq_add(big);
	fq_add("{\"id\":\"after\"}");
	for (int i = 0; i < 5; i++)
		eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 4);
	for (unsigned r = 0; r < 4; r++) {
		REQUIRE(request_at(r, &h, &hl, &b, &bl));
		if (r < 2)
			CHECK(bl <= 300);
		if (r == 2)
			CHECK(bl > 1000 && memmem(b, bl, "\"big\"", 5) != NULL &&
			      memmem(b, bl, "after", 5) == NULL);
	}
	CHECK(log_contains("sent batch(len-2, type-\"events\"): ['0', '1']"));
	CHECK(log_contains("sent batch(len-1, type-\"events\"): ['big']"));
	CHECK(log_contains("sent batch(len-1, type-\"events\"): ['after']"));
	CHECK_EQ(Q.head, 6);
	fini();
}

EH_TEST(seed_schedule_and_log_lines_for_405)
{
	static const uint64_t waits[] = {729, 1968, 5314};
	const char *h, *b;
	size_t hl, bl;
	char v[128], first_key[128] = "", first_body[256] = "";
	struct eh_delivery_wstats st;

	rig(1, 1048576, 10);
	fq_add("{\"id\":\"4267685965791894192\",\"event_type\":\"event_created\"}");
	for (int i = 0; i < 3; i++)
		eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 1);
	CHECK(log_has("WARNING  [WebhooksManager:2] <queue:  1> Webhook worker(id-2, "
		      "type-\"events\") Error sending webhook: 405, message='Not Allowed'. "
		      "Attempt 2 out of 10. Next attempt in 0.729 seconds."));
	for (unsigned k = 0; k < 3; k++) {
		eh_delivery_stats(&D, 0, &st);
		CHECK_EQ(st.next_attempt_in_ms, waits[k]);
		CHECK(st.next_attempt_in_s > (double)waits[k] / 1000.0 - 1e-9 &&
		      st.next_attempt_in_s < (double)waits[k] / 1000.0 + 1e-9);
		CHECK_EQ(st.failed_attempts, k + 1);
		CHECK_STR(st.last_error, "405, message='Not Allowed'");
		advance(waits[k] - 1);
		CHECK_EQ(fk.requests, k + 1); /* not a millisecond early */
		advance(1);
		CHECK_EQ(fk.requests, k + 2);
		REQUIRE(request_at(k + 1, &h, &hl, &b, &bl));
		REQUIRE(head_value(h, hl, "X-Edgehook-Batch", v, sizeof(v)));
		if (k == 0) {
			snprintf(first_key, sizeof(first_key), "%s", v);
			snprintf(first_body, sizeof(first_body), "%.*s", (int)bl, b);
		}
		CHECK_STR(v, first_key); /* the same batch */
		CHECK(strlen(first_body) == bl && memcmp(first_body, b, bl) == 0);
	}
	CHECK(log_has("WARNING  [WebhooksManager:2] <queue:  1> Webhook worker(id-2, "
		      "type-\"events\") Error sending webhook: 405, message='Not Allowed'. "
		      "Attempt 3 out of 10. Next attempt in 1.968 seconds."));
	CHECK(log_has("WARNING  [WebhooksManager:2] <queue:  1> Webhook worker(id-2, "
		      "type-\"events\") Error sending webhook: 405, message='Not Allowed'. "
		      "Attempt 4 out of 10. Next attempt in 5.314 seconds."));
	CHECK(log_has("INFO     [WebhooksManager:2] <queue:  0> Webhook worker(id-2, "
		      "type-\"events\") sent batch(len-1, type-\"events\"): "
		      "['4267685965791894192']"));
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.sent, 1);
	CHECK_EQ(st.next_attempt_in_ms, 0);
	CHECK_EQ(st.by_type[0].failed_attempts, st.failed_attempts);
	CHECK(st.by_type[0].failed_attempts > 0);
	CHECK_EQ(st.by_type[0].sent, 1);
	fini();
}

EH_TEST(later_notifications_wait_behind_a_failing_batch)
{
	rig(1, 1048576, 10);
	fq_add("{\"id\":\"a\"}");
	eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	fq_add("{\"id\":\"b\"}");
	eh_delivery_kick(&D, 0, EH_TYPE_EVENTS);
	run();
	CHECK_EQ(fk.requests, 1); /* b waits: the failed batch goes first */
	CHECK(log_contains("<queue:  1>") || log_contains("<queue:  2>"));
	advance(729);
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(Q.head, 2);
	fini();
}

EH_TEST(give_up_after_max_attempts_to_dead_letter)
{
	const char *h, *b;
	size_t hl, bl;
	struct eh_delivery_wstats st;

	rig(1, 1048576, 3);
	fq_add("{\"id\":\"4267685965791894192\"}");
	fq_add("{\"id\":\"next\"}");
	for (int i = 0; i < 3; i++)
		eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	advance(729);
	advance(1968);
	CHECK_EQ(dl_count, 1);
	REQUIRE(request_at(2, &h, &hl, &b, &bl));
	CHECK(dl_len == bl && memcmp(dl_body, b, bl) == 0);
	/* Until the broker acknowledges the dead letter, the batch stays. */
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(Q.head, 0);
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.dead_letters_pending, 1);
	CHECK_EQ(st.dead_lettered, 0);
	eh_delivery_deadletter_done(&D, dl_tag, true);
	run();
	CHECK_EQ(fk.requests, 4); /* 3 attempts, then the next batch at once */
	CHECK(log_has("ERROR    [WebhooksManager:2] <queue:  2> Webhook worker(id-2, "
		      "type-\"events\") Gave up batch(len-1, type-\"events\") after 3 attempts: "
		      "['4267685965791894192']"));
	CHECK(log_contains("sent batch(len-1, type-\"events\"): ['next']"));
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.dead_lettered, 1);
	CHECK_EQ(st.dead_letters_pending, 0);
	CHECK_EQ(st.sent, 1);
	CHECK_EQ(st.failed_attempts, 3);
	CHECK_EQ(Q.head, 2);
	fini();
}

EH_TEST(dead_letter_kept_until_published)
{
	struct eh_delivery_wstats st;
	uint64_t first_tag;

	rig(1, 1048576, 1);
	fq_add("{\"id\":\"dl\"}");
	fq_add("{\"id\":\"after\"}");
	eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	dl_result = EH_ERR_CLOSED; /* the broker is away */
	start();
	run();
	CHECK_EQ(fk.requests, 1);
	CHECK_EQ(dl_count, 0);
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.dead_letters_pending, 1);
	CHECK(strstr(st.last_error, "dead letter not published") != NULL);
	advance(1000); /* retried after 1 s, 2 s, 4 s ... while refused */
	advance(2000);
	CHECK_EQ(dl_count, 0);
	CHECK_EQ(Q.head, 0);
	dl_result = EH_OK; /* back: the next try publishes it */
	advance(4000);
	CHECK_EQ(dl_count, 1);
	CHECK(dl_len == strlen("[{\"webhook_type\":\"events\",\"id\":\"dl\"}]"));
	first_tag = dl_tag;
	/* The broker refuses it: published again (a new tag), never acked. */
	eh_delivery_deadletter_done(&D, first_tag, false);
	run();
	CHECK_EQ(Q.head, 0);
	advance(8000);
	CHECK_EQ(dl_count, 2);
	CHECK(dl_tag != first_tag);
	eh_delivery_deadletter_done(&D, first_tag, true); /* stale: ignored */
	run();
	CHECK_EQ(Q.head, 0);
	eh_delivery_deadletter_done(&D, dl_tag, true);
	run();
	CHECK_EQ(Q.head, 2); /* the dead letter left, then "after" was sent */
	CHECK_EQ(fk.requests, 2);
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.dead_lettered, 1);
	CHECK_EQ(st.dead_letters_pending, 0);
	fini();
}

EH_TEST(dead_letter_without_answer_is_published_again)
{
	rig(1, 1048576, 1);
	fq_add("{\"id\":\"dl\"}");
	eh_transport_fake_add(&fk, R405, EH_OK);
	start();
	run();
	CHECK_EQ(dl_count, 1);
	advance(60000); /* no PUBACK within a minute */
	CHECK_EQ(dl_count, 2);
	CHECK_EQ(Q.head, 0);
	eh_delivery_deadletter_done(&D, dl_tag, true);
	run();
	CHECK_EQ(Q.head, 1);
	fini();
}

/* A record the renderer refuses goes to the dead letter as stored. */
EH_TEST(unrenderable_record_is_dead_lettered_with_its_bytes)
{
	struct eh_delivery_wstats st;

	rig(5, 1048576, 3);
	fq_add("[not an object]");
	fq_add("{\"id\":\"ok\"}");
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 0);
	CHECK_EQ(dl_count, 1);
	CHECK(dl_len == strlen("[[not an object]]") &&
	      memcmp(dl_body, "[[not an object]]", dl_len) == 0);
	CHECK_EQ(Q.head, 0);
	eh_delivery_deadletter_done(&D, dl_tag, true);
	run();
	CHECK_EQ(Q.head, 2);
	CHECK_EQ(fk.requests, 1);
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.dead_lettered, 1);
	CHECK_EQ(st.sent, 1);
	fini();
}

/* The app kicks the worker from inside the ack of its own batch: the
 * completion finishes first, then one next batch goes out, and its retry
 * is the same batch (same records, same key) even when more arrived. */
EH_TEST(kick_inside_ack_starts_no_second_post)
{
	const char *h, *b;
	size_t hl, bl;
	char k1[EH_DELIVERY_KEY_MAX], k2[EH_DELIVERY_KEY_MAX];
	static const char two[] = "[{\"webhook_type\":\"events\",\"id\":\"k3\"},"
				  "{\"webhook_type\":\"events\",\"id\":\"k4\"}]";

	rig(3, 1048576, 3);
	kick_in_ack = true;
	for (int i = 0; i < 5; i++) {
		char raw[32];
		snprintf(raw, sizeof(raw), "{\"id\":\"k%d\"}", i);
		fq_add(raw);
	}
	eh_transport_fake_add(&fk, R200, EH_OK);
	eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 2);
	fq_add("{\"id\":\"k5\"}"); /* arrives while the second batch waits to retry */
	advance(729);
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(Q.head, 5);
	REQUIRE(request_at(1, &h, &hl, &b, &bl));
	REQUIRE(head_value(h, hl, "X-Edgehook-Batch", k1, sizeof(k1)));
	CHECK(bl == strlen(two) && memcmp(b, two, bl) == 0);
	REQUIRE(request_at(2, &h, &hl, &b, &bl));
	REQUIRE(head_value(h, hl, "X-Edgehook-Batch", k2, sizeof(k2)));
	CHECK(strcmp(k1, k2) == 0);
	CHECK(bl == strlen(two) && memcmp(b, two, bl) == 0);
	fini();
}

EH_TEST(drain_lets_the_post_in_flight_finish_and_starts_none)
{
	rig(1, 1048576, 3);
	fq_add("{\"id\":\"a\"}");
	fq_add("{\"id\":\"b\"}");
	fk.hold = true; /* the receiver is slow */
	eh_transport_fake_add(&fk, R200, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK(memmem(fk.tx, fk.tx_len, "POST ", 5) != NULL);
	CHECK_EQ(eh_delivery_drain(&D), 1);
	fk.hold = false;
	run();
	CHECK_EQ(Q.head, 1);	  /* acked */
	CHECK_EQ(fk.requests, 1); /* "b" waits for the next start */
	CHECK_EQ(eh_delivery_drain(&D), 0);
	fini();
}

EH_TEST(retry_after_replaces_the_wait_and_is_capped)
{
	struct eh_delivery_wstats st;

	rig(1, 1048576, 0);
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk,
			      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
			      "Content-Length: 0\r\n\r\n",
			      EH_OK);
	eh_transport_fake_add(&fk,
			      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 500\r\n"
			      "Content-Length: 0\r\n\r\n",
			      EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK(log_has("WARNING  [WebhooksManager:2] <queue:  1> Webhook worker(id-2, "
		      "type-\"events\") Error sending webhook: 429, message='Too Many Requests'. "
		      "Attempt 2 out of unlimited. Next attempt in 7.000 seconds."));
	eh_delivery_stats(&D, 0, &st);
	CHECK_EQ(st.next_attempt_in_ms, 7000);
	advance(7000);
	CHECK_EQ(fk.requests, 2);
	CHECK(log_contains("503, message='Service Unavailable'. Attempt 3 out of unlimited. "
			   "Next attempt in 100.000 seconds."));
	advance(99999);
	CHECK_EQ(fk.requests, 2);
	advance(1);
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(Q.head, 1);
	fini();
}

EH_TEST(retry_after_http_date)
{
	rig(1, 1048576, 0);
	fq_add("{\"id\":\"x\"}");
	/* wall clock: 1700000000.123 = Tue, 14 Nov 2023 22:13:20 GMT */
	eh_transport_fake_add(&fk,
			      "HTTP/1.1 503 Busy\r\nRetry-After: Tue, 14 Nov 2023 22:13:32 GMT\r\n"
			      "Content-Length: 0\r\n\r\n",
			      EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK(log_contains("Next attempt in 12.000 seconds."));
	fini();
}

/* Retry-After: 0, or a date already past, must not turn an endless retry
 * (max_attempts 0) into a loop as fast as the receiver answers: the wait is
 * at least EH_DELIVERY_RETRY_AFTER_MIN_MS. */
EH_TEST(retry_after_zero_or_past_is_floored)
{
	rig(1, 1048576, 0);
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(
	    &fk, "HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n", EH_OK);
	/* wall clock: 22:13:20 GMT; this date is 20 s in the past */
	eh_transport_fake_add(&fk,
			      "HTTP/1.1 429 Slow Down\r\nRetry-After: Tue, 14 Nov 2023 22:13:00 GMT"
			      "\r\nContent-Length: 0\r\n\r\n",
			      EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 1);
	CHECK(log_contains("503, message='Busy'. Attempt 2 out of unlimited. "
			   "Next attempt in 1.000 seconds."));
	advance(999);
	CHECK_EQ(fk.requests, 1);
	advance(1);
	CHECK_EQ(fk.requests, 2);
	CHECK(log_contains("429, message='Slow Down'. Attempt 3 out of unlimited. "
			   "Next attempt in 1.000 seconds."));
	advance(999);
	CHECK_EQ(fk.requests, 2);
	advance(1);
	CHECK_EQ(fk.requests, 3);
	CHECK_EQ(Q.head, 1);
	fini();
}

EH_TEST(connection_errors_are_failed_attempts)
{
	rig(1, 1048576, 2);
	fq_add("{\"id\":\"x\"}");
	fk.connect_result = EH_ERR_NET;
	start();
	run();
	CHECK(log_has("WARNING  [WebhooksManager:2] <queue:  1> Webhook worker(id-2, "
		      "type-\"events\") Error sending webhook: fake connect failure. Attempt 2 "
		      "out of 2. Next attempt in 0.729 seconds."));
	advance(729);
	CHECK(log_contains("Gave up batch(len-1, type-\"events\") after 2 attempts: ['x']"));
	CHECK_EQ(dl_count, 1);
	fini();
}

EH_TEST(signature_is_standard_webhooks)
{
	const char *h, *b;
	size_t hl, bl;
	char id[128], ts[32], sig[128], want[128], b64[64];
	uint8_t mac[EH_SHA256_LEN];
	size_t blen;

	rig(1, 1048576, 10);
	W.has_secret = true;
	memcpy(W.secret, "0123456789abcdef0123456789abcdef", 32);
	W.secret_len = 32;
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	REQUIRE(request_at(0, &h, &hl, &b, &bl));
	REQUIRE(head_value(h, hl, "webhook-id", id, sizeof(id)));
	REQUIRE(head_value(h, hl, "webhook-timestamp", ts, sizeof(ts)));
	REQUIRE(head_value(h, hl, "webhook-signature", sig, sizeof(sig)));
	CHECK_STR(id, "0123456789abcdef-2-events-100");
	CHECK_STR(ts, "1700000000");
	{
		const uint8_t *parts[] = {(const uint8_t *)id, (const uint8_t *)".",
					  (const uint8_t *)ts, (const uint8_t *)".",
					  (const uint8_t *)b};
		size_t lens[] = {strlen(id), 1, strlen(ts), 1, bl};
		REQUIRE(eh_crypto_hmac_sha256(W.secret, W.secret_len, parts, lens, 5, mac) ==
			EH_OK);
	}
	REQUIRE(eh_crypto_base64_encode(mac, sizeof(mac), b64, sizeof(b64), &blen) == EH_OK);
	snprintf(want, sizeof(want), "v1,%s", b64);
	CHECK_STR(sig, want);
	CHECK(!log_contains("0123456789abcdef0123"));
	fini();
}

EH_TEST(config_change_applies_from_next_attempt)
{
	const char *h, *b;
	size_t hl, bl;
	char v[128];

	rig(1, 1048576, 10);
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk, R405, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	snprintf(W.headers[0].value, sizeof(W.headers[0].value), "Bearer new");
	snprintf(W.url.path, sizeof(W.url.path), "/v2");
	eh_delivery_set_webhook(&D, 0, &W); /* same id and gen: a change */
	advance(729);
	REQUIRE(request_at(1, &h, &hl, &b, &bl));
	CHECK(memcmp(h, "POST /v2 ", 9) == 0);
	CHECK(head_value(h, hl, "Authorization", v, sizeof(v)) && strcmp(v, "Bearer new") == 0);
	fini();
}

EH_TEST(deleted_webhook_stops_and_abandons)
{
	struct eh_delivery_wstats st;

	rig(1, 1048576, 10);
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk, "HTTP/1.1 200 OK\r\n", EH_ERR_AGAIN); /* stall */
	start();
	run();
	eh_delivery_stats(&D, 0, &st);
	CHECK(st.in_flight);
	eh_delivery_set_webhook(&D, 0, NULL);
	eh_delivery_stats(&D, 0, &st);
	CHECK(!st.in_flight);
	advance(20000);
	CHECK_EQ(Q.acks, 0);
	CHECK_EQ(fk.requests, 1);
	CHECK(!log_contains("Error sending"));
	fini();
}

EH_TEST(inactive_webhook_keeps_its_queue)
{
	rig(1, 1048576, 10);
	W.active = false;
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(fk.requests, 0);
	W.active = true;
	eh_delivery_set_webhook(&D, 0, &W);
	run();
	CHECK_EQ(fk.requests, 1);
	CHECK_EQ(Q.head, 1);
	fini();
}

EH_TEST(stop_abandons_in_flight_post)
{
	rig(1, 1048576, 10);
	fq_add("{\"id\":\"x\"}");
	eh_transport_fake_add(&fk, "HTTP/1.1 200 OK\r\n", EH_ERR_AGAIN);
	start();
	run();
	eh_delivery_stop(&D);
	advance(20000);
	CHECK_EQ(Q.acks, 0); /* re-sent after restart, with the same key */
	eh_delivery_kick(&D, 0, EH_TYPE_EVENTS);
	run();
	CHECK_EQ(fk.requests, 1);
	fini();
}

/* ==== More workers than senders ==== */

#define NSLOT 6
#define PER_SLOT 5
static size_t head2[NSLOT];
static char raw2[NSLOT][PER_SLOT][32];

static eh_err peek2(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		    size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (slot >= NSLOT || type != EH_TYPE_EVENTS)
		return EH_OK;
	for (size_t i = head2[slot]; i < PER_SLOT && *n < max; i++) {
		items[*n].seq = i + 1;
		items[*n].raw = (const uint8_t *)raw2[slot][i];
		items[*n].len = strlen(raw2[slot][i]);
		(*n)++;
	}
	return EH_OK;
}

static eh_err ack2(void *ctx, unsigned slot, unsigned type, uint64_t upto)
{
	(void)ctx;
	(void)type;
	head2[slot] = (size_t)upto;
	return EH_OK;
}

static uint64_t lag2(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	return (slot < NSLOT && type == EH_TYPE_EVENTS) ? PER_SLOT - head2[slot] : 0;
}

static const struct eh_delivery_source_ops ops2 = {peek2, ack2, lag2};
static struct eh_transport tr4[EH_HTTPS_MAX_CONNS];
static struct eh_transport_fake fk4[EH_HTTPS_MAX_CONNS];
static struct eh_webhook W6[NSLOT];

static struct eh_transport *factory4(void *ctx, unsigned idx,
				     const struct eh_transport_route *route)
{
	(void)ctx;
	(void)route;
	return &tr4[idx];
}

static const struct eh_transport_factory_ops factory4_ops = {factory4, NULL, NULL, NULL};

EH_TEST(more_workers_than_senders_all_deliver)
{
	struct eh_delivery_config c;
	unsigned requests = 0;

	eh_log_set_sink(sink, NULL);
	nlines = 0;
	fclk.mono_ms = 1000;
	eh_clock_fake_init(&clk, &fclk);
	eh_loop_init(&loop, &clk);
	memset(head2, 0, sizeof(head2));
	for (unsigned s = 0; s < NSLOT; s++)
		for (unsigned i = 0; i < PER_SLOT; i++)
			snprintf(raw2[s][i], sizeof(raw2[s][i]), "{\"id\":\"%u-%u\"}", s, i);
	for (unsigned k = 0; k < EH_HTTPS_MAX_CONNS; k++) {
		memset(&fk4[k], 0, sizeof(fk4[k]));
		for (unsigned i = 0; i < NSLOT * PER_SLOT; i++)
			eh_transport_fake_add(&fk4[k], R200, EH_OK);
		eh_transport_fake_init(&tr4[k], &fk4[k]);
	}
	memset(&c, 0, sizeof(c));
	c.loop = &loop;
	c.clock = &clk;
	c.source = &ops2;
	c.render = copy_render;
	c.note_id = id_of;
	c.transport = &factory4_ops;
	REQUIRE(eh_delivery_init(&D, &c) == EH_OK);
	for (unsigned s = 0; s < NSLOT; s++) {
		memset(&W6[s], 0, sizeof(W6[s]));
		W6[s].id = 11 + s;
		W6[s].gen = 1;
		W6[s].active = s != 1; /* slot 1 is inactive: it must not hold a sender */
		W6[s].url.tls = true;
		snprintf(W6[s].url.host, sizeof(W6[s].url.host), "h%u.example", s);
		W6[s].url.port = 443;
		snprintf(W6[s].url.path, sizeof(W6[s].url.path), "/");
		W6[s].batch_size = 1;
		W6[s].batch_max_bytes = 1000;
		W6[s].max_attempts = 10;
		W6[s].timeout_s = 5;
	}
	for (unsigned s = 0; s < NSLOT; s++)
		eh_delivery_set_webhook(&D, s, &W6[s]);
	run();
	for (unsigned s = 0; s < NSLOT; s++)
		CHECK_EQ(head2[s], s == 1 ? 0 : PER_SLOT);
	for (unsigned k = 0; k < EH_HTTPS_MAX_CONNS; k++)
		requests += fk4[k].requests;
	CHECK_EQ(requests, (NSLOT - 1) * PER_SLOT);
	W6[1].active = true;
	eh_delivery_set_webhook(&D, 1, &W6[1]);
	run();
	CHECK_EQ(head2[1], PER_SLOT);
	CHECK(log_contains("Webhook worker(id-12, type-\"events\") sent batch(len-1, "
			   "type-\"events\"): ['1-4']"));
	fini();
}

/* ==== Proxy routes ==== */

EH_TEST(no_proxy_matching)
{
	static const char *const l[] = {"localhost", ".corp.example", "hooks.example", "10.1.2.3",
					"::1"};

	CHECK(eh_delivery_no_proxy_match(l, 5, "localhost"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "LOCALHOST"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "corp.example"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "a.b.corp.example"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "hooks.example"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "eu.hooks.example"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "10.1.2.3"));
	CHECK(eh_delivery_no_proxy_match(l, 5, "::1"));
	CHECK(!eh_delivery_no_proxy_match(l, 5, "badhooks.example"));
	CHECK(!eh_delivery_no_proxy_match(l, 5, "xcorp.example"));
	CHECK(!eh_delivery_no_proxy_match(l, 5, "10.1.2.33"));
	CHECK(!eh_delivery_no_proxy_match(l, 5, "example"));
	CHECK(!eh_delivery_no_proxy_match(l, 0, "localhost"));
	static const char *const all[] = {"*"};
	CHECK(eh_delivery_no_proxy_match(all, 1, "anything.example"));
}

/* One POST of a new webhook in slot 0; the route it asked for. */
static void one_post(void)
{
	fq_add("{\"id\":\"1\"}");
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
}

EH_TEST(route_follows_webhook_proxy_gateway_and_no_proxy)
{
	static const char *const np[] = {".example"};

	rig_proxy = "gw-proxy";
	rig(1, 1048576, 10);
	one_post();
	CHECK_STR(seen_proxy, "gw-proxy");
	CHECK_EQ(seen_proxy_port, 3128);
	CHECK_EQ(Q.head, 1);
	fini();

	rig_np = np;
	rig_nnp = 1;
	rig(1, 1048576, 10);
	one_post();
	CHECK_STR(seen_proxy, "(direct)"); /* hooks.example is under .example */
	fini();
	rig_np = NULL;
	rig_nnp = 0;

	rig(1, 1048576, 10);
	W.proxy = EH_WEBHOOK_PROXY_DIRECT;
	one_post();
	CHECK_STR(seen_proxy, "(direct)");
	fini();

	rig_np = np; /* a webhook's own proxy wins over no_proxy */
	rig_nnp = 1;
	rig(1, 1048576, 10);
	W.proxy = EH_WEBHOOK_PROXY_URL;
	snprintf(W.proxy_host, sizeof(W.proxy_host), "site-proxy");
	W.proxy_port = 8080;
	one_post();
	CHECK_STR(seen_proxy, "site-proxy");
	CHECK_EQ(seen_proxy_port, 8080);
	fini();
	rig_np = NULL;
	rig_nnp = 0;
	rig_proxy = NULL;
}

EH_TEST(a_kept_connection_is_not_reused_for_another_route)
{
	rig_proxy = "gw-proxy";
	rig(1, 1048576, 10);
	fq_add("{\"id\":\"1\"}");
	eh_transport_fake_add(&fk, R200, EH_OK);
	eh_transport_fake_add(&fk, R200, EH_OK);
	start();
	run();
	CHECK_EQ(seen_routes, 1);
	CHECK_EQ(Q.head, 1);
	/* the same webhook now goes direct: a new connection, not the kept one */
	W.proxy = EH_WEBHOOK_PROXY_DIRECT;
	eh_delivery_set_webhook(&D, 0, &W);
	fq_add("{\"id\":\"2\"}");
	eh_delivery_kick(&D, 0, 0);
	run();
	CHECK_EQ(Q.head, 2);
	CHECK_EQ(seen_routes, 2);
	CHECK_STR(seen_proxy, "(direct)");
	CHECK_EQ(fk.connects, 2);
	fini();
	rig_proxy = NULL;
}

EH_TEST(a_webhook_whose_certificate_did_not_load_fails_its_attempts)
{
	rig(1, 1048576, 1);
	/* no TLS pool of its own (fake transports): the files cannot load */
	snprintf(W.client_cert_file, sizeof(W.client_cert_file), "/etc/eh/gw.crt");
	snprintf(W.client_key_file, sizeof(W.client_key_file), "/etc/eh/gw.key");
	one_post();
	CHECK_EQ(fk.connects, 0);
	CHECK_EQ(dl_count, 1);
	struct eh_delivery_wstats st;
	eh_delivery_stats(&D, 0, &st);
	CHECK_STR(st.last_error, "client certificate: no TLS context");
	fini();
}

EH_TEST(attempts_wait_for_a_sane_clock)
{
	struct eh_delivery_wstats st;

	/* A box that booted without a real-time clock reads 1970. */
	rig_not_before_s = 1700000000ull;
	rig(10, 1048576, 3);
	rig_not_before_s = 0;
	fclk.wall_ms = 0;
	fq_add("{\"id\":\"a\"}");
	start();
	eh_transport_fake_add(&fk, R200, EH_OK);
	run();
	advance(5000);
	CHECK_EQ(fk.connects, 0);
	CHECK_EQ(Q.acks, 0);
	eh_delivery_stats(&D, 0, &st);
	CHECK_STR(st.last_error, "waiting for clock");
	CHECK_EQ(st.failed_attempts, 0);
	/* Time sync sets the clock: delivery starts by itself. */
	fclk.wall_ms = 1700000000000ull + 60000;
	advance(EH_DELIVERY_CLOCK_CHECK_MS);
	CHECK_EQ(fk.connects, 1);
	CHECK_EQ(Q.head, 1);
	eh_delivery_stats(&D, 0, &st);
	CHECK_STR(st.last_error, "");
	CHECK_EQ(st.failed_attempts, 0);
	fini();
}

EH_TEST(identities_and_ca_reload_come_from_the_injected_factory)
{
	id_loaded[0] = '\0';
	id_refs = id_puts = ca_reloads = 0;
	rig_factory = &full_factory_ops;
	rig(1, 1048576, 1);
	snprintf(W.client_cert_file, sizeof(W.client_cert_file), "/etc/eh/gw.crt");
	snprintf(W.client_key_file, sizeof(W.client_key_file), "/etc/eh/gw.key");
	one_post();
	CHECK_STR(id_loaded, "/etc/eh/gw.crt");
	CHECK_EQ(seen_identity, 5); /* the connection presents the factory's handle */
	CHECK_EQ(Q.head, 1);
	CHECK(eh_delivery_reload_ca(&D, "/etc/eh/ca.pem") == EH_OK);
	CHECK_EQ(ca_reloads, 1);
	fini(); /* stops: every handle goes back */
	CHECK_EQ(id_puts, id_refs);
	rig_factory = &fake_factory_ops;
	/* a factory without CA reload refuses it */
	rig(1, 1048576, 1);
	CHECK(eh_delivery_reload_ca(&D, "/etc/eh/ca.pem") == EH_ERR_INVAL);
	fini();
}
