/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_ingest.c - the ingest pipeline alone, over fake ops: the size
 * bound, refusals before anything is staged, one record per wanted
 * notification as received, the redelivery filter, and the held FIFO under
 * `block` (a message that stops half-way resumes where it stopped, input
 * pauses on the first held message and resumes when all are taken). */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>

#include "eh_ingest.h"
#include "eh_log.h"

/* ==== Fake ops ==== */

#define MAXREC 64
static struct {
	char raw[MAXREC][256];
	unsigned type[MAXREC];
	uint64_t mask[MAXREC];
	size_t n;
	size_t room;   /* appends allowed before EH_ERR_NOSPC */
	eh_err fail;   /* another error to return, EH_OK = none */
	uint64_t want; /* mask match() returns */
	unsigned kicks;
	void *taken[MAXREC];
	size_t ntaken;
	int paused; /* pause(true) - pause(false) */
	unsigned pauses;
} F;

static uint64_t f_match(void *ctx, const struct eh_note *n)
{
	(void)ctx;
	/* An id "skip..." is wanted by nobody. */
	if (n->id_len >= 4 && memcmp(n->id, "skip", 4) == 0)
		return 0;
	return F.want;
}

static eh_err f_append(void *ctx, unsigned type, uint64_t mask, const uint8_t *raw, size_t len,
		       uint64_t hash)
{
	(void)ctx;
	CHECK(hash != 0);
	if (F.fail != EH_OK)
		return F.fail;
	if (F.room == 0)
		return EH_ERR_NOSPC;
	F.room--;
	snprintf(F.raw[F.n], sizeof(F.raw[0]), "%.*s", (int)len, (const char *)raw);
	F.type[F.n] = type;
	F.mask[F.n] = mask;
	F.n++;
	return EH_OK;
}

static void f_kick(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	(void)slot;
	(void)type;
	F.kicks++;
}

static void f_taken(void *ctx, void *msg)
{
	(void)ctx;
	F.taken[F.ntaken++] = msg;
}

static void f_pause(void *ctx, bool pause)
{
	(void)ctx;
	F.paused += pause ? 1 : -1;
	F.pauses += pause;
}

static const struct eh_ingest_ops fops = {f_match, f_append, f_kick, f_taken, f_pause};
static struct eh_ingest G;

static void rig(void)
{
	memset(&F, 0, sizeof(F));
	F.room = MAXREC;
	F.want = 0x5; /* slots 0 and 2 */
	eh_ingest_init(&G, &fops, NULL);
	eh_log_set_level(EH_LOG_LEVEL_ERR);
}

#define EV(id) "{\"id\":\"" id "\",\"event_type\":\"event_created\"}"

static eh_err ingest(const char *msg, size_t *from)
{
	char diag[EH_ERRS_LEN];
	return eh_ingest_message(&G, EH_TYPE_EVENTS, (const uint8_t *)msg, strlen(msg), diag,
				 sizeof(diag), from);
}

/* ==== Tests ==== */

EH_TEST(stages_each_wanted_notification_as_received)
{
	size_t from = 0;
	static const char msg[] = "[" EV("a") ", " EV("skip1") "," EV("b") "]";

	rig();
	CHECK_EQ(ingest(msg, &from), EH_OK);
	REQUIRE(F.n == 2);
	CHECK(strcmp(F.raw[0], EV("a")) == 0);
	CHECK(strcmp(F.raw[1], EV("b")) == 0);
	CHECK_EQ(F.type[0], EH_TYPE_EVENTS);
	CHECK_EQ(F.mask[1], 0x5);
	CHECK_EQ(F.kicks, 4); /* two slots each */
	CHECK_EQ(G.st.messages, 1);
	CHECK_EQ(G.st.notifications, 3);
	CHECK_EQ(G.st.unmatched, 1);
	CHECK_EQ(G.st.queued, 2);
}

EH_TEST(refusals_stage_nothing)
{
	static char big[EH_MAX_MSG_BYTES + 2];
	char diag[EH_ERRS_LEN];
	size_t from = 0;

	rig();
	CHECK_EQ(ingest("[" EV("a") ", 5]", &from), EH_ERR_PROTO);
	CHECK_EQ(ingest("{\"id\":1", &from), EH_ERR_PROTO);
	memset(big, ' ', sizeof(big));
	CHECK_EQ(eh_ingest_message(&G, EH_TYPE_EVENTS, (const uint8_t *)big, sizeof(big), diag,
				   sizeof(diag), &from),
		 EH_ERR_TOOBIG);
	CHECK(strstr(diag, "over the 262144 byte limit") != NULL);
	CHECK_EQ(F.n, 0);
	CHECK_EQ(G.st.rejected, 3);
	CHECK_EQ(G.st.oversize, 1);
	F.fail = EH_ERR_IO;
	CHECK_EQ(ingest(EV("x"), &from), EH_ERR_IO);
}

/* A body as FindFace posts it: each element staged under the type its webhook_type names;
 * one element without it refuses the whole body, nothing staged. */
EH_TEST(by_webhook_type_stages_each_element_as_its_type)
{
	static const char mixed[] =
	    "[{\"id\":\"e\",\"event_type\":\"event_created\",\"webhook_type\":\"events\"},"
	    "{\"id\":\"c\",\"event_type\":\"counter_record\",\"webhook_type\":\"counters\"}]";
	static const char untyped[] =
	    "[{\"id\":\"e\",\"event_type\":\"event_created\",\"webhook_type\":\"events\"}," EV(
		"x") "]";
	char diag[EH_ERRS_LEN];
	size_t from = 0;

	rig();
	CHECK_EQ(eh_ingest_message(&G, EH_INGEST_BY_WEBHOOK_TYPE, (const uint8_t *)mixed,
				   strlen(mixed), diag, sizeof(diag), &from),
		 EH_OK);
	REQUIRE(F.n == 2);
	CHECK_EQ(F.type[0], EH_TYPE_EVENTS);
	CHECK_EQ(F.type[1], EH_TYPE_COUNTERS);
	CHECK_EQ(eh_ingest_last_count(&G), 2);
	CHECK_EQ(eh_ingest_message(&G, EH_INGEST_BY_WEBHOOK_TYPE, (const uint8_t *)untyped,
				   strlen(untyped), diag, sizeof(diag), &from),
		 EH_ERR_PROTO);
	CHECK(strncmp(diag, "[1].webhook_type: required", 26) == 0);
	CHECK_EQ(F.n, 2);
}

EH_TEST(redelivery_is_not_staged_twice)
{
	size_t from = 0;

	rig();
	CHECK_EQ(ingest(EV("a"), &from), EH_OK);
	CHECK_EQ(ingest(EV("a"), &from), EH_OK);
	CHECK_EQ(F.n, 1);
	CHECK_EQ(G.st.duplicates, 1);
	/* Rebuilt at start from the queue: the journal's copy is dropped. */
	eh_ingest_remember(&G, EH_TYPE_EVENTS, (const uint8_t *)EV("q"), strlen(EV("q")));
	CHECK_EQ(ingest(EV("q"), &from), EH_OK);
	CHECK_EQ(F.n, 1);
	/* Same bytes, another type: another notification. */
	CHECK_EQ(eh_ingest_message(
		     &G, EH_TYPE_COUNTERS,
		     (const uint8_t *)"{\"id\":\"a\",\"event_type\":\"counter_record\"}",
		     strlen("{\"id\":\"a\",\"event_type\":\"counter_record\"}"), NULL, 0, &from),
		 EH_OK);
	CHECK_EQ(F.n, 2);
}

EH_TEST(a_full_queue_resumes_where_the_message_stopped)
{
	size_t from = 0;
	static const char msg[] = "[" EV("a") "," EV("b") "," EV("c") "]";

	rig();
	F.room = 1;
	CHECK_EQ(ingest(msg, &from), EH_ERR_NOSPC);
	CHECK_EQ(from, 1);
	CHECK_EQ(F.n, 1);
	F.room = 5;
	CHECK_EQ(ingest(msg, &from), EH_OK);
	CHECK_EQ(from, 0);
	REQUIRE(F.n == 3);
	CHECK(strcmp(F.raw[2], EV("c")) == 0);
	CHECK_EQ(G.st.messages, 1);
	CHECK_EQ(G.st.notifications, 3);
}

EH_TEST(held_messages_keep_their_order_and_pause_input)
{
	static const char m1[] = "[" EV("1a") "," EV("1b") "]";
	static const char m2[] = EV("2");
	static const char m3[] = EV("3");
	int h1, h2, h3;

	rig();
	F.room = 1;
	eh_ingest_offer(&G, EH_TYPE_EVENTS, (const uint8_t *)m1, strlen(m1), &h1);
	CHECK(eh_ingest_holding(&G));
	CHECK_EQ(F.paused, 1);
	CHECK_EQ(F.ntaken, 0);
	/* Later messages wait behind, even when they would fit. */
	F.room = 0;
	eh_ingest_offer(&G, EH_TYPE_EVENTS, (const uint8_t *)m2, strlen(m2), &h2);
	eh_ingest_offer(&G, EH_TYPE_EVENTS, (const uint8_t *)m3, strlen(m3), &h3);
	CHECK_EQ(F.pauses, 1);
	F.room = 2; /* room for 1b and 2, not 3 */
	eh_ingest_retry(&G);
	CHECK_EQ(F.ntaken, 2);
	CHECK(F.taken[0] == &h1 && F.taken[1] == &h2);
	CHECK(eh_ingest_holding(&G));
	CHECK_EQ(F.paused, 1);
	F.room = 5;
	eh_ingest_retry(&G);
	CHECK_EQ(F.ntaken, 3);
	CHECK(F.taken[2] == &h3);
	CHECK(!eh_ingest_holding(&G));
	CHECK_EQ(F.paused, 0);
	REQUIRE(F.n == 4);
	CHECK(strcmp(F.raw[0], EV("1a")) == 0 && strcmp(F.raw[1], EV("1b")) == 0 &&
	      strcmp(F.raw[2], EV("2")) == 0 && strcmp(F.raw[3], EV("3")) == 0);
	CHECK_EQ(G.st.blocked, 1);
}

EH_TEST(a_refused_offer_is_taken_at_once)
{
	int h;

	rig();
	eh_ingest_offer(&G, EH_TYPE_EVENTS, (const uint8_t *)"nope", 4, &h);
	CHECK_EQ(F.ntaken, 1);
	CHECK(!eh_ingest_holding(&G));
	CHECK_EQ(G.st.rejected, 1);
}

/* The filter loaded with a full <queue>.seen (32,768 hashes, oldest first)
 * still knows every one of them: a broker's late redelivery
 * of any of them is dropped. */
EH_TEST(the_filter_keeps_every_hash_of_a_full_seen_file)
{
	static uint64_t h[32768];
	uint64_t x = 0x243f6a8885a308d3ull;
	unsigned missing = 0;

	rig();
	for (unsigned i = 0; i < 32768; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		h[i] = x ^ (x >> 31);
		eh_ingest_remember_hash(&G, h[i]);
	}
	for (unsigned i = 0; i < 32768; i++) {
		uint64_t before = G.st.duplicates;
		size_t from = 0;
		/* Probe through the public path: a message whose hash is h[i]
		 * cannot be built, so look the table up as ingest does. */
		bool found = false;
		for (unsigned k = 0; k < 2; k++) {
			unsigned set =
			    (unsigned)((k ? h[i] >> 40 : h[i]) & (EH_INGEST_DEDUPE_SETS - 1));
			for (unsigned w = 0; w < EH_INGEST_DEDUPE_WAYS; w++)
				found |= G.dedupe[set][w] == h[i];
		}
		missing += !found;
		(void)before;
		(void)from;
	}
	CHECK_EQ(missing, 0);
}

/* init clears the filter only where hashes were added: still, after a full
 * table, nothing is remembered, and the table works as new. */
EH_TEST(init_forgets_every_hash_though_it_clears_only_used_sets)
{
	uint64_t x = 0x13198a2e03707344ull;
	size_t from = 0, left = 0;

	rig();
	CHECK_EQ(ingest(EV("a"), &from), EH_OK);
	for (unsigned i = 0; i < 4 * EH_INGEST_DEDUPE_SETS * EH_INGEST_DEDUPE_WAYS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		eh_ingest_remember_hash(&G, x ^ (x >> 31));
	}
	rig();
	for (unsigned s = 0; s < EH_INGEST_DEDUPE_SETS; s++) {
		left += G.dedupe_next[s] != 0;
		for (unsigned w = 0; w < EH_INGEST_DEDUPE_WAYS; w++)
			left += G.dedupe[s][w] != 0;
	}
	CHECK_EQ(left, 0);
	CHECK_EQ(ingest(EV("a"), &from), EH_OK);
	CHECK_EQ(F.n, 1); /* staged again: forgotten */
	CHECK_EQ(ingest(EV("a"), &from), EH_OK);
	CHECK_EQ(F.n, 1); /* and remembered anew */
}
