/* SPDX-License-Identifier: Apache-2.0 */
/* eh_resolve.h - host name resolution off the loop thread. A few resolver
 * threads take lookups from a bounded table of jobs; the loop thread never
 * calls getaddrinfo. Each job owns an eventfd that the worker writes when
 * the answer is ready, so the waiting connection watches it in the poll
 * loop like any socket. Answers are cached for ttl_ms (glibc gives no DNS
 * TTL, so the time is fixed), failures for neg_ttl_ms. The cache and the
 * lookup calls belong to the loop thread; only the job table is shared. */
#ifndef EH_RESOLVE_H
#define EH_RESOLVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_time.h"

#ifndef EH_RESOLVE_MAX_ADDRS
#define EH_RESOLVE_MAX_ADDRS 8 /* addresses kept per name, in getaddrinfo's order */
#endif
#ifndef EH_RESOLVE_CACHE
#define EH_RESOLVE_CACHE 16 /* names cached; the oldest entry is replaced */
#endif
#ifndef EH_RESOLVE_JOBS
#define EH_RESOLVE_JOBS 8 /* lookups queued or running at once; more is EH_ERR_BUSY */
#endif
#ifndef EH_RESOLVE_THREADS
#define EH_RESOLVE_THREADS 2 /* one stalled name leaves the other thread free */
#endif
#ifndef EH_RESOLVE_TTL_MS
#define EH_RESOLVE_TTL_MS 60000 /* how long an answer is reused */
#endif
#ifndef EH_RESOLVE_NEG_TTL_MS
#define EH_RESOLVE_NEG_TTL_MS 5000 /* how long a failed lookup is not repeated */
#endif
#define EH_RESOLVE_HOST_MAX 256 /* host name bytes incl. NUL */

/* One address: 4 (IPv4) or 16 (IPv6) bytes of ip. */
struct eh_ip {
	uint8_t len;
	uint8_t ip[16];
};

/* The lookup itself; runs on a resolver thread and may block. EH_OK with
 * *n >= 1 addresses in out[0..cap), EH_ERR_NOENT no such name, EH_ERR_NET
 * the resolver failed. */
typedef eh_err (*eh_resolve_fn)(void *ctx, const char *host, struct eh_ip *out, size_t cap,
				size_t *n);

/* getaddrinfo (AF_UNSPEC, stream sockets), in its order: the default. */
eh_err eh_resolve_getaddrinfo(void *ctx, const char *host, struct eh_ip *out, size_t cap,
			      size_t *n);

struct eh_resolver_config {
	eh_resolve_fn lookup; /* NULL: eh_resolve_getaddrinfo */
	void *lookup_ctx;
	const struct eh_clock *clock; /* cache expiry; NULL: eh_clock_system */
	uint32_t ttl_ms;	      /* 0: EH_RESOLVE_TTL_MS */
	uint32_t neg_ttl_ms;	      /* 0: EH_RESOLVE_NEG_TTL_MS */
};

struct eh_resolve_entry {
	/* internal, loop thread only */
	char host[EH_RESOLVE_HOST_MAX]; /* "" free */
	uint64_t expires_ms;
	eh_err err; /* EH_OK, or the cached failure */
	size_t n;
	struct eh_ip addrs[EH_RESOLVE_MAX_ADDRS];
};

struct eh_resolve_job {
	/* internal, under mu */
	int state;     /* JOB_* in eh_resolve.c */
	int abandoned; /* the asker went away: cache the answer, free the job */
	int efd;       /* eventfd written when done */
	char host[EH_RESOLVE_HOST_MAX];
	eh_err err;
	size_t n;
	struct eh_ip addrs[EH_RESOLVE_MAX_ADDRS];
};

struct eh_resolver_stats {
	uint64_t lookups; /* lookups handed to a thread */
	uint64_t hits;	  /* answers (or failures) taken from the cache */
	uint64_t busy;	  /* lookups refused: every job in use */
};

struct eh_resolver {
	/* internal */
	struct eh_resolver_config cfg;
	struct eh_resolver_stats stats;
	struct eh_resolve_entry cache[EH_RESOLVE_CACHE];
	struct eh_resolve_job jobs[EH_RESOLVE_JOBS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t threads[EH_RESOLVE_THREADS];
	int nthreads;
	int stop;
};

/* Cannot fail; makes eh_resolver_close safe. cfg is copied. */
void eh_resolver_init(struct eh_resolver *r, const struct eh_resolver_config *cfg);
/* Create the eventfds and start the threads. EH_ERR_IO when the OS refuses. */
eh_err eh_resolver_open(struct eh_resolver *r);
/* Stop the threads (waits for a lookup in progress) and close the fds. */
void eh_resolver_close(struct eh_resolver *r);

/* Resolve host; loop thread only. *job is -1 before the first call and is
 * kept by the caller between calls. EH_OK: out[0..*n) holds the addresses
 * (an IP literal is its own answer, without a thread). EH_ERR_AGAIN: wait
 * for eh_resolver_fd(r, *job) to be readable, then call again with the
 * same job. EH_ERR_NOENT / EH_ERR_NET: the lookup failed (cached for
 * neg_ttl_ms). EH_ERR_BUSY: EH_RESOLVE_JOBS lookups are already running.
 * EH_ERR_INVAL: the name is empty or too long. */
eh_err eh_resolver_lookup(struct eh_resolver *r, const char *host, int *job, struct eh_ip *out,
			  size_t cap, size_t *n);
/* The fd to watch for readability while *job is pending, else -1. */
int eh_resolver_fd(const struct eh_resolver *r, int job);
/* The caller no longer waits: its job's answer still reaches the cache.
 * *job becomes -1; -1 is ignored. */
void eh_resolver_cancel(struct eh_resolver *r, int *job);

static inline const struct eh_resolver_stats *eh_resolver_get_stats(const struct eh_resolver *r)
{
	return &r->stats;
}

#endif /* EH_RESOLVE_H */
