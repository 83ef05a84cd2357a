/* SPDX-License-Identifier: Apache-2.0 */
/* eh_journal.h - the inbound journal (<queue>.journal): every MQTT message
 * the library acknowledged before the daemon took it, kept against a
 * kill -9 until the queue holds it durably (docs/DURABILITY.md). The
 * on-file format is docs/JOURNAL.md.
 *
 * The file is created at a fixed size and mapped (MAP_SHARED): an append
 * is a memcpy and a CRC-32C, no system call. The area is two halves used
 * in turn; a half is written again only when every entry in it is done
 * and covered by a queue commit. When neither half is free the entry is
 * written with pwrite past the mapped area (a spill, counted): the message
 * is as safe as in the mapping, at one system call.
 *
 * Threads and locking: eh_journal_append runs in the MQTT library's
 * thread, every other call in the loop thread. One mutex in struct
 * eh_journal guards all of its state; each call takes it for its whole
 * length (an append holds it across its copy), and no call runs a
 * callback while holding it. The replay functions take no lock: the start
 * replay runs before eh_journal_open, and eh_journal_replay_kept reads only
 * entries that are never written while they are kept. */
#ifndef EH_JOURNAL_H
#define EH_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"

#define EH_JOURNAL_FILE_HDR 32 /* magic, version, area size, CRC, commit mark */
#define EH_JOURNAL_ENTRY_HDR 24
#define EH_JOURNAL_HMAC_MAX 128 /* "hmac-sha256" property value, without NUL */
/* The one bound shared by the writer and the replay: a header, the topic,
 * the property and the payload, each at its limit, padded to 8 bytes. A
 * message over it is never written (the app refuses it as oversize);
 * replay treats a length over it as damage. */
#define EH_JOURNAL_ENTRY_DATA_MAX (EH_MQTT_TOPIC_MAX + EH_JOURNAL_HMAC_MAX + EH_MAX_MSG_BYTES)
#define EH_JOURNAL_ENTRY_MAX ((EH_JOURNAL_ENTRY_HDR + EH_JOURNAL_ENTRY_DATA_MAX + 7u) & ~(size_t)7u)
/* The smallest area: two halves that each hold the largest entry. */
#define EH_JOURNAL_AREA_MIN (2u * ((EH_JOURNAL_ENTRY_MAX + 4095u) & ~(size_t)4095u))
/* Entry numbers stay below this (2^48: 8,900 years at a million a second):
 * a larger one is not an entry. */
#define EH_JOURNAL_SEQ_MAX (1ull << 48)
/* The smallest entry: header, a 1-byte topic, padded. */
#define EH_JOURNAL_ENTRY_MIN ((EH_JOURNAL_ENTRY_HDR + 1u + 7u) & ~7u)
#define EH_JOURNAL_DONE_BITS 256 /* entries appended and not yet done, at most */

/* Caller fills; zero means default. */
struct eh_journal_config {
	const char *path;    /* borrowed until eh_journal_close */
	uint32_t area_bytes; /* the mapped ring [EH_JOURNAL_AREA_MIN]; raised to it */
};

struct eh_journal_stats {
	uint64_t appended; /* entries written, spills included */
	uint64_t spilled;  /* written with pwrite past the area: no free half */
	uint64_t refused;  /* not written: over the bound, or a spill failed */
	uint64_t resets;   /* halves taken again once their entries were committed */
};

/* One journalled message, oldest first. hmac is NULL when absent. false:
 * not taken (no room); the replay stops at it. */
typedef bool (*eh_journal_fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len,
			      const char *hmac);

struct eh_journal_replay {
	unsigned replayed; /* entries fn took */
	unsigned skipped;  /* damaged entries passed over (a torn tail is not counted) */
	bool stopped;	   /* fn did not take the entry numbered `next` */
	uint64_t next;	   /* the entry to go on from (its number) */
	uint64_t end;	   /* one past the newest whole entry's number */
	int version;	   /* the file's format: 2, 1 (previous), 0 (no journal) */
};

/* Hand every whole, intact entry numbered in [from, to) of the journal
 * image buf (len bytes: a file's contents) to fn, oldest first. Entries
 * before the file's commit mark are not handed over. A damaged entry is
 * skipped and counted, and replay goes on at the next intact one; a torn
 * tail ends it. Reads only within buf; any bytes are safe. EH_OK for an
 * empty image; EH_ERR_CORRUPT when the file header is neither format. */
eh_err eh_journal_replay_buf(const uint8_t *buf, size_t len, uint64_t from, uint64_t to,
			     eh_journal_fn fn, void *ctx, struct eh_journal_replay *r);

/* The same for the file at path (mapped read only). EH_OK, version 0, when
 * there is none; EH_ERR_CORRUPT or an I/O error when it cannot be read:
 * the caller must leave it as it is. */
eh_err eh_journal_replay_file(const char *path, uint64_t from, uint64_t to, eh_journal_fn fn,
			      void *ctx, struct eh_journal_replay *r);

struct eh_journal {
	/* internal */
	pthread_mutex_t mu;
	struct eh_journal_config cfg;
	int fd;
	uint8_t *map; /* file header + area */
	size_t map_len;
	uint32_t half;	    /* bytes per half */
	unsigned cur;	    /* 0, 1: a half; 2: the spill */
	uint32_t end[2];    /* bytes written in each half */
	uint64_t last[3];   /* newest entry number in each half and the spill; 0 none */
	uint64_t spill_len; /* bytes past the area */
	uint64_t seq;	    /* the next entry's number (from 1) */
	uint64_t low;	    /* every entry below is done */
	uint64_t done_bits[EH_JOURNAL_DONE_BITS / 64]; /* done, from low on */
	uint64_t committed;			       /* every entry below is durably queued */
	uint64_t kept_from, kept_to, kept_next;	       /* entries kept at open for the app */
	bool kept;				       /* they are not all queued yet */
	bool open;
	struct eh_journal_stats st;
};

/* Open the journal for appending, after its replay at start. Entries
 * numbered keep_from and later (0: none) stay for the app (no room at
 * start), replayed by eh_journal_replay_kept and never overwritten until
 * eh_journal_kept_queued; every other entry is taken as committed. A file
 * of another format or size is rebuilt (the kept entries copied) through
 * path.tmp. EH_ERR_CORRUPT, EH_ERR_NOSPC or an I/O error: not opened. */
eh_err eh_journal_open(struct eh_journal *j, const struct eh_journal_config *cfg,
		       uint64_t keep_from);

/* Library thread: write one entry. true and *seq (its number, for
 * eh_journal_done) when it is in the journal; false when it is over the
 * bound (the app refuses it anyway) or a spill failed (logged, counted). */
bool eh_journal_append(struct eh_journal *j, const char *topic, const char *hmac,
		       const void *payload, size_t len, uint64_t *seq);

/* The message of entry seq is taken by the app (staged or refused). */
void eh_journal_done(struct eh_journal *j, uint64_t seq);

/* The queue durably holds every message done so far: their entries may
 * be overwritten, and a replay after a kill starts past them. */
void eh_journal_committed(struct eh_journal *j);

/* True while entries kept at open wait for room in the queue. */
bool eh_journal_has_kept(struct eh_journal *j);

/* Hand the kept entries not yet taken to fn, oldest first, from where the
 * last call stopped. r->stopped: fn did not take one (no room yet). */
eh_err eh_journal_replay_kept(struct eh_journal *j, eh_journal_fn fn, void *ctx,
			      struct eh_journal_replay *r);

/* Every kept entry is queued and committed: they may be overwritten. */
void eh_journal_kept_queued(struct eh_journal *j);

void eh_journal_get_stats(struct eh_journal *j, struct eh_journal_stats *out);

/* Unmap and close. Safe on a zeroed or closed j. */
void eh_journal_close(struct eh_journal *j);

#endif /* EH_JOURNAL_H */
