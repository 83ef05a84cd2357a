/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_ingest_mqtt.c - the MQTT ingest path without a broker: the MQTT
 * fake (tests/fakes/eh_mqtt_fake.h) feeds the real app/ingest, app/commit
 * and app/queue on the emulated flash, with a hand-moved clock for the
 * group-commit timer. The glue is the daemon's (app/pipeline): a message is
 * offered to ingest, eh_mqtt_done once taken (its slot in the window is
 * free: the journal covers a kill), the on-durable callback (where the
 * daemon tells its journal) after each commit (docs/DURABILITY.md,
 * section 1, steps 1-3); pause and resume follow the
 * held FIFO under `block`, and held input is retried from the loop's
 * tick. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>

#include "eh_commit.h"
#include "eh_flash_emu.h"
#include "eh_ingest.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_mqtt_fake.h"
#include "eh_queue.h"
#include "eh_time.h"

#define BS 16384u
#define BC 8u
#define SZ (BS * BC)
#define TOPIC "edge/in/events"
#define COMMIT_MS 20

static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 4];
static struct eh_flash_emu_op emu_ops[4096];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_loop loop;
static struct eh_commit C;
static struct eh_ingest G;
static struct eh_mqtt M;
static struct eh_mqtt_fake F;

/* What the glue saw. */
static struct {
	unsigned durables;		   /* on-durable calls: the journal told */
	size_t done_at_durable;		   /* F.ndone at the last of them */
	uint64_t durable_seq_at_committed; /* the queue's, when on-durable was called */
	uint64_t last_staged;		   /* seq of the newest staged record */
	unsigned failures;
	bool retry; /* room may have appeared: retry held input at the next tick */
	unsigned connects, disconnects;
	uint64_t published_tag;
	int published_ok; /* -1: no on_published yet */
} S;

/* ==== The daemon's glue ==== */

static uint64_t in_match(void *ctx, const struct eh_note *n)
{
	(void)ctx;
	/* An id "skip..." is wanted by no webhook; the rest by slot 0. */
	if (n->id_len >= 4 && memcmp(n->id, "skip", 4) == 0)
		return 0;
	return 1;
}

static eh_err in_append(void *ctx, unsigned type, uint64_t mask, const uint8_t *raw, size_t len,
			uint64_t hash)
{
	uint64_t seq;
	eh_err rc;

	(void)ctx;
	(void)hash;
	rc = eh_queue_append(&q, type, mask, raw, len, &seq);
	if (rc == EH_OK)
		S.last_staged = seq;
	return rc;
}

static void in_taken(void *ctx, void *msg)
{
	(void)ctx;
	eh_mqtt_done(&M, msg);
	eh_commit_schedule(&C);
}

static void in_pause(void *ctx, bool pause)
{
	(void)ctx;
	if (pause)
		eh_mqtt_pause(&M);
	else
		eh_mqtt_resume(&M);
}

static const struct eh_ingest_ops ingest_ops = {in_match, in_append, NULL, in_taken, in_pause};

static void on_durable(void *ctx)
{
	(void)ctx;
	S.durables++;
	S.durable_seq_at_committed = eh_queue_durable_seq(&q);
	S.done_at_durable = F.ndone;
}

static void on_failed(void *ctx, eh_err rc)
{
	(void)ctx;
	(void)rc;
	S.failures++;
}

static void on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac, struct eh_mqtt_msg *m)
{
	(void)ctx;
	(void)hmac;
	CHECK_STR(topic, TOPIC);
	eh_ingest_offer(&G, EH_TYPE_EVENTS, payload, len, m);
}

static void on_connect(void *ctx, bool session_present)
{
	(void)ctx;
	(void)session_present;
	S.connects++;
}

static void on_disconnect(void *ctx)
{
	(void)ctx;
	S.disconnects++;
}

static void on_published(void *ctx, uint64_t tag, bool ok)
{
	(void)ctx;
	S.published_tag = tag;
	S.published_ok = ok;
}

static void on_wake(struct eh_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	eh_mqtt_poll(&M);
}

static void on_tick(struct eh_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	if (S.retry) {
		S.retry = false;
		eh_ingest_retry(&G);
	}
}

/* ==== Rig ==== */

static void open_queue(enum eh_queue_full_policy policy)
{
	struct eh_queue_config qc;

	memset(&qc, 0, sizeof(qc));
	qc.flash = &fl;
	qc.uid = 7;
	qc.clock = &clk;
	qc.commit_interval_ms = COMMIT_MS;
	qc.full_policy = policy;
	REQUIRE(eh_queue_open(&q, &qc) == EH_OK);
}

static const struct eh_flash_emu_mem emu_mem =
    EH_FLASH_EMU_MEM(dur, cur, logbuf, emu_ops, BS, BC, 512);

static void rig(enum eh_queue_full_policy policy)
{
	static const struct eh_mqtt_handlers h = {on_message, on_connect, on_disconnect,
						  on_published, NULL};
	struct eh_commit_config cc;
	struct eh_mqtt_config mc;

	memset(&S, 0, sizeof(S));
	S.published_ok = -1;
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
	fclk.mono_ms = 1000;
	fclk.wall_ms = 1700000000000ull;
	eh_clock_fake_init(&clk, &fclk);
	REQUIRE(eh_loop_init(&loop, &clk) == EH_OK);
	open_queue(policy);
	memset(&cc, 0, sizeof(cc));
	cc.loop = &loop;
	cc.queue = &q;
	cc.durable = on_durable;
	cc.failed = on_failed;
	eh_commit_init(&C, &cc);
	eh_ingest_init(&G, &ingest_ops, NULL);
	eh_mqtt_fake_init(&M, &F);
	memset(&mc, 0, sizeof(mc));
	mc.client_id = "edgehookd-test";
	mc.window = 8;
	REQUIRE(eh_mqtt_open(&M, &mc, &loop, &h) == EH_OK);
	eh_loop_on_wake(&loop, on_wake, NULL);
	eh_loop_on_tick(&loop, on_tick, NULL);
	eh_mqtt_fake_connect(&F, false);
	eh_log_set_level(EH_LOG_LEVEL_ERR + 0);
}

static void fini(void)
{
	eh_mqtt_close(&M);
	eh_commit_cancel(&C);
	eh_queue_close(&q);
	eh_loop_deinit(&loop);
}

/* Run the loop (its wake-ups, timers and ticks) after moving the clock. */
static void advance(uint64_t ms)
{
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	for (int i = 0; i < 8; i++)
		eh_loop_run_once(&loop, 0);
}

/* An event notification with id "<id>", padded to about pad bytes. */
static size_t event(char *buf, size_t cap, const char *id, size_t pad)
{
	static char fill[2048];
	int n;

	memset(fill, 'x', sizeof(fill) - 1);
	if (pad >= sizeof(fill))
		pad = sizeof(fill) - 1;
	n = snprintf(buf, cap, "{\"id\":\"%s\",\"event_type\":\"event_created\",\"pad\":\"%.*s\"}",
		     id, (int)pad, fill);
	CHECK(n > 0 && (size_t)n < cap);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static unsigned inject(const char *id, size_t pad)
{
	char buf[4096];
	size_t len = event(buf, sizeof(buf), id, pad);
	unsigned mid = eh_mqtt_fake_inject(&F, TOPIC, buf, len, NULL);

	CHECK(mid != 0);
	return mid;
}

static int count_rec(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	(void)r;
	(void)seg;
	(*(unsigned *)arg)++;
	return 0;
}

/* Records in the queue, tail to head. */
static unsigned records(void)
{
	static uint8_t buf[EH_MAX_MSG_BYTES];
	unsigned n = 0;

	CHECK(eh_queue_walk(&q, count_rec, &n, buf, sizeof(buf)) == EH_OK);
	return n;
}

/* ==== Tests ==== */

/* docs/DURABILITY.md 1.3: the journal learns a message is durable (the
 * on-durable callback) only after the group commit that holds its record,
 * never at stage time; done (its window slot) comes at once. */
EH_TEST(committed_only_after_the_commit_that_makes_it_durable)
{
	rig(EH_QUEUE_DROP_OLDEST);
	inject("a1", 100);
	inject("a2", 100);
	inject("a3", 100);
	advance(0);
	CHECK_EQ(F.ndone, 3); /* staged and taken: the window is free */
	CHECK_EQ(S.last_staged, 3);
	CHECK_EQ(eh_queue_durable_seq(&q), 0);
	CHECK_EQ(S.durables, 0);
	advance(COMMIT_MS / 2);
	CHECK_EQ(S.durables, 0); /* the interval has not passed */
	advance(COMMIT_MS);
	CHECK_EQ(S.durables, 1);
	CHECK_EQ(S.done_at_durable, 3);
	CHECK(S.durable_seq_at_committed >= 3);
	advance(100);
	CHECK_EQ(S.durables, 1); /* nothing new: no empty commit */
	/* A power cut now loses nothing that was reported committed. */
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	open_queue(EH_QUEUE_DROP_OLDEST);
	CHECK_EQ(records(), 3);
	fini();
}

/* Before the commit a power cut takes the staged records with it: the
 * journal had not been told they were committed (it keeps them). */
EH_TEST(a_power_cut_before_the_commit_finds_nothing_reported)
{
	rig(EH_QUEUE_DROP_OLDEST);
	inject("b1", 100);
	advance(COMMIT_MS / 2);
	CHECK_EQ(F.ndone, 1);
	CHECK_EQ(S.durables, 0);
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	open_queue(EH_QUEUE_DROP_OLDEST);
	CHECK_EQ(records(), 0);
	fini();
}

/* The broker sends a message again (its PUBACK was lost, or a restart):
 * it is done, and the queue holds it once. */
EH_TEST(a_redelivered_message_is_not_queued_twice)
{
	rig(EH_QUEUE_DROP_OLDEST);
	inject("r1", 50);
	advance(0);
	advance(COMMIT_MS + 1);
	CHECK_EQ(S.durables, 1);
	inject("r1", 50); /* the same bytes */
	inject("r2", 50);
	advance(0);
	advance(COMMIT_MS + 1);
	CHECK_EQ(F.ndone, 3);
	CHECK_EQ(S.last_staged, 2);
	CHECK_EQ(records(), 2);
	CHECK_EQ(G.st.queued, 2);
	fini();
}

/* No webhook wants it: done at once, nothing staged, no commit needed. */
EH_TEST(a_message_no_webhook_wants_is_done_at_once)
{
	unsigned id;

	rig(EH_QUEUE_DROP_OLDEST);
	id = inject("skip-1", 50);
	eh_mqtt_poll(&M);
	CHECK_EQ(eh_mqtt_fake_done_pos(&F, id), 0);
	CHECK_EQ(F.undone, 0);
	advance(COMMIT_MS * 3);
	CHECK_EQ(records(), 0);
	CHECK_EQ(G.st.unmatched, 1);
	CHECK_EQ(S.durables, 0); /* nothing was staged: no commit ran */
	fini();
}

/* Over EH_MAX_MSG_BYTES: refused whole (counted as oversize) and done. */
EH_TEST(an_oversize_payload_is_refused_and_done)
{
	static char big[EH_MAX_MSG_BYTES + 64];
	size_t len = sizeof(big);
	unsigned id;

	rig(EH_QUEUE_DROP_OLDEST);
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"id\":\"big\",\"event_type\":\"event_created\"}", 41);
	id = eh_mqtt_fake_inject(&F, TOPIC, big, len, NULL);
	REQUIRE(id != 0);
	inject("after", 10); /* the next message goes on */
	advance(COMMIT_MS + 1);
	CHECK_EQ(eh_mqtt_fake_done_pos(&F, id), 0);
	CHECK_EQ(F.ndone, 2);
	CHECK_EQ(G.st.oversize, 1);
	CHECK_EQ(G.st.rejected, 1);
	CHECK_EQ(records(), 1);
	fini();
}

/* The commit fails (the device dies): committed is never called, so the
 * journal keeps what was taken, and the owner hears of it. */
EH_TEST(a_failed_commit_reports_nothing_committed)
{
	rig(EH_QUEUE_DROP_OLDEST);
	inject("f1", 100);
	advance(0);
	CHECK_EQ(F.ndone, 1);
	eh_flash_emu_cut_after(&emu, 1);
	advance(COMMIT_MS + 1);
	CHECK_EQ(S.failures, 1);
	CHECK_EQ(S.durables, 0);
	fini();
}

/* The id number of a record's "id":"m<N>". */
static unsigned rec_id(const struct eh_queue_rec *r)
{
	unsigned n = 0;

	CHECK(r->len > 8 && memcmp(r->payload, "{\"id\":\"m", 8) == 0);
	if (r->len <= 8)
		return 0;
	for (size_t i = 8; i < r->len && r->payload[i] >= '0' && r->payload[i] <= '9'; i++)
		n = n * 10 + (unsigned)(r->payload[i] - '0');
	return n;
}

/* Under `block` a full queue pauses input: the held messages stay in the
 * window (never more than it), the rest stay with the broker. Deliveries
 * make room; the held messages go first, in order, then the rest, and
 * input resumes. Every message is queued once, in the order sent. */
EH_TEST(a_full_queue_pauses_and_room_resumes_with_the_held_first)
{
	static struct eh_queue_rec recs[16];
	static uint8_t buf[64 * 1024];
	enum { N = 200 }; /* about 190 KB: the queue holds about 110 KB */
	unsigned expect = 1, rounds = 0;
	char id[16];

	rig(EH_QUEUE_BLOCK);
	F.prefetch = true; /* several held at once, as with Paho */
	for (unsigned i = 1; i <= N; i++) {
		snprintf(id, sizeof(id), "m%u", i);
		inject(id, 900);
	}
	advance(0);
	advance(COMMIT_MS + 1);
	CHECK(F.paused);
	CHECK_EQ(F.pauses, 1);
	CHECK(eh_ingest_holding(&G));
	CHECK(G.held_n > 1);
	CHECK(F.undone > 0 && F.undone <= F.window); /* held: handed, not done */
	CHECK(eh_mqtt_fake_waiting(&F) > 0);	     /* the broker keeps the rest */
	CHECK(F.ndone < N);
	/* A delivery worker: take what is queued, in order, ack, make room. */
	while (expect <= N && rounds++ < 1000) {
		size_t n = 0;

		REQUIRE(eh_queue_peek(&q, 0, EH_TYPE_EVENTS, recs, 16, sizeof(buf), buf,
				      sizeof(buf), &n) == EH_OK);
		for (size_t i = 0; i < n; i++) {
			unsigned got = rec_id(&recs[i]);
			if (got != expect) {
				CHECK_EQ(got, expect);
				expect = N + 1;
				break;
			}
			expect++;
		}
		if (n > 0)
			REQUIRE(eh_queue_ack(&q, 0, EH_TYPE_EVENTS, recs[n - 1].seq) == EH_OK);
		REQUIRE(eh_commit_now(&C) == EH_OK);
		S.retry = eh_ingest_holding(&G);
		advance(COMMIT_MS + 1);
		CHECK(F.undone <= F.window);
	}
	CHECK_EQ(expect, N + 1);
	CHECK_EQ(F.ndone, N);
	CHECK(!F.paused);
	CHECK(F.pauses >= 1);
	CHECK_EQ(F.resumes, F.pauses);
	CHECK(F.undone_max <= F.window);
	CHECK_EQ(G.st.queued, N);
	fini();
}

/* The fake itself: publishes only while connected, recorded as sent;
 * a tracked one is answered only when the test says so, once. */
EH_TEST(the_fake_records_publishes_and_answers_tracked_ones_when_told)
{
	rig(EH_QUEUE_DROP_OLDEST);
	advance(0);
	CHECK_EQ(S.connects, 1);
	CHECK_EQ(eh_mqtt_publish(&M, "edge/status", "{}", 2, 1, true), EH_OK);
	CHECK_EQ(eh_mqtt_publish_tracked(&M, "edge/deadletter/1", "[1]", 3, 42), EH_OK);
	REQUIRE(F.npubs == 2);
	CHECK_STR(F.pubs[0].topic, "edge/status");
	CHECK(F.pubs[0].retain && F.pubs[0].qos == 1 && !F.pubs[0].tracked);
	CHECK(F.pubs[1].tracked && F.pubs[1].tag == 42 && !F.pubs[1].retain);
	advance(10);
	CHECK_EQ(S.published_ok, -1); /* the broker has not answered */
	eh_mqtt_fake_report(&F, true);
	advance(0);
	CHECK_EQ(S.published_ok, 1);
	CHECK_EQ(S.published_tag, 42);
	S.published_ok = -1;
	eh_mqtt_fake_report(&F, false);
	advance(0);
	CHECK_EQ(S.published_ok, -1); /* answered once */
	eh_mqtt_fake_disconnect(&F);
	CHECK_EQ(eh_mqtt_publish(&M, "edge/status", "{}", 2, 1, true), EH_ERR_CLOSED);
	advance(0);
	CHECK_EQ(S.disconnects, 1);
	CHECK_EQ(F.npubs, 2);
	fini();
}
