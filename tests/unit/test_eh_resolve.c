/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_resolve.c - the resolver threads and cache over a scripted
 * lookup on a hand-moved clock, and the TCP transport's non-blocking
 * connect through them against real loopback sockets: AGAIN while the
 * name resolves, every address tried in order, failures named. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eh_resolve.h"
#include "eh_transport.h"

/* ==== Scripted lookup ==== */

struct script {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate_closed; /* lookups wait until it opens */
	unsigned calls;
	eh_err err;
	size_t n;
	struct eh_ip addrs[4];
};
static struct script S = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, EH_OK, 0, {{0, {0}}}};

static eh_err scripted(void *ctx, const char *host, struct eh_ip *out, size_t cap, size_t *n)
{
	eh_err err;

	(void)ctx;
	(void)host;
	pthread_mutex_lock(&S.mu);
	S.calls++;
	while (S.gate_closed)
		pthread_cond_wait(&S.cv, &S.mu);
	err = S.err;
	*n = S.n < cap ? S.n : cap;
	memcpy(out, S.addrs, *n * sizeof(out[0]));
	pthread_mutex_unlock(&S.mu);
	return err;
}

static void gate(int closed)
{
	pthread_mutex_lock(&S.mu);
	S.gate_closed = closed;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

static void script_addrs(eh_err err, const char *a, const char *b)
{
	const char *ips[2] = {a, b};

	pthread_mutex_lock(&S.mu);
	S.err = err;
	S.n = 0;
	for (int i = 0; i < 2; i++) {
		if (ips[i] == NULL)
			continue;
		if (inet_pton(AF_INET, ips[i], S.addrs[S.n].ip) == 1)
			S.addrs[S.n].len = 4;
		else if (inet_pton(AF_INET6, ips[i], S.addrs[S.n].ip) == 1)
			S.addrs[S.n].len = 16;
		S.n++;
	}
	S.calls = 0;
	pthread_mutex_unlock(&S.mu);
}

static unsigned calls(void)
{
	unsigned c;
	pthread_mutex_lock(&S.mu);
	c = S.calls;
	pthread_mutex_unlock(&S.mu);
	return c;
}

static struct eh_clock clk;
static struct eh_clock_fake fclk;
static struct eh_resolver R;

static void rig(void)
{
	struct eh_resolver_config c = {scripted, NULL, &clk, 60000, 5000};

	fclk.mono_ms = 1000;
	fclk.wall_ms = 1700000000000ull;
	eh_clock_fake_init(&clk, &fclk);
	gate(0);
	eh_resolver_init(&R, &c);
	REQUIRE(eh_resolver_open(&R) == EH_OK);
}

/* Wait (at most 2 s) until fd is readable (a listener: has a connection). */
static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 2000) == 1;
}

/* ==== Resolver and cache ==== */

EH_TEST(ip_literals_skip_the_threads)
{
	struct eh_ip out[4];
	size_t n = 0;
	int job = -1;

	rig();
	script_addrs(EH_OK, "10.0.0.1", NULL);
	CHECK(eh_resolver_lookup(&R, "192.0.2.7", &job, out, 4, &n) == EH_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].len, 4);
	CHECK(eh_resolver_lookup(&R, "2001:db8::1", &job, out, 4, &n) == EH_OK);
	CHECK_EQ(out[0].len, 16);
	CHECK_EQ(job, -1);
	CHECK_EQ(calls(), 0);
	eh_resolver_close(&R);
}

EH_TEST(answers_are_cached_for_the_ttl)
{
	struct eh_ip out[4];
	size_t n = 0;
	int job = -1;

	rig();
	script_addrs(EH_OK, "::1", "127.0.0.1");
	CHECK(eh_resolver_lookup(&R, "hooks.example", &job, out, 4, &n) == EH_ERR_AGAIN);
	REQUIRE(job >= 0);
	CHECK(readable(eh_resolver_fd(&R, job)));
	CHECK(eh_resolver_lookup(&R, "hooks.example", &job, out, 4, &n) == EH_OK);
	CHECK_EQ(job, -1);
	CHECK_EQ(n, 2);
	CHECK(out[0].len == 16 && out[1].len == 4); /* the resolver's order */
	/* From the cache: no thread, no wait. */
	fclk.mono_ms += 59999;
	CHECK(eh_resolver_lookup(&R, "hooks.example", &job, out, 4, &n) == EH_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(calls(), 1);
	CHECK_EQ(eh_resolver_get_stats(&R)->hits, 1);
	/* Expired: asked again. */
	fclk.mono_ms += 1;
	CHECK(eh_resolver_lookup(&R, "hooks.example", &job, out, 4, &n) == EH_ERR_AGAIN);
	CHECK(readable(eh_resolver_fd(&R, job)));
	CHECK(eh_resolver_lookup(&R, "hooks.example", &job, out, 4, &n) == EH_OK);
	CHECK_EQ(calls(), 2);
	eh_resolver_close(&R);
}

EH_TEST(failures_are_cached_briefly)
{
	struct eh_ip out[4];
	size_t n = 0;
	int job = -1;

	rig();
	script_addrs(EH_ERR_NOENT, NULL, NULL);
	CHECK(eh_resolver_lookup(&R, "nx.example", &job, out, 4, &n) == EH_ERR_AGAIN);
	CHECK(readable(eh_resolver_fd(&R, job)));
	CHECK(eh_resolver_lookup(&R, "nx.example", &job, out, 4, &n) == EH_ERR_NOENT);
	fclk.mono_ms += 4999;
	CHECK(eh_resolver_lookup(&R, "nx.example", &job, out, 4, &n) == EH_ERR_NOENT);
	CHECK_EQ(calls(), 1);
	fclk.mono_ms += 1;
	script_addrs(EH_OK, "127.0.0.1", NULL);
	CHECK(eh_resolver_lookup(&R, "nx.example", &job, out, 4, &n) == EH_ERR_AGAIN);
	CHECK(readable(eh_resolver_fd(&R, job)));
	CHECK(eh_resolver_lookup(&R, "nx.example", &job, out, 4, &n) == EH_OK);
	eh_resolver_close(&R);
}

EH_TEST(a_stalled_lookup_blocks_nobody_and_the_table_is_bounded)
{
	struct eh_ip out[4];
	size_t n = 0;
	int jobs[EH_RESOLVE_JOBS + 1];
	char name[32];
	uint64_t t0;
	int fd0;

	rig();
	t0 = eh_time_mono_ms();
	script_addrs(EH_OK, "127.0.0.1", NULL);
	gate(1);
	for (int i = 0; i < EH_RESOLVE_JOBS; i++) {
		jobs[i] = -1;
		snprintf(name, sizeof(name), "h%d.example", i);
		CHECK(eh_resolver_lookup(&R, name, &jobs[i], out, 4, &n) == EH_ERR_AGAIN);
	}
	jobs[EH_RESOLVE_JOBS] = -1;
	CHECK(eh_resolver_lookup(&R, "one-more.example", &jobs[EH_RESOLVE_JOBS], out, 4, &n) ==
	      EH_ERR_BUSY);
	CHECK_EQ(eh_resolver_get_stats(&R)->busy, 1);
	/* The lookups are held at the gate: any bound short of forever shows
	 * the caller did not wait for them (loose for a loaded emulator). */
	CHECK(eh_time_mono_ms() - t0 < 1500);
	/* A caller that leaves: its answer still reaches the cache. */
	fd0 = eh_resolver_fd(&R, jobs[0]);
	eh_resolver_cancel(&R, &jobs[0]);
	CHECK_EQ(jobs[0], -1);
	gate(0);
	/* The abandoned job signals its own eventfd when its answer is in;
	 * the next call, whatever it asks, sweeps that answer into the cache. */
	CHECK(readable(fd0));
	for (int i = 1; i < EH_RESOLVE_JOBS; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		CHECK(readable(eh_resolver_fd(&R, jobs[i])));
		CHECK(eh_resolver_lookup(&R, name, &jobs[i], out, 4, &n) == EH_OK);
	}
	CHECK(eh_resolver_lookup(&R, "h0.example", &jobs[0], out, 4, &n) == EH_OK);
	CHECK_EQ(jobs[0], -1);
	eh_resolver_close(&R);
}

/* ==== The TCP transport over the resolver ==== */

static int listen_v4(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 4) != 0)
		return -1;
	getsockname(s, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return s;
}

/* Drive connect as the HTTPS client does: wait on pollfd, call again. */
static eh_err drive(struct eh_transport *t, const char *host, uint16_t port, int *waits,
		    int *resolver_waits)
{
	eh_err rc;

	for (int i = 0; i < 50; i++) {
		rc = eh_transport_connect(t, host, port);
		if (rc != EH_ERR_AGAIN)
			return rc;
		int fd = eh_transport_pollfd(t);
		struct pollfd p = {fd, 0, 0};
		if (fd < 0)
			return EH_ERR_INVAL; /* would spin */
		for (int j = 0; j < EH_RESOLVE_JOBS; j++)
			if (fd == eh_resolver_fd(&R, j))
				(*resolver_waits)++;
		p.events = (eh_transport_want(t) & EH_TRANSPORT_WANT_READ) ? POLLIN : POLLOUT;
		poll(&p, 1, 2000);
		(*waits)++;
	}
	return EH_ERR_TIMEOUT;
}

EH_TEST(connect_resolves_without_blocking_and_tries_every_address)
{
	struct eh_transport t;
	struct eh_transport_tcp st;
	uint16_t port = 0;
	int ls, waits = 0, rwaits = 0;

	rig();
	ls = listen_v4(&port);
	REQUIRE(ls >= 0);
	/* ::1 first (nobody listens there on this port: refused or
	 * unreachable), then 127.0.0.1, where the listener is. */
	script_addrs(EH_OK, "::1", "127.0.0.1");
	gate(1);
	eh_transport_tcp_init(&t, &st);
	eh_transport_tcp_resolver(&t, &R);
	CHECK(eh_transport_connect(&t, "hooks.example", port) == EH_ERR_AGAIN);
	CHECK(eh_transport_pollfd(&t) >= 0);
	CHECK(eh_transport_want(&t) == EH_TRANSPORT_WANT_READ);
	CHECK(eh_transport_connect(&t, "hooks.example", port) == EH_ERR_AGAIN);
	/* While the name resolves, the caller waits on the resolver's fd. */
	for (int j = 0; j < EH_RESOLVE_JOBS; j++)
		if (eh_transport_pollfd(&t) == eh_resolver_fd(&R, j))
			rwaits++;
	CHECK_EQ(rwaits, 1);
	gate(0);
	CHECK(drive(&t, "hooks.example", port, &waits, &rwaits) == EH_OK);
	if (readable(ls))
		close(accept(ls, NULL, NULL));
	eh_transport_close(&t);
	CHECK_EQ(calls(), 1);
	/* Again: from the cache, no lookup. */
	rwaits = 0;
	CHECK(drive(&t, "hooks.example", port, &waits, &rwaits) == EH_OK);
	CHECK_EQ(rwaits, 0);
	CHECK_EQ(calls(), 1);
	eh_transport_close(&t);
	close(ls);
	eh_resolver_close(&R);
}

EH_TEST(connect_names_what_failed)
{
	struct eh_transport t;
	struct eh_transport_tcp st;
	uint16_t port = 0;
	int ls, waits = 0, rwaits = 0;

	rig();
	ls = listen_v4(&port);
	REQUIRE(ls >= 0);
	close(ls); /* now nobody listens on port */
	script_addrs(EH_OK, "::1", "127.0.0.1");
	eh_transport_tcp_init(&t, &st);
	eh_transport_tcp_resolver(&t, &R);
	CHECK(drive(&t, "down.example", port, &waits, &rwaits) == EH_ERR_NET);
	CHECK(strstr(eh_transport_error(&t), "cannot connect to down.example") != NULL);
	eh_transport_close(&t);
	script_addrs(EH_ERR_NOENT, NULL, NULL);
	CHECK(drive(&t, "nx.example", port, &waits, &rwaits) == EH_ERR_NET);
	CHECK_STR(eh_transport_error(&t), "cannot resolve nx.example: no such name");
	eh_transport_close(&t);
	eh_resolver_close(&R);
}
