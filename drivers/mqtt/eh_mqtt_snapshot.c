/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_snapshot.c - the topics of the retained messages under filters,
 * read once on a short-lived clean connection. The daemon's own session may
 * hold a backlog of input that the broker sends first; a fresh session has
 * none, so the retained messages and then our fence arrive at once. */
#include "eh_mqtt.h"
#include "eh_mqtt_lib.h"
#include "eh_mqtt_priv.h"

#include <MQTTAsync.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eh_assert.h"
#include "eh_log.h"
#include "eh_time.h"

#define SNAP_WAIT 0
#define SNAP_DONE 1
#define SNAP_FAILED 2

struct snap {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
	const struct eh_mqtt_lib *lib; /* Paho, loaded for the uri */
	MQTTAsync client;
	char *const *filters; /* Paho's type; never written */
	int nfilters;
	const char *fence_topic;
	char nonce[48];
	eh_mqtt_topic_fn fn;
	void *ctx;
	int version;
};

static void snap_end(struct snap *s, int state)
{
	pthread_mutex_lock(&s->mu);
	if (s->state == SNAP_WAIT)
		s->state = state;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ==== Paho's threads ==== */

static int snap_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct snap *s = ctx;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;

	if (topic_len == 0 || (size_t)topic_len == strlen(topic)) {
		if (strcmp(topic, s->fence_topic) == 0) {
			if (len == strlen(s->nonce) && memcmp(msg->payload, s->nonce, len) == 0)
				snap_end(s, SNAP_DONE);
		} else if (msg->retained && len > 0) {
			pthread_mutex_lock(&s->mu);
			if (s->state == SNAP_WAIT)
				s->fn(s->ctx, topic);
			pthread_mutex_unlock(&s->mu);
		}
	}
	s->lib->MQTTAsync_freeMessage(&msg);
	s->lib->MQTTAsync_free(topic);
	return 1;
}

static void snap_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	snap_end(ctx, SNAP_FAILED);
}

static void snap_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	snap_end(ctx, SNAP_FAILED);
}

/* Subscribed: every retained message is on its way; the fence follows. */
static void snap_publish_fence(struct snap *s)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	msg.payload = s->nonce;
	msg.payloadlen = (int)strlen(s->nonce);
	msg.qos = 1;
	ro.context = s;
	if (s->version == MQTTVERSION_5)
		ro.onFailure5 = snap_fail5;
	else
		ro.onFailure = snap_fail;
	if (s->lib->MQTTAsync_sendMessage(s->client, s->fence_topic, &msg, &ro) !=
	    MQTTASYNC_SUCCESS)
		snap_end(s, SNAP_FAILED);
}

static void snap_subscribed(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	snap_publish_fence(ctx);
}

static void snap_subscribed5(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	snap_publish_fence(ctx);
}

static void snap_subscribe(struct snap *s)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int qos[EH_MQTT_MAX_SUBS]; /* copied by the library */

	for (int i = 0; i < EH_MQTT_MAX_SUBS; i++)
		qos[i] = 1;

	ro.context = s;
	if (s->version == MQTTVERSION_5) {
		ro.onSuccess5 = snap_subscribed5;
		ro.onFailure5 = snap_fail5;
	} else {
		ro.onSuccess = snap_subscribed;
		ro.onFailure = snap_fail;
	}
	/* One SUBSCRIBE for all: its SUBACK means every filter's retained
	 * messages were queued before the fence we publish next. */
	if (s->lib->MQTTAsync_subscribeMany(s->client, s->nfilters, s->filters, qos, &ro) !=
	    MQTTASYNC_SUCCESS)
		snap_end(s, SNAP_FAILED);
}

static void snap_connected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	snap_subscribe(ctx);
}

static void snap_connected5(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	snap_subscribe(ctx);
}

/* ==== Caller ==== */

static void deadline_mono(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
	ts->tv_sec += ms / 1000u + ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/* One attempt with one protocol version: SNAP_DONE, or SNAP_FAILED with
 * *timed_out set when the broker never answered. */
static int snap_try(struct snap *s, const struct eh_mqtt_config *cfg, const char *client_id,
		    unsigned timeout_ms, bool *timed_out)
{
	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty maxpkt;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	struct timespec until;
	int state;

	s->state = SNAP_WAIT;
	cro.MQTTVersion = s->version;
	if (s->lib->MQTTAsync_createWithOptions(&s->client, cfg->uri, client_id,
						MQTTCLIENT_PERSISTENCE_NONE, NULL,
						&cro) != MQTTASYNC_SUCCESS)
		return SNAP_FAILED;
	if (s->lib->MQTTAsync_setCallbacks(s->client, s, NULL, snap_message, NULL) !=
	    MQTTASYNC_SUCCESS) {
		s->lib->MQTTAsync_destroy(&s->client);
		return SNAP_FAILED;
	}
	if (s->version == MQTTVERSION_5) {
		co = co5;
		co.cleanstart = 1;
		co.onSuccess5 = snap_connected5;
		co.onFailure5 = snap_fail5;
		/* Retained messages are read whole too: the same bound as the
		 * daemon's own connection (docs/MQTT.md). */
		maxpkt.identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE;
		maxpkt.value.integer4 =
		    cfg->max_packet_bytes ? cfg->max_packet_bytes : EH_MQTT_MAX_PACKET_BYTES;
		s->lib->MQTTProperties_add(&props, &maxpkt);
		co.connectProperties = &props;
	} else {
		co.cleansession = 1;
		co.MQTTVersion = MQTTVERSION_3_1_1;
		co.onSuccess = snap_connected;
		co.onFailure = snap_fail;
	}
	co.keepAliveInterval = (int)(cfg->keepalive_s ? cfg->keepalive_s : 30);
	co.connectTimeout = (int)(timeout_ms / 1000u ? timeout_ms / 1000u : 1);
	co.context = s;
	co.username = cfg->username;
	co.password = cfg->password;
	co.automaticReconnect = 0;
	if (eh_mqtt_uri_is_tls(cfg->uri)) {
		eh_mqtt_tls_ssl_options(&cfg->tls, &ssl); /* the same TLS as the main connection */
		co.ssl = &ssl;
	}
	pthread_mutex_lock(&s->mu);
	if (s->lib->MQTTAsync_connect(s->client, &co) !=
	    MQTTASYNC_SUCCESS) /* copies the properties */
		s->state = SNAP_FAILED;
	s->lib->MQTTProperties_free(&props);
	deadline_mono(&until, timeout_ms);
	while (s->state == SNAP_WAIT)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
			break;
	state = s->state;
	*timed_out = state == SNAP_WAIT;
	s->state = SNAP_FAILED; /* late callbacks change nothing now */
	pthread_mutex_unlock(&s->mu);
	d.timeout = 200;
	s->lib->MQTTAsync_disconnect(s->client, &d);
	s->lib->MQTTAsync_destroy(&s->client);
	return state == SNAP_DONE ? SNAP_DONE : SNAP_FAILED;
}

eh_err eh_mqtt_retained_snapshot(const struct eh_mqtt_config *cfg, const char *filter,
				 const char *fence_topic, unsigned timeout_ms, eh_mqtt_topic_fn fn,
				 void *ctx)
{
	EH_ASSERT(filter != NULL);
	return eh_mqtt_retained_snapshot_many(cfg, &filter, 1, fence_topic, timeout_ms, fn, ctx);
}

eh_err eh_mqtt_retained_snapshot_many(const struct eh_mqtt_config *cfg, const char *const *filters,
				      size_t nfilters, const char *fence_topic, unsigned timeout_ms,
				      eh_mqtt_topic_fn fn, void *ctx)
{
	pthread_condattr_t ca;
	struct snap s;
	char client_id[256];
	bool timed_out = false;
	int state;
	eh_err rc;

	EH_ASSERT(cfg != NULL && filters != NULL && fence_topic != NULL && fn != NULL);
	if (cfg->uri == NULL || cfg->client_id == NULL || nfilters == 0 ||
	    nfilters > EH_MQTT_MAX_SUBS)
		return EH_ERR_INVAL;
	memset(&s, 0, sizeof(s));
	if ((rc = eh_mqtt_lib_get(eh_mqtt_lib_for(cfg->uri), &s.lib)) != EH_OK)
		return rc;
	pthread_mutex_init(&s.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s.cv, &ca);
	pthread_condattr_destroy(&ca);
	s.filters = (char *const *)filters; /* Paho takes char *const *; it only reads */
	s.nfilters = (int)nfilters;
	s.fence_topic = fence_topic;
	s.fn = fn;
	s.ctx = ctx;
	snprintf(client_id, sizeof(client_id), "%s-sync", cfg->client_id);
	snprintf(s.nonce, sizeof(s.nonce), "sync-%llu", (unsigned long long)eh_time_mono_us());
	s.version = cfg->mqtt_version == 4 ? MQTTVERSION_3_1_1 : MQTTVERSION_5;
	state = snap_try(&s, cfg, client_id, timeout_ms, &timed_out);
	if (state != SNAP_DONE && !timed_out && s.version == MQTTVERSION_5 &&
	    cfg->mqtt_version == 0) {
		s.version = MQTTVERSION_3_1_1; /* a broker without v5 */
		state = snap_try(&s, cfg, client_id, timeout_ms, &timed_out);
	}
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	if (state == SNAP_DONE)
		return EH_OK;
	return timed_out ? EH_ERR_TIMEOUT : EH_ERR_NET;
}
