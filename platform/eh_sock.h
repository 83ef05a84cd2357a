/* SPDX-License-Identifier: Apache-2.0 */
/* eh_sock.h - non-blocking TCP and UDP sockets. The only place that calls
 * socket(2), connect(2), send(2) and recv(2) for the daemon's own I/O. */
#ifndef EH_SOCK_H
#define EH_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"

/* Start a non-blocking TCP connect to host:port (name or IP literal;
 * names are resolved with getaddrinfo, which may block briefly).
 * *fd is set on EH_OK (connected) and EH_ERR_AGAIN (in progress: wait for
 * EH_LOOP_OUT, then call eh_sock_connect_result). EH_ERR_NET otherwise. */
eh_err eh_sock_connect(const char *host, uint16_t port, int *fd);
/* Start a non-blocking TCP connect to one address: ip is 4 (IPv4) or 16
 * (IPv6) bytes. Results as eh_sock_connect; never resolves. */
eh_err eh_sock_connect_ip(const uint8_t *ip, size_t ip_len, uint16_t port, int *fd);
/* After writability: EH_OK when connected, EH_ERR_NET when refused. */
eh_err eh_sock_connect_result(int fd);

/* Move up to len bytes. *n set on EH_OK. EH_ERR_AGAIN would block,
 * EH_ERR_CLOSED on orderly close (recv) or EPIPE (send), EH_ERR_NET on reset. */
eh_err eh_sock_send(int fd, const void *buf, size_t len, size_t *n);
eh_err eh_sock_recv(int fd, void *buf, size_t len, size_t *n);
void eh_sock_close(int fd);

/* 1 when host is an IPv4 or IPv6 literal; out (16 bytes) gets its bytes
 * and *out_len 4 or 16. */
int eh_sock_ip_literal(const char *host, uint8_t out[16], size_t *out_len);

#endif /* EH_SOCK_H */
