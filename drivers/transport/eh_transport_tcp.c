/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_tcp.c - the plain TCP transport (http:// webhooks, only when
 * allow_plain_http is set) over platform/eh_sock. */
#include "eh_transport.h"
#include "eh_sock.h"

#include <stdio.h>
#include <string.h>

/* ==== Operations ==== */

static eh_err fail(struct eh_transport_tcp *st, const char *host, uint16_t port)
{
	snprintf(st->err, sizeof(st->err), "cannot connect to %.60s:%u", host, (unsigned)port);
	return EH_ERR_NET;
}

/* The name's addresses, from the resolver (EH_ERR_AGAIN while it works). */
static eh_err tcp_resolve(struct eh_transport_tcp *st, const char *host)
{
	eh_err rc;

	rc = eh_resolver_lookup(st->res, host, &st->job, st->addrs, EH_RESOLVE_MAX_ADDRS,
				&st->naddrs);
	if (rc == EH_ERR_AGAIN) {
		st->want = EH_TRANSPORT_WANT_READ;
		return rc;
	}
	if (rc == EH_ERR_BUSY) {
		snprintf(st->err, sizeof(st->err), "cannot resolve %.60s: resolver busy", host);
		return EH_ERR_NET;
	}
	if (rc != EH_OK) {
		snprintf(st->err, sizeof(st->err), "cannot resolve %.60s%s", host,
			 rc == EH_ERR_NOENT ? ": no such name" : "");
		return EH_ERR_NET;
	}
	st->resolved = 1;
	st->next = 0;
	return EH_OK;
}

/* Start connecting to the next address that takes a socket. */
static eh_err tcp_next(struct eh_transport_tcp *st, const char *host, uint16_t port)
{
	while (st->next < st->naddrs) {
		const struct eh_ip *a = &st->addrs[st->next++];
		eh_err rc = eh_sock_connect_ip(a->ip, a->len, port, &st->fd);
		if (rc == EH_OK) {
			st->connecting = 0;
			return EH_OK;
		}
		if (rc == EH_ERR_AGAIN) {
			st->connecting = 1;
			st->want = EH_TRANSPORT_WANT_WRITE;
			return EH_ERR_AGAIN;
		}
		st->fd = -1;
	}
	return fail(st, host, port);
}

static eh_err tcp_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_tcp *st = t->state;
	eh_err rc;

	if (st->fd < 0 && st->res == NULL) {
		rc = eh_sock_connect(host, port, &st->fd);
		if (rc == EH_ERR_AGAIN) {
			st->connecting = 1;
			st->want = EH_TRANSPORT_WANT_WRITE;
			return EH_ERR_AGAIN;
		}
		if (rc != EH_OK) {
			st->fd = -1;
			return fail(st, host, port);
		}
		st->connecting = 0;
		return EH_OK;
	}
	if (st->fd < 0) {
		if (!st->resolved && (rc = tcp_resolve(st, host)) != EH_OK)
			return rc;
		return tcp_next(st, host, port);
	}
	if (st->connecting) {
		rc = eh_sock_connect_result(st->fd);
		if (rc != EH_OK) {
			eh_sock_close(st->fd);
			st->fd = -1;
			st->connecting = 0;
			if (st->res == NULL)
				return fail(st, host, port);
			/* Refused or unreachable: the next address, if any. */
			return tcp_next(st, host, port);
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
	if (st->fd < 0 && st->job >= 0)
		return eh_resolver_fd(st->res, st->job);
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
	if (st->res != NULL)
		eh_resolver_cancel(st->res, &st->job);
	st->resolved = 0;
	st->naddrs = 0;
	st->next = 0;
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
	st->job = -1;
	t->ops = &tcp_ops;
	t->state = st;
	t->name = "tcp";
}

void eh_transport_tcp_resolver(struct eh_transport *t, struct eh_resolver *r)
{
	struct eh_transport_tcp *st;

	EH_ASSERT(t != NULL && t->state != NULL);
	st = t->state;
	EH_ASSERT(st->fd < 0 && st->job < 0);
	st->res = r;
	st->resolved = 0;
}
