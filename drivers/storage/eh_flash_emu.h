/* SPDX-License-Identifier: Apache-2.0 */
/* eh_flash_emu.h - an emulated block device for tests: RAM-backed, it keeps
 * the durable image apart from the writes made since the last sync, counts
 * every prog/erase/sync as one operation, and can lose power at any chosen
 * operation. The crash image is then built in one of several modes. */
#ifndef EH_FLASH_EMU_H
#define EH_FLASH_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "eh_flash.h"

enum eh_flash_emu_mode {
	EH_FLASH_EMU_ATOMIC = 0,  /* completed writes persist, the cut one is not applied */
	EH_FLASH_EMU_REORDER = 1, /* a random subset of the unsynced writes persists */
	EH_FLASH_EMU_TORN = 2,	  /* unsynced writes persist, the last one torn: a prefix of
				   * its units, then one unit of garbage */
	EH_FLASH_EMU_DROP = 3,	  /* every unsynced write is lost */
	EH_FLASH_EMU_MODES = 4,
};

/* One unsynced write: where it goes and where its bytes are in the log. */
struct eh_flash_emu_op {
	uint64_t off;
	uint32_t len;
	uint32_t data; /* offset of the bytes in log */
};

/* Caller fills the buffers (durable and current: size bytes each; log and
 * ops: capacity for the writes between two syncs), then calls init. */
struct eh_flash_emu {
	uint8_t *durable; /* what survives a power cut */
	uint8_t *current; /* what reads see: durable + unsynced writes */
	size_t size;
	uint8_t *log; /* bytes of unsynced writes, in order */
	size_t log_cap, log_used;
	struct eh_flash_emu_op *ops;
	size_t ops_cap, n_ops;
	/* internal */
	uint64_t op_count; /* prog/erase/sync operations started */
	uint64_t cut_at;   /* lose power when op_count reaches this; 0 = never */
	int dead;	   /* power is off: every op fails with EH_ERR_IO */
	int torn_valid;	   /* the interrupted op was a write, kept in torn */
	struct eh_flash_emu_op torn;
};

/* The caller's buffers for one emulated device, and its geometry. */
struct eh_flash_emu_mem {
	uint8_t *durable, *current; /* size bytes each */
	size_t size;
	uint8_t *log; /* log_cap bytes */
	size_t log_cap;
	struct eh_flash_emu_op *ops; /* ops_cap entries */
	size_t ops_cap;
	uint32_t block_size, block_count, prog_unit;
};
/* A static eh_flash_emu_mem over arrays (their sizes from sizeof). */
#define EH_FLASH_EMU_MEM(dur, cur, log, ops, bs, bc, unit)                                         \
	{                                                                                          \
		(dur), (cur), sizeof(dur), (log), sizeof(log), (ops),                              \
		    sizeof(ops) / sizeof((ops)[0]), (bs), (bc), (unit)                             \
	}

/* e over m's buffers and f as its device: over the durable image as it is
 * (a restart after a power cut), or zeroed first when blank. */
void eh_flash_emu_attach(struct eh_flash *f, struct eh_flash_emu *e,
			 const struct eh_flash_emu_mem *m, int blank);

/* Fill f as a device of block_count blocks of block_size bytes. */
void eh_flash_emu_init(struct eh_flash *f, struct eh_flash_emu *e, uint32_t block_size,
		       uint32_t block_count, uint32_t prog_unit);

/* Lose power when the n-th operation from now starts (1 = the next one). */
void eh_flash_emu_cut_after(struct eh_flash_emu *e, uint64_t n);

/* Build the image left by a power loss (now, or the cut that happened) in
 * mode, with a seeded choice of reordering/tearing, and power back on. */
void eh_flash_emu_powerloss(struct eh_flash_emu *e, enum eh_flash_emu_mode mode, uint64_t seed);

const char *eh_flash_emu_mode_name(enum eh_flash_emu_mode mode);

#endif /* EH_FLASH_EMU_H */
