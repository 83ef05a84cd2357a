/* SPDX-License-Identifier: Apache-2.0 */
/* eh_file.h - file I/O for the storage and config layers: whole-buffer
 * pread/pwrite that retry on EINTR and short transfers, fdatasync, an
 * exclusive advisory lock, atomic replace, and bounded whole-file reads.
 * errno never escapes: results are eh_err. */
#ifndef EH_FILE_H
#define EH_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"

/* Open (creating with mode 0600 when create != 0) for read/write.
 * *fd is set on EH_OK. EH_ERR_NOENT, EH_ERR_PERM or EH_ERR_IO otherwise. */
eh_err eh_file_open_rw(const char *path, int create, int *fd);
eh_err eh_file_open_ro(const char *path, int *fd);
void eh_file_close(int fd);

/* Read/write exactly len bytes at off. A read past EOF is EH_ERR_NOENT
 * (the bytes that exist are left in buf; *got, if not NULL, says how many). */
eh_err eh_file_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got);
eh_err eh_file_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* Write the pieces one after the other, exactly, from off (pwritev). */
struct eh_file_iov {
	const void *base;
	size_t len;
};
eh_err eh_file_pwritev(int fd, const struct eh_file_iov *iov, unsigned n, uint64_t off);
eh_err eh_file_datasync(int fd);
eh_err eh_file_size(int fd, uint64_t *size);
/* Cut or extend the file to size bytes. */
eh_err eh_file_truncate(int fd, uint64_t size);

/* Give the file exactly size bytes, every one of them allocated on the
 * device (posix_fallocate; where the file system cannot, zeros are written),
 * so that stores into a mapping of it never find the device full. */
eh_err eh_file_allocate(int fd, uint64_t size);

/* Map len bytes of fd from offset 0, shared with the file: stores reach the
 * page cache at once and outlive the process (as a pwrite does; a power cut
 * is not covered without eh_file_datasync). writable 0: read only. */
eh_err eh_file_map(int fd, size_t len, int writable, void **addr);
void eh_file_unmap(void *addr, size_t len);

/* Take an exclusive, non-blocking flock(2). EH_ERR_BUSY when another open
 * file description holds it (another process: two daemons never share). */
eh_err eh_file_lock(int fd);

/* Read a whole file of at most cap-1 bytes into buf and NUL-terminate it.
 * EH_ERR_TOOBIG when larger. */
eh_err eh_file_read_all(const char *path, char *buf, size_t cap, size_t *len);
/* The same for standard input, read to its end (command-line tools' "-"). */
eh_err eh_file_read_stdin(char *buf, size_t cap, size_t *len);

/* Rename from to to (same directory), then fsync the directory so the new
 * name survives a power cut. */
eh_err eh_file_rename(const char *from, const char *to);

/* Remove path. EH_ERR_NOENT when it does not exist. */
eh_err eh_file_remove(const char *path);

/* Write buf to path atomically: path.tmp, fsync, rename, fsync of the dir. */
eh_err eh_file_replace(const char *path, const void *buf, size_t len);

#endif /* EH_FILE_H */
