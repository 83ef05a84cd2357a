/* SPDX-License-Identifier: Apache-2.0 */
/* eh_status_pub.c - when the status documents are published, and the figures behind them,
 * gathered through the sources the daemon wires in. */
#include "eh_status_pub.h"

#include <stdio.h>
#include <string.h>

#include "eh_assert.h"
#include "eh_hash.h"
#include "eh_log.h"

/* ==== Figures ==== */

static void fill_figures(struct eh_status_pub *p, struct eh_status_figures *f)
{
	const struct eh_status_pub_sources *src = p->cfg.src;
	void *ctx = p->cfg.src_ctx;
	uint64_t drops[EH_MAX_WEBHOOKS];

	memset(f, 0, sizeof(*f));
	memset(drops, 0, sizeof(drops));
	f->state = "online";
	f->version = p->cfg.version;
	f->device_id = p->cfg.device_id;
	f->uptime_s = (eh_loop_now(p->cfg.loop) - p->started_ms) / 1000;
	f->mqtt_connected = src->mqtt(ctx, &f->mqtt_reconnects);
	src->ingest(ctx, &f->in);
	src->config(ctx, &f->config);
	src->queue(ctx, &f->queue, drops);
	f->queue.dropped = 0;
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		struct eh_status_slot st;
		bool active;
		f->queue.dropped += drops[s];
		if (src->webhook(ctx, s, &active) == 0)
			continue;
		memset(&st, 0, sizeof(st));
		src->slot(ctx, s, &st);
		f->sent += st.sent;
		f->failed_attempts += st.failed_attempts;
		f->dead_lettered += st.dead_lettered;
	}
}

/* Loop time the oldest undelivered notification of (slot, type) was appended (0: none):
 * the worker's last peek names it (or, before any peek, the first one after the cursor),
 * and the append-time ring dates it; records from before the start date from the start. */
static uint64_t oldest_appended_ms(const struct eh_status_pub *p, unsigned slot, unsigned type,
				   uint64_t lag)
{
	uint64_t seq = p->peek_head[slot][type], cursor;

	if (lag == 0)
		return 0;
	cursor = p->cfg.src->cursor(p->cfg.src_ctx, slot, type);
	if (seq <= cursor)
		seq = cursor + 1;
	return eh_status_ages_time(&p->ages, seq, p->started_ms);
}

/* The same for the whole webhook, as a wall time (from the start's wall time, so it does
 * not move with the clock between two renders). */
static uint64_t oldest_wall_ms(const struct eh_status_pub *p, unsigned slot)
{
	uint64_t oldest = 0;

	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		uint64_t lag = p->cfg.src->lag(p->cfg.src_ctx, slot, t);
		uint64_t at = oldest_appended_ms(p, slot, t, lag);
		if (at && (oldest == 0 || at < oldest))
			oldest = at;
	}
	return oldest ? p->started_wall_ms + (oldest - p->started_ms) : 0;
}

static size_t webhook_state(const struct eh_status_pub *p, unsigned slot, uint32_t id, bool active,
			    char *buf, size_t cap)
{
	struct eh_status_webhook w;
	struct eh_status_slot st;
	struct eh_status_queue q;
	uint64_t drops[EH_MAX_WEBHOOKS];

	memset(&w, 0, sizeof(w));
	memset(&st, 0, sizeof(st));
	memset(drops, 0, sizeof(drops));
	p->cfg.src->slot(p->cfg.src_ctx, slot, &st);
	p->cfg.src->queue(p->cfg.src_ctx, &q, drops);
	w.id = id;
	w.active = active;
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		w.queue[t] = p->cfg.src->lag(p->cfg.src_ctx, slot, t);
	w.sent = st.sent;
	w.failed_attempts = st.failed_attempts;
	w.dropped = drops[slot];
	w.dead_lettered = st.dead_lettered;
	w.dead_letters_pending = st.dead_letters_pending;
	st.last_error[sizeof(st.last_error) - 1] = '\0'; /* whatever the source wrote */
	snprintf(w.last_error, sizeof(w.last_error), "%s", st.last_error);
	w.last_error_ms = st.last_error_ms;
	w.last_success_ms = st.last_success_ms;
	w.oldest_ms = oldest_wall_ms(p, slot);
	w.attempt = st.attempt;
	w.next_attempt_at_ms = st.next_attempt_at_ms;
	return eh_status_render_webhook(&w, buf, cap);
}

/* ==== Publishing ==== */

void eh_status_pub_publish(struct eh_status_pub *p, bool force)
{
	const struct eh_status_pub_sink *sink = p->cfg.sink;
	struct eh_status_figures f;
	size_t n;
	uint64_t h;

	/* The uptime alone does not make the status "changed": hash without it. */
	fill_figures(p, &f);
	uint64_t up = f.uptime_s;
	f.uptime_s = 0;
	n = eh_status_render(&f, p->doc, sizeof(p->doc));
	h = eh_fnv1a64(EH_FNV1A64_SEED, p->doc, n);
	if (force || h != p->status_hash) {
		f.uptime_s = up;
		n = eh_status_render(&f, p->doc, sizeof(p->doc));
		if (n == 0) {
			/* Never an empty retained message: that would delete P/status. */
			EH_LOG_WRN("status", "P/status does not fit in %u bytes: not published",
				   (unsigned)sizeof(p->doc));
		} else {
			sink->publish(p->cfg.sink_ctx, p->status_topic, p->doc, n);
			p->status_hash = h;
			if (sink->changed)
				sink->changed(p->cfg.sink_ctx);
		}
	}
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		bool active;
		uint32_t id = p->cfg.src->webhook(p->cfg.src_ctx, s, &active);
		if (id == 0)
			continue;
		n = webhook_state(p, s, id, active, p->doc, sizeof(p->doc));
		if (n == 0)
			continue; /* cannot happen with the bound above; never publish "" */
		h = eh_fnv1a64(EH_FNV1A64_SEED, p->doc, n);
		if (!force && h == p->webhook_hash[s])
			continue;
		p->webhook_hash[s] = h;
		snprintf(p->topic, sizeof(p->topic), "%s/webhooks/%u/state", p->cfg.topic_prefix,
			 (unsigned)id);
		sink->publish(p->cfg.sink_ctx, p->topic, p->doc, n);
	}
}

void eh_status_pub_forget(struct eh_status_pub *p, unsigned slot)
{
	EH_ASSERT(slot < EH_MAX_WEBHOOKS);
	p->webhook_hash[slot] = 0;
}

/* ==== Timers ==== */

static void on_period(struct eh_loop *l, void *arg)
{
	struct eh_status_pub *p = arg;
	uint64_t reconnects;

	p->timer = 0;
	if (p->cfg.src->mqtt(p->cfg.src_ctx, &reconnects))
		eh_status_pub_publish(p, false);
	(void)eh_loop_after(l, EH_STATUS_PUB_PERIOD_MS, on_period, p, &p->timer);
}

static void on_watchdog(struct eh_loop *l, void *arg)
{
	struct eh_status_pub *p = arg;

	p->watchdog_timer = 0;
	if (p->cfg.sink->alive)
		p->cfg.sink->alive(p->cfg.sink_ctx);
	(void)eh_loop_after(l, p->cfg.watchdog_ms, on_watchdog, p, &p->watchdog_timer);
}

void eh_status_pub_init(struct eh_status_pub *p, const struct eh_status_pub_config *cfg)
{
	EH_ASSERT(p != NULL && cfg != NULL && cfg->loop != NULL && cfg->src != NULL &&
		  cfg->sink != NULL && cfg->sink->publish != NULL && cfg->topic_prefix != NULL);
	EH_ASSERT(strlen(cfg->topic_prefix) < EH_STATUS_PUB_TOPIC_MAX - 48);
	p->cfg = *cfg;
	p->started_ms = eh_loop_now(cfg->loop);
	p->started_wall_ms = eh_clock_wall_ms(cfg->loop->clock);
	p->timer = 0;
	p->watchdog_timer = 0;
	p->status_hash = 0;
	memset(p->webhook_hash, 0, sizeof(p->webhook_hash));
	memset(p->peek_head, 0, sizeof(p->peek_head));
	eh_status_ages_init(&p->ages);
	p->doc[0] = '\0';
	snprintf(p->status_topic, sizeof(p->status_topic), "%s/status", cfg->topic_prefix);
}

eh_err eh_status_pub_start(struct eh_status_pub *p)
{
	eh_err rc = eh_loop_after(p->cfg.loop, EH_STATUS_PUB_PERIOD_MS, on_period, p, &p->timer);
	if (rc == EH_OK && p->cfg.watchdog_ms)
		rc = eh_loop_after(p->cfg.loop, p->cfg.watchdog_ms, on_watchdog, p,
				   &p->watchdog_timer);
	return rc;
}

void eh_status_pub_stop(struct eh_status_pub *p)
{
	if (p->timer)
		eh_loop_cancel(p->cfg.loop, p->timer);
	if (p->watchdog_timer)
		eh_loop_cancel(p->cfg.loop, p->watchdog_timer);
	p->timer = 0;
	p->watchdog_timer = 0;
}

/* ==== Oldest undelivered ==== */

void eh_status_pub_appended(struct eh_status_pub *p, uint64_t seq, uint64_t now_ms)
{
	eh_status_ages_note(&p->ages, seq, now_ms);
}

void eh_status_pub_peeked(struct eh_status_pub *p, unsigned slot, unsigned type, uint64_t seq)
{
	EH_ASSERT(slot < EH_MAX_WEBHOOKS && type < EH_TYPE_COUNT);
	p->peek_head[slot][type] = seq;
}

/* ==== On demand ==== */

size_t eh_status_pub_json(struct eh_status_pub *p, char *buf, size_t cap)
{
	struct eh_status_figures f;

	fill_figures(p, &f);
	return eh_status_render(&f, buf, cap);
}

eh_err eh_status_pub_webhook_json(struct eh_status_pub *p, uint32_t id, char *buf, size_t cap,
				  size_t *len)
{
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS && id != 0; s++) {
		bool active;
		if (p->cfg.src->webhook(p->cfg.src_ctx, s, &active) != id)
			continue;
		*len = webhook_state(p, s, id, active, buf, cap);
		return *len ? EH_OK : EH_ERR_NOSPC;
	}
	return EH_ERR_NOENT;
}

size_t eh_status_pub_metrics(struct eh_status_pub *p, char *buf, size_t cap)
{
	const struct eh_status_pub_sources *src = p->cfg.src;
	struct eh_status_figures f;
	uint64_t now = eh_loop_now(p->cfg.loop);
	size_t n = 0;

	fill_figures(p, &f);
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		struct eh_status_slot st;
		bool active;
		uint32_t id = src->webhook(p->cfg.src_ctx, s, &active);
		if (id == 0)
			continue;
		memset(&st, 0, sizeof(st));
		src->slot(p->cfg.src_ctx, s, &st);
		p->mw[n].id = id;
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
			struct eh_status_metric_type *m = &p->mw[n].t[t];
			uint64_t at;
			m->depth = src->lag(p->cfg.src_ctx, s, t);
			/* Seconds since the oldest undelivered one was appended. */
			at = oldest_appended_ms(p, s, t, m->depth);
			m->oldest_age_s = at && now > at ? (now - at) / 1000 : 0;
			m->sent = st.by_type[t].sent;
			m->failed_attempts = st.by_type[t].failed_attempts;
			m->dead_lettered = st.by_type[t].dead_lettered;
		}
		n++;
	}
	return eh_status_render_metrics(&f, p->mw, n, buf, cap);
}
