/* SPDX-License-Identifier: Apache-2.0 */
/* eh_resolve.c - the resolver threads, their job table and the loop
 * thread's cache. Cost: EH_RESOLVE_THREADS threads (each a 256 KiB stack,
 * mostly untouched) and EH_RESOLVE_JOBS eventfds, all made at open. */
#define _GNU_SOURCE
#include "eh_resolve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eh_assert.h"
#include "eh_sock.h"

enum {
	JOB_FREE,
	JOB_QUEUED,  /* waiting for a thread */
	JOB_RUNNING, /* a thread is in the lookup */
	JOB_DONE,    /* answer in the job; efd written */
};

#define RESOLVE_STACK (256u * 1024u) /* NSS modules and glibc's resolver fit */

/* ==== The default lookup ==== */

eh_err eh_resolve_getaddrinfo(void *ctx, const char *host, struct eh_ip *out, size_t cap, size_t *n)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	(void)ctx;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return (rc == EAI_NONAME || rc == EAI_NODATA) ? EH_ERR_NOENT : EH_ERR_NET;
	*n = 0;
	for (ai = res; ai != NULL && *n < cap; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sa = (const void *)ai->ai_addr;
			out[*n].len = 4;
			memcpy(out[*n].ip, &sa->sin_addr, 4);
			(*n)++;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sa = (const void *)ai->ai_addr;
			out[*n].len = 16;
			memcpy(out[*n].ip, &sa->sin6_addr, 16);
			(*n)++;
		}
	}
	freeaddrinfo(res);
	return *n > 0 ? EH_OK : EH_ERR_NOENT;
}

/* ==== Threads ==== */

static void job_signal(struct eh_resolve_job *j)
{
	uint64_t one = 1;
	ssize_t w;

	do
		w = write(j->efd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
}

static void job_drain(struct eh_resolve_job *j)
{
	uint64_t v;
	ssize_t rd;

	do
		rd = read(j->efd, &v, sizeof(v));
	while (rd < 0 && errno == EINTR);
}

static void *worker(void *arg)
{
	struct eh_resolver *r = arg;
	char host[EH_RESOLVE_HOST_MAX];
	struct eh_ip addrs[EH_RESOLVE_MAX_ADDRS];
	sigset_t all;

	/* Signals are the loop thread's business (eh_signal). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct eh_resolve_job *j = NULL;
		size_t n = 0;
		eh_err err;

		while (!r->stop) {
			for (unsigned i = 0; i < EH_RESOLVE_JOBS && j == NULL; i++)
				if (r->jobs[i].state == JOB_QUEUED)
					j = &r->jobs[i];
			if (j != NULL)
				break;
			pthread_cond_wait(&r->cv, &r->mu);
		}
		if (r->stop)
			break;
		j->state = JOB_RUNNING;
		memcpy(host, j->host, sizeof(host));
		pthread_mutex_unlock(&r->mu);

		err = r->cfg.lookup(r->cfg.lookup_ctx, host, addrs, EH_RESOLVE_MAX_ADDRS, &n);

		pthread_mutex_lock(&r->mu);
		j->err = err;
		j->n = err == EH_OK ? n : 0;
		memcpy(j->addrs, addrs, j->n * sizeof(addrs[0]));
		j->state = JOB_DONE;
		job_signal(j);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ==== Cache (loop thread) ==== */

static void cache_put(struct eh_resolver *r, const char *host, eh_err err, const struct eh_ip *a,
		      size_t n, uint64_t now)
{
	struct eh_resolve_entry *e = NULL;

	for (unsigned i = 0; i < EH_RESOLVE_CACHE && e == NULL; i++)
		if (strcmp(r->cache[i].host, host) == 0)
			e = &r->cache[i];
	for (unsigned i = 0; i < EH_RESOLVE_CACHE && e == NULL; i++)
		if (r->cache[i].host[0] == '\0')
			e = &r->cache[i];
	if (e == NULL) {
		e = &r->cache[0];
		for (unsigned i = 1; i < EH_RESOLVE_CACHE; i++)
			if (r->cache[i].expires_ms < e->expires_ms)
				e = &r->cache[i];
	}
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->err = err;
	e->n = err == EH_OK ? n : 0;
	memcpy(e->addrs, a, e->n * sizeof(a[0]));
	e->expires_ms = now + (err == EH_OK ? r->cfg.ttl_ms : r->cfg.neg_ttl_ms);
}

static eh_err answer(eh_err err, const struct eh_ip *a, size_t an, struct eh_ip *out, size_t cap,
		     size_t *n)
{
	if (err != EH_OK)
		return err;
	*n = an < cap ? an : cap;
	memcpy(out, a, *n * sizeof(a[0]));
	return EH_OK;
}

/* Answers nobody waits for any more go to the cache. Called with mu held. */
static void sweep(struct eh_resolver *r, uint64_t now)
{
	for (unsigned i = 0; i < EH_RESOLVE_JOBS; i++) {
		struct eh_resolve_job *j = &r->jobs[i];
		if (j->state != JOB_DONE || !j->abandoned)
			continue;
		cache_put(r, j->host, j->err, j->addrs, j->n, now);
		job_drain(j);
		j->state = JOB_FREE;
		j->abandoned = 0;
	}
}

/* ==== Interface ==== */

void eh_resolver_init(struct eh_resolver *r, const struct eh_resolver_config *cfg)
{
	EH_ASSERT(r != NULL);
	memset(r, 0, sizeof(*r));
	if (cfg != NULL)
		r->cfg = *cfg;
	if (r->cfg.lookup == NULL)
		r->cfg.lookup = eh_resolve_getaddrinfo;
	if (r->cfg.clock == NULL)
		r->cfg.clock = &eh_clock_system;
	if (r->cfg.ttl_ms == 0)
		r->cfg.ttl_ms = EH_RESOLVE_TTL_MS;
	if (r->cfg.neg_ttl_ms == 0)
		r->cfg.neg_ttl_ms = EH_RESOLVE_NEG_TTL_MS;
	for (unsigned i = 0; i < EH_RESOLVE_JOBS; i++)
		r->jobs[i].efd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
}

eh_err eh_resolver_open(struct eh_resolver *r)
{
	pthread_attr_t attr;
	eh_err rc = EH_ERR_IO;

	EH_ASSERT(r != NULL && r->nthreads == 0);
	for (unsigned i = 0; i < EH_RESOLVE_JOBS; i++) {
		r->jobs[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (r->jobs[i].efd < 0)
			goto out;
	}
	r->stop = 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, RESOLVE_STACK);
	for (int i = 0; i < EH_RESOLVE_THREADS; i++) {
		if (pthread_create(&r->threads[i], &attr, worker, r) != 0)
			break;
		r->nthreads++;
	}
	pthread_attr_destroy(&attr);
	if (r->nthreads > 0)
		rc = EH_OK;
out:
	if (rc != EH_OK)
		eh_resolver_close(r);
	return rc;
}

void eh_resolver_close(struct eh_resolver *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
	for (unsigned i = 0; i < EH_RESOLVE_JOBS; i++) {
		if (r->jobs[i].efd >= 0)
			close(r->jobs[i].efd);
		r->jobs[i].efd = -1;
		r->jobs[i].state = JOB_FREE;
		r->jobs[i].abandoned = 0;
	}
}

eh_err eh_resolver_lookup(struct eh_resolver *r, const char *host, int *job, struct eh_ip *out,
			  size_t cap, size_t *n)
{
	struct eh_resolve_job *j;
	size_t hlen;
	uint64_t now;
	eh_err err;

	EH_ASSERT(r != NULL && host != NULL && job != NULL && out != NULL && n != NULL);
	EH_ASSERT(cap > 0);
	*n = 0;
	{
		size_t iplen = 0;
		if (eh_sock_ip_literal(host, out[0].ip, &iplen)) {
			out[0].len = (uint8_t)iplen;
			*n = 1;
			return EH_OK;
		}
	}
	hlen = strlen(host);
	if (hlen == 0 || hlen >= EH_RESOLVE_HOST_MAX)
		return EH_ERR_INVAL;
	now = eh_clock_mono_ms(r->cfg.clock);

	pthread_mutex_lock(&r->mu);
	sweep(r, now);
	if (*job >= 0) {
		EH_ASSERT(*job < EH_RESOLVE_JOBS);
		j = &r->jobs[*job];
		if (j->state != JOB_DONE) {
			pthread_mutex_unlock(&r->mu);
			return EH_ERR_AGAIN;
		}
		cache_put(r, j->host, j->err, j->addrs, j->n, now);
		err = answer(j->err, j->addrs, j->n, out, cap, n);
		job_drain(j);
		j->state = JOB_FREE;
		*job = -1;
		pthread_mutex_unlock(&r->mu);
		return err;
	}
	for (unsigned i = 0; i < EH_RESOLVE_CACHE; i++) {
		struct eh_resolve_entry *e = &r->cache[i];
		if (e->host[0] != '\0' && e->expires_ms > now && strcmp(e->host, host) == 0) {
			r->stats.hits++;
			pthread_mutex_unlock(&r->mu);
			return answer(e->err, e->addrs, e->n, out, cap, n);
		}
	}
	EH_ASSERT(r->nthreads > 0);
	for (int i = 0; i < EH_RESOLVE_JOBS; i++) {
		j = &r->jobs[i];
		if (j->state != JOB_FREE)
			continue;
		memcpy(j->host, host, hlen + 1);
		j->abandoned = 0;
		j->state = JOB_QUEUED;
		*job = i;
		r->stats.lookups++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		return EH_ERR_AGAIN;
	}
	r->stats.busy++;
	pthread_mutex_unlock(&r->mu);
	return EH_ERR_BUSY;
}

int eh_resolver_fd(const struct eh_resolver *r, int job)
{
	if (r == NULL || job < 0 || job >= EH_RESOLVE_JOBS)
		return -1;
	return r->jobs[job].efd;
}

void eh_resolver_cancel(struct eh_resolver *r, int *job)
{
	EH_ASSERT(r != NULL && job != NULL);
	if (*job < 0)
		return;
	pthread_mutex_lock(&r->mu);
	r->jobs[*job].abandoned = 1;
	sweep(r, eh_clock_mono_ms(r->cfg.clock));
	pthread_mutex_unlock(&r->mu);
	*job = -1;
}
