/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_seen.c - the redelivery filter's file: what was flushed comes
 * back at the next open, oldest first; what was never flushed (the stage
 * was not durable) does not; the ring wraps and keeps the newest. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "eh_seen.h"

static uint64_t got[EH_SEEN_ENTRIES + 16];
static size_t ngot;

static void take(void *ctx, uint64_t h)
{
	(void)ctx;
	if (ngot < sizeof(got) / sizeof(got[0]))
		got[ngot] = h;
	ngot++;
}

static char path[64];
static struct eh_seen S;

static void fresh(void)
{
	snprintf(path, sizeof(path), "/tmp/eh_seen_XXXXXX");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	unlink(path);
}

EH_TEST(flushed_entries_come_back_in_order)
{
	fresh();
	ngot = 0;
	REQUIRE(eh_seen_open(&S, path, take, NULL) == EH_OK);
	CHECK_EQ(ngot, 0);
	for (uint64_t i = 1; i <= 100; i++)
		eh_seen_add(&S, 1000 + i, 0xabc000 + i);
	eh_seen_flush(&S);
	eh_seen_add(&S, 2000, 0xdead); /* staged, never durable */
	eh_seen_close(&S);
	REQUIRE(eh_seen_open(&S, path, take, NULL) == EH_OK);
	CHECK_EQ(ngot, 100);
	CHECK_EQ(got[0], 0xabc001);
	CHECK_EQ(got[99], 0xabc000 + 100);
	/* Writing goes on after the newest entry. */
	eh_seen_add(&S, 1101, 0xfeed);
	eh_seen_flush(&S);
	eh_seen_close(&S);
	ngot = 0;
	REQUIRE(eh_seen_open(&S, path, take, NULL) == EH_OK);
	CHECK_EQ(ngot, 101);
	CHECK_EQ(got[100], 0xfeed);
	CHECK_EQ(eh_seen_newest(&S), 1101); /* records above it are not remembered */
	eh_seen_close(&S);
	unlink(path);
}

EH_TEST(the_ring_keeps_the_newest)
{
	fresh();
	ngot = 0;
	REQUIRE(eh_seen_open(&S, path, take, NULL) == EH_OK);
	uint64_t total = EH_SEEN_ENTRIES + 500, seq = 1;
	while (seq <= total) {
		for (unsigned k = 0; k < 1000 && seq <= total; k++, seq++)
			eh_seen_add(&S, seq, seq * 7);
		eh_seen_flush(&S);
	}
	eh_seen_close(&S);
	REQUIRE(eh_seen_open(&S, path, take, NULL) == EH_OK);
	CHECK_EQ(ngot, EH_SEEN_ENTRIES);
	CHECK_EQ(got[0], (total - EH_SEEN_ENTRIES + 1) * 7); /* oldest kept first */
	CHECK_EQ(got[EH_SEEN_ENTRIES - 1], total * 7);
	eh_seen_close(&S);
	unlink(path);
}
