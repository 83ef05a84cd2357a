/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_mqtt.c - drives eh_mqtt against a real broker started by
 * tests/integration/test_mqtt.py. `selftest` needs no broker (bad configs,
 * a refused connection, close); `run PORT ...` acts as the daemon's ingest:
 * prints every message, makes it "durable" with a group commit every
 * --commit-ms, and reports the driver's figures when told to stop. */
#define _GNU_SOURCE /* syscall() */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_mqtt_paho.h"
#include "eh_mqtt_priv.h"
#include "eh_time.h"

static int failures;

/* The wall clock as this process sees it, moved by the test: a jump of the
 * real clock (NTP setting the time of a box without RTC) while a wait is
 * armed. This definition takes the place of libc's for the whole binary;
 * the kernel's own clocks are untouched. */
static volatile long wall_shift_s;

int clock_gettime(clockid_t id, struct timespec *ts)
{
	long rc = syscall(SYS_clock_gettime, id, ts);

	if (rc == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += wall_shift_s;
	return (int)rc;
}

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond);  \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

struct app {
	struct eh_loop loop;
	struct eh_mqtt mqtt;
	struct eh_mqtt_paho paho; /* the backend behind mqtt */
	struct eh_mqtt_msg *pending[EH_MQTT_MAX_WINDOW];
	unsigned npending;
	unsigned commit_ms;
	unsigned pause_at;
	unsigned pause_ms;
	unsigned long taken;
	unsigned long commits;
	int stop;
	char status_topic[128];
};

static void on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
		       const char *hmac, struct eh_mqtt_msg *m)
{
	struct app *a = ctx;

	printf("MSG %s %s %.*s\n", topic, hmac ? hmac : "-", (int)len, (const char *)payload);
	if (strcmp(topic, "t/ctl/stop") == 0)
		a->stop = 1;
	a->pending[a->npending++] = m; /* at most `window` are ever outstanding */
	a->taken++;
	if (a->pause_at != 0 && a->taken == a->pause_at) {
		printf("PAUSED\n");
		eh_mqtt_pause(&a->mqtt);
	}
}

static void on_connect(void *ctx, bool session_present)
{
	struct app *a = ctx;
	static const char online[] = "{\"state\":\"online\"}";

	printf("CONNECTED %d\n", session_present ? 1 : 0);
	fflush(stdout);
	if (eh_mqtt_publish(&a->mqtt, a->status_topic, online, strlen(online), 1, true) != EH_OK)
		printf("PUBLISH-FAILED\n");
}

static void on_disconnect(void *ctx)
{
	(void)ctx;
	printf("DISCONNECTED\n");
	fflush(stdout);
}

/* The group commit: what was printed is "durable" once flushed. */
static void commit_tick(struct eh_loop *l, void *arg)
{
	struct app *a = arg;
	unsigned i;

	fflush(stdout);
	for (i = 0; i < a->npending; i++)
		eh_mqtt_done(&a->mqtt, a->pending[i]);
	if (a->npending)
		a->commits++;
	a->npending = 0;
	eh_loop_after(l, a->commit_ms, commit_tick, a, NULL);
}

static void resume_tick(struct eh_loop *l, void *arg)
{
	struct app *a = arg;

	(void)l;
	printf("RESUMED\n");
	eh_mqtt_resume(&a->mqtt);
}

static void print_stats(struct eh_mqtt *m)
{
	struct eh_mqtt_stats s;

	eh_mqtt_get_stats(m, &s);
	printf("STATS received=%llu done=%llu window_max_us=%llu window_mean_us=%llu "
	       "undone_max=%u waited_us=%llu connects=%llu disconnects=%llu "
	       "connect_failures=%llu dropped_on_close=%llu version=%d\n",
	       (unsigned long long)s.received, (unsigned long long)s.done,
	       (unsigned long long)s.window_max_us,
	       (unsigned long long)(s.done ? s.window_sum_us / s.done : 0), s.undone_max,
	       (unsigned long long)s.waited_us, (unsigned long long)s.connects,
	       (unsigned long long)s.disconnects, (unsigned long long)s.connect_failures,
	       (unsigned long long)s.dropped_on_close, s.mqtt_version);
}

/* This test app releases a message only after its own commit, so it commits
 * at once when the library thread waits for a free slot. (The daemon
 * releases at stage time: the journal covers a kill, docs/DURABILITY.md.) */
static bool library_waits(struct eh_mqtt_paho *m)
{
	bool w;

	pthread_mutex_lock(&m->mu);
	w = m->waiting && !m->paused;
	pthread_mutex_unlock(&m->mu);
	return w;
}

/* Polling is the loop owner's job: the driver installs nothing. */
static void poll_mqtt(struct eh_loop *l, void *arg)
{
	(void)l;
	eh_mqtt_poll(arg);
}

static int run(int argc, char **argv)
{
	static struct app a;
	static const char *const subs[] = {"t/in/#", "t/config/#", "t/ctl/#"};
	char uri[64];
	struct eh_mqtt_config cfg = {0};
	struct eh_mqtt_handlers h = {.on_message = on_message,
				     .on_connect = on_connect,
				     .on_disconnect = on_disconnect,
				     .ctx = &a};
	unsigned timeout_s = 60;
	uint64_t until;
	int i;

	snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%s", argv[2]);
	snprintf(a.status_topic, sizeof(a.status_topic), "t/status");
	a.commit_ms = 20;
	a.pause_ms = 300;
	cfg.uri = uri;
	cfg.client_id = "edgehookd-test";
	cfg.keepalive_s = 5;
	cfg.will_topic = a.status_topic;
	cfg.subs = subs;
	cfg.nsubs = 3;
	cfg.reconnect_max_s = 2;
	for (i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--window") == 0)
			cfg.window = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--commit-ms") == 0)
			a.commit_ms = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--pause-at") == 0)
			a.pause_at = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--timeout-s") == 0)
			timeout_s = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--client-id") == 0)
			cfg.client_id = argv[i + 1];
		else if (strcmp(argv[i], "--version") == 0)
			cfg.mqtt_version = atoi(argv[i + 1]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("EH_TEST_DEBUG") != NULL)
		eh_log_set_level(EH_LOG_LEVEL_DBG);
	if (eh_loop_init(&a.loop, &eh_clock_system) != EH_OK)
		return 2;
	eh_mqtt_paho_init(&a.mqtt, &a.paho);
	eh_loop_on_wake(&a.loop, poll_mqtt, &a.mqtt);
	if (eh_mqtt_open(&a.mqtt, &cfg, &a.loop, &h) != EH_OK) {
		printf("OPEN-FAILED\n");
		return 2;
	}
	eh_loop_after(&a.loop, a.commit_ms, commit_tick, &a, NULL);
	until = eh_time_mono_ms() + (uint64_t)timeout_s * 1000u;
	while (!a.stop && eh_time_mono_ms() < until) {
		bool was_paused = a.paho.paused;

		eh_loop_run_once(&a.loop, 50);
		if (!was_paused && a.paho.paused)
			eh_loop_after(&a.loop, a.pause_ms, resume_tick, &a, NULL);
		if (library_waits(&a.paho))
			commit_tick(&a.loop, &a); /* commit now: the library waits for room */
	}
	/* The stop message itself is committed before closing. */
	for (unsigned k = 0; k < a.npending; k++)
		eh_mqtt_done(&a.mqtt, a.pending[k]);
	a.npending = 0;
	{
		static const char offline[] = "{\"state\":\"offline\"}";
		eh_mqtt_publish(&a.mqtt, a.status_topic, offline, strlen(offline), 1, true);
	}
	print_stats(&a.mqtt);
	printf("COMMITS %lu\n", a.commits);
	eh_mqtt_close(&a.mqtt);
	/* Messages handed during close would be committed here. */
	eh_loop_deinit(&a.loop);
	printf(a.stop ? "STOPPED\n" : "TIMEOUT\n");
	return a.stop ? 0 : 1;
}

static void noop_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
			 const char *hmac, struct eh_mqtt_msg *m)
{
	(void)ctx, (void)topic, (void)payload, (void)len, (void)hmac, (void)m;
}

/* The driver's timed waits (close) take their deadline and wait on the
 * same clock, and that clock is not the wall clock: a wall clock one hour
 * behind must not cut a 200 ms wait, one hour ahead must not stretch it. */
static void clock_jump(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	struct timespec ts;
	uint64_t t0, dt;

	eh_mqtt_cond_init(&cv);
	wall_shift_s = -3600;
	pthread_mutex_lock(&mu);
	t0 = eh_time_mono_ms();
	eh_mqtt_deadline_in(&ts, 200);
	while (pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		; /* spurious wake-ups */
	dt = eh_time_mono_ms() - t0;
	pthread_mutex_unlock(&mu);
	printf("clock: wall clock 1 h behind, a 200 ms wait took %llu ms\n",
	       (unsigned long long)dt);
	EXPECT(dt >= 190);
	if (dt >= 190) { /* else the wall clock rules the wait: this one would last an hour */
		wall_shift_s = 3600;
		pthread_mutex_lock(&mu);
		t0 = eh_time_mono_ms();
		eh_mqtt_deadline_in(&ts, 200);
		while (pthread_cond_timedwait(&cv, &mu, &ts) == 0)
			;
		dt = eh_time_mono_ms() - t0;
		pthread_mutex_unlock(&mu);
		printf("clock: wall clock 1 h ahead, a 200 ms wait took %llu ms\n",
		       (unsigned long long)dt);
		EXPECT(dt >= 190 && dt < 2000);
	}
	wall_shift_s = 0;
	pthread_cond_destroy(&cv);
}

/* No broker needed: config validation, a refused connection, close. */
static int selftest(void)
{
	static struct eh_loop loop;
	static struct eh_mqtt m;
	static struct eh_mqtt_paho paho;
	static const char *const subs[] = {"a/#"};
	static const int bad_qos[] = {3};
	struct eh_mqtt_handlers h = {.on_message = noop_message};
	struct eh_mqtt_config cfg = {0};
	struct eh_mqtt_stats st;
	uint64_t until;

	clock_jump();
	EXPECT(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	eh_mqtt_close(&m); /* zeroed, no backend yet: nothing happens */
	eh_mqtt_paho_init(&m, &paho);
	eh_loop_on_wake(&loop, poll_mqtt, &m);
	cfg.uri = "tcp://127.0.0.1:1";
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL); /* no client id */
	cfg.client_id = "x";
	cfg.subs = subs;
	cfg.nsubs = 1;
	cfg.subs_qos = bad_qos;
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL); /* qos 3 */
	cfg.subs_qos = NULL;
	cfg.nsubs = EH_MQTT_MAX_SUBS + 1;
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL);
	cfg.nsubs = 1;
	cfg.window = EH_MQTT_MAX_WINDOW + 1;
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL);
	cfg.window = 0;
	cfg.uri = "mqtts://127.0.0.1:1"; /* TLS needs a CA file */
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL);
	cfg.tls.ca_file = "/nonexistent/ca.pem";
	cfg.tls.cert_file = "/nonexistent/c.pem"; /* and a key with a certificate */
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_ERR_INVAL);
	memset(&cfg.tls, 0, sizeof(cfg.tls));
	cfg.uri = "bogus://x";
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) != EH_OK);
	/* Port 1 refuses: the driver retries by itself and counts failures. */
	cfg.uri = "tcp://127.0.0.1:1";
	cfg.reconnect_min_s = 1;
	EXPECT(eh_mqtt_open(&m, &cfg, &loop, &h) == EH_OK);
	EXPECT(eh_mqtt_publish(&m, "a/b", "x", 1, 1, false) == EH_ERR_CLOSED);
	until = eh_time_mono_ms() + 2500;
	while (eh_time_mono_ms() < until)
		eh_loop_run_once(&loop, 50);
	eh_mqtt_get_stats(&m, &st);
	EXPECT(st.connect_failures >= 2); /* the first try and at least one retry */
	EXPECT(!st.connected);
	eh_mqtt_close(&m);
	eh_mqtt_close(&m); /* idempotent */
	eh_loop_deinit(&loop);
	printf("selftest: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return run(argc, argv);
	if (argc < 2 || strcmp(argv[1], "selftest") == 0)
		return selftest();
	fprintf(stderr,
		"usage: %s selftest | run PORT [--window N] [--commit-ms MS] "
		"[--pause-at K] [--timeout-s S] [--client-id ID] [--version 4|5]\n",
		argv[0]);
	return 2;
}
