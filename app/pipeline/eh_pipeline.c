/* SPDX-License-Identifier: Apache-2.0 */
/* eh_pipeline.c - the data path's glue around the queue: ingest's ops, the
 * group commit's callbacks, the delivery source, the journal's replay. The
 * durability rule it implements is docs/DURABILITY.md. */
#include "eh_pipeline.h"

#include <stdio.h>
#include <string.h>

#include "eh_file.h"
#include "eh_log.h"
#include "eh_types.h"

static void fail(struct eh_pipeline *p, eh_err rc, bool journal)
{
	if (!p->starting && p->cfg.ops->failed != NULL)
		p->cfg.ops->failed(p->cfg.ctx, rc, journal);
}

/* ==== The group commit's callbacks ==== */

/* Everything taken so far is durable: its hashes may be written and its
 * journal entries overwritten. Never before the commit returned. */
static void on_durable(void *ctx)
{
	struct eh_pipeline *p = ctx;
	eh_seen_flush(&p->seen); /* only hashes of durable notifications */
	eh_journal_committed(&p->journal);
}

static void on_commit_failed(void *ctx, eh_err rc)
{
	fail(ctx, rc, false);
}

/* ==== Ingest's ops ==== */

static uint64_t in_match(void *ctx, const struct eh_note *n)
{
	struct eh_pipeline *p = ctx;
	return p->cfg.ops->match(p->cfg.ctx, n);
}

static eh_err in_append(void *ctx, unsigned type, uint64_t mask, const uint8_t *raw, size_t len,
			uint64_t hash)
{
	struct eh_pipeline *p = ctx;
	uint64_t seq, durable = eh_queue_durable_seq(p->cfg.queue);
	eh_err rc = eh_queue_append(p->cfg.queue, type, mask, raw, len, &seq);
	/* A full stage commits inside append: what was staged before is
	 * durable now, so its hashes may be written (not this record's). */
	if (eh_queue_durable_seq(p->cfg.queue) != durable)
		eh_seen_flush(&p->seen);
	if (rc == EH_OK) {
		eh_seen_add(&p->seen, seq, hash);
		if (p->cfg.ops->appended != NULL)
			p->cfg.ops->appended(p->cfg.ctx, seq);
	}
	return rc;
}

static void in_kick(void *ctx, unsigned slot, unsigned type)
{
	struct eh_pipeline *p = ctx;
	if (p->cfg.ops->kick != NULL)
		p->cfg.ops->kick(p->cfg.ctx, slot, type);
}

/* Taken: staged in the queue, and already in the journal (written by the
 * MQTT backend before handing it over). */
static void in_taken(void *ctx, void *msg)
{
	struct eh_pipeline *p = ctx;
	eh_mqtt_done(p->cfg.mqtt, msg);
	eh_commit_schedule(&p->commit);
}

static void in_pause(void *ctx, bool pause)
{
	struct eh_pipeline *p = ctx;
	if (pause)
		eh_mqtt_pause(p->cfg.mqtt);
	else
		eh_mqtt_resume(p->cfg.mqtt);
}

static const struct eh_ingest_ops ingest_ops = {in_match, in_append, in_kick, in_taken, in_pause};

/* ==== The redelivery filter at start ==== */

static void seen_hash(void *ctx, uint64_t hash)
{
	struct eh_pipeline *p = ctx;
	eh_ingest_remember_hash(&p->ingest, hash);
}

static int rebuild_rec(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct eh_pipeline *p = arg;
	(void)seg;
	eh_ingest_remember(&p->ingest, r->type, r->payload, r->len);
	/* Committed, but the kill came before its hash was written. */
	if (r->seq > p->seen_newest)
		eh_seen_add(&p->seen, r->seq, eh_ingest_hash(r->type, r->payload, r->len));
	return 0;
}

void eh_pipeline_open(struct eh_pipeline *p, const struct eh_pipeline_config *cfg)
{
	struct eh_queue_stats qs;
	uint64_t jsize = 0;
	int jfd;

	p->cfg = *cfg;
	p->retry_held = false;
	p->starting = false;
	eh_queue_stats(p->cfg.queue, &qs);
	/* The redelivery filter forgets nothing the broker or the journal may
	 * hand over again: the newest records, as many segments as the journal
	 * could cover plus two (which hold far more than the MQTT window). */
	if (eh_file_open_ro(p->cfg.journal_path, &jfd) == EH_OK) {
		eh_file_size(jfd, &jsize);
		eh_file_close(jfd);
	}
	uint32_t segs = 2 + (uint32_t)(jsize / (qs.segment_bytes ? qs.segment_bytes : 1));
	eh_ingest_init(&p->ingest, &ingest_ops, p);
	eh_seen_open(&p->seen, p->cfg.seen_path, seen_hash, p);
	p->seen_newest = eh_seen_newest(&p->seen);
	eh_queue_walk_recent(p->cfg.queue, segs, rebuild_rec, p, p->rebuild_buf,
			     sizeof(p->rebuild_buf));
	eh_seen_flush(&p->seen); /* those records are on the device already */
	struct eh_commit_config gc = {p->cfg.loop, p->cfg.queue, on_durable, on_commit_failed, p};
	eh_commit_init(&p->commit, &gc);
}

/* ==== The inbound journal ==== */

bool eh_pipeline_journal_append(void *ctx, const char *topic, const char *hmac, const void *payload,
				size_t len, uint64_t *seq)
{
	struct eh_pipeline *p = ctx;
	return eh_journal_append(&p->journal, topic, hmac, payload, len, seq);
}

void eh_pipeline_journal_done(void *ctx, uint64_t seq)
{
	struct eh_pipeline *p = ctx;
	eh_journal_done(&p->journal, seq);
}

void eh_pipeline_journal_hook(struct eh_pipeline *p, struct eh_mqtt_journal_hook *h)
{
	h->append = eh_pipeline_journal_append;
	h->done = eh_pipeline_journal_done;
	h->ctx = p;
}

/* A message acknowledged by the library before the last stop and
 * journalled at once: it goes the normal way; the redelivery filter drops
 * what the queue already holds (a message cut half-way by a full queue is
 * taken again whole: its queued part is dropped as duplicates). false: no
 * room. */
static bool replay_one(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac)
{
	struct eh_pipeline *p = ctx;
	char diag[EH_ERRS_LEN];
	size_t from = 0;
	(void)hmac;
	int t = p->cfg.ops->input_type(p->cfg.ctx, topic);
	if (t < 0 || t >= EH_TYPE_COUNT)
		return true;
	eh_err rc =
	    eh_ingest_message(&p->ingest, (unsigned)t, payload, len, diag, sizeof(diag), &from);
	if (rc == EH_ERR_NOSPC)
		return false;
	if (rc != EH_OK)
		EH_LOG_WRN("ingest", "journalled %s message of %zu bytes refused: %s",
			   eh_type_name((unsigned)t), len, diag);
	return true;
}

/* Take what waits in the journal, in order. true: nothing waits (any
 * more); MQTT input is resumed. A read or commit failure stops the daemon
 * with the journal intact. */
static bool replay_backlog(struct eh_pipeline *p)
{
	struct eh_journal_replay r;

	if (!eh_journal_has_kept(&p->journal))
		return true;
	eh_err rc = eh_journal_replay_kept(&p->journal, replay_one, p, &r);
	if (rc != EH_OK) {
		EH_LOG_ERR("mqtt", "cannot read the journal %s: %s", p->cfg.journal_path,
			   eh_err_str(rc));
		fail(p, rc, true);
		return false;
	}
	if (r.stopped) {
		if (r.replayed)
			eh_commit_schedule(&p->commit);
		return false;
	}
	if (eh_commit_now(&p->commit) != EH_OK)
		return false; /* on_commit_failed reported it */
	eh_journal_kept_queued(&p->journal);
	eh_mqtt_resume(p->cfg.mqtt);
	EH_LOG_INF("queue", "room again: the journalled messages are queued, input resumed");
	return true;
}

static eh_err replay_at_start(struct eh_pipeline *p, bool *paused)
{
	struct eh_journal_replay r;
	struct eh_journal_config jc = {p->cfg.journal_path, p->cfg.journal_area_bytes};
	const char *path = p->cfg.journal_path;

	*paused = false;
	eh_err rc = eh_journal_replay_file(path, 0, UINT64_MAX, replay_one, p, &r);
	if (rc != EH_OK) {
		EH_LOG_ERR("mqtt", "cannot read the journal %s: %s: stopping, the journal is kept",
			   path, eh_err_str(rc));
		return rc;
	}
	if (r.replayed && (rc = eh_commit_now(&p->commit)) != EH_OK) {
		EH_LOG_ERR("queue",
			   "the %u journalled messages could not be committed: "
			   "stopping, the journal %s is kept",
			   r.replayed, path);
		return rc;
	}
	if (r.version == 1)
		EH_LOG_INF("mqtt", "%s is in the previous journal format: replayed, rewritten",
			   path);
	if (r.replayed || r.skipped)
		EH_LOG_INF("mqtt",
			   "%u journalled messages replayed from %s (%llu duplicates "
			   "of queued notifications skipped, %u damaged entries skipped)",
			   r.replayed, path, (unsigned long long)p->ingest.st.duplicates,
			   r.skipped);
	if ((rc = eh_journal_open(&p->journal, &jc, r.stopped ? r.next : 0)) != EH_OK) {
		EH_LOG_ERR("mqtt", "cannot open the journal %s: %s: stopping", path,
			   eh_err_str(rc));
		return rc;
	}
	if (!r.stopped)
		return EH_OK;
	*paused = eh_journal_has_kept(&p->journal);
	p->ingest.st.blocked++;
	EH_LOG_WRN("queue",
		   "full (block policy) at start: %llu journalled messages wait for room "
		   "in %s; input paused",
		   (unsigned long long)(r.end - r.next), path);
	return EH_OK;
}

eh_err eh_pipeline_replay_at_start(struct eh_pipeline *p, bool *paused)
{
	p->starting = true; /* a failure here is the start's: returned, not reported */
	eh_err rc = replay_at_start(p, paused);
	p->starting = false;
	return rc;
}

/* ==== Input ==== */

void eh_pipeline_offer(struct eh_pipeline *p, unsigned type, const uint8_t *payload, size_t len,
		       struct eh_mqtt_msg *m)
{
	eh_ingest_offer(&p->ingest, type, payload, len, m);
}

eh_err eh_pipeline_ingest_now(struct eh_pipeline *p, unsigned type, const uint8_t *payload,
			      size_t len, char *diag, size_t diag_cap, size_t *accepted)
{
	size_t from = 0;

	if (eh_ingest_holding(&p->ingest)) {
		snprintf(diag, diag_cap, "queue full");
		return EH_ERR_NOSPC; /* MQTT input waits too: first come, first in */
	}
	eh_err rc = eh_ingest_message(&p->ingest, type, payload, len, diag, diag_cap, &from);
	if (rc != EH_OK) {
		/* NOSPC half-way: what went in stays and is committed with the group
		 * commit; a retry finds it in the redelivery filter (no duplicate). */
		eh_commit_schedule(&p->commit);
		return rc;
	}
	if (eh_commit_now(&p->commit) != EH_OK)
		return EH_ERR_IO;
	if (accepted != NULL)
		*accepted = eh_ingest_last_count(&p->ingest);
	return EH_OK;
}

void eh_pipeline_tick(struct eh_pipeline *p)
{
	if (!p->retry_held)
		return;
	p->retry_held = false;
	if (replay_backlog(p)) /* journalled messages go first */
		eh_ingest_retry(&p->ingest);
}

/* ==== Delivery's source ==== */

static eh_err src_peek(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		       size_t max_items, size_t *n)
{
	struct eh_pipeline *p = ctx;
	struct eh_queue *q = p->cfg.queue;

	if (max_items > EH_MAX_BATCH)
		max_items = EH_MAX_BATCH;
	eh_err rc = eh_queue_peek(q, slot, type, p->recs, max_items, sizeof(p->peek_buf),
				  p->peek_buf, sizeof(p->peek_buf), n);
	if (rc != EH_OK)
		return rc;
	/* A batch goes out only with durable records: after a crash it is
	 * re-formed from the same seqs, so under the same key. When the group
	 * commit has not run yet, it runs now (latency over fsync count). */
	if (*n > 0 &&
	    (eh_commit_cursor_dirty(&p->commit) || p->recs[*n - 1].seq > eh_queue_durable_seq(q))) {
		(void)eh_commit_now(&p->commit); /* a failure is reported: the owner stops */
		if (p->recs[*n - 1].seq > eh_queue_durable_seq(q))
			return EH_ERR_IO;
	}
	if (*n > 0 && p->cfg.ops->peeked != NULL) /* the oldest undelivered, for its age */
		p->cfg.ops->peeked(p->cfg.ctx, slot, type, p->recs[0].seq);
	for (size_t i = 0; i < *n; i++) {
		items[i].seq = p->recs[i].seq;
		items[i].raw = p->recs[i].payload;
		items[i].len = p->recs[i].len;
	}
	return EH_OK;
}

static eh_err src_ack(void *ctx, unsigned slot, unsigned type, uint64_t upto)
{
	struct eh_pipeline *p = ctx;
	eh_err rc = eh_queue_ack(p->cfg.queue, slot, type, upto);
	/* The cursor is durable before any next batch goes out (src_peek
	 * commits first while it is dirty): after a crash only the batch that
	 * was in flight is sent again, from the same first record, so under
	 * the same X-Edgehook-Batch key. With nothing more to send, the
	 * queue's own deadline persists it. */
	eh_commit_cursor_moved(&p->commit);
	/* Held input is retried from the loop (eh_pipeline_tick), never from
	 * inside delivery's completion that called us. */
	if (eh_pipeline_holding(p))
		p->retry_held = true;
	return rc;
}

static uint64_t src_lag(void *ctx, unsigned slot, unsigned type)
{
	struct eh_pipeline *p = ctx;
	return eh_queue_lag(p->cfg.queue, slot, type);
}

const struct eh_delivery_source_ops eh_pipeline_source_ops = {src_peek, src_ack, src_lag};

/* ==== The rest ==== */

eh_err eh_pipeline_commit(struct eh_pipeline *p)
{
	return eh_commit_now(&p->commit);
}

void eh_pipeline_schedule(struct eh_pipeline *p)
{
	eh_commit_schedule(&p->commit);
}

bool eh_pipeline_holding(struct eh_pipeline *p)
{
	return eh_ingest_holding(&p->ingest) || eh_journal_has_kept(&p->journal);
}

const struct eh_status_ingest *eh_pipeline_ingest_stats(const struct eh_pipeline *p)
{
	return &p->ingest.st;
}

void eh_pipeline_close(struct eh_pipeline *p)
{
	eh_commit_cancel(&p->commit);
	/* What the MQTT client handed over at its close is made durable now;
	 * the broker redelivers anything it had not seen acknowledged, and the
	 * redelivery filter (kept in <queue>.seen) drops it then. */
	if (eh_queue_commit(p->cfg.queue) == EH_OK) {
		eh_seen_flush(&p->seen);
		eh_journal_committed(&p->journal);
	}
	eh_journal_close(&p->journal);
	eh_seen_close(&p->seen);
}
