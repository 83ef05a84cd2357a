/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_mqtt_journal.c - the inbound journal's one bound, shared by its
 * writer and its replay; replay past damaged and over-bound entries; a
 * replay that stops at an entry not taken; when the journal may be
 * emptied. No broker: the journal is a file. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_file.h"
#include "eh_mqtt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t big[EH_MQTT_JOURNAL_ENTRY_MAX + 64];
static uint8_t scratch[EH_MQTT_JOURNAL_ENTRY_MAX];
static uint8_t payload[EH_MAX_MSG_BYTES + 1];
static char path[64];

/* In helpers that return a value: a failed step ends the test binary. */
#define MUST(cond)                                                                                 \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: MUST(%s) failed\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

struct seen {
	unsigned n;
	char topics[8][64];
	size_t lens[8];
	unsigned refuse_at; /* 1-based call that is not taken; 0: take all */
	unsigned calls;
};

static bool take(void *ctx, const char *topic, const uint8_t *p, size_t len, const char *hmac)
{
	struct seen *s = ctx;
	(void)p;
	(void)hmac;
	s->calls++;
	if (s->refuse_at && s->calls == s->refuse_at)
		return false;
	if (s->n < 8) {
		snprintf(s->topics[s->n], sizeof(s->topics[0]), "%s", topic);
		s->lens[s->n] = len;
	}
	s->n++;
	return true;
}

static void new_path(void)
{
	snprintf(path, sizeof(path), "/tmp/eh-journal-test-%d", (int)getpid());
	unlink(path);
}

/* Append one entry; returns its offset. */
static uint64_t append(const char *topic, const char *hmac, size_t len, size_t *size)
{
	size_t total = 0;
	int fd;
	uint64_t off = 0;
	MUST(eh_mqtt_journal_encode(big, sizeof(big), topic, hmac, payload, len, &total) ==
		EH_OK);
	MUST(eh_file_open_rw(path, 1, &fd) == EH_OK);
	MUST(eh_file_size(fd, &off) == EH_OK);
	MUST(eh_file_pwrite(fd, big, total, off) == EH_OK);
	eh_file_close(fd);
	if (size)
		*size = total;
	return off;
}

static void poke(uint64_t off, const void *b, size_t n)
{
	int fd;
	MUST(eh_file_open_rw(path, 0, &fd) == EH_OK);
	MUST(eh_file_pwrite(fd, b, n, off) == EH_OK);
	eh_file_close(fd);
}

static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

EH_TEST(writer_refuses_what_replay_would_skip)
{
	char topic[EH_MQTT_TOPIC_MAX + 2];
	char hmac[EH_MQTT_HMAC_PROP_MAX];
	size_t total = 1;
	memset(topic, 't', sizeof(topic));
	topic[sizeof(topic) - 1] = '\0';
	memset(hmac, 'a', sizeof(hmac) - 1);
	hmac[sizeof(hmac) - 1] = '\0';
	CHECK(eh_mqtt_journal_encode(big, sizeof(big), "a/in/events", NULL, payload,
				     EH_MAX_MSG_BYTES + 1, &total) == EH_ERR_TOOBIG);
	CHECK_EQ(total, 0);
	CHECK(eh_mqtt_journal_encode(big, sizeof(big), topic, NULL, payload, 1, &total) ==
	      EH_ERR_TOOBIG);
	CHECK(eh_mqtt_journal_encode(big, sizeof(big), "", NULL, payload, 1, &total) ==
	      EH_ERR_TOOBIG);
	/* The largest entry the writer makes is the bound, and replay takes it. */
	topic[EH_MQTT_TOPIC_MAX] = '\0';
	new_path();
	for (size_t i = 0; i < EH_MAX_MSG_BYTES; i++)
		payload[i] = (uint8_t)(i * 7);
	REQUIRE(eh_mqtt_journal_encode(big, sizeof(big), topic, hmac, payload, EH_MAX_MSG_BYTES,
				       &total) == EH_OK);
	CHECK_EQ(total, EH_MQTT_JOURNAL_ENTRY_MAX);
	append(topic, hmac, EH_MAX_MSG_BYTES, NULL);
	append("a/in/events", NULL, 3, NULL);
	struct seen s = {0};
	struct eh_mqtt_replay r;
	REQUIRE(eh_mqtt_journal_replay(path, 0, UINT64_MAX, take, &s, scratch, sizeof(scratch),
				       &r) == EH_OK);
	CHECK_EQ(r.replayed, 2);
	CHECK_EQ(r.skipped, 0);
	CHECK_EQ(s.lens[0], EH_MAX_MSG_BYTES);
	CHECK_STR(s.topics[1], "a/in/events");
	unlink(path);
}

EH_TEST(replay_skips_damaged_and_oversize_entries_and_goes_on)
{
	size_t sz;
	uint64_t off_b, off_c, off_d, off_torn;
	uint8_t hdr[EH_MQTT_J_HDR];
	new_path();
	memset(payload, 'p', sizeof(payload));
	append("a/1", NULL, 10, NULL);
	off_b = append("a/2", NULL, 20, &sz);
	poke(off_b + sz - 1, "X", 1); /* a flipped payload byte */
	append("a/2b", NULL, 25, NULL);
	off_c = append("a/3", NULL, 30, &sz);
	uint32_t huge = 0x7ffffff0u; /* a damaged length: runs past the end */
	poke(off_c + 12, &huge, 4);
	off_d = append("a/4", NULL, 40, NULL);
	/* An intact entry over the bound (an older writer's): valid hash. */
	{
		int fd;
		uint64_t end;
		uint32_t tl = 3, hl = 0, pl = EH_MAX_MSG_BYTES + 1, magic = 0x314a4845u;
		memcpy(hdr, &magic, 4);
		memcpy(hdr + 4, &tl, 4);
		memcpy(hdr + 8, &hl, 4);
		memcpy(hdr + 12, &pl, 4);
		uint64_t h = fnv(hdr + 4, 12, 1469598103934665603ull);
		h = fnv((const uint8_t *)"a/5", 3, h);
		h = fnv(payload, pl, h);
		memcpy(hdr + 16, &h, 8);
		REQUIRE(eh_file_open_rw(path, 0, &fd) == EH_OK);
		REQUIRE(eh_file_size(fd, &end) == EH_OK);
		REQUIRE(eh_file_pwrite(fd, hdr, sizeof(hdr), end) == EH_OK);
		REQUIRE(eh_file_pwrite(fd, "a/5", 3, end + sizeof(hdr)) == EH_OK);
		REQUIRE(eh_file_pwrite(fd, payload, pl, end + sizeof(hdr) + 3) == EH_OK);
		eh_file_close(fd);
	}
	append("a/6", NULL, 60, NULL);
	off_torn = append("a/7", NULL, 70, &sz);
	{
		int fd;
		REQUIRE(eh_file_open_rw(path, 0, &fd) == EH_OK);
		REQUIRE(eh_file_truncate(fd, off_torn + sz - 5) == EH_OK); /* a kill mid-write */
		eh_file_close(fd);
	}
	struct seen s = {0};
	struct eh_mqtt_replay r;
	REQUIRE(eh_mqtt_journal_replay(path, 0, UINT64_MAX, take, &s, scratch, sizeof(scratch),
				       &r) == EH_OK);
	CHECK_EQ(r.replayed, 4);
	CHECK_EQ(s.n, 4);
	CHECK_STR(s.topics[0], "a/1");
	CHECK_STR(s.topics[1], "a/2b");
	CHECK_STR(s.topics[2], "a/4");
	CHECK_STR(s.topics[3], "a/6");
	CHECK_EQ(r.skipped, 3); /* a/2 damaged, a/3 damaged length, a/5 over the bound */
	CHECK(!r.stopped);
	CHECK_EQ(r.next, off_torn); /* the torn tail is not counted, and is where it ends */
	(void)off_d;
	unlink(path);
}

EH_TEST(replay_stops_at_an_entry_not_taken_and_goes_on_from_there)
{
	uint64_t off2;
	new_path();
	append("a/1", NULL, 1, NULL);
	off2 = append("a/2", NULL, 2, NULL);
	append("a/3", NULL, 3, NULL);
	struct seen s = {0};
	s.refuse_at = 2;
	struct eh_mqtt_replay r;
	REQUIRE(eh_mqtt_journal_replay(path, 0, UINT64_MAX, take, &s, scratch, sizeof(scratch),
				       &r) == EH_OK);
	CHECK(r.stopped);
	CHECK_EQ(r.replayed, 1);
	CHECK_EQ(r.next, off2);
	struct seen s2 = {0};
	REQUIRE(eh_mqtt_journal_replay(path, r.next, UINT64_MAX, take, &s2, scratch,
				       sizeof(scratch), &r) == EH_OK);
	CHECK(!r.stopped);
	CHECK_EQ(s2.n, 2);
	CHECK_STR(s2.topics[0], "a/2");
	CHECK_STR(s2.topics[1], "a/3");
	/* `to` bounds it: only a/2. */
	struct seen s3 = {0};
	REQUIRE(eh_mqtt_journal_replay(path, off2, off2 + EH_MQTT_J_HDR + 3 + 2, take, &s3,
				       scratch, sizeof(scratch), &r) == EH_OK);
	CHECK_EQ(s3.n, 1);
	unlink(path);
	/* No journal: nothing, and no error. */
	CHECK(eh_mqtt_journal_replay(path, 0, UINT64_MAX, take, &s3, scratch, sizeof(scratch),
				     &r) == EH_OK);
	CHECK_EQ(r.replayed, 0);
}

EH_TEST(journal_is_not_emptied_before_its_last_entry_is_committed)
{
	struct eh_mqtt_jstate js = {0};
	/* M1 journalled; M2 over the bound, handed over without an entry. */
	eh_mqtt_jstate_written(&js);
	eh_mqtt_jstate_done(&js, false); /* M2 refused by the app */
	eh_mqtt_jstate_committed(&js);
	eh_mqtt_jstate_done(&js, true); /* M1 staged, not yet committed */
	CHECK(!eh_mqtt_jstate_may_empty(&js));
	eh_mqtt_jstate_committed(&js);
	CHECK(eh_mqtt_jstate_may_empty(&js));
	/* A journalled message still waiting for a slot is not done. */
	eh_mqtt_jstate_written(&js);
	eh_mqtt_jstate_committed(&js);
	CHECK(!eh_mqtt_jstate_may_empty(&js));
	eh_mqtt_jstate_done(&js, true);
	eh_mqtt_jstate_committed(&js);
	CHECK(eh_mqtt_jstate_may_empty(&js));
	/* Entries kept for the app (no room at start) are never emptied. */
	js.keep = 100;
	CHECK(!eh_mqtt_jstate_may_empty(&js));
}
