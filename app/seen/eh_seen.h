/* SPDX-License-Identifier: Apache-2.0 */
/* eh_seen.h - the redelivery filter's memory across restarts: the hashes of
 * the last EH_SEEN_ENTRIES notifications staged, kept in a small ring file
 * beside the queue (<queue>.seen). The MQTT library may withhold a PUBACK
 * long after the message was staged, so the broker can send a message again
 * many restarts later, when its record has left the queue; this file still
 * knows it. Written with the group commit (one pwrite per commit, no sync:
 * a kill -9 loses nothing, a power cut at most what the queue loses). */
#ifndef EH_SEEN_H
#define EH_SEEN_H

#include <stdint.h>
#include <stddef.h>

#include "eh_err.h"

#ifndef EH_SEEN_ENTRIES
#define EH_SEEN_ENTRIES 32768u /* one entry per staged notification; 16 bytes each */
#endif
#define EH_SEEN_PENDING 4096u /* staged since the last commit, written with it */

struct eh_seen {
	/* internal */
	int fd;	       /* -1: no file (the filter forgets at restart) */
	uint64_t next; /* ring position of the next entry */
	uint32_t npend;
	uint64_t dropped; /* not remembered: more staged between two commits than pend holds */
	uint64_t newest;  /* highest seq in the file or added since */
	uint8_t pend[EH_SEEN_PENDING][16]; /* (seq, hash) little-endian, in order */
};

/* Open (creating) path and hand every entry's hash to fn, oldest first.
 * A missing, short or damaged file is an empty memory, never an error
 * that stops the daemon: EH_OK, or the open error (then s works without a
 * file). */
eh_err eh_seen_open(struct eh_seen *s, const char *path, void (*fn)(void *ctx, uint64_t hash),
		    void *ctx);

/* A notification was staged with this queue seq and filter hash: written
 * at the next flush, which the owner calls once the stage is durable. */
void eh_seen_add(struct eh_seen *s, uint64_t seq, uint64_t hash);

/* The stage is durable: write what was added since the last flush. Never
 * call it before (see eh_seen_add). */
void eh_seen_flush(struct eh_seen *s);

void eh_seen_close(struct eh_seen *s);

/* The highest seq the file holds or was given (0: none): records of the
 * queue above it were committed but not remembered (a kill between the
 * commit and the flush); the caller adds them at start. */
uint64_t eh_seen_newest(const struct eh_seen *s);

#endif /* EH_SEEN_H */
