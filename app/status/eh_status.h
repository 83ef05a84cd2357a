/* SPDX-License-Identifier: Apache-2.0 */
/* eh_status.h - the figures an operator reads: counters from every stage,
 * rendered as the JSON of P/status and P/webhooks/<id>/state (CONTRACT
 * section 3), which CoAP's GET /status serves too. Rendering writes into a
 * caller buffer; nothing is allocated. Secrets never reach these structs. */
#ifndef EH_STATUS_H
#define EH_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_limits.h"

/* Input-side counters, kept by the daemon's ingest path. */
struct eh_status_ingest {
	uint64_t messages;	/* MQTT/CoAP messages on the input topics */
	uint64_t notifications; /* notifications parsed from them */
	uint64_t queued;	/* notifications appended (wanted by >= 1 webhook) */
	uint64_t unmatched;	/* notifications no active webhook wanted */
	uint64_t rejected;	/* messages refused whole: bad JSON, bad element */
	uint64_t oversize;	/* messages over EH_MAX_MSG_BYTES (also in rejected) */
	uint64_t duplicates;	/* broker redeliveries not queued again */
	uint64_t blocked;	/* times input was paused by a full queue (block) */
};

struct eh_status_config {
	uint64_t accepted; /* config/catalog messages applied */
	uint64_t refused;  /* config/catalog messages refused */
	uint64_t bad_ids;  /* topics whose webhook id is not a positive integer */
	unsigned webhooks; /* configured webhooks */
	unsigned active;   /* of which active */
	bool signed_mode;
};

struct eh_status_queue {
	uint64_t capacity_bytes;
	uint64_t used_bytes;
	uint64_t records;
	uint64_t dropped;	/* records discarded by drop_oldest, all webhooks */
	uint64_t corrupt;	/* damaged records found and skipped */
	uint64_t bytes_written; /* to the device since start */
	uint64_t syncs;		/* fdatasync calls since start */
	const char *full_policy;
};

struct eh_status_figures {
	const char *state; /* "online" | "offline" | "stopping" */
	const char *version;
	const char *device_id;
	uint64_t uptime_s;
	bool mqtt_connected;
	uint64_t mqtt_reconnects;
	struct eh_status_ingest in;
	struct eh_status_config config;
	struct eh_status_queue queue;
	uint64_t sent; /* notifications delivered, all webhooks */
	uint64_t failed_attempts;
	uint64_t dead_lettered;
};

/* One webhook's state (P/webhooks/<id>/state). */
struct eh_status_webhook {
	uint32_t id;
	bool active;
	uint64_t queue[3]; /* undelivered per type: events, episodes, counters */
	uint64_t sent;
	uint64_t failed_attempts;
	uint64_t dropped;
	uint64_t dead_lettered;
	uint64_t dead_letters_pending; /* given up, waiting for the broker's PUBACK */
	char last_error[160];	       /* "" = none; never holds header values or secrets */
	uint64_t last_error_ms;	       /* wall ms of last_error; 0: none */
	uint64_t last_success_ms;      /* wall ms of the last delivery; 0: none */
	uint64_t oldest_ms;	       /* wall ms the oldest undelivered was queued; 0: none */
	uint32_t attempt;	       /* attempt number of a failing batch; 0: none */
	uint64_t next_attempt_at_ms;   /* wall ms of the next retry; 0: none */
};

/* Render into buf (NUL-terminated). Returns the length, or 0 when cap was
 * too small (nothing usable was written). */
size_t eh_status_render(const struct eh_status_figures *f, char *buf, size_t cap);
size_t eh_status_render_webhook(const struct eh_status_webhook *w, char *buf, size_t cap);

/* One webhook's figures per input type, for /metrics. */
struct eh_status_metric_type {
	uint64_t depth;	       /* undelivered notifications */
	uint64_t oldest_age_s; /* age of the oldest undelivered one; 0 when none */
	uint64_t sent;
	uint64_t failed_attempts;
	uint64_t dead_lettered;
};
struct eh_status_metric_webhook {
	uint32_t id;
	struct eh_status_metric_type t[3]; /* events, episodes, counters */
};

/* The figures as Prometheus text exposition format 0.0.4: every family with its # HELP and
 * # TYPE lines, then one sample per webhook and type (labels webhook="<id>",
 * type="events|episodes|counters") for the webhooks[0..n) given. Writes into buf
 * (NUL-terminated) and returns the length, or 0 when cap was too small. Pure: the same
 * input gives the same text. */
size_t eh_status_render_metrics(const struct eh_status_figures *f,
				const struct eh_status_metric_webhook *webhooks, size_t n,
				char *buf, size_t cap);

/* When notifications were appended, for the age of the oldest undelivered one: the queue
 * keeps no time per record, so the daemon remembers (seq, time) of appends, one entry per
 * EH_STATUS_AGE_STEP_MS at most, in a ring of EH_STATUS_AGE_SLOTS entries (64 KiB: 68
 * minutes of continuous input at the coarsest). A record's time is that of the last entry
 * at or before its seq: early by less than one step. Records older than the ring get its
 * oldest entry's time, and records appended before the daemon started get the caller's
 * fallback (its start): for those the age is a lower bound. */
#ifndef EH_STATUS_AGE_SLOTS
#define EH_STATUS_AGE_SLOTS 4096
#endif
#define EH_STATUS_AGE_STEP_MS 1000u
struct eh_status_ages {
	/* internal */
	struct {
		uint64_t seq; /* first seq appended at or after ms */
		uint64_t ms;  /* loop time */
	} e[EH_STATUS_AGE_SLOTS];
	unsigned head; /* next entry written */
	unsigned n;    /* entries used (<= EH_STATUS_AGE_SLOTS) */
	bool wrapped;  /* the oldest entries were overwritten */
};

/* Cannot fail; the ring starts empty. */
void eh_status_ages_init(struct eh_status_ages *a);
/* Record seq appended at now_ms (seqs increase). O(1). */
void eh_status_ages_note(struct eh_status_ages *a, uint64_t seq, uint64_t now_ms);
/* The append time of seq as described above (fallback_ms for seqs older than every entry
 * when nothing was overwritten). O(log n). */
uint64_t eh_status_ages_time(const struct eh_status_ages *a, uint64_t seq, uint64_t fallback_ms);

#endif /* EH_STATUS_H */
