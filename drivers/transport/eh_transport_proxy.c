/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_proxy.c - an HTTP CONNECT tunnel over an inner transport
 * (TCP to the proxy). The CONNECT request and the proxy's answer share one
 * bounded buffer; every step returns EH_ERR_AGAIN instead of waiting, so a
 * proxy that hangs only costs the caller's deadline. */
#include "eh_transport.h"

#include <stdio.h>
#include <string.h>

enum {
	PX_IDLE = 0,
	PX_CONNECTING, /* TCP to the proxy */
	PX_SENDING,    /* the CONNECT request */
	PX_READING,    /* the proxy's answer head */
	PX_OPEN,       /* tunnel established */
};

/* ==== The answer parser ==== */

/* One line from buf[*i..len): *line_end is where its CR or LF starts and
 * *i moves past its LF. 1 done, 0 more input needed, -1 a CR not followed
 * by LF. */
static int next_line(const char *buf, size_t len, size_t *i, size_t *line_end)
{
	for (size_t k = *i; k < len; k++) {
		if (buf[k] == '\n') {
			*line_end = k;
			*i = k + 1;
			return 1;
		}
		if (buf[k] == '\r') {
			if (k + 1 >= len)
				return 0;
			if (buf[k + 1] != '\n')
				return -1;
			*line_end = k;
			*i = k + 2;
			return 1;
		}
		if (buf[k] == '\0')
			return -1;
	}
	return 0;
}

eh_err eh_transport_proxy_parse(const char *buf, size_t len, int *status, const char **reason,
				size_t *reason_len, size_t *consumed)
{
	static const char proto[] = "HTTP/1.";
	size_t i = 0, end = 0, k;
	int r;

	EH_ASSERT((buf != NULL || len == 0) && status != NULL && reason != NULL);
	EH_ASSERT(reason_len != NULL && consumed != NULL);
	/* Check what has arrived of the status line before waiting for more,
	 * so a peer that is not a proxy fails at once. */
	for (k = 0; k < len && k < 13; k++) {
		char ch = buf[k];
		int ok = k < 7	  ? ch == proto[k]
			 : k == 7 ? (ch == '0' || ch == '1')
			 : k == 8 ? ch == ' '
			 : k < 12 ? (ch >= '0' && ch <= '9')
				  : (ch == ' ' || ch == '\r' || ch == '\n');
		if (!ok)
			return EH_ERR_PROTO;
	}
	r = next_line(buf, len, &i, &end);
	if (r < 0)
		return EH_ERR_PROTO;
	if (r == 0)
		return EH_ERR_AGAIN;
	if (end < 12)
		return EH_ERR_PROTO;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (*status < 100)
		return EH_ERR_PROTO;
	*reason = end > 13 ? buf + 13 : buf + end;
	*reason_len = end > 13 ? end - 13 : 0;
	/* Header lines up to the empty one; their content is not needed. */
	for (;;) {
		size_t start = i;

		r = next_line(buf, len, &i, &end);
		if (r < 0)
			return EH_ERR_PROTO;
		if (r == 0)
			return EH_ERR_AGAIN;
		if (end == start) {
			*consumed = i;
			return EH_OK;
		}
	}
}

/* ==== Operations ==== */

static void set_inner_err(struct eh_transport_proxy *st, const char *what)
{
	/* The reason first; the inner transport's text after it, cut to fit. */
	size_t n = (size_t)snprintf(st->err, sizeof(st->err), "proxy: %s", what);
	if (n + 4 < sizeof(st->err)) {
		const char *inner = eh_transport_error(st->inner);
		size_t room = sizeof(st->err) - n - 4; /* " (", ")", NUL */
		size_t k = strnlen(inner, room < 50 ? room : 50);
		memcpy(st->err + n, " (", 2);
		memcpy(st->err + n + 2, inner, k);
		memcpy(st->err + n + 2 + k, ")", 2);
	}
}

/* The proxy's answer is complete in buf: a 2xx opens the tunnel. */
static eh_err answer(struct eh_transport_proxy *st, int status, const char *reason, size_t rlen,
		     size_t consumed)
{
	char text[48];
	size_t n = 0;

	if (status >= 200 && status < 300) {
		st->extra_off = consumed;
		st->phase = PX_OPEN;
		return EH_OK;
	}
	for (size_t i = 0; i < rlen && n + 1 < sizeof(text); i++) {
		unsigned char ch = (unsigned char)reason[i];
		text[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	text[n] = '\0';
	snprintf(st->err, sizeof(st->err), "proxy: %d%s%s", status, n ? " " : "", text);
	return EH_ERR_NET;
}

static eh_err px_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_proxy *st = t->state;
	const char *reason = NULL;
	size_t rlen = 0, consumed = 0, n = 0;
	int status = 0, w;
	int v6 = strchr(host, ':') != NULL;
	eh_err rc;

	if (st->phase == PX_IDLE) {
		if (st->host[0] == '\0') {
			snprintf(st->err, sizeof(st->err), "proxy: none configured");
			return EH_ERR_INVAL;
		}
		w = snprintf(st->buf, sizeof(st->buf),
			     "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n\r\n", v6 ? "[" : "",
			     host, v6 ? "]" : "", (unsigned)port, v6 ? "[" : "", host,
			     v6 ? "]" : "", (unsigned)port);
		if (w < 0 || (size_t)w >= sizeof(st->buf)) {
			snprintf(st->err, sizeof(st->err), "proxy: host name too long");
			return EH_ERR_INVAL;
		}
		st->len = (size_t)w;
		st->off = 0;
		st->extra_off = 0;
		st->phase = PX_CONNECTING;
	}
	if (st->phase == PX_CONNECTING) {
		rc = eh_transport_connect(st->inner, st->host, st->port);
		if (rc == EH_ERR_AGAIN) {
			st->want = eh_transport_want(st->inner);
			return rc;
		}
		if (rc != EH_OK) {
			snprintf(st->err, sizeof(st->err), "proxy: cannot connect to %.60s:%u",
				 st->host, (unsigned)st->port);
			return EH_ERR_NET;
		}
		st->phase = PX_SENDING;
	}
	while (st->phase == PX_SENDING) {
		rc = eh_transport_send(st->inner, st->buf + st->off, st->len - st->off, &n);
		if (rc == EH_ERR_AGAIN) {
			st->want = eh_transport_want(st->inner);
			return rc;
		}
		if (rc != EH_OK) {
			set_inner_err(st, "connection lost while sending CONNECT");
			return EH_ERR_NET;
		}
		st->off += n;
		if (st->off == st->len) {
			st->len = 0;
			st->phase = PX_READING;
		}
	}
	while (st->phase == PX_READING) {
		rc = eh_transport_recv(st->inner, st->buf + st->len, sizeof(st->buf) - st->len, &n);
		if (rc == EH_ERR_AGAIN) {
			st->want = eh_transport_want(st->inner);
			return rc;
		}
		if (rc == EH_ERR_CLOSED) {
			snprintf(st->err, sizeof(st->err), "proxy: closed the connection");
			return EH_ERR_NET;
		}
		if (rc != EH_OK) {
			set_inner_err(st, "connection lost while waiting for the answer");
			return EH_ERR_NET;
		}
		st->len += n;
		rc = eh_transport_proxy_parse(st->buf, st->len, &status, &reason, &rlen, &consumed);
		if (rc == EH_OK)
			return answer(st, status, reason, rlen, consumed);
		if (rc != EH_ERR_AGAIN) {
			snprintf(st->err, sizeof(st->err), "proxy: malformed answer to CONNECT");
			return EH_ERR_PROTO;
		}
		if (st->len == sizeof(st->buf)) {
			snprintf(st->err, sizeof(st->err), "proxy: answer head over %u bytes",
				 (unsigned)sizeof(st->buf));
			return EH_ERR_PROTO;
		}
	}
	return st->phase == PX_OPEN ? EH_OK : EH_ERR_INVAL;
}

static eh_err px_send(struct eh_transport *t, const void *buf, size_t len, size_t *n)
{
	struct eh_transport_proxy *st = t->state;
	eh_err rc;

	if (st->phase != PX_OPEN)
		return EH_ERR_CLOSED;
	rc = eh_transport_send(st->inner, buf, len, n);
	if (rc == EH_ERR_AGAIN)
		st->want = eh_transport_want(st->inner);
	else if (rc != EH_OK)
		snprintf(st->err, sizeof(st->err), "%s", eh_transport_error(st->inner));
	return rc;
}

static eh_err px_recv(struct eh_transport *t, void *buf, size_t len, size_t *n)
{
	struct eh_transport_proxy *st = t->state;
	eh_err rc;

	if (st->phase != PX_OPEN)
		return EH_ERR_CLOSED;
	if (st->extra_off < st->len) {
		/* Tunnel bytes that arrived together with the proxy's answer. */
		size_t k = st->len - st->extra_off;

		if (k > len)
			k = len;
		memcpy(buf, st->buf + st->extra_off, k);
		st->extra_off += k;
		*n = k;
		return EH_OK;
	}
	rc = eh_transport_recv(st->inner, buf, len, n);
	if (rc == EH_ERR_AGAIN)
		st->want = eh_transport_want(st->inner);
	else if (rc != EH_OK)
		snprintf(st->err, sizeof(st->err), "%s", eh_transport_error(st->inner));
	return rc;
}

static int px_pollfd(const struct eh_transport *t)
{
	const struct eh_transport_proxy *st = t->state;
	return eh_transport_pollfd(st->inner);
}

static unsigned px_want(const struct eh_transport *t)
{
	const struct eh_transport_proxy *st = t->state;
	return st->want;
}

static void px_close(struct eh_transport *t)
{
	struct eh_transport_proxy *st = t->state;

	eh_transport_close(st->inner);
	st->phase = PX_IDLE;
	st->len = st->off = st->extra_off = 0;
}

static const char *px_error(const struct eh_transport *t)
{
	const struct eh_transport_proxy *st = t->state;
	return st->err;
}

static const char *px_stage(const struct eh_transport *t)
{
	const struct eh_transport_proxy *st = t->state;
	return (st->phase != PX_IDLE && st->phase != PX_OPEN) ? "proxy" : NULL;
}

static const struct eh_transport_ops proxy_ops = {
    .connect = px_connect,
    .send = px_send,
    .recv = px_recv,
    .pollfd = px_pollfd,
    .want = px_want,
    .close = px_close,
    .error = px_error,
    .resumed = NULL,
    .stage = px_stage,
};

/* ==== Setup ==== */

void eh_transport_proxy_init(struct eh_transport *t, struct eh_transport_proxy *st,
			     struct eh_transport *inner)
{
	EH_ASSERT(t != NULL && st != NULL && inner != NULL);
	memset(st, 0, sizeof(*st));
	st->inner = inner;
	t->ops = &proxy_ops;
	t->state = st;
	t->name = "proxy";
}

void eh_transport_proxy_set(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_proxy *st;

	EH_ASSERT(t != NULL && t->state != NULL && host != NULL);
	st = t->state;
	EH_ASSERT(st->phase == PX_IDLE);
	snprintf(st->host, sizeof(st->host), "%s", host);
	st->port = port;
}
