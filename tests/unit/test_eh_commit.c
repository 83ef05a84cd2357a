/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_commit.c - the group commit over the real queue on the emulated
 * flash and a hand-moved clock: one commit per interval whatever the number
 * of records, durable() after each, commit on demand, cursor moves
 * persisted, and a failing device reported through failed(). */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <string.h>

#include "eh_commit.h"
#include "eh_flash_emu.h"
#include "eh_log.h"

#define BS 16384u
#define BC 8u
#define SZ (BS * BC)
static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 4];
static struct eh_flash_emu_op ops[4096];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_loop loop;
static struct eh_commit C;
static unsigned durables, failures;
static eh_err last_failure;

static void on_durable(void *ctx)
{
	(void)ctx;
	durables++;
}

static void on_failed(void *ctx, eh_err rc)
{
	(void)ctx;
	failures++;
	last_failure = rc;
}

static const struct eh_flash_emu_mem emu_mem = EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, 512);

static void rig(void)
{
	struct eh_queue_config qc;
	struct eh_commit_config cc;

	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
	fclk.mono_ms = 1000;
	fclk.wall_ms = 1700000000000ull;
	eh_clock_fake_init(&clk, &fclk);
	eh_loop_init(&loop, &clk);
	memset(&qc, 0, sizeof(qc));
	qc.flash = &fl;
	qc.uid = 7;
	qc.clock = &clk;
	qc.commit_interval_ms = 20;
	REQUIRE(eh_queue_open(&q, &qc) == EH_OK);
	memset(&cc, 0, sizeof(cc));
	cc.loop = &loop;
	cc.queue = &q;
	cc.durable = on_durable;
	cc.failed = on_failed;
	eh_commit_init(&C, &cc);
	durables = failures = 0;
	eh_log_set_level(EH_LOG_LEVEL_ERR + 0);
}

static void fini(void)
{
	eh_commit_cancel(&C);
	eh_queue_close(&q);
	eh_loop_deinit(&loop);
}

static void advance(uint64_t ms)
{
	fclk.mono_ms += ms;
	fclk.wall_ms += ms;
	for (int i = 0; i < 8; i++)
		eh_loop_run_once(&loop, 0);
}

static void append(int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t seq;
		REQUIRE(eh_queue_append(&q, 0, 1, "{\"id\":1}", 8, &seq) == EH_OK);
	}
	eh_commit_schedule(&C);
}

EH_TEST(one_commit_per_interval)
{
	rig();
	append(10);
	advance(10);
	CHECK_EQ(durables, 0);
	append(10); /* the timer stays at the first record's deadline */
	advance(10);
	CHECK_EQ(durables, 1);
	CHECK_EQ(eh_queue_durable_seq(&q), 20);
	advance(100);
	CHECK_EQ(durables, 1); /* nothing new: no empty commit */
	fini();
}

EH_TEST(commit_on_demand_cancels_the_timer)
{
	rig();
	append(3);
	CHECK_EQ(eh_commit_now(&C), EH_OK);
	CHECK_EQ(durables, 1);
	CHECK_EQ(eh_queue_durable_seq(&q), 3);
	advance(50);
	CHECK_EQ(durables, 1);
	fini();
}

EH_TEST(a_cursor_move_is_committed)
{
	rig();
	append(2);
	CHECK_EQ(eh_commit_now(&C), EH_OK);
	REQUIRE(eh_queue_ack(&q, 0, 0, 2) == EH_OK);
	eh_commit_cursor_moved(&C);
	CHECK(eh_commit_cursor_dirty(&C));
	advance(1500); /* the queue's cursor deadline is at most a second */
	CHECK(!eh_commit_cursor_dirty(&C));
	CHECK_EQ(durables, 2);
	fini();
}

EH_TEST(a_failing_device_is_reported)
{
	rig();
	append(2);
	eh_flash_emu_cut_after(&emu, 1);
	advance(25);
	CHECK_EQ(failures, 1);
	CHECK(last_failure != EH_OK);
	CHECK_EQ(durables, 0);
	fini();
}
