/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_flash_create.c - creating the queue file is all or nothing: a
 * fill cut by a full filesystem (a real tiny tmpfs, when run as root) or by
 * a stop signal leaves no file behind and the next start with room works;
 * a temporary file left by a killed creation is removed; systemd's start
 * timeout is extended while a large file is filled; a configured size that
 * differs from the file is reported and the file used as it is. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eh_file.h"
#include "eh_flash.h"
#include "eh_log.h"
#include "eh_signal.h"

static char dir[128], path[256], tmp[256];
static char logged[4096];
static int warnings;

static void capture(int level, const char *line, void *arg)
{
	(void)arg;
	if (level == EH_LOG_LEVEL_WRN) {
		warnings++;
		snprintf(logged, sizeof(logged), "%s", line);
	}
}

static void paths(const char *tag)
{
	snprintf(dir, sizeof(dir), "/tmp/eh_fcreate_%s_%ld", tag, (long)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/queue.ring", dir);
	snprintf(tmp, sizeof(tmp), "%s/queue.ring.tmp", dir);
	unlink(path);
	unlink(tmp);
}

static int entries(const char *d)
{
	int n = 0;
	DIR *dp = opendir(d);
	struct dirent *de;
	while (dp != NULL && (de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	if (dp != NULL)
		closedir(dp);
	return n;
}

static long long file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

EH_TEST(a_fill_cut_by_a_full_filesystem_leaves_nothing_and_the_next_start_works)
{
	struct eh_flash f;
	struct eh_flash_file st;
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: mounting a tiny tmpfs needs root\n");
		return;
	}
	paths("nospc");
	REQUIRE(mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") == 0);
	eh_log_set_sink(capture, NULL);
	CHECK(eh_flash_file_open(&f, &st, path, 4u << 20, 0, 0, 0) == EH_ERR_NOSPC);
	CHECK_EQ(entries(dir), 0); /* neither the queue file nor its temporary */
	/* the next start, with room */
	CHECK(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=8m,mode=0700") == 0);
	if (eh_flash_file_open(&f, &st, path, 4u << 20, 0, 0, 0) == EH_OK) {
		CHECK_EQ(file_size(path), 4ll << 20);
		CHECK_EQ(f.block_count, 8u);
		CHECK_EQ(file_size(tmp), -1);
		eh_flash_close(&f);
	} else {
		CHECK(!"the next start with room failed");
	}
	eh_log_set_sink(NULL, NULL);
	unlink(path);
	unlink(tmp);
	CHECK(umount(dir) == 0);
	rmdir(dir);
}

EH_TEST(a_leftover_from_a_killed_creation_is_removed)
{
	struct eh_flash f;
	struct eh_flash_file st;
	paths("leftover");
	int fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "partial", 7) == 7);
	close(fd);
	eh_log_set_sink(capture, NULL);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1u << 20, 0, 0, 0) == EH_OK);
	CHECK_EQ(file_size(tmp), -1);
	CHECK_EQ(file_size(path), 1ll << 20);
	eh_flash_close(&f);
	/* also when the queue file itself is there: the leftover goes */
	fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1u << 20, 0, 0, 0) == EH_OK);
	CHECK_EQ(file_size(tmp), -1);
	eh_flash_close(&f);
	/* one still locked belongs to a creation under way elsewhere */
	int other = -1;
	REQUIRE(eh_file_open_rw(tmp, 1, &other) == EH_OK);
	REQUIRE(eh_file_lock(other) == EH_OK);
	CHECK(eh_flash_file_open(&f, &st, path, 1u << 20, 0, 0, 0) == EH_ERR_BUSY);
	CHECK(file_size(tmp) == 0);
	eh_file_close(other);
	eh_log_set_sink(NULL, NULL);
	unlink(path);
	unlink(tmp);
	rmdir(dir);
}

EH_TEST(a_stop_signal_during_the_fill_leaves_nothing)
{
	int status = 0;
	paths("stop");
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* as edgehookd does before creating its queue file */
		struct eh_flash f;
		struct eh_flash_file st;
		eh_log_set_sink(capture, NULL);
		eh_signal_install(NULL);
		raise(SIGTERM);
		_exit(eh_flash_file_open(&f, &st, path, 16u << 20, 0, 0, 0) == EH_ERR_CLOSED ? 0
											     : 1);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(entries(dir), 0);
	rmdir(dir);
}

EH_TEST(the_start_timeout_is_extended_while_a_large_file_is_filled)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct sockaddr_un sa;
	char sock[64], msg[512];
	int extends = 0;
	paths("notify");
	snprintf(sock, sizeof(sock), "/tmp/eh_fcreate_%ld.sock", (long)getpid());
	unlink(sock);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	REQUIRE(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	REQUIRE(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setenv("NOTIFY_SOCKET", sock, 1);
	eh_log_set_sink(capture, NULL);
	REQUIRE(eh_flash_file_open(&f, &st, path, 3 * EH_FLASH_FILL_STEP, 0, 0, 0) == EH_OK);
	unsetenv("NOTIFY_SOCKET");
	for (;;) {
		ssize_t n = recv(s, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			break;
		msg[n] = 0;
		extends += strstr(msg, "EXTEND_TIMEOUT_USEC=30000000\n") == msg;
	}
	CHECK_EQ(extends, 2); /* after each step but the last */
	close(s);
	eh_flash_close(&f);
	eh_log_set_sink(NULL, NULL);
	unlink(sock);
	unlink(path);
	rmdir(dir);
}

EH_TEST(a_configured_size_that_differs_is_reported_and_the_file_kept)
{
	struct eh_flash f;
	struct eh_flash_file st;
	paths("resize");
	eh_log_set_sink(capture, NULL);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1u << 20, 0, 0, 0) == EH_OK);
	eh_flash_close(&f);
	warnings = 0;
	REQUIRE(eh_flash_file_open(&f, &st, path, 2u << 20, 0, 0, 0) == EH_OK);
	CHECK_EQ(warnings, 1);
	CHECK(strstr(logged, "1048576") != NULL && strstr(logged, "2097152") != NULL);
	CHECK(strstr(logged, "WARNING") != NULL);
	CHECK_EQ(file_size(path), 1ll << 20);
	CHECK_EQ(f.block_count, 4u);
	eh_flash_close(&f);
	/* the same size, or none given: nothing to say */
	warnings = 0;
	REQUIRE(eh_flash_file_open(&f, &st, path, 1u << 20, 0, 0, 0) == EH_OK);
	eh_flash_close(&f);
	REQUIRE(eh_flash_file_open(&f, &st, path, 0, 0, 0, 1) == EH_OK);
	eh_flash_close(&f);
	CHECK_EQ(warnings, 0);
	eh_log_set_sink(NULL, NULL);
	unlink(path);
	rmdir(dir);
}
