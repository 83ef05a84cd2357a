/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_status_pub.c - the status publisher over fake sources, a capturing sink and a
 * hand-moved clock: P/status and webhook states published on change only (the uptime is
 * no change), all of them when forced, one webhook's state alone when only it changed;
 * nothing while disconnected; the watchdog; the oldest undelivered age; every document at
 * its widest (32 webhooks with 10-digit ids, counters at UINT64_MAX) fits, and a buffer
 * too small gives an empty answer, never an overflow. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <cjson/cJSON.h>

#include "eh_loop.h"
#include "eh_status_pub.h"

/* ==== Fakes ==== */

/* What the sources report: the test edits it between ticks. */
struct world {
	struct eh_status_ingest in;
	struct eh_status_config config;
	struct eh_status_queue queue;
	uint64_t drops[EH_MAX_WEBHOOKS];
	bool connected;
	uint64_t reconnects;
	uint32_t ids[EH_MAX_WEBHOOKS];
	bool active[EH_MAX_WEBHOOKS];
	struct eh_status_slot slots[EH_MAX_WEBHOOKS];
	uint64_t lag[EH_MAX_WEBHOOKS][EH_TYPE_COUNT];
	uint64_t cursor[EH_MAX_WEBHOOKS][EH_TYPE_COUNT];
};

#define MAX_PUBS 128
struct sink {
	unsigned n; /* publishes since the last reset */
	struct {
		char topic[EH_STATUS_PUB_TOPIC_MAX];
		char body[EH_STATUS_PUB_DOC_MAX];
		size_t len;
	} pub[MAX_PUBS];
	unsigned changed, alive;
};

static struct world W;
static struct sink S;
static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_loop loop;
static struct eh_status_pub P;

static void f_ingest(void *ctx, struct eh_status_ingest *out)
{
	*out = ((struct world *)ctx)->in;
}

static void f_config(void *ctx, struct eh_status_config *out)
{
	*out = ((struct world *)ctx)->config;
}

static void f_queue(void *ctx, struct eh_status_queue *out, uint64_t drops[EH_MAX_WEBHOOKS])
{
	struct world *w = ctx;
	*out = w->queue;
	memcpy(drops, w->drops, sizeof(w->drops));
}

static bool f_mqtt(void *ctx, uint64_t *reconnects)
{
	struct world *w = ctx;
	*reconnects = w->reconnects;
	return w->connected;
}

static uint32_t f_webhook(void *ctx, unsigned slot, bool *active)
{
	struct world *w = ctx;
	*active = w->active[slot];
	return w->ids[slot];
}

static void f_slot(void *ctx, unsigned slot, struct eh_status_slot *out)
{
	*out = ((struct world *)ctx)->slots[slot];
}

static uint64_t f_lag(void *ctx, unsigned slot, unsigned type)
{
	return ((struct world *)ctx)->lag[slot][type];
}

static uint64_t f_cursor(void *ctx, unsigned slot, unsigned type)
{
	return ((struct world *)ctx)->cursor[slot][type];
}

static const struct eh_status_pub_sources sources = {f_ingest,	f_config, f_queue, f_mqtt,
						     f_webhook, f_slot,	  f_lag,   f_cursor};

static void k_publish(void *ctx, const char *topic, const char *body, size_t len)
{
	struct sink *s = ctx;
	CHECK(len > 0 && len < EH_STATUS_PUB_DOC_MAX);
	if (s->n < MAX_PUBS) {
		snprintf(s->pub[s->n].topic, sizeof(s->pub[s->n].topic), "%s", topic);
		memcpy(s->pub[s->n].body, body, len);
		s->pub[s->n].body[len] = '\0';
		s->pub[s->n].len = len;
	}
	s->n++;
}

static void k_changed(void *ctx)
{
	((struct sink *)ctx)->changed++;
}

static void k_alive(void *ctx)
{
	((struct sink *)ctx)->alive++;
}

static const struct eh_status_pub_sink sink = {k_publish, k_changed, k_alive};

/* ==== Helpers ==== */

static void setup(uint64_t watchdog_ms)
{
	struct eh_status_pub_config c = {
	    .loop = &loop,
	    .src = &sources,
	    .src_ctx = &W,
	    .sink = &sink,
	    .sink_ctx = &S,
	    .topic_prefix = "edgehook/gw-01",
	    .version = "1.2.3",
	    .device_id = "gw-01",
	    .watchdog_ms = watchdog_ms,
	};
	memset(&W, 0, sizeof(W));
	memset(&S, 0, sizeof(S));
	W.queue.full_policy = "drop_oldest";
	W.connected = true;
	fclk.mono_ms = 5000;
	fclk.wall_ms = 1765000000000ull; /* 2025-12-06T05:46:40Z */
	eh_clock_fake_init(&clk, &fclk);
	REQUIRE(eh_loop_init(&loop, &clk) == EH_OK);
	eh_loop_run_once(&loop, 0); /* read the clock */
	eh_status_pub_init(&P, &c);
	REQUIRE(eh_status_pub_start(&P) == EH_OK);
}

static void fini(void)
{
	eh_status_pub_stop(&P);
	eh_loop_deinit(&loop);
}

static void advance(uint64_t ms)
{
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	for (int i = 0; i < 4; i++)
		eh_loop_run_once(&loop, 0);
}

/* How many publishes since the reset went to topic. */
static unsigned count(const char *topic)
{
	unsigned k = 0;
	for (unsigned i = 0; i < S.n && i < MAX_PUBS; i++)
		k += strcmp(S.pub[i].topic, topic) == 0;
	return k;
}

static const char *last_body(const char *topic)
{
	for (unsigned i = S.n < MAX_PUBS ? S.n : MAX_PUBS; i-- > 0;)
		if (strcmp(S.pub[i].topic, topic) == 0)
			return S.pub[i].body;
	return ""; /* never published: every strstr on it fails */
}

static void hook(unsigned slot, uint32_t id)
{
	W.ids[slot] = id;
	W.active[slot] = true;
}

/* ==== Tests ==== */

EH_TEST(publishes_on_change_only)
{
	setup(0);
	hook(0, 7);
	advance(999);
	CHECK_EQ(S.n, 0); /* not before the first period */
	advance(1);
	CHECK_EQ(count("edgehook/gw-01/status"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 1);
	CHECK_EQ(S.changed, 1);
	const char *st = last_body("edgehook/gw-01/status");
	CHECK(strstr(st, "\"uptime_s\":1,") != NULL);
	CHECK(strstr(st, "\"device_id\":\"gw-01\"") != NULL);

	/* A second and a minute pass with nothing new: the uptime alone is no change. */
	S.n = 0;
	advance(1000);
	advance(60000);
	CHECK_EQ(S.n, 0);

	/* A counter moves: P/status only. */
	W.in.messages = 3;
	advance(1000);
	CHECK_EQ(count("edgehook/gw-01/status"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 0);
	CHECK(strstr(last_body("edgehook/gw-01/status"), "\"messages\":3,") != NULL);
	CHECK(strstr(last_body("edgehook/gw-01/status"), "\"uptime_s\":63,") != NULL);
	CHECK_EQ(S.changed, 2);
	fini();
}

EH_TEST(nothing_while_disconnected_and_all_when_forced)
{
	setup(0);
	hook(0, 7);
	hook(5, 12);
	W.connected = false;
	advance(3000);
	CHECK_EQ(S.n, 0);
	/* The connection comes: forced, everything goes out. */
	W.connected = true;
	eh_status_pub_publish(&P, true);
	CHECK_EQ(count("edgehook/gw-01/status"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/12/state"), 1);
	CHECK(strstr(last_body("edgehook/gw-01/status"), "\"connected\":true") != NULL);
	/* Forced again with nothing changed: again everything (the retained copies on a
	 * new connection may be stale). */
	S.n = 0;
	eh_status_pub_publish(&P, true);
	CHECK_EQ(S.n, 3);
	/* And the timer then finds nothing new. */
	S.n = 0;
	advance(1000);
	CHECK_EQ(S.n, 0);
	fini();
}

EH_TEST(a_webhook_state_only_when_that_webhook_changed)
{
	setup(0);
	hook(0, 7);
	hook(1, 8);
	hook(31, 4000000031u);
	advance(1000);
	CHECK_EQ(S.n, 4);

	S.n = 0;
	W.slots[1].sent = 50;
	advance(1000);
	/* P/status carries the delivery totals, so it changes too; webhook 7 and the
	 * last one do not. */
	CHECK_EQ(count("edgehook/gw-01/webhooks/8/state"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 0);
	CHECK_EQ(count("edgehook/gw-01/webhooks/4000000031/state"), 0);
	CHECK(strstr(last_body("edgehook/gw-01/webhooks/8/state"), "\"sent\":50,") != NULL);

	/* A queue figure of one webhook only: its state, not P/status. */
	S.n = 0;
	W.lag[31][2] = 4;
	advance(1000);
	CHECK_EQ(S.n, 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/4000000031/state"), 1);

	/* A drop in slot 0 moves the queue's total and webhook 7's state. */
	S.n = 0;
	W.drops[0] = 2;
	advance(1000);
	CHECK_EQ(count("edgehook/gw-01/status"), 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 1);
	CHECK_EQ(S.n, 2);
	CHECK(strstr(last_body("edgehook/gw-01/status"), "\"dropped\":2,") != NULL);

	/* Webhook 8 deleted and created again the same in its slot: its retained state
	 * was cleared, so it is published again although the figures are the same. */
	S.n = 0;
	eh_status_pub_forget(&P, 1);
	advance(1000);
	CHECK_EQ(S.n, 1);
	CHECK_EQ(count("edgehook/gw-01/webhooks/8/state"), 1);

	/* An empty slot is never published. */
	S.n = 0;
	W.ids[0] = 0;
	W.slots[0].sent = 9;
	advance(1000);
	CHECK_EQ(count("edgehook/gw-01/webhooks/7/state"), 0);
	fini();
}

EH_TEST(watchdog_every_period)
{
	setup(250);
	advance(249);
	CHECK_EQ(S.alive, 0);
	advance(1);
	CHECK_EQ(S.alive, 1);
	advance(250);
	advance(250);
	CHECK_EQ(S.alive, 3);
	eh_status_pub_stop(&P);
	advance(1000);
	CHECK_EQ(S.alive, 3);
	CHECK_EQ(S.n, 0); /* the change timer is stopped too */
	fini();
}

EH_TEST(oldest_undelivered_age)
{
	char buf[65536];
	size_t n;

	setup(0);
	hook(2, 42);
	/* Records 1..10 appended now, 11..20 ten seconds later; the worker peeked 5. */
	for (uint64_t s = 1; s <= 10; s++)
		eh_status_pub_appended(&P, s, eh_loop_now(&loop));
	advance(10000);
	for (uint64_t s = 11; s <= 20; s++)
		eh_status_pub_appended(&P, s, eh_loop_now(&loop));
	W.lag[2][0] = 16;
	W.cursor[2][0] = 4;
	eh_status_pub_peeked(&P, 2, 0, 5);
	advance(5000);
	n = eh_status_pub_metrics(&P, buf, sizeof(buf));
	REQUIRE(n > 0);
	CHECK(strstr(buf,
		     "edgehook_webhook_oldest_age_seconds{webhook=\"42\",type=\"events\"} 15\n") !=
	      NULL);
	CHECK(strstr(buf, "edgehook_webhook_queue_depth{webhook=\"42\",type=\"events\"} 16\n") !=
	      NULL);
	CHECK(strstr(buf,
		     "edgehook_webhook_oldest_age_seconds{webhook=\"42\",type=\"episodes\"} 0\n") !=
	      NULL);
	/* The cursor passed the peek (acked): the first after the cursor is dated. */
	W.cursor[2][0] = 12;
	W.lag[2][0] = 8;
	n = eh_status_pub_metrics(&P, buf, sizeof(buf));
	CHECK(strstr(buf,
		     "edgehook_webhook_oldest_age_seconds{webhook=\"42\",type=\"events\"} 5\n") !=
	      NULL);
	/* The state names the time (wall clock at the start + 10 s). */
	REQUIRE(eh_status_pub_webhook_json(&P, 42, buf, sizeof(buf), &n) == EH_OK);
	CHECK(strstr(buf, "\"oldest_undelivered_at\":\"2025-12-06T05:46:50Z\"") != NULL);
	CHECK(eh_status_pub_webhook_json(&P, 43, buf, sizeof(buf), &n) == EH_ERR_NOENT);
	CHECK(eh_status_pub_webhook_json(&P, 0, buf, sizeof(buf), &n) == EH_ERR_NOENT);
	fini();
}

/* Every figure at its widest. */
static void widest(void)
{
	const uint64_t M = UINT64_MAX;
	W.in = (struct eh_status_ingest){M, M, M, M, M, M, M, M};
	W.config = (struct eh_status_config){M, M, M, 4294967295u, 4294967295u, true};
	W.queue = (struct eh_status_queue){M, M, M, M, M, M, M, "drop_oldest"};
	W.reconnects = M;
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		struct eh_status_slot *st = &W.slots[s];
		hook(s, 4294967295u - s);
		W.drops[s] = M / EH_MAX_WEBHOOKS;
		st->sent = st->failed_attempts = st->dead_lettered = M;
		st->dead_letters_pending = M;
		/* The longest error, all control bytes: six bytes each once escaped. */
		memset(st->last_error, 0x01, sizeof(st->last_error) - 1);
		st->last_error[sizeof(st->last_error) - 1] = '\0';
		st->last_error_ms = st->last_success_ms = st->next_attempt_at_ms =
		    253402300799000ull; /* 9999-12-31T23:59:59Z */
		st->attempt = 4294967295u;
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
			W.lag[s][t] = M;
			st->by_type[t].sent = st->by_type[t].failed_attempts = M;
			st->by_type[t].dead_lettered = M;
		}
	}
}

static bool is_json(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	bool ok = j != NULL;
	cJSON_Delete(j);
	return ok;
}

EH_TEST(every_document_at_its_widest_fits)
{
	static char big[1 << 17];
	static const char dev[] = "a23456789.123456789-123456789_123456789.123456789.123456789.123";
	struct eh_status_pub_config c;

	setup(0);
	/* The longest device id the bootstrap accepts (63 characters). */
	eh_status_pub_stop(&P);
	c = P.cfg;
	c.device_id = dev;
	eh_status_pub_init(&P, &c);
	REQUIRE(eh_status_pub_start(&P) == EH_OK);
	widest();
	advance(1000); /* the timer publishes everything, each checked by the sink */
	CHECK_EQ(S.n, 1 + EH_MAX_WEBHOOKS);
	size_t widest_state = 0;
	for (unsigned i = 0; i < S.n && i < MAX_PUBS; i++) {
		CHECK(is_json(S.pub[i].body));
		if (i > 0 && S.pub[i].len > widest_state)
			widest_state = S.pub[i].len;
	}
	CHECK(strstr(last_body("edgehook/gw-01/webhooks/4294967295/state"),
		     "\"sent\":18446744073709551615") != NULL);
	size_t ns = eh_status_pub_json(&P, big, sizeof(big));
	printf("  widest P/status %zu bytes, webhook state %zu bytes (buffer %d)\n", ns,
	       widest_state, EH_STATUS_PUB_DOC_MAX);
	CHECK(ns > 0 && ns < EH_STATUS_PUB_DOC_MAX);
	CHECK(widest_state > 0 && widest_state < EH_STATUS_PUB_DOC_MAX);
	CHECK(strstr(big, dev) != NULL);

	/* Too small by one: an empty answer, nothing past cap. */
	memset(big, '#', ns + 16);
	CHECK_EQ(eh_status_pub_json(&P, big, ns), 0);
	CHECK(big[0] == '\0');
	for (size_t i = ns; i < ns + 16; i++)
		CHECK(big[i] == '#');
	size_t nw = 0;
	CHECK(eh_status_pub_webhook_json(&P, 4294967295u, big, 64, &nw) == EH_ERR_NOSPC);
	CHECK(big[0] == '\0');
	fini();
}

EH_TEST(metrics_at_their_widest)
{
	static char big[1 << 18];
	size_t n;

	setup(0);
	widest();
	advance(1000);
	n = eh_status_pub_metrics(&P, big, sizeof(big));
	printf("  widest /metrics %zu bytes (the HTTP listener's buffer: 196608)\n", n);
	CHECK(n > 0 && n < 196608);
	CHECK(strlen(big) == n);
	/* Every webhook, every type, five families. */
	unsigned samples = 0;
	for (const char *p = big; (p = strstr(p, "{webhook=\"")) != NULL; p++)
		samples++;
	CHECK_EQ(samples, 5 * EH_MAX_WEBHOOKS * EH_TYPE_COUNT);
	CHECK(strstr(big, "edgehook_webhook_sent_total{webhook=\"4294967264\",type=\"counters\"} "
			  "18446744073709551615\n") != NULL);
	/* Too small by one: empty, nothing past cap. */
	memset(big, '#', n + 16);
	CHECK_EQ(eh_status_pub_metrics(&P, big, n), 0);
	CHECK(big[0] == '\0');
	for (size_t i = n; i < n + 16; i++)
		CHECK(big[i] == '#');
	fini();
}
