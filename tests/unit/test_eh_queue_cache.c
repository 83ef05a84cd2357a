/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue_cache.c - the queue's cache of the newest segment, on the
 * emulated device with its reads counted: records just appended are read
 * back without a device read; a failed write leaves reads with what the
 * device holds; the window stays right across segment and ring wraps; a
 * walk reads whole windows; mount cuts the cache back to the recovered end. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_queue.h"

/* 16 KiB segments of 512-byte units, 1 superblock block + 7 segments */
#define BS 16384u
#define BC 8u
#define SZ (BS * BC)
static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 4];
static struct eh_flash_emu_op ops[4096];
static struct eh_flash_emu emu;
static struct eh_flash dev; /* the emulator */
static struct eh_queue q;
static uint8_t cache[BS];
static uint8_t buf[1 << 16];
static struct eh_queue_rec recs[256];

/* ==== A device that fails writes on demand ==== */

/* Passes everything to the emulator until armed; then the next prog
 * writes garbage over its range (a torn, lying device) and fails. */
struct failing {
	bool arm;
	unsigned failed;
};
static struct failing fail;
static struct eh_flash fl; /* what the queue is given */

static eh_err f_read(struct eh_flash *f, uint64_t off, void *b, size_t n)
{
	(void)f;
	return eh_flash_read(&dev, off, b, n);
}

static eh_err f_prog(struct eh_flash *f, uint64_t off, const void *b, size_t n)
{
	static uint8_t junk[BS];
	(void)f;
	if (!fail.arm)
		return eh_flash_prog(&dev, off, b, n);
	fail.arm = false;
	fail.failed++;
	memset(junk, 0x5a, n < sizeof(junk) ? n : sizeof(junk));
	(void)eh_flash_prog(&dev, off, junk, n < sizeof(junk) ? n : sizeof(junk));
	return EH_ERR_IO;
}

static eh_err f_erase(struct eh_flash *f, uint64_t off, size_t n)
{
	(void)f;
	return eh_flash_erase(&dev, off, n);
}

static eh_err f_sync(struct eh_flash *f)
{
	(void)f;
	return eh_flash_sync(&dev);
}

static const struct eh_flash_ops failing_ops = {f_read, f_prog, f_erase, f_sync, NULL};

static const struct eh_flash_emu_mem emu_mem = EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, 512);

static void dev_blank(void)
{
	eh_flash_emu_attach(&dev, &emu, &emu_mem, 1);
	memset(&fl, 0, sizeof(fl));
	fl.ops = &failing_ops;
	fl.name = "failing";
	fl.block_size = BS;
	fl.block_count = BC;
	fl.prog_unit = 512;
	memset(&fail, 0, sizeof(fail));
}

static eh_err qopen(uint32_t cache_bytes, enum eh_queue_full_policy pol)
{
	struct eh_queue_config c = {.flash = &fl,
				    .full_policy = pol,
				    .uid = 0xcace,
				    .cache = cache_bytes ? cache : NULL,
				    .cache_bytes = cache_bytes};
	return eh_queue_open(&q, &c);
}

static void pay(char *p, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (id * 7 + i) % 26);
}

static bool pay_ok(const uint8_t *p, size_t n, uint64_t id)
{
	char want[2048];
	pay(want, n, id);
	return memcmp(p, want, n) == 0;
}

static size_t peek(unsigned slot, size_t max)
{
	size_t n = 0;
	CHECK(eh_queue_peek(&q, slot, 0, recs, max, sizeof(buf), buf, sizeof(buf), &n) == EH_OK);
	return n;
}

/* Append record number id (payload from id, 100..400 bytes). */
static uint64_t put(uint64_t id)
{
	char p[400];
	size_t n = 100 + (id * 37) % 300;
	uint64_t seq = 0;
	pay(p, n, id);
	CHECK(eh_queue_append(&q, 0, 0x1, p, n, &seq) == EH_OK);
	return seq;
}

/* ==== Reading back what was just written ==== */

EH_TEST(newest_records_cost_no_device_read)
{
	uint64_t first = 0, reads;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	for (uint64_t id = 1; id <= 8; id++) {
		uint64_t s = put(id);
		first = first ? first : s;
	}
	reads = fl.reads;
	CHECK_EQ(peek(0, 5), 5); /* staged: from the stage */
	CHECK_EQ(fl.reads, reads);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	reads = fl.reads;
	CHECK_EQ(peek(0, 100), 8); /* committed: from the cache */
	CHECK_EQ(fl.reads, reads);
	for (size_t i = 0; i < 8; i++) {
		CHECK_EQ(recs[i].seq, first + i);
		CHECK(pay_ok(recs[i].payload, recs[i].len, i + 1));
	}
	/* and again after an ack and more commits, cursor records between
	 * (all within the first segment) */
	for (unsigned round = 0; round < 3; round++) {
		CHECK(eh_queue_ack(&q, 0, 0, recs[peek(0, 100) - 1].seq) == EH_OK);
		for (uint64_t id = 9 + round * 3; id < 12 + round * 3; id++)
			put(id);
		REQUIRE(eh_queue_commit(&q) == EH_OK);
		reads = fl.reads;
		CHECK_EQ(peek(0, 100), 3);
		CHECK_EQ(fl.reads, reads);
		CHECK(pay_ok(recs[2].payload, recs[2].len, 11 + round * 3));
	}
	eh_queue_close(&q);
}

EH_TEST(without_a_cache_the_same_peek_reads_the_device)
{
	uint64_t reads;
	dev_blank();
	REQUIRE(qopen(0, EH_QUEUE_BLOCK) == EH_OK);
	for (uint64_t id = 1; id <= 10; id++)
		put(id);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	reads = fl.reads;
	CHECK_EQ(peek(0, 100), 10);
	CHECK(fl.reads >= reads + 20); /* a header and a payload per record */
	eh_queue_close(&q);
}

/* ==== A failed write ==== */

EH_TEST(failed_write_then_read_returns_what_the_device_holds)
{
	uint64_t reads, a;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	a = put(1);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	CHECK_EQ(peek(0, 100), 1);
	put(2);
	put(3);
	fail.arm = true;
	CHECK(eh_queue_commit(&q) == EH_ERR_IO);
	CHECK_EQ(fail.failed, 1);
	/* The device holds record 1, then garbage where 2 and 3 were to go:
	 * reads now see exactly that, from the device. */
	reads = fl.reads;
	CHECK_EQ(peek(0, 100), 1);
	CHECK(fl.reads > reads);
	CHECK_EQ(recs[0].seq, a);
	CHECK(pay_ok(recs[0].payload, recs[0].len, 1));
	/* recovery agrees: only record 1 survives */
	eh_queue_close(&q);
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	CHECK_EQ(peek(0, 100), 1);
	CHECK_EQ(recs[0].seq, a);
	/* and what is written after the mount is read back right */
	put(4);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	reads = fl.reads;
	CHECK_EQ(peek(0, 100), 2);
	CHECK_EQ(fl.reads, reads);
	CHECK(pay_ok(recs[1].payload, recs[1].len, 4));
	eh_queue_close(&q);
}

EH_TEST(failed_segment_opening_leaves_no_cached_bytes)
{
	uint64_t id = 1;
	struct eh_queue_stats st;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_DROP_OLDEST) == EH_OK);
	/* fill the first segment, commit, then fail the commit that opens the next */
	eh_queue_stats(&q, &st);
	while (eh_queue_stats(&q, &st), st.head_seq < 30)
		put(id++);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	for (unsigned k = 0; k < 40; k++)
		put(id++);
	fail.arm = true;
	CHECK(eh_queue_commit(&q) == EH_ERR_IO);
	/* whatever is returned now is byte for byte a record that was written */
	size_t n = peek(0, 256);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK(pay_ok(recs[i].payload, recs[i].len, recs[i].seq));
	eh_queue_close(&q);
}

/* ==== Wrap-around ==== */

/* Deliver everything, each batch right after its commit, checking every
 * payload, through several trips round the ring; with a window smaller
 * than a segment the cache's own ring wraps too. */
static void run_wrap(uint32_t cache_bytes)
{
	uint64_t id = 1, delivered = 0, device_reads = 0;
	struct eh_queue_stats st;
	dev_blank();
	REQUIRE(qopen(cache_bytes, EH_QUEUE_BLOCK) == EH_OK);
	for (unsigned round = 0; round < 300; round++) {
		unsigned burst = 1 + round % 9;
		for (unsigned k = 0; k < burst; k++)
			put(id++);
		REQUIRE(eh_queue_commit(&q) == EH_OK);
		uint64_t reads = fl.reads;
		size_t n = peek(0, 256);
		device_reads += fl.reads - reads;
		CHECK_EQ(n, burst);
		for (size_t i = 0; i < n; i++) {
			CHECK_EQ(recs[i].seq, delivered + 1 + i); /* seqs start at 1 */
			CHECK(pay_ok(recs[i].payload, recs[i].len, delivered + 1 + i));
		}
		delivered += n;
		if (n > 0)
			CHECK(eh_queue_ack(&q, 0, 0, recs[n - 1].seq) == EH_OK);
	}
	eh_queue_stats(&q, &st);
	CHECK(st.head_seq > 6 * 30); /* several trips round 7 segments of about 28 records */
	/* Only a batch that straddles two segments reads its older part (and
	 * loads the head once): a few reads per segment opened, never per record. */
	printf("  %llu records, %llu device reads by peeks\n", (unsigned long long)delivered,
	       (unsigned long long)device_reads);
	CHECK(device_reads * 10 < delivered);
	eh_queue_close(&q);
}

EH_TEST(wrap_around_whole_segment_cache)
{
	run_wrap(BS);
}

EH_TEST(wrap_around_window_smaller_than_a_segment)
{
	run_wrap(4096 + 8); /* not a divisor of anything: the window's ring wraps mid-record */
}

EH_TEST(reused_segment_never_serves_its_old_bytes)
{
	uint64_t id = 1;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_DROP_OLDEST) == EH_OK);
	/* fill the ring without delivering: drop_oldest reuses segments */
	for (unsigned round = 0; round < 120; round++) {
		for (unsigned k = 0; k < 5; k++)
			put(id++);
		REQUIRE(eh_queue_commit(&q) == EH_OK);
	}
	size_t n = peek(0, 256);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK(pay_ok(recs[i].payload, recs[i].len, recs[i].seq));
	eh_queue_close(&q);
}

/* ==== Walks and mounts ==== */

static int count_rec(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	uint64_t *n = arg;
	(void)seg;
	if (pay_ok(r->payload, r->len, r->seq))
		(*n)++;
	return 0;
}

EH_TEST(walk_reads_whole_windows_not_records)
{
	uint64_t id = 1, n = 0, reads;
	struct eh_queue_stats st;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	for (unsigned k = 0; k < 150; k++)
		put(id++);
	eh_queue_close(&q);
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	eh_queue_stats(&q, &st);
	reads = fl.reads;
	CHECK(eh_queue_walk(&q, count_rec, &n, buf, sizeof(buf)) == EH_OK);
	CHECK_EQ(n, 150);
	/* 150 records over about 6 segments: a read or two per segment, not 300 */
	printf("  walk of 150 records: %llu device reads\n",
	       (unsigned long long)(fl.reads - reads));
	CHECK(fl.reads - reads <= 2 * 7);
	eh_queue_close(&q);
}

EH_TEST(mount_cuts_the_cache_back_to_the_recovered_end)
{
	uint64_t id = 1, reads;
	dev_blank();
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK);
	for (unsigned k = 0; k < 5; k++)
		put(id++);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	/* the power goes while more is written: a torn tail after record 5 */
	for (unsigned k = 0; k < 5; k++)
		put(id++);
	eh_flash_emu_cut_after(&emu, 1);
	CHECK(eh_queue_commit(&q) != EH_OK);
	eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_TORN, 3);
	REQUIRE(qopen(BS, EH_QUEUE_BLOCK) == EH_OK); /* the mount scan fills the cache */
	size_t n0 = peek(0, 256);
	CHECK(n0 >= 5 && n0 <= 10); /* a torn prefix may hold whole records */
	uint64_t next = recs[n0 - 1].seq;
	/* new records go where the torn ones were: read back as written */
	for (unsigned k = 0; k < 3; k++)
		put(100 + k);
	REQUIRE(eh_queue_commit(&q) == EH_OK);
	reads = fl.reads;
	CHECK_EQ(peek(0, 256), n0 + 3);
	CHECK_EQ(fl.reads, reads);
	for (unsigned k = 0; k < 3; k++) {
		CHECK(recs[n0 + k].seq > next);
		CHECK(pay_ok(recs[n0 + k].payload, recs[n0 + k].len, 100 + k));
	}
	eh_queue_close(&q);
}
