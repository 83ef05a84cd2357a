/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport.h - byte-stream transport used by the HTTPS client.
 * Backends: mbedTLS and plain TCP (drivers/transport), and tests/fakes.
 * Every operation is non-blocking; the caller waits on pollfd() for the
 * events want() names, then calls again with the same arguments. */
#ifndef EH_TRANSPORT_H
#define EH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "eh_assert.h"
#include "eh_err.h"

struct eh_transport;

#define EH_TRANSPORT_WANT_READ 0x1u  /* wait for readability before retrying */
#define EH_TRANSPORT_WANT_WRITE 0x4u /* wait for writability before retrying */

/* Each op returns EH_OK, EH_ERR_AGAIN (would block: wait on pollfd for want(),
 * then retry with the same arguments), EH_ERR_CLOSED, or another eh_err
 * (EH_ERR_NET refused/reset, EH_ERR_TLS handshake or certificate failure).
 * Never errno. */
struct eh_transport_ops {
	/* Start or continue connecting (TCP, then the TLS handshake). host is
	 * a name or an IP literal without brackets; it is copied. */
	eh_err (*connect)(struct eh_transport *t, const char *host, uint16_t port);
	/* Move up to len bytes; *n is set only on EH_OK and may be < len. */
	eh_err (*send)(struct eh_transport *t, const void *buf, size_t len, size_t *n);
	eh_err (*recv)(struct eh_transport *t, void *buf, size_t len, size_t *n);
	int (*pollfd)(const struct eh_transport *t);	/* -1: always ready (fakes) */
	unsigned (*want)(const struct eh_transport *t); /* EH_TRANSPORT_WANT_* after AGAIN */
	void (*close)(struct eh_transport *t);		/* idempotent, cannot fail */
	/* Human text for the last failure ("certificate not trusted"); never
	 * NULL, never holds secrets. Valid until the next call on t. */
	const char *(*error)(const struct eh_transport *t);
	/* 1 when the last successful connect resumed a TLS session. */
	int (*resumed)(const struct eh_transport *t);
};

/* Caller allocates (static or stack); a backend's *_init() fills it, and all
 * fields are read-only afterwards. `state` is caller-provided backend storage
 * that must outlive the transport. */
struct eh_transport {
	const struct eh_transport_ops *ops;
	void *state;
	const char *name; /* "mbedtls", "tcp", "fake": for logs */
};

static inline eh_err eh_transport_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	EH_ASSERT(t != NULL && t->ops != NULL && host != NULL);
	return t->ops->connect(t, host, port);
}

static inline eh_err eh_transport_send(struct eh_transport *t, const void *buf, size_t len,
				       size_t *n)
{
	EH_ASSERT(t != NULL && t->ops != NULL && n != NULL);
	return t->ops->send(t, buf, len, n);
}

static inline eh_err eh_transport_recv(struct eh_transport *t, void *buf, size_t len, size_t *n)
{
	EH_ASSERT(t != NULL && t->ops != NULL && n != NULL);
	return t->ops->recv(t, buf, len, n);
}

static inline int eh_transport_pollfd(const struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	return t->ops->pollfd(t);
}

static inline unsigned eh_transport_want(const struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	return t->ops->want(t);
}

static inline void eh_transport_close(struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	t->ops->close(t);
}

static inline const char *eh_transport_error(const struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	return t->ops->error(t);
}

static inline int eh_transport_resumed(const struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	return t->ops->resumed != NULL ? t->ops->resumed(t) : 0;
}

/* ==== Plain TCP backend (eh_transport_tcp.c) ==== */

#define EH_TRANSPORT_ERR_MAX 96 /* bytes of failure text kept per transport */

struct eh_transport_tcp {
	/* internal */
	int fd;				/* -1 when closed */
	int connecting;			/* connect(2) in progress */
	unsigned want;			/* EH_TRANSPORT_WANT_* */
	char err[EH_TRANSPORT_ERR_MAX]; /* last failure text */
};

/* Cannot fail. st must outlive t. */
void eh_transport_tcp_init(struct eh_transport *t, struct eh_transport_tcp *st);

#endif /* EH_TRANSPORT_H */
