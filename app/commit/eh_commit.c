/* SPDX-License-Identifier: Apache-2.0 */
/* eh_commit.c - the group commit: one fdatasync covers every record and
 * cursor change staged since the last one. */
#include "eh_commit.h"

#include "eh_assert.h"
#include "eh_log.h"

void eh_commit_init(struct eh_commit *c, const struct eh_commit_config *cfg)
{
	EH_ASSERT(c != NULL && cfg != NULL && cfg->loop != NULL && cfg->queue != NULL);
	c->cfg = *cfg;
	c->timer = 0;
	c->due_ms = 0;
	c->cursor_dirty = false;
}

void eh_commit_cancel(struct eh_commit *c)
{
	if (c->timer) {
		eh_loop_cancel(c->cfg.loop, c->timer);
		c->timer = 0;
	}
}

eh_err eh_commit_now(struct eh_commit *c)
{
	eh_err rc;

	eh_commit_cancel(c);
	rc = eh_queue_commit(c->cfg.queue);
	if (rc != EH_OK) {
		/* Nothing is released: the broker redelivers after a restart. */
		EH_LOG_ERR("queue", "commit failed: %s", eh_err_str(rc));
		if (c->cfg.failed != NULL)
			c->cfg.failed(c->cfg.ctx, rc);
		return rc;
	}
	c->cursor_dirty = false;
	if (c->cfg.durable != NULL)
		c->cfg.durable(c->cfg.ctx);
	return EH_OK;
}

static void on_timer(struct eh_loop *l, void *arg)
{
	struct eh_commit *c = arg;

	c->timer = 0;
	if (eh_queue_commit_due(c->cfg.queue, eh_loop_now(l)) && eh_commit_now(c) != EH_OK)
		return;
	eh_commit_schedule(c);
}

void eh_commit_schedule(struct eh_commit *c)
{
	uint64_t now = eh_loop_now(c->cfg.loop);
	uint64_t due = eh_queue_commit_deadline(c->cfg.queue);

	if (due == UINT64_MAX)
		return;
	if (c->timer) {
		if (c->due_ms <= due)
			return;
		eh_commit_cancel(c);
	}
	c->due_ms = due;
	if (eh_loop_after(c->cfg.loop, due > now ? due - now : 0, on_timer, c, &c->timer) != EH_OK)
		eh_commit_now(c); /* no timer left: commit now rather than never */
}

void eh_commit_cursor_moved(struct eh_commit *c)
{
	c->cursor_dirty = true;
	eh_commit_schedule(c);
}

bool eh_commit_cursor_dirty(const struct eh_commit *c)
{
	return c->cursor_dirty;
}
