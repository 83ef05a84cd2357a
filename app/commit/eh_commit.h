/* SPDX-License-Identifier: Apache-2.0 */
/* eh_commit.h - the group commit (docs/DURABILITY.md, section 1): one
 * timer armed for the queue's own deadline (records staged for
 * commit_interval_ms, or cursors moved), a commit on demand, and an
 * on-durable callback that lets the input sources release what the commit
 * covers. */
#ifndef EH_COMMIT_H
#define EH_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_loop.h"
#include "eh_queue.h"

struct eh_commit_config {
	struct eh_loop *loop;	/* runs the timer */
	struct eh_queue *queue; /* what is committed */
	/* Everything staged so far is durable (after each successful commit). */
	void (*durable)(void *ctx);
	/* A commit failed: nothing staged since the last one is durable. The
	 * owner decides (the daemon stops: the broker redelivers). */
	void (*failed)(void *ctx, eh_err rc);
	void *ctx;
};

struct eh_commit {
	/* internal */
	struct eh_commit_config cfg;
	uint32_t timer;	   /* 0 = not armed */
	uint64_t due_ms;   /* when the timer fires */
	bool cursor_dirty; /* an ack not yet committed */
};

/* Cannot fail; cfg is copied, its loop and queue must outlive c. */
void eh_commit_init(struct eh_commit *c, const struct eh_commit_config *cfg);

/* Arm the timer for the queue's deadline (no-op when nothing waits, or the
 * timer is due sooner already). Call after staging records. */
void eh_commit_schedule(struct eh_commit *c);

/* Commit at once: durable() on success; failed() and the error otherwise. */
eh_err eh_commit_now(struct eh_commit *c);

/* A delivery cursor moved: persisted with the next commit (at the latest
 * the queue's cursor deadline), and before any next batch (see
 * eh_commit_cursor_dirty). */
void eh_commit_cursor_moved(struct eh_commit *c);

/* True while an ack is not yet committed. */
bool eh_commit_cursor_dirty(const struct eh_commit *c);

/* Disarm the timer (stop). */
void eh_commit_cancel(struct eh_commit *c);

#endif /* EH_COMMIT_H */
