/* SPDX-License-Identifier: Apache-2.0 */
/* eh_control.c - the config control plane: config topics applied and kept,
 * fleets, reconciliation (CONTRACT 9.3, 9.4; docs/CONFIG.md, docs/FLEET.md). */
#include "eh_control.h"

#include <stdio.h>
#include <string.h>

#include "eh_hash.h"
#include "eh_log.h"
#include "eh_note.h"

/* ==== Small helpers ==== */

static void publish(struct eh_control *c, const char *topic, const char *body, size_t len,
		    bool retain)
{
	eh_err rc = c->cfg.ops->publish(c->cfg.ctx, topic, body, len, 1, retain);
	if (rc != EH_OK && rc != EH_ERR_CLOSED)
		EH_LOG_WRN("mqtt", "publish to %s failed: %s", topic, eh_err_str(rc));
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The two retained topics of a webhook of P that is gone: its answer and
 * its state. */
static void clear_retained(struct eh_control *c, uint32_t id)
{
	char t[EH_CONTROL_TOPIC_MAX + 64];
	snprintf(t, sizeof(t), "%s/config-status/webhooks/%u", c->cfg.topic_prefix, id);
	publish(c, t, "", 0, true);
	snprintf(t, sizeof(t), "%s/webhooks/%u/state", c->cfg.topic_prefix, id);
	publish(c, t, "", 0, true);
}

static void log_workers(const struct eh_control *c)
{
	const struct eh_config *cf = c->cfg.config;

	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		/* Every id at its widest: ", " + 10 digits each. */
		char ids[EH_MAX_WEBHOOKS * 12 + 4];
		size_t n = 0;
		ids[0] = '\0';
		for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
			const struct eh_webhook *w = &cf->webhooks[s];
			int k;
			if (w->id == 0 || !w->active || !eh_config_wants_type(cf, s, t))
				continue;
			k = snprintf(ids + n, sizeof(ids) - n, "%s%u", n ? ", " : "", w->id);
			if (k < 0 || (size_t)k >= sizeof(ids) - n)
				break; /* cannot happen with the size above; never walk off */
			n += (size_t)k;
		}
		EH_LOG_INF("WebhooksManager", "Updating \"%s\" workers for webhooks: {%s}",
			   eh_type_name(t), ids);
	}
}

/* ==== Config topics ==== */

/* One config or catalog message, from MQTT or (replay) from the store. A
 * replay re-creates each webhook in the slot it had, and keeps its queued
 * notifications (no cursor reset). */
static void handle_config(struct eh_control *c, const char *topic, const uint8_t *payload,
			  size_t len, const char *hmac, bool replay, int slot)
{
	struct eh_config *cf = c->cfg.config;
	struct eh_config_result *res = &c->res;
	int kept_slot = -1;

	c->st.messages++;
	if (!replay && eh_config_store_same(c->cfg.store, topic, payload, len)) {
		/* the retained copy of what runs already (re-sent on every subscribe) */
		EH_LOG_DBG("config", "%s: unchanged", topic);
		c->st.unchanged++;
		return;
	}
	eh_config_hint_slot(cf, replay ? slot : -1);
	eh_err rc = eh_config_handle(cf, topic, payload, len, hmac, res);
	eh_config_hint_slot(cf, -1);
	if (!replay && res->status_topic[0])
		publish(c, res->status_topic, res->status_body, strlen(res->status_body), true);
	for (unsigned i = 0; i < res->nchanges; i++) {
		const struct eh_config_change *ch = &res->changes[i];
		bool deleted = ch->kind == EH_CONFIG_DELETED;
		if ((ch->kind == EH_CONFIG_CREATED && !replay) || deleted)
			c->cfg.ops->slot_reset(c->cfg.ctx, ch->slot);
		c->cfg.ops->webhook_set(c->cfg.ctx, ch->slot,
					deleted ? NULL : &cf->webhooks[ch->slot]);
		if (deleted)
			clear_retained(c, ch->old_id);
		else
			kept_slot = (int)ch->slot;
	}
	if (kept_slot < 0)
		kept_slot = res->slot; /* a fleet webhook kept under the id's slot */
	if (!replay && rc == EH_OK && !res->noop && !res->bad_id) {
		bool gone =
		    len == 0 || (res->nchanges && res->changes[0].kind == EH_CONFIG_DELETED);
		if (eh_config_store_put(c->cfg.store, topic, payload, gone ? 0 : len, hmac,
					kept_slot) != EH_OK) {
			c->st.not_kept++;
			EH_LOG_WRN("config",
				   "%s applies but is not kept for restarts (store full "
				   "or not writable)",
				   topic);
		}
	}
	if (res->nchanges && !replay) {
		log_workers(c);
		c->cfg.ops->changed(c->cfg.ctx);
	}
}

void eh_control_replay(struct eh_control *c)
{
	unsigned n = eh_config_store_count(c->cfg.store);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *payload;
		const struct eh_config_store_entry *e =
		    eh_config_store_entry(c->cfg.store, i, &payload);
		handle_config(c, e->topic, payload, e->len, e->hmac[0] ? e->hmac : NULL, true,
			      e->slot);
	}
	if (n) {
		EH_LOG_INF("config", "%u config messages restored from %s", n, c->cfg.store->path);
		log_workers(c);
	}
}

/* ==== Fleets (CONTRACT 9.3, docs/FLEET.md) ==== */

/* F/config/...: a fleet's config (the bootstrap keeps inputs off it); other
 * topics under F may be inputs ("edgehook/+/in/events" with F "edgehook/fleet"). */
static bool fleet_topic(const struct eh_control *c, const char *topic)
{
	for (size_t k = 0; k < c->cfg.nfleet; k++) {
		size_t n = strlen(c->fleet[k]);
		if (strncmp(topic, c->fleet[k], n) == 0 && strncmp(topic + n, "/config/", 8) == 0)
			return true;
	}
	return false;
}

const uint8_t *eh_control_stored(void *ctx, const char *topic, size_t *len, const char **hmac)
{
	const struct eh_config_store *st = ctx;
	unsigned n = eh_config_store_count(st);

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *payload;
		const struct eh_config_store_entry *e = eh_config_store_entry(st, i, &payload);
		if (e->len == 0 || strcmp(e->topic, topic) != 0)
			continue;
		*len = e->len;
		*hmac = e->hmac[0] ? e->hmac : NULL;
		return payload;
	}
	return NULL;
}

/* The config-status topic of config_topic, cleared once connected. */
static void clear_later(struct eh_control *c, const char *config_topic)
{
	if (c->nclear_topics < EH_MAX_WEBHOOKS)
		eh_config_status_topic(c->cfg.config, config_topic,
				       c->clear_topics[c->nclear_topics++]);
}

static bool seen_has(const struct eh_control *c, const char *topic);

/* At start, a stored webhook config whose retained message is gone: when
 * another stored config of the same id stays (the device's own and a
 * fleet's), only this one is forgotten and its config-status cleared; the
 * other applies at replay in the id's slot, with its queue. false: the id
 * goes whole (the caller's usual way). */
static bool fleet_forget_at_start(struct eh_control *c, const char *topic, uint32_t id)
{
	unsigned n = eh_config_store_count(c->cfg.store);
	bool other = false;

	if (fleet_topic(c, topic))
		clear_later(c, topic); /* clear_retained() knows P's paths only */
	for (unsigned i = 0; i < n && !other; i++) {
		const uint8_t *payload;
		const struct eh_config_store_entry *e =
		    eh_config_store_entry(c->cfg.store, i, &payload);
		uint32_t eid = 0;
		other = e->len > 0 && strcmp(e->topic, topic) != 0 && seen_has(c, e->topic) &&
			eh_config_webhook_topic(c->cfg.config, e->topic, &eid) && eid == id;
	}
	if (!other)
		return false;
	EH_LOG_WRN("config",
		   "%s: no retained config on the broker: deleted while away; "
		   "webhook %u stays with another config",
		   topic, id);
	if (!fleet_topic(c, topic))
		clear_later(c, topic);
	eh_config_store_put(c->cfg.store, topic, NULL, 0, NULL, -1);
	return true;
}

/* ==== Reconciliation (CONTRACT 9.4) ==== */

static bool is_webhook_topic(const struct eh_control *c, const char *topic)
{
	return eh_config_webhook_topic(c->cfg.config, topic, NULL); /* P's and the fleets' */
}

static void seen_reset(struct eh_control *c)
{
	c->nseen = 0;
	c->seen_overflow = false;
}

static void seen_add(struct eh_control *c, const char *topic)
{
	uint64_t h = eh_fnv1a64(EH_FNV1A64_SEED, topic, strlen(topic));
	for (unsigned i = 0; i < c->nseen; i++)
		if (c->seen[i] == h)
			return;
	if (c->nseen == EH_CONTROL_SEEN_MAX) {
		c->seen_overflow = true;
		return;
	}
	c->seen[c->nseen++] = h;
}

static bool seen_has(const struct eh_control *c, const char *topic)
{
	uint64_t h = eh_fnv1a64(EH_FNV1A64_SEED, topic, strlen(topic));
	for (unsigned i = 0; i < c->nseen; i++)
		if (c->seen[i] == h)
			return true;
	return false;
}

/* The stored webhooks whose topic was not among the retained ones seen
 * (into c->gone, at most EH_MAX_WEBHOOKS). Signed mode keeps them: an
 * absent message is not a signed deletion. */
static unsigned unseen_webhooks(struct eh_control *c)
{
	unsigned ngone = 0, n = eh_config_store_count(c->cfg.store);

	if (c->seen_overflow) {
		EH_LOG_WRN("config",
			   "more than %d retained webhook topics: deletions made "
			   "while away are not reconciled",
			   EH_CONTROL_SEEN_MAX);
		return 0;
	}
	for (unsigned i = 0; i < n && ngone < EH_MAX_WEBHOOKS; i++) {
		const uint8_t *payload;
		const struct eh_config_store_entry *e =
		    eh_config_store_entry(c->cfg.store, i, &payload);
		if (e->len == 0 || !is_webhook_topic(c, e->topic) || seen_has(c, e->topic))
			continue;
		if (c->cfg.signed_mode) {
			EH_LOG_WRN("config",
				   "%s: no retained config on the broker; kept (signed "
				   "mode deletes only with a signed message)",
				   e->topic);
			continue;
		}
		c->gone_slot[ngone] = e->slot;
		snprintf(c->gone[ngone++], EH_CONFIG_STORE_TOPIC, "%s", e->topic);
	}
	return ngone;
}

/* Every retained config has arrived on our session (the fence came back
 * after a reconnect): stored webhooks that did not come back were deleted
 * while we were disconnected. */
static void reconcile(struct eh_control *c)
{
	unsigned ngone = unseen_webhooks(c);

	c->fence_nonce[0] = '\0';
	c->st.fences++;
	for (unsigned i = 0; i < ngone; i++) {
		EH_LOG_WRN("config",
			   "%s: no retained config on the broker after subscribing: "
			   "deleted while away, removed",
			   c->gone[i]);
		c->st.removed++;
		handle_config(c, c->gone[i], (const uint8_t *)"", 0, NULL, false, -1);
	}
}

void eh_control_snapshot_begin(struct eh_control *c)
{
	seen_reset(c);
	c->snapshot_us = eh_time_mono_us();
}

void eh_control_snapshot_topic(void *ctx, const char *topic)
{
	struct eh_control *c = ctx;
	if (is_webhook_topic(c, topic))
		seen_add(c, topic);
}

void eh_control_reconcile_at_start(struct eh_control *c, eh_err snapshot_rc)
{
	if (snapshot_rc != EH_OK) {
		EH_LOG_WRN("config",
			   "retained config not read at start (%s): deletions made while "
			   "away apply once the broker answers",
			   eh_err_str(snapshot_rc));
		return;
	}
	unsigned ngone = unseen_webhooks(c);
	for (unsigned i = 0; i < ngone; i++) {
		uint32_t id = 0;
		int slot = c->gone_slot[i];
		eh_config_webhook_topic(c->cfg.config, c->gone[i], &id);
		c->st.removed++;
		if (fleet_forget_at_start(c, c->gone[i], id))
			continue; /* another config of the id stays: it keeps the queue */
		EH_LOG_WRN("config",
			   "%s: no retained config on the broker: deleted while away, "
			   "removed with its queued notifications",
			   c->gone[i]);
		if (slot >= 0 && slot < EH_MAX_WEBHOOKS)
			c->cfg.ops->slot_reset(c->cfg.ctx, (unsigned)slot);
		eh_config_store_put(c->cfg.store, c->gone[i], NULL, 0, NULL, -1);
		c->clear_ids[c->nclear++] = id;
	}
	EH_LOG_INF("config", "%u retained webhooks on the broker, %u stored ones removed (%llu us)",
		   c->nseen, ngone, (unsigned long long)(eh_time_mono_us() - c->snapshot_us));
}

/* ==== MQTT side ==== */

bool eh_control_owns(const struct eh_control *c, const char *topic)
{
	return strcmp(topic, c->topic_fence) == 0 || has_prefix(topic, c->topic_config) ||
	       has_prefix(topic, c->topic_catalog) || fleet_topic(c, topic);
}

bool eh_control_message(struct eh_control *c, const char *topic, const uint8_t *payload, size_t len,
			const char *hmac)
{
	if (strcmp(topic, c->topic_fence) == 0) {
		if (c->fence_nonce[0] && len == strlen(c->fence_nonce) &&
		    memcmp(payload, c->fence_nonce, len) == 0)
			reconcile(c);
		return true;
	}
	if (!eh_control_owns(c, topic))
		return false;
	if (len > 0 && is_webhook_topic(c, topic))
		seen_add(c, topic);
	handle_config(c, topic, payload, len, hmac, false, -1);
	return true;
}

void eh_control_on_connect(struct eh_control *c)
{
	for (unsigned i = 0; i < c->nclear; i++)
		clear_retained(c, c->clear_ids[i]);
	c->nclear = 0;
	for (unsigned i = 0; i < c->nclear_topics; i++)
		if (c->clear_topics[i][0])
			publish(c, c->clear_topics[i], "", 0, true);
	c->nclear_topics = 0;
	/* The subscriptions went out before this: the broker answers them with
	 * every retained config, then routes this fence back to us. */
	seen_reset(c);
	snprintf(c->fence_nonce, sizeof(c->fence_nonce), "%llu-%llu",
		 (unsigned long long)c->started_ms, (unsigned long long)++c->connects);
	if (c->cfg.ops->publish(c->cfg.ctx, c->topic_fence, c->fence_nonce, strlen(c->fence_nonce),
				1, false) != EH_OK)
		c->fence_nonce[0] = '\0';
}

/* ==== Set-up and figures ==== */

/* snprintf into out (EH_CONTROL_TOPIC_MAX); false when it does not fit. */
static bool topic_of(char *out, const char *prefix, const char *suffix)
{
	int n = snprintf(out, EH_CONTROL_TOPIC_MAX, "%s%s", prefix, suffix);
	return n > 0 && n < EH_CONTROL_TOPIC_MAX;
}

eh_err eh_control_init(struct eh_control *c, const struct eh_control_config *cfg)
{
	const char *p = cfg->topic_prefix;
	const struct eh_control_ops *o = cfg->ops;

	memset(c, 0, sizeof(*c));
	if (cfg->config == NULL || cfg->store == NULL || p == NULL || cfg->clock == NULL ||
	    o == NULL || o->publish == NULL || o->slot_reset == NULL || o->webhook_set == NULL ||
	    o->changed == NULL || cfg->nfleet > EH_CONFIG_FLEET_MAX)
		return EH_ERR_INVAL;
	c->cfg = *cfg;
	if (!topic_of(c->topic_config, p, "/config/") ||
	    !topic_of(c->topic_catalog, p, "/catalog/") ||
	    !topic_of(c->topic_fence, p, "/config/_fence") ||
	    !topic_of(c->sub_config, p, "/config/#") || !topic_of(c->sub_catalog, p, "/catalog/#"))
		return EH_ERR_INVAL;
	for (size_t k = 0; k < cfg->nfleet; k++) {
		c->fleet[k] = cfg->fleet_prefixes[k];
		if (!topic_of(c->sub_fleet[k], c->fleet[k], "/config/webhooks/#"))
			return EH_ERR_INVAL;
	}
	c->cfg.fleet_prefixes = c->fleet;
	c->started_ms = eh_clock_mono_ms(cfg->clock);
	return EH_OK;
}

size_t eh_control_subs(const struct eh_control *c, const char **subs, size_t cap)
{
	size_t n = 0;
	if (n < cap)
		subs[n++] = c->sub_config;
	if (n < cap)
		subs[n++] = c->sub_catalog;
	for (size_t k = 0; k < c->cfg.nfleet && n < cap; k++)
		subs[n++] = c->sub_fleet[k];
	return n;
}

size_t eh_control_snapshot_filters(const struct eh_control *c, const char **filters, size_t cap)
{
	size_t n = 0;
	if (n < cap)
		filters[n++] = c->sub_config;
	for (size_t k = 0; k < c->cfg.nfleet && n < cap; k++)
		filters[n++] = c->sub_fleet[k];
	return n;
}

const char *eh_control_fence_topic(const struct eh_control *c)
{
	return c->topic_fence;
}

void eh_control_status(const struct eh_control *c, struct eh_status_config *out)
{
	eh_config_status(c->cfg.config, out);
}

void eh_control_stats(const struct eh_control *c, struct eh_control_stats *out)
{
	*out = c->st;
	out->seen = c->nseen;
	out->seen_overflow = c->seen_overflow;
}
