/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue.c - the queue's contract on the emulated device: order,
 * masks, retries see the same batch, durability across clean and unclean
 * restarts, full policies and their drop counts, slot reset, CRC damage,
 * size limits, commit scheduling. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_hash.h"
#include "eh_queue.h"

/* 16 KiB segments of 512-byte units, 1 superblock block + 7 segments */
#define BS 16384u
#define BC 8u
#define SZ (BS * BC)
static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 4];
static struct eh_flash_emu_op ops[4096];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static uint8_t buf[1 << 20];
static struct eh_queue_rec recs[256];

static const struct eh_flash_emu_mem emu_mem = EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, 512);

static void dev_blank(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
}

static eh_err qopen(enum eh_queue_full_policy pol)
{
	struct eh_queue_config c = {.flash = &fl, .full_policy = pol, .uid = 0x1234};
	return eh_queue_open(&q, &c);
}

static uint8_t *find(uint8_t *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

static void pay(char *p, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (id * 7 + i) % 26);
}

static size_t peek(unsigned slot, unsigned type, size_t max)
{
	size_t n = 0;
	CHECK(eh_queue_peek(&q, slot, type, recs, max, 1 << 20, buf, sizeof(buf), &n) == EH_OK);
	return n;
}

EH_TEST(append_peek_ack_in_order_by_slot_and_type)
{
	uint64_t s1, s2, s3;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_uid(&q) == 0x1234);
	CHECK(eh_queue_append(&q, 0, 0x1, "one", 3, &s1) == EH_OK);
	CHECK(eh_queue_append(&q, 1, 0x3, "two", 3, &s2) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x2, "three", 5, &s3) == EH_OK);
	CHECK(s1 < s2 && s2 < s3);
	/* staged records are visible before the commit */
	CHECK_EQ(peek(0, 0, 10), 1u);
	CHECK(recs[0].seq == s1 && recs[0].len == 3 && memcmp(recs[0].payload, "one", 3) == 0);
	CHECK_EQ(peek(1, 1, 10), 1u);
	CHECK_EQ(peek(1, 0, 10), 1u);
	CHECK(recs[0].seq == s3);
	CHECK_EQ(eh_queue_lag(&q, 1, 0), 1u);
	CHECK_EQ(eh_queue_durable_seq(&q) < s1, 1);
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK_EQ(eh_queue_durable_seq(&q), s3);
	/* a retried batch is the same batch */
	CHECK_EQ(peek(1, 0, 10), 1u);
	CHECK(recs[0].seq == s3);
	CHECK(eh_queue_ack(&q, 1, 0, s3) == EH_OK);
	CHECK_EQ(peek(1, 0, 10), 0u);
	CHECK_EQ(eh_queue_lag(&q, 1, 0), 0u);
	CHECK_EQ(eh_queue_lag(&q, 0, 0), 1u);
	CHECK(eh_queue_ack(&q, 1, 0, s3 + 100) == EH_ERR_INVAL);
	CHECK(eh_queue_append(&q, 3, 1, "x", 1, NULL) == EH_ERR_INVAL);
	CHECK(eh_queue_append(&q, 0, 0, "x", 1, NULL) == EH_ERR_INVAL);
	eh_queue_close(&q);
}

EH_TEST(clean_restart_keeps_records_cursors_and_seqs)
{
	uint64_t s = 0, s2 = 0;
	char p[300];
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	for (int i = 0; i < 40; i++) {
		pay(p, sizeof(p), (uint64_t)i);
		CHECK(eh_queue_append(&q, 2, 0x5, p, sizeof(p), &s) == EH_OK);
	}
	CHECK_EQ(peek(0, 2, 10), 10u);
	CHECK(eh_queue_ack(&q, 0, 2, recs[9].seq) == EH_OK);
	eh_queue_close(&q);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.unclean_mounts, 0u);
	CHECK(st.mount_bytes_read <= st.mount_bytes_bound);
	CHECK_EQ(eh_queue_lag(&q, 0, 2), 30u);
	CHECK_EQ(eh_queue_lag(&q, 2, 2), 40u);
	CHECK_EQ(peek(0, 2, 100), 30u);
	pay(p, sizeof(p), 10);
	CHECK(recs[0].len == sizeof(p) && memcmp(recs[0].payload, p, sizeof(p)) == 0);
	CHECK(eh_queue_append(&q, 2, 0x5, "z", 1, &s2) == EH_OK);
	CHECK_EQ(s2, s + 1); /* after a clean stop seqs continue */
	eh_queue_close(&q);
}

EH_TEST(power_loss_keeps_committed_records_and_never_reuses_seqs)
{
	uint64_t s = 0, s2 = 0, durable;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	for (int i = 0; i < 10; i++)
		CHECK(eh_queue_append(&q, 0, 1, "durable", 7, &s) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	durable = s;
	CHECK(eh_queue_append(&q, 0, 1, "lost", 4, &s) == EH_OK);
	CHECK_EQ(peek(0, 0, 100), 11u); /* handed out before it was durable */
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK_EQ(peek(0, 0, 100), 10u);
	CHECK_EQ(recs[9].seq, durable);
	CHECK(eh_queue_append(&q, 0, 1, "new", 3, &s2) == EH_OK);
	CHECK(s2 > s); /* the lost record's seq is never given to another */
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.unclean_mounts, 1u);
	eh_queue_close(&q);
}

EH_TEST(block_policy_refuses_when_full_and_resumes_after_acks)
{
	char p[1000];
	uint64_t s = 0, last_ok = 0;
	eh_err rc = EH_OK;
	int n = 0;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	memset(p, 'b', sizeof(p));
	while (n < 1000 && (rc = eh_queue_append(&q, 0, 0x3, p, sizeof(p), &s)) == EH_OK) {
		last_ok = s;
		n++;
	}
	CHECK(rc == EH_ERR_NOSPC);
	CHECK(n > 40 && n < 120);
	/* slot 0 consumes everything; slot 1 still holds the ring */
	CHECK(eh_queue_ack(&q, 0, 0, last_ok) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x3, p, sizeof(p), &s) == EH_ERR_NOSPC);
	CHECK(eh_queue_ack(&q, 1, 0, last_ok) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x3, p, sizeof(p), &s) == EH_OK);
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.drops[0] + st.drops[1], 0u);
	eh_queue_close(&q);
}

EH_TEST(drop_oldest_counts_drops_per_slot_and_persists_them)
{
	char p[1000];
	uint64_t s = 0;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_DROP_OLDEST) == EH_OK);
	memset(p, 'd', sizeof(p));
	for (int i = 0; i < 300; i++) {
		REQUIRE(eh_queue_append(&q, 1, 0x6, p, sizeof(p), &s) == EH_OK);
		if (i % 10 == 9)
			CHECK(eh_queue_commit(&q) == EH_OK);
		size_t n = peek(1, 1, 256); /* slot 1 keeps up, slot 2 is dead */
		if (n > 0)
			CHECK(eh_queue_ack(&q, 1, 1, recs[n - 1].seq) == EH_OK);
	}
	eh_queue_close(&q);
	REQUIRE(qopen(EH_QUEUE_DROP_OLDEST) == EH_OK);
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.drops[1], 0u);
	size_t left = peek(2, 1, 256);
	CHECK(st.drops[2] > 0);
	CHECK_EQ(st.drops[2] + left, 300u); /* every record: delivered later or counted */
	CHECK_EQ(recs[left - 1].seq, s);
	eh_queue_close(&q);
}

EH_TEST(slot_reset_hides_records_queued_for_the_previous_occupant)
{
	uint64_t s;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x10, "old", 3, &s) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK(eh_queue_slot_reset(&q, 4) == EH_OK);
	CHECK_EQ(peek(4, 0, 10), 0u);
	CHECK(eh_queue_append(&q, 0, 0x10, "new", 3, &s) == EH_OK);
	CHECK_EQ(peek(4, 0, 10), 1u);
	CHECK(memcmp(recs[0].payload, "new", 3) == 0);
	eh_queue_close(&q);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK); /* persisted */
	CHECK_EQ(peek(4, 0, 10), 1u);
	CHECK(memcmp(recs[0].payload, "new", 3) == 0);
	eh_queue_close(&q);
}

EH_TEST(a_record_with_a_bad_payload_crc_is_skipped_and_counted)
{
	uint64_t s1, s2, s3;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, "AAAAAAAAAAAAAAAAAAAA", 20, &s1) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, "BBBBBBBBBBBBBBBBBBBB", 20, &s2) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, "CCCCCCCCCCCCCCCCCCCC", 20, &s3) == EH_OK);
	eh_queue_close(&q);
	/* flip a byte inside the second payload on the device */
	uint8_t *hit = find(dur, SZ, "BBBBBBBBBB");
	REQUIRE(hit != NULL);
	hit[3] ^= 0x40;
	memcpy(cur, dur, SZ);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK_EQ(peek(0, 0, 10), 2u);
	CHECK(recs[0].seq == s1 && recs[1].seq == s3);
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.corrupt_skipped, 1u);
	eh_queue_close(&q);
}

EH_TEST(oversized_records_and_bad_configs_are_refused)
{
	static char big[BS];
	dev_blank();
	struct eh_queue_config c = {.flash = NULL};
	CHECK(eh_queue_open(&q, &c) == EH_ERR_INVAL);
	c.flash = &fl;
	c.full_policy = (enum eh_queue_full_policy)7;
	CHECK(eh_queue_open(&q, &c) == EH_ERR_INVAL);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, big, sizeof(big), NULL) == EH_ERR_TOOBIG);
	CHECK(eh_queue_append(&q, 0, 1, big, 8000, NULL) == EH_OK);
	size_t n = 0;
	/* a buffer that can never hold it: skipped and counted, not an error */
	CHECK(eh_queue_peek(&q, 0, 0, recs, 10, 100, buf, 100, &n) == EH_OK);
	CHECK_EQ(n, 0u);
	CHECK(eh_queue_peek(&q, 0, 0, recs, 10, 100, buf, 9000, &n) == EH_OK);
	CHECK_EQ(n, 1u); /* larger than max_bytes: comes alone */
	eh_queue_close(&q);
}

EH_TEST(commit_is_scheduled_by_the_injected_clock)
{
	struct eh_clock clk;
	struct eh_clock_fake fake = {.mono_ms = 1000, .wall_ms = 0};
	eh_clock_fake_init(&clk, &fake);
	dev_blank();
	struct eh_queue_config c = {.flash = &fl, .clock = &clk, .commit_interval_ms = 50};
	/* the caller draws the uid: a blank device is not formatted without one */
	CHECK(eh_queue_open(&q, &c) == EH_ERR_INVAL);
	c.uid = 0x1234;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	CHECK(eh_queue_commit_deadline(&q) == UINT64_MAX);
	CHECK(!eh_queue_commit_due(&q, 5000));
	CHECK(eh_queue_append(&q, 0, 1, "x", 1, NULL) == EH_OK);
	CHECK(!eh_queue_commit_due(&q, 1049));
	CHECK(eh_queue_commit_due(&q, 1050));
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK(eh_queue_commit_deadline(&q) == UINT64_MAX);
	fake.mono_ms = 2000;
	CHECK(eh_queue_ack(&q, 0, 0, 1) == EH_OK);
	CHECK_EQ(eh_queue_commit_deadline(&q), 2000u + EH_QUEUE_CURSOR_MS);
	uint64_t before = fl.syncs;
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK_EQ(fl.syncs, before + 1); /* group commit: one sync */
	eh_queue_close(&q);
}

EH_TEST(a_failed_sync_stops_the_queue_until_reopened)
{
	uint64_t s;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, "a", 1, &s) == EH_OK);
	eh_flash_emu_cut_after(&emu, 2);
	CHECK(eh_queue_commit(&q) == EH_ERR_IO);
	CHECK(eh_queue_append(&q, 0, 1, "b", 1, &s) == EH_ERR_IO);
	CHECK(eh_queue_commit(&q) == EH_ERR_IO);
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_REORDER, 3);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 1, "c", 1, &s) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	eh_queue_close(&q);
}

EH_TEST(crc32c_matches_the_published_vectors)
{
	static const uint8_t zeros[32],
	    hdr[36] = {0x51, 0x45, 1, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,    0,	   1,	 0,
		       0,    0,	   0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xe9, 0xb2, 0x94, 0x2a};
	uint8_t ones[32];
	memset(ones, 0xff, sizeof(ones));
	/* docs/QUEUE.md "Test vectors" */
	CHECK_EQ(eh_crc32c(0, "123456789", 9), 0xe3069283u);
	CHECK_EQ(eh_crc32c(0, zeros, 32), 0x8a9136aau);
	CHECK_EQ(eh_crc32c(0, ones, 32), 0x62a8ab43u);
	CHECK_EQ(eh_crc32c(eh_crc32c(0, "123", 3), "456789", 6), 0xe3069283u);
	CHECK_EQ(eh_crc32c(0, "one", 3), 0x2a94b2e9u);
	CHECK_EQ(eh_crc32c(0x681efffdu, hdr, 36), 0xe5173843u);
}

EH_TEST(damage_inside_an_older_segment_is_counted_as_lost_and_skipped)
{
	char p[300];
	uint64_t s = 0, last_seen = 0;
	size_t total = 0, n;
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	for (int i = 0; i < 60; i++) {
		pay(p, sizeof(p), (uint64_t)i);
		REQUIRE(eh_queue_append(&q, 0, 1, p, sizeof(p), &s) == EH_OK);
	}
	eh_queue_close(&q);
	/* segment 1 is block 2: wipe one write unit in its middle */
	memset(dur + 2 * BS + 4096, 0, 512);
	memcpy(cur, dur, SZ);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	do {
		n = peek(0, 0, 256);
		total += n;
		if (n > 0) {
			last_seen = recs[n - 1].seq;
			CHECK(eh_queue_ack(&q, 0, 0, last_seen) == EH_OK);
		}
	} while (n > 0);
	struct eh_queue_stats st;
	eh_queue_stats(&q, &st);
	CHECK(total < 60 && total > 30);
	/* every record is delivered or counted: lost, or torn across the wipe */
	CHECK(st.lost_detected > 0);
	CHECK_EQ(st.lost_detected + st.corrupt_skipped, 60u - total);
	CHECK_EQ(last_seen, s); /* later segments are still read */
	eh_queue_close(&q);
}

EH_TEST(a_clean_close_is_seen_as_clean_at_every_fill_level)
{
	char p[700];
	uint64_t s = 0, prev = 0;
	int unclean = 0;
	dev_blank();
	memset(p, 'c', sizeof(p));
	for (int i = 0; i < 80; i++) {
		struct eh_queue_stats st;
		REQUIRE(qopen(EH_QUEUE_DROP_OLDEST) == EH_OK);
		eh_queue_stats(&q, &st);
		unclean += (int)st.unclean_mounts;
		REQUIRE(eh_queue_append(&q, 0, 1, p, sizeof(p) - (size_t)(i % 7) * 50, &s) ==
			EH_OK);
		CHECK(prev == 0 || s == prev + 1); /* no seq jump after a clean stop */
		prev = s;
		size_t n = peek(0, 0, 256);
		if (n > 0)
			CHECK(eh_queue_ack(&q, 0, 0, recs[n - 1].seq) == EH_OK);
		eh_queue_close(&q);
	}
	CHECK_EQ(unclean, 0);
}

/* The stage is cleared only as far as it was used: what an earlier open
 * staged and never committed (a kill) must not reach the device as the
 * padding of a later commit. */
EH_TEST(stage_left_by_a_kill_is_not_written_as_padding)
{
	static char big[8000], small[2700];
	uint64_t s;
	size_t xs = 0;

	memset(big, 'x', sizeof(big));
	memset(small, 'y', sizeof(small));
	dev_blank();
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x1, "first", 5, &s) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x1, big, sizeof(big), &s) == EH_OK);
	/* killed before the commit: the device keeps what was synced */
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_DROP, 1);
	REQUIRE(qopen(EH_QUEUE_BLOCK) == EH_OK);
	CHECK(eh_queue_append(&q, 0, 0x1, small, sizeof(small), &s) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	for (size_t i = 0; i < SZ; i++)
		xs += cur[i] == 'x';
	CHECK_EQ(xs, 0);
	CHECK(peek(0, 0, 8) == 2);
	eh_queue_close(&q);
}
