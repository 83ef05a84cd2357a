/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_journal.c - the inbound journal: append and replay, a torn tail,
 * a damaged entry skipped, the largest entry, a full journal (spill),
 * halves taken again only when done and committed, entries kept for the
 * app, the previous format, and the bytes of one entry written by hand. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_file.h"
#include "eh_hash.h"
#include "eh_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t payload[EH_MAX_MSG_BYTES + 1];
static uint8_t image[4u << 20];
static char path[64];

struct seen {
	unsigned n;
	char topics[16][64];
	char hmacs[16][8];
	size_t lens[16];
	uint8_t first[16];  /* the payload's first byte */
	unsigned refuse_at; /* 1-based call that is not taken; 0: take all */
	unsigned calls;
};

static bool take(void *ctx, const char *topic, const uint8_t *p, size_t len, const char *hmac)
{
	struct seen *s = ctx;
	s->calls++;
	if (s->refuse_at && s->calls == s->refuse_at)
		return false;
	if (s->n < 16) {
		snprintf(s->topics[s->n], sizeof(s->topics[0]), "%s", topic);
		snprintf(s->hmacs[s->n], sizeof(s->hmacs[0]), "%s", hmac ? hmac : "-");
		s->lens[s->n] = len;
		s->first[s->n] = len ? p[0] : 0;
	}
	s->n++;
	return true;
}

static void new_path(void)
{
	snprintf(path, sizeof(path), "/tmp/eh-journal-test-%d", (int)getpid());
	unlink(path);
}

static uint64_t add(struct eh_journal *j, const char *topic, const char *hmac, size_t len,
		    uint8_t fill)
{
	uint64_t seq = 0;
	memset(payload, fill, len);
	if (!eh_journal_append(j, topic, hmac, payload, len, &seq))
		return 0;
	return seq;
}

static eh_err replay(uint64_t from, struct seen *s, struct eh_journal_replay *r)
{
	return eh_journal_replay_file(path, from, UINT64_MAX, take, s, r);
}

static void poke(uint64_t off, const void *b, size_t n)
{
	int fd;
	if (eh_file_open_rw(path, 1, &fd) != EH_OK || eh_file_pwrite(fd, b, n, off) != EH_OK)
		abort();
	eh_file_close(fd);
}

static uint64_t file_size(void)
{
	int fd;
	uint64_t n = 0;
	if (eh_file_open_ro(path, &fd) != EH_OK)
		return 0;
	(void)eh_file_size(fd, &n);
	eh_file_close(fd);
	return n;
}

EH_TEST(crc_is_crc32c)
{
	CHECK_EQ(eh_crc32c(0, "123456789", 9), 0xe3069283u);
}

EH_TEST(append_and_replay_in_order)
{
	struct eh_journal j;
	struct seen s = {0};
	struct eh_journal_replay r;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	CHECK_EQ(add(&j, "a/in/1", NULL, 10, 'a'), 1);
	CHECK_EQ(add(&j, "a/in/2", "f00d", 0, 'b'), 2);
	CHECK_EQ(add(&j, "a/in/3", NULL, 30, 'c'), 3);
	eh_journal_close(&j); /* a kill -9 leaves the same page cache */
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(r.version, 2);
	CHECK_EQ(r.replayed, 3);
	CHECK_EQ(r.skipped, 0);
	CHECK(!r.stopped);
	CHECK_EQ(r.end, 4);
	CHECK_STR(s.topics[0], "a/in/1");
	CHECK_STR(s.hmacs[0], "-");
	CHECK_STR(s.hmacs[1], "f00d");
	CHECK_EQ(s.lens[1], 0);
	CHECK_EQ(s.lens[2], 30);
	CHECK_EQ(s.first[2], 'c');
	/* Numbering goes on after a reopen; committed entries are not replayed. */
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	CHECK_EQ(add(&j, "a/in/4", NULL, 4, 'd'), 4);
	eh_journal_close(&j);
	struct seen s2 = {0};
	REQUIRE(replay(0, &s2, &r) == EH_OK);
	CHECK_EQ(s2.n, 1);
	CHECK_STR(s2.topics[0], "a/in/4");
	unlink(path);
}

EH_TEST(little_endian_bytes_match_a_hand_written_entry)
{
	struct eh_journal j;
	uint8_t want[48], got[48], hdr[32];
	int fd;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	CHECK_EQ(add(&j, "t/x", "ab", 3, 'z'), 1);
	eh_journal_close(&j);
	REQUIRE(eh_file_open_ro(path, &fd) == EH_OK);
	REQUIRE(eh_file_pread(fd, hdr, sizeof(hdr), 0, NULL) == EH_OK);
	REQUIRE(eh_file_pread(fd, got, sizeof(got), 32, NULL) == EH_OK);
	eh_file_close(fd);
	/* File header: "EHJL", version 2, header 32 bytes, area 532480
	 * (0x00082000), CRC-32C of those 12 bytes, commit mark 1. */
	static const uint8_t fh[12] = {'E', 'H', 'J', 'L', 2, 0, 32, 0, 0x00, 0x20, 0x08, 0x00};
	CHECK(memcmp(hdr, fh, 12) == 0);
	uint32_t c = eh_crc32c(0, fh, 12);
	CHECK(hdr[12] == (uint8_t)c && hdr[13] == (uint8_t)(c >> 8) &&
	      hdr[14] == (uint8_t)(c >> 16) && hdr[15] == (uint8_t)(c >> 24));
	CHECK(hdr[16] == 1 && hdr[17] == 0 && hdr[23] == 0);
	/* Entry: "EHJE", CRC-32C of bytes 8.., number 1 (8 bytes), payload
	 * length 3 (4), topic length 3 (2), hmac length 2, 0, then "t/x",
	 * "ab", "zzz", padded to 40 bytes with zeros. */
	static const uint8_t e[32] = {'E', 'H', 'J', 'E', 0,   0,   0,	 0,   1,   0,  0,
				      0,   0,	0,   0,	  0,   3,   0,	 0,   0,   3,  0,
				      2,   0,	't', '/', 'x', 'a', 'b', 'z', 'z', 'z'};
	memset(want, 0, sizeof(want));
	memcpy(want, e, sizeof(e));
	c = eh_crc32c(0, want + 8, 16 + 3 + 2 + 3);
	want[4] = (uint8_t)c;
	want[5] = (uint8_t)(c >> 8);
	want[6] = (uint8_t)(c >> 16);
	want[7] = (uint8_t)(c >> 24);
	CHECK(memcmp(got, want, 40) == 0);
	/* The replay takes the hand-written bytes as they are. */
	memset(image, 0, 32 + 532480);
	memcpy(image, hdr, 16); /* commit mark 0 */
	memcpy(image + 32, want, 40);
	struct seen s = {0};
	struct eh_journal_replay r;
	REQUIRE(eh_journal_replay_buf(image, 32 + 532480, 0, UINT64_MAX, take, &s, &r) == EH_OK);
	CHECK_EQ(r.replayed, 1);
	CHECK_STR(s.topics[0], "t/x");
	CHECK_STR(s.hmacs[0], "ab");
	unlink(path);
}

EH_TEST(torn_tail_ends_replay_and_damaged_entry_is_skipped)
{
	struct eh_journal j;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	add(&j, "a/1", NULL, 10, '1'); /* entry at 32, 40 bytes */
	add(&j, "a/2", NULL, 20, '2'); /* at 72, 48 bytes */
	add(&j, "a/3", NULL, 30, '3'); /* at 120, 64 bytes */
	add(&j, "a/4", NULL, 40, '4'); /* at 184 */
	eh_journal_close(&j);
	poke(72 + 24 + 5, "X", 1);	  /* a flipped payload byte in a/2 */
	poke(184 + 24 + 3 + 39, "\0", 1); /* a/4's last byte never written: torn */
	struct seen s = {0};
	struct eh_journal_replay r;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(r.replayed, 2);
	CHECK_STR(s.topics[0], "a/1");
	CHECK_STR(s.topics[1], "a/3");
	CHECK_EQ(r.skipped, 1); /* a/2; the torn tail is not counted */
	/* A damaged length is refused before it is used. */
	uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
	poke(32 + 16, huge, 4);
	struct seen s2 = {0};
	REQUIRE(replay(0, &s2, &r) == EH_OK);
	CHECK_EQ(r.replayed, 1);
	CHECK_STR(s2.topics[0], "a/3");
	unlink(path);
}

/* A whole entry as a publisher could hide it in a payload: magic, its own
 * CRC-32C, any number, topic "in/evil". */
static size_t fake_entry(uint8_t *b, uint64_t seq)
{
	static const char body[] = "in/evil{\"id\":\"planted\"}";
	size_t tl = 7, pl = sizeof(body) - 1 - tl, n = (24 + tl + pl + 7) & ~(size_t)7;
	uint32_t c;

	memset(b, 0, n);
	memcpy(b, "EHJE", 4);
	for (int i = 0; i < 8; i++)
		b[8 + i] = (uint8_t)(seq >> (8 * i));
	b[16] = (uint8_t)pl;
	b[20] = (uint8_t)tl;
	memcpy(b + 24, body, tl + pl);
	c = eh_crc32c(0, b + 8, 16 + tl + pl);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(c >> (8 * i));
	return n;
}

EH_TEST(a_planted_entry_cannot_take_the_numbering_out_of_range)
{
	static const uint64_t bad[] = {0xfffffffffffffffeull, 1ull << 40, EH_JOURNAL_SEQ_MAX + 1};
	uint8_t fake[64];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct eh_journal j;
		struct eh_journal_replay r;
		struct seen s = {0};
		uint64_t seq = 0;

		new_path();
		REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
		add(&j, "a/1", NULL, 10, '1'); /* at 32, 40 bytes */
		add(&j, "a/2", NULL, 20, '2'); /* at 72, 48 bytes: the run ends at 120 */
		eh_journal_close(&j);
		/* Right after the run, as stale payload bytes would lie, and again
		 * past some garbage that makes the walk skip. */
		size_t n = fake_entry(fake, bad[k]);
		poke(120, fake, n);
		poke(120 + n + 16, fake, n);
		REQUIRE(replay(0, &s, &r) == EH_OK);
		CHECK_EQ(r.replayed, 2);
		CHECK_STR(s.topics[1], "a/2");
		/* Numbering goes on from the real entries, not from the planted one. */
		REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 1) == EH_OK);
		REQUIRE(eh_journal_append(&j, "a/3", NULL, "x", 1, &seq));
		CHECK(seq >= 3 && seq < 100);
		eh_journal_close(&j);
		unlink(path);
	}
}

EH_TEST(largest_entry_is_written_and_read_and_one_more_byte_is_not)
{
	struct eh_journal j;
	char topic[EH_MQTT_TOPIC_MAX + 2], hmac[EH_JOURNAL_HMAC_MAX + 2];
	uint64_t seq = 0;
	memset(topic, 't', sizeof(topic));
	topic[EH_MQTT_TOPIC_MAX] = '\0';
	memset(hmac, 'h', sizeof(hmac));
	hmac[EH_JOURNAL_HMAC_MAX] = '\0';
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	memset(payload, 'p', sizeof(payload));
	CHECK(eh_journal_append(&j, topic, hmac, payload, EH_MAX_MSG_BYTES, &seq));
	CHECK(!eh_journal_append(&j, topic, hmac, payload, EH_MAX_MSG_BYTES + 1, &seq));
	topic[EH_MQTT_TOPIC_MAX] = 't';
	topic[EH_MQTT_TOPIC_MAX + 1] = '\0';
	CHECK(!eh_journal_append(&j, topic, NULL, payload, 1, &seq));
	CHECK(!eh_journal_append(&j, "", NULL, payload, 1, &seq));
	hmac[EH_JOURNAL_HMAC_MAX] = 'h';
	hmac[EH_JOURNAL_HMAC_MAX + 1] = '\0';
	CHECK(!eh_journal_append(&j, "a", hmac, payload, 1, &seq));
	struct eh_journal_stats st;
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.appended, 1);
	CHECK_EQ(st.refused, 4);
	eh_journal_close(&j);
	struct seen s = {0};
	struct eh_journal_replay r;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(r.replayed, 1);
	CHECK_EQ(s.lens[0], EH_MAX_MSG_BYTES);
	unlink(path);
}

/* 200 KiB entries: one per half. */
#define BIG (200u * 1024u)

EH_TEST(full_journal_spills_and_halves_return_only_when_done_and_committed)
{
	struct eh_journal j;
	struct eh_journal_stats st;
	uint64_t a, b, c, d, e, f;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	a = add(&j, "a/A", NULL, BIG, 'A'); /* half 0 */
	b = add(&j, "a/B", NULL, BIG, 'B'); /* half 1 */
	c = add(&j, "a/C", NULL, BIG, 'C'); /* both taken: spilled */
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 1);
	CHECK(file_size() > 32 + 532480);
	/* A done but not committed: half 0 is not free. */
	eh_journal_done(&j, a);
	d = add(&j, "a/D", NULL, BIG, 'D');
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 2);
	/* Committed, but the spill holds entries not done: it goes on. */
	eh_journal_committed(&j);
	e = add(&j, "a/E", NULL, 100, 'E');
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 3);
	/* Done out of order, everything but E committed: still spilling. */
	eh_journal_done(&j, c);
	eh_journal_done(&j, b);
	eh_journal_done(&j, d);
	f = add(&j, "a/F", NULL, 100, 'F');
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 4);
	/* A kill now: everything not committed comes back, in order. */
	struct seen s = {0};
	struct eh_journal_replay r;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(s.n, 5);
	CHECK_STR(s.topics[0], "a/B");
	CHECK_STR(s.topics[4], "a/F");
	CHECK_EQ(s.first[1], 'C');
	/* All done and committed: the spill is cut and a half is taken again. */
	eh_journal_done(&j, e);
	eh_journal_done(&j, f);
	eh_journal_committed(&j);
	CHECK(add(&j, "a/G", NULL, 100, 'G') != 0);
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 4);
	CHECK_EQ(file_size(), 32 + 532480);
	eh_journal_close(&j);
	struct seen s2 = {0};
	REQUIRE(replay(0, &s2, &r) == EH_OK);
	CHECK_EQ(s2.n, 1);
	CHECK_STR(s2.topics[0], "a/G");
	unlink(path);
}

EH_TEST(kept_entries_wait_and_are_never_overwritten)
{
	struct eh_journal j;
	struct eh_journal_replay r;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	for (int i = 0; i < 5; i++)
		add(&j, "a/k", NULL, 10, (uint8_t)('0' + i));
	eh_journal_close(&j);
	/* Start: the queue takes two, then is full. */
	struct seen s = {0};
	s.refuse_at = 3;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK(r.stopped);
	CHECK_EQ(r.next, 3);
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, r.next) == EH_OK);
	CHECK(eh_journal_has_kept(&j));
	/* New input meanwhile (the window), done and committed. */
	uint64_t n = add(&j, "a/new", NULL, 10, 'n');
	CHECK_EQ(n, 6);
	eh_journal_done(&j, n);
	eh_journal_committed(&j);
	/* A kill here replays the kept ones, and what follows them (the new
	 * one, committed: the redelivery filter drops it). */
	struct seen s2 = {0};
	REQUIRE(replay(0, &s2, &r) == EH_OK);
	CHECK_EQ(s2.n, 4);
	CHECK_EQ(s2.first[0], '2');
	/* Room for one, then for the rest. */
	struct seen s3 = {0};
	s3.refuse_at = 2;
	REQUIRE(eh_journal_replay_kept(&j, take, &s3, &r) == EH_OK);
	CHECK(r.stopped);
	CHECK_EQ(s3.n, 1);
	struct seen s4 = {0};
	REQUIRE(eh_journal_replay_kept(&j, take, &s4, &r) == EH_OK);
	CHECK(!r.stopped);
	CHECK_EQ(s4.n, 2);
	CHECK_EQ(s4.first[0], '3');
	CHECK_EQ(s4.first[1], '4');
	eh_journal_kept_queued(&j);
	CHECK(!eh_journal_has_kept(&j));
	eh_journal_close(&j);
	struct seen s5 = {0};
	REQUIRE(replay(0, &s5, &r) == EH_OK);
	CHECK_EQ(s5.n, 0);
	unlink(path);
}

/* The previous format: host-endian lengths, FNV-1a 64. */
static size_t v1_entry(uint8_t *p, const char *topic, const char *hmac, const uint8_t *pl,
		       uint32_t len)
{
	uint32_t magic = 0x314a4845u, tl = (uint32_t)strlen(topic),
		 hl = hmac ? (uint32_t)strlen(hmac) : 0;
	memcpy(p, &magic, 4);
	memcpy(p + 4, &tl, 4);
	memcpy(p + 8, &hl, 4);
	memcpy(p + 12, &len, 4);
	memcpy(p + 24, topic, tl);
	if (hl)
		memcpy(p + 24 + tl, hmac, hl);
	memcpy(p + 24 + tl + hl, pl, len);
	uint64_t h = eh_fnv1a64(EH_FNV1A64_SEED, p + 4, 12);
	h = eh_fnv1a64(h, p + 24, tl + hl + len);
	memcpy(p + 16, &h, 8);
	return 24 + tl + hl + len;
}

EH_TEST(previous_format_is_replayed_and_its_kept_entries_carried_over)
{
	struct eh_journal j;
	struct eh_journal_replay r;
	size_t n = 0;
	new_path();
	n += v1_entry(image + n, "a/o1", NULL, (const uint8_t *)"one", 3);
	size_t bad = n;
	n += v1_entry(image + n, "a/o2", "cafe", (const uint8_t *)"two", 3);
	image[bad + 30] ^= 1; /* damaged */
	n += v1_entry(image + n, "a/o3", NULL, (const uint8_t *)"three", 5);
	n += v1_entry(image + n, "a/o4", NULL, (const uint8_t *)"four", 4);
	poke(0, image, n + 7); /* and a torn tail */
	struct seen s = {0};
	s.refuse_at = 3;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(r.version, 1);
	CHECK_EQ(r.skipped, 1);
	CHECK(r.stopped);
	CHECK_EQ(s.n, 2);
	CHECK_STR(s.topics[1], "a/o3");
	/* Opened keeping a/o4: rewritten in the new format with it. */
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, r.next) == EH_OK);
	CHECK(eh_journal_has_kept(&j));
	eh_journal_close(&j);
	struct seen s2 = {0};
	REQUIRE(replay(0, &s2, &r) == EH_OK);
	CHECK_EQ(r.version, 2);
	CHECK_EQ(s2.n, 1);
	CHECK_STR(s2.topics[0], "a/o4");
	CHECK_EQ(file_size(), 32 + 532480);
	unlink(path);
}

EH_TEST(hostile_headers_are_refused)
{
	struct seen s = {0};
	struct eh_journal_replay r;
	memset(image, 0, 64);
	memcpy(image, "EHJL", 4);
	CHECK(eh_journal_replay_buf(image, 64, 0, UINT64_MAX, take, &s, &r) == EH_ERR_CORRUPT);
	memcpy(image, "junk", 4);
	CHECK(eh_journal_replay_buf(image, 64, 0, UINT64_MAX, take, &s, &r) == EH_ERR_CORRUPT);
	CHECK(eh_journal_replay_buf(image, 0, 0, UINT64_MAX, take, &s, &r) == EH_OK);
}

EH_TEST(a_half_waits_for_its_oldest_entry_even_when_later_ones_are_done)
{
	struct eh_journal j;
	struct eh_journal_stats st;
	new_path();
	REQUIRE(eh_journal_open(&j, &(struct eh_journal_config){path, 0}, 0) == EH_OK);
	uint64_t a = add(&j, "a/A", NULL, BIG, 'A'); /* half 0: held (a full queue) */
	uint64_t b = add(&j, "a/B", NULL, BIG, 'B'); /* half 1 */
	eh_journal_done(&j, b);
	eh_journal_committed(&j);
	add(&j, "a/C", NULL, BIG, 'C');
	eh_journal_get_stats(&j, &st);
	CHECK_EQ(st.spilled, 1); /* half 0 still holds A */
	struct seen s = {0};
	struct eh_journal_replay r;
	REQUIRE(replay(0, &s, &r) == EH_OK);
	CHECK_EQ(s.n, 3);
	CHECK_STR(s.topics[0], "a/A");
	eh_journal_done(&j, a);
	eh_journal_close(&j);
	unlink(path);
}
