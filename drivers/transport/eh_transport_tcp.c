/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_tcp.c - the plain TCP transport (http:// webhooks, only when
 * allow_plain_http is set) over platform/eh_sock. */
#include "eh_transport.h"
#include "eh_sock.h"

#include <stdio.h>
#include <string.h>

/* ==== Operations ==== */

static eh_err tcp_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_tcp *st = t->state;
	eh_err rc;

	if (st->fd < 0) {
		rc = eh_sock_connect(host, port, &st->fd);
		if (rc == EH_ERR_AGAIN) {
			st->connecting = 1;
			st->want = EH_TRANSPORT_WANT_WRITE;
			return EH_ERR_AGAIN;
		}
		if (rc != EH_OK) {
			snprintf(st->err, sizeof(st->err), "cannot connect to %s:%u", host,
				 (unsigned)port);
			st->fd = -1;
			return EH_ERR_NET;
		}
		st->connecting = 0;
		return EH_OK;
	}
	if (st->connecting) {
		rc = eh_sock_connect_result(st->fd);
		if (rc != EH_OK) {
			snprintf(st->err, sizeof(st->err), "cannot connect to %s:%u", host,
				 (unsigned)port);
			return EH_ERR_NET;
		}
		st->connecting = 0;
	}
	return EH_OK;
}

static eh_err tcp_send(struct eh_transport *t, const void *buf, size_t len, size_t *n)
{
	struct eh_transport_tcp *st = t->state;
	eh_err rc = eh_sock_send(st->fd, buf, len, n);

	st->want = EH_TRANSPORT_WANT_WRITE;
	if (rc != EH_OK && rc != EH_ERR_AGAIN)
		snprintf(st->err, sizeof(st->err), "%s", "connection reset while sending");
	return rc;
}

static eh_err tcp_recv(struct eh_transport *t, void *buf, size_t len, size_t *n)
{
	struct eh_transport_tcp *st = t->state;
	eh_err rc = eh_sock_recv(st->fd, buf, len, n);

	st->want = EH_TRANSPORT_WANT_READ;
	if (rc == EH_ERR_CLOSED)
		snprintf(st->err, sizeof(st->err), "%s", "server disconnected");
	else if (rc != EH_OK && rc != EH_ERR_AGAIN)
		snprintf(st->err, sizeof(st->err), "%s", "connection reset by peer");
	return rc;
}

static int tcp_pollfd(const struct eh_transport *t)
{
	const struct eh_transport_tcp *st = t->state;
	return st->fd;
}

static unsigned tcp_want(const struct eh_transport *t)
{
	const struct eh_transport_tcp *st = t->state;
	return st->want;
}

static void tcp_close(struct eh_transport *t)
{
	struct eh_transport_tcp *st = t->state;

	if (st->fd >= 0)
		eh_sock_close(st->fd);
	st->fd = -1;
	st->connecting = 0;
}

static const char *tcp_error(const struct eh_transport *t)
{
	const struct eh_transport_tcp *st = t->state;
	return st->err;
}

static const struct eh_transport_ops tcp_ops = {
    .connect = tcp_connect,
    .send = tcp_send,
    .recv = tcp_recv,
    .pollfd = tcp_pollfd,
    .want = tcp_want,
    .close = tcp_close,
    .error = tcp_error,
    .resumed = NULL,
};

/* ==== Setup ==== */

void eh_transport_tcp_init(struct eh_transport *t, struct eh_transport_tcp *st)
{
	EH_ASSERT(t != NULL && st != NULL);
	memset(st, 0, sizeof(*st));
	st->fd = -1;
	t->ops = &tcp_ops;
	t->state = st;
	t->name = "tcp";
}
