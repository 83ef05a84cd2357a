/* SPDX-License-Identifier: Apache-2.0 */
/* bench_journal.c - the inbound journal's append, two designs on the same
 * entries (1 KiB payload, a 16-byte topic, a 64-digit hmac property):
 *  pwrite: the entry built in a buffer (header, CRC-32C) and written with
 *          one pwrite at the file's end; emptied (ftruncate) past 1 MiB
 *          when everything is committed, as the previous journal did;
 *  mmap:   eh_journal_append into the mapped file (app/journal).
 * Both see a commit every 64 entries (a 20 ms group commit at ~3,200
 * messages/s), every entry done before it. Prints ns per entry and the
 * write-class system calls per entry (/proc/self/io syscw, counted by the
 * kernel); run it under `strace -c -f` for every call (tests/bench/run.sh).
 * Usage: bench_journal [pwrite|mmap|both] [entries] [dir] */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_file.h"
#include "eh_hash.h"
#include "eh_journal.h"
#include "eh_time.h"

#define PAYLOAD 1024u
#define COMMIT_EVERY 64u
#define ROTATE (1u << 20)

static uint8_t payload[PAYLOAD];
static uint8_t buf[EH_JOURNAL_ENTRY_MAX];
static const char topic[] = "site/cam1/events";
static const char hmac[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static uint64_t syscw(void)
{
	char line[128];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/io", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "syscw: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void report(const char *name, unsigned n, uint64_t t0, uint64_t w0)
{
	uint64_t ns = (eh_time_mono_us() - t0) * 1000u, w = syscw() - w0;
	printf("%-7s %u entries: %.0f ns/entry, %.3f write-class system calls/entry\n", name, n,
	       (double)ns / n, (double)w / n);
}

static int run_pwrite(const char *path, unsigned n)
{
	size_t tl = strlen(topic), hl = strlen(hmac), size = (24 + tl + hl + PAYLOAD + 7) & ~7u;
	uint64_t off = 0;
	int fd;

	unlink(path);
	if (eh_file_open_rw(path, 1, &fd) != EH_OK)
		return 1;
	uint64_t t0 = eh_time_mono_us(), w0 = syscw();
	for (unsigned i = 0; i < n; i++) {
		memset(buf, 0, 24);
		memcpy(buf, "EHJE", 4);
		put32(buf + 8, i + 1);
		put32(buf + 16, PAYLOAD);
		buf[20] = (uint8_t)tl;
		buf[22] = (uint8_t)hl;
		memcpy(buf + 24, topic, tl);
		memcpy(buf + 24 + tl, hmac, hl);
		memcpy(buf + 24 + tl + hl, payload, PAYLOAD);
		put32(buf + 4, eh_crc32c(0, buf + 8, size - 8));
		if (eh_file_pwrite(fd, buf, size, off) != EH_OK)
			return 1;
		off += size;
		if ((i + 1) % COMMIT_EVERY == 0 && off > ROTATE) {
			if (eh_file_truncate(fd, 0) != EH_OK)
				return 1;
			off = 0;
		}
	}
	report("pwrite", n, t0, w0);
	eh_file_close(fd);
	unlink(path);
	return 0;
}

static int run_mmap(const char *path, unsigned n)
{
	struct eh_journal j;
	struct eh_journal_config c = {path, 0};
	struct eh_journal_stats st;

	unlink(path);
	if (eh_journal_open(&j, &c, 0) != EH_OK)
		return 1;
	uint64_t t0 = eh_time_mono_us(), w0 = syscw();
	for (unsigned i = 0; i < n; i++) {
		uint64_t seq;
		if (!eh_journal_append(&j, topic, hmac, payload, PAYLOAD, &seq))
			return 1;
		eh_journal_done(&j, seq);
		if ((i + 1) % COMMIT_EVERY == 0)
			eh_journal_committed(&j);
	}
	report("mmap", n, t0, w0);
	eh_journal_get_stats(&j, &st);
	printf("mmap    halves taken again %" PRIu64 ", spilled %" PRIu64 "\n", st.resets,
	       st.spilled);
	eh_journal_close(&j);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "both";
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200000u;
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	char path[256];

	if (n == 0)
		n = 1;
	for (unsigned i = 0; i < PAYLOAD; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	snprintf(path, sizeof(path), "%s/bench-journal-%d", dir, (int)getpid());
	if ((!strcmp(what, "pwrite") || !strcmp(what, "both")) && run_pwrite(path, n))
		return 1;
	if ((!strcmp(what, "mmap") || !strcmp(what, "both")) && run_mmap(path, n))
		return 1;
	return 0;
}
