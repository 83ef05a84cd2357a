/* SPDX-License-Identifier: Apache-2.0 */
/* eh_loop.c - poll(2) loop. Tables are small (tens of entries), so a
 * linear scan per tick costs less than keeping a heap in order. */
#define _GNU_SOURCE
#include "eh_loop.h"
#include "eh_assert.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ==== Setup ==== */

eh_err eh_loop_init(struct eh_loop *l, const struct eh_clock *clock)
{
	EH_ASSERT(l != NULL && clock != NULL);
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++)
		l->fds[i].fd = -1;
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++)
		l->timers[i].id = 0;
	l->clock = clock;
	l->now_ms = eh_clock_mono_ms(clock);
	l->next_timer_id = 1;
	l->on_wake = NULL;
	l->on_tick = NULL;
	l->stop = 0;
	atomic_init(&l->wake_pending, 0);
	atomic_init(&l->sleeping, 0);
	atomic_init(&l->wake_writes, 0);
	l->wake_reads = 0;
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return l->wake_fd < 0 ? EH_ERR_IO : EH_OK;
}

void eh_loop_deinit(struct eh_loop *l)
{
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
}

/* ==== File descriptors ==== */

eh_err eh_loop_watch(struct eh_loop *l, int fd, unsigned events, eh_loop_fd_cb cb, void *arg)
{
	int free_slot = -1;
	EH_ASSERT(fd >= 0 && cb != NULL);
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++) {
		if (l->fds[i].fd == fd) {
			free_slot = i;
			break;
		}
		if (l->fds[i].fd < 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return EH_ERR_NOSPC;
	l->fds[free_slot] = (struct eh_loop_fd){fd, events, cb, arg};
	return EH_OK;
}

void eh_loop_unwatch(struct eh_loop *l, int fd)
{
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++)
		if (l->fds[i].fd == fd)
			l->fds[i].fd = -1;
}

/* ==== Timers ==== */

eh_err eh_loop_after(struct eh_loop *l, uint64_t delay_ms, eh_loop_timer_cb cb, void *arg,
		     uint32_t *id)
{
	EH_ASSERT(cb != NULL);
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++) {
		struct eh_loop_timer *t = &l->timers[i];
		if (t->id != 0)
			continue;
		t->due_ms = l->now_ms + delay_ms;
		t->cb = cb;
		t->arg = arg;
		t->id = l->next_timer_id++;
		if (l->next_timer_id == 0)
			l->next_timer_id = 1;
		if (id)
			*id = t->id;
		return EH_OK;
	}
	return EH_ERR_NOSPC;
}

void eh_loop_cancel(struct eh_loop *l, uint32_t id)
{
	if (id == 0)
		return;
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++)
		if (l->timers[i].id == id)
			l->timers[i].id = 0;
}

static int next_timeout(const struct eh_loop *l, int max_wait_ms)
{
	int wait = max_wait_ms;
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++) {
		const struct eh_loop_timer *t = &l->timers[i];
		if (t->id == 0)
			continue;
		uint64_t d = t->due_ms > l->now_ms ? t->due_ms - l->now_ms : 0;
		if (wait < 0 || d < (uint64_t)wait)
			wait = (int)d;
	}
	return wait;
}

static void run_timers(struct eh_loop *l)
{
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++) {
		struct eh_loop_timer *t = &l->timers[i];
		if (t->id == 0 || t->due_ms > l->now_ms)
			continue;
		eh_loop_timer_cb cb = t->cb;
		void *arg = t->arg;
		t->id = 0; /* one-shot: free before the call so cb may re-arm */
		cb(l, arg);
	}
}

/* ==== Wake-up ==== */

/* The flag and the sleeping mark are sequentially consistent: the loop
 * marks itself sleeping and then reads the flag, a waker sets the flag and
 * then reads the mark, so at least one of them sees the other and no wake
 * is lost (both may: then one spare eventfd read). */
void eh_loop_wake(struct eh_loop *l)
{
	uint64_t one = 1;
	if (atomic_exchange(&l->wake_pending, 1) != 0)
		return; /* already pending: the loop has not called on_wake yet */
	if (!atomic_load(&l->sleeping))
		return; /* running: it reads the flag before it waits again */
	atomic_fetch_add(&l->wake_writes, 1);
	ssize_t r = write(l->wake_fd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, a wake is pending */
}

void eh_loop_on_wake(struct eh_loop *l, eh_loop_tick_cb cb, void *arg)
{
	l->on_wake = cb;
	l->on_wake_arg = arg;
}

void eh_loop_on_tick(struct eh_loop *l, eh_loop_tick_cb cb, void *arg)
{
	l->on_tick = cb;
	l->on_tick_arg = arg;
}

void eh_loop_stop(struct eh_loop *l)
{
	l->stop = 1;
	eh_loop_wake(l);
}

/* ==== Iteration ==== */

eh_err eh_loop_run_once(struct eh_loop *l, int max_wait_ms)
{
	struct pollfd pfd[EH_LOOP_MAX_FDS + 1];
	int map[EH_LOOP_MAX_FDS + 1];
	nfds_t n = 0;

	pfd[n] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
	map[n++] = -1;
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++) {
		struct eh_loop_fd *f = &l->fds[i];
		if (f->fd < 0)
			continue;
		short ev = 0;
		if (f->events & EH_LOOP_IN)
			ev |= POLLIN;
		if (f->events & EH_LOOP_OUT)
			ev |= POLLOUT;
		pfd[n] = (struct pollfd){.fd = f->fd, .events = ev};
		map[n++] = i;
	}
	l->now_ms = eh_clock_mono_ms(l->clock);
	int wait = next_timeout(l, max_wait_ms);
	atomic_store(&l->sleeping, 1);
	if (atomic_load(&l->wake_pending))
		wait = 0; /* woken while busy: look at the fds, do not sleep */
	int r = poll(pfd, n, wait);
	atomic_store(&l->sleeping, 0);
	if (r < 0 && errno != EINTR)
		return EH_ERR_IO;
	l->now_ms = eh_clock_mono_ms(l->clock);
	if (r > 0 && (pfd[0].revents & POLLIN)) {
		uint64_t v;
		ssize_t rr = read(l->wake_fd, &v, sizeof(v));
		(void)rr;
		l->wake_reads++;
	}
	/* cleared before the call: a wake during on_wake is seen next time */
	if (atomic_exchange(&l->wake_pending, 0) != 0 && l->on_wake)
		l->on_wake(l, l->on_wake_arg);
	if (r > 0) {
		for (nfds_t k = 1; k < n; k++) {
			if (pfd[k].revents == 0)
				continue;
			struct eh_loop_fd *f = &l->fds[map[k]];
			/* The watch may have been removed or replaced by an earlier cb. */
			if (f->fd != pfd[k].fd)
				continue;
			unsigned re = 0;
			if (pfd[k].revents & POLLIN)
				re |= EH_LOOP_IN;
			if (pfd[k].revents & POLLOUT)
				re |= EH_LOOP_OUT;
			if (pfd[k].revents & (POLLERR | POLLHUP | POLLNVAL))
				re |= EH_LOOP_ERR | (f->events & (EH_LOOP_IN | EH_LOOP_OUT));
			f->cb(l, f->fd, re, f->arg);
		}
	}
	run_timers(l);
	if (l->on_tick)
		l->on_tick(l, l->on_tick_arg);
	return EH_OK;
}

eh_err eh_loop_run(struct eh_loop *l)
{
	eh_err rc = EH_OK;
	while (!l->stop && rc == EH_OK)
		rc = eh_loop_run_once(l, -1);
	return rc;
}
