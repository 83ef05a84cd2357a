/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport.h - byte-stream transport used by the HTTPS client.
 * Backends: mbedTLS and plain TCP (drivers/transport), and tests/fakes.
 * Every operation is non-blocking; the caller waits on pollfd() for the
 * events want() names, then calls again with the same arguments. */
#ifndef EH_TRANSPORT_H
#define EH_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_assert.h"
#include "eh_err.h"
#include "eh_resolve.h"

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
	/* Optional (may be NULL): "proxy" while a connect is still setting up
	 * the proxy tunnel, else NULL. Names the stage a timeout hit. */
	const char *(*stage)(const struct eh_transport *t);
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

static inline const char *eh_transport_stage(const struct eh_transport *t)
{
	EH_ASSERT(t != NULL && t->ops != NULL);
	return t->ops->stage != NULL ? t->ops->stage(t) : NULL;
}

/* How a connection reaches its origin: what a transport factory is asked
 * for. Connections are only reused for an equal route. */
struct eh_transport_route {
	bool tls;		/* https:// */
	const char *proxy_host; /* HTTP CONNECT proxy, or NULL: direct */
	uint16_t proxy_port;
	unsigned identity; /* client certificate handle of the TLS pool; 0: none */
};

/* Where a connection pool gets its transports and the client identities
 * they present: the TLS pool (eh_tls_pool_factory, ctx the pool) in the
 * daemon, a fake in tests. The composition root picks one and hands it to
 * the app module that sends. */
struct eh_transport_factory_ops {
	/* The transport for connection idx, set up for route r. */
	struct eh_transport *(*transport)(void *ctx, unsigned idx,
					  const struct eh_transport_route *r);
	/* Optional (NULL: no client certificates): load a certificate chain and
	 * key, *handle >= 1 holding one reference, given back with
	 * identity_put; errors and *key_at_fault as eh_tls_pool_identity_load. */
	eh_err (*identity_load)(void *ctx, const char *cert_file, const char *key_file,
				unsigned *handle, bool *key_at_fault, char *why, size_t cap);
	void (*identity_put)(void *ctx, unsigned handle);
	/* Optional (NULL: not supported): trust ca_file from the next
	 * handshake; called with every connection closed. */
	eh_err (*reload_ca)(void *ctx, const char *ca_file);
};

/* ==== Plain TCP backend (eh_transport_tcp.c) ==== */

#define EH_TRANSPORT_ERR_MAX 96 /* bytes of failure text kept per transport */

struct eh_transport_tcp {
	/* internal */
	int fd;			 /* -1 when closed */
	int connecting;		 /* connect(2) in progress */
	unsigned want;		 /* EH_TRANSPORT_WANT_* */
	struct eh_resolver *res; /* NULL: getaddrinfo on the caller's thread */
	int job;		 /* resolver job while resolving, else -1 */
	int resolved;		 /* addrs holds the name's addresses */
	size_t naddrs, next;	 /* addresses, and the next one to try */
	struct eh_ip addrs[EH_RESOLVE_MAX_ADDRS];
	char err[EH_TRANSPORT_ERR_MAX]; /* last failure text */
};

/* Cannot fail. st must outlive t. */
void eh_transport_tcp_init(struct eh_transport *t, struct eh_transport_tcp *st);
/* Resolve names through r (kept; must outlive t) from the next connect:
 * connect returns EH_ERR_AGAIN with pollfd() the lookup's fd while the
 * name resolves, then tries each address in order (IPv6 and IPv4 as the
 * resolver ordered them) until one accepts. IP literals skip r. NULL goes
 * back to resolving on the caller's thread. Only while closed. */
void eh_transport_tcp_resolver(struct eh_transport *t, struct eh_resolver *r);

/* ==== HTTP CONNECT proxy backend (eh_transport_proxy.c) ==== */

/* connect(host, port) connects the inner transport to the proxy, sends
 * "CONNECT host:port HTTP/1.1" and reads the proxy's answer; once it is a
 * 2xx, send and recv move the tunnel's bytes through the inner transport.
 * Every step is non-blocking: the caller's deadline bounds a proxy that
 * hangs. A refusal is EH_ERR_NET with error() "proxy: 403 Forbidden". */

#ifndef EH_PROXY_HEAD_MAX
#define EH_PROXY_HEAD_MAX 2048 /* bound on the CONNECT request and the answer's head */
#endif
#define EH_PROXY_HOST_MAX 256 /* proxy host name bytes incl. NUL */

struct eh_transport_proxy {
	/* internal */
	struct eh_transport *inner; /* TCP to the proxy; outlives this */
	char host[EH_PROXY_HOST_MAX];
	uint16_t port;
	int phase;	  /* 0 idle, 1 connecting, 2 sending CONNECT, 3 reading, 4 open */
	size_t len, off;  /* request bytes to send / answer bytes read */
	size_t extra_off; /* open: tunnel bytes that came with the answer's head */
	unsigned want;	  /* EH_TRANSPORT_WANT_* after AGAIN */
	char buf[EH_PROXY_HEAD_MAX];	/* the CONNECT request, then the answer */
	char err[EH_TRANSPORT_ERR_MAX]; /* last failure text */
};

/* Cannot fail. inner and st must outlive t. */
void eh_transport_proxy_init(struct eh_transport *t, struct eh_transport_proxy *st,
			     struct eh_transport *inner);
/* The proxy to use from the next connect: host (name or IP literal, copied)
 * and port. Only while closed. */
void eh_transport_proxy_set(struct eh_transport *t, const char *host, uint16_t port);

/* Parse a proxy's answer to CONNECT in buf[0..len): its status line and
 * header block. EH_OK: *status and the reason (a view into buf) are set,
 * *consumed is the head's size with its empty line. EH_ERR_AGAIN: not
 * complete yet. EH_ERR_PROTO: not an HTTP/1.x answer. Allocates nothing;
 * the fuzz target. */
eh_err eh_transport_proxy_parse(const char *buf, size_t len, int *status, const char **reason,
				size_t *reason_len, size_t *consumed);

#endif /* EH_TRANSPORT_H */
