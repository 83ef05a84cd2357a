/* SPDX-License-Identifier: Apache-2.0 */
/* eh_status.c - status JSON rendering with the bounded writer of app/json. */
#include "eh_status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eh_jw.h"

/* ==== Status documents ==== */

static void kv_u64(struct eh_jw *w, const char *k, uint64_t v)
{
	eh_jw_key(w, k);
	eh_jw_u64(w, v);
}

size_t eh_status_render(const struct eh_status_figures *f, char *buf, size_t cap)
{
	struct eh_jw w;
	eh_jw_init(&w, buf, cap);
	eh_jw_open(&w, '{');
	eh_jw_key(&w, "state");
	eh_jw_str(&w, f->state ? f->state : "online");
	eh_jw_key(&w, "version");
	eh_jw_str(&w, f->version ? f->version : "");
	eh_jw_key(&w, "device_id");
	eh_jw_str(&w, f->device_id ? f->device_id : "");
	kv_u64(&w, "uptime_s", f->uptime_s);
	eh_jw_key(&w, "mqtt");
	eh_jw_open(&w, '{');
	eh_jw_key(&w, "connected");
	eh_jw_bool(&w, f->mqtt_connected);
	kv_u64(&w, "reconnects", f->mqtt_reconnects);
	eh_jw_close(&w, '}');
	eh_jw_key(&w, "input");
	eh_jw_open(&w, '{');
	kv_u64(&w, "messages", f->in.messages);
	kv_u64(&w, "notifications", f->in.notifications);
	kv_u64(&w, "queued", f->in.queued);
	kv_u64(&w, "unmatched", f->in.unmatched);
	kv_u64(&w, "rejected", f->in.rejected);
	kv_u64(&w, "oversize", f->in.oversize);
	kv_u64(&w, "duplicates", f->in.duplicates);
	kv_u64(&w, "blocked", f->in.blocked);
	eh_jw_close(&w, '}');
	eh_jw_key(&w, "config");
	eh_jw_open(&w, '{');
	kv_u64(&w, "webhooks", f->config.webhooks);
	kv_u64(&w, "active", f->config.active);
	kv_u64(&w, "accepted", f->config.accepted);
	kv_u64(&w, "refused", f->config.refused);
	kv_u64(&w, "bad_ids", f->config.bad_ids);
	eh_jw_key(&w, "signed");
	eh_jw_bool(&w, f->config.signed_mode);
	eh_jw_close(&w, '}');
	eh_jw_key(&w, "queue");
	eh_jw_open(&w, '{');
	kv_u64(&w, "capacity_bytes", f->queue.capacity_bytes);
	kv_u64(&w, "used_bytes", f->queue.used_bytes);
	kv_u64(&w, "records", f->queue.records);
	kv_u64(&w, "dropped", f->queue.dropped);
	kv_u64(&w, "corrupt", f->queue.corrupt);
	kv_u64(&w, "bytes_written", f->queue.bytes_written);
	kv_u64(&w, "syncs", f->queue.syncs);
	eh_jw_key(&w, "full_policy");
	eh_jw_str(&w, f->queue.full_policy ? f->queue.full_policy : "");
	eh_jw_close(&w, '}');
	eh_jw_key(&w, "delivery");
	eh_jw_open(&w, '{');
	kv_u64(&w, "sent", f->sent);
	kv_u64(&w, "failed_attempts", f->failed_attempts);
	kv_u64(&w, "dead_lettered", f->dead_lettered);
	eh_jw_close(&w, '}');
	eh_jw_key(&w, "limits");
	eh_jw_open(&w, '{');
	kv_u64(&w, "webhooks", EH_MAX_WEBHOOKS);
	kv_u64(&w, "filter_ids", EH_FILTER_MAX_IDS);
	kv_u64(&w, "message_bytes", EH_MAX_MSG_BYTES);
	kv_u64(&w, "json_depth", EH_JSON_MAX_DEPTH);
	kv_u64(&w, "array_notifications", EH_MAX_ARRAY_NOTES);
	kv_u64(&w, "batch_size", EH_MAX_BATCH);
	kv_u64(&w, "headers", EH_MAX_HEADERS);
	kv_u64(&w, "catalog_bytes", EH_CATALOG_BYTES);
	kv_u64(&w, "catalog_entries", EH_CATALOG_MAX_ENTRIES);
	eh_jw_close(&w, '}');
	eh_jw_close(&w, '}');
	return eh_jw_end(&w);
}

/* "key": "2026-12-06T12:00:00Z" (UTC, to the second), or null for 0: a
 * time, not a countdown, so the document changes only when it does. */
static void kv_time(struct eh_jw *w, const char *k, uint64_t ms)
{
	char t[32];
	struct tm tm;
	time_t sec = (time_t)(ms / 1000);

	eh_jw_key(w, k);
	if (ms == 0 || gmtime_r(&sec, &tm) == NULL ||
	    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		eh_jw_null(w);
		return;
	}
	eh_jw_str(w, t);
}

size_t eh_status_render_webhook(const struct eh_status_webhook *s, char *buf, size_t cap)
{
	struct eh_jw w;
	eh_jw_init(&w, buf, cap);
	eh_jw_open(&w, '{');
	kv_u64(&w, "id", s->id);
	eh_jw_key(&w, "active");
	eh_jw_bool(&w, s->active);
	eh_jw_key(&w, "queue");
	eh_jw_open(&w, '{');
	kv_u64(&w, "events", s->queue[0]);
	kv_u64(&w, "episodes", s->queue[1]);
	kv_u64(&w, "counters", s->queue[2]);
	eh_jw_close(&w, '}');
	kv_u64(&w, "sent", s->sent);
	kv_u64(&w, "failed_attempts", s->failed_attempts);
	kv_u64(&w, "dropped", s->dropped);
	kv_u64(&w, "dead_lettered", s->dead_lettered);
	kv_u64(&w, "dead_letters_pending", s->dead_letters_pending);
	kv_time(&w, "last_success", s->last_success_ms);
	eh_jw_key(&w, "last_error");
	if (s->last_error[0])
		eh_jw_str(&w, s->last_error);
	else
		eh_jw_null(&w);
	kv_time(&w, "last_error_at", s->last_error[0] ? s->last_error_ms : 0);
	kv_u64(&w, "attempt", s->attempt);
	kv_time(&w, "next_attempt_at", s->next_attempt_at_ms);
	kv_time(&w, "oldest_undelivered_at", s->oldest_ms);
	eh_jw_close(&w, '}');
	return eh_jw_end(&w);
}

/* ==== Prometheus text format ==== */

/* An appender over the caller's buffer: overflow is sticky. */
struct pw {
	char *buf;
	size_t cap, len;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void pw_put(struct pw *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	k = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= w->cap - w->len) {
		w->overflow = true;
		return;
	}
	w->len += (size_t)k;
}

static void pw_family(struct pw *w, const char *name, const char *type, const char *help)
{
	pw_put(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void pw_one(struct pw *w, const char *name, const char *type, const char *help, uint64_t v)
{
	pw_family(w, name, type, help);
	pw_put(w, "%s %llu\n", name, (unsigned long long)v);
}

/* Offsets of the per-type figures, so the five families share one loop. */
static const struct {
	const char *name, *type, *help;
	size_t off;
} per_webhook[] = {
    {"edgehook_webhook_queue_depth", "gauge",
     "Notifications queued for the webhook and not yet delivered.",
     offsetof(struct eh_status_metric_type, depth)},
    {"edgehook_webhook_oldest_age_seconds", "gauge",
     "Age of the oldest undelivered notification (0 when none).",
     offsetof(struct eh_status_metric_type, oldest_age_s)},
    {"edgehook_webhook_sent_total", "counter",
     "Notifications delivered with a 2xx answer since start.",
     offsetof(struct eh_status_metric_type, sent)},
    {"edgehook_webhook_failed_attempts_total", "counter",
     "Delivery attempts that failed since start.",
     offsetof(struct eh_status_metric_type, failed_attempts)},
    {"edgehook_webhook_dead_lettered_total", "counter",
     "Notifications given up and published as dead letters since start.",
     offsetof(struct eh_status_metric_type, dead_lettered)},
};

size_t eh_status_render_metrics(const struct eh_status_figures *f,
				const struct eh_status_metric_webhook *webhooks, size_t n,
				char *buf, size_t cap)
{
	static const char *const types[3] = {"events", "episodes", "counters"};
	struct pw w = {buf, cap, 0, cap == 0};

	pw_one(&w, "edgehook_up", "gauge", "1 while the daemon runs.", 1);
	pw_one(&w, "edgehook_uptime_seconds", "gauge", "Seconds since the daemon started.",
	       f->uptime_s);
	pw_one(&w, "edgehook_mqtt_connected", "gauge", "1 while connected to the MQTT broker.",
	       f->mqtt_connected ? 1 : 0);
	pw_one(&w, "edgehook_mqtt_reconnects_total", "counter",
	       "Connections to the broker lost since start.", f->mqtt_reconnects);
	pw_one(&w, "edgehook_input_messages_total", "counter",
	       "Input messages and request bodies received (MQTT, CoAP, HTTP).", f->in.messages);
	pw_one(&w, "edgehook_input_notifications_total", "counter",
	       "Notifications parsed from accepted input.", f->in.notifications);
	pw_one(&w, "edgehook_input_queued_total", "counter",
	       "Notifications appended to the queue (wanted by at least one webhook).",
	       f->in.queued);
	pw_one(&w, "edgehook_input_unmatched_total", "counter",
	       "Notifications no active webhook wanted.", f->in.unmatched);
	pw_one(&w, "edgehook_input_rejected_total", "counter",
	       "Input messages refused whole (bad JSON, bad element, too large).", f->in.rejected);
	pw_one(&w, "edgehook_input_duplicates_total", "counter",
	       "Redelivered notifications not queued again.", f->in.duplicates);
	pw_one(&w, "edgehook_queue_size_bytes", "gauge", "Capacity of the queue in bytes.",
	       f->queue.capacity_bytes);
	pw_one(&w, "edgehook_queue_used_bytes", "gauge",
	       "Bytes of the queue held by undelivered records.", f->queue.used_bytes);
	pw_one(&w, "edgehook_queue_records", "gauge",
	       "Records between the oldest pending one and the head.", f->queue.records);
	pw_one(&w, "edgehook_queue_dropped_total", "counter",
	       "Records evicted by drop_oldest before delivery (persisted across restarts).",
	       f->queue.dropped);
	pw_one(&w, "edgehook_queue_corrupt_total", "counter", "Damaged records found and skipped.",
	       f->queue.corrupt);
	pw_one(&w, "edgehook_config_webhooks", "gauge", "Webhooks configured.", f->config.webhooks);
	for (size_t m = 0; m < sizeof(per_webhook) / sizeof(per_webhook[0]); m++) {
		pw_family(&w, per_webhook[m].name, per_webhook[m].type, per_webhook[m].help);
		for (size_t i = 0; i < n; i++) {
			for (unsigned t = 0; t < 3; t++) {
				const char *base = (const char *)&webhooks[i].t[t];
				uint64_t v;
				memcpy(&v, base + per_webhook[m].off, sizeof(v));
				pw_put(&w, "%s{webhook=\"%u\",type=\"%s\"} %llu\n",
				       per_webhook[m].name, (unsigned)webhooks[i].id, types[t],
				       (unsigned long long)v);
			}
		}
	}
	if (w.overflow) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	return w.len;
}

/* ==== Append times ==== */

void eh_status_ages_init(struct eh_status_ages *a)
{
	a->head = 0;
	a->n = 0;
	a->wrapped = false;
}

void eh_status_ages_note(struct eh_status_ages *a, uint64_t seq, uint64_t now_ms)
{
	if (a->n > 0) {
		unsigned last = (a->head + EH_STATUS_AGE_SLOTS - 1) % EH_STATUS_AGE_SLOTS;
		if (now_ms - a->e[last].ms < EH_STATUS_AGE_STEP_MS || seq <= a->e[last].seq)
			return; /* within the step: the last entry stands for it */
	}
	a->e[a->head].seq = seq;
	a->e[a->head].ms = now_ms;
	a->head = (a->head + 1) % EH_STATUS_AGE_SLOTS;
	if (a->n < EH_STATUS_AGE_SLOTS)
		a->n++;
	else
		a->wrapped = true;
}

uint64_t eh_status_ages_time(const struct eh_status_ages *a, uint64_t seq, uint64_t fallback_ms)
{
	unsigned first = (a->head + EH_STATUS_AGE_SLOTS - a->n) % EH_STATUS_AGE_SLOTS;
	unsigned lo = 0, hi = a->n; /* entries [0, lo) have seq <= the one asked */

	if (a->n == 0 || seq < a->e[first].seq)
		return a->wrapped && a->n > 0 ? a->e[first].ms : fallback_ms;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (a->e[(first + mid) % EH_STATUS_AGE_SLOTS].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return a->e[(first + lo - 1) % EH_STATUS_AGE_SLOTS].ms;
}
