/* SPDX-License-Identifier: Apache-2.0 */
/* eh_loop.h - the single-threaded poll(2) loop that owns the daemon's
 * state: fd watches, one-shot timers and a wake-up fd other threads use to
 * hand work over. Fixed capacity, no allocation. Time comes from the
 * struct eh_clock given at init and is read once per tick. */
#ifndef EH_LOOP_H
#define EH_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_time.h"

#ifndef EH_LOOP_MAX_FDS
#define EH_LOOP_MAX_FDS 64
#endif
#ifndef EH_LOOP_MAX_TIMERS
#define EH_LOOP_MAX_TIMERS 256
#endif

#define EH_LOOP_IN 0x1u	 /* readable (POLLIN) */
#define EH_LOOP_OUT 0x4u /* writable (POLLOUT) */
#define EH_LOOP_ERR 0x8u /* error or hang-up seen; reported with the others */

struct eh_loop;
typedef void (*eh_loop_fd_cb)(struct eh_loop *l, int fd, unsigned revents, void *arg);
typedef void (*eh_loop_timer_cb)(struct eh_loop *l, void *arg);
typedef void (*eh_loop_tick_cb)(struct eh_loop *l, void *arg);

struct eh_loop_fd {
	int fd;		 /* -1: free slot */
	unsigned events; /* EH_LOOP_IN | EH_LOOP_OUT */
	eh_loop_fd_cb cb;
	void *arg;
};

struct eh_loop_timer {
	uint64_t due_ms; /* monotonic deadline */
	uint32_t id;	 /* 0: free slot; ids never repeat within 2^32 adds */
	eh_loop_timer_cb cb;
	void *arg;
};

struct eh_loop {
	/* internal */
	const struct eh_clock *clock;
	uint64_t now_ms; /* read once per tick */
	struct eh_loop_fd fds[EH_LOOP_MAX_FDS];
	struct eh_loop_timer timers[EH_LOOP_MAX_TIMERS];
	uint32_t next_timer_id;
	int wake_fd;		   /* eventfd written by eh_loop_wake() */
	atomic_int wake_pending;   /* a wake not yet handed to on_wake */
	atomic_int sleeping;	   /* the loop is in (or entering) poll: a wake must write */
	atomic_ullong wake_writes; /* eventfd writes and reads since init (figures, tests) */
	uint64_t wake_reads;
	eh_loop_tick_cb on_wake; /* called in the loop thread after a wake */
	void *on_wake_arg;
	eh_loop_tick_cb on_tick; /* called once per iteration, after events */
	void *on_tick_arg;
	volatile int stop;
};

/* Cannot fail except for the eventfd (EH_ERR_IO). clock must outlive l. */
eh_err eh_loop_init(struct eh_loop *l, const struct eh_clock *clock);
void eh_loop_deinit(struct eh_loop *l);

/* Watch fd for events; replaces the watch if fd is already watched.
 * EH_ERR_NOSPC when the table is full. */
eh_err eh_loop_watch(struct eh_loop *l, int fd, unsigned events, eh_loop_fd_cb cb, void *arg);
void eh_loop_unwatch(struct eh_loop *l, int fd);

/* Arm a one-shot timer delay_ms from now; *id (may be NULL) receives a
 * handle for eh_loop_cancel. EH_ERR_NOSPC when the table is full. */
eh_err eh_loop_after(struct eh_loop *l, uint64_t delay_ms, eh_loop_timer_cb cb, void *arg,
		     uint32_t *id);
/* Cancel; a stale or 0 id is ignored. */
void eh_loop_cancel(struct eh_loop *l, uint32_t id);

/* Thread-safe and async-signal-safe: make the loop call on_wake soon.
 * Wakes coalesce: only the first since the last on_wake call does
 * anything, and it writes the eventfd only when the loop sleeps in poll
 * (a busy loop sees the flag before it next waits). A burst costs at most
 * one eventfd write and one read, however many messages it holds. */
void eh_loop_wake(struct eh_loop *l);
void eh_loop_on_wake(struct eh_loop *l, eh_loop_tick_cb cb, void *arg);
void eh_loop_on_tick(struct eh_loop *l, eh_loop_tick_cb cb, void *arg);

/* One iteration: wait at most max_wait_ms (or until the next timer), run
 * ready fd callbacks, due timers and the tick callback. */
eh_err eh_loop_run_once(struct eh_loop *l, int max_wait_ms);
/* Iterate until eh_loop_stop(). */
eh_err eh_loop_run(struct eh_loop *l);
void eh_loop_stop(struct eh_loop *l); /* async-signal-safe */

static inline uint64_t eh_loop_now(const struct eh_loop *l)
{
	return l->now_ms;
}

#endif /* EH_LOOP_H */
