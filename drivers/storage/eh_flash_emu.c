/* SPDX-License-Identifier: Apache-2.0 */
/* eh_flash_emu.c - the power-cut device behind the queue's crash tests
 * (littlefs emubd, SQLite test6 style). Writes since the last sync are kept
 * as an ordered log so a crash image can drop, reorder or tear them. */
#include <string.h>

#include "eh_flash_emu.h"

/* ==== Helpers ==== */

static uint64_t emu_rand(uint64_t *s)
{
	/* splitmix64: seeded, reproducible from a replay id */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Start one operation; returns EH_ERR_IO when power is (now) off. */
static eh_err emu_begin(struct eh_flash_emu *e)
{
	if (e->dead)
		return EH_ERR_IO;
	e->op_count++;
	if (e->cut_at != 0 && e->op_count >= e->cut_at) {
		e->dead = 1;
		return EH_ERR_IO;
	}
	return EH_OK;
}

static void emu_apply(struct eh_flash_emu *e, uint8_t *img, const struct eh_flash_emu_op *op)
{
	memcpy(img + op->off, e->log + op->data, op->len);
}

/* ==== Ops ==== */

static eh_err emu_read(struct eh_flash *f, uint64_t off, void *buf, size_t len)
{
	struct eh_flash_emu *e = f->state;
	if (e->dead)
		return EH_ERR_IO;
	memcpy(buf, e->current + off, len);
	return EH_OK;
}

static eh_err emu_write(struct eh_flash *f, uint64_t off, const void *buf, size_t len)
{
	struct eh_flash_emu *e = f->state;
	eh_err rc = emu_begin(e);
	if (e->log_used + len > e->log_cap || e->n_ops >= e->ops_cap)
		return EH_ERR_NOSPC; /* the test sized the log too small */
	if (rc != EH_OK) {
		if (!e->torn_valid && e->dead) {
			/* the interrupted write: kept for the TORN mode */
			e->torn.off = off;
			e->torn.len = (uint32_t)len;
			e->torn.data = (uint32_t)e->log_used;
			memcpy(e->log + e->log_used, buf, len);
			e->torn_valid = 1;
		}
		return rc;
	}
	e->ops[e->n_ops].off = off;
	e->ops[e->n_ops].len = (uint32_t)len;
	e->ops[e->n_ops].data = (uint32_t)e->log_used;
	memcpy(e->log + e->log_used, buf, len);
	e->log_used += len;
	memcpy(e->current + off, buf, len);
	e->n_ops++;
	return EH_OK;
}

static eh_err emu_erase(struct eh_flash *f, uint64_t off, size_t len)
{
	(void)off;
	(void)len;
	/* file/eMMC semantics: erase is a no-op, but it is an operation */
	return emu_begin(f->state);
}

static eh_err emu_sync(struct eh_flash *f)
{
	struct eh_flash_emu *e = f->state;
	eh_err rc = emu_begin(e);
	if (rc != EH_OK)
		return rc;
	for (size_t i = 0; i < e->n_ops; i++)
		emu_apply(e, e->durable, &e->ops[i]);
	e->n_ops = 0;
	e->log_used = 0;
	return EH_OK;
}

static const struct eh_flash_ops emu_ops = {
    .read = emu_read,
    .prog = emu_write,
    .erase = emu_erase,
    .sync = emu_sync,
    .close = NULL,
};

/* ==== Public ==== */

void eh_flash_emu_init(struct eh_flash *f, struct eh_flash_emu *e, uint32_t block_size,
		       uint32_t block_count, uint32_t prog_unit)
{
	EH_ASSERT(f != NULL && e != NULL && e->durable != NULL && e->current != NULL);
	EH_ASSERT((uint64_t)block_size * block_count == e->size);
	memset(f, 0, sizeof(*f));
	f->ops = &emu_ops;
	f->state = e;
	f->name = "emu";
	f->block_size = block_size;
	f->block_count = block_count;
	f->prog_unit = prog_unit;
	memcpy(e->current, e->durable, e->size);
	e->log_used = 0;
	e->n_ops = 0;
	e->op_count = 0;
	e->cut_at = 0;
	e->dead = 0;
	e->torn_valid = 0;
}

void eh_flash_emu_cut_after(struct eh_flash_emu *e, uint64_t n)
{
	e->cut_at = n == 0 ? 0 : e->op_count + n;
}

void eh_flash_emu_powerloss(struct eh_flash_emu *e, enum eh_flash_emu_mode mode, uint64_t seed)
{
	uint64_t s = seed;
	switch (mode) {
	case EH_FLASH_EMU_ATOMIC:
		for (size_t i = 0; i < e->n_ops; i++)
			emu_apply(e, e->durable, &e->ops[i]);
		break;
	case EH_FLASH_EMU_REORDER:
		for (size_t i = 0; i < e->n_ops; i++)
			if (emu_rand(&s) & 1)
				emu_apply(e, e->durable, &e->ops[i]);
		break;
	case EH_FLASH_EMU_TORN: {
		const struct eh_flash_emu_op *t = NULL;
		for (size_t i = 0; i < e->n_ops; i++)
			emu_apply(e, e->durable, &e->ops[i]);
		if (e->torn_valid)
			t = &e->torn;
		else if (e->n_ops > 0)
			t = &e->ops[e->n_ops - 1];
		if (t != NULL && t->len > 0) {
			/* a prefix of the write lands, then a unit-sized tear of garbage */
			uint32_t unit = 512;
			uint32_t keep = (uint32_t)(emu_rand(&s) % t->len);
			uint32_t junk = (uint32_t)(1 + emu_rand(&s) % unit);
			memcpy(e->durable + t->off, e->log + t->data, keep);
			if (keep + junk > t->len)
				junk = t->len - keep;
			for (uint32_t i = 0; i < junk; i++)
				e->durable[t->off + keep + i] = (uint8_t)emu_rand(&s);
		}
		break;
	}
	case EH_FLASH_EMU_DROP:
	default:
		break;
	}
	memcpy(e->current, e->durable, e->size);
	e->n_ops = 0;
	e->log_used = 0;
	e->cut_at = 0;
	e->dead = 0;
	e->torn_valid = 0;
}

const char *eh_flash_emu_mode_name(enum eh_flash_emu_mode mode)
{
	switch (mode) {
	case EH_FLASH_EMU_ATOMIC:
		return "atomic";
	case EH_FLASH_EMU_REORDER:
		return "reorder";
	case EH_FLASH_EMU_TORN:
		return "torn";
	case EH_FLASH_EMU_DROP:
		return "drop";
	default:
		return "?";
	}
}

void eh_flash_emu_attach(struct eh_flash *f, struct eh_flash_emu *e,
			 const struct eh_flash_emu_mem *m, int blank)
{
	memset(e, 0, sizeof(*e));
	if (blank)
		memset(m->durable, 0, m->size);
	e->durable = m->durable;
	e->current = m->current;
	e->size = m->size;
	e->log = m->log;
	e->log_cap = m->log_cap;
	e->ops = m->ops;
	e->ops_cap = m->ops_cap;
	eh_flash_emu_init(f, e, m->block_size, m->block_count, m->prog_unit);
}
