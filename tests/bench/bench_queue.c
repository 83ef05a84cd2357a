/* SPDX-License-Identifier: Apache-2.0 */
/* bench_queue.c - the queue's figures on the file backend:
 *  1. append throughput at 2 KiB records (records/s, MB/s), group commits
 *     of 64 KiB, against a plain sequential pwrite + fdatasync of the same
 *     bytes in the same batches, in the same run (ratio);
 *  2. device bytes written per payload byte and fdatasync calls per second
 *     at 100 and 1000 records/s with the default 20 ms commit interval and
 *     a consumer acking every 100 ms (time is simulated: no sleeping, the
 *     counts are what the device would see);
 *  3. mount time and bytes read for a full 64 MiB ring (warm page cache).
 *
 *   bench_queue [DIR] [--quick]      (files are created in DIR, default .) */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_file.h"
#include "eh_flash.h"
#include "eh_log.h"
#include "eh_queue.h"
#include "eh_time.h"

#define REC 2048u
static struct eh_queue q;
static uint8_t rec[REC];
static uint8_t batch[1 << 20];
static char qpath[512], rawpath[512];

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static uint32_t unit = 512; /* prog unit of the file backend */

static int qopen(uint64_t size, struct eh_flash *f, struct eh_flash_file *st,
		 const struct eh_clock *clk)
{
	struct eh_queue_config c = {
	    .full_policy = EH_QUEUE_DROP_OLDEST, .clock = clk, .uid = 0xbe4c};
	if (eh_flash_file_open(f, st, qpath, size, 0, unit, 0) != EH_OK)
		return -1;
	c.flash = f;
	return eh_queue_open(&q, &c) == EH_OK ? 0 : -1;
}

/* 1. throughput, queue vs raw. The device's speed drifts (shared disks,
 * writeback), so both runs alternate over several rounds, A/B then B/A,
 * and the best of each is compared, next to the range of per-round ratios. */
static const unsigned per_commit = 32; /* 64 KiB batches */

static double run_queue(unsigned n, struct eh_queue_stats *s)
{
	struct eh_flash f;
	struct eh_flash_file st;
	uint64_t t;
	unlink(qpath);
	if (qopen(64u << 20, &f, &st, NULL) != 0)
		exit(1);
	memset(rec, 'j', sizeof(rec));
	t = eh_time_mono_us();
	for (unsigned i = 0; i < n; i++) {
		memcpy(rec, &i, 4);
		if (eh_queue_append(&q, 0, 1, rec, REC, NULL) != EH_OK)
			exit(1);
		if (i % per_commit == per_commit - 1 && eh_queue_commit(&q) != EH_OK)
			exit(1);
	}
	if (eh_queue_commit(&q) != EH_OK)
		exit(1);
	t = eh_time_mono_us() - t;
	eh_queue_stats(&q, s);
	eh_queue_close(&q);
	eh_flash_close(&f);
	unlink(qpath);
	return (double)t / 1e6;
}

static double run_plain(unsigned n)
{
	uint64_t off = 0, t;
	int fd;
	unlink(rawpath);
	if (eh_file_open_rw(rawpath, 1, &fd) != EH_OK)
		exit(1);
	memset(batch, 0, sizeof(batch));
	for (uint64_t o = 0; o < 64u << 20; o += sizeof(batch)) /* preallocated like the queue */
		eh_file_pwrite(fd, batch, sizeof(batch), o);
	eh_file_datasync(fd);
	t = eh_time_mono_us();
	for (unsigned i = 0; i < n; i += per_commit) {
		size_t len = (size_t)per_commit * REC;
		if (off + len > (64u << 20))
			off = 0;
		memset(batch, 'j', len);
		eh_file_pwrite(fd, batch, len, off);
		eh_file_datasync(fd);
		off += len;
	}
	t = eh_time_mono_us() - t;
	eh_file_close(fd);
	unlink(rawpath);
	return (double)t / 1e6;
}

static void bench_throughput(unsigned n, unsigned rounds)
{
	struct eh_queue_stats s;
	double bq = 1e9, bp = 1e9, rmin = 1e9, rmax = 0;
	for (unsigned r = 0; r < rounds; r++) {
		double tq, tp;
		if (r % 2 == 0) {
			tp = run_plain(n);
			tq = run_queue(n, &s);
		} else {
			tq = run_queue(n, &s);
			tp = run_plain(n);
		}
		bq = tq < bq ? tq : bq;
		bp = tp < bp ? tp : bp;
		rmin = tp / tq < rmin ? tp / tq : rmin;
		rmax = tp / tq > rmax ? tp / tq : rmax;
	}
	double mb = (double)n * REC / 1e6;
	printf("append 2 KiB records, commit every %u (64 KiB), %u records, write unit %u, "
	       "best of %u alternating rounds:\n",
	       per_commit, n, unit, rounds);
	printf("  queue:                  %.0f records/s  %.1f MB/s  (%" PRIu64 " syncs)\n", n / bq,
	       mb / bq, s.syncs);
	printf("  plain pwrite+fdatasync: %.0f records/s  %.1f MB/s\n", n / bp, mb / bp);
	printf("  queue / plain:          %.2f (per round %.2f .. %.2f)\n", bp / bq, rmin, rmax);
	printf("  device bytes / payload byte (bulk): %.3f\n",
	       (double)s.bytes_written / (double)s.payload_bytes);
}

/* 2. a steady rate with the daemon's schedule, on a hand-moved clock */
static void bench_rate(unsigned rate, unsigned seconds)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_clock clk;
	struct eh_clock_fake fake = {.mono_ms = 1000};
	struct eh_queue_stats s;
	struct eh_queue_rec recs[256];
	static uint8_t pbuf[1 << 20];
	uint64_t sent = 0, syncs0;
	eh_clock_fake_init(&clk, &fake);
	unlink(qpath);
	if (qopen(16u << 20, &f, &st, &clk) != 0)
		exit(1);
	eh_queue_stats(&q, &s);
	syncs0 = s.syncs;
	uint64_t bytes0 = s.bytes_written, pay0 = s.payload_bytes;
	uint64_t end = fake.mono_ms + (uint64_t)seconds * 1000, next_rec = fake.mono_ms;
	uint64_t next_ack = fake.mono_ms + 100;
	while (fake.mono_ms < end) {
		while (next_rec <= fake.mono_ms) {
			memcpy(rec, &sent, 8);
			eh_queue_append(&q, 0, 1, rec, REC, NULL);
			sent++;
			next_rec = 1000 + sent * 1000 / rate;
		}
		if (fake.mono_ms >= next_ack) { /* delivery: one batch per 100 ms */
			size_t n = 0;
			eh_queue_peek(&q, 0, 0, recs, 256, 1 << 20, pbuf, sizeof(pbuf), &n);
			if (n > 0)
				eh_queue_ack(&q, 0, 0, recs[n - 1].seq);
			next_ack += 100;
		}
		if (eh_queue_commit_due(&q, fake.mono_ms))
			eh_queue_commit(&q);
		fake.mono_ms++;
	}
	eh_queue_stats(&q, &s);
	printf(
	    "%u records/s of 2 KiB, 20 ms commits, acks every 100 ms, %u s simulated, unit %u:\n",
	    rate, seconds, unit);
	printf("  fdatasync per second:  %.1f\n", (double)(s.syncs - syncs0) / seconds);
	printf("  device bytes / payload byte: %.3f\n",
	       (double)(s.bytes_written - bytes0) / (double)(s.payload_bytes - pay0));
	eh_queue_close(&q);
	eh_flash_close(&f);
}

/* 3. mount a full 64 MiB ring */
static void bench_mount(void)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_stats s;
	unlink(qpath);
	if (qopen(64u << 20, &f, &st, NULL) != 0)
		exit(1);
	/* fill past capacity: the ring wraps and every segment is in use */
	for (unsigned i = 0; i < 40000; i++) {
		memcpy(rec, &i, 4);
		eh_queue_append(&q, i % 3, 0x7, rec, REC, NULL);
		if (i % 32 == 31)
			eh_queue_commit(&q);
	}
	eh_queue_commit(&q);
	eh_queue_stats(&q, &s);
	printf("full 64 MiB ring: %" PRIu64 " records, %" PRIu64 " of %" PRIu64 " bytes used\n",
	       s.records, s.used_bytes, s.capacity_bytes);
	/* unclean: the process goes away without close; the head segment is
	 * filled step by step up to full, the worst case for the scan */
	eh_flash_close(&f);
	uint64_t worst_us = 0, worst_bytes = 0, bound = 0;
	for (int step = 0; step < 6; step++) {
		uint64_t best = UINT64_MAX;
		for (int k = 0; k < 3; k++) {
			uint64_t t = eh_time_mono_us();
			if (qopen(0, &f, &st, NULL) != 0)
				exit(1);
			t = eh_time_mono_us() - t;
			eh_queue_stats(&q, &s);
			if (s.mount_bytes_read > worst_bytes)
				worst_bytes = s.mount_bytes_read;
			bound = s.mount_bytes_bound;
			if (t < best)
				best = t;
			if (k < 2)
				eh_flash_close(&f); /* gone without close */
		}
		if (best > worst_us)
			worst_us = best;
		for (unsigned i = 0; i < 100; i++) { /* then grow the head segment */
			eh_queue_append(&q, 0, 0x7, rec, REC, NULL);
			if (i % 32 == 31)
				eh_queue_commit(&q);
		}
		eh_queue_commit(&q);
		eh_flash_close(&f);
	}
	printf("  mount after an unclean stop, head segment 0..100%% full: worst %.2f ms, "
	       "max %" PRIu64 " bytes read (bound %" PRIu64 ")\n",
	       worst_us / 1000.0, worst_bytes, bound);
	if (qopen(0, &f, &st, NULL) != 0)
		exit(1);
	eh_queue_close(&q);
	eh_flash_close(&f);
	uint64_t t = eh_time_mono_us();
	if (qopen(0, &f, &st, NULL) != 0)
		exit(1);
	t = eh_time_mono_us() - t;
	eh_queue_stats(&q, &s);
	printf("  mount after a clean stop: %.2f ms, %" PRIu64 " bytes read\n", t / 1000.0,
	       s.mount_bytes_read);
	eh_queue_close(&q);
	eh_flash_close(&f);
}

int main(int argc, char **argv)
{
	const char *dir = ".";
	int quick = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else
			dir = argv[i];
	}
	snprintf(qpath, sizeof(qpath), "%s/bench_queue.ring", dir);
	snprintf(rawpath, sizeof(rawpath), "%s/bench_queue.raw", dir);
	eh_log_set_sink(quiet, NULL);
	bench_throughput(quick ? 4000 : 20000, quick ? 2 : 6);
	bench_rate(100, quick ? 10 : 60);
	bench_rate(1000, quick ? 10 : 60);
	bench_mount();
	/* the same with 4 KiB write units (a commit never shares a page) */
	unit = 4096;
	bench_throughput(quick ? 4000 : 20000, quick ? 2 : 6);
	bench_rate(100, quick ? 10 : 60);
	bench_rate(1000, quick ? 10 : 60);
	unlink(qpath);
	return 0;
}
