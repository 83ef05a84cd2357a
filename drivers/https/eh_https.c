/* SPDX-License-Identifier: Apache-2.0 */
/* eh_https.c - the HTTP/1.1 client: a fixed pool of connections, each a
 * small state machine stepped from the poll loop (fd readiness, or a 0 ms
 * timer for transports without an fd). A request is written as one head
 * (built here into the connection's buffer) plus the caller's body; the
 * response head is parsed in place and its body read and dropped. */
#include "eh_https.h"
#include "eh_log.h"

#include <stdio.h>
#include <string.h>

enum {
	CONN_CLOSED = 0,
	CONN_CONNECTING, /* TCP connect and TLS handshake */
	CONN_SENDING,	 /* head, then body */
	CONN_RECEIVING,	 /* response head, then body */
	CONN_IDLE,	 /* kept alive, waiting for the next request */
};

static void conn_step(struct eh_https_conn *c);
static void on_idle(struct eh_loop *l, void *arg);

/* ==== Loop plumbing ==== */

static void conn_unwatch(struct eh_https_conn *c)
{
	struct eh_loop *l = c->h->cfg.loop;

	if (c->fd >= 0)
		eh_loop_unwatch(l, c->fd);
	c->fd = -1;
	eh_loop_cancel(l, c->kick_timer);
	c->kick_timer = 0;
}

static void conn_close(struct eh_https_conn *c)
{
	conn_unwatch(c);
	eh_loop_cancel(c->h->cfg.loop, c->deadline_timer);
	c->deadline_timer = 0;
	if (c->state != CONN_CLOSED && c->t != NULL)
		eh_transport_close(c->t);
	c->state = CONN_CLOSED;
}

static void on_fd(struct eh_loop *l, int fd, unsigned revents, void *arg)
{
	(void)l;
	(void)fd;
	(void)revents;
	conn_step(arg);
}

static void on_kick(struct eh_loop *l, void *arg)
{
	struct eh_https_conn *c = arg;

	(void)l;
	c->kick_timer = 0;
	conn_step(c);
}

/* After EH_ERR_AGAIN: wait for what the transport asked for. */
static void conn_wait(struct eh_https_conn *c, unsigned want)
{
	struct eh_loop *l = c->h->cfg.loop;
	int fd = eh_transport_pollfd(c->t);
	unsigned ev = 0;

	if (fd < 0) {
		if (c->fd >= 0)
			eh_loop_unwatch(l, c->fd);
		c->fd = -1;
		if (c->kick_timer == 0 && eh_loop_after(l, 0, on_kick, c, &c->kick_timer) != EH_OK)
			EH_LOG_ERR("https", "timer table full");
		return;
	}
	if (c->fd >= 0 && c->fd != fd)
		eh_loop_unwatch(l, c->fd);
	if (want & EH_TRANSPORT_WANT_READ)
		ev |= EH_LOOP_IN;
	if (want & EH_TRANSPORT_WANT_WRITE)
		ev |= EH_LOOP_OUT;
	if (ev == 0)
		ev = EH_LOOP_IN;
	c->fd = fd;
	if (eh_loop_watch(l, fd, ev, on_fd, c) != EH_OK)
		EH_LOG_ERR("https", "fd table full");
}

/* ==== Completion ==== */

static void conn_finish(struct eh_https_conn *c, eh_err err, const char *text)
{
	struct eh_https_req *req = c->req;
	struct eh_https_result res = c->res;

	res.err = err;
	if (err != EH_OK)
		snprintf(res.error, sizeof(res.error), "%s", text != NULL ? text : eh_err_str(err));
	eh_loop_cancel(c->h->cfg.loop, c->deadline_timer);
	c->deadline_timer = 0;
	if (err == EH_OK && c->keep_alive && !c->h->cfg.no_keepalive) {
		c->state = CONN_IDLE;
		conn_unwatch(c);
		/* Watch for the server closing the idle connection; close it ourselves after a
		 * while. */
		conn_wait(c, EH_TRANSPORT_WANT_READ);
		if (c->fd < 0) {
			/* fd-less transports (tests) are not polled while idle */
			eh_loop_cancel(c->h->cfg.loop, c->kick_timer);
			c->kick_timer = 0;
		}
		uint32_t idle = c->h->cfg.idle_ms ? c->h->cfg.idle_ms : EH_HTTPS_IDLE_MS;
		(void)eh_loop_after(c->h->cfg.loop, idle, on_idle, c, &c->deadline_timer);
	} else {
		conn_close(c);
	}
	c->req = NULL;
	if (req != NULL) {
		req->conn = NULL;
		req->done(req, &res, req->arg);
	}
}

static void on_idle(struct eh_loop *l, void *arg)
{
	struct eh_https_conn *c = arg;

	(void)l;
	c->deadline_timer = 0;
	if (c->state == CONN_IDLE)
		conn_close(c);
}

static void on_deadline(struct eh_loop *l, void *arg)
{
	struct eh_https_conn *c = arg;
	char text[128];
	const char *phase = c->state == CONN_CONNECTING ? "connecting"
			    : c->state == CONN_SENDING	? "sending"
							: "waiting for the response";
	uint32_t ms = c->req != NULL ? c->req->timeout_ms : 0;
	const char *stage = c->state == CONN_CONNECTING ? eh_transport_stage(c->t) : NULL;

	(void)l;
	c->deadline_timer = 0;
	if (c->req == NULL)
		return;
	if (stage != NULL)
		snprintf(text, sizeof(text), "%s: timeout after %u.%03u seconds", stage, ms / 1000,
			 ms % 1000);
	else
		snprintf(text, sizeof(text), "timeout after %u.%03u seconds while %s", ms / 1000,
			 ms % 1000, phase);
	conn_finish(c, EH_ERR_TIMEOUT, text);
}

/* A transport failure while sending or receiving. A request that went out
 * on a kept-alive connection which the server had already closed is sent
 * once more on a fresh connection, before any byte of a response came. */
static int conn_io_failed(struct eh_https_conn *c, eh_err rc)
{
	if (c->reused && !c->retried && c->rx_len == 0 && !c->head_done &&
	    (rc == EH_ERR_CLOSED || rc == EH_ERR_NET)) {
		conn_unwatch(c);
		eh_transport_close(c->t);
		c->retried = 1;
		c->reused = 0;
		c->res.reused = 0;
		c->tx_off = 0;
		c->body_off = 0;
		c->state = CONN_CONNECTING;
		return 1;
	}
	conn_finish(c, rc == EH_ERR_AGAIN ? EH_ERR_NET : rc, eh_transport_error(c->t));
	return 0;
}

/* ==== Response ==== */

static void copy_printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[n++] = (ch >= 0x20 && ch < 0x7f && ch != '\'') ? (char)ch : '?';
	}
	dst[n] = '\0';
}

/* Feed body bytes; 1 when the body is complete. */
static int body_feed(struct eh_https_conn *c, const char *buf, size_t n, eh_err *err)
{
	size_t used = 0;
	uint64_t data = 0;
	eh_err rc;

	*err = EH_OK;
	switch (c->framing) {
	case EH_HTTP_FRAME_NONE:
		if (n > 0)
			c->keep_alive = 0; /* bytes nobody asked for */
		return 1;
	case EH_HTTP_FRAME_LENGTH:
		if ((uint64_t)n > c->left) {
			c->keep_alive = 0;
			n = (size_t)c->left;
		}
		c->left -= n;
		c->body_seen += n;
		return c->left == 0;
	case EH_HTTP_FRAME_CHUNKED:
		rc = eh_http_chunked_feed(&c->chunk, buf, n, &used, &data);
		c->body_seen += data;
		if (rc == EH_OK) {
			if (used < n)
				c->keep_alive = 0;
			return 1;
		}
		if (rc != EH_ERR_AGAIN) {
			*err = rc;
			return 1;
		}
		break;
	case EH_HTTP_FRAME_CLOSE:
		c->body_seen += n;
		break;
	}
	if (c->body_seen > EH_HTTPS_BODY_MAX) {
		/* The status is known; the rest of an oversized body is not read. */
		c->keep_alive = 0;
		return 1;
	}
	return 0;
}

/* Parse the head in rx. 1: the response is complete, 0: read more,
 * -1: conn_finish was called with an error. */
static int head_parse(struct eh_https_conn *c)
{
	struct eh_http_response r;
	size_t consumed = 0;
	const char *v;
	size_t vlen;
	eh_err rc, ferr;

	for (;;) {
		rc = eh_http_parse_response(c->rx, c->rx_len, &r, &consumed);
		if (rc == EH_ERR_AGAIN) {
			if (c->rx_len == sizeof(c->rx)) {
				conn_finish(c, EH_ERR_PROTO, "response head too large");
				return -1;
			}
			return 0;
		}
		if (rc != EH_OK) {
			conn_finish(c, rc, "malformed HTTP response");
			return -1;
		}
		if (r.status >= 100 && r.status < 200 && r.status != 101) {
			/* interim response: drop it and parse what follows */
			memmove(c->rx, c->rx + consumed, c->rx_len - consumed);
			c->rx_len -= consumed;
			continue;
		}
		break;
	}
	if (eh_http_framing(&r, &c->framing, &c->left, &c->keep_alive) != EH_OK) {
		conn_finish(c, EH_ERR_PROTO, "bad HTTP response framing");
		return -1;
	}
	c->res.status = r.status;
	copy_printable(c->res.reason, sizeof(c->res.reason), r.reason ? r.reason : "",
		       r.reason_len);
	c->res.retry_after[0] = '\0';
	if (eh_http_header_find(&r, "retry-after", &v, &vlen))
		copy_printable(c->res.retry_after, sizeof(c->res.retry_after), v, vlen);
	c->head_done = 1;
	memset(&c->chunk, 0, sizeof(c->chunk));
	c->body_seen = 0;
	/* Bytes after the head are body bytes. */
	memmove(c->rx, c->rx + consumed, c->rx_len - consumed);
	c->rx_len -= consumed;
	if (c->framing == EH_HTTP_FRAME_LENGTH && c->left > EH_HTTPS_BODY_MAX) {
		c->keep_alive = 0;
		return 1;
	}
	if (body_feed(c, c->rx, c->rx_len, &ferr)) {
		if (ferr != EH_OK) {
			conn_finish(c, ferr, "malformed chunked body");
			return -1;
		}
		return 1;
	}
	return 0;
}

/* ==== The state machine ==== */

static void conn_step(struct eh_https_conn *c)
{
	struct eh_https *h = c->h;
	eh_err rc, ferr;
	size_t n;
	int done;

	for (;;) {
		switch (c->state) {
		case CONN_CONNECTING:
			rc = eh_transport_connect(c->t, c->host, c->port);
			if (rc == EH_ERR_AGAIN) {
				conn_wait(c, eh_transport_want(c->t));
				return;
			}
			if (rc != EH_OK) {
				conn_finish(c, rc, eh_transport_error(c->t));
				return;
			}
			h->stats.connects++;
			c->res.resumed = eh_transport_resumed(c->t);
			if (c->res.resumed)
				h->stats.resumed++;
			c->state = CONN_SENDING;
			break;
		case CONN_SENDING:
			n = 0;
			if (c->tx_off < c->tx_len)
				rc = eh_transport_send(c->t, c->tx + c->tx_off,
						       c->tx_len - c->tx_off, &n);
			else if (!c->body_in_tx && c->body_off < c->req->body_len)
				rc = eh_transport_send(c->t,
						       (const char *)c->req->body + c->body_off,
						       c->req->body_len - c->body_off, &n);
			else {
				c->state = CONN_RECEIVING;
				break;
			}
			if (rc == EH_ERR_AGAIN) {
				conn_wait(c, eh_transport_want(c->t));
				return;
			}
			if (rc != EH_OK) {
				if (conn_io_failed(c, rc))
					break;
				return;
			}
			if (c->tx_off < c->tx_len)
				c->tx_off += n;
			else
				c->body_off += n;
			break;
		case CONN_RECEIVING:
			n = 0;
			if (!c->head_done)
				rc = eh_transport_recv(c->t, c->rx + c->rx_len,
						       sizeof(c->rx) - c->rx_len, &n);
			else
				rc = eh_transport_recv(c->t, c->rx, sizeof(c->rx), &n);
			if (rc == EH_ERR_AGAIN) {
				conn_wait(c, eh_transport_want(c->t));
				return;
			}
			if (rc == EH_ERR_CLOSED && c->head_done &&
			    c->framing == EH_HTTP_FRAME_CLOSE) {
				conn_finish(c, EH_OK, NULL); /* close-delimited body ended */
				return;
			}
			if (rc != EH_OK) {
				if (conn_io_failed(c, rc))
					break;
				return;
			}
			if (!c->head_done) {
				c->rx_len += n;
				done = head_parse(c);
			} else {
				done = body_feed(c, c->rx, n, &ferr);
				if (done && ferr != EH_OK) {
					conn_finish(c, ferr, "malformed chunked body");
					return;
				}
			}
			if (done < 0)
				return;
			if (done) {
				conn_finish(c, EH_OK, NULL);
				return;
			}
			break;
		case CONN_IDLE: {
			char probe[1];

			rc = eh_transport_recv(c->t, probe, sizeof(probe), &n);
			if (rc == EH_ERR_AGAIN) {
				conn_wait(c, eh_transport_want(c->t));
				if (c->fd < 0) {
					eh_loop_cancel(h->cfg.loop, c->kick_timer);
					c->kick_timer = 0;
				}
				return;
			}
			/* Closed by the server, or bytes nobody asked for: drop it. */
			conn_close(c);
			return;
		}
		default:
			return;
		}
	}
}

/* ==== Requests ==== */

static int valid_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch) != NULL)
			return 0;
	}
	return 1;
}

static int valid_value(const char *s)
{
	if (s == NULL)
		return 0;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static int valid_path(const char *s)
{
	if (s == NULL || s[0] != '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static eh_err build_head(struct eh_https_conn *c, const struct eh_https_req *req)
{
	size_t cap = sizeof(c->tx), n = 0;
	int w;
	int v6 = strchr(req->host, ':') != NULL;
	int dflt = req->port == (req->tls ? 443 : 80);

#define PUT(...)                                                                                   \
	do {                                                                                       \
		w = snprintf(c->tx + n, cap - n, __VA_ARGS__);                                     \
		if (w < 0 || (size_t)w >= cap - n)                                                 \
			return EH_ERR_TOOBIG;                                                      \
		n += (size_t)w;                                                                    \
	} while (0)
	PUT("%s %s HTTP/1.1\r\nHost: %s%s%s", req->method, req->path, v6 ? "[" : "", req->host,
	    v6 ? "]" : "");
	if (!dflt)
		PUT(":%u", (unsigned)req->port);
	PUT("\r\nContent-Length: %zu\r\n", req->body_len);
	for (size_t i = 0; i < req->nhdrs; i++)
		PUT("%s: %s\r\n", req->hdrs[i].name, req->hdrs[i].value);
	if (c->h->cfg.no_keepalive)
		PUT("Connection: close\r\n");
	PUT("\r\n");
#undef PUT
	/* A body that fits goes out with the head in one write (one TLS
	 * record, one segment): a second small write behind a relay without
	 * TCP_NODELAY (a proxy) waits for the peer's delayed ACK. */
	c->body_in_tx = req->body_len <= cap - n;
	if (c->body_in_tx && req->body_len > 0) {
		memcpy(c->tx + n, req->body, req->body_len);
		n += req->body_len;
	}
	c->tx_len = n;
	return EH_OK;
}

void eh_https_init(struct eh_https *h, const struct eh_https_config *cfg)
{
	EH_ASSERT(h != NULL && cfg != NULL && cfg->loop != NULL && cfg->transport != NULL);
	/* Not the connections' tx and rx buffers (written before they are read,
	 * 20 KiB each): a connection never used costs one page, not six. */
	memset(h, 0, offsetof(struct eh_https, conns));
	h->cfg = *cfg;
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS; i++) {
		memset(&h->conns[i], 0, offsetof(struct eh_https_conn, tx));
		h->conns[i].h = h;
		h->conns[i].fd = -1;
		h->conns[i].state = CONN_CLOSED;
	}
}

eh_err eh_https_start(struct eh_https *h, struct eh_https_req *req)
{
	struct eh_https_conn *c = NULL;
	unsigned idx = 0;
	eh_err rc;

	EH_ASSERT(h != NULL && req != NULL && req->done != NULL && req->conn == NULL);
	if (req->host == NULL || req->host[0] == '\0' || strlen(req->host) >= EH_HTTPS_HOST_MAX ||
	    (req->proxy_host != NULL &&
	     (req->proxy_host[0] == '\0' || strlen(req->proxy_host) >= EH_HTTPS_HOST_MAX)) ||
	    !valid_path(req->path) || !valid_token(req->method) ||
	    (req->body == NULL && req->body_len != 0))
		return EH_ERR_INVAL;
	for (size_t i = 0; i < req->nhdrs; i++)
		if (!valid_token(req->hdrs[i].name) || !valid_value(req->hdrs[i].value))
			return EH_ERR_INVAL;
	if (!req->tls && !h->cfg.allow_plain_http)
		return EH_ERR_PERM;
	/* 1: an idle connection to the same origin; 2: a closed one; 3: evict an idle one. */
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS && c == NULL; i++) {
		struct eh_https_conn *k = &h->conns[i];
		if (k->state == CONN_IDLE && k->tls == req->tls && k->port == req->port &&
		    strcmp(k->host, req->host) == 0 && k->identity == req->identity &&
		    k->proxy_port == (req->proxy_host ? req->proxy_port : 0) &&
		    strcmp(k->proxy_host, req->proxy_host ? req->proxy_host : "") == 0) {
			c = k;
			idx = i;
		}
	}
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS && c == NULL; i++)
		if (h->conns[i].state == CONN_CLOSED) {
			c = &h->conns[i];
			idx = i;
		}
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS && c == NULL; i++)
		if (h->conns[i].state == CONN_IDLE) {
			c = &h->conns[i];
			idx = i;
			conn_close(c);
		}
	if (c == NULL)
		return EH_ERR_BUSY;
	if ((rc = build_head(c, req)) != EH_OK)
		return rc;
	memset(&c->res, 0, sizeof(c->res));
	c->tx_off = 0;
	c->body_off = 0;
	c->rx_len = 0;
	c->head_done = 0;
	c->retried = 0;
	c->keep_alive = 0;
	if (c->state == CONN_IDLE) {
		conn_unwatch(c);
		eh_loop_cancel(h->cfg.loop, c->deadline_timer);
		c->deadline_timer = 0;
		c->reused = 1;
		c->res.reused = 1;
		h->stats.reused++;
		c->state = CONN_SENDING;
	} else {
		struct eh_transport_route route = {req->tls, req->proxy_host, req->proxy_port,
						   req->identity};

		c->t = h->cfg.transport(h->cfg.transport_ctx, idx, &route);
		EH_ASSERT(c->t != NULL);
		c->tls = req->tls;
		c->port = req->port;
		snprintf(c->host, sizeof(c->host), "%s", req->host);
		snprintf(c->proxy_host, sizeof(c->proxy_host), "%s",
			 req->proxy_host ? req->proxy_host : "");
		c->proxy_port = req->proxy_host ? req->proxy_port : 0;
		c->identity = req->identity;
		c->reused = 0;
		c->state = CONN_CONNECTING;
	}
	c->req = req;
	req->conn = c;
	h->stats.requests++;
	if (req->timeout_ms == 0)
		req->timeout_ms = 10000;
	(void)eh_loop_after(h->cfg.loop, req->timeout_ms, on_deadline, c, &c->deadline_timer);
	/* Step from the loop, never from inside start: done must not run
	 * before start has returned. */
	if (eh_loop_after(h->cfg.loop, 0, on_kick, c, &c->kick_timer) != EH_OK) {
		conn_close(c);
		c->req = NULL;
		req->conn = NULL;
		return EH_ERR_NOSPC;
	}
	return EH_OK;
}

void eh_https_cancel(struct eh_https *h, struct eh_https_req *req)
{
	struct eh_https_conn *c;

	(void)h;
	if (req == NULL || req->conn == NULL)
		return;
	c = req->conn;
	conn_close(c);
	c->req = NULL;
	req->conn = NULL;
}

void eh_https_close_all(struct eh_https *h)
{
	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS; i++) {
		struct eh_https_conn *c = &h->conns[i];
		if (c->req != NULL)
			eh_https_cancel(h, c->req);
		conn_close(c);
	}
}

unsigned eh_https_open_conns(const struct eh_https *h)
{
	unsigned n = 0;

	for (unsigned i = 0; i < EH_HTTPS_MAX_CONNS; i++)
		if (h->conns[i].state != CONN_CLOSED)
			n++;
	return n;
}
