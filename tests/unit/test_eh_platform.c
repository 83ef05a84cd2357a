/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_platform.c - the OS seam: loop, timers, wake-up, files, errs, log. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_errs.h"
#include "eh_file.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_notify.h"
#include "eh_sock.h"
#include "eh_time.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ==== Timers ==== */

struct fired {
	int order[8];
	int n;
};

static void on_timer(struct eh_loop *l, void *arg)
{
	(void)l;
	struct fired *f = arg;
	(void)f;
}

static struct fired g_fired;
static void t1(struct eh_loop *l, void *a)
{
	(void)l;
	g_fired.order[g_fired.n++] = (int)(intptr_t)a;
}

EH_TEST(timers_fire_in_deadline_order_with_fake_clock)
{
	struct eh_clock clk;
	struct eh_clock_fake fake = {1000, 0};
	struct eh_loop l;
	uint32_t id2;
	eh_clock_fake_init(&clk, &fake);
	REQUIRE(eh_loop_init(&l, &clk) == EH_OK);
	g_fired.n = 0;
	CHECK(eh_loop_after(&l, 300, t1, (void *)3, NULL) == EH_OK);
	CHECK(eh_loop_after(&l, 100, t1, (void *)1, NULL) == EH_OK);
	CHECK(eh_loop_after(&l, 200, t1, (void *)2, &id2) == EH_OK);
	eh_loop_cancel(&l, id2);
	fake.mono_ms = 1099;
	eh_loop_run_once(&l, 0);
	CHECK_EQ(g_fired.n, 0);
	fake.mono_ms = 1100;
	eh_loop_run_once(&l, 0);
	CHECK_EQ(g_fired.n, 1);
	fake.mono_ms = 5000;
	eh_loop_run_once(&l, 0);
	CHECK_EQ(g_fired.n, 2);
	CHECK_EQ(g_fired.order[0], 1);
	CHECK_EQ(g_fired.order[1], 3);
	eh_loop_deinit(&l);
	(void)on_timer;
}

EH_TEST(timer_table_full_is_nospc)
{
	struct eh_loop l;
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	for (int i = 0; i < EH_LOOP_MAX_TIMERS; i++)
		CHECK(eh_loop_after(&l, 1000, t1, NULL, NULL) == EH_OK);
	CHECK(eh_loop_after(&l, 1000, t1, NULL, NULL) == EH_ERR_NOSPC);
	eh_loop_deinit(&l);
}

/* ==== Wake-up from another thread ==== */

static int g_woken;
static void on_wake(struct eh_loop *l, void *arg)
{
	(void)arg;
	g_woken++;
	eh_loop_stop(l);
}

static void *waker(void *arg)
{
	usleep(20000);
	eh_loop_wake(arg);
	return NULL;
}

EH_TEST(wake_from_thread_runs_callback_in_loop)
{
	struct eh_loop l;
	pthread_t th;
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	eh_loop_on_wake(&l, on_wake, NULL);
	g_woken = 0;
	pthread_create(&th, NULL, waker, &l);
	uint64_t t0 = eh_time_mono_ms();
	eh_loop_run(&l);
	pthread_join(th, NULL);
	CHECK_EQ(g_woken, 1);
	CHECK(eh_time_mono_ms() - t0 < 5000);
	eh_loop_deinit(&l);
}

/* ==== A burst of wakes ==== */

static int g_wakes;
static void count_wake(struct eh_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	g_wakes++;
}

EH_TEST(wakes_while_busy_cost_no_eventfd_write)
{
	struct eh_loop l;
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	eh_loop_on_wake(&l, count_wake, NULL);
	g_wakes = 0;
	/* the loop is not waiting: 1,000 wakes set a flag, nothing more */
	for (int i = 0; i < 1000; i++)
		eh_loop_wake(&l);
	CHECK_EQ(atomic_load(&l.wake_writes), 0);
	uint64_t t0 = eh_time_mono_ms();
	CHECK(eh_loop_run_once(&l, 5000) == EH_OK); /* does not sleep: a wake is pending */
	CHECK(eh_time_mono_ms() - t0 < 1000);
	CHECK_EQ(g_wakes, 1);
	CHECK_EQ(l.wake_reads, 0);
	CHECK(eh_loop_run_once(&l, 0) == EH_OK);
	CHECK_EQ(g_wakes, 1); /* handed over once */
	eh_loop_deinit(&l);
}

struct burst {
	struct eh_loop *l;
	int n;
};

static void *burst_waker(void *arg)
{
	struct burst *b = arg;
	while (!atomic_load(&b->l->sleeping))
		usleep(1000);
	usleep(20000); /* inside poll by now */
	for (int i = 0; i < b->n; i++)
		eh_loop_wake(b->l);
	return NULL;
}

EH_TEST(burst_of_wakes_is_one_eventfd_write_and_one_read)
{
	struct eh_loop l;
	struct burst b = {&l, 1000};
	pthread_t th;
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	eh_loop_on_wake(&l, count_wake, NULL);
	g_wakes = 0;
	pthread_create(&th, NULL, burst_waker, &b);
	uint64_t t0 = eh_time_mono_ms();
	CHECK(eh_loop_run_once(&l, 5000) == EH_OK);
	pthread_join(th, NULL);
	CHECK(eh_time_mono_ms() - t0 < 4000); /* woken, not timed out */
	CHECK_EQ(eh_loop_run_once(&l, 0), EH_OK);
	printf("  burst of %d wakes: %llu eventfd writes, %llu reads, %d on_wake calls\n", b.n,
	       (unsigned long long)atomic_load(&l.wake_writes), (unsigned long long)l.wake_reads,
	       g_wakes);
	CHECK_EQ(atomic_load(&l.wake_writes), 1);
	CHECK_EQ(l.wake_reads, 1);
	CHECK(g_wakes >= 1 && g_wakes <= 2);
	eh_loop_deinit(&l);
}

/* Wakes racing the loop's way into poll are never lost: each piece of
 * work published before a wake is seen by an on_wake soon after. */
static atomic_int g_produced;
static int g_consumed;
static void take_work(struct eh_loop *l, void *arg)
{
	(void)l;
	(void)arg;
	g_consumed = atomic_load(&g_produced);
}

static void *racing_waker(void *arg)
{
	for (int i = 0; i < 20000; i++) {
		atomic_fetch_add(&g_produced, 1);
		eh_loop_wake(arg);
		if (i % 64 == 0)
			usleep(50);
	}
	return NULL;
}

EH_TEST(racing_wakes_are_never_lost)
{
	struct eh_loop l;
	pthread_t th;
	int slow = 0;
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	eh_loop_on_wake(&l, take_work, NULL);
	atomic_store(&g_produced, 0);
	g_consumed = 0;
	pthread_create(&th, NULL, racing_waker, &l);
	while (g_consumed < 20000) {
		uint64_t t0 = eh_time_mono_ms();
		CHECK(eh_loop_run_once(&l, 3000) == EH_OK);
		if (eh_time_mono_ms() - t0 >= 3000)
			slow++; /* slept through work: a lost wake */
		if (slow > 2)
			break;
	}
	pthread_join(th, NULL);
	CHECK_EQ(slow, 0);
	CHECK_EQ(g_consumed, 20000);
	printf("  20000 racing wakes: %llu eventfd writes, %llu reads\n",
	       (unsigned long long)atomic_load(&l.wake_writes), (unsigned long long)l.wake_reads);
	eh_loop_deinit(&l);
}

/* ==== Fd watches ==== */

static int g_read_bytes;
static void on_readable(struct eh_loop *l, int fd, unsigned re, void *arg)
{
	char buf[16];
	(void)arg;
	if (re & EH_LOOP_IN) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r > 0)
			g_read_bytes += (int)r;
	}
	eh_loop_unwatch(l, fd);
}

EH_TEST(fd_watch_reports_readable)
{
	struct eh_loop l;
	int p[2];
	REQUIRE(pipe(p) == 0);
	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	g_read_bytes = 0;
	CHECK(eh_loop_watch(&l, p[0], EH_LOOP_IN, on_readable, NULL) == EH_OK);
	CHECK(write(p[1], "abc", 3) == 3);
	eh_loop_run_once(&l, 1000);
	CHECK_EQ(g_read_bytes, 3);
	close(p[0]);
	close(p[1]);
	eh_loop_deinit(&l);
}

/* ==== Files ==== */

EH_TEST(file_roundtrip_lock_and_replace)
{
	char path[] = "/tmp/eh_platform_XXXXXX";
	int tmpfd = mkstemp(path);
	int fd, fd2;
	char buf[64];
	size_t got = 0;
	uint64_t size = 0;
	REQUIRE(tmpfd >= 0);
	close(tmpfd);
	REQUIRE(eh_file_open_rw(path, 1, &fd) == EH_OK);
	CHECK(eh_file_pwrite(fd, "hello", 5, 10) == EH_OK);
	CHECK(eh_file_datasync(fd) == EH_OK);
	CHECK(eh_file_size(fd, &size) == EH_OK);
	CHECK_EQ(size, 15);
	CHECK(eh_file_pread(fd, buf, 5, 10, NULL) == EH_OK);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(eh_file_pread(fd, buf, 10, 10, &got) == EH_ERR_NOENT);
	CHECK_EQ(got, 5);
	CHECK(eh_file_lock(fd) == EH_OK);
	REQUIRE(eh_file_open_rw(path, 0, &fd2) == EH_OK);
	CHECK(eh_file_lock(fd2) == EH_ERR_BUSY);
	eh_file_close(fd2);
	eh_file_close(fd);
	CHECK(eh_file_replace(path, "new", 3) == EH_OK);
	CHECK(eh_file_read_all(path, buf, sizeof(buf), &got) == EH_OK);
	CHECK_STR(buf, "new");
	CHECK(eh_file_read_all(path, buf, 3, &got) == EH_ERR_TOOBIG);
	CHECK(eh_file_read_all("/nonexistent/x", buf, sizeof(buf), &got) == EH_ERR_NOENT);
	unlink(path);
}

/* ==== Error lists ==== */

EH_TEST(errs_name_paths_and_bound)
{
	struct eh_errs e;
	char p[64], q[64];
	eh_errs_init(&e);
	eh_path_key(p, sizeof(p), "filters", "events");
	eh_path_key(q, sizeof(q), p, "camera_in");
	eh_path_idx(p, sizeof(p), q, 2);
	eh_errs_add(&e, p, "expected integer");
	CHECK_STR(e.msg[0], "filters.events.camera_in[2]: expected integer");
	for (int i = 0; i < EH_ERRS_MAX + 3; i++)
		eh_errs_add(&e, "", "x%d", i);
	CHECK_EQ(e.n, EH_ERRS_MAX);
	CHECK_EQ(eh_errs_count(&e), EH_ERRS_MAX + 4);
}

/* ==== Log ==== */

static char g_line[600];
static int g_lines;
static void sink(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(g_line, sizeof(g_line), "%s", line);
	g_lines++;
}

EH_TEST(log_level_gate_and_seed_shape)
{
	eh_log_set_sink(sink, NULL);
	eh_log_set_level(EH_LOG_LEVEL_WRN);
	g_lines = 0;
	EH_LOG_INF("x", "hidden");
	CHECK_EQ(g_lines, 0);
	EH_LOG_WRN("WebhooksManager:2", "<queue: %2u> hi\nthere", 1u);
	CHECK_EQ(g_lines, 1);
	CHECK_STR(g_line, "WARNING  [WebhooksManager:2] <queue:  1> hi there");
	CHECK_EQ(eh_log_level_parse("debug"), EH_LOG_LEVEL_DBG);
	CHECK_EQ(eh_log_level_parse("loud"), -1);
	eh_log_set_sink(NULL, NULL);
	eh_log_set_level(EH_LOG_LEVEL_INF);
}

/* ==== sd_notify ==== */

EH_TEST(notify_sends_datagram_to_notify_socket)
{
	char path[108];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[64];
	snprintf(path, sizeof(path), "/tmp/eh_notify_%d", (int)getpid());
	unlink(path);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	REQUIRE(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK(eh_notify("READY=1") == EH_OK);
	ssize_t r = recv(s, buf, sizeof(buf) - 1, 0);
	REQUIRE(r > 0);
	buf[r] = '\0';
	CHECK_STR(buf, "READY=1");
	unsetenv("NOTIFY_SOCKET");
	CHECK(eh_notify("READY=1") == EH_OK);
	setenv("WATCHDOG_USEC", "10000000", 1);
	CHECK_EQ(eh_notify_watchdog_ms(), 5000);
	unsetenv("WATCHDOG_USEC");
	CHECK_EQ(eh_notify_watchdog_ms(), 0);
	close(s);
	unlink(path);
}

/* ==== Sockets ==== */

EH_TEST(sock_refused_and_ip_literal)
{
	int fd = -1;
	uint8_t ip[16];
	size_t n;
	/* Port 1 on loopback: nobody listens; refused now or on completion. */
	eh_err rc = eh_sock_connect("127.0.0.1", 1, &fd);
	if (rc == EH_ERR_AGAIN) {
		usleep(50000);
		rc = eh_sock_connect_result(fd);
	}
	CHECK(rc == EH_ERR_NET);
	eh_sock_close(fd);
	CHECK(eh_sock_ip_literal("127.0.0.1", ip, &n) && n == 4);
	CHECK(eh_sock_ip_literal("::1", ip, &n) && n == 16);
	CHECK(!eh_sock_ip_literal("localhost", ip, &n));
}
