/* SPDX-License-Identifier: Apache-2.0 */
/* eh_status.c - status JSON rendering with a bounded writer. */
#include "eh_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ==== JSON writer ==== */

void eh_jw_init(struct eh_jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = cap == 0;
	w->need_comma = false;
}

static void jw_put(struct eh_jw *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n + 1 > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void eh_jw_raw(struct eh_jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_value_prefix(struct eh_jw *w)
{
	if (w->need_comma)
		jw_put(w, ",", 1);
	w->need_comma = true;
}

static void jw_string(struct eh_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	jw_put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jw_put(w, esc, 2);
		} else if (*p < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			jw_put(w, esc, 6);
		} else {
			jw_put(w, (const char *)p, 1);
		}
	}
	jw_put(w, "\"", 1);
}

void eh_jw_key(struct eh_jw *w, const char *key)
{
	jw_value_prefix(w);
	jw_string(w, key);
	jw_put(w, ":", 1);
	w->need_comma = false;
}

void eh_jw_str(struct eh_jw *w, const char *s)
{
	jw_value_prefix(w);
	jw_string(w, s);
}

void eh_jw_u64(struct eh_jw *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	jw_value_prefix(w);
	jw_put(w, num, (size_t)n);
}

void eh_jw_bool(struct eh_jw *w, bool v)
{
	jw_value_prefix(w);
	eh_jw_raw(w, v ? "true" : "false");
}

void eh_jw_null(struct eh_jw *w)
{
	jw_value_prefix(w);
	eh_jw_raw(w, "null");
}

void eh_jw_open(struct eh_jw *w, char c)
{
	jw_value_prefix(w);
	jw_put(w, &c, 1);
	w->need_comma = false;
}

void eh_jw_close(struct eh_jw *w, char c)
{
	jw_put(w, &c, 1);
	w->need_comma = true;
}

size_t eh_jw_end(struct eh_jw *w)
{
	if (w->overflow) {
		if (w->cap > 0)
			w->buf[0] = '\0';
		return 0;
	}
	return w->len;
}

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
