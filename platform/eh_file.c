/* SPDX-License-Identifier: Apache-2.0 */
/* eh_file.c - POSIX file calls, errno translated here and nowhere else. */
#define _GNU_SOURCE
#include "eh_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static eh_err from_errno(int e)
{
	switch (e) {
	case ENOENT:
		return EH_ERR_NOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return EH_ERR_PERM;
	case ENOSPC:
	case EDQUOT:
		return EH_ERR_NOSPC;
	case EWOULDBLOCK:
		return EH_ERR_BUSY;
	case EINVAL:
		return EH_ERR_INVAL;
	default:
		return EH_ERR_IO;
	}
}

eh_err eh_file_open_rw(const char *path, int create, int *fd)
{
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
	int f = open(path, flags, 0600);
	if (f < 0)
		return from_errno(errno);
	*fd = f;
	return EH_OK;
}

eh_err eh_file_open_ro(const char *path, int *fd)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return from_errno(errno);
	*fd = f;
	return EH_OK;
}

void eh_file_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

eh_err eh_file_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (got)
				*got = done;
			return from_errno(errno);
		}
		if (r == 0) {
			if (got)
				*got = done;
			return EH_ERR_NOENT;
		}
		done += (size_t)r;
	}
	if (got)
		*got = done;
	return EH_OK;
}

eh_err eh_file_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return from_errno(errno);
		}
		done += (size_t)r;
	}
	return EH_OK;
}

eh_err eh_file_pwritev(int fd, const struct eh_file_iov *iov, unsigned n, uint64_t off)
{
	struct iovec v[8];
	unsigned i, first = 0;

	if (n > 8)
		return EH_ERR_INVAL;
	for (i = 0; i < n; i++) {
		v[i].iov_base = (void *)iov[i].base;
		v[i].iov_len = iov[i].len;
	}
	while (first < n) {
		ssize_t w = pwritev(fd, v + first, (int)(n - first), (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return from_errno(errno);
		}
		off += (uint64_t)w;
		/* A short write: skip what went, go on with the rest. */
		while (first < n && (size_t)w >= v[first].iov_len) {
			w -= (ssize_t)v[first].iov_len;
			first++;
		}
		if (first < n) {
			v[first].iov_base = (char *)v[first].iov_base + w;
			v[first].iov_len -= (size_t)w;
		}
	}
	return EH_OK;
}

eh_err eh_file_datasync(int fd)
{
	while (fdatasync(fd) != 0) {
		if (errno != EINTR)
			return from_errno(errno);
	}
	return EH_OK;
}

eh_err eh_file_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return from_errno(errno);
	*size = (uint64_t)st.st_size;
	return EH_OK;
}

eh_err eh_file_truncate(int fd, uint64_t size)
{
	while (ftruncate(fd, (off_t)size) != 0) {
		if (errno != EINTR)
			return from_errno(errno);
	}
	return EH_OK;
}

eh_err eh_file_allocate(int fd, uint64_t size)
{
	static const uint8_t zeros[4096];
	uint64_t off;
	eh_err rc;

	if ((rc = eh_file_truncate(fd, size)) != EH_OK)
		return rc;
	int e = posix_fallocate(fd, 0, (off_t)size);
	if (e == 0)
		return EH_OK;
	if (e != EOPNOTSUPP && e != EINVAL)
		return from_errno(e);
	/* No fallocate here: write the zeros (the truncate made them read as
	 * zeros, not allocated them). */
	for (off = 0; off < size; off += sizeof(zeros)) {
		size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		if ((rc = eh_file_pwrite(fd, zeros, n, off)) != EH_OK)
			return rc;
	}
	return EH_OK;
}

eh_err eh_file_map(int fd, size_t len, int writable, void **addr)
{
	void *p;

	if (len == 0)
		return EH_ERR_INVAL;
	p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return from_errno(errno);
	*addr = p;
	return EH_OK;
}

void eh_file_unmap(void *addr, size_t len)
{
	if (addr != NULL && len > 0)
		munmap(addr, len);
}

eh_err eh_file_lock(int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		return errno == EWOULDBLOCK ? EH_ERR_BUSY : from_errno(errno);
	return EH_OK;
}

/* Read fd to its end into buf (at most cap-1 bytes) and NUL-terminate it. */
static eh_err read_fd_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t got = 0;
	eh_err rc;

	for (;;) {
		if (got >= cap - 1) {
			char extra;
			ssize_t r = read(fd, &extra, 1);
			rc = (r == 0) ? EH_OK : EH_ERR_TOOBIG;
			break;
		}
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = from_errno(errno);
			break;
		}
		if (r == 0) {
			rc = EH_OK;
			break;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (len)
		*len = got;
	return rc;
}

eh_err eh_file_read_all(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = -1; /* set by a successful open; GCC 12 -O2 -g cannot see that */
	eh_err rc = eh_file_open_ro(path, &fd);
	if (rc != EH_OK)
		return rc;
	rc = read_fd_all(fd, buf, cap, len);
	close(fd);
	return rc;
}

eh_err eh_file_read_stdin(char *buf, size_t cap, size_t *len)
{
	return read_fd_all(STDIN_FILENO, buf, cap, len);
}

eh_err eh_file_rename(const char *from, const char *to)
{
	char dir[4096];
	int dfd;
	eh_err rc = EH_OK;

	if (snprintf(dir, sizeof(dir), "%s", to) >= (int)sizeof(dir))
		return EH_ERR_INVAL;
	if (rename(from, to) != 0)
		return from_errno(errno);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return from_errno(errno);
	if (fsync(dfd) != 0)
		rc = from_errno(errno);
	close(dfd);
	return rc;
}

eh_err eh_file_remove(const char *path)
{
	return unlink(path) == 0 ? EH_OK : from_errno(errno);
}

eh_err eh_file_replace(const char *path, const void *buf, size_t len)
{
	char tmp[4096];
	char dir[4096];
	int fd;
	eh_err rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return EH_ERR_INVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return from_errno(errno);
	rc = eh_file_pwrite(fd, buf, len, 0);
	if (rc == EH_OK && fsync(fd) != 0)
		rc = from_errno(errno);
	close(fd);
	if (rc != EH_OK)
		return rc;
	if (rename(tmp, path) != 0)
		return from_errno(errno);
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* best effort: the rename is durable on ext4/f2fs after this */
		close(dfd);
	}
	return EH_OK;
}
