/* SPDX-License-Identifier: Apache-2.0 */
/* eh_flash_file.c - the default block device: a preallocated file or a raw
 * partition, written with pwrite and made durable with fdatasync through
 * platform/eh_file. Created once by writing zeros so that later commits
 * never allocate blocks (no metadata journal traffic on the hot path). */
#include <string.h>

#include "eh_file.h"
#include "eh_flash.h"
#include "eh_log.h"

/* ==== Ops ==== */

static eh_err file_read(struct eh_flash *f, uint64_t off, void *buf, size_t len)
{
	struct eh_flash_file *st = f->state;
	eh_err rc = eh_file_pread(st->fd, buf, len, off, NULL);
	return rc == EH_ERR_NOENT ? EH_ERR_IO : rc;
}

static eh_err file_prog(struct eh_flash *f, uint64_t off, const void *buf, size_t len)
{
	struct eh_flash_file *st = f->state;
	return eh_file_pwrite(st->fd, buf, len, off);
}

static eh_err file_erase(struct eh_flash *f, uint64_t off, size_t len)
{
	(void)f;
	(void)off;
	(void)len;
	return EH_OK; /* files and eMMC need no erase: stale bytes fail their checks */
}

static eh_err file_sync(struct eh_flash *f)
{
	struct eh_flash_file *st = f->state;
	return eh_file_datasync(st->fd);
}

static void file_close(struct eh_flash *f)
{
	struct eh_flash_file *st = f->state;
	if (st != NULL && st->fd >= 0) {
		eh_file_close(st->fd);
		st->fd = -1;
	}
}

static const struct eh_flash_ops file_ops = {
    .read = file_read,
    .prog = file_prog,
    .erase = file_erase,
    .sync = file_sync,
    .close = file_close,
};

/* ==== Open ==== */

uint32_t eh_flash_file_default_block(uint64_t size)
{
	/* 512 KiB at least, so one segment holds a largest MQTT message
	 * (EH_MAX_MSG_BYTES, 256 KiB) with its framing; about 64 segments for
	 * large files (bounded mount reads); at least 4 blocks for small ones */
	uint64_t b = 512u * 1024u;
	while (b < size / 64 && b < 4u * 1024u * 1024u)
		b <<= 1;
	while (b > 64u * 1024u && size / b < 4)
		b >>= 1;
	return (uint32_t)b;
}

/* Fill a new file with zeros, 64 KiB per write, then sync it. */
static eh_err file_fill(int fd, uint64_t size)
{
	static uint8_t zeros[64 * 1024]; /* bss, not rodata: 64 KiB off the binary */
	uint64_t off = 0;
	eh_err rc = EH_OK;
	while (off < size && rc == EH_OK) {
		size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		rc = eh_file_pwrite(fd, zeros, n, off);
		off += n;
	}
	return rc == EH_OK ? eh_file_datasync(fd) : rc;
}

eh_err eh_flash_file_open(struct eh_flash *f, struct eh_flash_file *st, const char *path,
			  uint64_t size, uint32_t block_size, uint32_t prog_unit, int read_only)
{
	eh_err rc = EH_ERR_INVAL;
	uint64_t have = 0;
	int fd = -1;

	EH_ASSERT(f != NULL && st != NULL && path != NULL);
	memset(f, 0, sizeof(*f));
	st->fd = -1;
	if (prog_unit == 0)
		prog_unit = 512;
	if ((prog_unit & (prog_unit - 1)) != 0 || prog_unit < 64)
		return EH_ERR_INVAL;
	if (read_only)
		rc = eh_file_open_ro(path, &fd);
	else
		rc = eh_file_open_rw(path, size != 0, &fd);
	if (rc != EH_OK)
		return rc;
	if (!read_only && (rc = eh_file_lock(fd)) != EH_OK) {
		EH_LOG_ERR("queue", "%s: locked by another process", path);
		goto out;
	}
	if ((rc = eh_file_size(fd, &have)) != EH_OK)
		goto out;
	if (have == 0 && size != 0 && !read_only) {
		if ((rc = file_fill(fd, size)) != EH_OK)
			goto out;
		have = size;
	}
	if (block_size == 0)
		block_size = eh_flash_file_default_block(have);
	rc = EH_ERR_CORRUPT;
	if (block_size % prog_unit != 0 || have == 0 || have % block_size != 0 ||
	    have / block_size > UINT32_MAX) {
		EH_LOG_ERR("queue", "%s: size %llu is not a multiple of the block size %u", path,
			   (unsigned long long)have, block_size);
		goto out;
	}
	st->fd = fd;
	f->ops = &file_ops;
	f->state = st;
	f->name = "file";
	f->block_size = block_size;
	f->block_count = (uint32_t)(have / block_size);
	f->prog_unit = prog_unit;
	f->geometry_view = true;
	return EH_OK;
out:
	eh_file_close(fd);
	return rc;
}
