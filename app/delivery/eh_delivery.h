/* SPDX-License-Identifier: Apache-2.0 */
/* eh_delivery.h - the webhook workers (CONTRACT section 5 and 7): one per
 * (webhook slot, type), each sending what is queued now as batches of one
 * type, in order, over drivers/https; retrying the same batch with the
 * seed's back-off; giving it up to a dead-letter callback after
 * max_attempts. The queue, the renderer and the dead-letter publisher are
 * reached through callbacks, so this module depends on none of them. */
#ifndef EH_DELIVERY_H
#define EH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/eh_webhook.h"
#include "eh_err.h"
#include "eh_errs.h"
#include "eh_https.h"
#include "eh_limits.h"
#include "eh_loop.h"
#include "eh_time.h"
#include "eh_transport.h"
#include "eh_types.h"

/* ==== Bounds ==== */

#ifndef EH_DELIVERY_BODY_MAX
/* One POST body: batch_max_bytes (1 MiB default) plus room for a single
 * notification that is larger than batch_max_bytes and goes alone. */
#define EH_DELIVERY_BODY_MAX (1024u * 1024u + 256u * 1024u)
#endif
/* Bytes a source needs to return one batch of raw records. */
#define EH_DELIVERY_PEEK_BYTES EH_DELIVERY_BODY_MAX
/* POSTs in flight at once; each holds one body buffer and one connection. */
#define EH_DELIVERY_SENDERS EH_HTTPS_MAX_CONNS
#define EH_DELIVERY_KEY_MAX 80	/* "<16 hex>-<id>-<type>-<seq>" */
#define EH_DELIVERY_IDS_MAX 320 /* notification ids quoted in a log line */
#define EH_DELIVERY_ERR_MAX 128 /* last error text */
#ifndef EH_DELIVERY_CLOCK_CHECK_MS
#define EH_DELIVERY_CLOCK_CHECK_MS 1000 /* how often a held delivery looks at the clock */
#endif
#define EH_DELIVERY_CLOCK_WAIT "waiting for clock" /* last_error while held */
#define EH_DELIVERY_WAIT_CAP_MS 100000u		   /* the back-off ceiling, 100 s */
/* The shortest wait a Retry-After can ask for: "0" or a date already past
 * would otherwise retry as fast as the receiver answers (forever, with
 * max_attempts 0). 1 s is the header's own resolution. */
#define EH_DELIVERY_RETRY_AFTER_MIN_MS 1000u

/* ==== Seams ==== */

/* One queued record: raw is valid until the next peek or ack. */
struct eh_delivery_item {
	uint64_t seq;
	const uint8_t *raw;
	size_t len;
};

/* The queue, as the worker (slot, type) sees it. peek returns the oldest
 * unacknowledged records (the same ones again until acked), at most
 * max_items; ack drops everything up to and including upto_seq; lag is the
 * number of unacknowledged records. */
struct eh_delivery_source_ops {
	eh_err (*peek)(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		       size_t max_items, size_t *n);
	eh_err (*ack)(void *ctx, unsigned slot, unsigned type, uint64_t upto_seq);
	uint64_t (*lag)(void *ctx, unsigned slot, unsigned type);
};

/* Render one notification as it goes into the JSON array (with its
 * webhook_type) into out[0..cap): EH_OK and *out_len, EH_ERR_NOSPC when it
 * does not fit, another error when the record cannot be rendered. */
typedef eh_err (*eh_delivery_render_fn)(void *ctx, unsigned type, const uint8_t *raw, size_t len,
					const struct eh_webhook *wh, char *out, size_t cap,
					size_t *out_len);
/* The notification's id as log text (digits, no quotes); returns its length. */
typedef size_t (*eh_delivery_note_id_fn)(void *ctx, const uint8_t *raw, size_t len, char *buf,
					 size_t cap);
/* A batch given up after max_attempts: body exactly as it was POSTed (a
 * record that cannot be rendered: "[<its stored bytes>]"). EH_OK: the
 * publish is under way and its outcome comes back through
 * eh_delivery_deadletter_done(tag); any other code: not published now, the
 * worker tries again later. The batch stays in the queue until then. */
typedef eh_err (*eh_delivery_deadletter_fn)(void *ctx, const struct eh_webhook *wh, unsigned type,
					    const char *body, size_t len, uint64_t tag);

struct eh_delivery_config {
	struct eh_loop *loop;	      /* schedules attempts (its clock is the schedule's) */
	const struct eh_clock *clock; /* wall time: webhook-timestamp, Retry-After dates */
	bool allow_plain_http;	      /* http:// webhook URLs */
	uint64_t queue_uid;	      /* first part of every batch key */
	const struct eh_delivery_source_ops *source;
	void *source_ctx;
	eh_delivery_render_fn render;
	eh_delivery_note_id_fn note_id;	      /* optional: ids in log lines */
	eh_delivery_deadletter_fn deadletter; /* optional: NULL gives batches up at once */
	void *ctx;			      /* for render, note_id and deadletter */
	/* Required: the connection pool's transports and client identities
	 * (the daemon: the TLS pool, which also resolves names; tests: a fake).
	 * Both borrowed for d's life. */
	const struct eh_transport_factory_ops *transport;
	void *transport_ctx;
	/* The gateway's HTTP CONNECT proxy (bootstrap https_proxy), used by
	 * webhooks whose "proxy" is null unless their host matches no_proxy.
	 * All borrowed for d's life. */
	const char *proxy_host; /* NULL: none */
	uint16_t proxy_port;
	const char *const *no_proxy; /* host names, ".suffix"es, IP literals, "*" */
	size_t n_no_proxy;
	bool no_keepalive; /* a new connection per POST (benchmark baseline) */
	uint32_t idle_ms;  /* idle connection close; 0 = EH_HTTPS_IDLE_MS */
	/* Attempts wait while the wall clock reads before this (Unix seconds:
	 * the build time), so a box without a real-time clock does not fail
	 * TLS with certificates "not yet valid"; 0: no check. */
	uint64_t not_before_s;
};

/* Per webhook figures for P/webhooks/<id>/state. */
struct eh_delivery_wstats {
	uint64_t queue[EH_TYPE_COUNT];	      /* undelivered notifications per type */
	uint64_t sent;			      /* notifications delivered (2xx) */
	uint64_t failed_attempts;	      /* attempts that failed */
	uint64_t dead_lettered;		      /* notifications given up and published */
	uint64_t dead_letters_pending;	      /* given up, waiting for their publish */
	uint64_t batches;		      /* batches delivered */
	char last_error[EH_DELIVERY_ERR_MAX]; /* "" when none or since the last success */
	uint64_t last_error_ms;		      /* wall time of last_error, 0: none */
	uint64_t last_success_ms;	      /* wall time of the last 2xx, 0: none yet */
	uint32_t attempt;		      /* attempt number of a batch being retried
					       * (2, 3, ...), 0 when none fails */
	uint64_t next_attempt_in_ms;	      /* soonest pending retry, 0 when none */
	uint64_t next_attempt_at_ms;	      /* the same as a wall time, 0 when none */
	double next_attempt_in_s;	      /* the same in seconds, for the state topic */
	bool in_flight;			      /* a POST of this webhook is under way */
	struct {			      /* the counters above, per input type */
		uint64_t sent, failed_attempts, dead_lettered;
	} by_type[EH_TYPE_COUNT];
};

/* ==== Internal state (caller allocates the whole struct) ==== */

enum eh_delivery_wstate {
	EH_DW_IDLE = 0,	  /* nothing to send, waiting for a kick */
	EH_DW_WAITING,	  /* has records, waiting for a free sender */
	EH_DW_SENDING,	  /* a POST is in flight */
	EH_DW_BACKOFF,	  /* waiting before the next attempt */
	EH_DW_DEADLETTER, /* given up: waiting for the dead letter's PUBACK or retry */
};

struct eh_delivery;
struct eh_delivery_sender;

struct eh_delivery_worker {
	struct eh_delivery *d;
	unsigned slot, type;
	enum eh_delivery_wstate state;
	uint32_t attempts; /* failed attempts of the current batch */
	bool have_batch;   /* the current batch is fixed (count, first seq) */
	uint64_t first_seq, last_seq;
	size_t count;
	uint32_t timer;	     /* back-off timer */
	uint64_t due_ms;     /* loop time of the next attempt */
	uint64_t ticket;     /* order of arrival while EH_DW_WAITING */
	uint32_t dl_gen;     /* numbers each dead-letter publish, in its tag */
	uint32_t dl_wait_ms; /* next wait before publishing the dead letter again */
	struct eh_delivery_sender *sender;
	/* This type's share of the slot's counters (for per-type metrics). */
	uint64_t sent, failed_attempts, dead_lettered;
};

struct eh_delivery_sender {
	struct eh_delivery *d;
	struct eh_delivery_worker *w; /* NULL: free */
	struct eh_https_req req;
	struct eh_https_hdr hdrs[8 + EH_MAX_HEADERS];
	char host[EH_WEBHOOK_HOST_MAX];
	char path[EH_WEBHOOK_PATH_MAX];
	char key[EH_DELIVERY_KEY_MAX];
	char wh_id[12];
	char ts[24];
	char sig[64];
	char ids[EH_DELIVERY_IDS_MAX]; /* "'1', '2'" for the log */
	size_t body_len;
	char body[EH_DELIVERY_BODY_MAX];
};

struct eh_delivery_slot {
	const struct eh_webhook *wh; /* NULL: no webhook */
	uint32_t id;		     /* id and gen seen last, to spot a new webhook */
	uint16_t gen;
	uint64_t sent, failed_attempts, dead_lettered, batches;
	uint64_t dl_pending;			 /* notifications of batches in EH_DW_DEADLETTER */
	uint64_t last_success_ms, last_error_ms; /* wall times, 0: none */
	char last_error[EH_DELIVERY_ERR_MAX];
	unsigned identity; /* client certificate handle of the factory, 0: none */
	char identity_err[EH_DELIVERY_ERR_MAX]; /* why the certificate did not load */
	struct eh_delivery_worker w[EH_TYPE_COUNT];
};

struct eh_delivery {
	/* internal */
	struct eh_delivery_config cfg;
	bool stopped;
	bool draining;	       /* eh_delivery_drain: no new attempt starts */
	const char *reload_ca; /* eh_delivery_reload_ca waits for the senders */
	uint64_t next_ticket;
	struct eh_https https;
	struct eh_delivery_slot slots[EH_MAX_WEBHOOKS];
	struct eh_delivery_item items[EH_MAX_BATCH];
	struct eh_delivery_sender senders[EH_DELIVERY_SENDERS];
	uint32_t clock_timer; /* armed while attempts wait for the clock */
};

/* ==== API ==== */

/* Set up; cfg is copied, its loop, clock, source and contexts must outlive
 * d. EH_ERR_INVAL for a missing loop, clock, source, render or transport
 * factory. Cannot fail otherwise: the factory is set up by the caller. */
eh_err eh_delivery_init(struct eh_delivery *d, const struct eh_delivery_config *cfg);

/* The check hook of struct eh_config_init (ctx is the struct eh_delivery):
 * a webhook's client certificate and key must load (the files are read,
 * parsed and matched, then released). Errors name client_cert_file or
 * client_key_file. EH_OK with no certificate, or when the transport
 * factory loads no identities (test transports). */
eh_err eh_delivery_check_webhook(void *ctx, const struct eh_webhook *wh, struct eh_errs *errs);

/* 1 when host is sent direct under the no_proxy list: an entry "*", an
 * equal name or IP literal, or a name or ".name" that host ends with at a
 * label boundary (case-insensitive). */
bool eh_delivery_no_proxy_match(const char *const *list, size_t n, const char *host);

/* The webhook in slot changed: wh (kept; it must stay valid and change only
 * ahead of another call for this slot), or NULL when deleted. A new webhook
 * in the slot starts fresh; a changed one keeps its batch and applies the
 * change from the next attempt (its client certificate files are read
 * again here: a failure is logged and fails its attempts); a deleted one stops at once (a POST in
 * flight is abandoned). */
void eh_delivery_set_webhook(struct eh_delivery *d, unsigned slot, const struct eh_webhook *wh);

/* New records were appended for (slot, type). */
void eh_delivery_kick(struct eh_delivery *d, unsigned slot, unsigned type);

void eh_delivery_stats(const struct eh_delivery *d, unsigned slot, struct eh_delivery_wstats *out);

/* The outcome of the dead-letter publish of tag (see
 * eh_delivery_deadletter_fn): ok, the batch leaves the queue and the worker
 * goes on; not ok, it is published again after a wait (1 s doubling to
 * 30 s). A tag that is no longer awaited (the webhook changed, a retry
 * already went out) is ignored. */
void eh_delivery_deadletter_done(struct eh_delivery *d, uint64_t tag, bool ok);

/* Trust the CAs of ca_file (kept; it must stay valid) from the next
 * connection on: connections are closed and saved sessions dropped once
 * no POST is in flight; until then no new attempt starts. EH_OK: done now;
 * EH_ERR_AGAIN: done when the POSTs in flight end (logged then);
 * EH_ERR_NOENT / EH_ERR_TLS: unusable file, the old CAs stay; EH_ERR_INVAL
 * when the transport factory cannot reload CAs. */
eh_err eh_delivery_reload_ca(struct eh_delivery *d, const char *ca_file);

/* A planned stop: no new attempt starts from now on; POSTs in flight go on
 * and their outcome is recorded (acked on 2xx). Returns how many are still
 * in flight; call again (it is idempotent) until 0 or the grace runs out,
 * then eh_delivery_stop. */
unsigned eh_delivery_drain(struct eh_delivery *d);

/* Abandon POSTs in flight, cancel timers, close connections. Idempotent;
 * afterwards kicks are ignored. */
void eh_delivery_stop(struct eh_delivery *d);

/* Wait before attempt k (k >= 2): min(100 s, 0.1 s * 2.7^k), in ms. */
uint64_t eh_delivery_backoff_ms(uint32_t k);

/* The connection pool's figures (connections opened, resumed, reused). */
const struct eh_https_stats *eh_delivery_https_stats(const struct eh_delivery *d);

#endif /* EH_DELIVERY_H */
