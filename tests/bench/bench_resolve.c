/* SPDX-License-Identifier: Apache-2.0 */
/* bench_resolve.c - what a lookup of a name in /etc/hosts costs the
 * calling thread: getaddrinfo on that thread (what the loop did before),
 * glibc's getaddrinfo_a (submit, then wait with gai_suspend), and the
 * resolver threads (a miss: job, eventfd, poll; a hit: the cache). Prints
 * microseconds per lookup and the resident memory the resolver adds.
 * Usage: bench_resolve [N] */
#define _GNU_SOURCE
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eh_resolve.h"
#include "eh_time.h"

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	const char *host = "localhost";
	struct addrinfo hints, *res;
	struct eh_clock clk;
	struct eh_clock_fake fk = {1, 1};
	struct eh_resolver r;
	struct eh_resolver_config cfg;
	struct eh_ip out[EH_RESOLVE_MAX_ADDRS];
	size_t got;
	uint64_t t0;
	long rss0, rss1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	t0 = eh_time_mono_us();
	for (int i = 0; i < n; i++) {
		if (getaddrinfo(host, NULL, &hints, &res) != 0)
			return 1;
		freeaddrinfo(res);
	}
	printf("getaddrinfo on the caller      %8.1f us/lookup\n",
	       (double)(eh_time_mono_us() - t0) / n);

	t0 = eh_time_mono_us();
	for (int i = 0; i < n; i++) {
		struct gaicb cb = {host, NULL, &hints, NULL};
		struct gaicb *list[1] = {&cb};
		const struct gaicb *wait[1] = {&cb};
		if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0)
			return 1;
		while (gai_error(&cb) == EAI_INPROGRESS)
			gai_suspend(wait, 1, NULL);
		if (cb.ar_result != NULL)
			freeaddrinfo(cb.ar_result);
	}
	printf("getaddrinfo_a, miss            %8.1f us/lookup\n",
	       (double)(eh_time_mono_us() - t0) / n);

	eh_clock_fake_init(&clk, &fk);
	memset(&cfg, 0, sizeof(cfg));
	cfg.clock = &clk;
	cfg.ttl_ms = 1;
	cfg.neg_ttl_ms = 1;
	rss0 = rss_kib();
	eh_resolver_init(&r, &cfg);
	if (eh_resolver_open(&r) != EH_OK)
		return 1;
	t0 = eh_time_mono_us();
	for (int i = 0; i < n; i++) {
		int job = -1;
		fk.mono_ms += 2; /* the last answer expired: a miss */
		while (eh_resolver_lookup(&r, host, &job, out, EH_RESOLVE_MAX_ADDRS, &got) ==
		       EH_ERR_AGAIN) {
			struct pollfd p = {eh_resolver_fd(&r, job), POLLIN, 0};
			poll(&p, 1, -1);
		}
	}
	printf("resolver threads, miss         %8.1f us/lookup\n",
	       (double)(eh_time_mono_us() - t0) / n);
	rss1 = rss_kib();
	t0 = eh_time_mono_us();
	for (int i = 0; i < n * 100; i++) {
		int job = -1;
		(void)eh_resolver_lookup(&r, host, &job, out, EH_RESOLVE_MAX_ADDRS, &got);
	}
	printf("resolver cache, hit            %8.3f us/lookup\n",
	       (double)(eh_time_mono_us() - t0) / (n * 100.0));
	printf("resident memory added by open  %8ld KiB (%d threads)\n", rss1 - rss0,
	       EH_RESOLVE_THREADS);
	eh_resolver_close(&r);
	return 0;
}
