/* SPDX-License-Identifier: Apache-2.0 */
/* eh_queue.h - the persistent ring of accepted notifications on an
 * eh_flash device: one record per notification (type, webhook mask, bytes),
 * group commit, per-(slot, type) cursors kept in the same log, bounded
 * recovery, full policy. The on-flash format is specified in docs/QUEUE.md. */
#ifndef EH_QUEUE_H
#define EH_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_flash.h"
#include "eh_limits.h"
#include "eh_time.h"

#define EH_QUEUE_SLOTS 64 /* webhook slots: bit s of a record's mask */
#define EH_QUEUE_TYPES 3  /* enum eh_note_type: events, episodes, counters */
#ifndef EH_QUEUE_MAX_SEGS
#define EH_QUEUE_MAX_SEGS 1024 /* segments (flash blocks) a queue may have */
#endif
#ifndef EH_QUEUE_STAGE_BYTES
#define EH_QUEUE_STAGE_BYTES (2u * EH_MAX_MSG_BYTES) /* RAM for records staged before commit */
#endif
#define EH_QUEUE_STAGE_EXT 8	/* segments one commit may span */
#define EH_QUEUE_REC_HDR 40	/* bytes of a record header on flash */
#define EH_QUEUE_CURSOR_MS 1000 /* cursor-only commits wait at most this long */

enum eh_queue_full_policy {
	EH_QUEUE_DROP_OLDEST = 0, /* evict the oldest segment, count drops per slot */
	EH_QUEUE_BLOCK = 1,	  /* refuse appends with EH_ERR_NOSPC until acked */
};

/* Caller fills; zero means default; validated by eh_queue_open (EH_ERR_INVAL). */
struct eh_queue_config {
	struct eh_flash *flash;	     /* required; must outlive the queue */
	uint32_t commit_interval_ms; /* group-commit delay after the first staged record; 0 = 20 */
	enum eh_queue_full_policy full_policy;
	const struct eh_clock *clock; /* NULL = the system clock */
	uint64_t uid;		      /* id written at format (the caller draws it at random);
				       * required to format a blank device, else unused */
	bool read_only;		      /* inspect only: never format, never write */
	void *cache;		      /* optional RAM for the newest segment's bytes (see below);
				       * must outlive the queue; NULL = none */
	uint32_t cache_bytes;	      /* its size: the segment size keeps a whole segment */
};

/* A record returned by peek: a view into the caller's buffer. */
struct eh_queue_rec {
	uint64_t seq;		/* unique, increasing; with the uid it keys a batch */
	unsigned type;		/* 0..2 */
	const uint8_t *payload; /* into the buf given to eh_queue_peek */
	uint32_t len;
	uint64_t mask; /* webhook slots that wanted it */
};

struct eh_queue_stats {
	uint64_t capacity_bytes; /* payload+header bytes the ring can hold */
	uint64_t used_bytes;	 /* bytes in segments still holding pending records */
	uint64_t records;	 /* records between the oldest pending and the head */
	uint64_t head_seq;	 /* last seq assigned (0: none yet) */
	uint64_t tail_seq;	 /* oldest seq still in the ring */
	uint64_t durable_seq;
	uint64_t drops[EH_QUEUE_SLOTS]; /* records evicted by drop_oldest, per slot (persisted) */
	uint64_t corrupt_skipped;	/* records whose CRC failed (skipped, never returned) */
	uint64_t lost_detected;		/* seq gaps found where records should have been */
	uint64_t bad_headers;		/* segment headers found damaged at mount */
	uint64_t unclean_mounts;	/* 1 when this open followed a crash */
	uint64_t bytes_written;		/* bytes programmed to the device since open */
	uint64_t payload_bytes;		/* payload bytes appended since open */
	uint64_t syncs;			/* device syncs since open */
	uint64_t mount_bytes_read;	/* bytes read by eh_queue_open */
	uint64_t mount_bytes_bound;	/* the format's bound on that */
	uint64_t cache_hits;		/* reads served from the segment cache */
	uint64_t cache_loads;		/* device reads that filled it */
	uint32_t segments, segment_bytes;
};

/* Where a cursor's reader is in the ring (internal). */
struct eh_queue_pos {
	uint64_t seg_seq; /* the segment's seq when cached; 0 = invalid */
	uint64_t floor;	  /* next record's seq must be >= this */
	uint64_t cur;	  /* cursor value when cached */
	uint32_t seg, off;
};

struct eh_queue_seg {
	uint64_t seg_seq;   /* 0: never written or damaged */
	uint64_t first_seq; /* seq of the first record opened into it */
	uint64_t prev_last; /* last seq before it, when it was opened */
	bool live;	    /* between tail and head */
};

struct eh_queue_ext {
	uint32_t seg;	/* segment index */
	uint32_t off;	/* start in the segment (unit-aligned) */
	uint32_t buf;	/* start in the stage buffer (unit-aligned) */
	uint32_t len;	/* bytes used (records), before padding */
	bool opens;	/* starts a segment: header + cursor snapshot */
	bool reclaimed; /* reuses a live segment: cursors go durable first */
};

/* The segment cache (cfg.cache): the bytes the last commits wrote to the
 * newest segment, kept as written once the device sync succeeded, so peeks
 * of records just appended are memcpy, not device reads. A window of
 * cache_bytes (the newest bytes when the segment has more); a read it does
 * not cover loads up to 64 KiB of what the device holds there in one read
 * (walks load cache_bytes). Never holds bytes the device was not seen to
 * hold: filled after a successful sync or from a device read, cut back at
 * mount to the recovered end, dropped when its segment is reused or a write
 * or sync fails. A failed queue reads the device only. */
struct eh_queue_cache {
	uint8_t *buf;	  /* cfg.cache */
	uint32_t cap;	  /* cfg.cache_bytes */
	bool valid;	  /* holds [lo, hi) of segment seg */
	uint32_t seg;	  /* segment index */
	uint64_t seg_seq; /* that segment's seq when filled: a reused segment never matches */
	uint32_t lo, hi;  /* byte range held, hi - lo <= cap */
	uint32_t base;	  /* segment offset stored at buf[0]: byte x is at (x - base) % cap */
	uint32_t ahead;	  /* bytes a miss loads */
};

/* Caller allocates (static in main); eh_queue_open fills it. Large: it holds
 * the stage buffer. Fields below are internal. */
struct eh_queue {
	struct eh_flash *flash;
	struct eh_queue_config cfg;
	uint64_t uid;
	uint32_t unit, seg_bytes, nsegs; /* prog unit, segment size, segments */
	uint32_t salt;			 /* CRC seed derived from uid */
	bool failed;			 /* a write or sync failed: reopen needed */
	bool open;
	struct eh_queue_seg segs[EH_QUEUE_MAX_SEGS];
	uint32_t tail_seg, head_seg; /* head_seg == UINT32_MAX: empty ring */
	uint32_t head_off;	     /* durable end in the head segment (unit-aligned) */
	uint64_t next_seq;	     /* seq the next append gets */
	uint64_t durable_seq;
	uint64_t cur[EH_QUEUE_SLOTS][EH_QUEUE_TYPES]; /* last consumed seq */
	uint64_t drops[EH_QUEUE_SLOTS];
	bool cursors_dirty;
	uint64_t dirty_ms, stage_ms; /* when cursors / the first staged record changed */
	bool stage_timed;	     /* a record is staged: stage_ms is set */
	struct eh_queue_pos pos[EH_QUEUE_SLOTS][EH_QUEUE_TYPES];
	uint64_t lag[EH_QUEUE_SLOTS][EH_QUEUE_TYPES];
	bool lag_ok[EH_QUEUE_SLOTS][EH_QUEUE_TYPES];
	uint64_t peek_last[EH_QUEUE_SLOTS][EH_QUEUE_TYPES];
	uint32_t peek_n[EH_QUEUE_SLOTS][EH_QUEUE_TYPES];
	struct eh_queue_pos peek_end[EH_QUEUE_SLOTS][EH_QUEUE_TYPES]; /* after the last peeked */
	struct eh_queue_ext ext[EH_QUEUE_STAGE_EXT];
	uint32_t n_ext;
	uint32_t stage_used;
	uint64_t staged_last;  /* last seq in the stage */
	uint64_t last_seq;     /* last seq assigned to a record */
	uint64_t corrupt_seen; /* highest seq counted as corrupt */
	uint64_t lost_seen;    /* highest seg_seq checked for a gap */
	uint64_t max_seg_seq;  /* highest segment seq seen or written */
	uint64_t prog0, sync0; /* device counters at open */
	bool closing;	       /* the next cursor record carries the clean mark */
	struct eh_queue_stats st;
	struct eh_queue_cache cache;
	uint8_t io[4096]; /* scratch for headers */
	uint8_t stage[EH_QUEUE_STAGE_BYTES];
};

/* Mount the queue on cfg->flash: format a blank device with cfg->uid
 * (EH_ERR_INVAL when it is 0), else recover. Recovery reads at most two superblock units,
 * one unit per segment header and two segments, whatever the fill level;
 * damage found is counted in the stats. cfg is copied. EH_ERR_INVAL (bad
 * config or geometry), EH_ERR_CORRUPT (no valid superblock on a used
 * device, or a geometry that does not match it), EH_ERR_IO. */
eh_err eh_queue_open(struct eh_queue *q, const struct eh_queue_config *cfg);

/* Commit what is staged (records and cursors) with a clean-close mark, then
 * forget the device (the caller closes the flash). Safe on a closed queue. */
void eh_queue_close(struct eh_queue *q);

/* Stage one record: type 0..2, mask of webhook slots (non-zero), payload
 * bytes (copied). *seq (optional) gets its seq. Durable after the next
 * commit; peek returns it at once. May commit by itself when the stage is
 * full. EH_ERR_NOSPC: full under BLOCK (nothing staged; stop taking input).
 * Under DROP_OLDEST the oldest segment is evicted, its pending records
 * counted as drops for every slot that had not consumed them (persisted
 * before the segment is overwritten). EH_ERR_TOOBIG: larger than a segment
 * can ever hold. EH_ERR_INVAL: bad type or empty mask. EH_ERR_IO: the device
 * failed (the queue is then failed until reopened), or seqs reached 2^62
 * (only a crafted or damaged file gets there: move it aside). */
eh_err eh_queue_append(struct eh_queue *q, unsigned type, uint64_t mask, const void *payload,
		       size_t len, uint64_t *seq);

/* Group commit: write everything staged (records, dirty cursors) padded to
 * whole units, then one sync (two when an evicted segment's cursors must be
 * durable before it is overwritten). EH_ERR_IO on failure: nothing more is
 * written; reopen the queue (recovery). */
eh_err eh_queue_commit(struct eh_queue *q);

/* Highest seq known durable. */
uint64_t eh_queue_durable_seq(const struct eh_queue *q);

/* Whether a commit is due at now_ms (records staged for commit_interval_ms,
 * more than 64 KiB staged, or cursors dirty for EH_QUEUE_CURSOR_MS), and
 * when the next one will be (UINT64_MAX: nothing to commit). */
bool eh_queue_commit_due(const struct eh_queue *q, uint64_t now_ms);
uint64_t eh_queue_commit_deadline(const struct eh_queue *q);

/* The next pending records of `type` whose mask has `slot`, oldest first,
 * staged ones included: at most max_recs records and max_bytes of payload
 * (a first record larger than max_bytes comes alone), payloads copied into
 * buf. *n gets the count (0: nothing pending). Without an ack, the next peek
 * returns the same records. Records failing their CRC, and records longer
 * than buf_len (which this caller could never take), are skipped and counted
 * in corrupt_skipped, never returned: an ack past the records after them
 * moves the cursor past them too. Never r->len > buf_len. EH_ERR_INVAL for a
 * bad slot or type. */
eh_err eh_queue_peek(struct eh_queue *q, unsigned slot, unsigned type, struct eh_queue_rec *recs,
		     size_t max_recs, size_t max_bytes, void *buf, size_t buf_len, size_t *n);

/* Mark every record of (slot, type) up to upto_seq consumed. Persisted by
 * a later commit (cursors ride in the log: no block is rewritten per ack).
 * EH_ERR_INVAL when upto_seq is beyond the head. */
eh_err eh_queue_ack(struct eh_queue *q, unsigned slot, unsigned type, uint64_t upto_seq);

/* A slot was (re)assigned or deleted: its cursors jump to the head and its
 * drop count restarts, so nothing queued before is delivered to the new
 * occupant. Persisted with the next commit. */
eh_err eh_queue_slot_reset(struct eh_queue *q, unsigned slot);

/* Pending records for (slot, type), exact. Counted by appends and acks;
 * after open (or an eviction) the first call scans that cursor's backlog
 * once and caches the count in q (q is caller-owned and never const). */
uint64_t eh_queue_lag(const struct eh_queue *q, unsigned slot, unsigned type);

void eh_queue_stats(const struct eh_queue *q, struct eh_queue_stats *st);

/* The last consumed seq of cursor (slot, type); 0 when none. */
uint64_t eh_queue_cursor(const struct eh_queue *q, unsigned slot, unsigned type);

/* The random id chosen when the device was formatted. */
uint64_t eh_queue_uid(const struct eh_queue *q);

/* Walk every record of the ring, tail to head, for inspection tools:
 * fn gets each valid record (payload in buf, r->len <= buf_len) and returns
 * non-zero to stop. Corrupt records, and records longer than buf_len, are
 * counted in corrupt_skipped, not passed. */
typedef int (*eh_queue_walk_fn)(void *arg, const struct eh_queue_rec *r, uint32_t seg);
eh_err eh_queue_walk(struct eh_queue *q, eh_queue_walk_fn fn, void *arg, void *buf, size_t buf_len);
/* The same over the newest max_segs segments only (the daemon rebuilds its
 * redelivery filter from what was appended last before a restart). */
eh_err eh_queue_walk_recent(struct eh_queue *q, uint32_t max_segs, eh_queue_walk_fn fn, void *arg,
			    void *buf, size_t buf_len);

#endif /* EH_QUEUE_H */
