/* SPDX-License-Identifier: Apache-2.0 */
/* eh_status_pub.h - the status publisher: gathers every stage's figures through a table of
 * sources, renders P/status and P/webhooks/<id>/state (eh_status.h) and publishes each one
 * when it changed (at most once a second, from its own loop timer) or when forced (a new
 * MQTT connection); serves the same documents and the /metrics text on demand (CoAP, the
 * HTTP listener); dates the oldest undelivered notification; pings the service watchdog.
 * It knows no other module: the daemon's wiring supplies the sources and the sink. */
#ifndef EH_STATUS_PUB_H
#define EH_STATUS_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"
#include "eh_loop.h"
#include "eh_status.h"
#include "eh_types.h"

/* The widest document the publisher renders: P/status with every counter at UINT64_MAX
 * and a 63-character device id is about 1.6 KiB, a webhook state with a 159-byte error
 * of control bytes (6 bytes each once escaped) about 1.5 KiB. */
#ifndef EH_STATUS_PUB_DOC_MAX
#define EH_STATUS_PUB_DOC_MAX 4096
#endif
#define EH_STATUS_PUB_PERIOD_MS 1000u /* how often changes are looked for */
/* A topic prefix of up to 191 bytes (the bootstrap's bound) + "/webhooks/<10 digits>/state". */
#define EH_STATUS_PUB_TOPIC_MAX 240

/* One webhook slot's delivery figures. */
struct eh_status_slot {
	uint64_t sent;		       /* notifications delivered (2xx) */
	uint64_t failed_attempts;      /* attempts that failed */
	uint64_t dead_lettered;	       /* notifications given up and published */
	uint64_t dead_letters_pending; /* given up, waiting for the broker's PUBACK */
	char last_error[160];	       /* "": none; never header values or secrets */
	uint64_t last_error_ms;	       /* wall ms of last_error; 0: none */
	uint64_t last_success_ms;      /* wall ms of the last 2xx; 0: none */
	uint32_t attempt;	       /* attempt number of a failing batch; 0: none */
	uint64_t next_attempt_at_ms;   /* wall ms of the next retry; 0: none */
	struct {		       /* the three counters above, per input type */
		uint64_t sent, failed_attempts, dead_lettered;
	} by_type[EH_TYPE_COUNT];
};

/* Where the figures come from. Every callback runs on the loop thread, gets ctx, and must
 * not call back into the publisher. */
struct eh_status_pub_sources {
	/* Input counters (ingest). */
	void (*ingest)(void *ctx, struct eh_status_ingest *out);
	/* Config counters and webhook counts. */
	void (*config)(void *ctx, struct eh_status_config *out);
	/* Queue figures (full_policy a static string; `dropped` is left to the publisher) and
	 * the records drop_oldest evicted per slot before delivery. */
	void (*queue)(void *ctx, struct eh_status_queue *out, uint64_t drops[EH_MAX_WEBHOOKS]);
	/* The MQTT connection: up now, and connections lost since start. */
	bool (*mqtt)(void *ctx, uint64_t *reconnects);
	/* The webhook in slot (< EH_MAX_WEBHOOKS): its id, 0 when the slot is empty, and
	 * whether it is active. */
	uint32_t (*webhook)(void *ctx, unsigned slot, bool *active);
	/* Delivery figures of the webhook in slot. */
	void (*slot)(void *ctx, unsigned slot, struct eh_status_slot *out);
	/* Undelivered notifications of (slot, type), and the seq of the last delivered one
	 * (the worker's cursor). */
	uint64_t (*lag)(void *ctx, unsigned slot, unsigned type);
	uint64_t (*cursor)(void *ctx, unsigned slot, unsigned type);
};

/* Where the documents go. */
struct eh_status_pub_sink {
	/* Publish body[0..len) retained, QoS 1, on topic (borrowed for the call). Failures
	 * are the sink's to log; the next change publishes again. */
	void (*publish)(void *ctx, const char *topic, const char *body, size_t len);
	/* P/status was published with a change (CoAP observers are told); may be NULL. */
	void (*changed)(void *ctx);
	/* Once per watchdog period: tell the service manager the loop runs; may be NULL. */
	void (*alive)(void *ctx);
};

struct eh_status_pub_config {
	struct eh_loop *loop;			 /* runs the timers; its clock dates things */
	const struct eh_status_pub_sources *src; /* kept: must outlive the publisher */
	void *src_ctx;
	const struct eh_status_pub_sink *sink; /* kept likewise */
	void *sink_ctx;
	const char *topic_prefix; /* P (< 192 bytes); kept */
	const char *version;	  /* "version" of P/status; kept */
	const char *device_id;	  /* kept */
	uint64_t watchdog_ms;	  /* sink->alive every watchdog_ms; 0: never */
};

struct eh_status_pub {
	/* internal */
	struct eh_status_pub_config cfg;
	uint64_t started_ms;			/* loop time at init */
	uint64_t started_wall_ms;		/* wall time at init */
	uint32_t timer;				/* the change timer; 0: not armed */
	uint32_t watchdog_timer;		/* 0: not armed */
	uint64_t status_hash;			/* FNV-1a 64 of P/status without uptime */
	uint64_t webhook_hash[EH_MAX_WEBHOOKS]; /* of each state published; 0: none */
	uint64_t peek_head[EH_MAX_WEBHOOKS][EH_TYPE_COUNT];  /* first seq of the last peek */
	struct eh_status_ages ages;			     /* append times, for the oldest age */
	struct eh_status_metric_webhook mw[EH_MAX_WEBHOOKS]; /* /metrics rows */
	char doc[EH_STATUS_PUB_DOC_MAX];		     /* the document being published */
	char status_topic[EH_STATUS_PUB_TOPIC_MAX];	     /* "P/status" */
	char topic[EH_STATUS_PUB_TOPIC_MAX];		     /* "P/webhooks/<id>/state" */
};

/* Cannot fail; cfg is copied (the pointers in it are kept). The clock is read now: uptime
 * and the dates of records from before the start count from here. */
void eh_status_pub_init(struct eh_status_pub *p, const struct eh_status_pub_config *cfg);

/* Arm the change timer (every EH_STATUS_PUB_PERIOD_MS; it publishes only while the MQTT
 * source says connected) and the watchdog timer. EH_ERR_NOSPC when the loop's timer table
 * is full. */
eh_err eh_status_pub_start(struct eh_status_pub *p);

/* Disarm both timers; safe at any time. */
void eh_status_pub_stop(struct eh_status_pub *p);

/* Publish now: P/status and every webhook state when force (a new connection: the
 * retained copies may be stale), else only the documents that changed since they were
 * last published. The uptime alone is no change. */
void eh_status_pub_publish(struct eh_status_pub *p, bool force);

/* The webhook of slot is gone (its retained state was cleared): a webhook created in the
 * slot later publishes its state at once. */
void eh_status_pub_forget(struct eh_status_pub *p, unsigned slot);

/* A record appended with seq at loop time now_ms (seqs increase), and the first seq a
 * worker of (slot, type) just peeked: what the oldest undelivered age is computed from. */
void eh_status_pub_appended(struct eh_status_pub *p, uint64_t seq, uint64_t now_ms);
void eh_status_pub_peeked(struct eh_status_pub *p, unsigned slot, unsigned type, uint64_t seq);

/* P/status as served to CoAP and HTTP GET /status into buf (NUL-terminated): the length,
 * 0 when cap was too small. */
size_t eh_status_pub_json(struct eh_status_pub *p, char *buf, size_t cap);

/* The state of webhook id into buf: EH_OK with *len; EH_ERR_NOENT when no slot holds id;
 * EH_ERR_NOSPC when cap was too small. */
eh_err eh_status_pub_webhook_json(struct eh_status_pub *p, uint32_t id, char *buf, size_t cap,
				  size_t *len);

/* The /metrics text (eh_status_render_metrics) into buf: the length, 0 when cap was too
 * small. */
size_t eh_status_pub_metrics(struct eh_status_pub *p, char *buf, size_t cap);

#endif /* EH_STATUS_PUB_H */
