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
/* Bytes for the mbedTLS contexts (not their heap buffers): ~40 KiB shared
 * (the entropy pool alone is 37 KiB) plus ~1.6 KiB per connection on x86-64
 * and aarch64. */
#define EH_TLS_POOL_BYTES (45056 + EH_TLS_POOL_CONNS * 2048)

struct eh_tls_pool {
	/* internal */
	_Alignas(16) unsigned char opaque[EH_TLS_POOL_BYTES];
};

/* Cannot fail; makes eh_tls_pool_free safe. */
void eh_tls_pool_init(struct eh_tls_pool *p);
/* Load ca_file (PEM). EH_ERR_NOENT unreadable, EH_ERR_TLS no usable CA. */
eh_err eh_tls_pool_open(struct eh_tls_pool *p, const char *ca_file);
void eh_tls_pool_free(struct eh_tls_pool *p);
/* The transport factory of struct eh_https_config: ctx is the pool. */
struct eh_transport *eh_tls_pool_transport(void *ctx, unsigned idx, bool tls);

#endif /* EH_TLS_POOL_H */
