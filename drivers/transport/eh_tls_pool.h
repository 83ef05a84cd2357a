/* SPDX-License-Identifier: Apache-2.0 */
/* eh_tls_pool.h - the transports of the HTTPS connection pool (one TLS and
 * one plain TCP transport per connection, plus the shared trust store),
 * behind a header that names no library type, so app/ code can own one.
 * The storage is caller-owned and opaque by size (checked at compile time
 * in eh_transport_mbedtls.c). */
#ifndef EH_TLS_POOL_H
#define EH_TLS_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "eh_err.h"
#include "eh_transport.h"

#ifndef EH_TLS_POOL_CONNS
#define EH_TLS_POOL_CONNS 4 /* transports per kind; >= EH_HTTPS_MAX_CONNS */
#endif
#ifndef EH_TLS_POOL_IDENTITIES
#define EH_TLS_POOL_IDENTITIES 8 /* client certificates loaded at once (webhooks + changes) */
#endif
/* Bytes for the mbedTLS contexts (not their heap buffers): ~40 KiB shared
 * (the entropy pool alone is 37 KiB), ~1.6 KiB per connection plus its
 * CONNECT tunnel (EH_PROXY_HEAD_MAX), ~1 KiB per client identity, on x86-64
 * and aarch64. */
#define EH_TLS_POOL_BYTES                                                                          \
	(45056 + EH_TLS_POOL_CONNS * (2048 + 256 + EH_PROXY_HEAD_MAX) +                            \
	 EH_TLS_POOL_IDENTITIES * 1088)

struct eh_tls_pool {
	/* internal */
	_Alignas(16) unsigned char opaque[EH_TLS_POOL_BYTES];
};

/* Cannot fail; makes eh_tls_pool_free safe. */
void eh_tls_pool_init(struct eh_tls_pool *p);
/* Load ca_file (PEM). EH_ERR_NOENT unreadable, EH_ERR_TLS no usable CA. */
eh_err eh_tls_pool_open(struct eh_tls_pool *p, const char *ca_file);
void eh_tls_pool_free(struct eh_tls_pool *p);
/* Resolve receiver and proxy names through r (kept; must outlive p), off
 * the caller's thread; NULL: getaddrinfo on the caller's thread. Call while
 * no connection is open, after init. */
void eh_tls_pool_resolver(struct eh_tls_pool *p, struct eh_resolver *r);
/* Trust ca_file's CAs from the next handshake on, and forget the saved
 * sessions. Call only with every connection closed. Errors as
 * eh_tls_pool_open; the old CAs stay then. */
eh_err eh_tls_pool_reload_ca(struct eh_tls_pool *p, const char *ca_file);
/* The transport factory of struct eh_https_config: ctx is the pool. The
 * transport for connection idx is set up for route r: through r's proxy
 * when it names one, presenting r's identity when it is a live handle. */
struct eh_transport *eh_tls_pool_transport(void *ctx, unsigned idx,
					   const struct eh_transport_route *r);

/* Load a client certificate (PEM chain) and its unencrypted PEM key: EH_OK
 * and *handle (>= 1), holding one reference for the caller, which gives it
 * back with eh_tls_pool_identity_put; connections presenting it hold their
 * own. EH_ERR_NOENT a file cannot be read, EH_ERR_TLS not a certificate or
 * key or a mismatched pair, EH_ERR_NOSPC all EH_TLS_POOL_IDENTITIES in use,
 * EH_ERR_INVAL the pool is not open. *key_at_fault tells which file; why
 * gets a reason (file names, never key bytes). mbedTLS allocates here. */
eh_err eh_tls_pool_identity_load(struct eh_tls_pool *p, const char *cert_file, const char *key_file,
				 unsigned *handle, bool *key_at_fault, char *why, size_t cap);
void eh_tls_pool_identity_put(struct eh_tls_pool *p, unsigned handle);

/* The pool as a transport factory (ctx: the struct eh_tls_pool, opened). */
extern const struct eh_transport_factory_ops eh_tls_pool_factory;

#endif /* EH_TLS_POOL_H */
