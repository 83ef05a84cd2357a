/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - edgehookd: the composition root. Loads the bootstrap file, opens
 * the queue, connects MQTT, runs the loop; the only file that names the
 * concrete backends (file flash, Paho, mbedTLS, libcoap).
 *
 * The data path of one notification: eh_mqtt (library thread -> loop) ->
 * ingest(): parse (eh_note) -> match (eh_config) -> eh_queue_append ->
 * group commit -> eh_mqtt_done (the message is durable) ; eh_delivery
 * workers peek from their cursors, POST, ack. */
#define _GNU_SOURCE
#include "eh_bootstrap.h"
#include "eh_coap.h"
#include "eh_config.h"
#include "eh_config_store.h"
#include "eh_crypto.h"
#include "eh_delivery.h"
#include "eh_file.h"
#include "eh_flash.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_note.h"
#include "eh_notify.h"
#include "eh_queue.h"
#include "eh_render.h"
#include "eh_signal.h"
#include "eh_status.h"
#include "eh_time.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2   /* bad usage or bad bootstrap config */
#define EXIT_STORAGE 3 /* queue storage unusable */
#define STATUS_BUF 8192
#define DEDUPE_SETS 8192 /* redelivery filter: sets of DEDUPE_WAYS hashes, power of 2 */
#define DEDUPE_WAYS 4
#define MAX_STOP_MS 5000  /* CONTRACT section 1: stop within 5 s */

/* ==== The daemon's state: one static instance ==== */

struct daemon {
	struct eh_bootstrap boot;
	struct eh_loop loop;
	struct eh_flash_file flash_file;
	struct eh_flash flash;
	struct eh_queue queue;
	struct eh_config config;
	struct eh_config_store store;
	struct eh_delivery delivery;
	struct eh_mqtt mqtt;
	struct eh_coap coap;
	bool mqtt_open;
	bool coap_open;

	uint32_t commit_timer;
	bool cursor_dirty;         /* an ack not yet committed */
	uint64_t commit_due_ms;    /* when commit_timer fires */
	/* Messages held under `block` while the queue is full, in arrival
	 * order; the first resumes from the notification that did not fit. */
	struct held_msg {
		struct eh_mqtt_msg *m;
		const uint8_t *payload; /* valid until eh_mqtt_done(m) */
		size_t len;
		unsigned type;
		size_t from;            /* next notification to append */
	} held[EH_MQTT_MAX_WINDOW];
	unsigned held_head, held_n;

	uint64_t dedupe[DEDUPE_SETS][DEDUPE_WAYS]; /* 0 = empty */
	uint8_t dedupe_next[DEDUPE_SETS];          /* way replaced next, round robin */

	uint64_t started_ms;
	struct eh_status_ingest in;
	uint64_t mqtt_reconnects;
	bool mqtt_connected;

	char journal_path[EH_BOOT_PATH_MAX + 16]; /* "<queue>.journal" */
	char topic_status[EH_BOOT_TOPIC_MAX + 16];
	char topic_config[EH_BOOT_TOPIC_MAX + 16]; /* "P/config/" */
	char topic_catalog[EH_BOOT_TOPIC_MAX + 16]; /* "P/catalog/" */
	char sub_config[EH_BOOT_TOPIC_MAX + 16];   /* "P/config/#" */
	char sub_catalog[EH_BOOT_TOPIC_MAX + 16];  /* "P/catalog/#" */
	const char *subs[5];

	uint32_t status_timer;
	uint64_t status_hash;
	uint64_t webhook_hash[EH_MAX_WEBHOOKS];
	uint64_t watchdog_ms;
	uint32_t watchdog_timer;
	int exit_code;
};

static struct daemon D;

/* Scratch buffers for the loop thread (never on the stack: they are big). */
static char status_buf[STATUS_BUF];
static struct eh_note notes[EH_MAX_ARRAY_NOTES];

/* ==== Small helpers ==== */

/* A fast 64-bit hash for the redelivery filter: eight bytes a step. */
static uint64_t note_hash(unsigned type, const uint8_t *p, size_t n)
{
	uint64_t h = (0x9e3779b97f4a7c15ull ^ n) + type;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h ^= h >> 32;
	return h ? h : 1;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* MQTT topic filter match: '+' one level, '#' the rest. */
static bool topic_matches(const char *filter, const char *topic)
{
	while (*filter) {
		if (*filter == '#')
			return true;
		if (*filter == '+') {
			while (*topic && *topic != '/')
				topic++;
			filter++;
			continue;
		}
		if (*filter != *topic)
			return false;
		filter++;
		topic++;
	}
	return *topic == '\0';
}

static void publish(const char *topic, const char *body, size_t len, int qos, bool retain)
{
	if (!D.mqtt_open)
		return;
	eh_err rc = eh_mqtt_publish(&D.mqtt, topic, body, len, qos, retain);
	if (rc != EH_OK && rc != EH_ERR_CLOSED)
		EH_LOG_WRN("mqtt", "publish to %s failed: %s", topic, eh_err_str(rc));
}

/* ==== Group commit: acknowledge after persist ==== */

static void schedule_commit(void);

static void commit_now(void)
{
	if (D.commit_timer) {
		eh_loop_cancel(&D.loop, D.commit_timer);
		D.commit_timer = 0;
	}
	eh_err rc = eh_queue_commit(&D.queue);
	if (rc != EH_OK) {
		/* Nothing is acknowledged: the broker redelivers after a restart. */
		EH_LOG_ERR("queue", "commit failed: %s", eh_err_str(rc));
		D.exit_code = 1;
		eh_loop_stop(&D.loop);
		return;
	}
	D.cursor_dirty = false;
	/* Everything taken so far is durable: the MQTT journal may be emptied. */
	if (D.mqtt_open)
		eh_mqtt_committed(&D.mqtt);
}

static void on_commit_timer(struct eh_loop *l, void *arg)
{
	(void)arg;
	D.commit_timer = 0;
	if (eh_queue_commit_due(&D.queue, eh_loop_now(l)))
		commit_now();
	schedule_commit();
}

/* Arm the commit timer for the queue's own deadline: records staged for
 * commit_interval_ms, or cursors dirty for a second. */
static void schedule_commit(void)
{
	uint64_t now = eh_loop_now(&D.loop);
	uint64_t due = eh_queue_commit_deadline(&D.queue);
	if (due == UINT64_MAX)
		return;
	if (D.commit_timer) {
		if (D.commit_due_ms <= due)
			return;
		eh_loop_cancel(&D.loop, D.commit_timer);
		D.commit_timer = 0;
	}
	D.commit_due_ms = due;
	if (eh_loop_after(&D.loop, due > now ? due - now : 0, on_commit_timer, NULL,
			  &D.commit_timer) != EH_OK)
		commit_now();
}

/* ==== Ingest: parse, match, append (MQTT and CoAP alike) ==== */

/* Broker redeliveries of notifications already queued (same type, same
 * bytes): a 4-way set-associative table of recent hashes (32768 of them,
 * 256 KiB), O(1) per notification,
 * rebuilt at start from the newest records of the queue. A collision only
 * forgets an older entry, which then may be queued twice: still at least
 * once, never lost. */
static bool dedupe_seen(uint64_t h)
{
	const uint64_t *set = D.dedupe[h & (DEDUPE_SETS - 1)];
	for (unsigned w = 0; w < DEDUPE_WAYS; w++)
		if (set[w] == h)
			return true;
	return false;
}

static void dedupe_add(uint64_t h)
{
	unsigned i = (unsigned)(h & (DEDUPE_SETS - 1));
	D.dedupe[i][D.dedupe_next[i]] = h;
	D.dedupe_next[i] = (uint8_t)((D.dedupe_next[i] + 1) % DEDUPE_WAYS);
}

/* Parse, filter and stage one message of input `type`. EH_OK: staged (or
 * nothing wanted it); EH_ERR_PROTO/TOOBIG: refused whole (diag says why);
 * EH_ERR_NOSPC: no room under `block`, nothing was appended. */
static eh_err ingest(unsigned type, const uint8_t *payload, size_t len, char *diag,
		     size_t diag_cap, size_t *from)
{
	struct eh_errs errs;
	size_t n = 0;
	eh_err rc;

	if (*from == 0)
		D.in.messages++;
	if (len > EH_MAX_MSG_BYTES) {
		D.in.rejected++;
		D.in.oversize++;
		snprintf(diag, diag_cap, "message of %zu bytes is over the %d byte limit", len,
			 EH_MAX_MSG_BYTES);
		return EH_ERR_TOOBIG;
	}
	eh_errs_init(&errs);
	rc = eh_note_parse_message((const char *)payload, len, type, notes, EH_MAX_ARRAY_NOTES,
				   &n, &errs);
	if (rc != EH_OK) {
		D.in.rejected++;
		snprintf(diag, diag_cap, "%s", errs.n ? errs.msg[0] : eh_err_str(rc));
		return rc == EH_ERR_TOOBIG ? EH_ERR_TOOBIG : EH_ERR_PROTO;
	}
	/* Under `block` a message may stop half-way: *from says where it goes
	 * on once there is room, so no notification is appended twice. */
	for (size_t i = *from; i < n; i++) {
		uint64_t seq, h, mask = eh_config_match(&D.config, &notes[i]);
		D.in.notifications++;
		if (mask == 0) {
			D.in.unmatched++;
			continue;
		}
		h = note_hash(type, (const uint8_t *)notes[i].raw, notes[i].raw_len);
		if (dedupe_seen(h)) {
			D.in.duplicates++;
			continue;
		}
		rc = eh_queue_append(&D.queue, type, mask, notes[i].raw, notes[i].raw_len, &seq);
		if (rc == EH_ERR_NOSPC) {
			D.in.notifications--;
			*from = i;
			snprintf(diag, diag_cap, "queue full");
			return EH_ERR_NOSPC;
		}
		if (rc != EH_OK) {
			D.in.rejected++;
			snprintf(diag, diag_cap, "[%zu]: queue refused: %s", i, eh_err_str(rc));
			return rc == EH_ERR_IO ? EH_ERR_IO : EH_ERR_TOOBIG;
		}
		D.in.queued++;
		dedupe_add(h);
		for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
			if (mask & (1ull << s))
				eh_delivery_kick(&D.delivery, s, type);
	}
	*from = 0;
	return EH_OK;
}

/* ==== Config topics ==== */

static void clear_retained(uint32_t id)
{
	char t[EH_BOOT_TOPIC_MAX + 64];
	snprintf(t, sizeof(t), "%s/config-status/webhooks/%u", D.boot.topic_prefix, id);
	publish(t, "", 0, 1, true);
	snprintf(t, sizeof(t), "%s/webhooks/%u/state", D.boot.topic_prefix, id);
	publish(t, "", 0, 1, true);
}

static void log_workers(void)
{
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		char ids[EH_MAX_WEBHOOKS * 11 + 4];
		size_t n = 0;
		ids[0] = '\0';
		for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
			const struct eh_webhook *w = &D.config.webhooks[s];
			if (w->id == 0 || !w->active || !eh_config_wants_type(&D.config, s, t))
				continue;
			n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%u", n ? ", " : "",
					      w->id);
		}
		EH_LOG_INF("WebhooksManager", "Updating \"%s\" workers for webhooks: {%s}",
			   eh_type_name(t), ids);
	}
}

/* One config or catalog message, from MQTT or (replay) from the store
 * kept beside the queue. A replay re-creates each webhook in the slot it
 * had, and keeps its queued notifications (no cursor reset). */
static void handle_config(const char *topic, const uint8_t *payload, size_t len,
			  const char *hmac, bool replay, int slot)
{
	static struct eh_config_result res;
	int kept_slot = -1;

	if (!replay && eh_config_store_same(&D.store, topic, payload, len)) {
		/* the retained copy of what runs already (re-sent on every subscribe) */
		EH_LOG_DBG("config", "%s: unchanged", topic);
		return;
	}
	eh_config_hint_slot(&D.config, replay ? slot : -1);
	eh_err rc = eh_config_handle(&D.config, topic, payload, len, hmac, &res);
	eh_config_hint_slot(&D.config, -1);
	if (!replay && res.status_topic[0])
		publish(res.status_topic, res.status_body, strlen(res.status_body), 1, true);
	for (unsigned i = 0; i < res.nchanges; i++) {
		const struct eh_config_change *c = &res.changes[i];
		if ((c->kind == EH_CONFIG_CREATED && !replay) || c->kind == EH_CONFIG_DELETED)
			eh_queue_slot_reset(&D.queue, c->slot);
		eh_delivery_set_webhook(&D.delivery, c->slot,
					c->kind == EH_CONFIG_DELETED ? NULL
								     : &D.config.webhooks[c->slot]);
		if (c->kind == EH_CONFIG_DELETED) {
			clear_retained(c->old_id);
			D.webhook_hash[c->slot] = 0;
		} else {
			kept_slot = (int)c->slot;
		}
	}
	if (!replay && rc == EH_OK && !res.noop && !res.bad_id) {
		bool gone = len == 0 || (res.nchanges && res.changes[0].kind == EH_CONFIG_DELETED);
		if (eh_config_store_put(&D.store, topic, payload, gone ? 0 : len, hmac,
					kept_slot) != EH_OK)
			EH_LOG_WRN("config", "%s applies but is not kept for restarts (store full "
					     "or not writable)", topic);
	}
	if (res.nchanges && !replay) {
		log_workers();
		schedule_commit(); /* slot resets are persisted with the next commit */
	}
}

/* Before MQTT connects: the config accepted before the restart, so the
 * notifications the broker kept for the session meet their webhooks. */
static void replay_config(void)
{
	unsigned n = eh_config_store_count(&D.store);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *payload;
		const struct eh_config_store_entry *e = eh_config_store_entry(&D.store, i, &payload);
		handle_config(e->topic, payload, e->len, e->hmac[0] ? e->hmac : NULL, true, e->slot);
	}
	if (n) {
		EH_LOG_INF("config", "%u config messages restored from %s", n, D.store.path);
		log_workers();
	}
}

/* ==== MQTT handlers (loop thread) ==== */

/* Ingest one input message (from e->from on). false: no room under
 * `block` (e->from says where to go on); true: taken, its acknowledgment
 * waits for the group commit. */
static bool take_input(struct held_msg *e)
{
	char diag[EH_ERRS_LEN];
	eh_err rc = ingest(e->type, e->payload, e->len, diag, sizeof(diag), &e->from);
	if (rc == EH_ERR_NOSPC)
		return false;
	if (rc != EH_OK)
		EH_LOG_WRN("ingest", "%s message of %zu bytes refused: %s", eh_type_name(e->type),
			   e->len, diag);
	/* Taken: staged in the queue, and already in the MQTT journal (written
	 * by the driver before handing it over), so a kill -9 loses nothing;
	 * a power cut loses at most the last group-commit interval. */
	eh_mqtt_done(&D.mqtt, e->m);
	schedule_commit();
	return true;
}

static void on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac, struct eh_mqtt_msg *m)
{
	(void)ctx;

	if (strncmp(topic, D.topic_config, strlen(D.topic_config)) == 0 ||
	    strncmp(topic, D.topic_catalog, strlen(D.topic_catalog)) == 0) {
		handle_config(topic, payload, len, hmac, false, -1);
		eh_mqtt_done(&D.mqtt, m);
		return;
	}
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		if (!topic_matches(D.boot.inputs[t], topic))
			continue;
		struct held_msg e = {m, payload, len, t, 0};
		if (D.held_n == 0 && take_input(&e))
			return;
		/* block: hold it behind the others, take no more until room appears */
		D.held[(D.held_head + D.held_n++) % EH_MQTT_MAX_WINDOW] = e;
		if (D.held_n == 1) {
			D.in.blocked++;
			eh_mqtt_pause(&D.mqtt);
			EH_LOG_WRN("queue", "full (block policy): input paused");
		}
		return;
	}
	EH_LOG_DBG("mqtt", "message on unexpected topic %s ignored", topic);
	eh_mqtt_done(&D.mqtt, m);
}

/* Called when delivery acknowledged records: room may have appeared. */
static void retry_blocked(void)
{
	if (D.held_n == 0)
		return;
	while (D.held_n) {
		if (!take_input(&D.held[D.held_head]))
			return;
		D.held_head = (D.held_head + 1) % EH_MQTT_MAX_WINDOW;
		D.held_n--;
	}
	eh_mqtt_resume(&D.mqtt);
	EH_LOG_INF("queue", "room again: input resumed");
}

static void publish_status(bool force);

static void on_connect(void *ctx, bool session_present)
{
	(void)ctx;
	if (D.mqtt_connected)
		return;
	D.mqtt_connected = true;
	(void)session_present; /* the driver logs the connection */
	publish_status(true);
}

static void on_disconnect(void *ctx)
{
	(void)ctx;
	if (D.mqtt_connected)
		D.mqtt_reconnects++;
	D.mqtt_connected = false;
	EH_LOG_WRN("mqtt", "connection to %s lost; reconnecting", D.boot.mqtt.uri);
}

/* ==== Delivery seams ==== */

static eh_err src_peek(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		       size_t max_items, size_t *n)
{
	static struct eh_queue_rec recs[EH_MAX_BATCH];
	static uint8_t buf[EH_DELIVERY_PEEK_BYTES];
	(void)ctx;
	if (max_items > EH_MAX_BATCH)
		max_items = EH_MAX_BATCH;
	eh_err rc = eh_queue_peek(&D.queue, slot, type, recs, max_items, sizeof(buf), buf,
				  sizeof(buf), n);
	if (rc != EH_OK)
		return rc;
	/* A batch goes out only with durable records: after a crash it is
	 * re-formed from the same seqs, so under the same key. When the group
	 * commit has not run yet, it runs now (latency over fsync count). */
	if (*n > 0 && (D.cursor_dirty || recs[*n - 1].seq > eh_queue_durable_seq(&D.queue))) {
		commit_now();
		if (recs[*n - 1].seq > eh_queue_durable_seq(&D.queue))
			return EH_ERR_IO;
	}
	for (size_t i = 0; i < *n; i++) {
		items[i].seq = recs[i].seq;
		items[i].raw = recs[i].payload;
		items[i].len = recs[i].len;
	}
	return EH_OK;
}

static eh_err src_ack(void *ctx, unsigned slot, unsigned type, uint64_t upto)
{
	(void)ctx;
	eh_err rc = eh_queue_ack(&D.queue, slot, type, upto);
	/* The cursor is durable before any next batch goes out (src_peek
	 * commits first while it is dirty): after a crash only the batch that
	 * was in flight is sent again, from the same first record, so under
	 * the same X-Edgehook-Batch key. With nothing more to send, the
	 * queue's own deadline persists it. */
	D.cursor_dirty = true;
	schedule_commit();
	retry_blocked();
	return rc;
}

static uint64_t src_lag(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	return eh_queue_lag(&D.queue, slot, type);
}

static const struct eh_delivery_source_ops source_ops = {src_peek, src_ack, src_lag};

static eh_err render(void *ctx, unsigned type, const uint8_t *raw, size_t len,
		     const struct eh_webhook *wh, char *out, size_t cap, size_t *out_len)
{
	struct eh_catalog_view cat = {eh_config_catalog_lookup, &D.config};
	struct eh_render_opts o;
	(void)ctx;
	o.verbose = wh->verbose < 0 ? D.config.gateway.verbose : wh->verbose != 0;
	o.external_address =
		D.config.gateway.external_address[0] ? D.config.gateway.external_address : NULL;
	o.catalog = &cat;
	return eh_render_note(type, (const char *)raw, len, &o, out, cap, out_len);
}

static size_t note_id(void *ctx, const uint8_t *raw, size_t len, char *buf, size_t cap)
{
	(void)ctx;
	return eh_note_id_text((const char *)raw, len, buf, cap);
}

static void deadletter(void *ctx, const struct eh_webhook *wh, unsigned type, const char *body,
		       size_t len)
{
	char t[EH_BOOT_TOPIC_MAX + 32];
	(void)ctx;
	(void)type;
	snprintf(t, sizeof(t), "%s/deadletter/%u", D.boot.topic_prefix, wh->id);
	publish(t, body, len, 1, false);
}

/* ==== Status ==== */

static void fill_figures(struct eh_status_figures *f)
{
	struct eh_queue_stats qs;
	memset(f, 0, sizeof(*f));
	f->state = "online";
	f->version = EH_VERSION;
	f->device_id = D.boot.device_id;
	f->uptime_s = (eh_loop_now(&D.loop) - D.started_ms) / 1000;
	f->mqtt_connected = D.mqtt_connected;
	f->mqtt_reconnects = D.mqtt_reconnects;
	f->in = D.in;
	eh_config_status(&D.config, &f->config);
	eh_queue_stats(&D.queue, &qs);
	f->queue.capacity_bytes = qs.capacity_bytes;
	f->queue.used_bytes = qs.used_bytes;
	f->queue.records = qs.records;
	f->queue.corrupt = qs.corrupt_skipped;
	f->queue.bytes_written = qs.bytes_written;
	f->queue.syncs = qs.syncs;
	f->queue.full_policy = D.boot.queue.full_policy == EH_BOOT_BLOCK ? "block" : "drop_oldest";
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		struct eh_delivery_wstats ws;
		f->queue.dropped += qs.drops[s];
		if (D.config.webhooks[s].id == 0)
			continue;
		eh_delivery_stats(&D.delivery, s, &ws);
		f->sent += ws.sent;
		f->failed_attempts += ws.failed_attempts;
		f->dead_lettered += ws.dead_lettered;
	}
}

static size_t webhook_state(unsigned slot, char *buf, size_t cap)
{
	struct eh_status_webhook w;
	struct eh_delivery_wstats ws;
	struct eh_queue_stats qs;
	const struct eh_webhook *wh = &D.config.webhooks[slot];
	memset(&w, 0, sizeof(w));
	eh_delivery_stats(&D.delivery, slot, &ws);
	eh_queue_stats(&D.queue, &qs);
	w.id = wh->id;
	w.active = wh->active;
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		w.queue[t] = eh_queue_lag(&D.queue, slot, t);
	w.sent = ws.sent;
	w.failed_attempts = ws.failed_attempts;
	w.dropped = qs.drops[slot];
	w.dead_lettered = ws.dead_lettered;
	snprintf(w.last_error, sizeof(w.last_error), "%s", ws.last_error);
	w.next_attempt_in_ms = ws.next_attempt_in_ms ? (int64_t)ws.next_attempt_in_ms : -1;
	return eh_status_render_webhook(&w, buf, cap);
}

static size_t status_json(void *ctx, char *buf, size_t cap)
{
	struct eh_status_figures f;
	(void)ctx;
	fill_figures(&f);
	return eh_status_render(&f, buf, cap);
}

/* Publish P/status and each changed webhook state; at most once a second
 * from the timer, or at once when forced (connect). */
static void publish_status(bool force)
{
	struct eh_status_figures f;
	size_t n;
	uint64_t h;

	/* The uptime alone does not make the status "changed": hash without it. */
	fill_figures(&f);
	uint64_t up = f.uptime_s;
	f.uptime_s = 0;
	n = eh_status_render(&f, status_buf, sizeof(status_buf));
	h = fnv1a(1469598103934665603ull, status_buf, n);
	if (force || h != D.status_hash) {
		f.uptime_s = up;
		n = eh_status_render(&f, status_buf, sizeof(status_buf));
		publish(D.topic_status, status_buf, n, 1, true);
		D.status_hash = h;
		if (D.coap_open)
			eh_coap_status_changed(&D.coap);
	}
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		char t[EH_BOOT_TOPIC_MAX + 48];
		if (D.config.webhooks[s].id == 0)
			continue;
		n = webhook_state(s, status_buf, sizeof(status_buf));
		h = fnv1a(1469598103934665603ull, status_buf, n);
		if (!force && h == D.webhook_hash[s])
			continue;
		D.webhook_hash[s] = h;
		snprintf(t, sizeof(t), "%s/webhooks/%u/state", D.boot.topic_prefix,
			 D.config.webhooks[s].id);
		publish(t, status_buf, n, 1, true);
	}
}

static void on_status_timer(struct eh_loop *l, void *arg)
{
	(void)arg;
	if (D.mqtt_connected)
		publish_status(false);
	eh_loop_after(l, 1000, on_status_timer, NULL, &D.status_timer);
}

static void on_watchdog(struct eh_loop *l, void *arg)
{
	(void)arg;
	eh_notify("WATCHDOG=1");
	eh_loop_after(l, D.watchdog_ms, on_watchdog, NULL, &D.watchdog_timer);
}

/* ==== CoAP handlers ==== */

static eh_err coap_webhook(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len)
{
	(void)ctx;
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		if (D.config.webhooks[s].id != id || id == 0)
			continue;
		*len = webhook_state(s, buf, cap);
		return *len ? EH_OK : EH_ERR_NOSPC;
	}
	return EH_ERR_NOENT;
}

/* CoAP answers 2.04 only once the notification is durable, so this path
 * commits at once instead of waiting for the group commit. */
static eh_err coap_ingest(void *ctx, unsigned type, const uint8_t *payload, size_t len,
			  char *diag, size_t diag_cap)
{
	size_t from = 0;
	(void)ctx;
	if (D.held_n != 0) {
		snprintf(diag, diag_cap, "queue full");
		return EH_ERR_NOSPC; /* MQTT input waits too: first come, first in */
	}
	eh_err rc = ingest(type, payload, len, diag, diag_cap, &from);
	if (rc != EH_OK)
		return rc; /* NOSPC half-way: the part that went in stays (at least once) */
	commit_now();
	return D.exit_code ? EH_ERR_IO : EH_OK;
}

/* ==== Loop glue ==== */

static void on_wake(struct eh_loop *l, void *arg)
{
	(void)arg;
	if (eh_signal_stop_requested()) {
		eh_loop_stop(l);
		return;
	}
	if (eh_signal_take_hup())
		EH_LOG_INF("edgehookd", "SIGHUP: nothing to reload (configuration comes over MQTT)");
	if (D.mqtt_open)
		eh_mqtt_poll(&D.mqtt);
}

/* ==== Inbound journal replay ==== */

static uint8_t journal_buf[EH_MAX_MSG_BYTES + 512];

/* A message Paho acknowledged before the last stop and journalled at once:
 * it goes the normal way; the redelivery filter drops what the queue
 * already holds. */
static void replay_journalled(void *ctx, const char *topic, const uint8_t *payload, size_t len,
			      const char *hmac)
{
	char diag[EH_ERRS_LEN];
	(void)ctx;
	if (strncmp(topic, D.topic_config, strlen(D.topic_config)) == 0 ||
	    strncmp(topic, D.topic_catalog, strlen(D.topic_catalog)) == 0) {
		handle_config(topic, payload, len, hmac, false, -1);
		return;
	}
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		size_t from = 0;
		if (!topic_matches(D.boot.inputs[t], topic))
			continue;
		eh_err rc = ingest(t, payload, len, diag, sizeof(diag), &from);
		if (rc == EH_ERR_NOSPC)
			EH_LOG_ERR("queue", "full (block policy) at start: a journalled %s message "
					    "from %s could not be queued",
				   eh_type_name(t), topic);
		return;
	}
}

/* ==== Start-up ==== */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: edgehookd -c FILE [--log-level LEVEL] [--check-config]\n"
		"       edgehookd --help | --version\n"
		"\n"
		"Subscribes to notifications over MQTT, filters them per webhook, keeps\n"
		"them in a crash-safe queue on flash and delivers them over HTTPS.\n"
		"\n"
		"  -c, --config FILE     bootstrap file (JSON; see edgehookd.conf.example)\n"
		"      --check-config    validate FILE (and its key files) and exit\n"
		"      --log-level LEVEL error|warning|info|debug (overrides the file)\n"
		"  -h, --help            this text\n"
		"  -V, --version         version and compiled-in limits\n"
		"\n"
		"Exit codes: 0 clean stop, 1 fatal runtime error, 2 bad usage or\n"
		"configuration, 3 queue storage unusable (cannot open or lock).\n");
}

static void version(void)
{
	printf("edgehookd %s\n", EH_VERSION);
	printf("limits: webhooks=%d filter_ids=%d message_bytes=%d json_depth=%d "
	       "array_notifications=%d batch_size=%d headers=%d catalog_bytes=%d "
	       "catalog_entries=%d\n",
	       EH_MAX_WEBHOOKS, EH_FILTER_MAX_IDS, EH_MAX_MSG_BYTES, EH_JSON_MAX_DEPTH,
	       EH_MAX_ARRAY_NOTES, EH_MAX_BATCH, EH_MAX_HEADERS, EH_CATALOG_BYTES,
	       EH_CATALOG_MAX_ENTRIES);
}

static int load_config(const char *path, bool check_only, const char *level)
{
	struct eh_errs errs;
	eh_errs_init(&errs);
	if (eh_bootstrap_load(path, &D.boot, &errs) == EH_OK)
		eh_bootstrap_load_secrets(&D.boot, &errs);
	if (eh_errs_count(&errs)) {
		for (unsigned i = 0; i < errs.n; i++)
			fprintf(stderr, "%s: %s\n", path, errs.msg[i]);
		if (errs.dropped)
			fprintf(stderr, "%s: ... and %u more problems\n", path, errs.dropped);
		return EXIT_USAGE;
	}
	if (level) {
		int l = eh_log_level_parse(level);
		if (l < 0) {
			fprintf(stderr, "--log-level: expected error, warning, info or debug\n");
			return EXIT_USAGE;
		}
		D.boot.log_level = l;
	}
	if (check_only) {
		printf("%s: ok\n", path);
		return 0;
	}
	return -1;
}

static int dedupe_rebuild(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	(void)arg;
	(void)seg;
	dedupe_add(note_hash(r->type, r->payload, r->len));
	return 0;
}

static uint8_t rebuild_buf[EH_MAX_MSG_BYTES];

static int open_queue(void)
{
	struct eh_queue_config qc;
	snprintf(D.journal_path, sizeof(D.journal_path), "%s.journal", D.boot.queue.path);
	eh_signal_install(NULL); /* a stop during the queue file's creation ends it cleanly */
	eh_err rc = eh_flash_file_open(&D.flash, &D.flash_file, D.boot.queue.path,
				       D.boot.queue.size_bytes, 0, 0, 0);
	if (rc == EH_ERR_CLOSED)
		return 0; /* stopped while creating it: nothing was left behind */
	if (rc != EH_OK) {
		EH_LOG_ERR("queue", "cannot open %s: %s", D.boot.queue.path, eh_err_str(rc));
		return EXIT_STORAGE;
	}
	memset(&qc, 0, sizeof(qc));
	qc.flash = &D.flash;
	qc.commit_interval_ms = D.boot.queue.commit_interval_ms;
	qc.full_policy = D.boot.queue.full_policy == EH_BOOT_BLOCK ? EH_QUEUE_BLOCK
								  : EH_QUEUE_DROP_OLDEST;
	uint64_t t0 = eh_time_mono_us();
	rc = eh_queue_open(&D.queue, &qc);
	if (rc != EH_OK) {
		EH_LOG_ERR("queue", "cannot mount %s: %s", D.boot.queue.path, eh_err_str(rc));
		eh_flash_close(&D.flash);
		return EXIT_STORAGE;
	}
	struct eh_queue_stats qs;
	eh_queue_stats(&D.queue, &qs);
	/* The redelivery filter forgets nothing the broker or the journal may
	 * hand over again: the newest records, as many segments as the journal
	 * could cover plus two (which hold far more than the MQTT window). */
	uint64_t jsize = 0;
	int jfd;
	if (eh_file_open_ro(D.journal_path, &jfd) == EH_OK) {
		eh_file_size(jfd, &jsize);
		eh_file_close(jfd);
	}
	uint32_t segs = 2 + (uint32_t)(jsize / (qs.segment_bytes ? qs.segment_bytes : 1));
	eh_queue_walk_recent(&D.queue, segs, dedupe_rebuild, NULL, rebuild_buf, sizeof(rebuild_buf));
	EH_LOG_INF("queue", "%s mounted in %llu us: %llu records, %llu of %llu bytes used, "
			    "%llu damaged records skipped",
		   D.boot.queue.path, (unsigned long long)(eh_time_mono_us() - t0),
		   (unsigned long long)qs.records, (unsigned long long)qs.used_bytes,
		   (unsigned long long)qs.capacity_bytes, (unsigned long long)qs.corrupt_skipped);
	return -1;
}

static int start(void)
{
	struct eh_config_init ci;
	struct eh_delivery_config dc;
	struct eh_mqtt_config mc;
	static struct eh_mqtt_handlers mh = {on_message, on_connect, on_disconnect, NULL};
	static const int qos[5] = {1, 1, 1, 1, 1};
	static char versions_path[EH_BOOT_PATH_MAX + 16];
	static char store_path[EH_BOOT_PATH_MAX + 16];
	static const char offline[] = "{\"state\":\"offline\"}";
	int rc;

	if ((rc = open_queue()) >= 0)
		return rc;

	snprintf(D.topic_status, sizeof(D.topic_status), "%s/status", D.boot.topic_prefix);
	snprintf(D.topic_config, sizeof(D.topic_config), "%s/config/", D.boot.topic_prefix);
	snprintf(D.topic_catalog, sizeof(D.topic_catalog), "%s/catalog/", D.boot.topic_prefix);
	snprintf(D.sub_config, sizeof(D.sub_config), "%s/config/#", D.boot.topic_prefix);
	snprintf(D.sub_catalog, sizeof(D.sub_catalog), "%s/catalog/#", D.boot.topic_prefix);
	snprintf(versions_path, sizeof(versions_path), "%s.versions", D.boot.queue.path);
	snprintf(store_path, sizeof(store_path), "%s.config", D.boot.queue.path);

	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = D.boot.topic_prefix;
	ci.allow_plain_http = D.boot.allow_plain_http;
	ci.hmac_key = D.boot.hmac_key_len ? D.boot.hmac_key : NULL;
	ci.hmac_key_len = D.boot.hmac_key_len;
	ci.versions_path = versions_path;
	if (eh_config_init(&D.config, &ci) != EH_OK) {
		EH_LOG_ERR("config", "cannot read %s", versions_path);
		return EXIT_STORAGE;
	}

	if (eh_loop_init(&D.loop, &eh_clock_system) != EH_OK)
		return 1;
	D.started_ms = eh_loop_now(&D.loop);
	eh_signal_install(&D.loop);
	eh_loop_on_wake(&D.loop, on_wake, NULL);

	memset(&dc, 0, sizeof(dc));
	dc.loop = &D.loop;
	dc.clock = &eh_clock_system;
	dc.ca_file = D.boot.ca_file;
	dc.allow_plain_http = D.boot.allow_plain_http;
	dc.queue_uid = eh_queue_uid(&D.queue);
	dc.source = &source_ops;
	dc.source_ctx = &D;
	dc.ctx = &D;
	dc.render = render;
	dc.note_id = note_id;
	dc.deadletter = deadletter;
	if (eh_delivery_init(&D.delivery, &dc) != EH_OK) {
		EH_LOG_ERR("delivery", "cannot start (CA file %s)", D.boot.ca_file);
		return 1;
	}
	eh_err src = eh_config_store_open(&D.store, store_path);
	if (src == EH_OK)
		replay_config();
	else
		EH_LOG_ERR("config", "%s is damaged (%s): starting without webhooks until the "
				     "retained config arrives", store_path, eh_err_str(src));

	D.subs[0] = D.boot.inputs[0];
	D.subs[1] = D.boot.inputs[1];
	D.subs[2] = D.boot.inputs[2];
	D.subs[3] = D.sub_config;
	D.subs[4] = D.sub_catalog;
	unsigned replayed = 0;
	eh_mqtt_journal_replay(D.journal_path, replay_journalled, NULL, journal_buf,
			       sizeof(journal_buf), &replayed);
	if (replayed) {
		commit_now();
		EH_LOG_INF("mqtt", "%u journalled messages replayed from %s (%llu duplicates "
				   "of queued notifications skipped)",
			   replayed, D.journal_path, (unsigned long long)D.in.duplicates);
	}
	memset(&mc, 0, sizeof(mc));
	mc.journal_path = D.journal_path;
	mc.journal_rotate_bytes = 1u << 20;
	mc.uri = D.boot.mqtt.uri;
	mc.client_id = D.boot.mqtt.client_id;
	mc.username = D.boot.mqtt.username[0] ? D.boot.mqtt.username : NULL;
	mc.password = D.boot.has_password ? D.boot.password : NULL;
	mc.keepalive_s = D.boot.mqtt.keepalive_s;
	mc.will_topic = D.topic_status;
	mc.will_payload = offline;
	mc.subs = D.subs;
	mc.subs_qos = qos;
	mc.nsubs = 5;
	if (eh_mqtt_open(&D.mqtt, &mc, &D.loop, &mh) != EH_OK) {
		EH_LOG_ERR("mqtt", "cannot start the MQTT client for %s", D.boot.mqtt.uri);
		return 1;
	}
	eh_loop_on_wake(&D.loop, on_wake, NULL); /* we call eh_mqtt_poll ourselves */
	D.mqtt_open = true;

	if (D.boot.coap.port != 0) {
		static struct eh_coap_handlers chs = {status_json, coap_webhook, coap_ingest, NULL};
		struct eh_coap_config cc;
		memset(&cc, 0, sizeof(cc));
		cc.bind = D.boot.coap.bind;
		cc.port = D.boot.coap.port;
		cc.max_body = EH_MAX_MSG_BYTES;
		eh_coap_init(&D.coap);
		if (eh_coap_open(&D.coap, &cc, &D.loop, &chs) != EH_OK) {
			EH_LOG_ERR("coap", "cannot listen on %s:%u", cc.bind, cc.port);
			return 1;
		}
		D.coap_open = true;
	}

	eh_loop_after(&D.loop, 1000, on_status_timer, NULL, &D.status_timer);
	D.watchdog_ms = eh_notify_watchdog_ms();
	if (D.watchdog_ms)
		eh_loop_after(&D.loop, D.watchdog_ms, on_watchdog, NULL, &D.watchdog_timer);
	eh_notify("READY=1\nSTATUS=running");
	EH_LOG_INF("edgehookd", "edgehookd ready: version %s, device %s, queue %s",
		   EH_VERSION, D.boot.device_id, D.boot.queue.path);
	return -1;
}

/* SIGTERM: finish the in-flight queue write, persist cursors, abandon an
 * in-flight POST (re-sent after restart with the same key), publish
 * offline, disconnect. */
static void stop(void)
{
	static const char offline[] = "{\"state\":\"offline\"}";
	eh_notify("STOPPING=1");
	EH_LOG_INF("edgehookd", "stopping");
	eh_delivery_stop(&D.delivery);
	if (D.coap_open)
		eh_coap_close(&D.coap);
	commit_now();
	if (D.mqtt_open) {
		publish(D.topic_status, offline, sizeof(offline) - 1, 1, true);
		eh_mqtt_close(&D.mqtt); /* may hand over messages the library had taken */
		D.mqtt_open = false;
	}
	/* What close handed over is made durable now; the broker redelivers
	 * anything it had not seen acknowledged, and the queue dedupes nothing
	 * across restarts, so at worst a notification is queued twice. */
	eh_queue_commit(&D.queue);
	eh_queue_close(&D.queue);
	eh_flash_close(&D.flash);
	eh_loop_deinit(&D.loop);
	EH_LOG_INF("edgehookd", "stopped");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'k'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *level = NULL;
	bool check = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check = true; break;
		case 'l': level = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': version(); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((rc = load_config(path, check, level)) >= 0)
		return rc;
	eh_log_set_level(D.boot.log_level);
	/* Under journald: priorities as "<N>", no timestamps (journald adds its
	 * own). Elsewhere: UTC timestamps, so a log file can be read alone. */
	bool journal = getenv("JOURNAL_STREAM") != NULL;
	eh_log_set_prio_prefix(journal);
	eh_log_set_timestamps(!journal);
	if ((rc = start()) >= 0)
		return rc;
	eh_loop_run(&D.loop);
	stop();
	return D.exit_code;
}
