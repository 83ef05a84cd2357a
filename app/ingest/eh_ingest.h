/* SPDX-License-Identifier: Apache-2.0 */
/* eh_ingest.h - one input message to queued records: size bound, parse
 * (eh_note), match (a mask of webhook slots), the redelivery filter, and
 * one staged record per wanted notification. Under the `block` full policy
 * a message that does not fit waits in a FIFO with the ones behind it, and
 * input is paused until room appears. The queue, the filter table, the
 * delivery kick and the message source are reached through ops, so this
 * module is tested alone (tests/unit/test_eh_ingest.c). */
#ifndef EH_INGEST_H
#define EH_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"
#include "eh_note.h"
#include "eh_status.h"

#ifndef EH_INGEST_MAX_HELD
#define EH_INGEST_MAX_HELD 64 /* messages held under `block`: the source's window */
#endif
/* Redelivery filter: DEDUPE_SETS sets of DEDUPE_WAYS hashes (512 KiB), two
 * candidate sets per hash. Loaded with the 32,768 hashes of <queue>.seen it
 * keeps every one (test_eh_ingest); one set of 4 ways lost 4% of them, and
 * the broker's late redeliveries of those were queued again. */
#define EH_INGEST_DEDUPE_SETS 8192 /* power of 2 */
#define EH_INGEST_DEDUPE_WAYS 8

/* The type of a message whose elements each name their own in "webhook_type" (a body as
 * FindFace Security posts it to a webhook): eh_ingest_message only. */
#define EH_INGEST_BY_WEBHOOK_TYPE EH_TYPE_COUNT

/* The rest of the daemon as ingest sees it. All are called in the loop
 * thread, from inside eh_ingest_* calls. */
struct eh_ingest_ops {
	/* The slots of the webhooks that want n (0: none). */
	uint64_t (*match)(void *ctx, const struct eh_note *n);
	/* Stage one record (hash: its redelivery-filter hash, for a filter
	 * kept across restarts). EH_ERR_NOSPC: the queue is full under `block`
	 * (nothing staged); another error refuses the message. */
	eh_err (*append)(void *ctx, unsigned type, uint64_t mask, const uint8_t *raw, size_t len,
			 uint64_t hash);
	/* Records were staged for (slot, type). */
	void (*kick)(void *ctx, unsigned slot, unsigned type);
	/* An offered message is taken (staged, refused or unwanted): the source
	 * may let it go once the stage is durable. Also the cue to schedule the
	 * group commit. */
	void (*taken)(void *ctx, void *msg);
	/* Input must wait (true: the first message was held) or may flow again. */
	void (*pause)(void *ctx, bool pause);
};

struct eh_ingest {
	/* caller fills, through eh_ingest_init */
	const struct eh_ingest_ops *ops;
	void *ctx;
	/* internal */
	struct eh_status_ingest st; /* counters for P/status */
	struct eh_ingest_held {
		void *msg;		/* the source's handle, for taken() */
		const uint8_t *payload; /* valid until taken(msg) */
		size_t len;
		unsigned type;
		size_t from; /* next notification to stage */
	} held[EH_INGEST_MAX_HELD];
	unsigned held_head, held_n;
	size_t last_count; /* notifications in the last message eh_ingest_message took */
	/* Kept across inits (static storage starts zeroed): the sets written since the last
	 * init, the only ones init clears. The filter's pages cost RAM once hashes reach
	 * them, not before. */
	uint64_t dedupe_dirty[EH_INGEST_DEDUPE_SETS / 64];
	uint64_t dedupe[EH_INGEST_DEDUPE_SETS][EH_INGEST_DEDUPE_WAYS]; /* 0 = empty */
	uint8_t dedupe_next[EH_INGEST_DEDUPE_SETS];		       /* way replaced next */
	struct eh_note notes[EH_MAX_ARRAY_NOTES];		       /* parse scratch */
};

/* Cannot fail. ops and ctx are kept; g is zeroed except its scratch, and the redelivery
 * filter forgets every hash. g must be zeroed storage (static) the first time: the
 * filter is cleared only where it was written. */
void eh_ingest_init(struct eh_ingest *g, const struct eh_ingest_ops *ops, void *ctx);

/* Ingest one message of input type (or EH_INGEST_BY_WEBHOOK_TYPE: each element typed by
 * its own webhook_type, which must then be present) from notification *from on (0 for a
 * new message). EH_OK: every wanted notification staged (*from back to 0);
 * EH_ERR_NOSPC: the queue is full under `block`, notifications before
 * *from are staged, the rest is not (call again with the same *from once
 * there is room: nothing is staged twice); EH_ERR_PROTO / EH_ERR_TOOBIG:
 * refused whole before anything was staged, diag says why (with the
 * element's path); EH_ERR_IO: the queue failed. Does not call taken(). */
eh_err eh_ingest_message(struct eh_ingest *g, unsigned type, const uint8_t *payload, size_t len,
			 char *diag, size_t diag_cap, size_t *from);

/* How many notifications the last message that eh_ingest_message returned EH_OK for held
 * (staged, unwanted or already queued alike). */
size_t eh_ingest_last_count(const struct eh_ingest *g);

/* A message from a source that can wait (MQTT): ingested at once, or held
 * behind the others while the queue is full under `block` (pause(true) on
 * the first). taken(msg) is called exactly once, when it is staged or
 * refused (a refusal is logged); payload must stay valid until then. */
void eh_ingest_offer(struct eh_ingest *g, unsigned type, const uint8_t *payload, size_t len,
		     void *msg);

/* Room may have appeared: take the held messages in order while they fit
 * (pause(false) once all are taken). Call it from the loop, not from inside
 * another module's callback. */
void eh_ingest_retry(struct eh_ingest *g);

/* True while messages are held (a source that cannot wait should answer
 * "full" rather than overtake them). */
bool eh_ingest_holding(const struct eh_ingest *g);

/* A record already in the queue (rebuild of the redelivery filter at
 * start): the same type and bytes will not be staged again. */
void eh_ingest_remember(struct eh_ingest *g, unsigned type, const uint8_t *raw, size_t len);

/* The filter's hash of a notification of type with these bytes (the
 * append op's hash). */
uint64_t eh_ingest_hash(unsigned type, const uint8_t *raw, size_t len);

/* The same, from a hash kept across restarts (the append op's hash). */
void eh_ingest_remember_hash(struct eh_ingest *g, uint64_t hash);

#endif /* EH_INGEST_H */
