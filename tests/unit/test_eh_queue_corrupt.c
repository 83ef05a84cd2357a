/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue_corrupt.c - random damage to a real queue file (bit flips,
 * zeroed ranges, garbage ranges, truncation to any length, garbage
 * appended): opening and draining it never crashes and never returns a
 * record whose bytes are not the ones appended. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_flash.h"
#include "eh_log.h"
#include "eh_queue.h"

#define QSIZE (1u << 20)
#define BLOCK (64u * 1024u)
static uint8_t image[QSIZE], work[QSIZE + 65536];
static struct eh_queue q;
static uint8_t pbuf[1 << 20];
static struct eh_queue_rec recs[64];
static char path[128];

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void payload(uint8_t *p, uint32_t len, uint32_t id)
{
	memcpy(p, &id, 4);
	memcpy(p + 4, &len, 4);
	for (uint32_t i = 8; i < len; i++)
		p[i] = (uint8_t)(id * 31u + i);
}

static int payload_ok(const uint8_t *p, uint32_t len)
{
	uint32_t id, l;
	if (len < 8)
		return 0;
	memcpy(&id, p, 4);
	memcpy(&l, p + 4, 4);
	if (l != len)
		return 0;
	for (uint32_t i = 8; i < len; i++)
		if (p[i] != (uint8_t)(id * 31u + i))
			return 0;
	return 1;
}

static void write_file(const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

/* Build a used queue: several laps, three slots, some acked. */
static void build_image(void)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.uid = 0xc0ffee};
	static uint8_t p[4000];
	uint64_t s = 42, seq;
	snprintf(path, sizeof(path), "/tmp/eh_queue_corrupt_%ld.ring", (long)getpid());
	unlink(path);
	REQUIRE(eh_flash_file_open(&f, &st, path, QSIZE, BLOCK, 512, 0) == EH_OK);
	c.flash = &f;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	for (uint32_t id = 0; id < 1500; id++) {
		uint32_t len = 8 + (uint32_t)(rnd(&s) % 3000);
		payload(p, len, id);
		REQUIRE(eh_queue_append(&q, id % 3, 1 + rnd(&s) % 7, p, len, &seq) == EH_OK);
		if (id % 7 == 0)
			REQUIRE(eh_queue_commit(&q) == EH_OK);
		if (id % 50 == 0)
			REQUIRE(eh_queue_ack(&q, 0, id % 3, seq) == EH_OK);
	}
	eh_queue_close(&q);
	eh_flash_close(&f);
	int fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	REQUIRE(read(fd, image, QSIZE) == (ssize_t)QSIZE);
	close(fd);
}

/* Open whatever is in the file and drain every cursor; counts bad records. */
static unsigned open_and_drain(int rw, unsigned *opened)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.read_only = !rw, .uid = 0xc0ffee};
	unsigned bad = 0;
	if (eh_flash_file_open(&f, &st, path, 0, BLOCK, 512, !rw) != EH_OK)
		return 0;
	c.flash = &f;
	if (eh_queue_open(&q, &c) != EH_OK) {
		eh_flash_close(&f);
		return 0;
	}
	(*opened)++;
	for (unsigned slot = 0; slot < 3; slot++) {
		for (unsigned t = 0; t < 3; t++) {
			size_t n;
			unsigned rounds = 0;
			(void)eh_queue_lag(&q, slot, t);
			do {
				n = 0;
				if (eh_queue_peek(&q, slot, t, recs, 64, 1 << 20, pbuf,
						  sizeof(pbuf), &n) != EH_OK)
					break;
				for (size_t i = 0; i < n; i++)
					bad += !payload_ok(recs[i].payload, recs[i].len);
				if (n > 0)
					eh_queue_ack(&q, slot, t, recs[n - 1].seq);
			} while (n > 0 && ++rounds < 10000);
		}
	}
	if (rw) {
		static uint8_t p[100];
		payload(p, sizeof(p), 7);
		if (eh_queue_append(&q, 0, 1, p, sizeof(p), NULL) == EH_OK)
			(void)eh_queue_commit(&q);
	}
	eh_queue_close(&q);
	eh_flash_close(&f);
	return bad;
}

EH_TEST(damaged_queue_files_never_crash_nor_return_bad_records)
{
	uint64_t s = 0xda3a9e;
	unsigned bad = 0, opened = 0, iters = getenv("EH_QEMU") ? 60 : 400;
	eh_log_set_sink(quiet, NULL);
	build_image();
	/* the undamaged file drains clean */
	write_file(image, QSIZE);
	CHECK_EQ(open_and_drain(0, &opened), 0u);
	CHECK_EQ(opened, 1u);
	for (unsigned it = 0; it < iters; it++) {
		size_t len = QSIZE;
		memcpy(work, image, QSIZE);
		switch (rnd(&s) % 5) {
		case 0: /* bit flips */
			for (unsigned k = 1 + rnd(&s) % 64; k > 0; k--) {
				size_t at = rnd(&s) % QSIZE;
				work[at] ^= (uint8_t)(1u << (rnd(&s) % 8));
			}
			break;
		case 1: { /* zeroed range */
			size_t at = rnd(&s) % QSIZE, n = 1 + rnd(&s) % 20000;
			memset(work + at, 0, at + n > QSIZE ? QSIZE - at : n);
			break;
		}
		case 2: { /* garbage range */
			size_t at = rnd(&s) % QSIZE, n = 1 + rnd(&s) % 20000;
			for (size_t i = at; i < at + n && i < QSIZE; i++)
				work[i] = (uint8_t)rnd(&s);
			break;
		}
		case 3: /* truncated to any length, sometimes a block multiple */
			len = rnd(&s) % QSIZE;
			if (rnd(&s) & 1)
				len -= len % BLOCK;
			break;
		default: /* garbage appended */
			len = QSIZE + 1 + rnd(&s) % 65535;
			for (size_t i = QSIZE; i < len; i++)
				work[i] = (uint8_t)rnd(&s);
			break;
		}
		write_file(work, len);
		bad += open_and_drain((int)(rnd(&s) & 1), &opened);
	}
	CHECK_EQ(bad, 0u);
	CHECK(opened > iters / 3); /* most damage is survivable, not a refusal */
	eh_log_set_sink(NULL, NULL);
	printf("damaged files: %u, opened %u, bad records returned %u\n", iters, opened, bad);
	unlink(path);
}

EH_TEST(the_largest_message_fits_a_default_16_MiB_queue)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.uid = 0x16};
	static uint8_t big[EH_MAX_MSG_BYTES];
	size_t n = 0;
	uint64_t seq;
	snprintf(path, sizeof(path), "/tmp/eh_queue_big_%ld.ring", (long)getpid());
	unlink(path);
	REQUIRE(eh_flash_file_open(&f, &st, path, 16u << 20, 0, 0, 0) == EH_OK);
	c.flash = &f;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	payload(big, sizeof(big), 5);
	CHECK(eh_queue_append(&q, 1, 1, big, sizeof(big), &seq) == EH_OK);
	CHECK(eh_queue_append(&q, 1, 1, big, sizeof(big), &seq) == EH_OK);
	CHECK(eh_queue_commit(&q) == EH_OK);
	eh_queue_close(&q);
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	CHECK(eh_queue_peek(&q, 0, 1, recs, 64, 1, pbuf, sizeof(pbuf), &n) == EH_OK);
	CHECK_EQ(n, 1u);
	CHECK(recs[0].len == sizeof(big) && payload_ok(recs[0].payload, recs[0].len));
	eh_queue_close(&q);
	eh_flash_close(&f);
	unlink(path);
}
