/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue_hostile.c - records whose CRCs hold but whose fields no
 * writer produces (lengths that wrap, lengths beyond a segment, seqs near
 * the top or above the head, cursors beyond the head): mounting, walking,
 * peeking and acking never crash, never hand out more bytes than the
 * caller's buffer, never wedge a reader, and new records still flow. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_log.h"
#include "eh_hash.h"
#include "eh_queue.h"

/* 16 KiB segments of 512-byte units, 1 superblock block + 7 segments */
#define BS 16384u
#define BC 8u
#define SZ (BS * BC)
#define UID 0x5eedull
static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 4];
static struct eh_flash_emu_op ops[4096];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static uint8_t buf[1 << 16];
static struct eh_queue_rec recs[64];

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static const struct eh_flash_emu_mem emu_mem = EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, 512);

/* A device over the durable image as it is (blank the first time). */
static void dev(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 0);
}

static eh_err qopen(void)
{
	struct eh_queue_config c = {.flash = &fl, .uid = UID};
	dev();
	return eh_queue_open(&q, &c);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t salt(void)
{
	uint8_t b[8];
	put64(b, UID);
	return eh_crc32c(0, b, 8) | 1u;
}

/* The header of the record of `kind` with `seq` in the durable image (the
 * last one when several match), found by its sealed header. */
static uint8_t *find_rec(unsigned kind, uint64_t seq)
{
	uint8_t *hit = NULL;
	for (size_t o = BS; o + 40 <= SZ; o += 8) {
		uint8_t *b = dur + o;
		if (b[0] == 0x45 && b[1] == 0x51 && b[2] == kind && get64(b + 8) == seq &&
		    get32(b + 36) == eh_crc32c(salt(), b, 36))
			hit = b;
	}
	return hit;
}

/* Seal a header again after its fields were changed: both CRCs valid. */
static void reseal(uint8_t *b, uint32_t payload_len)
{
	put32(b + 32, eh_crc32c(0, b + 40, payload_len));
	put32(b + 36, eh_crc32c(salt(), b, 36));
}

static void pay(uint8_t *p, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('a' + (id * 7 + i) % 26);
}

static int pay_ok(const uint8_t *p, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)('a' + (id * 7 + i) % 26))
			return 0;
	return 1;
}

/* Records 1..n of `len` bytes (type 0, slot 0), committed every `per`. */
static void fill(unsigned n, size_t len, unsigned per)
{
	static uint8_t p[8192];
	uint64_t seq;
	for (unsigned i = 1; i <= n; i++) {
		pay(p, len, i);
		REQUIRE(eh_queue_append(&q, 0, 1, p, len, &seq) == EH_OK);
		REQUIRE(seq == i);
		if (i % per == 0)
			REQUIRE(eh_queue_commit(&q) == EH_OK);
	}
}

struct walked {
	size_t buf_len;
	unsigned n, too_long, bad;
	uint64_t last;
};

static int walk_cb(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct walked *w = arg;
	(void)seg;
	w->n++;
	if (r->len > w->buf_len) {
		w->too_long++;
		return 0; /* never read past the buffer, even to check */
	}
	if (r->seq <= w->last || !pay_ok(r->payload, r->len, r->seq))
		w->bad++;
	w->last = r->seq;
	return 0;
}

/* Peek and ack slot 0 type 0 until nothing is pending, with a buffer of
 * buf_len: every peek and ack succeeds, seqs increase, bytes are the ones
 * appended. Returns the records delivered (or a large count: wedged). */
static unsigned drain(size_t buf_len, uint64_t *last_seq)
{
	unsigned got = 0;
	uint64_t last = 0;
	for (unsigned round = 0; round < 1000; round++) {
		size_t n = 0;
		eh_err rc = eh_queue_peek(&q, 0, 0, recs, 64, buf_len, buf, buf_len, &n);
		CHECK_EQ(rc, EH_OK);
		if (rc != EH_OK || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			CHECK(recs[i].len <= buf_len);
			CHECK(recs[i].seq > last);
			if (recs[i].len != 5 || memcmp(recs[i].payload, "after", 5) != 0)
				CHECK(pay_ok(recs[i].payload, recs[i].len, recs[i].seq));
			last = recs[i].seq;
		}
		got += (unsigned)n;
		rc = eh_queue_ack(&q, 0, 0, recs[n - 1].seq);
		CHECK_EQ(rc, EH_OK);
		if (rc != EH_OK)
			return 100000;
	}
	if (last_seq != NULL)
		*last_seq = last;
	return got;
}

/* After the damage: a new record gets a seq above every one handed out,
 * is delivered to its slot, and its ack is taken. */
static void new_records_flow(uint64_t above)
{
	uint64_t seq = 0, last = 0;
	static const uint8_t p[] = "after";
	CHECK(eh_queue_append(&q, 0, 1, p, 5, &seq) == EH_OK);
	CHECK(seq > above);
	CHECK(seq < ((uint64_t)1 << 62));
	CHECK(eh_queue_commit(&q) == EH_OK);
	CHECK_EQ(drain(sizeof(buf), &last), 1u);
	CHECK(last == seq);
}

EH_TEST(a_length_that_wraps_the_record_size_is_damage)
{
	struct eh_queue_stats st;
	struct walked w = {.buf_len = 4096};
	uint64_t last = 0;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(6, 20, 1);
	eh_queue_close(&q);
	uint8_t *h = find_rec(1, 3);
	REQUIRE(h != NULL);
	put32(h + 4, 0xFFFFFFF8u); /* 40 + len wraps to 32 in 32 bits */
	put32(h + 36, eh_crc32c(salt(), h, 36));

	REQUIRE(qopen() == EH_OK);
	REQUIRE(eh_queue_walk(&q, walk_cb, &w, buf, w.buf_len) == EH_OK);
	CHECK_EQ(w.too_long, 0u);
	CHECK_EQ(w.bad, 0u);
	eh_queue_stats(&q, &st);
	CHECK(st.corrupt_skipped >= 1);
	CHECK(drain(4096, &last) < 6);
	new_records_flow(6);
	eh_queue_close(&q);
}

EH_TEST(a_length_beyond_the_segment_room_is_damage)
{
	struct eh_queue_stats st;
	struct walked w = {.buf_len = sizeof(buf)};
	uint64_t last = 0;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(12, 2000, 1); /* three segments: seq 3 is in one that is not the head */
	eh_queue_close(&q);
	uint8_t *h = find_rec(1, 3);
	REQUIRE(h != NULL);
	REQUIRE((size_t)(h - dur) / BS == 1); /* segment 0 */
	put32(h + 4, 12000);		      /* fits the segment, not its data room */
	reseal(h, 12000);		      /* even the payload CRC holds */

	REQUIRE(qopen() == EH_OK);
	REQUIRE(eh_queue_walk(&q, walk_cb, &w, buf, w.buf_len) == EH_OK);
	CHECK_EQ(w.too_long, 0u);
	CHECK_EQ(w.bad, 0u);
	CHECK(w.n >= 2 && w.n < 12);
	eh_queue_stats(&q, &st);
	CHECK(st.corrupt_skipped >= 1);
	/* a buffer that holds the largest record a writer can append */
	CHECK(drain(8192, &last) >= 2);
	CHECK_EQ(last, 12u);
	new_records_flow(12);
	eh_queue_close(&q);
}

EH_TEST(a_record_longer_than_the_readers_buffer_is_skipped_and_counted)
{
	struct eh_queue_stats st;
	struct walked w = {.buf_len = 4096};
	static uint8_t big[6000];
	uint64_t last = 0, seq;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(2, 100, 1);
	pay(big, sizeof(big), 3);
	REQUIRE(eh_queue_append(&q, 0, 1, big, sizeof(big), &seq) == EH_OK);
	REQUIRE(seq == 3);
	pay(big, 100, 4);
	REQUIRE(eh_queue_append(&q, 0, 1, big, 100, &seq) == EH_OK);
	REQUIRE(eh_queue_commit(&q) == EH_OK);

	/* a walk with a smaller buffer never passes it */
	REQUIRE(eh_queue_walk(&q, walk_cb, &w, buf, w.buf_len) == EH_OK);
	CHECK_EQ(w.too_long, 0u);
	CHECK_EQ(w.n, 3u);
	/* nor does peek, and the reader goes on past it */
	CHECK_EQ(drain(4096, &last), 3u);
	CHECK_EQ(last, 4u);
	eh_queue_stats(&q, &st);
	CHECK_EQ(st.corrupt_skipped, 1u);
	CHECK_EQ(eh_queue_lag(&q, 0, 0), 0u);
	eh_queue_close(&q);
}

EH_TEST(a_seq_at_the_top_does_not_wrap_the_next_seq)
{
	uint64_t last = 0;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(6, 20, 6);
	eh_queue_close(&q);
	uint8_t *h = find_rec(1, 6);
	REQUIRE(h != NULL);
	put64(h + 8, UINT64_MAX);
	put32(h + 36, eh_crc32c(salt(), h, 36));

	REQUIRE(qopen() == EH_OK);
	CHECK(drain(sizeof(buf), &last) <= 5);
	CHECK(last <= 5);
	new_records_flow(5);
	eh_queue_close(&q);
}

EH_TEST(a_seq_above_the_head_in_an_older_segment_is_damage)
{
	uint64_t last = 0;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(12, 2000, 1);
	eh_queue_close(&q);
	uint8_t *h = find_rec(1, 3);
	REQUIRE(h != NULL);
	REQUIRE((size_t)(h - dur) / BS == 1);
	put64(h + 8, (uint64_t)1 << 40); /* the ack of it would be refused */
	put32(h + 36, eh_crc32c(salt(), h, 36));

	REQUIRE(qopen() == EH_OK);
	CHECK(drain(sizeof(buf), &last) < 100000);
	CHECK_EQ(last, 12u);
	new_records_flow(12);
	eh_queue_close(&q);
}

EH_TEST(a_cursor_beyond_the_head_is_moved_back)
{
	uint64_t last = 0;
	eh_log_set_sink(quiet, NULL);
	memset(dur, 0, sizeof(dur));
	REQUIRE(qopen() == EH_OK);
	fill(6, 20, 6);
	REQUIRE(eh_queue_ack(&q, 0, 0, 2) == EH_OK);
	eh_queue_close(&q); /* the last record: a CLEAN cursor record, seq 7 */
	uint8_t *h = find_rec(2, 7);
	REQUIRE(h != NULL);
	uint32_t len = get32(h + 4);
	REQUIRE(len == 16 + 32 && get64(h + 40 + 8) == 1); /* slot 0 only */
	CHECK_EQ(get64(h + 40 + 16), 2u);
	put64(h + 40 + 16, (uint64_t)1 << 40); /* slot 0, events */
	reseal(h, len);

	REQUIRE(qopen() == EH_OK);
	CHECK(eh_queue_cursor(&q, 0, 0) <= 6);
	(void)drain(sizeof(buf), &last);
	new_records_flow(6);
	eh_queue_close(&q);
}
