/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_ctl.c - the command-line tool's MQTT client over Paho MQTTAsync:
 * every call starts one Paho operation and waits for its callback with a
 * deadline. Messages wait in a small ring of Paho's own messages; when the
 * ring is full the receive thread waits, so the broker holds the rest. */
#include "eh_mqtt_ctl.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "eh_mqtt_lib.h"
#include "eh_mqtt_priv.h"

#define USER_PROP_HMAC "hmac-sha256"
#define RING EH_MQTT_CTL_RING

static void op_end(struct eh_mqtt_ctl *c, int state, int code)
{
	pthread_mutex_lock(&c->mu);
	c->op_state = state;
	c->op_code = code;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_ok5(void *ctx, MQTTAsync_successData5 *d)
{
	struct eh_mqtt_ctl *c = ctx;

	/* A SUBACK or PUBACK with a failure reason comes here too (one topic
	 * per subscribe: its reason is reasonCode). */
	if (d != NULL && d->reasonCode >= 0x80)
		op_end(c, -1, d->reasonCode);
	else
		op_end(c, 1, 0);
}

static void on_fail5(void *ctx, MQTTAsync_failureData5 *d)
{
	struct eh_mqtt_ctl *c = ctx;

	op_end(c, -1, d == NULL ? -1 : (d->reasonCode != 0 ? (int)d->reasonCode : d->code));
}

static void on_lost(void *ctx, char *cause)
{
	struct eh_mqtt_ctl *c = ctx;

	(void)cause;
	pthread_mutex_lock(&c->mu);
	c->lost = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct eh_mqtt_ctl *c = ctx;

	(void)topic_len;
	pthread_mutex_lock(&c->mu);
	while (c->count == RING && !c->closing)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->closing) {
		pthread_mutex_unlock(&c->mu);
		c->lib->MQTTAsync_freeMessage(&msg);
		c->lib->MQTTAsync_free(topic);
		return 1;
	}
	c->ring[(c->head + c->count) % RING].msg = msg;
	c->ring[(c->head + c->count) % RING].topic = topic;
	c->count++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 1;
}

/* Wait for the operation started last; EH_OK when it succeeded. */
static eh_err op_wait(struct eh_mqtt_ctl *c, unsigned timeout_ms, int *code)
{
	struct timespec ts;
	int st;

	eh_mqtt_deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&c->mu);
	while (c->op_state == 0 && !c->lost)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
			break;
	st = c->op_state;
	if (code != NULL)
		*code = c->op_code;
	pthread_mutex_unlock(&c->mu);
	if (st == 1)
		return EH_OK;
	if (st == -1)
		return EH_ERR_PROTO;
	return c->lost ? EH_ERR_CLOSED : EH_ERR_TIMEOUT;
}

static void op_start(struct eh_mqtt_ctl *c)
{
	pthread_mutex_lock(&c->mu);
	c->op_state = 0;
	c->op_code = 0;
	pthread_mutex_unlock(&c->mu);
}

eh_err eh_mqtt_ctl_open(struct eh_mqtt_ctl *c, const struct eh_mqtt_ctl_config *cfg,
			unsigned timeout_ms)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions opt = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	int rc, code = 0;
	eh_err err;

	if (!c->sync_ready) {
		pthread_mutex_init(&c->mu, NULL);
		eh_mqtt_cond_init(&c->cv);
		c->sync_ready = true;
	}
	if ((err = eh_mqtt_lib_get(cfg->use_tls ? EH_MQTT_LIB_TLS : eh_mqtt_lib_for(cfg->uri),
				   &c->lib)) != EH_OK)
		return err;
	co.MQTTVersion = MQTTVERSION_5;
	rc = c->lib->MQTTAsync_createWithOptions(&c->client, cfg->uri, cfg->client_id,
						 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		c->client = NULL;
		return rc == MQTTASYNC_BAD_PROTOCOL ? EH_ERR_INVAL : EH_ERR_NET;
	}
	c->lib->MQTTAsync_setCallbacks(c->client, c, on_lost, on_message, NULL);
	opt.cleanstart = 1;
	opt.keepAliveInterval = 30;
	opt.connectTimeout = (int)((timeout_ms + 999) / 1000);
	opt.username = cfg->username;
	opt.password = cfg->password;
	opt.automaticReconnect = 0;
	opt.onSuccess5 = on_ok5;
	opt.onFailure5 = on_fail5;
	opt.context = c;
	if (cfg->use_tls) {
		eh_mqtt_tls_ssl_options(&cfg->tls, &ssl);
		opt.ssl = &ssl;
	}
	op_start(c);
	rc = c->lib->MQTTAsync_connect(c->client, &opt);
	if (rc != MQTTASYNC_SUCCESS)
		return EH_ERR_NET;
	err = op_wait(c, timeout_ms, &code);
	if (err == EH_ERR_PROTO) {
		/* 0x86 bad user name or password, 0x87 not authorized */
		if (code == 0x86 || code == 0x87 || code == 4 || code == 5)
			return EH_ERR_PERM;
		return cfg->use_tls ? EH_ERR_TLS : EH_ERR_NET;
	}
	return err;
}

eh_err eh_mqtt_ctl_subscribe(struct eh_mqtt_ctl *c, const char *filter, unsigned timeout_ms)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	ro.onSuccess5 = on_ok5;
	ro.onFailure5 = on_fail5;
	ro.context = c;
	op_start(c);
	if (c->lib->MQTTAsync_subscribe(c->client, filter, 1, &ro) != MQTTASYNC_SUCCESS)
		return EH_ERR_NET;
	return op_wait(c, timeout_ms, NULL);
}

eh_err eh_mqtt_ctl_publish(struct eh_mqtt_ctl *c, const char *topic, const void *payload,
			   size_t len, bool retained, const char *hmac, unsigned timeout_ms)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty up;
	int rc;

	if (len > (size_t)EH_MAX_MSG_BYTES)
		return EH_ERR_TOOBIG;
	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = 1;
	msg.retained = retained ? 1 : 0;
	if (hmac != NULL) {
		up.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
		up.value.data.data = (char *)USER_PROP_HMAC;
		up.value.data.len = (int)strlen(USER_PROP_HMAC);
		up.value.value.data = (char *)hmac;
		up.value.value.len = (int)strlen(hmac);
		c->lib->MQTTProperties_add(&props, &up); /* copies */
		msg.properties = props;
	}
	ro.onSuccess5 = on_ok5;
	ro.onFailure5 = on_fail5;
	ro.context = c;
	op_start(c);
	rc = c->lib->MQTTAsync_sendMessage(c->client, topic, &msg, &ro); /* copies */
	c->lib->MQTTProperties_free(&props);
	if (rc != MQTTASYNC_SUCCESS)
		return EH_ERR_NET;
	return op_wait(c, timeout_ms, NULL);
}

eh_err eh_mqtt_ctl_next(struct eh_mqtt_ctl *c, struct eh_mqtt_ctl_msg *m, unsigned timeout_ms)
{
	struct timespec ts;
	MQTTAsync_message *msg;
	char *topic;
	size_t n;

	eh_mqtt_deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&c->mu);
	while (c->count == 0 && !c->lost)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
			break;
	if (c->count == 0) {
		bool lost = c->lost;

		pthread_mutex_unlock(&c->mu);
		return lost ? EH_ERR_CLOSED : EH_ERR_TIMEOUT;
	}
	msg = c->ring[c->head].msg;
	topic = c->ring[c->head].topic;
	c->head = (c->head + 1) % RING;
	c->count--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);

	snprintf(m->topic, sizeof(m->topic), "%s", topic);
	n = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	m->truncated = n > EH_MQTT_OUTBOX_BYTES;
	if (m->truncated)
		n = EH_MQTT_OUTBOX_BYTES;
	if (n > 0)
		memcpy(c->payload, msg->payload, n);
	c->payload[n] = '\0';
	m->payload = c->payload;
	m->len = n;
	m->retained = msg->retained != 0;
	c->lib->MQTTAsync_freeMessage(&msg);
	c->lib->MQTTAsync_free(topic);
	return EH_OK;
}

void eh_mqtt_ctl_close(struct eh_mqtt_ctl *c)
{
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;

	if (c->client == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->closing = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->lib->MQTTAsync_isConnected(c->client))
		c->lib->MQTTAsync_disconnect(c->client, &d);
	c->lib->MQTTAsync_destroy(&c->client);
	while (c->count > 0) {
		MQTTAsync_message *msg = c->ring[c->head].msg;

		c->lib->MQTTAsync_freeMessage(&msg);
		c->lib->MQTTAsync_free(c->ring[c->head].topic);
		c->head = (c->head + 1) % RING;
		c->count--;
	}
	c->client = NULL;
}
