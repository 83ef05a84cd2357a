/* SPDX-License-Identifier: Apache-2.0 */
/* eh_coap.h - the local CoAP endpoint (CONTRACT section 8): status with Observe, one
 * webhook's state, discovery, and ingest for constrained producers. Served over plain UDP
 * by libcoap 3 from the daemon's own eh_loop: no thread, no polling when idle. */
#ifndef EH_COAP_H
#define EH_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_loop.h"

/* Largest GET response body (status or one webhook); longer ones are cut by the handler's
 * cap and sent block-wise (Block2) when over one datagram. */
#ifndef EH_COAP_RESP_MAX
#define EH_COAP_RESP_MAX 16384
#endif
/* GET responses that may be in flight at once: libcoap keeps a pointer to a block-wise
 * body until its last block is sent, so each one holds a slot; none free -> 5.03. */
#ifndef EH_COAP_RESP_SLOTS
#define EH_COAP_RESP_SLOTS 4
#endif
/* Diagnostic payload of a 4.00 answer. */
#ifndef EH_COAP_DIAG_MAX
#define EH_COAP_DIAG_MAX 256
#endif
/* Default and ceiling of max_body: the MQTT message bound. Block-wise (Block1) bodies are
 * put together in a buffer of this size inside struct eh_coap. */
#ifndef EH_COAP_BODY_CEILING
#define EH_COAP_BODY_CEILING 262144u
#endif
/* A half-received block-wise body from one client may be taken over by another client
 * after this long without a block (loop time); the same client may always restart. */
#ifndef EH_COAP_ASM_IDLE_MS
#define EH_COAP_ASM_IDLE_MS 10000u
#endif
/* Recent POSTs to /in/... remembered by (client, message id), so a retransmitted request
 * (its answer was lost) gets the same code again instead of a second ingest. libcoap 4.3
 * does not do this for requests. Kept for EXCHANGE_LIFETIME (RFC 7252: 247 s). */
#ifndef EH_COAP_DEDUP_SLOTS
#define EH_COAP_DEDUP_SLOTS 64
#endif
#define EH_COAP_DEDUP_MS 247000u
/* Observe notifications of /status are sent at most this often. */
#define EH_COAP_NOTIFY_MIN_MS 1000u

/* Callbacks into the daemon, all called in the loop thread from inside eh_coap's fd and
 * timer callbacks. They may call eh_coap_status_changed() but not eh_coap_close(). */
struct eh_coap_handlers {
	/* Write the figures of /status as JSON into buf (cap bytes); return the length
	 * written (<= cap), 0 when they did not fit (-> 5.00). Called for every GET and
	 * every Observe notification. */
	size_t (*status_json)(void *ctx, char *buf, size_t cap);
	/* One webhook's state as JSON: EH_OK with *len set; EH_ERR_NOENT -> 4.04;
	 * anything else -> 5.00. */
	eh_err (*webhook_json)(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len);
	/* Accept one notification (type 0 events, 1 episodes, 2 counters); payload is valid
	 * only for the call. EH_OK: durably queued -> 2.04; EH_ERR_PROTO -> 4.00 with the
	 * NUL-terminated diag as payload; EH_ERR_TOOBIG -> 4.13; EH_ERR_NOSPC -> 5.03;
	 * anything else -> 5.00. */
	eh_err (*ingest)(void *ctx, unsigned type, const uint8_t *payload, size_t len, char *diag,
			 size_t diag_cap);
	void *ctx;
};

/* Zero means default. bind: a numeric IPv4/IPv6 address (NULL or "" -> "127.0.0.1");
 * port: UDP port, 0 turns the endpoint off (eh_coap_open succeeds and does nothing);
 * max_body: largest ingest body in bytes (0 -> EH_COAP_BODY_CEILING; larger -> INVAL). */
struct eh_coap_config {
	const char *bind;
	uint16_t port;
	size_t max_body;
};

/* Counters for tests and /status; read-only for callers. */
struct eh_coap_stats {
	uint64_t requests;   /* requests that reached a handler of ours */
	uint64_t ingested;   /* 2.04 answers to POST /in/... */
	uint64_t rejected;   /* 4.xx/5.xx answers to POST /in/... */
	uint64_t notifies;   /* Observe notification rounds started for /status */
	uint64_t blocks;     /* Block1 pieces taken into the body buffer */
	uint64_t duplicates; /* repeated POSTs answered from the dedup table */
	uint64_t wakeups;    /* loop callbacks that serviced libcoap (fd or timer) */
};

struct coap_context_t;
struct coap_resource_t;

/* One remembered POST: who, which message, what it was answered. */
struct eh_coap_seen {
	unsigned char peer[64]; /* libcoap address of the client, compared whole */
	uint64_t at_ms;		/* loop time of the answer */
	uint16_t mid;		/* CoAP message id */
	uint8_t code;		/* the answer's code (class << 5 | detail); 0: free */
};

/* Caller-allocated (static in main.c): EH_COAP_RESP_SLOTS * EH_COAP_RESP_MAX +
 * EH_COAP_BODY_CEILING bytes and change (320 KiB by default). All fields are internal;
 * the buffers at the end are not touched by eh_coap_init. */
struct eh_coap {
	/* internal */
	struct coap_context_t *ctx;	/* NULL: closed or off */
	struct coap_resource_t *status; /* the observable /status resource */
	struct eh_loop *loop;
	struct eh_coap_handlers h;
	size_t max_body;
	uint16_t port;		 /* the bound port (useful when 0 was not asked) */
	int fd;			 /* libcoap's epoll fd, watched by the loop */
	uint32_t io_timer;	 /* loop timer for libcoap's next timeout; 0 none */
	uint32_t notify_timer;	 /* loop timer for a pending notification; 0 none */
	uint64_t last_notify_ms; /* loop time of the last notification round */
	bool notified_once;	 /* last_notify_ms is meaningful */
	bool in_service;	 /* inside coap_io_process: do not re-enter */
	struct eh_coap_stats stats;
	char diag[EH_COAP_DIAG_MAX];
	/* The one block-wise body being received (Block1), in order, bounded by max_body. */
	bool asm_busy;
	unsigned asm_type;	    /* 0 events, 1 episodes, 2 counters */
	size_t asm_len;		    /* bytes received so far, contiguous from 0 */
	uint64_t asm_last_ms;	    /* loop time of the last block */
	unsigned char asm_peer[64]; /* the sender's libcoap address, compared whole */
	struct eh_coap_seen seen[EH_COAP_DEDUP_SLOTS]; /* ring of answered POSTs */
	unsigned seen_next;			       /* the slot the next answer overwrites */
	bool slot_busy[EH_COAP_RESP_SLOTS];
	char slot[EH_COAP_RESP_SLOTS][EH_COAP_RESP_MAX];
	uint8_t asm_buf[EH_COAP_BODY_CEILING];
};

/* Cannot fail; makes eh_coap_close() safe. */
void eh_coap_init(struct eh_coap *c);

/* Start the endpoint on cfg->bind:cfg->port, serviced by loop. h is copied; loop must
 * outlive the endpoint (until eh_coap_close). cfg->port == 0: EH_OK, endpoint off.
 * EH_ERR_INVAL: bad bind address or max_body; EH_ERR_NET: the port cannot be bound;
 * EH_ERR_IO: libcoap could not be set up (no epoll support, out of memory);
 * EH_ERR_NOSPC: the loop's fd table is full. On error nothing stays open.
 * One endpoint per process at a time: libcoap's startup/cleanup and log handler are
 * process-wide. */
eh_err eh_coap_open(struct eh_coap *c, const struct eh_coap_config *cfg, struct eh_loop *loop,
		    const struct eh_coap_handlers *h);

/* The figures changed: observers of /status get a notification, at most one round per
 * EH_COAP_NOTIFY_MIN_MS (loop time); changes in between are folded into the next round,
 * which a loop timer sends. Cheap, safe from handlers, no-op when off. */
void eh_coap_status_changed(struct eh_coap *c);

/* True when the endpoint is serving. */
bool eh_coap_is_open(const struct eh_coap *c);
/* The UDP port actually bound (0 when off). */
uint16_t eh_coap_port(const struct eh_coap *c);
const struct eh_coap_stats *eh_coap_stats(const struct eh_coap *c);

/* Stop serving and release everything libcoap allocated. Idempotent. */
void eh_coap_close(struct eh_coap *c);

#endif /* EH_COAP_H */
