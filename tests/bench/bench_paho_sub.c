/* SPDX-License-Identifier: Apache-2.0 */
/* bench_paho_sub.c - the floor that the MQTT library sets: a bare Paho
 * MQTTAsync subscriber with a persistent session (clean session off) that
 * subscribes at QoS 1 and discards every message (frees it, returns 1 from
 * messageArrived). It stops after COUNT messages and prints one line:
 *   msgs=N wall_s=S cpu_s=C cpu_us_per_msg=U msgs_per_s=R
 * where the CPU time is the whole process's (every Paho thread, user and
 * system) from start to the last message, by getrusage(RUSAGE_SELF).
 * COUNT 0 only creates the session (connect, subscribe, disconnect), so a
 * backlog can be queued for it while it is away.
 * Usage: bench_paho_sub URI CLIENT_ID TOPIC COUNT */
#define _GNU_SOURCE
#include <MQTTAsync.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct sub {
	MQTTAsync client;
	const char *topic;
	long want;
	long got;
	int failed;
	int subscribed;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void wake(struct sub *s)
{
	pthread_mutex_lock(&s->mu);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct sub *s = ctx;

	(void)topic_len;
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	/* Only this thread writes `got`; the main thread reads it under the lock. */
	pthread_mutex_lock(&s->mu);
	s->got++;
	if (s->got >= s->want)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 1;
}

static void on_lost(void *ctx, char *cause)
{
	struct sub *s = ctx;

	fprintf(stderr, "bench_paho_sub: connection lost: %s\n", cause ? cause : "?");
	pthread_mutex_lock(&s->mu);
	s->failed = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void on_fail(void *ctx, MQTTAsync_failureData *f)
{
	struct sub *s = ctx;

	fprintf(stderr, "bench_paho_sub: failed: %d %s\n", f ? f->code : 0,
		f && f->message ? f->message : "");
	pthread_mutex_lock(&s->mu);
	s->failed = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *d)
{
	struct sub *s = ctx;

	(void)d;
	pthread_mutex_lock(&s->mu);
	s->subscribed = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void on_connected(void *ctx, MQTTAsync_successData *d)
{
	struct sub *s = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)d;
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_fail;
	ro.context = s;
	if (MQTTAsync_subscribe(s->client, s->topic, 1, &ro) != MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&s->mu);
		s->failed = 1;
		pthread_mutex_unlock(&s->mu);
		wake(s);
	}
}

int main(int argc, char **argv)
{
	struct sub s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_disconnectOptions dop = MQTTAsync_disconnectOptions_initializer;
	double t0, c0, wall, cpu;
	long got;
	int rc = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_paho_sub URI CLIENT_ID TOPIC COUNT\n");
		return 2;
	}
	s.topic = argv[3];
	s.want = strtol(argv[4], NULL, 10);
	t0 = now_s();
	c0 = cpu_s();
	if (MQTTAsync_create(&s.client, argv[1], argv[2], MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
	    MQTTASYNC_SUCCESS) {
		fprintf(stderr, "bench_paho_sub: create failed\n");
		return 1;
	}
	MQTTAsync_setCallbacks(s.client, &s, on_lost, on_message, NULL);
	co.keepAliveInterval = 30;
	co.cleansession = 0;
	co.onSuccess = on_connected;
	co.onFailure = on_fail;
	co.context = &s;
	if (MQTTAsync_connect(s.client, &co) != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "bench_paho_sub: connect failed\n");
		MQTTAsync_destroy(&s.client);
		return 1;
	}
	pthread_mutex_lock(&s.mu);
	while (!s.failed && !(s.subscribed && s.got >= s.want))
		pthread_cond_wait(&s.cv, &s.mu);
	rc = s.failed;
	got = s.got;
	pthread_mutex_unlock(&s.mu);
	wall = now_s() - t0;
	cpu = cpu_s() - c0;
	dop.timeout = 2000;
	MQTTAsync_disconnect(s.client, &dop);
	MQTTAsync_destroy(&s.client);
	if (rc)
		return 1;
	if (s.want > 0)
		printf("msgs=%ld wall_s=%.3f cpu_s=%.3f cpu_us_per_msg=%.2f msgs_per_s=%.0f\n", got,
		       wall, cpu, cpu * 1e6 / (double)got, (double)got / wall);
	return 0;
}
