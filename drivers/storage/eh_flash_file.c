/* SPDX-License-Identifier: Apache-2.0 */
/* eh_flash_file.c - the default block device: a preallocated file or a raw
 * partition, written with pwrite and made durable with fdatasync through
 * platform/eh_file. Created once by writing zeros so that later commits
 * never allocate blocks (no metadata journal traffic on the hot path); the
 * zeros go to a temporary file renamed into place only when whole. */
#include <stdio.h>
#include <string.h>

#include "eh_file.h"
#include "eh_flash.h"
#include "eh_log.h"
#include "eh_notify.h"
#include "eh_signal.h"

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

/* Fill a new file with zeros, 64 KiB per write, synced every
 * EH_FLASH_FILL_STEP bytes. After each step systemd is told to extend the
 * start timeout (a no-op outside systemd), so a large file on slow flash is
 * not killed half-way; a stop signal ends the fill (EH_ERR_CLOSED). */
static eh_err file_fill(int fd, uint64_t size)
{
	static uint8_t zeros[64 * 1024]; /* bss, not rodata: 64 KiB off the binary */
	uint64_t off = 0;
	eh_err rc = EH_OK;
	while (off < size && rc == EH_OK) {
		size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		if (eh_signal_stop_requested())
			return EH_ERR_CLOSED;
		rc = eh_file_pwrite(fd, zeros, n, off);
		off += n;
		if (rc == EH_OK && off % EH_FLASH_FILL_STEP == 0 && off < size) {
			char msg[128];
			rc = eh_file_datasync(fd);
			snprintf(
			    msg, sizeof(msg),
			    "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=creating the queue file: %llu of "
			    "%llu MiB",
			    (unsigned long long)EH_FLASH_FILL_EXTEND_US,
			    (unsigned long long)(off >> 20), (unsigned long long)(size >> 20));
			(void)eh_notify(msg);
		}
	}
	return rc == EH_OK ? eh_file_datasync(fd) : rc;
}

/* A temporary file left by a creation that was killed (power cut, start
 * timeout, SIGKILL) is removed; one still locked is being created by another
 * process (EH_ERR_BUSY). */
static eh_err drop_leftover(const char *tmp)
{
	int fd = -1;
	eh_err rc = eh_file_open_rw(tmp, 0, &fd);
	if (rc == EH_ERR_NOENT)
		return EH_OK;
	if (rc != EH_OK)
		return rc;
	rc = eh_file_lock(fd);
	if (rc == EH_OK) {
		EH_LOG_WRN("queue",
			   "%s: removing a partial queue file left by an interrupted "
			   "creation",
			   tmp);
		rc = eh_file_remove(tmp);
	} else if (rc == EH_ERR_BUSY) {
		EH_LOG_ERR("queue", "%s: another process is creating the queue file", tmp);
	}
	eh_file_close(fd);
	return rc;
}

/* Create path at size bytes of zeros, all or nothing: the zeros go to tmp
 * (locked: a second creator gets EH_ERR_BUSY), which is synced and renamed
 * over path, and the directory synced, only once whole. On any failure (no
 * space, a stop signal) tmp is removed, so path never exists partly
 * filled. *fd gets the new file, locked. */
static eh_err file_create(const char *path, const char *tmp, uint64_t size, int *fd)
{
	int t = -1;
	eh_err rc = eh_file_open_rw(tmp, 1, &t);
	if (rc != EH_OK)
		return rc;
	if ((rc = eh_file_lock(t)) != EH_OK) {
		eh_file_close(t);
		return rc;
	}
	EH_LOG_INF("queue", "creating %s: %llu bytes", path, (unsigned long long)size);
	if ((rc = eh_file_truncate(t, 0)) == EH_OK && (rc = file_fill(t, size)) == EH_OK)
		rc = eh_file_rename(tmp, path);
	if (rc != EH_OK) {
		EH_LOG_ERR("queue", "cannot create %s: %s; nothing left behind", path,
			   eh_err_str(rc));
		(void)eh_file_remove(tmp);
		eh_file_close(t);
		return rc;
	}
	*fd = t;
	return EH_OK;
}

eh_err eh_flash_file_open(struct eh_flash *f, struct eh_flash_file *st, const char *path,
			  uint64_t size, uint32_t block_size, uint32_t prog_unit, int read_only)
{
	eh_err rc = EH_ERR_INVAL;
	uint64_t have = 0;
	int fd = -1, locked = 0;
	char tmp[4096];

	EH_ASSERT(f != NULL && st != NULL && path != NULL);
	memset(f, 0, sizeof(*f));
	st->fd = -1;
	if (prog_unit == 0)
		prog_unit = 512;
	if ((prog_unit & (prog_unit - 1)) != 0 || prog_unit < 64)
		return EH_ERR_INVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return EH_ERR_INVAL;
	if (read_only) {
		rc = eh_file_open_ro(path, &fd);
	} else if ((rc = drop_leftover(tmp)) == EH_OK) {
		rc = eh_file_open_rw(path, 0, &fd);
		if (rc == EH_ERR_NOENT && size != 0 &&
		    (rc = file_create(path, tmp, size, &fd)) == EH_OK)
			locked = 1;
	}
	if (rc != EH_OK)
		return rc;
	if (!read_only && !locked && (rc = eh_file_lock(fd)) != EH_OK) {
		EH_LOG_ERR("queue", "%s: locked by another process", path);
		goto out;
	}
	if ((rc = eh_file_size(fd, &have)) != EH_OK)
		goto out;
	if (have == 0 && size != 0 && !read_only) {
		/* an empty file (created by hand, or by an older version cut
		 * before its first write) is replaced the same way; its lock is
		 * held until the new file is in place */
		int nfd = -1;
		if ((rc = file_create(path, tmp, size, &nfd)) != EH_OK)
			goto out;
		eh_file_close(fd);
		fd = nfd;
		have = size;
	} else if (size != 0 && have != size) {
		EH_LOG_WRN("queue",
			   "%s is %llu bytes, queue.size_bytes asks for %llu: the file is used as "
			   "it is, not resized (see docs/OPERATING.md, resizing the queue)",
			   path, (unsigned long long)have, (unsigned long long)size);
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
