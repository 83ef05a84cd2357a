/* SPDX-License-Identifier: Apache-2.0 */
/* eh_journal.c - the inbound journal: a mapped file of two halves plus a
 * spill past them, entries checked by CRC-32C, little-endian. Format and
 * reasons: docs/JOURNAL.md. */
#include "eh_journal.h"

#include <stdio.h>
#include <string.h>

#include "eh_file.h"
#include "eh_hash.h"
#include "eh_log.h"
#include "eh_le.h"

#define F_MAGIC 0x4c4a4845u /* "EHJL" */
#define F_VERSION 2u
#define E_MAGIC 0x454a4845u  /* "EHJE" */
#define V1_MAGIC 0x314a4845u /* "EHJ1": the previous format, host-endian */
#define V1_HDR 24
#define HDR EH_JOURNAL_FILE_HDR
#define EHDR EH_JOURNAL_ENTRY_HDR
#define MARK_OFF 16 /* the commit mark in the file header: one aligned 8-byte store */
#define SPILL 2

static size_t align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

/* ==== Reading ==== */

struct ent {
	uint64_t seq;
	size_t size; /* header, data and padding */
	size_t tl, hl, pl;
	const uint8_t *data; /* topic, hmac, payload */
	size_t checked;	     /* bytes the last entry_at_in checksummed */
};

/* The entry at pos of b[0..stop): whole and intact, lengths within the
 * bound. Every length is checked before it is used. */
static bool entry_at_in(const uint8_t *b, size_t pos, size_t stop, struct ent *e, uint64_t lo,
			uint64_t hi);

static bool entry_at(const uint8_t *b, size_t pos, size_t stop, struct ent *e)
{
	return entry_at_in(b, pos, stop, e, 1, EH_JOURNAL_SEQ_MAX);
}

/* As entry_at, and numbered lo..hi: the number is checked before the CRC,
 * so bytes that only look like entries cost no checksum. */
static bool entry_at_in(const uint8_t *b, size_t pos, size_t stop, struct ent *e, uint64_t lo,
			uint64_t hi)
{
	const uint8_t *p = b + pos;

	e->checked = 0;
	if (stop - pos < EHDR || eh_le_get32(p) != E_MAGIC || p[23] != 0)
		return false;
	e->seq = eh_le_get64(p + 8);
	e->pl = eh_le_get32(p + 16);
	e->tl = eh_le_get16(p + 20);
	e->hl = p[22];
	if (e->seq == 0 || e->seq > EH_JOURNAL_SEQ_MAX || e->tl == 0 || e->tl > EH_MQTT_TOPIC_MAX ||
	    e->hl > EH_JOURNAL_HMAC_MAX || e->pl > EH_MAX_MSG_BYTES)
		return false;
	e->size = align8(EHDR + e->tl + e->hl + e->pl);
	if (e->size > stop - pos || e->seq < lo || e->seq > hi)
		return false;
	e->checked = EHDR - 8 + e->tl + e->hl + e->pl;
	if (eh_crc32c(0, p + 8, e->checked) != eh_le_get32(p + 4))
		return false;
	e->data = p + EHDR;
	return true;
}

/* One region's run of live entries (numbered >= low): its numbers and the
 * end of its last entry (relative to the region's start). */
struct run {
	size_t start, stop;
	uint64_t first, last;
	size_t end;
};

struct walk {
	const uint8_t *b;
	uint64_t low, from, to;
	uint64_t seq_hi;     /* no entry can be numbered above this (set by walk_bound) */
	uint64_t crc_budget; /* bytes the skipping may still checksum */
	eh_journal_fn fn;    /* NULL: only measure */
	void *ctx;
	struct eh_journal_replay *r;
	bool halt;
};

static bool emit(struct walk *w, const struct ent *e)
{
	char topic[EH_MQTT_TOPIC_MAX + 1], hmac[EH_JOURNAL_HMAC_MAX + 1];

	memcpy(topic, e->data, e->tl);
	topic[e->tl] = '\0';
	memcpy(hmac, e->data + e->tl, e->hl);
	hmac[e->hl] = '\0';
	if (!w->fn(w->ctx, topic, e->data + e->tl + e->hl, e->pl, e->hl ? hmac : NULL)) {
		w->r->stopped = true;
		w->r->next = e->seq;
		w->halt = true;
		return false;
	}
	w->r->replayed++;
	w->r->next = e->seq + 1;
	return true;
}

/* What the file itself can vouch for: entries live in it are numbered
 * from the commit mark up, at most one per EH_JOURNAL_ENTRY_MIN bytes; and
 * skipping may checksum at most twice the file. */
static void walk_bound(struct walk *w, uint64_t mark, size_t len)
{
	w->seq_hi = (mark > 0 ? mark : 1) + len / EH_JOURNAL_ENTRY_MIN + 1;
	if (w->seq_hi > EH_JOURNAL_SEQ_MAX)
		w->seq_hi = EH_JOURNAL_SEQ_MAX;
	w->crc_budget = 2 * (uint64_t)len + (1u << 20);
}

/* Walk a region from its start: entries follow each other with
 * consecutive numbers; one numbered lower than the last is a leftover of
 * an earlier use (it ends the run); bytes that do not verify are skipped up
 * to the next intact entry (counted when it is live), and when there is
 * none they were a torn tail.
 * Stale bytes past a run's end are old payloads, which a publisher chose:
 * an entry found by skipping must carry a number the skipped bytes can
 * account for (each entry takes at least EH_JOURNAL_ENTRY_MIN bytes), or,
 * before the run's first entry, a live number (commit mark .. what the
 * file can hold). So a planted entry cannot push the numbering out of the
 * file's range, and the checksums spent on skipping are bounded by twice
 * the file's size. */
static void walk_region(struct walk *w, struct run *run)
{
	size_t pos = run->start;
	uint64_t prev = 0;
	struct ent e;

	while (!w->halt && run->stop - pos >= EHDR) {
		if (!entry_at(w->b, pos, run->stop, &e)) {
			size_t p = pos + 8;
			bool found = false;
			while (run->stop - p >= EHDR && run->stop > p) {
				/* After an entry: numbers the skipped bytes can hold;
				 * at the region's start: live numbers only. */
				uint64_t lo = prev ? prev + 2 : (w->low ? w->low : 1);
				uint64_t hi =
				    prev ? prev + 1 + (p - pos) / EH_JOURNAL_ENTRY_MIN : w->seq_hi;
				if (hi > w->seq_hi)
					hi = w->seq_hi;
				if (entry_at_in(w->b, p, run->stop, &e, lo, hi)) {
					found = true;
					break;
				}
				/* A candidate that reached its checksum and failed
				 * spent it: stop when the budget is gone. */
				if (e.checked > w->crc_budget)
					return;
				w->crc_budget -= e.checked;
				p += 8;
			}
			if (!found)
				return;
			if (w->fn == NULL && e.seq >= w->low)
				w->r->skipped++;
			pos = p;
			continue;
		}
		if (e.seq <= prev || e.seq > w->seq_hi)
			return;
		if (e.seq >= w->low) {
			if (run->first == 0)
				run->first = e.seq;
			run->last = e.seq;
			run->end = pos + e.size - run->start;
			if (w->fn != NULL && e.seq >= w->from && e.seq < w->to && !emit(w, &e))
				return;
		}
		prev = e.seq;
		pos += e.size;
	}
}

/* The previous format (one version back): host-endian lengths, FNV-1a 64
 * over them and the data, entries one after the other. Replayed, never
 * written; entries are numbered from 1 in file order. */
static int v1_entry(const uint8_t *b, size_t off, size_t len, struct ent *e)
{
	uint32_t magic, tl, hl, pl;
	uint64_t want, h;

	if (len - off < V1_HDR)
		return -1; /* torn */
	memcpy(&magic, b + off, 4);
	if (magic != V1_MAGIC)
		return -2; /* damaged */
	memcpy(&tl, b + off + 4, 4);
	memcpy(&hl, b + off + 8, 4);
	memcpy(&pl, b + off + 12, 4);
	memcpy(&want, b + off + 16, 8);
	uint64_t n = (uint64_t)tl + hl + pl; /* 64 bits: three 32-bit fields never wrap */
	if (n > len - off - V1_HDR)
		return -1;
	h = eh_fnv1a64(EH_FNV1A64_SEED, b + off + 4, 12);
	h = eh_fnv1a64(h, b + off + V1_HDR, (size_t)n);
	if (h != want)
		return -2;
	e->size = V1_HDR + (size_t)n;
	e->tl = tl;
	e->hl = hl;
	e->pl = pl;
	e->data = b + off + V1_HDR;
	if (tl == 0 || tl > EH_MQTT_TOPIC_MAX || hl > EH_JOURNAL_HMAC_MAX || pl > EH_MAX_MSG_BYTES)
		return 1; /* intact, over the bound */
	return 0;
}

static void replay_v1(const uint8_t *b, size_t len, struct walk *w)
{
	size_t off = 0;
	uint64_t n = 0;
	struct ent e;

	w->r->version = 1;
	while (!w->halt && off < len) {
		int st = v1_entry(b, off, len, &e);
		if (st < 0) {
			size_t p;
			int s2 = -1;
			for (p = off + 1; p < len && len - p >= V1_HDR; p++)
				if ((s2 = v1_entry(b, p, len, &e)) >= 0)
					break;
			if (s2 < 0)
				break; /* a torn tail, or nothing intact after the damage */
			w->r->skipped++;
			off = p;
			continue;
		}
		if (st == 0) {
			e.seq = ++n;
			if (e.seq >= w->from && e.seq < w->to && !emit(w, &e))
				break;
		} else
			w->r->skipped++;
		off += e.size;
	}
	w->r->end = n + 1;
}

eh_err eh_journal_replay_buf(const uint8_t *buf, size_t len, uint64_t from, uint64_t to,
			     eh_journal_fn fn, void *ctx, struct eh_journal_replay *r)
{
	struct walk w = {.b = buf, .from = from, .to = to, .ctx = ctx, .r = r};
	struct run runs[3];
	unsigned order[3] = {0, 1, 2}, i, k;
	uint32_t area;

	memset(r, 0, sizeof(*r));
	r->next = from;
	r->end = 1;
	if (len == 0)
		return EH_OK;
	if (len >= 4 && eh_le_get32(buf) == V1_MAGIC) {
		w.fn = fn;
		replay_v1(buf, len, &w);
		return EH_OK;
	}
	r->version = F_VERSION;
	if (len < HDR || eh_le_get32(buf) != F_MAGIC || eh_le_get16(buf + 4) != F_VERSION ||
	    eh_le_get16(buf + 6) != HDR || eh_crc32c(0, buf, 12) != eh_le_get32(buf + 12))
		return EH_ERR_CORRUPT;
	area = eh_le_get32(buf + 8);
	if (area == 0 || area % 16 != 0 || area > len - HDR)
		return EH_ERR_CORRUPT;
	w.low = eh_le_get64(buf + MARK_OFF);
	walk_bound(&w, w.low, len);
	memset(runs, 0, sizeof(runs));
	runs[0].start = HDR;
	runs[0].stop = runs[1].start = HDR + area / 2;
	runs[1].stop = runs[2].start = HDR + area;
	runs[2].stop = len;
	for (i = 0; i < 3; i++)
		walk_region(&w, &runs[i]);
	/* Regions hold disjoint ranges of numbers: the oldest first. */
	for (i = 1; i < 3; i++)
		for (k = i; k > 0 && runs[order[k]].first != 0 &&
			    (runs[order[k - 1]].first == 0 ||
			     runs[order[k]].first < runs[order[k - 1]].first);
		     k--) {
			unsigned t = order[k];
			order[k] = order[k - 1];
			order[k - 1] = t;
		}
	r->end = w.low > 0 ? w.low : 1;
	for (i = 0; i < 3; i++)
		if (runs[i].last + 1 > r->end)
			r->end = runs[i].last + 1;
	if (fn == NULL)
		return EH_OK;
	w.fn = fn;
	walk_bound(&w, w.low, len);
	for (i = 0; i < 3 && !w.halt; i++) {
		struct run again = runs[order[i]];
		if (again.first == 0)
			continue;
		again.first = again.last = 0;
		walk_region(&w, &again);
	}
	return EH_OK;
}

eh_err eh_journal_replay_file(const char *path, uint64_t from, uint64_t to, eh_journal_fn fn,
			      void *ctx, struct eh_journal_replay *r)
{
	int fd;
	uint64_t size = 0;
	void *p = NULL;
	eh_err rc = eh_file_open_ro(path, &fd);

	memset(r, 0, sizeof(*r));
	r->next = from;
	r->end = 1;
	if (rc == EH_ERR_NOENT)
		return EH_OK;
	if (rc != EH_OK)
		return rc;
	if ((rc = eh_file_size(fd, &size)) == EH_OK && size > 0) {
		if (size > SIZE_MAX)
			rc = EH_ERR_TOOBIG;
		else if ((rc = eh_file_map(fd, (size_t)size, 0, &p)) == EH_OK) {
			rc = eh_journal_replay_buf(p, (size_t)size, from, to, fn, ctx, r);
			eh_file_unmap(p, (size_t)size);
		}
	}
	eh_file_close(fd);
	return rc;
}

/* ==== Writing ==== */

static void store_mark(struct eh_journal *j, uint64_t v)
{
	uint64_t le = 0;
	eh_le_put64((uint8_t *)&le, v);
	/* One aligned store: a kill never leaves half a mark. */
	__atomic_store_n((uint64_t *)(void *)(j->map + MARK_OFF), le, __ATOMIC_RELEASE);
}

static uint64_t reclaim_below(const struct eh_journal *j)
{
	return j->kept ? j->kept_from : j->committed;
}

static void header_of(uint8_t *h, uint32_t area, uint64_t mark)
{
	memset(h, 0, HDR);
	eh_le_put32(h, F_MAGIC);
	eh_le_put16(h + 4, F_VERSION);
	eh_le_put16(h + 6, HDR);
	eh_le_put32(h + 8, area);
	eh_le_put32(h + 12, eh_crc32c(0, h, 12));
	eh_le_put64(h + MARK_OFF, mark);
}

static void fill_hdr(uint8_t *p, uint64_t seq, size_t tl, size_t hl, size_t pl)
{
	eh_le_put32(p, E_MAGIC);
	eh_le_put64(p + 8, seq);
	eh_le_put32(p + 16, (uint32_t)pl);
	eh_le_put16(p + 20, (uint16_t)tl);
	p[22] = (uint8_t)hl;
	p[23] = 0;
}

/* Write an entry into half h at its end (caller holds mu, checked room). */
static void put_mapped(struct eh_journal *j, unsigned h, const char *topic, size_t tl,
		       const char *hmac, size_t hl, const void *payload, size_t pl, size_t size)
{
	uint8_t *p = j->map + HDR + (size_t)h * j->half + j->end[h];

	memcpy(p + EHDR, topic, tl);
	if (hl)
		memcpy(p + EHDR + tl, hmac, hl);
	if (pl)
		memcpy(p + EHDR + tl + hl, payload, pl);
	memset(p + EHDR + tl + hl + pl, 0, size - (EHDR + tl + hl + pl));
	fill_hdr(p, j->seq, tl, hl, pl);
	eh_le_put32(p + 4, eh_crc32c(0, p + 8, EHDR - 8 + tl + hl + pl));
	j->end[h] += (uint32_t)size;
	j->last[h] = j->seq;
}

static eh_err put_spill(struct eh_journal *j, const char *topic, size_t tl, const char *hmac,
			size_t hl, const void *payload, size_t pl, size_t size)
{
	static const uint8_t zeros[8];
	uint8_t h[EHDR];
	uint32_t crc;

	fill_hdr(h, j->seq, tl, hl, pl);
	crc = eh_crc32c(0, h + 8, EHDR - 8);
	crc = eh_crc32c(crc, topic, tl);
	crc = eh_crc32c(crc, hmac ? hmac : "", hl);
	crc = eh_crc32c(crc, payload, pl);
	eh_le_put32(h + 4, crc);
	struct eh_file_iov v[5] = {{h, EHDR},
				   {topic, tl},
				   {hmac ? hmac : "", hl},
				   {payload, pl},
				   {zeros, size - (EHDR + tl + hl + pl)}};
	eh_err rc = eh_file_pwritev(j->fd, v, 5, j->map_len + j->spill_len);
	if (rc == EH_OK) {
		j->spill_len += size;
		j->last[SPILL] = j->seq;
	}
	return rc;
}

bool eh_journal_append(struct eh_journal *j, const char *topic, const char *hmac,
		       const void *payload, size_t len, uint64_t *seq)
{
	size_t tl = strlen(topic), hl = hmac ? strlen(hmac) : 0, size;
	bool ok = true;

	pthread_mutex_lock(&j->mu);
	if (!j->open || tl == 0 || tl > EH_MQTT_TOPIC_MAX || hl > EH_JOURNAL_HMAC_MAX ||
	    len > EH_MAX_MSG_BYTES) {
		j->st.refused++;
		pthread_mutex_unlock(&j->mu);
		return false;
	}
	size = align8(EHDR + tl + hl + len);
	uint64_t below = reclaim_below(j);
	bool spill_free = j->last[SPILL] == 0 || j->last[SPILL] < below;
	if (j->cur != SPILL && j->end[j->cur] + size <= j->half) {
		put_mapped(j, j->cur, topic, tl, hmac, hl, payload, len, size);
		goto out;
	}
	if (j->spill_len > 0 && spill_free && !j->kept &&
	    eh_file_truncate(j->fd, j->map_len) == EH_OK) {
		j->spill_len = 0;
		j->last[SPILL] = 0;
	}
	if (j->spill_len == 0) {
		/* A half whose entries are all done and committed is taken again. */
		for (unsigned k = j->cur == SPILL ? 0 : 1; k < 2; k++) {
			/* From the spill either half; from a half the other one. */
			unsigned h = j->cur == SPILL ? k : 1 - j->cur;
			if (j->last[h] != 0 && j->last[h] >= below)
				continue;
			j->cur = h;
			j->end[h] = 0;
			j->last[h] = 0;
			j->st.resets++;
			put_mapped(j, h, topic, tl, hmac, hl, payload, len, size);
			goto out;
		}
	}
	/* Neither half is free: written past the area, one system call. */
	eh_err rc = put_spill(j, topic, tl, hmac, hl, payload, len, size);
	if (rc != EH_OK) {
		j->st.refused++;
		ok = false;
		EH_LOG_WRN("journal", "%s: spill write failed: %s", j->cfg.path, eh_err_str(rc));
		goto done;
	}
	j->cur = SPILL;
	j->st.spilled++;
out:
	*seq = j->seq++;
	j->st.appended++;
done:
	pthread_mutex_unlock(&j->mu);
	return ok;
}

/* The loop thread's calls: `open` changes only in that thread, so it is
 * read before the lock (which does not exist before eh_journal_open). */

void eh_journal_done(struct eh_journal *j, uint64_t seq)
{
	if (!j->open)
		return;
	pthread_mutex_lock(&j->mu);
	if (seq >= j->low && seq - j->low < EH_JOURNAL_DONE_BITS) {
		j->done_bits[(seq / 64) % (EH_JOURNAL_DONE_BITS / 64)] |= 1ull << (seq % 64);
		for (;;) {
			uint64_t *w = &j->done_bits[(j->low / 64) % (EH_JOURNAL_DONE_BITS / 64)];
			uint64_t bit = 1ull << (j->low % 64);
			if (!(*w & bit))
				break;
			*w &= ~bit;
			j->low++;
		}
	}
	pthread_mutex_unlock(&j->mu);
}

void eh_journal_committed(struct eh_journal *j)
{
	if (!j->open)
		return;
	pthread_mutex_lock(&j->mu);
	j->committed = j->low;
	store_mark(j, reclaim_below(j));
	pthread_mutex_unlock(&j->mu);
}

bool eh_journal_has_kept(struct eh_journal *j)
{
	if (!j->open)
		return false;
	pthread_mutex_lock(&j->mu);
	bool k = j->kept;
	pthread_mutex_unlock(&j->mu);
	return k;
}

eh_err eh_journal_replay_kept(struct eh_journal *j, eh_journal_fn fn, void *ctx,
			      struct eh_journal_replay *r)
{
	uint64_t size = 0, from, to;
	void *p = NULL;
	eh_err rc;

	memset(r, 0, sizeof(*r));
	if (!j->open)
		return EH_OK;
	pthread_mutex_lock(&j->mu);
	from = j->kept_next;
	to = j->kept_to;
	bool kept = j->kept;
	pthread_mutex_unlock(&j->mu);
	if (!kept)
		return EH_OK;
	/* A mapping of the whole file (the spill too): the kept entries are
	 * never written while kept; bytes past them may be, and are not read
	 * past an entry that fails its CRC. */
	if ((rc = eh_file_size(j->fd, &size)) != EH_OK)
		return rc;
	if ((rc = eh_file_map(j->fd, (size_t)size, 0, &p)) != EH_OK)
		return rc;
	rc = eh_journal_replay_buf(p, (size_t)size, from, to, fn, ctx, r);
	eh_file_unmap(p, (size_t)size);
	if (rc == EH_OK) {
		pthread_mutex_lock(&j->mu);
		j->kept_next = r->stopped ? r->next : to;
		pthread_mutex_unlock(&j->mu);
	}
	return rc;
}

void eh_journal_kept_queued(struct eh_journal *j)
{
	if (!j->open)
		return;
	pthread_mutex_lock(&j->mu);
	if (j->kept) {
		j->kept = false;
		store_mark(j, reclaim_below(j));
	}
	pthread_mutex_unlock(&j->mu);
}

void eh_journal_get_stats(struct eh_journal *j, struct eh_journal_stats *out)
{
	if (!j->open) {
		*out = j->st;
		return;
	}
	pthread_mutex_lock(&j->mu);
	*out = j->st;
	pthread_mutex_unlock(&j->mu);
}

/* ==== Opening ==== */

struct copy {
	struct eh_journal *j;
	unsigned n;
};

static bool copy_kept(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		      const char *hmac)
{
	struct copy *c = ctx;
	uint64_t seq;
	if (eh_journal_append(c->j, topic, hmac, payload, len, &seq))
		c->n++;
	return true;
}

/* Start the writer on a fresh file at path.tmp, copy the kept entries of
 * the old file (mapped at old, old_len bytes) into it, rename it over
 * path. */
static eh_err rebuild(struct eh_journal *j, const uint8_t *old, size_t old_len, uint64_t keep_from)
{
	char tmp[4096 + 8];
	uint8_t h[HDR];
	void *p = NULL;
	int fd = -1;
	eh_err rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", j->cfg.path) >= sizeof(tmp))
		return EH_ERR_TOOBIG;
	(void)eh_file_remove(tmp);
	if ((rc = eh_file_open_rw(tmp, 1, &fd)) != EH_OK)
		return rc;
	header_of(h, (uint32_t)(j->map_len - HDR), 1);
	if ((rc = eh_file_allocate(fd, j->map_len)) != EH_OK ||
	    (rc = eh_file_pwrite(fd, h, HDR, 0)) != EH_OK ||
	    (rc = eh_file_map(fd, j->map_len, 1, &p)) != EH_OK)
		goto fail;
	j->fd = fd;
	j->map = p;
	j->seq = 1;
	j->low = j->committed = 1;
	j->open = true;
	if (keep_from != 0 && old_len > 0) {
		struct copy c = {j, 0};
		struct eh_journal_replay r;
		if ((rc = eh_journal_replay_buf(old, old_len, keep_from, UINT64_MAX, copy_kept, &c,
						&r)) != EH_OK)
			goto fail;
		if (c.n > 0) {
			j->kept = true;
			j->kept_from = j->kept_next = 1;
			j->kept_to = j->seq;
			j->low = j->committed = j->seq;
		}
		j->st.appended = 0;
	}
	store_mark(j, reclaim_below(j));
	/* The header and the kept entries reach the device before the name
	 * does: a power cut must not leave a renamed file of zeros, which
	 * every later start would refuse. */
	if ((rc = eh_file_datasync(fd)) != EH_OK ||
	    (rc = eh_file_rename(tmp, j->cfg.path)) != EH_OK)
		goto fail;
	return EH_OK;
fail:
	j->open = false;
	j->map = NULL;
	eh_file_unmap(p, j->map_len);
	eh_file_close(fd);
	j->fd = -1;
	(void)eh_file_remove(tmp);
	return rc;
}

/* The writer on an existing file of the right format and size: numbering
 * goes on past every entry in it; the kept entries stay where they are. */
static eh_err resume(struct eh_journal *j, uint64_t size, uint64_t keep_from)
{
	struct eh_journal_replay r;
	struct walk w;
	struct run runs[3];
	void *p = NULL;
	eh_err rc;

	if ((rc = eh_file_map(j->fd, (size_t)size, 1, &p)) != EH_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	memset(runs, 0, sizeof(runs));
	w.b = p;
	w.r = &r;
	w.low = keep_from ? keep_from : 1;
	w.to = UINT64_MAX;
	walk_bound(&w, eh_le_get64((const uint8_t *)p + MARK_OFF), (size_t)size);
	runs[0].start = HDR;
	runs[0].stop = runs[1].start = HDR + j->half;
	runs[1].stop = runs[2].start = j->map_len;
	runs[2].stop = (size_t)size;
	for (unsigned i = 0; i < 3; i++)
		walk_region(&w, &runs[i]);
	uint64_t mark = eh_le_get64((const uint8_t *)p + MARK_OFF), top = mark;
	for (unsigned i = 0; i < 3; i++)
		if (runs[i].last + 1 > top)
			top = runs[i].last + 1;
	if (top == 0)
		top = 1;
	eh_file_unmap(p, (size_t)size);
	if ((rc = eh_file_map(j->fd, j->map_len, 1, &p)) != EH_OK)
		return rc;
	j->map = p;
	j->seq = j->low = j->committed = top;
	j->spill_len = size - j->map_len;
	j->cur = 0;
	if (keep_from != 0 && top > keep_from) {
		j->kept = true;
		j->kept_from = j->kept_next = keep_from;
		j->kept_to = top;
		for (unsigned i = 0; i < 3; i++) {
			j->last[i] = runs[i].last;
			if (i < 2)
				j->end[i] = (uint32_t)runs[i].end;
			if (runs[i].last > j->last[j->cur])
				j->cur = i;
		}
	} else if (j->spill_len > 0) {
		if ((rc = eh_file_truncate(j->fd, j->map_len)) != EH_OK)
			return rc;
		j->spill_len = 0;
	}
	j->open = true;
	store_mark(j, reclaim_below(j));
	return EH_OK;
}

eh_err eh_journal_open(struct eh_journal *j, const struct eh_journal_config *cfg,
		       uint64_t keep_from)
{
	uint64_t area = cfg->area_bytes, size = 0;
	uint8_t h[HDR];
	void *old = NULL;
	eh_err rc;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if (cfg->path == NULL)
		return EH_ERR_INVAL;
	j->cfg = *cfg;
	if (area < EH_JOURNAL_AREA_MIN)
		area = EH_JOURNAL_AREA_MIN;
	area = (area + 8191u) & ~(uint64_t)8191u; /* two halves of whole pages */
	if (area > UINT32_MAX / 2)
		return EH_ERR_INVAL;
	j->half = (uint32_t)(area / 2);
	j->map_len = HDR + (size_t)area;
	pthread_mutex_init(&j->mu, NULL);
	rc = eh_file_open_rw(cfg->path, 1, &j->fd);
	if (rc == EH_OK)
		rc = eh_file_size(j->fd, &size);
	if (rc != EH_OK)
		goto fail;
	memset(h, 0, sizeof(h));
	if (size >= HDR && (rc = eh_file_pread(j->fd, h, HDR, 0, NULL)) != EH_OK)
		goto fail;
	if (size >= j->map_len && eh_le_get32(h) == F_MAGIC && eh_le_get16(h + 4) == F_VERSION &&
	    eh_le_get16(h + 6) == HDR && eh_le_get32(h + 8) == area &&
	    eh_crc32c(0, h, 12) == eh_le_get32(h + 12)) {
		if ((rc = resume(j, size, keep_from)) != EH_OK)
			goto fail;
		return EH_OK;
	}
	/* No journal, the previous format, or another size: a new file, with
	 * the kept entries copied in. */
	int ofd = j->fd;
	j->fd = -1;
	if (keep_from != 0 && size > 0 && (rc = eh_file_map(ofd, (size_t)size, 0, &old)) != EH_OK) {
		eh_file_close(ofd);
		goto fail;
	}
	rc = rebuild(j, old, old ? (size_t)size : 0, keep_from);
	eh_file_unmap(old, (size_t)size);
	eh_file_close(ofd);
	if (rc != EH_OK)
		goto fail;
	return EH_OK;
fail:
	EH_LOG_ERR("journal", "%s: %s", cfg->path, eh_err_str(rc));
	eh_file_close(j->fd);
	j->fd = -1;
	pthread_mutex_destroy(&j->mu);
	return rc;
}

void eh_journal_close(struct eh_journal *j)
{
	if (!j->open)
		return;
	pthread_mutex_lock(&j->mu);
	j->open = false;
	eh_file_unmap(j->map, j->map_len);
	j->map = NULL;
	eh_file_close(j->fd);
	j->fd = -1;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_destroy(&j->mu);
}
