/* SPDX-License-Identifier: Apache-2.0 */
/* eh_httpd.h - the local HTTP listener (CONTRACT 9.5): POST /in (the body FindFace Security
 * sends to a webhook) and /in/<type>, GET /status and GET /metrics. Served from the
 * daemon's own eh_loop, no thread. Backends fill struct eh_httpd; callers use the inline
 * wrappers. The routing and the token check are ours and need no library
 * (eh_httpd_route.c): they are unit tested and fuzzed alone. */
#ifndef EH_HTTPD_H
#define EH_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_assert.h"
#include "eh_err.h"
#include "eh_loop.h"

/* Connections served at once; one more is accepted and closed at once by the library. */
#ifndef EH_HTTPD_MAX_CONNS
#define EH_HTTPD_MAX_CONNS 8
#endif
/* Request bodies being received at once, each up to max_body bytes, in the backend's
 * state; a POST finding none free is answered 503 with Retry-After. */
#ifndef EH_HTTPD_BODY_SLOTS
#define EH_HTTPD_BODY_SLOTS 2
#endif
/* Default and ceiling of max_body: the MQTT message bound (larger -> 413). */
#ifndef EH_HTTPD_BODY_CEILING
#define EH_HTTPD_BODY_CEILING 262144u
#endif
/* Largest GET answer (/metrics of 64 webhooks x 3 types fits with room). */
#ifndef EH_HTTPD_RESP_MAX
#define EH_HTTPD_RESP_MAX 196608u
#endif
/* Diagnostic of a 400 answer, before JSON escaping. */
#define EH_HTTPD_DIAG_MAX 256
/* A connection idle this long (no byte either way) is closed. */
#define EH_HTTPD_TIMEOUT_S 10u
/* Seconds a client is asked to wait after a 503 (queue full, no body slot). */
#define EH_HTTPD_RETRY_AFTER_S 1u

/* What a request asks for (routing, eh_httpd_route). */
enum eh_httpd_target {
	EH_HTTPD_NOT_FOUND = 0, /* -> 404 */
	EH_HTTPD_BAD_METHOD,	/* a known path with another method -> 405 */
	EH_HTTPD_INGEST,	/* POST /in or /in/<type> */
	EH_HTTPD_STATUS,	/* GET /status */
	EH_HTTPD_METRICS,	/* GET /metrics */
};

/* Type of an ingest request: 0 events, 1 episodes, 2 counters (the path's), or
 * EH_HTTPD_TYPE_AUTO (POST /in: each element's own webhook_type). */
#define EH_HTTPD_TYPE_AUTO (-1)

struct eh_httpd_route {
	enum eh_httpd_target target;
	int type;	   /* for EH_HTTPD_INGEST */
	const char *allow; /* for EH_HTTPD_BAD_METHOD: the Allow header's value */
};

/* Route method + path (path without the query: "?..." is ignored). Pure, no allocation;
 * a path may end in one '/'. Unknown paths give EH_HTTPD_NOT_FOUND. */
void eh_httpd_route(const char *method, const char *path, struct eh_httpd_route *r);

/* Whether an Authorization header value (NULL: absent) carries "Bearer <token>" with
 * exactly token[0..len). The scheme is matched without case, one or more spaces may
 * follow it; the token is compared in time independent of where it differs (the
 * length of the expected token may leak; its bytes do not). len == 0: always true. */
bool eh_httpd_token_ok(const char *authorization, const uint8_t *token, size_t len);

/* Write diag as the body {"error": "<diag>"} into buf (JSON-escaped, cut to fit).
 * Returns the length (< cap, NUL-terminated); cap must be at least 16. */
size_t eh_httpd_error_body(const char *diag, char *buf, size_t cap);

/* Callbacks into the daemon, all called in the loop thread from inside the backend's
 * fd and timer callbacks. They must not close the listener. */
struct eh_httpd_handlers {
	/* The /status document into buf (cap bytes): its length, 0 when it did not fit
	 * (-> 500). */
	size_t (*status_json)(void *ctx, char *buf, size_t cap);
	/* The /metrics text (Prometheus 0.0.4) likewise. */
	size_t (*metrics)(void *ctx, char *buf, size_t cap);
	/* Take one body of `type` (0..2 or EH_HTTPD_TYPE_AUTO); body is valid only for the
	 * call. EH_OK: every notification is durably queued, *accepted says how many the
	 * body held -> 200 {"accepted": N}; EH_ERR_PROTO -> 400 with the NUL-terminated
	 * diag ("<path>: <message>"), nothing queued; EH_ERR_TOOBIG -> 413; EH_ERR_NOSPC
	 * (queue full under block, nothing queued) -> 503 + Retry-After; other -> 500. */
	eh_err (*ingest)(void *ctx, int type, const uint8_t *body, size_t len, size_t *accepted,
			 char *diag, size_t diag_cap);
	void *ctx;
};

/* Caller fills; zero means default; validated by open (EH_ERR_INVAL). */
struct eh_httpd_config {
	const char *bind;     /* numeric IPv4 or IPv6 address; NULL or "" -> "127.0.0.1" */
	uint16_t port;	      /* TCP port; 0: off (open succeeds and does nothing) */
	const uint8_t *token; /* bearer token bytes (copied at open); NULL: none required */
	size_t token_len;     /* 1..EH_HTTPD_TOKEN_MAX when token is set */
	size_t max_body;      /* 0 -> EH_HTTPD_BODY_CEILING; larger -> EH_ERR_INVAL */
};
#define EH_HTTPD_TOKEN_MAX 256

/* Counters for tests and logs; read-only for callers. */
struct eh_httpd_stats {
	uint64_t requests;     /* requests answered (any code) */
	uint64_t ingested;     /* 200 answers to POST /in... */
	uint64_t rejected;     /* 4xx/5xx answers to POST /in... */
	uint64_t unauthorized; /* 401 answers */
	uint64_t wakeups;      /* loop callbacks that ran the library (fd or timer) */
};

struct eh_httpd;

/* Every op is called through the wrappers below. */
struct eh_httpd_ops {
	/* Listen on cfg->bind:cfg->port, serviced by loop. h and cfg->token are copied; loop
	 * must outlive the listener. cfg->port == 0: EH_OK, off. EH_ERR_INVAL: bad bind,
	 * token or max_body; EH_ERR_NET: the port cannot be bound; EH_ERR_IO: the library
	 * could not start; EH_ERR_NOSPC: the loop's fd table is full. On error nothing stays
	 * open. */
	eh_err (*open)(struct eh_httpd *h, const struct eh_httpd_config *cfg, struct eh_loop *loop,
		       const struct eh_httpd_handlers *hd);
	uint16_t (*port)(const struct eh_httpd *h); /* the bound port; 0 when off */
	const struct eh_httpd_stats *(*stats)(const struct eh_httpd *h);
	void (*close)(struct eh_httpd *h); /* idempotent, cannot fail */
};

/* Caller allocates (static); a backend's *_init() fills it; read-only afterwards. `state`
 * is the backend's caller-provided storage, which must outlive the listener. */
struct eh_httpd {
	const struct eh_httpd_ops *ops;
	void *state;
	const char *name; /* "libmicrohttpd": for logs */
};

static inline eh_err eh_httpd_open(struct eh_httpd *h, const struct eh_httpd_config *cfg,
				   struct eh_loop *loop, const struct eh_httpd_handlers *hd)
{
	EH_ASSERT(h != NULL && h->ops != NULL && cfg != NULL && loop != NULL && hd != NULL);
	return h->ops->open(h, cfg, loop, hd);
}

static inline uint16_t eh_httpd_port(const struct eh_httpd *h)
{
	EH_ASSERT(h != NULL && h->ops != NULL);
	return h->ops->port(h);
}

static inline const struct eh_httpd_stats *eh_httpd_stats(const struct eh_httpd *h)
{
	EH_ASSERT(h != NULL && h->ops != NULL);
	return h->ops->stats(h);
}

static inline void eh_httpd_close(struct eh_httpd *h)
{
	EH_ASSERT(h != NULL && h->ops != NULL);
	h->ops->close(h);
}

#endif /* EH_HTTPD_H */
