/* SPDX-License-Identifier: Apache-2.0 */
/* eh_control.h - the config control plane over MQTT (CONTRACT 3-4, 9.3,
 * 9.4): the config, catalog and fleet topics applied through eh_config and
 * kept in eh_config_store; the retained answers (config-status) and their
 * clearing; the replay of the store at start; reconciliation, at start
 * from a snapshot of the broker's retained config and after each
 * (re)subscribe with a fence message sent to ourselves: a stored webhook
 * whose retained message did not come back was deleted while we were away.
 *
 * It names no driver: publishing, the queue and delivery are reached
 * through struct eh_control_ops, so a test drives it without a broker.
 * Loop thread only. */
#ifndef EH_CONTROL_H
#define EH_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_config.h"
#include "eh_config_store.h"
#include "eh_err.h"
#include "eh_limits.h"
#include "eh_status.h"
#include "eh_time.h"
#include "eh_webhook.h"

#define EH_CONTROL_SEEN_MAX (EH_MAX_WEBHOOKS * 4) /* retained webhook topics tracked */
#define EH_CONTROL_TOPIC_MAX EH_CONFIG_STATUS_TOPIC_MAX
#define EH_CONTROL_SUBS_MAX (2 + EH_CONFIG_FLEET_MAX) /* P/config/#, P/catalog/#, fleets' */
#define EH_CONTROL_NONCE_MAX 48

struct eh_control_ops {
	/* Publish on the broker; EH_ERR_CLOSED when there is no connection. */
	eh_err (*publish)(void *ctx, const char *topic, const char *body, size_t len, int qos,
			  bool retain);
	/* Discard the queued notifications of slot (a new or deleted webhook). */
	void (*slot_reset)(void *ctx, unsigned slot);
	/* The webhook in slot changed; NULL: deleted. */
	void (*webhook_set)(void *ctx, unsigned slot, const struct eh_webhook *w);
	/* The table changed: slot resets are persisted with the next commit. */
	void (*changed)(void *ctx);
};

struct eh_control_config {
	struct eh_config *config;	   /* borrowed, initialised; its stored seam is
					      eh_control_stored over store */
	struct eh_config_store *store;	   /* borrowed, opened (or left empty when damaged) */
	const char *topic_prefix;	   /* P */
	const char *const *fleet_prefixes; /* F each; copied */
	size_t nfleet;			   /* <= EH_CONFIG_FLEET_MAX */
	bool signed_mode;		   /* an absent retained message deletes nothing */
	const struct eh_clock *clock;	   /* the fence nonce */
	const struct eh_control_ops *ops;
	void *ctx; /* given to every op */
};

struct eh_control_stats {
	uint64_t messages;  /* config, catalog and fleet messages handled */
	uint64_t unchanged; /* retained copies of what runs already, skipped */
	uint64_t not_kept;  /* applied but not written to the store */
	uint64_t fences;    /* fences that came back: reconciliations run */
	uint64_t removed;   /* stored webhooks removed as deleted while away */
	unsigned seen;	    /* retained webhook topics seen since the last (re)subscribe */
	bool seen_overflow; /* more than EH_CONTROL_SEEN_MAX: nothing is reconciled */
};

struct eh_control {
	/* internal */
	struct eh_control_config cfg;
	const char *fleet[EH_CONFIG_FLEET_MAX];
	char topic_config[EH_CONTROL_TOPIC_MAX];		   /* "P/config/" */
	char topic_catalog[EH_CONTROL_TOPIC_MAX];		   /* "P/catalog/" */
	char topic_fence[EH_CONTROL_TOPIC_MAX];			   /* "P/config/_fence" */
	char sub_config[EH_CONTROL_TOPIC_MAX];			   /* "P/config/#" */
	char sub_catalog[EH_CONTROL_TOPIC_MAX];			   /* "P/catalog/#" */
	char sub_fleet[EH_CONFIG_FLEET_MAX][EH_CONTROL_TOPIC_MAX]; /* "F/config/webhooks/#" */
	char fence_nonce[EH_CONTROL_NONCE_MAX];			   /* "" = no fence awaited */
	uint64_t seen[EH_CONTROL_SEEN_MAX]; /* FNV-1a 64 of the webhook topics seen */
	unsigned nseen;
	bool seen_overflow;
	uint64_t started_ms;
	uint64_t connects;
	uint64_t snapshot_us;		     /* when the start snapshot began */
	uint32_t clear_ids[EH_MAX_WEBHOOKS]; /* removed at start: P's retained topics to clear */
	unsigned nclear;
	char clear_topics[EH_MAX_WEBHOOKS][EH_CONTROL_TOPIC_MAX]; /* config-status topics */
	unsigned nclear_topics;
	struct eh_control_stats st;
	/* scratch, too big for the stack */
	struct eh_config_result res;
	char gone[EH_MAX_WEBHOOKS][EH_CONFIG_STORE_TOPIC];
	int gone_slot[EH_MAX_WEBHOOKS];
};

/* Build the topics from cfg (copied; what it points to is borrowed for
 * c's life). EH_ERR_INVAL when a prefix does not fit its topics or an op
 * is missing. */
eh_err eh_control_init(struct eh_control *c, const struct eh_control_config *cfg);

/* The subscriptions the control plane needs (P/config/#, P/catalog/#,
 * F/config/webhooks/# each) into subs (cap >= EH_CONTROL_SUBS_MAX); their
 * count. The strings live in c. */
size_t eh_control_subs(const struct eh_control *c, const char **subs, size_t cap);

/* The filters of the start snapshot (P/config/# and the fleets') and the
 * fence topic that ends it. */
size_t eh_control_snapshot_filters(const struct eh_control *c, const char **filters, size_t cap);
const char *eh_control_fence_topic(const struct eh_control *c);

/* Reconciliation at start, before eh_control_replay: begin, then one
 * eh_control_snapshot_topic (ctx = c) per retained topic the broker holds,
 * then eh_control_reconcile_at_start with the snapshot's result. A stored
 * webhook not seen is forgotten with its queued notifications, and its
 * retained topics are cleared once connected; a failed snapshot (rc not
 * EH_OK) changes nothing and leaves it to the fence. */
void eh_control_snapshot_begin(struct eh_control *c);
void eh_control_snapshot_topic(void *ctx, const char *topic);
void eh_control_reconcile_at_start(struct eh_control *c, eh_err snapshot_rc);

/* Before MQTT connects: apply the stored config, each webhook in the slot
 * it had (its queued notifications kept). */
void eh_control_replay(struct eh_control *c);

/* Whether topic is one of the control plane's (config, catalog, a fleet's
 * config, the fence). */
bool eh_control_owns(const struct eh_control *c, const char *topic);

/* One message from MQTT. false: not a control topic, nothing done. */
bool eh_control_message(struct eh_control *c, const char *topic, const uint8_t *payload, size_t len,
			const char *hmac);

/* Connected (the subscriptions went out before): clear what start
 * removed, then publish the fence; every retained config arrives before it. */
void eh_control_on_connect(struct eh_control *c);

/* eh_config's stored seam (struct eh_config_init.stored) over the store
 * (ctx): the kept message of a config topic. */
const uint8_t *eh_control_stored(void *ctx, const char *topic, size_t *len, const char **hmac);

/* Figures: the config's for P/status, and the control plane's own. */
void eh_control_status(const struct eh_control *c, struct eh_status_config *out);
void eh_control_stats(const struct eh_control *c, struct eh_control_stats *out);

#endif /* EH_CONTROL_H */
