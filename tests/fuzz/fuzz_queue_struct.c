/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_queue_struct.c - structure-aware: the input is a program that writes
 * segment headers, DATA and CURSOR records into an emulated device, every
 * one sealed with valid CRCs (the salted header CRC included), with hostile
 * fields: lengths that wrap or exceed a segment, seqs at the top, repeated or
 * going back, types and kinds out of range, empty or full masks, cursors
 * beyond the head, counts that disagree with the present bits. The queue is
 * then mounted read-only (stats, walk, lag, peek and ack of every cursor)
 * and read-write (append, commit, deliver, close, mount again), and the
 * invariants are checked: nothing is handed out longer than the caller's
 * buffer or outside its slot and type, every ack of a returned record is
 * taken, readers finish, a new record gets a seq above every one handed out
 * and is delivered and durable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_log.h"
#include "eh_hash.h"
#include "eh_queue.h"

#define BS 16384u
#define BC 6u
#define NSEG (BC - 1)
#define SZ (BS * BC)
#define UNIT 512u
#define UID 0x57a7ull
#define BUFLEN 4096u
#define SLOTS 4u

static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 2], blank[SZ];
static struct eh_flash_emu_op ops[1024];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static uint8_t pbuf[BUFLEN];
static struct eh_queue_rec recs[32];
static uint32_t salt;
static int ready;

struct in {
	const uint8_t *p;
	size_t n, i;
};

struct seg_w {
	uint64_t seg_seq, first;
	uint32_t pos; /* next record offset in the segment */
};

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
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

static uint8_t u8(struct in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0;
}

static uint32_t u32(struct in *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)u8(in) << (8 * i);
	return v;
}

static uint64_t u64(struct in *in)
{
	return u32(in) | (uint64_t)u32(in) << 32;
}

/* A seq-like value near `near`: mostly plausible, sometimes hostile. */
static uint64_t pick_seq(struct in *in, uint64_t near)
{
	uint8_t sel = u8(in);
	uint8_t d = u8(in);
	switch (sel % 10) {
	case 0:
		return near + d;
	case 1:
		return near > d ? near - d : 0;
	case 2:
		return near;
	case 3:
		return UINT64_MAX - d;
	case 4:
		return ((uint64_t)1 << 62) - 1 + d % 3;
	case 5:
		return d;
	case 6:
		return u64(in);
	default:
		return near + 1;
	}
}

/* A length: small, near the bounds that matter, or anything. */
static uint32_t pick_len(struct in *in)
{
	uint8_t sel = u8(in);
	uint16_t d = (uint16_t)(u8(in) | u8(in) << 8);
	switch (sel % 9) {
	case 0:
		return 0xFFFFFFFFu - (d & 0x3f);
	case 1:
		return 0xFFFFFFD8u + (d & 0x3f);
	case 2:
		return BUFLEN - 8 + (d & 15);
	case 3:
		return BS - (d & 0x3ff);
	case 4:
		return BS + d;
	case 5:
		return 262144u + d;
	case 6:
		return u32(in);
	default:
		return d % 96; /* most records small: CRCs cost the run its speed */
	}
}

static void seal(uint8_t *b)
{
	put32(b + 36, eh_crc32c(salt, b, 36));
}

static uint8_t *at(uint32_t seg, uint32_t off)
{
	return dur + (uint64_t)(seg + 1) * BS + off;
}

static void seg_header(struct in *in, struct seg_w *sw, uint64_t *last)
{
	uint32_t seg = u8(in) % NSEG;
	uint8_t *b = at(seg, 0);
	struct seg_w *s = &sw[seg];
	s->seg_seq = pick_seq(in, s->seg_seq ? s->seg_seq : 1);
	s->first = pick_seq(in, *last + 1);
	uint64_t prev = pick_seq(in, s->first - 1);
	memset(b, 0, UNIT);
	put32(b, 0x47514845u);
	b[4] = 1;
	b[6] = (uint8_t)seg;
	put64(b + 8, s->seg_seq);
	put64(b + 16, s->first);
	put64(b + 24, prev);
	put64(b + 32, UID);
	put32(b + 44, eh_crc32c(0, b, 44));
	s->pos = UNIT;
	if (s->first > *last)
		*last = s->first - 1;
}

/* One DATA or CURSOR record at the segment's write position. */
static void record(struct in *in, struct seg_w *sw, uint64_t *last, int cursor)
{
	uint32_t seg = u8(in) % NSEG;
	struct seg_w *s = &sw[seg];
	uint8_t *b = at(seg, s->pos);
	uint32_t room = BS > s->pos + 40 ? BS - s->pos - 40 : 0;
	uint32_t len, wlen;
	uint8_t hdr_kind = cursor ? 2 : 1;
	uint8_t sel = u8(in);

	if (s->pos + 40 > BS)
		return;
	if (sel % 11 == 0)
		hdr_kind = u8(in);
	memset(b, 0, 40);
	b[0] = 0x45;
	b[1] = 0x51;
	b[2] = hdr_kind;
	b[3] = sel % 13 == 1 ? u8(in) : u8(in) % EH_QUEUE_TYPES;
	uint64_t seq = pick_seq(in, *last + 1);
	put64(b + 8, seq);
	put64(b + 16, sel % 7 == 2 ? u64(in) : (uint64_t)(u8(in) % 16));
	put64(b + 24, sel % 17 == 3 ? pick_seq(in, s->seg_seq) : s->seg_seq);
	if (cursor) {
		/* flags, count, present, then cursors and drops per present slot */
		uint8_t *p = b + 40;
		uint64_t present = sel % 5 == 0 ? u64(in) : (uint64_t)(u8(in) % 16);
		uint32_t count = (uint32_t)__builtin_popcountll(present);
		if (sel % 19 == 4)
			count = u8(in);
		len = 16 + (uint32_t)__builtin_popcountll(present) * 32;
		if (sel % 23 == 5)
			len = pick_len(in);
		wlen = len <= room ? len : 0;
		memset(p, 0, wlen);
		if (wlen >= 16) {
			put32(p, u8(in) % 4);
			put32(p + 4, count);
			put64(p + 8, present);
		}
		for (uint32_t k = 16; k + 8 <= wlen; k += 8)
			put64(p + k, pick_seq(in, *last));
	} else {
		/* a payload that does not fit the segment is not written: only
		 * its header (sealed) is there, as after a crafted edit */
		len = pick_len(in);
		wlen = len <= room ? len : 0;
		for (uint32_t k = 0; k < wlen; k++)
			b[40 + k] = (uint8_t)(seq + k);
	}
	put32(b + 4, len);
	put32(b + 32, eh_crc32c(0, b + 40, wlen));
	seal(b);
	if (!cursor && seq > *last && seq < ((uint64_t)1 << 62))
		*last = seq;
	s->pos += (40 + wlen + 7) / 8 * 8;
	if (sel % 3 == 0) /* end of a commit: pad to the unit */
		s->pos = (s->pos + UNIT - 1) / UNIT * UNIT;
}

static const struct eh_flash_emu_mem emu_mem =
    EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, UNIT);

static void dev(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 0);
}

struct seen {
	uint64_t max_seq;
};

static int walk_cb(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct seen *w = arg;
	if (r->len > BUFLEN || r->type >= EH_QUEUE_TYPES || r->mask == 0 || seg >= NSEG)
		abort();
	if (r->seq > ((uint64_t)1 << 62)) /* above: damage, never passed */
		abort();
	if (r->seq > w->max_seq)
		w->max_seq = r->seq;
	return 0;
}

struct find {
	uint64_t seq;
	int found;
};

static int find_cb(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct find *f = arg;
	(void)seg;
	f->found |= r->seq == f->seq && r->len == 4 && memcmp(r->payload, "new!", 4) == 0;
	return f->found;
}

/* Read every cursor to its end with acks: each returned record fits the
 * buffer and belongs to the cursor; each ack is taken; it finishes. */
static void drain(struct seen *w)
{
	for (unsigned slot = 0; slot < SLOTS; slot++) {
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
			unsigned rounds = 0;
			size_t n;
			(void)eh_queue_lag(&q, slot, t);
			do {
				uint64_t c = eh_queue_cursor(&q, slot, t);
				n = 0;
				if (eh_queue_peek(&q, slot, t, recs, 32, BUFLEN, pbuf, BUFLEN,
						  &n) != EH_OK)
					abort();
				for (size_t i = 0; i < n; i++) {
					if (recs[i].type != t || !(recs[i].mask & (1ull << slot)) ||
					    recs[i].len > BUFLEN || recs[i].seq <= c)
						abort();
					if (recs[i].seq > w->max_seq)
						w->max_seq = recs[i].seq;
				}
				if (n > 0 && eh_queue_ack(&q, slot, t, recs[n - 1].seq) != EH_OK)
					abort();
				if (n > 0 && eh_queue_cursor(&q, slot, t) <= c)
					abort(); /* no progress: a reader would spin */
			} while (n > 0 && ++rounds < 5000);
			if (n > 0)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_queue_config c = {.uid = UID, .read_only = true};
	struct eh_queue_stats st;
	struct seg_w sw[NSEG];
	struct seen w = {0};
	struct in in = {data, size, 0};
	uint64_t last = 0, seq = 0;

	if (!ready) {
		/* a formatted, empty device: superblocks only */
		struct eh_queue_config f = {.uid = UID};
		uint8_t b[8];
		eh_log_set_sink(quiet, NULL);
		memset(dur, 0, SZ);
		dev();
		f.flash = &fl;
		if (eh_queue_open(&q, &f) != EH_OK)
			abort();
		eh_queue_close(&q);
		memcpy(blank, dur, SZ);
		put64(b, UID);
		salt = eh_crc32c(0, b, 8) | 1u;
		ready = 1;
	}
	memcpy(dur, blank, SZ);
	memset(sw, 0, sizeof(sw));
	for (unsigned ops_n = 0; in.i < in.n && ops_n < 400; ops_n++) {
		uint8_t op = u8(&in);
		switch (op % 8) {
		case 0:
			seg_header(&in, sw, &last);
			break;
		case 1:
		case 2:
		case 3:
		case 4:
			record(&in, sw, &last, 0);
			break;
		case 5:
			record(&in, sw, &last, 1);
			break;
		case 6: {
			struct seg_w *s = &sw[u8(&in) % NSEG];
			s->pos = (s->pos + (uint32_t)u8(&in) * 8) % BS;
			break;
		}
		default: {
			struct seg_w *s = &sw[u8(&in) % NSEG];
			s->pos = (s->pos + UNIT - 1) / UNIT * UNIT % BS;
			break;
		}
		}
	}

	dev();
	c.flash = &fl;
	if (eh_queue_open(&q, &c) != EH_OK)
		return 0;
	eh_queue_stats(&q, &st);
	if (st.mount_bytes_read > st.mount_bytes_bound || st.used_bytes > st.capacity_bytes ||
	    st.head_seq > ((uint64_t)1 << 62) + (1u << 20))
		abort();
	if (eh_queue_walk(&q, walk_cb, &w, pbuf, BUFLEN) != EH_OK)
		abort();
	drain(&w);
	eh_queue_close(&q);

	/* writable: a new record gets a seq above all, is delivered, is durable */
	dev();
	c.read_only = false;
	c.full_policy = EH_QUEUE_DROP_OLDEST;
	if (eh_queue_open(&q, &c) != EH_OK)
		abort();
	if (eh_queue_walk(&q, walk_cb, &w, pbuf, BUFLEN) != EH_OK)
		abort();
	eh_queue_stats(&q, &st);
	eh_err rc = eh_queue_append(&q, 1, 1ull << 5, "new!", 4, &seq);
	if (rc == EH_ERR_IO &&
	    (st.head_seq >= ((uint64_t)1 << 62) || q.max_seg_seq >= ((uint64_t)1 << 62))) {
		/* seqs exhausted (only a crafted file): appends are refused */
		eh_queue_close(&q);
		return 0;
	}
	if (rc != EH_OK || seq <= w.max_seq || eh_queue_commit(&q) != EH_OK)
		abort();
	{
		/* slot 5 gets it, whatever its cursor said */
		size_t n = 0;
		int found = 0;
		unsigned rounds = 0;
		do {
			if (eh_queue_peek(&q, 5, 1, recs, 32, BUFLEN, pbuf, BUFLEN, &n) != EH_OK)
				abort();
			for (size_t i = 0; i < n; i++)
				found |= recs[i].seq == seq;
			if (n > 0 && eh_queue_ack(&q, 5, 1, recs[n - 1].seq) != EH_OK)
				abort();
		} while (n > 0 && ++rounds < 5000);
		if (!found)
			abort();
	}
	eh_queue_close(&q);
	dev();
	c.read_only = true;
	if (eh_queue_open(&q, &c) != EH_OK)
		abort();
	{
		struct find f = {seq, 0};
		if (eh_queue_walk(&q, find_cb, &f, pbuf, BUFLEN) != EH_OK || !f.found)
			abort();
	}
	eh_queue_close(&q);
	return 0;
}
