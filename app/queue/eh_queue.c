/* SPDX-License-Identifier: Apache-2.0 */
/* eh_queue.c - the persistent ring: a superblock pair, then segments (one
 * flash block each) holding CRC-framed records appended in whole write
 * units; cursors are records in the same log. docs/QUEUE.md is the spec;
 * the comments here say why each step is ordered as it is. */
#include <stddef.h>
#include <string.h>

#include "eh_hash.h"
#include "eh_log.h"
#include "eh_queue.h"
#include "eh_le.h"

/* ==== Format constants (docs/QUEUE.md) ==== */

#define SB_MAGIC 0x53514845u  /* "EHQS" little-endian: superblock */
#define SEG_MAGIC 0x47514845u /* "EHQG": segment header */
#define REC_MAGIC 0x5145u     /* "EQ": record header */
#define FMT_VERSION 1u
#define KIND_DATA 1u
#define KIND_CURSOR 2u
#define CUR_FLAG_CLEAN 1u  /* written by close: no torn tail can follow */
#define CUR_FLAG_FULL 2u   /* a segment-opening snapshot (all 64 slots) */
#define CUR_SLOT_BYTES 32u /* 3 cursors + drops, u64 each */
#define CUR_FIXED 16u	   /* flags u32, count u32, present u64 */
#define CUR_MAX (EH_QUEUE_REC_HDR + CUR_FIXED + EH_QUEUE_SLOTS * CUR_SLOT_BYTES) /* 2104 */
#define NONE UINT32_MAX
/* After a crash, seqs restart this far above the last durable one, so a seq
 * that peek handed out from the lost stage is never given to another
 * record (a batch key stays unique). More than one stage of records. */
#define SEQ_GAP ((uint64_t)EH_QUEUE_STAGE_BYTES / EH_QUEUE_REC_HDR + 1)
/* No seq or segment seq on the device is above this (a million records a
 * second would take 146,000 years to reach it): larger values are damage,
 * and every sum of a seq with a gap or a count stays far from wrapping. */
#define SEQ_MAX ((uint64_t)1 << 62)

struct rhdr {
	unsigned kind, type;
	uint32_t len, pcrc;
	uint64_t seq, mask, seg_seq;
};

struct it {
	uint32_t seg, off;
	uint64_t seg_seq, floor;
	uint64_t ceil; /* DATA seqs of the segment are below this */
	bool whole;    /* started at the segment's first record */
};

/* ==== Little helpers ==== */

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/* In 64 bits: a length read from the device may be anything up to
 * UINT32_MAX, and header plus length must not wrap to a small size. */
static uint64_t rec_size(uint64_t len)
{
	return (EH_QUEUE_REC_HDR + len + 7) / 8 * 8;
}

/* Record header CRCs are seeded with this, derived from the random uid. */
static uint32_t uid_salt(uint64_t uid)
{
	uint8_t b[8];
	eh_le_put64(b, uid);
	return eh_crc32c(0, b, sizeof(b)) | 1u;
}

static bool is_blank(const uint8_t *p, size_t len)
{
	bool zero = true, ones = true;
	for (size_t i = 0; i < len; i++) {
		zero = zero && p[i] == 0x00;
		ones = ones && p[i] == 0xff;
	}
	return zero || ones;
}

static uint64_t now_ms(const struct eh_queue *q)
{
	return q->cfg.clock != NULL ? eh_clock_mono_ms(q->cfg.clock) : eh_time_mono_ms();
}

/* Bytes reserved at a segment's end for the cursor record that must be
 * durable before the next segment is reused (two: one spare after a crash). */
static uint32_t seg_reserve(const struct eh_queue *q)
{
	return 2 * align_up(CUR_MAX, q->unit) + q->unit;
}

/* Where data records start in a segment: after the header unit and the
 * full cursor snapshot. */
static uint32_t seg_data_start(const struct eh_queue *q)
{
	return q->unit + align_up(CUR_MAX, 8);
}

static uint32_t cur_room(const struct eh_queue *q);

/* The largest payload a DATA record can have: its record must fit the data
 * room of a segment and the stage with a segment opening and its cursor
 * records. append refuses larger ones; a larger length read from the device
 * is damage. */
static uint32_t max_payload(const struct eh_queue *q)
{
	uint64_t room = q->seg_bytes - seg_data_start(q) - seg_reserve(q);
	uint64_t fixed = (uint64_t)seg_data_start(q) + 3ull * cur_room(q);
	uint64_t stage = sizeof(q->stage) > fixed ? sizeof(q->stage) - fixed : 0;
	uint64_t r = (room < stage ? room : stage) / 8 * 8;
	return r > EH_QUEUE_REC_HDR ? (uint32_t)(r - EH_QUEUE_REC_HDR) : 0;
}

static bool geometry_ok(const struct eh_queue *q)
{
	return q->unit >= 64 && q->unit <= sizeof(q->io) && (q->unit & (q->unit - 1)) == 0 &&
	       q->seg_bytes % q->unit == 0 && q->nsegs >= 3 && q->nsegs <= EH_QUEUE_MAX_SEGS &&
	       q->seg_bytes >= seg_data_start(q) + seg_reserve(q) + 2 * q->unit;
}

static uint64_t dev_off(const struct eh_queue *q, uint32_t seg, uint32_t off)
{
	return (uint64_t)(seg + 1) * q->seg_bytes + off; /* block 0: superblocks */
}

/* The segment the stage ends in (the head once committed). */
static uint32_t eff_head(const struct eh_queue *q)
{
	return q->n_ext > 0 ? q->ext[q->n_ext - 1].seg : q->head_seg;
}

/* ==== The segment cache (struct eh_queue_cache) ==== */

#define CACHE_AHEAD (64u * 1024u) /* a miss loads this much: a batch or more of records */

static void cache_drop(struct eh_queue *q)
{
	q->cache.valid = false;
}

/* Where segment offset off sits in the window's ring buffer, and how many
 * of len bytes fit before the buffer's end (the rest wraps to its start). */
static uint32_t cache_at(const struct eh_queue_cache *c, uint32_t off, uint32_t len, uint32_t *n)
{
	uint32_t at = (off - c->base) % c->cap;
	*n = c->cap - at < len ? c->cap - at : len;
	return at;
}

static bool cache_get(struct eh_queue *q, uint32_t seg, uint32_t off, void *dst, uint32_t len)
{
	struct eh_queue_cache *c = &q->cache;
	if (!c->valid || c->seg != seg || c->seg_seq != q->segs[seg].seg_seq || off < c->lo ||
	    (uint64_t)off + len > c->hi)
		return false;
	uint32_t n, at = cache_at(c, off, len, &n);
	memcpy(dst, c->buf + at, n);
	memcpy((uint8_t *)dst + n, c->buf, len - n);
	q->st.cache_hits++;
	return true;
}

/* Bytes the device now holds at off in seg (a synced write, or a read):
 * they extend the window when they follow it, else start a new one. */
static void cache_put(struct eh_queue *q, uint32_t seg, uint32_t off, const uint8_t *src,
		      uint32_t len)
{
	struct eh_queue_cache *c = &q->cache;
	if (c->cap == 0 || len == 0)
		return;
	if (len > c->cap) {
		src += len - c->cap;
		off += len - c->cap;
		len = c->cap;
	}
	if (!c->valid || c->seg != seg || c->seg_seq != q->segs[seg].seg_seq || off != c->hi) {
		c->valid = true;
		c->seg = seg;
		c->seg_seq = q->segs[seg].seg_seq;
		c->lo = c->hi = c->base = off;
	}
	uint32_t n, at = cache_at(c, off, len, &n);
	memcpy(c->buf + at, src, n);
	memcpy(c->buf, src + n, len - n);
	c->hi = off + len;
	if (c->hi - c->lo > c->cap)
		c->lo = c->hi - c->cap;
}

/* How far the device holds this ring's bytes of seg: the durable end of the
 * head, nothing of a segment the stage opens (its old bytes are another
 * segment's), the whole segment otherwise. */
static uint32_t durable_end(const struct eh_queue *q, uint32_t seg)
{
	for (uint32_t i = 0; i < q->n_ext; i++)
		if (q->ext[i].seg == seg && q->ext[i].opens)
			return 0;
	return seg == q->head_seg ? q->head_off : q->seg_bytes;
}

/* A miss: read up to cache.ahead bytes of what the device holds from off
 * (from the window's end when off is inside it: a scan never reads a byte
 * twice) into the window, when the device holds [off, off + len). One
 * device read, two when the ring wraps. */
static eh_err cache_load(struct eh_queue *q, uint32_t seg, uint32_t off, uint32_t len, bool *got)
{
	struct eh_queue_cache *c = &q->cache;
	uint32_t end = durable_end(q, seg), n = c->ahead < c->cap ? c->ahead : c->cap;
	uint32_t start = off, stop;
	bool extend = c->valid && c->seg == seg && c->seg_seq == q->segs[seg].seg_seq &&
		      off >= c->lo && off <= c->hi;
	eh_err rc;
	*got = false;
	if (c->cap == 0 || n == 0 || len > c->cap || (uint64_t)off + len > end)
		return EH_OK;
	if (extend)
		start = c->hi;
	stop = start + n < off + c->cap ? start + n : off + c->cap;
	if (stop > end)
		stop = end;
	if (stop < off + len)
		stop = off + len;
	c->valid = false; /* until the read succeeds */
	if (!extend) {
		c->seg = seg;
		c->seg_seq = q->segs[seg].seg_seq;
		c->lo = c->base = off;
	}
	for (uint32_t at = start; at < stop;) {
		uint32_t pos = (at - c->base) % c->cap, k = c->cap - pos;
		if (k > stop - at)
			k = stop - at;
		if ((rc = eh_flash_read(q->flash, dev_off(q, seg, at), c->buf + pos, k)) != EH_OK)
			return rc;
		at += k;
	}
	q->st.cache_loads++;
	c->valid = true;
	c->hi = stop;
	if (c->hi - c->lo > c->cap)
		c->lo = c->hi - c->cap;
	*got = true;
	return EH_OK;
}

/* ==== Device access with the stage overlaid ==== */

/* Read seg bytes as they will be after the next commit: device contents
 * (or the cache's copy of them) with every staged extent copied over them.
 * A failed queue reads the device only: what it holds is all there is. */
static eh_err qread(struct eh_queue *q, uint32_t seg, uint32_t off, void *dst, uint32_t len)
{
	eh_err rc;
	bool got;
	if (q->failed)
		return eh_flash_read(q->flash, dev_off(q, seg, off), dst, len);
	for (uint32_t i = 0; i < q->n_ext; i++) {
		const struct eh_queue_ext *e = &q->ext[i];
		if (e->seg == seg && off >= e->off &&
		    (uint64_t)off + len <= e->off + align_up(e->len, q->unit)) {
			memcpy(dst, q->stage + e->buf + (off - e->off), len);
			return EH_OK; /* staged whole: no device bytes under it */
		}
	}
	if (!cache_get(q, seg, off, dst, len)) {
		if ((rc = cache_load(q, seg, off, len, &got)) != EH_OK)
			return rc;
		if (!got || !cache_get(q, seg, off, dst, len))
			if ((rc = eh_flash_read(q->flash, dev_off(q, seg, off), dst, len)) != EH_OK)
				return rc;
	}
	for (uint32_t i = 0; i < q->n_ext; i++) {
		const struct eh_queue_ext *e = &q->ext[i];
		uint32_t lo = e->off, hi = e->off + align_up(e->len, q->unit);
		if (e->seg != seg || hi <= off || lo >= off + len)
			continue;
		if (lo < off)
			lo = off;
		if (hi > off + len)
			hi = off + len;
		memcpy((uint8_t *)dst + (lo - off), q->stage + e->buf + (lo - e->off), hi - lo);
	}
	return EH_OK;
}

/* How far a reader may look in seg: the staged end for the last segment,
 * the durable end for an unstaged head, the whole segment otherwise. */
static uint32_t seg_limit(const struct eh_queue *q, uint32_t seg)
{
	if (q->n_ext > 0 && q->ext[q->n_ext - 1].seg == seg)
		return q->ext[q->n_ext - 1].off + q->ext[q->n_ext - 1].len;
	if (q->n_ext == 0 && seg == q->head_seg)
		return q->head_off;
	return q->seg_bytes;
}

/* ==== Records ==== */

static void rec_encode(const struct eh_queue *q, uint8_t *b, const struct rhdr *h)
{
	eh_le_put16(b, REC_MAGIC);
	b[2] = (uint8_t)h->kind;
	b[3] = (uint8_t)h->type;
	eh_le_put32(b + 4, h->len);
	eh_le_put64(b + 8, h->seq);
	eh_le_put64(b + 16, h->mask);
	eh_le_put64(b + 24, h->seg_seq);
	eh_le_put32(b + 32, h->pcrc);
	eh_le_put32(b + 36, eh_crc32c(q->salt, b, 36));
}

/* Check order: magic, header CRC (seeded with the queue's salt, so bytes of
 * another queue or crafted payload bytes do not parse), then fields: a
 * header whose CRC holds is still not trusted with a length, seq or kind
 * that no writer produces (a bit flip the CRC missed, a crafted file).
 * 1: a record; 0: not a header; -1: a header with impossible fields. */
static int rec_decode(const struct eh_queue *q, const uint8_t *b, struct rhdr *h)
{
	if (eh_le_get16(b) != REC_MAGIC || eh_le_get32(b + 36) != eh_crc32c(q->salt, b, 36))
		return 0;
	h->kind = b[2];
	h->type = b[3];
	h->len = eh_le_get32(b + 4);
	h->seq = eh_le_get64(b + 8);
	h->mask = eh_le_get64(b + 16);
	h->seg_seq = eh_le_get64(b + 24);
	h->pcrc = eh_le_get32(b + 32);
	if (h->seq > SEQ_MAX || h->seg_seq > SEQ_MAX)
		return -1;
	if (h->kind == KIND_DATA)
		return h->type < EH_QUEUE_TYPES && h->mask != 0 && h->len <= max_payload(q) ? 1
											    : -1;
	return h->kind == KIND_CURSOR && h->len >= CUR_FIXED && h->len <= CUR_MAX ? 1 : -1;
}

static uint32_t seg_next(const struct eh_queue *q, uint32_t seg);
static void count_corrupt(struct eh_queue *q, uint64_t seq, const char *why);

/* A segment's DATA seqs are below the next segment's first_seq (it was
 * opened after them); the head's are below the next seq to assign. */
static uint64_t seg_ceil(const struct eh_queue *q, uint32_t seg)
{
	uint32_t nx = seg_next(q, seg);
	if (nx != NONE && q->segs[nx].first_seq != 0)
		return q->segs[nx].first_seq;
	return q->open ? q->next_seq : SEQ_MAX + 1;
}

static void it_start(const struct eh_queue *q, struct it *it, uint32_t seg)
{
	it->ceil = seg_ceil(q, seg);
	it->seg = seg;
	it->off = q->unit;
	it->seg_seq = q->segs[seg].seg_seq;
	it->floor = q->segs[seg].first_seq;
	it->whole = true;
}

/* Next record of the segment: 1 (h, *at), 0 at its end, or an eh_err < 0.
 * An invalid header inside a unit means padding: skip to the next unit. At
 * a unit boundary it ends the segment (unwritten, torn or stale bytes). */
static int it_next(struct eh_queue *q, struct it *it, struct rhdr *h, uint32_t *at)
{
	uint32_t limit = seg_limit(q, it->seg);
	uint8_t b[EH_QUEUE_REC_HDR];
	for (;;) {
		eh_err rc;
		if (it->off + EH_QUEUE_REC_HDR > limit)
			return 0;
		if ((rc = qread(q, it->seg, it->off, b, sizeof(b))) != EH_OK)
			return rc;
		int d = rec_decode(q, b, h);
		if (d != 1 || h->seg_seq != it->seg_seq || h->seq < it->floor ||
		    (h->kind == KIND_DATA && h->seq >= it->ceil) ||
		    it->off + rec_size(h->len) > limit) {
			/* a sealed header of this segment that no writer could
			 * have produced is damage, not an unwritten tail */
			if (d != 0 && h->seg_seq == it->seg_seq && h->seq >= it->floor &&
			    h->seq <= SEQ_MAX)
				count_corrupt(q, h->seq, "has impossible fields");
			if (it->off % q->unit != 0) {
				it->off = align_up(it->off, q->unit);
				continue;
			}
			return 0;
		}
		*at = it->off;
		it->off += (uint32_t)rec_size(h->len);
		it->floor = h->kind == KIND_DATA ? h->seq + 1 : h->seq;
		return 1;
	}
}

/* At the end of a segment's scan: the next segment's header names the last
 * record written before it; a scan that stopped short of it met damage.
 * Counted once per segment. */
static void seg_end_check(struct eh_queue *q, const struct it *it, uint32_t nx)
{
	uint64_t want = q->segs[nx].prev_last;
	if (!it->whole || q->segs[nx].seg_seq <= q->lost_seen)
		return; /* started mid-way from a cache: not a full scan */
	q->lost_seen = q->segs[nx].seg_seq;
	if (it->floor - 1 < want && want - (it->floor - 1) < SEQ_GAP) {
		q->st.lost_detected += want - (it->floor - 1);
		EH_LOG_WRN("queue", "segment %u ends at seq %llu, expected %llu: records lost",
			   it->seg, (unsigned long long)(it->floor - 1), (unsigned long long)want);
	}
}

/* The live segment after seg, or NONE past the head. */
static uint32_t seg_next(const struct eh_queue *q, uint32_t seg)
{
	if (seg == eff_head(q))
		return NONE;
	return (seg + 1) % q->nsegs;
}

static void count_corrupt(struct eh_queue *q, uint64_t seq, const char *why)
{
	if (seq > q->corrupt_seen) {
		q->corrupt_seen = seq;
		q->st.corrupt_skipped++;
		EH_LOG_WRN("queue", "record %llu %s: skipped", (unsigned long long)seq, why);
	}
}

/* Read and check a payload; false (and counted) when its CRC fails. */
static eh_err read_payload(struct eh_queue *q, uint32_t seg, uint32_t at, const struct rhdr *h,
			   void *dst, bool *ok)
{
	eh_err rc = qread(q, seg, at + EH_QUEUE_REC_HDR, dst, h->len);
	*ok = rc == EH_OK && eh_crc32c(0, dst, h->len) == h->pcrc;
	return rc;
}

/* ==== Cursor records ==== */

/* Encode the cursors (all slots when full, else only non-zero ones) as a
 * record at b; returns its size on flash. */
static uint32_t cursor_encode(struct eh_queue *q, uint8_t *b, uint32_t seg, uint32_t flags)
{
	/* a snapshot carries its segment's first seq (the records after it may
	 * be older than the stage's end); any other cursor record the next seq */
	uint8_t *p = b + EH_QUEUE_REC_HDR + CUR_FIXED;
	uint64_t present = 0;
	uint32_t count = 0;
	struct rhdr h = {0};
	for (unsigned s = 0; s < EH_QUEUE_SLOTS; s++) {
		bool used = (flags & CUR_FLAG_FULL) || q->drops[s] != 0;
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++)
			used = used || q->cur[s][t] != 0;
		if (!used)
			continue;
		present |= (uint64_t)1 << s;
		count++;
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++, p += 8)
			eh_le_put64(p, q->cur[s][t]);
		eh_le_put64(p, q->drops[s]);
		p += 8;
	}
	eh_le_put32(b + EH_QUEUE_REC_HDR, flags);
	eh_le_put32(b + EH_QUEUE_REC_HDR + 4, count);
	eh_le_put64(b + EH_QUEUE_REC_HDR + 8, present);
	h.kind = KIND_CURSOR;
	h.len = CUR_FIXED + count * CUR_SLOT_BYTES;
	h.seq = (flags & CUR_FLAG_FULL) ? q->segs[seg].first_seq : q->next_seq;
	h.seg_seq = q->segs[seg].seg_seq;
	h.pcrc = eh_crc32c(0, b + EH_QUEUE_REC_HDR, h.len);
	rec_encode(q, b, &h);
	return (uint32_t)rec_size(h.len);
}

static bool cursor_decode(struct eh_queue *q, const uint8_t *p, uint32_t len, uint32_t *flags)
{
	uint32_t count = eh_le_get32(p + 4);
	uint64_t present = eh_le_get64(p + 8);
	const uint8_t *e = p + CUR_FIXED;
	if ((uint32_t)__builtin_popcountll(present) != count ||
	    len != CUR_FIXED + count * CUR_SLOT_BYTES)
		return false;
	*flags = eh_le_get32(p);
	memset(q->cur, 0, sizeof(q->cur));
	memset(q->drops, 0, sizeof(q->drops));
	for (unsigned s = 0; s < EH_QUEUE_SLOTS; s++) {
		if (!(present & ((uint64_t)1 << s)))
			continue;
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++, e += 8)
			q->cur[s][t] = eh_le_get64(e);
		q->drops[s] = eh_le_get64(e);
		e += 8;
	}
	return true;
}

/* ==== Superblock and segment headers ==== */

static void sb_encode(const struct eh_queue *q, uint8_t *b, uint32_t copy)
{
	memset(b, 0, q->unit);
	eh_le_put32(b, SB_MAGIC);
	eh_le_put16(b + 4, FMT_VERSION);
	eh_le_put32(b + 8, q->unit);
	eh_le_put32(b + 12, q->seg_bytes);
	eh_le_put32(b + 16, q->flash->block_count);
	eh_le_put32(b + 20, copy);
	eh_le_put64(b + 24, q->uid);
	eh_le_put32(b + 60, eh_crc32c(0, b, 60));
}

static bool sb_valid(const uint8_t *b)
{
	return eh_le_get32(b) == SB_MAGIC && eh_le_get16(b + 4) == FMT_VERSION &&
	       eh_le_get32(b + 60) == eh_crc32c(0, b, 60);
}

static void seg_encode(const struct eh_queue *q, uint8_t *b, uint32_t seg)
{
	memset(b, 0, q->unit);
	eh_le_put32(b, SEG_MAGIC);
	eh_le_put16(b + 4, FMT_VERSION);
	eh_le_put16(b + 6, (uint16_t)seg);
	eh_le_put64(b + 8, q->segs[seg].seg_seq);
	eh_le_put64(b + 16, q->segs[seg].first_seq);
	eh_le_put64(b + 24, q->segs[seg].prev_last);
	eh_le_put64(b + 32, q->uid);
	eh_le_put32(b + 44, eh_crc32c(0, b, 44));
}

static bool seg_decode(const struct eh_queue *q, const uint8_t *b, uint32_t seg,
		       struct eh_queue_seg *s)
{
	if (eh_le_get32(b) != SEG_MAGIC || eh_le_get16(b + 4) != FMT_VERSION ||
	    eh_le_get16(b + 6) != (seg & 0xffff) || eh_le_get32(b + 44) != eh_crc32c(0, b, 44) ||
	    eh_le_get64(b + 32) != q->uid)
		return false;
	s->seg_seq = eh_le_get64(b + 8);
	s->first_seq = eh_le_get64(b + 16);
	s->prev_last = eh_le_get64(b + 24);
	/* prev_last is the seq assigned just before first_seq */
	return s->seg_seq != 0 && s->seg_seq <= SEQ_MAX && s->first_seq != 0 &&
	       s->first_seq <= SEQ_MAX && s->prev_last < s->first_seq;
}

/* ==== Open: format or recover ==== */

static eh_err format(struct eh_queue *q)
{
	eh_err rc;
	/* Copy A, sync, copy B, sync: a cut leaves B blank, which mount reads as
	 * "format never finished" (nothing was ever acknowledged). */
	if (q->cfg.uid == 0) {
		EH_LOG_ERR("queue", "a blank device needs a uid to be formatted");
		return EH_ERR_INVAL;
	}
	q->uid = q->cfg.uid;
	for (uint32_t copy = 0; copy < 2; copy++) {
		sb_encode(q, q->io, copy);
		if ((rc = eh_flash_prog(q->flash, (uint64_t)copy * q->unit, q->io, q->unit)) !=
			EH_OK ||
		    (rc = eh_flash_sync(q->flash)) != EH_OK)
			return rc;
	}
	EH_LOG_INF("queue", "formatted: %u segments of %u bytes, uid %016llx", q->nsegs,
		   q->seg_bytes, (unsigned long long)q->uid);
	return EH_OK;
}

/* Scan seg to its end: the last data seq, the end offset, and the last
 * cursor record whose payload checks (loaded into q). */
static eh_err scan_seg(struct eh_queue *q, uint32_t seg, uint64_t *last, uint32_t *end,
		       bool *have_cursor, uint32_t *flags, uint64_t *floor)
{
	struct it it;
	struct rhdr h;
	uint32_t at;
	int r;
	it_start(q, &it, seg);
	*end = q->unit;
	while ((r = it_next(q, &it, &h, &at)) == 1) {
		uint32_t fl = 0;
		bool ok;
		*end = it.off;
		*flags = 0; /* the clean mark counts only as the very last record */
		if (h.kind == KIND_DATA) {
			*last = h.seq;
			continue;
		}
		if (h.len > q->stage_dirty)
			q->stage_dirty = h.len; /* cleared at the end of open */
		eh_err rc = read_payload(q, seg, at, &h, q->stage, &ok);
		if (rc != EH_OK)
			return rc;
		if (ok && cursor_decode(q, q->stage, h.len, &fl)) {
			*have_cursor = true;
			*flags = fl;
		}
	}
	/* every header that parsed, even one whose payload was torn, raised the
	 * readers' floor: new seqs must start at or above it */
	*floor = it.floor;
	return r < 0 ? (eh_err)r : EH_OK;
}

static eh_err recover(struct eh_queue *q)
{
	uint32_t newest = NONE;
	uint64_t last = 0, floor = 0, pfloor = 0;
	uint32_t end = 0, flags = 0, dummy_end;
	bool have_cursor = false;
	eh_err rc;

	for (uint32_t i = 0; i < q->nsegs; i++) {
		struct eh_queue_seg s = {0};
		if ((rc = eh_flash_read(q->flash, dev_off(q, i, 0), q->io, q->unit)) != EH_OK)
			return rc;
		if (!seg_decode(q, q->io, i, &s)) {
			if (!is_blank(q->io, 64))
				q->st.bad_headers++;
			continue;
		}
		q->segs[i] = s;
		if (s.seg_seq > q->max_seg_seq)
			q->max_seg_seq = s.seg_seq;
		if (newest == NONE || s.seg_seq > q->segs[newest].seg_seq)
			newest = i;
	}
	q->head_seg = newest;
	q->tail_seg = newest;
	q->next_seq = 1;
	if (newest == NONE)
		return EH_OK; /* nothing was ever committed */
	/* The live run: segments opened one after the other end at the newest.
	 * Their first seqs never decrease (each was opened at the next seq to
	 * assign): a segment that breaks that is damage and ends the run, so no
	 * record can carry a seq above the head. */
	q->segs[newest].live = true;
	for (uint32_t k = 1; k < q->nsegs; k++) {
		uint32_t p = (newest + q->nsegs - k) % q->nsegs;
		uint32_t nx = (p + 1) % q->nsegs;
		if (q->segs[p].seg_seq == 0 || q->segs[p].seg_seq + k != q->segs[newest].seg_seq ||
		    q->segs[p].first_seq > q->segs[nx].first_seq)
			break;
		q->segs[p].live = true;
		q->tail_seg = p;
	}
	last = q->segs[newest].first_seq - 1;
	q->head_off = q->seg_bytes; /* the scan may look at the whole head segment */
	if ((rc = scan_seg(q, newest, &last, &end, &have_cursor, &flags, &floor)) != EH_OK)
		return rc;
	if (!have_cursor && newest != q->tail_seg) {
		/* a torn segment opening: its snapshot is lost, the one before holds */
		uint64_t plast = 0;
		uint32_t pflags = 0;
		uint32_t prev = (newest + q->nsegs - 1) % q->nsegs;
		if ((rc = scan_seg(q, prev, &plast, &dummy_end, &have_cursor, &pflags, &pfloor)) !=
		    EH_OK)
			return rc;
		flags = 0; /* not clean: the newest segment has no closing mark */
	}
	EH_LOG_DBG("queue",
		   "mount: %u live segments, newest %u (seg seq %llu), end %u, last seq %llu",
		   (newest + q->nsegs - q->tail_seg) % q->nsegs + 1, newest,
		   (unsigned long long)q->segs[newest].seg_seq, end, (unsigned long long)last);
	q->durable_seq = last;
	q->last_seq = last;
	q->next_seq = last + 1;
	if (floor > q->next_seq)
		q->next_seq = floor;
	q->head_off = align_up(end, q->unit);
	/* The scan may have cached bytes past the recovered end (a torn tail,
	 * stale bytes): the next commit overwrites them, so they go now. */
	if (q->cache.valid && q->cache.seg == newest && q->cache.hi > q->head_off) {
		q->cache.hi = q->head_off;
		if (q->cache.lo >= q->cache.hi)
			cache_drop(q);
	}
	if (!(flags & CUR_FLAG_CLEAN)) {
		q->next_seq += SEQ_GAP;
		q->st.unclean_mounts = 1;
		EH_LOG_WRN("queue", "unclean shutdown: recovered up to seq %llu",
			   (unsigned long long)last);
	}
	/* A cursor is never beyond the last seq assigned: one that is (damage)
	 * would hide every later record from its slot and refuse its acks. */
	for (unsigned s = 0; s < EH_QUEUE_SLOTS; s++)
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++)
			if (q->cur[s][t] >= q->next_seq) {
				EH_LOG_WRN("queue",
					   "slot %u cursor %llu beyond the head %llu: moved back",
					   s, (unsigned long long)q->cur[s][t],
					   (unsigned long long)(q->next_seq - 1));
				q->cur[s][t] = q->next_seq - 1;
			}
	return EH_OK;
}

eh_err eh_queue_open(struct eh_queue *q, const struct eh_queue_config *cfg)
{
	struct eh_flash *f;
	uint8_t a[64], b[64];
	bool va, vb;
	eh_err rc;
	uint64_t read0;
	uint32_t dirty;

	EH_ASSERT(q != NULL && cfg != NULL);
	/* Not the stage: zeroing it whole would make 512 KiB resident for
	 * nothing. What a previous open left in it (staged, not committed) and
	 * what recovery writes there are cleared at the end. */
	dirty = q->stage_used > q->stage_dirty ? q->stage_used : q->stage_dirty;
	q->stage_dirty = dirty < sizeof(q->stage) ? dirty : (uint32_t)sizeof(q->stage);
	memset(q, 0, offsetof(struct eh_queue, stage_dirty));
	f = cfg->flash;
	if (f == NULL || cfg->full_policy > EH_QUEUE_BLOCK)
		return EH_ERR_INVAL;
	q->flash = f;
	q->cfg = *cfg;
	if (q->cfg.commit_interval_ms == 0)
		q->cfg.commit_interval_ms = 20;
	if (cfg->cache != NULL && cfg->cache_bytes > 0) {
		q->cache.buf = cfg->cache;
		q->cache.cap = cfg->cache_bytes;
	}
	q->cache.ahead = CACHE_AHEAD;
	q->unit = f->prog_unit;
	q->seg_bytes = f->block_size;
	q->nsegs = f->block_count - 1;
	if (f->block_count < 4 || !geometry_ok(q)) {
		EH_LOG_ERR("queue", "unusable geometry: unit %u, block %u x %u", q->unit,
			   q->seg_bytes, f->block_count);
		return EH_ERR_INVAL;
	}
	read0 = f->bytes_read;
	if ((rc = eh_flash_read(f, 0, q->io, 2 * q->unit)) != EH_OK)
		return rc;
	memcpy(a, q->io, 64);
	memcpy(b, q->io + q->unit, 64);
	va = sb_valid(a);
	vb = sb_valid(b);
	if (!va && !vb) {
		if (!is_blank(q->io + q->unit, q->unit)) {
			EH_LOG_ERR("queue", "superblock: both copies damaged");
			return EH_ERR_CORRUPT;
		}
		if (cfg->read_only)
			return EH_ERR_NOENT;
		if ((rc = format(q)) != EH_OK)
			return rc;
		q->head_seg = NONE;
		q->tail_seg = NONE;
		q->next_seq = 1;
	} else {
		const uint8_t *s = va ? a : b;
		uint32_t su = eh_le_get32(s + 8), sb = eh_le_get32(s + 12),
			 sc = eh_le_get32(s + 16);
		if (f->geometry_view && sc >= 4 && (uint64_t)sb * sc == eh_flash_size(f)) {
			/* a file: take the geometry it was formatted with */
			q->unit = su;
			q->seg_bytes = sb;
			q->nsegs = sc - 1;
			if (!geometry_ok(q) || eh_flash_resplit(f, sb, sc, su) != EH_OK)
				return EH_ERR_CORRUPT;
		}
		if (eh_le_get32(s + 8) != q->unit || eh_le_get32(s + 12) != q->seg_bytes ||
		    eh_le_get32(s + 16) != f->block_count) {
			EH_LOG_ERR("queue",
				   "superblock: geometry %u/%u/%u does not match the device",
				   eh_le_get32(s + 8), eh_le_get32(s + 12), eh_le_get32(s + 16));
			return EH_ERR_CORRUPT;
		}
		q->uid = eh_le_get64(s + 24);
		q->salt = uid_salt(q->uid);
		if ((rc = recover(q)) != EH_OK)
			return rc;
	}
	q->salt = uid_salt(q->uid);
	q->st.mount_bytes_read = f->bytes_read - read0;
	q->st.mount_bytes_bound =
	    2ull * q->unit + (uint64_t)q->nsegs * q->unit + 2ull * q->seg_bytes;
	q->st.bytes_written = 0;
	q->prog0 = f->bytes_prog;
	q->sync0 = f->syncs;
	memset(q->stage, 0, q->stage_dirty < sizeof(q->stage) ? q->stage_dirty : sizeof(q->stage));
	q->stage_dirty = 0;
	q->open = true;
	return EH_OK;
}

/* ==== Staging and eviction ==== */

/* Stage room kept after an extent for a cursor record added at commit. */
static uint32_t cur_room(const struct eh_queue *q)
{
	return align_up(CUR_MAX + q->unit, q->unit);
}

static struct eh_queue_ext *ext_new(struct eh_queue *q, uint32_t seg, uint32_t off, bool opens)
{
	struct eh_queue_ext *e = &q->ext[q->n_ext++];
	e->seg = seg;
	e->off = off;
	e->buf = q->stage_used;
	e->len = opens ? seg_data_start(q) : 0;
	e->opens = opens;
	e->reclaimed = false;
	q->stage_used = e->buf + align_up(e->len, q->unit) + cur_room(q);
	return e;
}

static void mark_dirty(struct eh_queue *q)
{
	if (!q->cursors_dirty)
		q->dirty_ms = now_ms(q);
	q->cursors_dirty = true;
}

/* Free the tail segment seg for reuse. Records in it still pending for a
 * slot are evicted (allow_drop: counted per slot, cursors moved past them)
 * or refuse the reuse (EH_ERR_NOSPC). The counts reach the device before
 * the segment is overwritten (see eh_queue_commit). */
static eh_err reclaim(struct eh_queue *q, uint32_t seg, bool allow_drop)
{
	uint64_t cnt[EH_QUEUE_SLOTS] = {0};
	uint8_t adv[EH_QUEUE_SLOTS] = {0}; /* bit t: cursor (s, t) had pending records */
	uint64_t lastseq = 0;
	bool any = false;
	struct it it;
	struct rhdr h;
	uint32_t at, nxt = (seg + 1) % q->nsegs;
	int r;

	it_start(q, &it, seg);
	q->cache.ahead = 0; /* the tail's bytes must not push the head's out of the cache */
	while ((r = it_next(q, &it, &h, &at)) == 1) {
		if (h.kind != KIND_DATA)
			continue;
		lastseq = h.seq;
		for (uint64_t m = h.mask; m != 0; m &= m - 1) {
			unsigned s = (unsigned)__builtin_ctzll(m);
			if (q->cur[s][h.type] < h.seq) {
				cnt[s]++;
				adv[s] |= (uint8_t)(1u << h.type);
				any = true;
			}
		}
	}
	q->cache.ahead = CACHE_AHEAD;
	if (r < 0)
		return (eh_err)r;
	if (q->segs[nxt].live && q->segs[nxt].prev_last > lastseq)
		lastseq = q->segs[nxt].prev_last; /* records lost to damage go too */
	if (any && !allow_drop)
		return EH_ERR_NOSPC;
	for (unsigned s = 0; s < EH_QUEUE_SLOTS; s++) {
		if (adv[s] == 0)
			continue;
		q->drops[s] += cnt[s];
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
			if ((adv[s] & (1u << t)) && q->cur[s][t] < lastseq)
				q->cur[s][t] = lastseq;
			q->lag_ok[s][t] = false;
		}
		EH_LOG_WRN("queue", "full: dropped %llu records of webhook slot %u",
			   (unsigned long long)cnt[s], s);
	}
	if (any)
		mark_dirty(q);
	q->segs[seg].live = false;
	q->tail_seg = nxt;
	return EH_OK;
}

/* Stage the opening of the segment after the stage's end. EH_ERR_AGAIN:
 * commit first (stage or extent table full). */
static eh_err open_next(struct eh_queue *q, uint32_t rsz, bool allow_drop)
{
	uint32_t h = eff_head(q), nxt = h == NONE ? 0 : (h + 1) % q->nsegs;
	uint32_t opens = 0, need;
	bool was_live = q->segs[nxt].live;
	eh_err rc;
	if (q->max_seg_seq >= SEQ_MAX) {
		/* as for seqs: only a crafted file gets here */
		EH_LOG_ERR("queue", "segment seqs exhausted: move the queue file aside");
		return EH_ERR_IO;
	}
	for (uint32_t i = 0; i < q->n_ext; i++)
		opens += q->ext[i].opens;
	need = q->stage_used + 2 * cur_room(q) + align_up(seg_data_start(q) + rsz, q->unit);
	if (q->n_ext + 2 > EH_QUEUE_STAGE_EXT || opens + 3 > q->nsegs || need > sizeof(q->stage))
		return EH_ERR_AGAIN;
	if (was_live && (rc = reclaim(q, nxt, allow_drop)) != EH_OK)
		return rc;
	if (q->cache.seg == nxt)
		cache_drop(q); /* its old bytes are about to be overwritten */
	if (was_live && q->n_ext == 0 && q->head_seg != NONE &&
	    q->head_off + CUR_MAX <= q->seg_bytes)
		ext_new(q, q->head_seg, q->head_off, false); /* room for the eviction's cursors */
	struct eh_queue_ext *e = ext_new(q, nxt, 0, true);
	e->reclaimed = was_live;
	q->segs[nxt].seg_seq = ++q->max_seg_seq;
	q->segs[nxt].first_seq = q->next_seq;
	q->segs[nxt].prev_last = q->last_seq; /* the last record before it */
	q->segs[nxt].live = true;
	/* header and snapshot now so readers can walk the staged segment; both
	 * are encoded again at commit with the cursors of that moment */
	seg_encode(q, q->stage + e->buf, nxt);
	cursor_encode(q, q->stage + e->buf + q->unit, nxt, CUR_FLAG_FULL);
	if (q->tail_seg == NONE)
		q->tail_seg = nxt;
	return EH_OK;
}

/* The extent a record of rsz bytes goes to (at e->off + e->len). */
static eh_err place(struct eh_queue *q, uint32_t rsz, struct eh_queue_ext **out)
{
	uint32_t h = eff_head(q);
	eh_err rc;
	if (h != NONE) {
		uint32_t pos = q->n_ext > 0 ? q->ext[q->n_ext - 1].off + q->ext[q->n_ext - 1].len
					    : q->head_off;
		if (pos + rsz + seg_reserve(q) <= q->seg_bytes) {
			struct eh_queue_ext *e;
			if (q->n_ext == 0) {
				if (q->stage_used + align_up(rsz, q->unit) + 2 * cur_room(q) >
				    sizeof(q->stage))
					return EH_ERR_AGAIN;
				ext_new(q, h, q->head_off, false);
			}
			e = &q->ext[q->n_ext - 1];
			if (e->buf + align_up(e->len + rsz, q->unit) + cur_room(q) >
			    sizeof(q->stage))
				return EH_ERR_AGAIN;
			*out = e;
			return EH_OK;
		}
	}
	if ((rc = open_next(q, rsz, q->cfg.full_policy == EH_QUEUE_DROP_OLDEST)) != EH_OK)
		return rc;
	*out = &q->ext[q->n_ext - 1];
	return EH_OK;
}

eh_err eh_queue_append(struct eh_queue *q, unsigned type, uint64_t mask, const void *payload,
		       size_t len, uint64_t *seq)
{
	struct eh_queue_ext *e = NULL;
	struct rhdr h = {0};
	uint8_t *b;
	uint32_t rsz;
	eh_err rc;

	EH_ASSERT(q != NULL && (payload != NULL || len == 0));
	if (!q->open || q->cfg.read_only || type >= EH_QUEUE_TYPES || mask == 0)
		return EH_ERR_INVAL;
	if (q->failed)
		return EH_ERR_IO;
	if (q->next_seq > SEQ_MAX) {
		/* only a damaged or crafted file gets here: its records would
		 * read as damage, so none is written */
		EH_LOG_ERR("queue", "seqs exhausted at %llu: move the queue file aside",
			   (unsigned long long)q->next_seq);
		return EH_ERR_IO;
	}
	if (len > max_payload(q))
		return EH_ERR_TOOBIG;
	rsz = (uint32_t)rec_size(len);
	rc = place(q, rsz, &e);
	if (rc == EH_ERR_AGAIN) {
		if ((rc = eh_queue_commit(q)) != EH_OK)
			return rc;
		rc = place(q, rsz, &e);
	}
	if (rc != EH_OK)
		return rc == EH_ERR_AGAIN ? EH_ERR_TOOBIG : rc;
	b = q->stage + e->buf + e->len;
	h.kind = KIND_DATA;
	h.type = type;
	h.len = (uint32_t)len;
	h.seq = q->next_seq++;
	h.mask = mask;
	h.seg_seq = q->segs[e->seg].seg_seq;
	memcpy(b + EH_QUEUE_REC_HDR, payload, len);
	h.pcrc = eh_crc32c(0, payload, len);
	rec_encode(q, b, &h);
	e->len += rsz;
	q->stage_used = e->buf + align_up(e->len, q->unit) + cur_room(q);
	q->staged_last = h.seq;
	q->last_seq = h.seq;
	if (!q->stage_timed) {
		q->stage_ms = now_ms(q);
		q->stage_timed = true;
	}
	q->st.payload_bytes += len;
	for (uint64_t m = mask; m != 0; m &= m - 1) {
		unsigned s = (unsigned)__builtin_ctzll(m);
		q->lag[s][type]++;
	}
	if (seq != NULL)
		*seq = h.seq;
	return EH_OK;
}

/* ==== Commit ==== */

static eh_err write_ext(struct eh_queue *q, const struct eh_queue_ext *e)
{
	uint32_t len = align_up(e->len, q->unit);
	if (len == 0)
		return EH_OK;
	return eh_flash_prog(q->flash, dev_off(q, e->seg, e->off), q->stage + e->buf, len);
}

eh_err eh_queue_commit(struct eh_queue *q)
{
	bool wrote_cursors = false, need_cursor;
	eh_err rc = EH_OK;
	struct eh_queue_ext *last;

	EH_ASSERT(q != NULL);
	if (!q->open)
		return EH_ERR_INVAL;
	if (q->failed)
		return EH_ERR_IO;
	if (q->cfg.read_only || (q->n_ext == 0 && !q->cursors_dirty && !q->closing))
		return EH_OK;
	if (q->n_ext == 0) {
		/* cursors only: into the head, else a free (never an evicting) segment */
		if (q->head_seg != NONE && q->head_off + CUR_MAX + cur_room(q) <= q->seg_bytes)
			ext_new(q, q->head_seg, q->head_off, false);
		else if (open_next(q, 0, false) != EH_OK) {
			q->dirty_ms = now_ms(q); /* retry later; acks stay in RAM meanwhile */
			return EH_OK;
		}
	}
	if (q->closing && q->n_ext > 0) {
		/* the clean mark must be the last record: when the head has no room
		 * for it, a free segment takes it (never an evicting one) */
		const struct eh_queue_ext *e = &q->ext[q->n_ext - 1];
		if (e->off + e->len + CUR_MAX + cur_room(q) > q->seg_bytes)
			(void)open_next(q, 0, false);
	}
	last = &q->ext[q->n_ext - 1];
	for (uint32_t i = 0; i < q->n_ext && rc == EH_OK; i++) {
		struct eh_queue_ext *e = &q->ext[i];
		if (e->opens) {
			/* header and a full cursor snapshot: the newest segment always
			 * holds the cursors, so mount scans one segment */
			seg_encode(q, q->stage + e->buf, e->seg);
			cursor_encode(q, q->stage + e->buf + q->unit, e->seg, CUR_FLAG_FULL);
			wrote_cursors = true;
		}
		if (i + 1 < q->n_ext && q->ext[i + 1].opens) {
			/* Everything before a segment opening is made durable first: the
			 * ring is rebuilt from consecutive segment seqs, so a later
			 * header must never land without the earlier ones. When the next
			 * segment is reused, the cursors and drop counts that allow it go
			 * with this sync, before its old records are overwritten. */
			if (q->ext[i + 1].reclaimed && q->cursors_dirty)
				e->len += cursor_encode(q, q->stage + e->buf + e->len, e->seg, 0);
			if ((rc = write_ext(q, e)) == EH_OK &&
			    (rc = eh_flash_sync(q->flash)) == EH_OK)
				q->cursors_dirty = false;
			continue;
		}
		need_cursor = (q->cursors_dirty && !wrote_cursors) || q->closing;
		if (e == last && need_cursor &&
		    e->off + e->len + CUR_MAX + cur_room(q) <= q->seg_bytes) {
			e->len += cursor_encode(q, q->stage + e->buf + e->len, e->seg,
						q->closing ? CUR_FLAG_CLEAN : 0);
			wrote_cursors = true;
		}
		rc = write_ext(q, e);
	}
	if (rc == EH_OK)
		rc = eh_flash_sync(q->flash);
	q->st.bytes_written = q->flash->bytes_prog - q->prog0;
	q->st.syncs = q->flash->syncs - q->sync0;
	if (rc != EH_OK) {
		/* never retry a failed sync (the kernel may have dropped the pages):
		 * the queue stops here; reopening it runs recovery */
		q->failed = true;
		cache_drop(q); /* and reads go to the device from now on (qread) */
		EH_LOG_ERR("queue", "commit failed: %s", eh_err_str(rc));
		return rc;
	}
	/* Synced: the device holds these bytes now, and so may the cache. In
	 * order, so the window ends with the newest segment's extents. */
	for (uint32_t i = 0; i < q->n_ext; i++)
		cache_put(q, q->ext[i].seg, q->ext[i].off, q->stage + q->ext[i].buf,
			  align_up(q->ext[i].len, q->unit));
	q->head_seg = last->seg;
	q->head_off = align_up(last->off + last->len, q->unit);
	EH_LOG_DBG("queue", "commit: %u extents, head segment %u at %u, durable seq %llu", q->n_ext,
		   q->head_seg, q->head_off, (unsigned long long)(q->next_seq - 1));
	if (wrote_cursors)
		q->cursors_dirty = false;
	q->durable_seq = q->next_seq - 1;
	memset(q->stage, 0, q->stage_used < sizeof(q->stage) ? q->stage_used : sizeof(q->stage));
	q->stage_used = 0;
	q->n_ext = 0;
	q->stage_ms = 0;
	q->stage_timed = false;
	return EH_OK;
}

uint64_t eh_queue_durable_seq(const struct eh_queue *q)
{
	return q->durable_seq;
}

uint64_t eh_queue_commit_deadline(const struct eh_queue *q)
{
	uint64_t d = UINT64_MAX;
	if (!q->open || q->failed)
		return d;
	if (q->stage_timed)
		d = q->stage_ms + q->cfg.commit_interval_ms;
	if (q->cursors_dirty && q->dirty_ms + EH_QUEUE_CURSOR_MS < d)
		d = q->dirty_ms + EH_QUEUE_CURSOR_MS;
	return d;
}

bool eh_queue_commit_due(const struct eh_queue *q, uint64_t now)
{
	if (q->open && !q->failed && q->stage_used > 64u * 1024u)
		return true;
	return now >= eh_queue_commit_deadline(q);
}

void eh_queue_close(struct eh_queue *q)
{
	if (q == NULL || !q->open)
		return;
	if (!q->failed && !q->cfg.read_only) {
		q->closing = true;
		(void)eh_queue_commit(q);
	}
	q->open = false;
}

/* ==== Readers ==== */

/* The live segment holding seq (the tail when seq is older). */
static uint32_t locate(const struct eh_queue *q, uint64_t seq)
{
	uint32_t s = q->tail_seg, best = q->tail_seg;
	while (s != NONE) {
		if (q->segs[s].first_seq <= seq)
			best = s;
		s = seg_next(q, s);
	}
	return best;
}

/* Start an iterator for cursor (slot, type): from its cache when valid. */
static void cursor_it(struct eh_queue *q, unsigned slot, unsigned type, struct it *it)
{
	const struct eh_queue_pos *p = &q->pos[slot][type];
	uint64_t c = q->cur[slot][type];
	if (p->seg_seq != 0 && q->segs[p->seg].live && q->segs[p->seg].seg_seq == p->seg_seq &&
	    p->cur <= c) {
		it->seg = p->seg;
		it->off = p->off;
		it->seg_seq = p->seg_seq;
		it->floor = p->floor;
		it->ceil = seg_ceil(q, p->seg);
		it->whole = false;
		return;
	}
	it_start(q, it, locate(q, c + 1));
}

static void cursor_cache(struct eh_queue *q, unsigned slot, unsigned type, const struct it *it,
			 uint32_t at, uint64_t floor)
{
	struct eh_queue_pos *p = &q->pos[slot][type];
	p->seg = it->seg;
	p->off = at;
	p->seg_seq = it->seg_seq;
	p->floor = floor;
	p->cur = q->cur[slot][type];
}

eh_err eh_queue_peek(struct eh_queue *q, unsigned slot, unsigned type, struct eh_queue_rec *recs,
		     size_t max_recs, size_t max_bytes, void *buf, size_t buf_len, size_t *n)
{
	uint64_t c, bytes = 0;
	size_t used = 0;
	struct it it;
	struct rhdr h;
	uint32_t at;
	bool first = true;
	int r;
	struct eh_queue_pos end = {0};

	EH_ASSERT(q != NULL && n != NULL && (recs != NULL || max_recs == 0));
	*n = 0;
	if (!q->open || slot >= EH_QUEUE_SLOTS || type >= EH_QUEUE_TYPES)
		return EH_ERR_INVAL;
	if (eff_head(q) == NONE || max_recs == 0)
		return EH_OK;
	c = q->cur[slot][type];
	cursor_it(q, slot, type, &it);
	for (;;) {
		uint64_t floor = it.floor;
		r = it_next(q, &it, &h, &at);
		if (r < 0)
			return (eh_err)r;
		if (r == 0) {
			uint32_t nx = seg_next(q, it.seg);
			if (nx == NONE)
				break;
			seg_end_check(q, &it, nx);
			it_start(q, &it, nx);
			continue;
		}
		if (h.kind != KIND_DATA || h.seq <= c || h.type != type ||
		    !(h.mask & ((uint64_t)1 << slot))) {
			if (first)
				cursor_cache(q, slot, type, &it, it.off, it.floor);
			continue;
		}
		if (h.len > buf_len) {
			/* can never be returned to this caller: skipped and counted
			 * like damage, so the records after it still flow and an
			 * ack past them moves the cursor past it too */
			count_corrupt(q, h.seq, "is larger than the reader's buffer");
			continue;
		}
		if (*n > 0 && (*n == max_recs || bytes + h.len > max_bytes))
			break;
		if (used + h.len > buf_len)
			break;
		bool ok;
		eh_err rc = read_payload(q, it.seg, at, &h, (uint8_t *)buf + used, &ok);
		if (rc != EH_OK)
			return rc;
		if (first) {
			cursor_cache(q, slot, type, &it, at, floor);
			first = false;
		}
		if (!ok) {
			count_corrupt(q, h.seq, "failed its CRC");
			continue;
		}
		recs[*n].seq = h.seq;
		recs[*n].type = h.type;
		recs[*n].payload = (const uint8_t *)buf + used;
		recs[*n].len = h.len;
		recs[*n].mask = h.mask;
		used += align_up(h.len, 8);
		bytes += h.len;
		(*n)++;
		end = (struct eh_queue_pos){it.seg_seq, it.floor, 0, it.seg, it.off};
	}
	q->peek_end[slot][type] = end;
	q->peek_last[slot][type] = *n > 0 ? recs[*n - 1].seq : 0;
	q->peek_n[slot][type] = (uint32_t)*n;
	return EH_OK;
}

eh_err eh_queue_ack(struct eh_queue *q, unsigned slot, unsigned type, uint64_t upto)
{
	EH_ASSERT(q != NULL);
	if (!q->open || slot >= EH_QUEUE_SLOTS || type >= EH_QUEUE_TYPES || upto >= q->next_seq)
		return EH_ERR_INVAL;
	if (upto <= q->cur[slot][type])
		return EH_OK;
	if (q->lag_ok[slot][type] && upto == q->peek_last[slot][type] &&
	    q->lag[slot][type] >= q->peek_n[slot][type])
		q->lag[slot][type] -= q->peek_n[slot][type];
	else
		q->lag_ok[slot][type] = false;
	if (upto == q->peek_last[slot][type] && q->peek_end[slot][type].seg_seq != 0) {
		/* the next peek starts after the batch just acknowledged, not at
		 * its first record (which may sit in an older segment) */
		q->pos[slot][type] = q->peek_end[slot][type];
		q->pos[slot][type].cur = upto;
	}
	q->peek_last[slot][type] = 0;
	q->cur[slot][type] = upto;
	mark_dirty(q);
	return EH_OK;
}

eh_err eh_queue_slot_reset(struct eh_queue *q, unsigned slot)
{
	EH_ASSERT(q != NULL);
	if (!q->open || slot >= EH_QUEUE_SLOTS)
		return EH_ERR_INVAL;
	for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
		q->cur[slot][t] = q->next_seq - 1;
		q->lag[slot][t] = 0;
		q->lag_ok[slot][t] = true;
		q->pos[slot][t].seg_seq = 0;
	}
	q->drops[slot] = 0;
	mark_dirty(q);
	return EH_OK;
}

uint64_t eh_queue_lag(const struct eh_queue *cq, unsigned slot, unsigned type)
{
	struct eh_queue *q = (struct eh_queue *)cq; /* fills a cache in caller-owned memory */
	struct it it;
	struct rhdr h;
	uint32_t at;
	uint64_t c, count = 0;
	int r;

	if (!q->open || slot >= EH_QUEUE_SLOTS || type >= EH_QUEUE_TYPES)
		return 0;
	if (q->lag_ok[slot][type])
		return q->lag[slot][type];
	if (eff_head(q) == NONE)
		return 0;
	c = q->cur[slot][type];
	cursor_it(q, slot, type, &it);
	for (;;) {
		r = it_next(q, &it, &h, &at);
		if (r < 0)
			return count; /* device error: best effort, not cached */
		if (r == 0) {
			uint32_t nx = seg_next(q, it.seg);
			if (nx == NONE)
				break;
			seg_end_check(q, &it, nx);
			it_start(q, &it, nx);
			continue;
		}
		if (h.kind == KIND_DATA && h.seq > c && h.type == type &&
		    (h.mask & ((uint64_t)1 << slot)))
			count++;
	}
	q->lag[slot][type] = count;
	q->lag_ok[slot][type] = true;
	return count;
}

void eh_queue_stats(const struct eh_queue *q, struct eh_queue_stats *st)
{
	uint32_t live = 0;
	*st = q->st;
	for (uint32_t s = q->tail_seg; s != NONE; s = seg_next(q, s))
		live++;
	st->segments = q->nsegs;
	st->segment_bytes = q->seg_bytes;
	st->capacity_bytes =
	    (uint64_t)q->nsegs * (q->seg_bytes - seg_data_start(q) - seg_reserve(q));
	st->used_bytes = (uint64_t)live * (q->seg_bytes - seg_data_start(q) - seg_reserve(q));
	st->head_seq = q->next_seq - 1;
	st->tail_seq = q->tail_seg == NONE ? q->next_seq : q->segs[q->tail_seg].first_seq;
	st->records = st->head_seq >= st->tail_seq ? st->head_seq - st->tail_seq + 1 : 0;
	st->durable_seq = q->durable_seq;
	memcpy(st->drops, q->drops, sizeof(st->drops));
	st->bytes_written = q->flash->bytes_prog - q->prog0;
	st->syncs = q->flash->syncs - q->sync0;
}

uint64_t eh_queue_cursor(const struct eh_queue *q, unsigned slot, unsigned type)
{
	if (slot >= EH_QUEUE_SLOTS || type >= EH_QUEUE_TYPES)
		return 0;
	return q->cur[slot][type];
}

uint64_t eh_queue_uid(const struct eh_queue *q)
{
	return q->uid;
}

eh_err eh_queue_walk(struct eh_queue *q, eh_queue_walk_fn fn, void *arg, void *buf, size_t buf_len)
{
	return eh_queue_walk_recent(q, UINT32_MAX, fn, arg, buf, buf_len);
}

static eh_err walk(struct eh_queue *q, uint32_t max_segs, eh_queue_walk_fn fn, void *arg, void *buf,
		   size_t buf_len);

eh_err eh_queue_walk_recent(struct eh_queue *q, uint32_t max_segs, eh_queue_walk_fn fn, void *arg,
			    void *buf, size_t buf_len)
{
	eh_err rc;
	EH_ASSERT(q != NULL && fn != NULL);
	if (!q->open)
		return EH_ERR_INVAL;
	/* whole windows of the cache per device read, not two reads a record */
	q->cache.ahead = q->cache.cap;
	rc = walk(q, max_segs, fn, arg, buf, buf_len);
	q->cache.ahead = CACHE_AHEAD;
	return rc;
}

static eh_err walk(struct eh_queue *q, uint32_t max_segs, eh_queue_walk_fn fn, void *arg, void *buf,
		   size_t buf_len)
{
	struct it it;
	struct rhdr h = {0};
	uint32_t at = 0, live = 0, first;
	int r;
	EH_ASSERT(q != NULL && fn != NULL);
	if (!q->open)
		return EH_ERR_INVAL;
	for (uint32_t s = q->tail_seg; s != NONE; s = seg_next(q, s))
		live++;
	first = q->tail_seg;
	if (max_segs == UINT32_MAX || q->head_seg == UINT32_MAX) {
		/* the whole ring, tail to head */
	} else if (live >= max_segs) {
		for (uint32_t skip = live - max_segs; skip > 0; skip--)
			first = seg_next(q, first);
	} else {
		/* Fewer live segments than asked: also the consumed ones just
		 * behind the tail, as long as they still hold this ring's data
		 * (records are checked as anywhere else; stale bytes end a
		 * segment). Never more than the ring minus the head. */
		uint32_t extra = max_segs - live;
		if (extra > q->nsegs - live)
			extra = q->nsegs - live;
		first = (uint32_t)((q->tail_seg + q->nsegs - extra) % q->nsegs);
	}
	for (uint32_t s = first; s != NONE; s = seg_next(q, s)) {
		it_start(q, &it, s);
		while ((r = it_next(q, &it, &h, &at)) == 1) {
			struct eh_queue_rec rec;
			bool ok = true;
			if (h.kind != KIND_DATA)
				continue;
			if (h.len > buf_len) {
				count_corrupt(q, h.seq, "is larger than the reader's buffer");
				continue;
			}
			eh_err rc = read_payload(q, s, at, &h, buf, &ok);
			if (rc != EH_OK)
				return rc;
			if (!ok) {
				count_corrupt(q, h.seq, "failed its CRC");
				continue;
			}
			rec.seq = h.seq;
			rec.type = h.type;
			rec.payload = buf;
			rec.len = h.len;
			rec.mask = h.mask;
			if (fn(arg, &rec, s) != 0)
				return EH_OK;
		}
		if (r < 0)
			return (eh_err)r;
		if (seg_next(q, s) != NONE)
			seg_end_check(q, &it, seg_next(q, s));
	}
	return EH_OK;
}
