/* SPDX-License-Identifier: Apache-2.0 */
/* eh_https.h - HTTP/1.1 client over any eh_transport, driven by the poll
 * loop: no thread and no blocking call (names resolve off the loop when the
 * transport has a resolver, platform/eh_resolve.h). A bounded
 * pool of keep-alive connections; a response parser that allocates nothing
 * (caller buffer, fixed header array, views into the buffer). */
#ifndef EH_HTTPS_H
#define EH_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_loop.h"
#include "eh_transport.h"

/* ==== Response parser ==== */

#ifndef EH_HTTP_MAX_HEADERS
#define EH_HTTP_MAX_HEADERS 32 /* response headers kept; more is EH_ERR_TOOBIG */
#endif

/* A view into the caller's buffer; not NUL-terminated. */
struct eh_http_header {
	const char *name;
	size_t name_len;
	const char *value; /* without leading and trailing blanks */
	size_t value_len;
};

struct eh_http_response {
	int minor_version; /* 0 or 1 of HTTP/1.x */
	int status;	   /* 100..999 */
	const char *reason;
	size_t reason_len;
	struct eh_http_header headers[EH_HTTP_MAX_HEADERS];
	size_t nheaders;
};

/* Parse a status line and header block from buf[0..len). EH_OK: *consumed
 * is the size of the head including its empty line, r holds views into buf
 * (valid while buf is). EH_ERR_AGAIN: the head is not complete yet.
 * EH_ERR_PROTO: malformed. EH_ERR_TOOBIG: over EH_HTTP_MAX_HEADERS. */
eh_err eh_http_parse_response(const char *buf, size_t len, struct eh_http_response *r,
			      size_t *consumed);

/* Case-insensitive lookup; 1 and the value view when found, else 0. */
int eh_http_header_find(const struct eh_http_response *r, const char *name, const char **value,
			size_t *value_len);

/* The framing a response declares (RFC 9112 section 6.3). */
enum eh_http_framing {
	EH_HTTP_FRAME_NONE,    /* no body: 1xx, 204, 304 */
	EH_HTTP_FRAME_LENGTH,  /* Content-Length bytes */
	EH_HTTP_FRAME_CHUNKED, /* Transfer-Encoding: chunked */
	EH_HTTP_FRAME_CLOSE,   /* until the connection closes */
};

/* Framing and length of r's body; EH_ERR_PROTO for a bad or conflicting
 * Content-Length or an unknown transfer coding. *keep_alive is 1 when the
 * connection may carry another request afterwards. */
eh_err eh_http_framing(const struct eh_http_response *r, enum eh_http_framing *f, uint64_t *length,
		       int *keep_alive);

/* Chunked body decoder state; zero-initialise before the first feed. */
struct eh_http_chunked {
	int state;	    /* internal: position in the chunk grammar */
	uint64_t remaining; /* data bytes left in the current chunk */
	unsigned digits;    /* hex digits of the current size line */
	size_t line_len;    /* bytes of the current extension or trailer line */
};

/* Consume encoded bytes. *used bytes of buf were taken; the data bytes among
 * them are added to *data. EH_OK: the body ended (bytes after *used belong
 * to the next response). EH_ERR_AGAIN: all of buf used, more is needed.
 * EH_ERR_PROTO: malformed, or a size or line over its bound. */
eh_err eh_http_chunked_feed(struct eh_http_chunked *c, const char *buf, size_t len, size_t *used,
			    uint64_t *data);

/* Retry-After: delta-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT"), against now_wall_s (Unix seconds). A date in the past gives 0.
 * EH_ERR_INVAL when neither form parses. */
eh_err eh_http_retry_after(const char *v, size_t len, uint64_t now_wall_s, uint64_t *delay_s);

/* ==== Client ==== */

#ifndef EH_HTTPS_MAX_CONNS
#define EH_HTTPS_MAX_CONNS 4 /* connections (and TLS contexts, ~40 KiB each) at once */
#endif
#ifndef EH_HTTPS_RX_MAX
#define EH_HTTPS_RX_MAX 8192 /* bound on a response head */
#endif
#ifndef EH_HTTPS_HEAD_MAX
#define EH_HTTPS_HEAD_MAX 12288 /* bound on a request head (16 custom headers fit) */
#endif
#ifndef EH_HTTPS_BODY_MAX
#define EH_HTTPS_BODY_MAX (1024u * 1024u) /* response bodies are read and dropped up to this */
#endif
#define EH_HTTPS_HOST_MAX 256 /* host name bytes incl. NUL */
#ifndef EH_HTTPS_IDLE_MS
#define EH_HTTPS_IDLE_MS 30000 /* an idle kept-alive connection is closed after this */
#endif

struct eh_https_hdr {
	const char *name;  /* token characters */
	const char *value; /* no CR or LF; never logged */
};

struct eh_https_result {
	eh_err err;	      /* EH_OK: a response arrived (any status) */
	int status;	      /* HTTP status when err == EH_OK */
	char reason[64];      /* reason phrase, printable ASCII only */
	char retry_after[64]; /* the Retry-After value, or "" */
	char error[128];      /* what failed when err != EH_OK ("proxy: ..." for the
				 proxy's part); no secrets */
	int reused;	      /* sent on a kept-alive connection */
	int resumed;	      /* the TLS handshake resumed a session */
};

struct eh_https_req;
/* Called once from the loop when the exchange ends. The request is free
 * again when this is called: the callback may start a new one. */
typedef void (*eh_https_done_cb)(struct eh_https_req *req, const struct eh_https_result *res,
				 void *arg);

struct eh_https_req {
	/* caller fills; all pointers must stay valid until done or cancel */
	bool tls;	  /* https:// */
	const char *host; /* name or IP literal without [] */
	uint16_t port;
	const char *path;		 /* "/..." with any query */
	const char *method;		 /* "POST" */
	const struct eh_https_hdr *hdrs; /* extra request headers */
	size_t nhdrs;
	const void *body;
	size_t body_len;
	uint32_t timeout_ms;	/* connect + proxy + TLS + response; 0 = 10 s */
	const char *proxy_host; /* HTTP CONNECT proxy (name or IP literal), NULL: direct */
	uint16_t proxy_port;
	unsigned identity; /* client certificate handle for the factory; 0: none */
	eh_https_done_cb done;
	void *arg;
	/* internal */
	struct eh_https_conn *conn; /* non-NULL while in flight */
};

struct eh_https;

struct eh_https_conn {
	/* internal */
	struct eh_https *h;
	struct eh_transport *t; /* from the config's factory */
	int state;		/* CONN_* in eh_https.c */
	bool tls;
	char host[EH_HTTPS_HOST_MAX];
	uint16_t port;
	char proxy_host[EH_HTTPS_HOST_MAX]; /* "" direct; with the identity, the route */
	uint16_t proxy_port;
	unsigned identity;
	struct eh_https_req *req; /* in flight, or NULL */
	int fd;			  /* fd watched in the loop, -1 none */
	uint32_t deadline_timer;  /* request deadline or idle close */
	uint32_t kick_timer;	  /* re-step for transports without an fd */
	int reused;		  /* this request went out on a kept connection */
	int retried;		  /* a stale kept connection was replaced once */
	size_t tx_len, tx_off;	  /* request head in tx */
	int body_in_tx;		  /* a small body was copied into tx after the head */
	size_t body_off;
	size_t rx_len; /* bytes of rx holding head (and beyond) */
	int head_done;
	enum eh_http_framing framing;
	uint64_t left;	    /* Content-Length bytes still to read */
	uint64_t body_seen; /* body bytes read so far (bounded) */
	int keep_alive;
	struct eh_http_chunked chunk;
	struct eh_https_result res;
	char tx[EH_HTTPS_HEAD_MAX];
	char rx[EH_HTTPS_RX_MAX];
};

struct eh_https_config {
	struct eh_loop *loop;
	/* Transport for connection idx (0..EH_HTTPS_MAX_CONNS-1) set up for the
	 * route (TLS or plain, proxy, client identity); called only while that
	 * connection is closed, so the same object may be returned each time. */
	struct eh_transport *(*transport)(void *ctx, unsigned idx,
					  const struct eh_transport_route *route);
	void *transport_ctx;
	bool allow_plain_http; /* http:// URLs; refused (EH_ERR_PERM) otherwise */
	bool no_keepalive;     /* one connection per request (a baseline for benchmarks) */
	uint32_t idle_ms;      /* 0 = EH_HTTPS_IDLE_MS */
};

struct eh_https_stats {
	uint64_t connects; /* connections opened (TCP, and TLS handshakes when https) */
	uint64_t resumed;  /* TLS handshakes that resumed a session */
	uint64_t requests; /* requests started */
	uint64_t reused;   /* requests sent on a kept-alive connection */
};

struct eh_https {
	/* internal */
	struct eh_https_config cfg;
	struct eh_https_stats stats;
	struct eh_https_conn conns[EH_HTTPS_MAX_CONNS];
};

/* Cannot fail. cfg is copied; its loop and factory must outlive h. */
void eh_https_init(struct eh_https *h, const struct eh_https_config *cfg);

/* Start req on a free or matching idle connection. EH_OK: req->done will be
 * called exactly once unless eh_https_cancel comes first. EH_ERR_BUSY: every
 * connection is busy. EH_ERR_PERM: http:// without allow_plain_http.
 * EH_ERR_INVAL: a header with CR/LF or a bad URL. EH_ERR_TOOBIG: the head
 * exceeds EH_HTTPS_HEAD_MAX. */
eh_err eh_https_start(struct eh_https *h, struct eh_https_req *req);

/* Abandon an in-flight request: its connection is closed, done is not
 * called. A request not in flight is ignored. */
void eh_https_cancel(struct eh_https *h, struct eh_https_req *req);

/* Close every connection (in-flight requests are abandoned silently). */
void eh_https_close_all(struct eh_https *h);

/* Number of connections currently open (idle or busy). */
unsigned eh_https_open_conns(const struct eh_https *h);

static inline const struct eh_https_stats *eh_https_get_stats(const struct eh_https *h)
{
	return &h->stats;
}

#endif /* EH_HTTPS_H */
