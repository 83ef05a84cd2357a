/* SPDX-License-Identifier: Apache-2.0 */
/* eh_flash.h - the block-device seam under the queue, shaped like littlefs'
 * config: read / prog / erase / sync over a fixed geometry. Backends: a
 * preallocated file or partition (eh_flash_file.c) and an emulated device
 * with power-cut injection for tests (eh_flash_emu.c). Callers use the inline
 * wrappers, which also keep the I/O counters, never the ops table. */
#ifndef EH_FLASH_H
#define EH_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_assert.h"
#include "eh_err.h"

struct eh_flash;

/* Every op returns EH_OK or an eh_err (EH_ERR_IO for a device failure).
 * Offsets are absolute bytes. prog offsets and lengths are multiples of
 * prog_unit; prog and erase may be lost until the next successful sync. */
struct eh_flash_ops {
	eh_err (*read)(struct eh_flash *f, uint64_t off, void *buf, size_t len);
	eh_err (*prog)(struct eh_flash *f, uint64_t off, const void *buf, size_t len);
	eh_err (*erase)(struct eh_flash *f, uint64_t off, size_t len); /* no-op on files */
	eh_err (*sync)(struct eh_flash *f);			       /* durability barrier */
	void (*close)(struct eh_flash *f);			       /* idempotent */
};

/* Caller allocates; a backend's open/init fills it. Ops are read-only
 * afterwards, and so is the geometry except through eh_flash_resplit (a
 * geometry_view device); the counters are kept by the wrappers below. */
struct eh_flash {
	const struct eh_flash_ops *ops;
	void *state;	      /* backend state, caller-provided, outlives the flash */
	const char *name;     /* "file", "emu": for logs */
	uint32_t block_size;  /* erase unit; the queue's segment size */
	uint32_t block_count; /* blocks on the device */
	uint32_t prog_unit;   /* write unit: offsets and lengths of prog are multiples */
	bool geometry_view;  /* blocks are only a view (a file): eh_flash_resplit may change them */
	uint64_t reads;	     /* read calls since open (each one a pread on a file) */
	uint64_t bytes_read; /* counters since open (figures: wear, mount cost) */
	uint64_t bytes_prog;
	uint64_t syncs;
};

static inline uint64_t eh_flash_size(const struct eh_flash *f)
{
	return (uint64_t)f->block_size * f->block_count;
}

static inline eh_err eh_flash_read(struct eh_flash *f, uint64_t off, void *buf, size_t len)
{
	EH_ASSERT(f != NULL && f->ops != NULL && off + len <= eh_flash_size(f));
	f->reads++;
	f->bytes_read += len;
	return f->ops->read(f, off, buf, len);
}

static inline eh_err eh_flash_prog(struct eh_flash *f, uint64_t off, const void *buf, size_t len)
{
	EH_ASSERT(f != NULL && f->ops != NULL && off + len <= eh_flash_size(f));
	EH_ASSERT(off % f->prog_unit == 0 && len % f->prog_unit == 0);
	f->bytes_prog += len;
	return f->ops->prog(f, off, buf, len);
}

static inline eh_err eh_flash_erase(struct eh_flash *f, uint64_t off, size_t len)
{
	EH_ASSERT(f != NULL && f->ops != NULL && off + len <= eh_flash_size(f));
	return f->ops->erase(f, off, len);
}

static inline eh_err eh_flash_sync(struct eh_flash *f)
{
	EH_ASSERT(f != NULL && f->ops != NULL);
	f->syncs++;
	return f->ops->sync(f);
}

/* Split a geometry_view device (a file) into block_count blocks of
 * block_size with writes in units of prog_unit, as a format found on it
 * says: the one change of geometry after open. The size must stay the same.
 * EH_ERR_INVAL on a real device, a different size or a zero field. */
static inline eh_err eh_flash_resplit(struct eh_flash *f, uint32_t block_size, uint32_t block_count,
				      uint32_t prog_unit)
{
	EH_ASSERT(f != NULL);
	if (!f->geometry_view || block_size == 0 || prog_unit == 0 ||
	    (uint64_t)block_size * block_count != eh_flash_size(f))
		return EH_ERR_INVAL;
	f->block_size = block_size;
	f->block_count = block_count;
	f->prog_unit = prog_unit;
	return EH_OK;
}

static inline void eh_flash_close(struct eh_flash *f)
{
	if (f != NULL && f->ops != NULL && f->ops->close != NULL)
		f->ops->close(f);
}

/* ==== File or partition backend (eh_flash_file.c) ==== */

#ifndef EH_FLASH_FILL_STEP
#define EH_FLASH_FILL_STEP (4u << 20) /* creation: bytes synced per start-timeout extension */
#endif
#define EH_FLASH_FILL_EXTEND_US 30000000u /* each extension: 30 s more */

struct eh_flash_file {
	int fd; /* -1 when closed */
};

/* Open the preallocated queue file at path. When it does not exist (or is
 * empty) and size is non-zero, it is created at exactly size bytes by
 * writing zeros once (never fallocate, never truncated afterwards) into
 * path.tmp, synced in steps of EH_FLASH_FILL_STEP (each step extends
 * systemd's start timeout by EH_FLASH_FILL_EXTEND_US), renamed to path,
 * directory synced: path never exists partly filled. A path.tmp left by a
 * killed creation is removed first. On failure (EH_ERR_NOSPC, EH_ERR_CLOSED
 * when a stop signal arrived during the fill) nothing is left. An existing
 * file keeps its size, with a warning when size differs; size 0 means
 * "whatever it is". block_size 0 picks a
 * default from the size (size/64 rounded up to a power of two within
 * 512 KiB .. 4 MiB, halved down to 64 KiB until there are 4 blocks); prog_unit 0 means 512. The
 * size must be a multiple of the block size (EH_ERR_CORRUPT otherwise: a truncated or grown file).
 * Unless read_only, an exclusive flock is taken: EH_ERR_BUSY when another
 * process has the queue open. EH_ERR_NOENT, EH_ERR_IO, EH_ERR_INVAL too. */
eh_err eh_flash_file_open(struct eh_flash *f, struct eh_flash_file *st, const char *path,
			  uint64_t size, uint32_t block_size, uint32_t prog_unit, int read_only);

/* The default block size for a device of size bytes (see above). */
uint32_t eh_flash_file_default_block(uint64_t size);

#endif /* EH_FLASH_H */
