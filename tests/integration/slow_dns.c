/* SPDX-License-Identifier: Apache-2.0 */
/* slow_dns.c - an LD_PRELOAD library for integration tests: getaddrinfo
 * for the one host name in $EH_SLOW_DNS_HOST answers after
 * $EH_SLOW_DNS_MS milliseconds (default 5000) with the loopback address;
 * every other name goes to the C library's getaddrinfo at once. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	static gai_fn real;
	const char *slow = getenv("EH_SLOW_DNS_HOST");
	const char *ms = getenv("EH_SLOW_DNS_MS");

	if (real == NULL)
		real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	if (node != NULL && slow != NULL && strcmp(node, slow) == 0) {
		long wait = ms != NULL ? strtol(ms, NULL, 10) : 5000;
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
		node = "127.0.0.1";
	}
	return real(node, service, hints, res);
}
