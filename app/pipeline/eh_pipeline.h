/* SPDX-License-Identifier: Apache-2.0 */
/* eh_pipeline.h - the data path between the inputs and delivery, around an
 * open queue: ingest (app/ingest), the group commit (app/commit), the
 * redelivery filter's memory (app/seen) and the inbound journal
 * (app/journal). It holds the durability rule's glue (docs/DURABILITY.md):
 * a batch is handed to delivery only with durable records, an ack's cursor
 * is durable before the next batch, the journal learns what is durable only
 * from the commit's on-durable callback, journalled input is replayed at
 * start and again when room returns under `block`, and held input is
 * retried from the loop's tick. The rest of the daemon is reached through
 * ops and the MQTT client's seam (eh_mqtt.h), so the whole path runs in a
 * unit test on the flash emulator and the MQTT fake
 * (tests/unit/test_eh_pipeline.c). */
#ifndef EH_PIPELINE_H
#define EH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_commit.h"
#include "eh_delivery.h"
#include "eh_err.h"
#include "eh_ingest.h"
#include "eh_journal.h"
#include "eh_limits.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_note.h"
#include "eh_queue.h"
#include "eh_seen.h"
#include "eh_status.h"

/* The rest of the daemon as the pipeline sees it; all called in the loop
 * thread. */
struct eh_pipeline_ops {
	/* The slots of the webhooks that want n (0: none). */
	uint64_t (*match)(void *ctx, const struct eh_note *n);
	/* The input type of a journalled message's topic, or -1: not input
	 * (config and catalog topics are retained, so the broker sends them
	 * again; a journalled copy is skipped). */
	int (*input_type)(void *ctx, const char *topic);
	/* Records were staged for (slot, type): wake its delivery worker. */
	void (*kick)(void *ctx, unsigned slot, unsigned type);
	/* A record was staged (optional: for P/status). */
	void (*appended)(void *ctx, uint64_t seq);
	/* A batch was handed to delivery, oldest record seq (optional). */
	void (*peeked)(void *ctx, unsigned slot, unsigned type, uint64_t oldest_seq);
	/* The data path cannot go on: a commit failed (journal false), or the
	 * journal could not be read back (journal true). Nothing acknowledged
	 * is lost: the journal and the broker keep it. The owner stops. */
	void (*failed)(void *ctx, eh_err rc, bool journal);
};

/* Caller fills. Everything is borrowed for the pipeline's life. */
struct eh_pipeline_config {
	struct eh_loop *loop;	  /* the commit timer */
	struct eh_queue *queue;	  /* opened by the caller, closed by it after eh_pipeline_close */
	struct eh_mqtt *mqtt;	  /* done, pause, resume (need not be open yet) */
	const char *journal_path; /* "<queue>.journal" */
	const char *seen_path;	  /* "<queue>.seen" */
	uint32_t journal_area_bytes; /* 0: the journal's default */
	const struct eh_pipeline_ops *ops;
	void *ctx;
};

struct eh_pipeline {
	/* internal */
	struct eh_pipeline_config cfg;
	struct eh_commit commit;
	struct eh_ingest ingest;
	struct eh_seen seen;
	struct eh_journal journal;
	bool retry_held; /* room may have appeared: retry held input at the next tick */
	bool starting;	 /* in eh_pipeline_replay_at_start: failures are returned only */
	uint64_t seen_newest;
	struct eh_queue_rec recs[EH_MAX_BATCH];
	uint8_t peek_buf[EH_DELIVERY_PEEK_BYTES]; /* the batch handed to delivery */
	uint8_t rebuild_buf[EH_MAX_MSG_BYTES];	  /* one record, while the filter is rebuilt */
};

/* The delivery source (ctx: the pipeline): peek commits first when the
 * batch's records or a moved cursor are not durable yet; ack marks the
 * cursor for the next commit and asks the tick to retry held input. */
extern const struct eh_delivery_source_ops eh_pipeline_source_ops;

/* Start, with the queue open: the redelivery filter from <queue>.seen and
 * the newest records (as many segments as the journal file could cover,
 * plus two), the group commit. p must be zeroed storage (static) the first
 * time (app/ingest's filter). Cannot fail: a missing or damaged seen file
 * is an empty memory. */
void eh_pipeline_open(struct eh_pipeline *p, const struct eh_pipeline_config *cfg);

/* Before MQTT connects (and after the webhooks are known): replay the
 * journal into the queue, commit, open the journal for appending. What
 * finds no room under `block` stays in the journal, and *paused says MQTT
 * must start paused. EH_OK, or the error that leaves the journal as it is
 * (it cannot be read or opened, or the replay's commit failed): the start
 * stops. */
eh_err eh_pipeline_replay_at_start(struct eh_pipeline *p, bool *paused);

/* The MQTT client's journal hook (ctx: p): the library thread appends, the
 * loop thread says each message is taken. */
void eh_pipeline_journal_hook(struct eh_pipeline *p, struct eh_mqtt_journal_hook *h);
bool eh_pipeline_journal_append(void *p, const char *topic, const char *hmac, const void *payload,
				size_t len, uint64_t *seq);
void eh_pipeline_journal_done(void *p, uint64_t seq);

/* An MQTT message on input type: staged at once or held in order under
 * `block` (MQTT paused); eh_mqtt_done(m) once it is taken, and the group
 * commit is scheduled. */
void eh_pipeline_offer(struct eh_pipeline *p, unsigned type, const uint8_t *payload, size_t len,
		       struct eh_mqtt_msg *m);

/* A message from a source that cannot wait and answers only once it is
 * durable (CoAP, HTTP; type may be EH_INGEST_BY_WEBHOOK_TYPE): ingested and
 * committed at once. EH_ERR_NOSPC ("queue full") while input is held, or
 * when the queue is full under `block` half-way (the part that went in
 * stays, committed with the group commit: at least once); EH_ERR_PROTO or
 * EH_ERR_TOOBIG with diag; EH_ERR_IO when the commit failed. *accepted
 * (may be NULL): the notifications the message held. */
eh_err eh_pipeline_ingest_now(struct eh_pipeline *p, unsigned type, const uint8_t *payload,
			      size_t len, char *diag, size_t diag_cap, size_t *accepted);

/* Once per loop iteration (not while stopping): retry the journal's kept
 * messages, then held input, when an ack may have made room. */
void eh_pipeline_tick(struct eh_pipeline *p);

/* Commit now (a failure calls ops->failed). */
eh_err eh_pipeline_commit(struct eh_pipeline *p);

/* Something is staged or changed (a slot reset): commit with the group. */
void eh_pipeline_schedule(struct eh_pipeline *p);

/* True while input waits for room (held messages, or journalled ones). */
bool eh_pipeline_holding(struct eh_pipeline *p);

/* The ingest counters for P/status. */
const struct eh_status_ingest *eh_pipeline_ingest_stats(const struct eh_pipeline *p);

/* Stop, after the MQTT client is closed (what it handed over at close is
 * staged): commit, tell the seen file and the journal, close both. The
 * queue stays open for its owner to close. */
void eh_pipeline_close(struct eh_pipeline *p);

#endif /* EH_PIPELINE_H */
