/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config.h - the control plane: retained MQTT config topics turned into
 * a validated, statically allocated webhook table (CONTRACT sections 3-4).
 *   P/config/webhooks/<id>    a webhook; empty payload deletes it
 *   P/config/gateway          {"verbose", "external_address", "log_level"}
 *   P/catalog/<kind>/<id>     entities for verbose rendering
 *   F/config/webhooks/<id>    a fleet webhook, for every F of fleet_prefixes;
 *                             P's webhook of the same id wins (CONTRACT 9.3)
 * Every message is validated in full and applied atomically: a refused
 * message changes nothing, and the answer (config-status body) lists every
 * error with its path. With an HMAC key, messages must be signed and carry
 * a growing "version" per topic, kept in a small file across restarts. */
#ifndef EH_CONFIG_H
#define EH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_errs.h"
#include "eh_filter.h"
#include "eh_limits.h"
#include "eh_note.h"
#include "eh_render.h"
#include "eh_status.h"
#include "eh_webhook.h"

#define EH_CONFIG_STATUS_TOPIC_MAX 256
#define EH_CONFIG_STATUS_BODY_MAX 4096 /* {"accepted": false, "errors": [...]} */
#define EH_CONFIG_EXT_ADDR_MAX 256
#define EH_CONFIG_MAX_TOPICS (EH_MAX_WEBHOOKS + EH_CATALOG_MAX_ENTRIES + 8) /* versions kept */
/* The versions file: one "<version> <64 hex digest> <topic>\n" line per topic. */
#define EH_CONFIG_VERSIONS_FILE_MAX (EH_CONFIG_MAX_TOPICS * (EH_CONFIG_STATUS_TOPIC_MAX + 88))
#define EH_CONFIG_SIG_HEX 65 /* 64 lowercase hex digits + NUL */
#ifndef EH_CONFIG_FLEET_MAX
#define EH_CONFIG_FLEET_MAX 4 /* fleet prefixes (EH_BOOT_FLEET_MAX) */
#endif
#define EH_CONFIG_FLEET_PAIR_MAX 200 /* strlen(P) + strlen(F): status topics fit */

/* The stored payload of a config topic (the message last accepted on it),
 * or NULL when none is kept; *hmac is its signature or NULL. The pointers
 * are read during the call that asked only. */
typedef const uint8_t *(*eh_config_stored_fn)(void *ctx, const char *topic, size_t *len,
					      const char **hmac);

struct eh_config_init {
	const char *topic_prefix; /* P; borrowed for the config's life */
	bool allow_plain_http;	  /* http:// webhook URLs accepted */
	const uint8_t *hmac_key;  /* NULL: unsigned mode; borrowed */
	size_t hmac_key_len;
	const char *versions_path; /* signed mode: last accepted version per topic */
	/* Optional: what validation alone cannot tell, run on a webhook that
	 * passed it, before anything is applied (the delivery side loads its
	 * client certificate files). Errors go to errs with their path; any
	 * error refuses the message. */
	eh_err (*check_webhook)(void *ctx, const struct eh_webhook *w, struct eh_errs *errs);
	void *check_ctx;
	/* Fleets: webhooks at F/config/webhooks/<id> apply too; P's webhook of
	 * the same id wins, then the earlier fleet in this list. Copied. Each
	 * F: no wildcards, not P, strlen(P) + strlen(F) <=
	 * EH_CONFIG_FLEET_PAIR_MAX. */
	const char *const *fleet_prefixes;
	size_t nfleet; /* <= EH_CONFIG_FLEET_MAX */
	/* Optional: when the webhook that decides an id is deleted, the kept
	 * message of the next one in precedence (a fleet's) applies again,
	 * read through this. NULL: the id is simply deleted. */
	eh_config_stored_fn stored;
	void *stored_ctx;
};

struct eh_gateway {
	bool verbose;				       /* default for webhooks with verbose null */
	char external_address[EH_CONFIG_EXT_ADDR_MAX]; /* "" = none */
	int log_level;				       /* enum eh_log_level */
};

enum eh_config_change_kind {
	EH_CONFIG_CREATED,  /* a new webhook took the slot: cursors start at the head */
	EH_CONFIG_REPLACED, /* same webhook id, new settings: its queue is kept */
	EH_CONFIG_DELETED,  /* slot freed: its queued notifications are discarded */
};

struct eh_config_change {
	enum eh_config_change_kind kind;
	unsigned slot;
	uint32_t old_id; /* DELETED/REPLACED: the id that was there */
	uint32_t new_id; /* CREATED/REPLACED */
};

struct eh_config_result {
	char status_topic[EH_CONFIG_STATUS_TOPIC_MAX]; /* "" = nothing to publish */
	char status_body[EH_CONFIG_STATUS_BODY_MAX];   /* retained JSON; no secret values */
	bool accepted;
	bool noop;	      /* signed mode: the same version and bytes again */
	bool bad_id;	      /* the topic's webhook id is not a positive integer */
	bool gateway_changed; /* log_level or verbose/external_address changed */
	unsigned nchanges;
	struct eh_config_change changes[2];
	int slot;	 /* webhook topics: the slot of the topic's id after it, -1 none */
	bool overridden; /* a fleet webhook accepted while a preceding one decides */
};

struct eh_catalog_entry {
	uint8_t kind; /* enum eh_catalog_kind; 0xff = free */
	long long id;
	uint32_t off, len; /* JSON text in the arena */
};

struct eh_config_version {
	char topic[EH_CONFIG_STATUS_TOPIC_MAX]; /* "" = free */
	uint64_t version;
	uint8_t digest[32]; /* HMAC of the accepted message: same bytes again = no-op */
	bool applied;	    /* applied since init (after a restart the retained copy applies) */
};

struct eh_config {
	/* caller reads (loop thread) */
	struct eh_webhook webhooks[EH_MAX_WEBHOOKS]; /* id 0 = free slot */
	struct eh_filter filters[EH_MAX_WEBHOOKS];   /* compiled, same slot */
	uint8_t source[EH_MAX_WEBHOOKS];	     /* where a slot's webhook came from:
							0 = P, k + 1 = fleet_prefixes[k] */
	struct eh_gateway gateway;
	/* internal */
	struct eh_config_init init;
	char prefix[EH_CONFIG_STATUS_TOPIC_MAX];
	char fleet[EH_CONFIG_FLEET_MAX][EH_CONFIG_STATUS_TOPIC_MAX]; /* F, copied */
	struct eh_catalog_entry catalog[EH_CATALOG_MAX_ENTRIES];
	char arena[EH_CATALOG_BYTES];
	uint32_t arena_used;
	struct eh_config_version versions[EH_CONFIG_MAX_TOPICS];
	uint64_t accepted, refused, bad_ids;
	int slot_hint;				 /* eh_config_hint_slot: -1 = lowest free slot */
	int default_log_level;			 /* the level at init: gateway default */
	char vfile[EH_CONFIG_VERSIONS_FILE_MAX]; /* versions file text, read and written */
	/* Kept across inits (static storage starts zeroed): versions[0, versions_used) may
	 * hold entries; nothing past it is read or written, so the unused part of the table
	 * costs no RAM. */
	unsigned versions_used;
};

/* Whether topic is a webhook topic, P/config/webhooks/<id> or a fleet's
 * F/config/webhooks/<id>, with a valid id (*id, may be NULL). */
bool eh_config_webhook_topic(const struct eh_config *c, const char *topic, uint32_t *id);

/* The retained config-status topic that answers a config topic: P's own
 * are P/config-status/..., a fleet webhook's is
 * P/config-status/fleet/F/webhooks/<id>. "" when topic is none of ours. */
void eh_config_status_topic(const struct eh_config *c, const char *topic,
			    char out[EH_CONFIG_STATUS_TOPIC_MAX]);

/* Set up an empty table. In signed mode, reads versions_path (a missing
 * file is an empty history). EH_ERR_CORRUPT or EH_ERR_IO when it cannot be
 * read; EH_ERR_INVAL for a bad init. c must outlive its users. */
eh_err eh_config_init(struct eh_config *c, const struct eh_config_init *init);

/* Handle one message whose topic is under P/config/ or P/catalog/.
 * payload may hold anything (bounded by EH_MAX_MSG_BYTES); hmac_prop is the
 * MQTT v5 user property "hmac-sha256" or NULL. Fills res (always: the
 * status topic and body to publish retained, what changed). EH_OK when
 * applied (or a no-op); EH_ERR_PROTO / EH_ERR_PERM (signature) /
 * EH_ERR_TOOBIG when refused: nothing changed. */
eh_err eh_config_handle(struct eh_config *c, const char *topic, const uint8_t *payload, size_t len,
			const char *hmac_prop, struct eh_config_result *res);

/* A webhook URL as the logs show it: scheme, host, a port other than the
 * scheme's default, and the path without its query string (receivers take
 * tokens there). Cut to cap - 1 bytes; always NUL-terminated. */
void eh_config_url_shown(const struct eh_url *u, char *out, size_t cap);

/* Validate a webhook JSON without applying it (edgehookctl check-config):
 * every error with its path. allow_plain_http as the daemon would have it. */
eh_err eh_config_check_webhook(const char *json, size_t len, bool allow_plain_http,
			       struct eh_errs *errs);

/* Validate a P/config/gateway JSON (unsigned mode) without applying it:
 * every error with its path. EH_OK when valid, else EH_ERR_PROTO. */
eh_err eh_config_check_gateway(const char *json, size_t len, struct eh_errs *errs);

/* The mask of ACTIVE webhook slots whose filters want n (bit s = slot s). */
uint64_t eh_config_match(const struct eh_config *c, const struct eh_note *n);

/* Whether slot's filters can want notifications of type t at all (for the
 * seed's "Updating "events" workers for webhooks: {...}" line). */
bool eh_config_wants_type(const struct eh_config *c, unsigned slot, unsigned t);

/* struct eh_catalog_view's lookup: ctx is the struct eh_config. */
const char *eh_config_catalog_lookup(void *ctx, enum eh_catalog_kind kind, long long id,
				     size_t *len);

/* The signature of a config message: lowercase hex of
 * HMAC-SHA256(key, topic + "\0" + payload), as `edgehookctl sign` prints it
 * and the "hmac-sha256" user property carries it. */
eh_err eh_config_sign(const uint8_t *key, size_t klen, const char *topic, const uint8_t *payload,
		      size_t len, char hex[EH_CONFIG_SIG_HEX]);

/* The slot the next webhook created should take when it is free (replay
 * of the stored config after a restart: queue records name webhooks by
 * slot, so each must come back to its own). -1: lowest free slot. */
void eh_config_hint_slot(struct eh_config *c, int slot);

/* Figures for P/status. */
void eh_config_status(const struct eh_config *c, struct eh_status_config *out);

#endif /* EH_CONFIG_H */
