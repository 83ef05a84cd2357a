/* SPDX-License-Identifier: Apache-2.0 */
/* eh_seen.c - a ring file of (seq, hash) pairs, 16 bytes each, entry i at
 * offset 16 * i. The newest entry is the one with the highest seq; writing
 * goes on after it. Entries with seq 0 are empty. */
#include "eh_seen.h"

#include <string.h>

#include "eh_assert.h"
#include "eh_file.h"
#include "eh_log.h"
#include "eh_le.h"

#define ENTRY 16u
#define CHUNK 1024u /* entries read at once at open */

/* Entries [lo, hi) of the file: find the newest (hand == NULL) or hand
 * each hash to fn. */
static void scan(struct eh_seen *s, uint64_t lo, uint64_t hi, uint64_t *best, uint64_t *best_at,
		 void (*fn)(void *ctx, uint64_t hash), void *ctx)
{
	static uint8_t buf[CHUNK * ENTRY];

	for (uint64_t at = lo; at < hi; at += CHUNK) {
		size_t got = 0, n = hi - at < CHUNK ? (size_t)(hi - at) : CHUNK;
		eh_err rc = eh_file_pread(s->fd, buf, n * ENTRY, at * ENTRY, &got);
		if (rc != EH_OK && rc != EH_ERR_NOENT) /* NOENT: the end of a short file */
			return;
		for (size_t k = 0; k < got / ENTRY; k++) {
			uint64_t seq = eh_le_get64(buf + k * ENTRY),
				 h = eh_le_get64(buf + k * ENTRY + 8);
			if (seq == 0 || h == 0)
				continue;
			if (fn == NULL) {
				if (seq >= *best) {
					*best = seq;
					*best_at = at + k;
				}
			} else {
				fn(ctx, h);
			}
		}
		if (got < n * ENTRY)
			return; /* a short file: the rest is empty */
	}
}

eh_err eh_seen_open(struct eh_seen *s, const char *path, void (*fn)(void *ctx, uint64_t hash),
		    void *ctx)
{
	uint64_t best = 0, best_at = 0;
	eh_err rc;

	EH_ASSERT(s != NULL && path != NULL && fn != NULL);
	s->fd = -1;
	s->next = 0;
	s->npend = 0;
	s->dropped = 0;
	s->newest = 0;
	if ((rc = eh_file_open_rw(path, 1, &s->fd)) != EH_OK) {
		EH_LOG_WRN("ingest", "%s: %s; the redelivery filter starts empty", path,
			   eh_err_str(rc));
		s->fd = -1;
		return rc;
	}
	/* Find the newest entry, then hand them over oldest first (the newest
	 * go into the filter's sets last, so they are the ones kept). */
	scan(s, 0, EH_SEEN_ENTRIES, &best, &best_at, NULL, NULL);
	s->newest = best;
	if (best == 0)
		return EH_OK;
	scan(s, best_at + 1, EH_SEEN_ENTRIES, &best, &best_at, fn, ctx);
	scan(s, 0, best_at + 1, &best, &best_at, fn, ctx);
	s->next = (best_at + 1) % EH_SEEN_ENTRIES;
	return EH_OK;
}

void eh_seen_add(struct eh_seen *s, uint64_t seq, uint64_t hash)
{
	if (s->fd < 0)
		return;
	if (s->npend == EH_SEEN_PENDING) {
		/* Never written before it is durable (a hash remembered for a
		 * notification a crash lost would drop its redelivery): forget it
		 * instead, which can only cost a duplicate. */
		s->dropped++;
		return;
	}
	if (seq > s->newest)
		s->newest = seq;
	eh_le_put64(s->pend[s->npend], seq);
	eh_le_put64(s->pend[s->npend] + 8, hash);
	s->npend++;
}

void eh_seen_flush(struct eh_seen *s)
{
	uint32_t done = 0;

	if (s->fd < 0 || s->npend == 0)
		return;
	while (done < s->npend) {
		uint64_t room = EH_SEEN_ENTRIES - s->next;
		uint32_t n = s->npend - done;
		if (n > room)
			n = (uint32_t)room;
		if (eh_file_pwrite(s->fd, s->pend[done], (size_t)n * ENTRY, s->next * ENTRY) !=
		    EH_OK) {
			EH_LOG_WRN("ingest", "redelivery filter file not written; it may forget "
					     "these after a restart");
			break;
		}
		s->next = (s->next + n) % EH_SEEN_ENTRIES;
		done += n;
	}
	s->npend = 0;
}

uint64_t eh_seen_newest(const struct eh_seen *s)
{
	return s->newest;
}

void eh_seen_close(struct eh_seen *s)
{
	if (s->fd >= 0)
		eh_file_close(s->fd);
	s->fd = -1;
}
