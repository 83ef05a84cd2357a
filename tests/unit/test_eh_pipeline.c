/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_pipeline.c - app/pipeline, the data path between the inputs and
 * delivery, on the emulated flash with the MQTT fake and a hand-moved
 * clock: the journal and the seen file are real files in /tmp. Each test
 * names the part of docs/DURABILITY.md it checks. A "kill" keeps every
 * completed write (the emulator's ATOMIC image, the journal's mapping) and
 * drops what was only in memory. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eh_flash_emu.h"
#include "eh_journal.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_mqtt_fake.h"
#include "eh_pipeline.h"
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
static struct eh_mqtt M;
static struct eh_mqtt_fake F;
static struct eh_pipeline P;
static char jpath[64], spath[64];
static enum eh_queue_full_policy policy;
/* The Paho backend tells the journal a message is done inside eh_mqtt_done;
 * the fake does not, so advance() does it for the fake's done list when
 * journal_done is set. */
static bool journal_done;
static uint64_t jseq[1024]; /* journal entry of each fake message id */
static size_t done_told;

/* What the owner heard. */
static struct {
	unsigned kicks, appended, peeked;
	unsigned failures;
	bool failed_journal;
} S;

/* ==== The owner's ops ==== */

static uint64_t op_match(void *ctx, const struct eh_note *n)
{
	(void)ctx;
	(void)n;
	return 1; /* webhook slot 0 wants everything */
}

static int op_input_type(void *ctx, const char *topic)
{
	(void)ctx;
	return strcmp(topic, TOPIC) == 0 ? EH_TYPE_EVENTS : -1;
}

static void op_kick(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	(void)slot;
	(void)type;
	S.kicks++;
}

static void op_appended(void *ctx, uint64_t seq)
{
	(void)ctx;
	(void)seq;
	S.appended++;
}

static void op_peeked(void *ctx, unsigned slot, unsigned type, uint64_t oldest)
{
	(void)ctx;
	(void)slot;
	(void)type;
	(void)oldest;
	S.peeked++;
}

static void op_failed(void *ctx, eh_err rc, bool journal)
{
	(void)ctx;
	(void)rc;
	S.failures++;
	S.failed_journal = journal;
}

static const struct eh_pipeline_ops ops = {op_match,	op_input_type, op_kick,
					   op_appended, op_peeked,     op_failed};

static void on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac, struct eh_mqtt_msg *m)
{
	(void)ctx;
	(void)hmac;
	CHECK_STR(topic, TOPIC);
	eh_pipeline_offer(&P, EH_TYPE_EVENTS, payload, len, m);
}

static void on_connect(void *ctx, bool session_present)
{
	(void)ctx;
	(void)session_present;
}

static void on_disconnect(void *ctx)
{
	(void)ctx;
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
	eh_pipeline_tick(&P);
}

/* ==== Rig ==== */

static void open_queue(void)
{
	struct eh_queue_config qc;

	memset(&q, 0, sizeof(q));
	memset(&qc, 0, sizeof(qc));
	qc.flash = &fl;
	qc.uid = 7;
	qc.clock = &clk;
	qc.commit_interval_ms = COMMIT_MS;
	qc.full_policy = policy;
	REQUIRE(eh_queue_open(&q, &qc) == EH_OK);
}

/* Start on the device and files as they are: the queue, the pipeline
 * (redelivery filter rebuilt), the journal's replay, then MQTT. */
static eh_err start(void)
{
	static const struct eh_mqtt_handlers h = {on_message, on_connect, on_disconnect, NULL,
						  NULL};
	struct eh_pipeline_config pc;
	struct eh_mqtt_config mc;
	bool paused = false;

	memset(&S, 0, sizeof(S));
	done_told = 0;
	if (eh_loop_init(&loop, &clk) != EH_OK)
		return EH_ERR_IO;
	open_queue();
	memset(&pc, 0, sizeof(pc));
	pc.loop = &loop;
	pc.queue = &q;
	pc.mqtt = &M;
	pc.journal_path = jpath;
	pc.seen_path = spath;
	pc.ops = &ops;
	pc.ctx = NULL;
	eh_pipeline_open(&P, &pc);
	eh_mqtt_fake_init(&M, &F);
	eh_err rc = eh_pipeline_replay_at_start(&P, &paused);
	if (rc != EH_OK)
		return rc;
	memset(&mc, 0, sizeof(mc));
	mc.client_id = "edgehookd-test";
	mc.window = 8;
	mc.start_paused = paused;
	eh_pipeline_journal_hook(&P, &mc.journal);
	if ((rc = eh_mqtt_open(&M, &mc, &loop, &h)) != EH_OK)
		return rc;
	eh_loop_on_wake(&loop, on_wake, NULL);
	eh_loop_on_tick(&loop, on_tick, NULL);
	eh_mqtt_fake_connect(&F, false);
	return EH_OK;
}

static const struct eh_flash_emu_mem emu_mem =
    EH_FLASH_EMU_MEM(dur, cur, logbuf, emu_ops, BS, BC, 512);

/* A blank device, no journal, no seen file. */
static void rig(enum eh_queue_full_policy pol)
{
	policy = pol;
	journal_done = false;
	snprintf(jpath, sizeof(jpath), "/tmp/eh-pipeline-%d.journal", (int)getpid());
	snprintf(spath, sizeof(spath), "/tmp/eh-pipeline-%d.seen", (int)getpid());
	unlink(jpath);
	unlink(spath);
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
	fclk.mono_ms = 1000;
	fclk.wall_ms = 1700000000000ull;
	eh_clock_fake_init(&clk, &fclk);
	eh_log_set_level(EH_LOG_LEVEL_ERR + 0);
	REQUIRE(start() == EH_OK);
}

/* kill -9: what was written stays (the journal's mapping, the device's
 * completed writes), what was only in memory is gone. */
static void kill9(void)
{
	eh_mqtt_close(&M);
	eh_commit_cancel(&P.commit);
	eh_journal_close(&P.journal);
	eh_seen_close(&P.seen);
	eh_loop_deinit(&loop);
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_ATOMIC, 1);
}

/* A planned stop, as the daemon's: MQTT first, then the pipeline. */
static void stop(void)
{
	eh_mqtt_close(&M);
	eh_pipeline_close(&P);
	eh_queue_close(&q);
	eh_loop_deinit(&loop);
}

static void fini(void)
{
	stop();
	unlink(jpath);
	unlink(spath);
}

/* Run the loop (wake-ups, timers, ticks) after moving the clock. */
static void advance(uint64_t ms)
{
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	for (int i = 0; i < 8; i++) {
		eh_loop_run_once(&loop, 0);
		for (; journal_done && done_told < F.ndone; done_told++)
			eh_pipeline_journal_done(&P, jseq[F.done[done_told] % 1024]);
	}
}

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

/* A message through the MQTT fake, journalled first as the backend does
 * in its library thread. */
static void inject(const char *id, size_t pad)
{
	char buf[4096];
	size_t len = event(buf, sizeof(buf), id, pad);
	uint64_t seq = 0;
	unsigned mid;

	CHECK(eh_pipeline_journal_append(&P, TOPIC, NULL, buf, len, &seq));
	mid = eh_mqtt_fake_inject(&F, TOPIC, buf, len, NULL);
	CHECK(mid != 0);
	jseq[mid % 1024] = seq;
}

struct ids {
	unsigned n;
	char id[256][16];
};

static int collect(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct ids *ids = arg;
	const char *p = (const char *)r->payload;
	size_t i = 7; /* past {"id":" */

	(void)seg;
	if (ids->n < 256 && r->len > i) {
		size_t k = 0;
		while (i < r->len && p[i] != '"' && k + 1 < sizeof(ids->id[0]))
			ids->id[ids->n][k++] = p[i++];
		ids->id[ids->n][k] = '\0';
	}
	ids->n++;
	return 0;
}

/* The ids of the records in the queue, tail to head. */
static void records(struct ids *ids)
{
	static uint8_t buf[EH_MAX_MSG_BYTES];

	memset(ids, 0, sizeof(*ids));
	CHECK(eh_queue_walk(&q, collect, ids, buf, sizeof(buf)) == EH_OK);
}

/* Peek through the delivery source, as a worker does. */
static eh_err peek(struct eh_delivery_item *items, size_t max, size_t *n)
{
	return eh_pipeline_source_ops.peek(&P, 0, EH_TYPE_EVENTS, items, max, n);
}

/* ==== Tests ==== */

/* DURABILITY 3: a batch goes out only with durable records. Staged and
 * not yet committed, the peek commits first; a power cut right after the
 * peek still finds every record it handed out. */
EH_TEST(a_batch_is_peeked_only_with_durable_records)
{
	struct eh_delivery_item items[8];
	struct ids ids;
	size_t n = 0;

	rig(EH_QUEUE_DROP_OLDEST);
	inject("p1", 100);
	inject("p2", 100);
	advance(0); /* staged; the group commit is 20 ms away */
	CHECK_EQ(S.appended, 2);
	CHECK_EQ(eh_queue_durable_seq(&q), 0);
	REQUIRE(peek(items, 8, &n) == EH_OK);
	REQUIRE(n == 2);
	CHECK(eh_queue_durable_seq(&q) >= items[1].seq);
	CHECK_EQ(S.peeked, 1);
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	open_queue();
	records(&ids);
	CHECK_EQ(ids.n, 2);
	fini();
}

/* DURABILITY 3: a worker's cursor is committed before its next batch goes
 * out: ack, then peek, then a power cut: the acked records are not handed
 * out again (only the batch in flight would be). */
EH_TEST(ack_then_peek_persists_the_cursor_first)
{
	struct eh_delivery_item items[8];
	size_t n = 0;
	uint64_t upto;

	rig(EH_QUEUE_DROP_OLDEST);
	inject("c1", 100);
	inject("c2", 100);
	advance(0);
	advance(COMMIT_MS + 1); /* durable by the group commit */
	REQUIRE(peek(items, 1, &n) == EH_OK);
	REQUIRE(n == 1);
	upto = items[0].seq;
	REQUIRE(eh_pipeline_source_ops.ack(&P, 0, EH_TYPE_EVENTS, upto) == EH_OK);
	REQUIRE(peek(items, 8, &n) == EH_OK); /* the next batch: c2 */
	REQUIRE(n == 1);
	CHECK(items[0].seq > upto);
	/* Power is cut while c2's POST is in flight. */
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	open_queue();
	CHECK_EQ(eh_queue_cursor(&q, 0, EH_TYPE_EVENTS), upto);
	CHECK_EQ(eh_queue_lag(&q, 0, EH_TYPE_EVENTS), 1);
	fini();
}

/* DURABILITY 2 (kill -9): a message taken from the broker is journalled,
 * staged and committed, and the kill comes before the journal's commit mark
 * passes it (journal_done stays off: the library had not released it). The replay at start finds it
 * already queued (the redelivery filter) and queues it once; a journalled message not yet queued is
 * queued by the same replay. */
EH_TEST(a_journalled_message_replayed_at_start_is_queued_once)
{
	struct ids ids;

	rig(EH_QUEUE_DROP_OLDEST);
	inject("j1", 100);
	advance(0);
	advance(COMMIT_MS + 1);
	CHECK_EQ(eh_queue_durable_seq(&q), 1);
	inject("j2", 100); /* journalled, not yet handed to the loop */
	kill9();
	REQUIRE(start() == EH_OK);
	records(&ids);
	REQUIRE(ids.n == 2);
	CHECK_STR(ids.id[0], "j1");
	CHECK_STR(ids.id[1], "j2");
	CHECK_EQ(eh_pipeline_ingest_stats(&P)->duplicates, 1);
	CHECK_EQ(S.failures, 0);
	/* The broker sends j1 again (its PUBACK was withheld): dropped too. */
	inject("j1", 100);
	advance(0);
	advance(COMMIT_MS + 1);
	records(&ids);
	CHECK_EQ(ids.n, 2);
	CHECK_EQ(F.ndone, 1);
	fini();
}

/* DURABILITY 2 (queue full, `block`): input is held and MQTT paused; an
 * ack makes room, and the held messages go in from the loop's tick (not
 * from inside the ack), in order, before the rest; input resumes. */
EH_TEST(under_block_held_input_is_retried_from_the_tick_in_order)
{
	struct eh_delivery_item items[16];
	enum { N = 200 }; /* about 190 KB: the queue holds about 110 KB */
	unsigned expect = 1, rounds = 0;
	char id[16];

	rig(EH_QUEUE_BLOCK);
	F.prefetch = true;
	for (unsigned i = 1; i <= N; i++) {
		snprintf(id, sizeof(id), "m%u", i);
		char buf[2048];
		size_t len = event(buf, sizeof(buf), id, 900);
		REQUIRE(eh_mqtt_fake_inject(&F, TOPIC, buf, len, NULL) != 0);
	}
	advance(0);
	advance(COMMIT_MS + 1);
	CHECK(F.paused);
	CHECK(eh_pipeline_holding(&P));
	CHECK(F.ndone < N);
	while (expect <= N && rounds++ < 1000) {
		size_t n = 0;
		unsigned ndone = (unsigned)F.ndone;

		REQUIRE(peek(items, 16, &n) == EH_OK);
		for (size_t i = 0; i < n; i++) {
			unsigned got = 0;
			const char *p = (const char *)items[i].raw + 8; /* {"id":"m */
			while (*p >= '0' && *p <= '9')
				got = got * 10 + (unsigned)(*p++ - '0');
			if (got != expect) {
				CHECK_EQ(got, expect);
				expect = N + 1;
				break;
			}
			expect++;
		}
		if (n == 0) {
			advance(COMMIT_MS + 1);
			continue;
		}
		REQUIRE(eh_pipeline_source_ops.ack(&P, 0, EH_TYPE_EVENTS, items[n - 1].seq) ==
			EH_OK);
		if (eh_pipeline_holding(&P))
			CHECK_EQ(F.ndone, ndone); /* nothing taken inside the ack */
		advance(COMMIT_MS + 1);
	}
	CHECK_EQ(expect, N + 1);
	CHECK_EQ(F.ndone, N);
	CHECK(!F.paused);
	CHECK(!eh_pipeline_holding(&P));
	CHECK_EQ(eh_pipeline_ingest_stats(&P)->queued, N);
	fini();
}

/* DURABILITY 2 (kill -9): the redelivery filter is rebuilt at start from
 * <queue>.seen and from the newest records, including records committed
 * after the seen file's last write (the kill came between the two). */
EH_TEST(the_redelivery_filter_is_rebuilt_from_the_seen_file_and_the_newest_records)
{
	struct ids ids;

	rig(EH_QUEUE_DROP_OLDEST);
	inject("s1", 100);
	advance(0);
	advance(COMMIT_MS + 1); /* committed: s1's hash is in the seen file */
	inject("s2", 100);
	advance(0);
	REQUIRE(eh_queue_commit(&q) == EH_OK); /* committed, the seen file not told */
	kill9();
	/* The queue holds both: known from its newest records, s2 from them
	 * alone; the start writes s2's hash to the seen file. */
	REQUIRE(start() == EH_OK);
	inject("s1", 100);
	inject("s2", 100);
	advance(0);
	advance(COMMIT_MS + 1);
	records(&ids);
	CHECK_EQ(ids.n, 2);
	CHECK_EQ(eh_pipeline_ingest_stats(&P)->duplicates, 4); /* two replayed, two sent */
	stop();
	/* A blank device: only the seen file remembers them. */
	unlink(jpath);
	memset(dur, 0, sizeof(dur));
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	REQUIRE(start() == EH_OK);
	inject("s1", 100);
	inject("s2", 100);
	inject("s3", 100);
	advance(0);
	advance(COMMIT_MS + 1);
	records(&ids);
	REQUIRE(ids.n == 1);
	CHECK_STR(ids.id[0], "s3");
	fini();
}

/* DURABILITY 1 and 2: a commit fails (the device dies): the owner hears it
 * and stops; the journal is never told the message is durable, so the next
 * start queues it (nothing acknowledged is lost); a peek hands out no
 * record that is not durable. */
EH_TEST(a_commit_failure_is_reported_and_loses_nothing_acknowledged)
{
	struct eh_delivery_item items[8];
	struct ids ids;
	size_t n = 0;

	rig(EH_QUEUE_DROP_OLDEST);
	journal_done = true;
	inject("f1", 100);
	advance(0);
	CHECK_EQ(F.ndone, 1); /* the broker's window slot is free */
	eh_flash_emu_cut_after(&emu, 1);
	advance(COMMIT_MS + 1);
	CHECK_EQ(S.failures, 1);
	CHECK(!S.failed_journal);
	CHECK(peek(items, 8, &n) != EH_OK || n == 0);
	kill9(); /* the owner stops; power comes back */
	REQUIRE(start() == EH_OK);
	records(&ids);
	REQUIRE(ids.n == 1);
	CHECK_STR(ids.id[0], "f1");
	fini();
}
