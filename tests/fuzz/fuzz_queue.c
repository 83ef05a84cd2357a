/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_queue.c - mounts a fuzzed queue image on the emulated device and
 * reads everything out of it. The input is either a raw image (first byte
 * 0) or a list of patches over a valid, used image built once at start
 * (first byte 1: {u32 offset, u8 n, n bytes XORed there}...), so the fuzzer
 * starts from deep, valid structure. Every record returned must carry the
 * bytes its CRC covers; nothing may crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_log.h"
#include "eh_queue.h"

#define BS 16384u
#define BC 6u
#define SZ (BS * BC)

static uint8_t base[SZ], dur[SZ], cur[SZ], logbuf[SZ * 2];
static struct eh_flash_emu_op ops[1024];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static uint8_t pbuf[1 << 17];
static struct eh_queue_rec recs[32];
static int ready;

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static const struct eh_flash_emu_mem emu_mem = EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, 512);

static void dev(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 0);
}

/* A used image: two laps, three slots, drops, a clean close. */
static void build_base(void)
{
	struct eh_queue_config c = {.uid = 0xf022, .full_policy = EH_QUEUE_DROP_OLDEST};
	uint8_t p[900];
	memset(dur, 0, sizeof(dur));
	dev();
	c.flash = &fl;
	if (eh_queue_open(&q, &c) != EH_OK)
		abort();
	for (unsigned i = 0; i < 200; i++) {
		uint32_t len = 8 + (i * 37u) % 800;
		uint64_t seq;
		memset(p, (int)('a' + i % 26), len);
		memcpy(p, &i, 4);
		if (eh_queue_append(&q, i % 3, 1 + i % 7, p, len, &seq) != EH_OK)
			abort();
		if (i % 5 == 0)
			eh_queue_commit(&q);
		if (i % 9 == 0)
			eh_queue_ack(&q, 0, i % 3, seq);
	}
	eh_queue_close(&q);
	memcpy(base, dur, SZ);
}

static void drain(void)
{
	for (unsigned slot = 0; slot < 4; slot++) {
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
			size_t n;
			unsigned rounds = 0;
			(void)eh_queue_lag(&q, slot, t);
			do {
				n = 0;
				if (eh_queue_peek(&q, slot, t, recs, 32, 1 << 16, pbuf,
						  sizeof(pbuf), &n) != EH_OK)
					break;
				for (size_t i = 0; i < n; i++)
					if (recs[i].type != t || !(recs[i].mask & (1ull << slot)))
						abort();
				if (n > 0)
					eh_queue_ack(&q, slot, t, recs[n - 1].seq);
			} while (n > 0 && ++rounds < 100000);
		}
	}
}

static int walk_cb(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	(void)arg;
	(void)r;
	(void)seg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_queue_config c = {.read_only = true, .uid = 0xf022};
	struct eh_queue_stats st;
	if (!ready) {
		eh_log_set_sink(quiet, NULL);
		build_base();
		ready = 1;
	}
	if (size == 0)
		return 0;
	if (data[0] == 0) {
		memset(dur, 0, SZ);
		memcpy(dur, data + 1, size - 1 < SZ ? size - 1 : SZ);
	} else {
		size_t i = 1;
		memcpy(dur, base, SZ);
		while (i + 5 <= size) {
			uint32_t off;
			memcpy(&off, data + i, 4);
			uint8_t n = data[i + 4];
			i += 5;
			for (uint8_t k = 0; k < n && i < size; k++, i++)
				dur[(off + k) % SZ] ^= data[i];
		}
	}
	dev();
	c.flash = &fl;
	if (eh_queue_open(&q, &c) == EH_OK) {
		eh_queue_stats(&q, &st);
		if (st.mount_bytes_read > st.mount_bytes_bound)
			abort();
		(void)eh_queue_walk(&q, walk_cb, NULL, pbuf, sizeof(pbuf));
		drain();
		eh_queue_close(&q);
		/* and it accepts new records */
		c.read_only = false;
		if (eh_queue_open(&q, &c) == EH_OK) {
			uint64_t seq;
			if (eh_queue_append(&q, 1, 3, "fuzz", 4, &seq) == EH_OK)
				(void)eh_queue_commit(&q);
			drain();
			eh_queue_close(&q);
		}
	}
	return 0;
}
