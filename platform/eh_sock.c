/* SPDX-License-Identifier: Apache-2.0 */
/* eh_sock.c - BSD sockets, errno translated here. */
#define _GNU_SOURCE
#include "eh_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

eh_err eh_sock_connect(const char *host, uint16_t port, int *fd)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[8];
	eh_err rc = EH_ERR_NET;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return EH_ERR_NET;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       ai->ai_protocol);
		if (s < 0)
			continue;
		int one = 1;
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fd = s;
			rc = EH_OK;
			break;
		}
		if (errno == EINPROGRESS) {
			*fd = s;
			rc = EH_ERR_AGAIN;
			break;
		}
		close(s);
	}
	freeaddrinfo(res);
	return rc;
}

eh_err eh_sock_connect_ip(const uint8_t *ip, size_t ip_len, uint16_t port, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;
	int s;

	memset(&ss, 0, sizeof(ss));
	if (ip_len == 4) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		memcpy(&sa->sin_addr, ip, 4);
		sl = sizeof(*sa);
	} else if (ip_len == 16) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		memcpy(&sa->sin6_addr, ip, 16);
		sl = sizeof(*sa);
	} else {
		return EH_ERR_INVAL;
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return EH_ERR_NET;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (struct sockaddr *)&ss, sl) == 0) {
		*fd = s;
		return EH_OK;
	}
	if (errno == EINPROGRESS) {
		*fd = s;
		return EH_ERR_AGAIN;
	}
	close(s);
	return EH_ERR_NET;
}

eh_err eh_sock_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		return EH_ERR_NET;
	return EH_OK;
}

eh_err eh_sock_send(int fd, const void *buf, size_t len, size_t *n)
{
	for (;;) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);
		if (r >= 0) {
			*n = (size_t)r;
			return EH_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return EH_ERR_AGAIN;
		if (errno == EPIPE)
			return EH_ERR_CLOSED;
		return EH_ERR_NET;
	}
}

eh_err eh_sock_recv(int fd, void *buf, size_t len, size_t *n)
{
	for (;;) {
		ssize_t r = recv(fd, buf, len, 0);
		if (r > 0) {
			*n = (size_t)r;
			return EH_OK;
		}
		if (r == 0)
			return EH_ERR_CLOSED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return EH_ERR_AGAIN;
		return EH_ERR_NET;
	}
}

void eh_sock_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

int eh_sock_ip_literal(const char *host, uint8_t out[16], size_t *out_len)
{
	if (inet_pton(AF_INET, host, out) == 1) {
		*out_len = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, host, out) == 1) {
		*out_len = 16;
		return 1;
	}
	return 0;
}
