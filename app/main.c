/* SPDX-License-Identifier: Apache-2.0 */
/* main.c - edgehookd: the composition root. Loads the bootstrap file, opens
 * the queue, connects MQTT, runs the loop; the only file that names the
 * concrete backends (file flash, Paho, mbedTLS, libcoap).
 *
 * The data path of one notification: eh_mqtt (library thread: the
 * journal -> loop) -> eh_pipeline (app/pipeline: ingest, group commit,
 * the redelivery filter, the journal's replay) -> eh_delivery workers,
 * which peek from the pipeline's source, POST, ack. */
#define _GNU_SOURCE
#include "eh_bootstrap.h"
#include "eh_build.h"
#include "eh_coap.h"
#include "eh_config.h"
#include "eh_config_store.h"
#include "eh_control.h"
#include "eh_crypto.h"
#include "eh_delivery.h"
#include "eh_flash.h"
#include "eh_httpd.h"
#include "eh_httpd_mhd.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_mqtt_paho.h"
#include "eh_note.h"
#include "eh_notify.h"
#include "eh_pipeline.h"
#include "eh_queue.h"
#include "eh_render.h"
#include "eh_resolve.h"
#include "eh_signal.h"
#include "eh_status.h"
#include "eh_status_pub.h"
#include "eh_time.h"
#include "eh_tls_pool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2	 /* bad usage or bad bootstrap config */
#define EXIT_STORAGE 3	 /* queue storage unusable */
#define SNAPSHOT_MS 3000 /* how long start waits for the broker's retained config */

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
	struct eh_resolver resolver; /* receiver names, off the loop thread */
	struct eh_tls_pool tls_pool; /* delivery's transports: TLS with the CA bundle, TCP */
	struct eh_mqtt mqtt;
	struct eh_mqtt_paho mqtt_paho; /* the backend behind mqtt */
	struct eh_coap coap;
	struct eh_httpd httpd;
	bool mqtt_open;
	bool coap_open;
	bool httpd_open;
	struct eh_status_pub status; /* P/status, webhook states, /metrics */

	struct eh_pipeline pipe; /* ingest, group commit, redelivery filter, journal */

	uint64_t started_ms;
	uint64_t mqtt_reconnects;
	bool mqtt_connected;

	char journal_path[EH_BOOT_PATH_MAX + 16]; /* "<queue>.journal" */
	char seen_path[EH_BOOT_PATH_MAX + 16];	  /* "<queue>.seen" */
	char topic_status[EH_BOOT_TOPIC_MAX + 16];
	const char *subs[3 + EH_CONTROL_SUBS_MAX]; /* inputs, then the control plane's */

	struct eh_control control; /* config topics, the store, reconciliation */

	bool stopping; /* SIGTERM seen: draining POSTs in flight */
	uint64_t stop_deadline_ms;
	uint32_t drain_timer;

	int exit_code;
	const char *config_path; /* the bootstrap file, read again on SIGHUP */
	bool level_override;	 /* --log-level given: SIGHUP keeps it */
};

static struct daemon D;

/* ==== Small helpers ==== */

static void publish(const char *topic, const char *body, size_t len, int qos, bool retain)
{
	if (!D.mqtt_open)
		return;
	eh_err rc = eh_mqtt_publish(&D.mqtt, topic, body, len, qos, retain);
	if (rc != EH_OK && rc != EH_ERR_CLOSED)
		EH_LOG_WRN("mqtt", "publish to %s failed: %s", topic, eh_err_str(rc));
}

/* ==== Data path seams (app/pipeline) ==== */

static void commit_now(void)
{
	(void)eh_pipeline_commit(&D.pipe); /* a failure stops the loop (pipe_failed) */
}

static uint64_t pipe_match(void *ctx, const struct eh_note *n)
{
	struct daemon *d = ctx;
	return eh_config_match(&d->config, n);
}

/* A journalled message's input type; config and catalog topics are
 * retained (the broker sends them again on subscribe, and what it no
 * longer holds was deleted): a journalled copy is skipped. */
static int pipe_input_type(void *ctx, const char *topic)
{
	struct daemon *d = ctx;
	if (eh_control_owns(&d->control, topic))
		return -1;
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		if (eh_mqtt_topic_matches(d->boot.inputs[t], topic))
			return (int)t;
	return -1;
}

static void pipe_kick(void *ctx, unsigned slot, unsigned type)
{
	struct daemon *d = ctx;
	eh_delivery_kick(&d->delivery, slot, type);
}

static void pipe_appended(void *ctx, uint64_t seq)
{
	struct daemon *d = ctx;
	eh_status_pub_appended(&d->status, seq, eh_loop_now(&d->loop));
}

static void pipe_peeked(void *ctx, unsigned slot, unsigned type, uint64_t oldest_seq)
{
	struct daemon *d = ctx;
	eh_status_pub_peeked(&d->status, slot, type, oldest_seq);
}

static void pipe_failed(void *ctx, eh_err rc, bool journal)
{
	struct daemon *d = ctx;
	(void)rc;
	d->exit_code = journal ? EXIT_STORAGE : 1;
	eh_loop_stop(&d->loop);
}

static const struct eh_pipeline_ops pipeline_ops = {
    .match = pipe_match,
    .input_type = pipe_input_type,
    .kick = pipe_kick,
    .appended = pipe_appended,
    .peeked = pipe_peeked,
    .failed = pipe_failed,
};

/* ==== Control plane seams ==== */

static eh_err ctl_publish(void *ctx, const char *topic, const char *body, size_t len, int qos,
			  bool retain)
{
	struct daemon *d = ctx;
	if (!d->mqtt_open)
		return EH_ERR_CLOSED;
	return eh_mqtt_publish(&d->mqtt, topic, body, len, qos, retain);
}

static void ctl_slot_reset(void *ctx, unsigned slot)
{
	struct daemon *d = ctx;
	eh_queue_slot_reset(&d->queue, slot);
}

static void ctl_webhook_set(void *ctx, unsigned slot, const struct eh_webhook *w)
{
	struct daemon *d = ctx;
	eh_delivery_set_webhook(&d->delivery, slot, w);
	if (w == NULL)
		eh_status_pub_forget(&d->status, slot);
}

static void ctl_changed(void *ctx)
{
	struct daemon *d = ctx;
	eh_pipeline_schedule(&d->pipe); /* slot resets are persisted with the next commit */
}

static const struct eh_control_ops control_ops = {ctl_publish, ctl_slot_reset, ctl_webhook_set,
						  ctl_changed};

/* ==== MQTT handlers (loop thread) ==== */

static void on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac, struct eh_mqtt_msg *m)
{
	(void)ctx;

	if (eh_control_message(&D.control, topic, payload, len, hmac)) {
		eh_mqtt_done(&D.mqtt, m);
		return;
	}
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		if (!eh_mqtt_topic_matches(D.boot.inputs[t], topic))
			continue;
		eh_pipeline_offer(&D.pipe, t, payload, len, m);
		return;
	}
	EH_LOG_DBG("mqtt", "message on unexpected topic %s ignored", topic);
	eh_mqtt_done(&D.mqtt, m);
}

static void on_connect(void *ctx, bool session_present)
{
	(void)ctx;
	if (D.mqtt_connected)
		return;
	D.mqtt_connected = true;
	(void)session_present; /* the driver logs the connection */
	eh_status_pub_publish(&D.status, true);
	eh_control_on_connect(&D.control); /* clears, then the fence */
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

/* A given-up batch: QoS 1 on P/deadletter/<id>; it leaves the queue only
 * when the broker's PUBACK comes back (on_published). */
static eh_err deadletter(void *ctx, const struct eh_webhook *wh, unsigned type, const char *body,
			 size_t len, uint64_t tag)
{
	char t[EH_BOOT_TOPIC_MAX + 32];
	(void)ctx;
	(void)type;
	if (!D.mqtt_open || !D.mqtt_connected)
		return EH_ERR_CLOSED;
	snprintf(t, sizeof(t), "%s/deadletter/%u", D.boot.topic_prefix, wh->id);
	eh_err rc = eh_mqtt_publish_tracked(&D.mqtt, t, body, len, tag);
	if (rc != EH_OK)
		EH_LOG_WRN("mqtt", "dead letter for webhook %u not published now: %s", wh->id,
			   eh_err_str(rc));
	return rc;
}

static void on_published(void *ctx, uint64_t tag, bool ok)
{
	(void)ctx;
	eh_delivery_deadletter_done(&D.delivery, tag, ok);
}

/* ==== Status sources and sink ==== */

static void st_ingest(void *ctx, struct eh_status_ingest *out)
{
	struct daemon *d = ctx;
	*out = *eh_pipeline_ingest_stats(&d->pipe);
}

static void st_config(void *ctx, struct eh_status_config *out)
{
	struct daemon *d = ctx;
	eh_control_status(&d->control, out);
}

static void st_queue(void *ctx, struct eh_status_queue *out, uint64_t drops[EH_MAX_WEBHOOKS])
{
	struct daemon *d = ctx;
	struct eh_queue_stats qs;
	eh_queue_stats(&d->queue, &qs);
	memset(out, 0, sizeof(*out));
	out->capacity_bytes = qs.capacity_bytes;
	out->used_bytes = qs.used_bytes;
	out->records = qs.records;
	out->corrupt = qs.corrupt_skipped;
	out->bytes_written = qs.bytes_written;
	out->syncs = qs.syncs;
	out->full_policy = d->boot.queue.full_policy == EH_BOOT_BLOCK ? "block" : "drop_oldest";
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		drops[s] = qs.drops[s];
}

static bool st_mqtt(void *ctx, uint64_t *reconnects)
{
	struct daemon *d = ctx;
	*reconnects = d->mqtt_reconnects;
	return d->mqtt_connected;
}

static uint32_t st_webhook(void *ctx, unsigned slot, bool *active)
{
	struct daemon *d = ctx;
	*active = d->config.webhooks[slot].active;
	return d->config.webhooks[slot].id;
}

static void st_slot(void *ctx, unsigned slot, struct eh_status_slot *out)
{
	struct daemon *d = ctx;
	struct eh_delivery_wstats ws;
	eh_delivery_stats(&d->delivery, slot, &ws);
	out->sent = ws.sent;
	out->failed_attempts = ws.failed_attempts;
	out->dead_lettered = ws.dead_lettered;
	out->dead_letters_pending = ws.dead_letters_pending;
	snprintf(out->last_error, sizeof(out->last_error), "%s", ws.last_error);
	out->last_error_ms = ws.last_error_ms;
	out->last_success_ms = ws.last_success_ms;
	out->attempt = ws.attempt;
	out->next_attempt_at_ms = ws.next_attempt_at_ms;
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		out->by_type[t].sent = ws.by_type[t].sent;
		out->by_type[t].failed_attempts = ws.by_type[t].failed_attempts;
		out->by_type[t].dead_lettered = ws.by_type[t].dead_lettered;
	}
}

static uint64_t st_lag(void *ctx, unsigned slot, unsigned type)
{
	struct daemon *d = ctx;
	return eh_queue_lag(&d->queue, slot, type);
}

static uint64_t st_cursor(void *ctx, unsigned slot, unsigned type)
{
	struct daemon *d = ctx;
	return eh_queue_cursor(&d->queue, slot, type);
}

static const struct eh_status_pub_sources status_sources = {
    st_ingest, st_config, st_queue, st_mqtt, st_webhook, st_slot, st_lag, st_cursor};

static void st_publish(void *ctx, const char *topic, const char *body, size_t len)
{
	(void)ctx;
	publish(topic, body, len, 1, true);
}

static void st_changed(void *ctx)
{
	struct daemon *d = ctx;
	if (d->coap_open)
		eh_coap_status_changed(&d->coap);
}

static void st_alive(void *ctx)
{
	(void)ctx;
	eh_notify("WATCHDOG=1");
}

static const struct eh_status_pub_sink status_sink = {st_publish, st_changed, st_alive};

static size_t status_json(void *ctx, char *buf, size_t cap)
{
	struct daemon *d = ctx;
	return eh_status_pub_json(&d->status, buf, cap);
}

/* ==== CoAP handlers ==== */

static eh_err coap_webhook(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len)
{
	struct daemon *d = ctx;
	return eh_status_pub_webhook_json(&d->status, id, buf, cap, len);
}

/* CoAP answers 2.04 only once the notification is durable, so this path
 * commits at once instead of waiting for the group commit. */
static eh_err coap_ingest(void *ctx, unsigned type, const uint8_t *payload, size_t len, char *diag,
			  size_t diag_cap)
{
	struct daemon *d = ctx;
	return eh_pipeline_ingest_now(&d->pipe, type, payload, len, diag, diag_cap, NULL);
}

/* ==== HTTP listener handlers (CONTRACT 9.5) ==== */

/* A body POSTed to /in (type EH_HTTPD_TYPE_AUTO: each element's webhook_type) or
 * /in/<type>. Validated whole before anything is appended; answered 200 only after the
 * commit, so a kill -9 after the answer loses nothing. */
static eh_err http_ingest(void *ctx, int type, const uint8_t *body, size_t len, size_t *accepted,
			  char *diag, size_t diag_cap)
{
	struct daemon *d = ctx;

	if (d->stopping) {
		snprintf(diag, diag_cap, "queue full");
		return EH_ERR_NOSPC;
	}
	return eh_pipeline_ingest_now(
	    &d->pipe, type == EH_HTTPD_TYPE_AUTO ? EH_INGEST_BY_WEBHOOK_TYPE : (unsigned)type, body,
	    len, diag, diag_cap, accepted);
}

static size_t http_metrics(void *ctx, char *buf, size_t cap)
{
	struct daemon *d = ctx;
	return eh_status_pub_metrics(&d->status, buf, cap);
}

static int open_httpd(void)
{
	static struct eh_httpd_mhd st;
	static const struct eh_httpd_handlers hh = {status_json, http_metrics, http_ingest, &D};
	struct eh_httpd_config hc;

	if (D.boot.http.port == 0)
		return -1;
	memset(&hc, 0, sizeof(hc));
	hc.bind = D.boot.http.bind;
	hc.port = D.boot.http.port;
	hc.token = D.boot.http_token_len ? D.boot.http_token : NULL;
	hc.token_len = D.boot.http_token_len;
	hc.max_body = EH_MAX_MSG_BYTES;
	eh_httpd_mhd_init(&D.httpd, &st);
	if (eh_httpd_open(&D.httpd, &hc, &D.loop, &hh) != EH_OK) {
		EH_LOG_ERR("httpd", "cannot listen on %s port %u", hc.bind, hc.port);
		return 1;
	}
	D.httpd_open = true;
	return -1;
}

/* ==== Loop glue ==== */

static void reload(void);

/* Once per loop iteration, after the events: deferred work. */
static void on_tick(struct eh_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	if (!D.stopping)
		eh_pipeline_tick(&D.pipe); /* journalled, then held input, once room appears */
}

/* A planned stop (CONTRACT 9.4): take no more input, let POSTs in flight
 * finish for up to stop_grace_s (their acks are committed by stop()), then
 * leave the loop. A receiver that answers in time sees no duplicate. */
static void drain_check(struct eh_loop *l, void *arg)
{
	(void)arg;
	D.drain_timer = 0;
	unsigned n = eh_delivery_drain(&D.delivery);
	if (n == 0 || eh_loop_now(l) >= D.stop_deadline_ms) {
		if (n)
			EH_LOG_WRN("edgehookd",
				   "stop: %u POSTs still in flight after %u s; "
				   "they are sent again after the restart",
				   n, (unsigned)D.boot.stop_grace_s);
		eh_loop_stop(l);
		return;
	}
	eh_loop_after(l, 10, drain_check, NULL, &D.drain_timer);
}

static void begin_stop(struct eh_loop *l)
{
	D.stopping = true;
	eh_notify("STOPPING=1");
	if (D.mqtt_open)
		eh_mqtt_pause(&D.mqtt);
	unsigned n = eh_delivery_drain(&D.delivery);
	EH_LOG_INF("edgehookd", "stopping: %u POSTs in flight may finish within %u s", n,
		   (unsigned)D.boot.stop_grace_s);
	D.stop_deadline_ms = eh_loop_now(l) + (uint64_t)D.boot.stop_grace_s * 1000u;
	drain_check(l, NULL);
}

static void on_wake(struct eh_loop *l, void *arg)
{
	(void)arg;
	if (eh_signal_stop_requested() && !D.stopping) {
		begin_stop(l);
		return;
	}
	if (eh_signal_take_hup())
		reload();
	if (D.mqtt_open)
		eh_mqtt_poll(&D.mqtt);
}

/* ==== The MQTT driver's journal hook (app/pipeline's journal) ==== */

static bool journal_append(void *ctx, const char *topic, const char *hmac, const void *payload,
			   size_t len, uint64_t *seq)
{
	struct daemon *d = ctx;
	return eh_pipeline_journal_append(&d->pipe, topic, hmac, payload, len, seq);
}

static void journal_done(void *ctx, uint64_t seq)
{
	struct daemon *d = ctx;
	eh_pipeline_journal_done(&d->pipe, seq);
}

/* ==== Start-up ==== */

/* The bootstrap's mqtt.tls as the MQTT driver takes it. */
static void mqtt_tls_of(const struct eh_bootstrap *b, struct eh_mqtt_tls *t)
{
	memset(t, 0, sizeof(*t));
	t->ca_file = eh_bootstrap_mqtt_ca(b);
	t->cert_file = b->mqtt.tls.cert_file[0] ? b->mqtt.tls.cert_file : NULL;
	t->key_file = b->mqtt.tls.key_file[0] ? b->mqtt.tls.key_file : NULL;
	t->no_verify_host = !b->mqtt.tls.verify_host;
}

/* CONTRACT 9.1: the broker's TLS files are loaded now, by --check-config
 * too, so a bad one stops the start instead of failing every connect. */
static void check_mqtt_tls(const struct eh_bootstrap *b, struct eh_errs *errs)
{
	struct eh_mqtt_tls t;
	const char *bad = NULL;
	char why[EH_BOOT_PATH_MAX + 64], key[32];

	if (!b->mqtt.use_tls)
		return;
	mqtt_tls_of(b, &t);
	if (eh_mqtt_tls_check(&t, &bad, why, sizeof(why)) == EH_OK)
		return;
	if (bad == NULL) { /* the library for mqtts:// is missing */
		eh_errs_add(errs, "mqtt.uri", "%s", why);
		return;
	}
	if (strcmp(bad, "ca_file") == 0 && b->mqtt.tls.ca_file[0] == '\0') {
		eh_errs_add(errs, "tls.ca_file", "%s (the CA for mqtts://)", why);
		return;
	}
	snprintf(key, sizeof(key), "mqtt.tls.%s", bad);
	eh_errs_add(errs, key, "%s", why);
}

static char print_buf[EH_BOOT_BOOTFILE_MAX];

static int load_config(const char *path, enum eh_boot_cli_mode mode, const char *level)
{
	struct eh_errs errs;
	int rc;

	eh_errs_init(&errs);
	if (eh_bootstrap_load_all(path, &D.boot, &errs) == EH_OK)
		check_mqtt_tls(&D.boot, &errs);
	rc = eh_bootstrap_cli_finish(path, &D.boot, &errs, level, mode, print_buf,
				     sizeof(print_buf), stdout, stderr);
	if (rc < 0) {
		D.config_path = path;
		D.level_override = level != NULL;
	}
	return rc;
}

/* ==== SIGHUP ==== */

static void mqtt_reconnect(const struct eh_bootstrap *nb);

/* Read the bootstrap file again: the log level and the CA bundle apply now
 * (the bundle from the next connection on), MQTT credentials and TLS files
 * by a reconnect; every other change is named and waits for a restart
 * (eh_bootstrap_diff decides which is which). A file with any problem
 * changes nothing. */
static void reload(void)
{
	static struct eh_bootstrap nb;
	struct eh_boot_diff d;
	struct eh_errs errs;
	eh_err rc;

	eh_errs_init(&errs);
	if (eh_bootstrap_load_all(D.config_path, &nb, &errs) != EH_OK) {
		for (unsigned i = 0; i < errs.n; i++)
			EH_LOG_ERR("edgehookd", "SIGHUP: %s: %s", D.config_path, errs.msg[i]);
		EH_LOG_ERR("edgehookd", "SIGHUP: %s refused: nothing reloaded", D.config_path);
		return;
	}
	eh_bootstrap_diff(&D.boot, &nb, &d);
	if ((d.apply & EH_BOOT_APPLY_LOG_LEVEL) && !D.level_override) {
		D.boot.log_level = nb.log_level;
		eh_log_set_level(nb.log_level);
		EH_LOG_INF("edgehookd", "SIGHUP: log level now %d", nb.log_level);
	}
	if (d.apply & EH_BOOT_APPLY_CA) {
		snprintf(D.boot.ca_file, sizeof(D.boot.ca_file), "%s", nb.ca_file);
		rc = eh_delivery_reload_ca(&D.delivery, D.boot.ca_file);
		if (rc == EH_ERR_AGAIN)
			EH_LOG_INF("edgehookd",
				   "SIGHUP: CA bundle %s: reloaded once the POSTs in flight "
				   "end",
				   D.boot.ca_file);
		else if (rc != EH_OK && rc != EH_ERR_INVAL)
			EH_LOG_ERR("edgehookd", "SIGHUP: CA bundle %s: %s; the old one stays",
				   D.boot.ca_file, eh_err_str(rc));
	}
	if (d.apply & EH_BOOT_APPLY_STOP_GRACE)
		D.boot.stop_grace_s = nb.stop_grace_s;
	for (unsigned i = 0; i < d.n_restart; i++)
		EH_LOG_WRN("edgehookd", "SIGHUP: %s changed: it takes effect at the next restart",
			   d.restart_keys[i]);
	if (d.apply & EH_BOOT_APPLY_MQTT)
		mqtt_reconnect(&nb);
}

_Static_assert(EH_TLS_POOL_CONNS >= EH_HTTPS_MAX_CONNS, "a pool transport per connection");

#ifndef EH_MAIN_QUEUE_CACHE
#define EH_MAIN_QUEUE_CACHE (128u * 1024u) /* the queue's read cache at most */
#endif

static int open_queue(void)
{
	struct eh_queue_config qc;
	snprintf(D.journal_path, sizeof(D.journal_path), "%s.journal", D.boot.queue.path);
	snprintf(D.seen_path, sizeof(D.seen_path), "%s.seen", D.boot.queue.path);
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
	qc.full_policy =
	    D.boot.queue.full_policy == EH_BOOT_BLOCK ? EH_QUEUE_BLOCK : EH_QUEUE_DROP_OLDEST;
	/* The id a blank device is formatted with (unused on a formatted one). */
	if (eh_crypto_random(&qc.uid, sizeof(qc.uid)) != EH_OK || qc.uid == 0) {
		EH_LOG_ERR("queue", "no random bytes for the queue's id");
		eh_flash_close(&D.flash);
		return EXIT_STORAGE;
	}
	/* The newest records are read back from RAM: a window of the newest
	 * segment's bytes, the segment size up to EH_MAIN_QUEUE_CACHE. Taken
	 * once here, kept until exit; pages become resident as they are
	 * written. Without it (no memory) the queue reads the device. Its
	 * size comes from the device's geometry, known only now, so it is the
	 * daemon's one heap call, made before the loop runs (STYLE: no
	 * allocation after init; tests/style/heap-allowlist.txt). */
	qc.cache_bytes =
	    D.flash.block_size < EH_MAIN_QUEUE_CACHE ? D.flash.block_size : EH_MAIN_QUEUE_CACHE;
	qc.cache = malloc(qc.cache_bytes);
	if (qc.cache == NULL)
		qc.cache_bytes = 0;
	uint64_t t0 = eh_time_mono_us();
	rc = eh_queue_open(&D.queue, &qc);
	if (rc != EH_OK) {
		EH_LOG_ERR("queue", "cannot mount %s: %s", D.boot.queue.path, eh_err_str(rc));
		eh_flash_close(&D.flash);
		return EXIT_STORAGE;
	}
	struct eh_queue_stats qs;
	eh_queue_stats(&D.queue, &qs);
	EH_LOG_INF("queue",
		   "%s mounted in %llu us: %llu records, %llu of %llu bytes used, "
		   "%llu damaged records skipped",
		   D.boot.queue.path, (unsigned long long)(eh_time_mono_us() - t0),
		   (unsigned long long)qs.records, (unsigned long long)qs.used_bytes,
		   (unsigned long long)qs.capacity_bytes, (unsigned long long)qs.corrupt_skipped);
	return -1;
}

static struct eh_mqtt_handlers mqtt_handlers = {on_message, on_connect, on_disconnect, on_published,
						NULL};

/* The MQTT settings from the bootstrap (strings borrowed from D.boot). */
static void mqtt_config(struct eh_mqtt_config *mc)
{
	static const char offline[] = "{\"state\":\"offline\"}";

	memset(mc, 0, sizeof(*mc));
	mc->journal.append = journal_append;
	mc->journal.done = journal_done;
	mc->journal.ctx = &D;
	mc->uri = D.boot.mqtt.uri;
	mc->client_id = D.boot.mqtt.client_id;
	mc->username = D.boot.mqtt.username[0] ? D.boot.mqtt.username : NULL;
	mc->password = D.boot.has_password ? D.boot.password : NULL;
	mqtt_tls_of(&D.boot, &mc->tls);
	mc->keepalive_s = D.boot.mqtt.keepalive_s;
	mc->will_topic = D.topic_status;
	mc->will_payload = offline;
	mc->subs = D.subs;
	mc->subs_qos = NULL; /* all QoS 1 */
	mc->nsubs = 3 + eh_control_subs(&D.control, D.subs + 3, EH_CONTROL_SUBS_MAX);
	mc->max_packet_bytes = D.boot.mqtt.max_packet_bytes;
}

/* SIGHUP with new MQTT credentials or certificates: close the connection
 * (what the library had taken is handed over and committed, as at a stop)
 * and open it again with the new settings; the session resumes. Not while
 * input is held under `block` (held messages belong to the connection). */
static void mqtt_reconnect(const struct eh_bootstrap *nb)
{
	struct eh_mqtt_config mc;

	if (eh_pipeline_holding(&D.pipe)) {
		EH_LOG_WRN("edgehookd", "SIGHUP: mqtt settings not applied: input is held (full "
					"queue); send SIGHUP again once it flows");
		return;
	}
	if (D.mqtt_open) {
		eh_mqtt_close(&D.mqtt);
		D.mqtt_open = false;
	}
	commit_now();
	D.mqtt_connected = false;
	memcpy(D.boot.mqtt.username, nb->mqtt.username, sizeof(D.boot.mqtt.username));
	memcpy(D.boot.password, nb->password, sizeof(D.boot.password));
	D.boot.has_password = nb->has_password;
	memcpy(&D.boot.mqtt.tls, &nb->mqtt.tls, sizeof(D.boot.mqtt.tls));
	D.boot.mqtt.keepalive_s = nb->mqtt.keepalive_s;
	D.boot.mqtt.max_packet_bytes = nb->mqtt.max_packet_bytes;
	mqtt_config(&mc);
	if (eh_mqtt_open(&D.mqtt, &mc, &D.loop, &mqtt_handlers) != EH_OK) {
		EH_LOG_ERR("mqtt", "SIGHUP: cannot start the MQTT client again: stopping");
		D.exit_code = 1;
		eh_loop_stop(&D.loop);
		return;
	}
	D.mqtt_open = true;
	EH_LOG_INF("edgehookd", "SIGHUP: mqtt credentials and certificates reloaded: reconnecting");
}

static int start(void)
{
	struct eh_config_init ci;
	struct eh_delivery_config dc;
	struct eh_mqtt_config mc;
	static char versions_path[EH_BOOT_PATH_MAX + 16];
	static char store_path[EH_BOOT_PATH_MAX + 16];
	int rc;

	if ((rc = open_queue()) >= 0)
		return rc;

	snprintf(D.topic_status, sizeof(D.topic_status), "%s/status", D.boot.topic_prefix);
	snprintf(versions_path, sizeof(versions_path), "%s.versions", D.boot.queue.path);
	snprintf(store_path, sizeof(store_path), "%s.config", D.boot.queue.path);

	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = D.boot.topic_prefix;
	ci.allow_plain_http = D.boot.allow_plain_http;
	ci.hmac_key = D.boot.hmac_key_len ? D.boot.hmac_key : NULL;
	ci.hmac_key_len = D.boot.hmac_key_len;
	ci.versions_path = versions_path;
	ci.check_webhook = eh_delivery_check_webhook;
	ci.check_ctx = &D.delivery;
	ci.fleet_prefixes = D.boot.fleet_list;
	ci.nfleet = D.boot.n_fleet;
	ci.stored = eh_control_stored;
	ci.stored_ctx = &D.store;
	if (eh_config_init(&D.config, &ci) != EH_OK) {
		EH_LOG_ERR("config", "cannot read %s", versions_path);
		return EXIT_STORAGE;
	}

	if (eh_loop_init(&D.loop, &eh_clock_system) != EH_OK)
		return 1;
	D.started_ms = eh_loop_now(&D.loop);
	struct eh_status_pub_config sc = {
	    .loop = &D.loop,
	    .src = &status_sources,
	    .src_ctx = &D,
	    .sink = &status_sink,
	    .sink_ctx = &D,
	    .topic_prefix = D.boot.topic_prefix,
	    .version = EH_VERSION,
	    .device_id = D.boot.device_id,
	    .watchdog_ms = eh_notify_watchdog_ms(),
	};
	eh_status_pub_init(&D.status, &sc);
	struct eh_control_config ctl = {
	    .config = &D.config,
	    .store = &D.store,
	    .topic_prefix = D.boot.topic_prefix,
	    .fleet_prefixes = D.boot.fleet_list,
	    .nfleet = D.boot.n_fleet,
	    .signed_mode = D.boot.hmac_key_len != 0,
	    .clock = &eh_clock_system,
	    .ops = &control_ops,
	    .ctx = &D,
	};
	if (eh_control_init(&D.control, &ctl) != EH_OK) {
		EH_LOG_ERR("config", "topic prefixes too long for the config topics");
		return EXIT_USAGE;
	}
	struct eh_pipeline_config pc = {
	    .loop = &D.loop,
	    .queue = &D.queue,
	    .mqtt = &D.mqtt,
	    .journal_path = D.journal_path,
	    .seen_path = D.seen_path,
	    .ops = &pipeline_ops,
	    .ctx = &D,
	};
	eh_pipeline_open(&D.pipe, &pc);
	eh_signal_install(&D.loop);
	eh_loop_on_wake(&D.loop, on_wake, NULL);
	eh_loop_on_tick(&D.loop, on_tick, NULL);

	memset(&dc, 0, sizeof(dc));
	dc.loop = &D.loop;
	dc.clock = &eh_clock_system;
	dc.allow_plain_http = D.boot.allow_plain_http;
	dc.queue_uid = eh_queue_uid(&D.queue);
	dc.source = &eh_pipeline_source_ops;
	dc.source_ctx = &D.pipe;
	dc.ctx = &D;
	dc.render = render;
	dc.note_id = note_id;
	dc.deadletter = deadletter;
	dc.proxy_host = D.boot.https_proxy.host[0] ? D.boot.https_proxy.host : NULL;
	dc.proxy_port = D.boot.https_proxy.port;
	dc.no_proxy = D.boot.no_proxy_list;
	dc.n_no_proxy = D.boot.n_no_proxy;
	eh_resolver_init(&D.resolver, NULL);
	if (eh_resolver_open(&D.resolver) != EH_OK) {
		EH_LOG_ERR("resolve", "cannot start the resolver threads");
		return 1;
	}
	eh_tls_pool_init(&D.tls_pool);
	eh_tls_pool_resolver(&D.tls_pool, &D.resolver);
	if (eh_tls_pool_open(&D.tls_pool, D.boot.ca_file) != EH_OK) {
		EH_LOG_ERR("delivery", "cannot start (CA file %s)", D.boot.ca_file);
		return 1;
	}
	dc.transport = &eh_tls_pool_factory;
	dc.transport_ctx = &D.tls_pool;
	dc.not_before_s = EH_BUILD_EPOCH;
	if (eh_delivery_init(&D.delivery, &dc) != EH_OK) {
		EH_LOG_ERR("delivery", "cannot start");
		return 1;
	}
	D.subs[0] = D.boot.inputs[0];
	D.subs[1] = D.boot.inputs[1];
	D.subs[2] = D.boot.inputs[2];
	mqtt_config(&mc);
	eh_err src = eh_config_store_open(&D.store, store_path);
	if (src == EH_OK) {
		/* Start: the broker's retained webhooks on a clean connection (no
		 * session backlog in front of them); the stored ones it no longer
		 * holds are forgotten before the store is replayed. */
		const char *filters[EH_CONTROL_SUBS_MAX];
		size_t nf = eh_control_snapshot_filters(&D.control, filters, EH_CONTROL_SUBS_MAX);
		eh_control_snapshot_begin(&D.control);
		eh_err snap = eh_mqtt_retained_snapshot_many(
		    &mc, filters, nf, eh_control_fence_topic(&D.control), SNAPSHOT_MS,
		    eh_control_snapshot_topic, &D.control);
		eh_control_reconcile_at_start(&D.control, snap);
		eh_control_replay(&D.control);
	} else
		EH_LOG_ERR("config",
			   "%s is damaged (%s): starting without webhooks until the "
			   "retained config arrives",
			   store_path, eh_err_str(src));

	bool paused;
	if (eh_pipeline_replay_at_start(&D.pipe, &paused) != EH_OK)
		return EXIT_STORAGE; /* the journal is kept as it is */
	mc.start_paused = paused;
	eh_mqtt_paho_init(&D.mqtt, &D.mqtt_paho);
	if (eh_mqtt_open(&D.mqtt, &mc, &D.loop, &mqtt_handlers) != EH_OK) {
		EH_LOG_ERR("mqtt", "cannot start the MQTT client for %s", D.boot.mqtt.uri);
		return 1;
	}
	D.mqtt_open = true;

	if (D.boot.coap.port != 0) {
		static struct eh_coap_handlers chs = {status_json, coap_webhook, coap_ingest, &D};
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
	if ((rc = open_httpd()) >= 0)
		return rc;

	if (eh_status_pub_start(&D.status) != EH_OK)
		return 1;
	eh_notify("READY=1\nSTATUS=running");
	EH_LOG_INF("edgehookd", "edgehookd ready: version %s, device %s, queue %s", EH_VERSION,
		   D.boot.device_id, D.boot.queue.path);
	return -1;
}

/* SIGTERM: finish the in-flight queue write, persist cursors, abandon an
 * in-flight POST (re-sent after restart with the same key), publish
 * offline, disconnect. */
static void stop(void)
{
	static const char offline[] = "{\"state\":\"offline\"}";
	if (!D.stopping)
		eh_notify("STOPPING=1");
	EH_LOG_INF("edgehookd", "stopping");
	eh_delivery_stop(&D.delivery);
	eh_tls_pool_free(&D.tls_pool);
	eh_resolver_close(&D.resolver);
	if (D.coap_open)
		eh_coap_close(&D.coap);
	if (D.httpd_open)
		eh_httpd_close(&D.httpd);
	commit_now();
	if (D.mqtt_open) {
		publish(D.topic_status, offline, sizeof(offline) - 1, 1, true);
		eh_mqtt_close(&D.mqtt); /* may hand over messages the library had taken */
		D.mqtt_open = false;
	}
	eh_pipeline_close(&D.pipe); /* what close handed over is made durable now */
	eh_queue_close(&D.queue);
	eh_flash_close(&D.flash);
	eh_status_pub_stop(&D.status);
	eh_loop_deinit(&D.loop);
	EH_LOG_INF("edgehookd", "stopped");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"print-config", no_argument, NULL, 'p'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *level = NULL;
	bool check = false, print = false;
	enum eh_boot_cli_mode mode;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'p':
			print = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			eh_bootstrap_cli_usage(stdout);
			return 0;
		case 'V':
			eh_bootstrap_cli_version(stdout);
			return 0;
		default:
			eh_bootstrap_cli_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		eh_bootstrap_cli_usage(stderr);
		return EXIT_USAGE;
	}
	mode = print ? EH_BOOT_CLI_PRINT : check ? EH_BOOT_CLI_CHECK : EH_BOOT_CLI_RUN;
	if ((rc = load_config(path, mode, level)) >= 0)
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
