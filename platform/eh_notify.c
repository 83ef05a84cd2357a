/* SPDX-License-Identifier: Apache-2.0 */
/* eh_notify.c - a datagram to $NOTIFY_SOCKET; "@" names the abstract
 * namespace, as sd_notify(3) specifies. */
#define _GNU_SOURCE
#include "eh_notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

eh_err eh_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t plen;

	if (path == NULL || path[0] == '\0')
		return EH_OK;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
		return EH_ERR_INVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return EH_ERR_IO;
	ssize_t r = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
	close(fd);
	return r < 0 ? EH_ERR_IO : EH_OK;
}

uint64_t eh_notify_watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (*end != '\0' || v == 0)
		return 0;
	return (uint64_t)(v / 2000u);
}
