/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_paho.c - eh_mqtt over Paho MQTT C (MQTTAsync). Paho's receive
 * thread fills a bounded window of slots and waits when it is full or
 * paused; the loop thread hands slots to the app and frees them on
 * eh_mqtt_done. Why this shape (PUBACK timing): docs/MQTT.md. */
#include "eh_mqtt_paho.h"
#include "eh_mqtt_lib.h"
#include "eh_mqtt_priv.h"

#include <MQTTAsync.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "eh_assert.h"
#include "eh_log.h"
#include "eh_time.h"

/* Events from Paho's threads for the loop thread (m->events bits). */
#define EV_CONNECTED 0x1u
#define EV_DISCONNECTED 0x2u
#define EV_CONNECT_FAILED 0x4u
#define EV_VERSION_REFUSED 0x8u
#define EV_DISCONNECT_DONE 0x10u
#define EV_PUBLISHED 0x20u /* a tracked publish ended */

/* Tracked publish states. */
#define TRACK_FREE 0
#define TRACK_QUEUED 1 /* in the outbox */
#define TRACK_SENT 2   /* handed to the library, waiting for PUBACK */
#define TRACK_OK 3     /* acknowledged, not yet reported */
#define TRACK_FAILED 4 /* refused or lost, not yet reported */

/* Slot states. */
#define SLOT_FREE 0
#define SLOT_FILLED 1 /* taken by Paho's thread, waiting for the loop */
#define SLOT_HANDED 2 /* given to on_message, waiting for eh_mqtt_done */

#define USER_PROP_HMAC "hmac-sha256"
#define CLOSE_WAIT_MS 1500 /* how long close waits for the broker's goodbye */

/* ==== Paho threads ==== */

static void post_events(struct eh_mqtt_paho *m, unsigned ev)
{
	pthread_mutex_lock(&m->mu);
	m->events |= ev;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	eh_loop_wake(m->loop);
}

static void copy_hmac_prop(const struct eh_mqtt_paho *m, struct eh_mqtt_msg *s,
			   MQTTAsync_message *msg)
{
	int i, n;

	s->hmac[0] = '\0';
	n = m->lib->MQTTProperties_propertyCount(&msg->properties, MQTTPROPERTY_CODE_USER_PROPERTY);
	for (i = 0; i < n; i++) {
		MQTTProperty *p = m->lib->MQTTProperties_getPropertyAt(
		    &msg->properties, MQTTPROPERTY_CODE_USER_PROPERTY, i);
		if (p == NULL || p->value.data.len != (int)strlen(USER_PROP_HMAC) ||
		    memcmp(p->value.data.data, USER_PROP_HMAC, strlen(USER_PROP_HMAC)) != 0)
			continue;
		if (p->value.value.len <= 0 || p->value.value.len >= EH_MQTT_HMAC_PROP_MAX) {
			/* Present but unusable: keep something that never verifies. */
			strcpy(s->hmac, "-");
			return;
		}
		memcpy(s->hmac, p->value.value.data, (size_t)p->value.value.len);
		s->hmac[p->value.value.len] = '\0';
		return;
	}
}

/* Called in Paho's receive thread right after it sent PUBACK (QoS 1; see
 * docs/MQTT.md). Waiting here keeps Paho from reading the socket, so the
 * broker keeps every later message unacknowledged. Always returns 1: the
 * message is ours (or dropped and counted). */
static int on_paho_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct eh_mqtt_paho *m = ctx;
	uint64_t t0 = eh_time_mono_us();
	struct eh_mqtt_msg *s = NULL;
	unsigned i;

	size_t tl = strlen(topic);
	uint64_t jseq = 0;

	if ((topic_len != 0 && (topic_len < 0 || tl != (size_t)topic_len)) ||
	    tl > EH_MQTT_TOPIC_MAX) {
		/* An embedded NUL or an endless topic: hostile; nothing downstream
		 * could route it. */
		if (tl > EH_MQTT_TOPIC_MAX)
			EH_LOG_WRN("mqtt", "dropped a message whose topic is over %d bytes",
				   EH_MQTT_TOPIC_MAX);
		else
			EH_LOG_WRN("mqtt", "dropped a message whose topic holds a NUL byte");
		pthread_mutex_lock(&m->mu);
		m->st.refused++;
		pthread_mutex_unlock(&m->mu);
		m->lib->MQTTAsync_freeMessage(&msg);
		m->lib->MQTTAsync_free(topic);
		return 1;
	}
	EH_LOG_DBG("mqtt", "received %s: %d bytes, qos %d, dup %d, msgid %d", topic,
		   msg->payloadlen, msg->qos, msg->dup, msg->msgid);
	if (m->cfg.journal.append != NULL) {
		struct eh_mqtt_msg tmp;
		uint64_t seq = 0;
		copy_hmac_prop(m, &tmp, msg);
		if (m->cfg.journal.append(m->cfg.journal.ctx, topic, tmp.hmac[0] ? tmp.hmac : NULL,
					  msg->payload,
					  msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0, &seq))
			jseq = seq;
	}
	pthread_mutex_lock(&m->mu);
	/* While closing it never waits: the loop thread is about to call
	 * MQTTAsync_disconnect, which needs the mutex Paho may hold here. */
	while (!m->dead && !m->closing && (m->nfree == 0 || m->paused)) {
		m->waiting = true;
		pthread_cond_wait(&m->cv, &m->mu);
	}
	m->waiting = false;
	m->st.waited_us += eh_time_mono_us() - t0;
	if (m->dead || m->nfree == 0) {
		m->st.dropped_on_close++;
		pthread_mutex_unlock(&m->mu);
		m->lib->MQTTAsync_freeMessage(&msg);
		m->lib->MQTTAsync_free(topic);
		return 1;
	}
	for (i = 0; i < m->cfg.window; i++) {
		if (m->slots[i].state == SLOT_FREE) {
			s = &m->slots[i];
			break;
		}
	}
	EH_ASSERT(s != NULL); /* nfree > 0 */
	s->state = SLOT_FILLED;
	s->lib_msg = msg;
	s->lib_topic = topic;
	s->taken_us = t0; /* PUBACK left a few microseconds before */
	s->jseq = jseq;
	if (jseq == 0 && m->cfg.journal.append != NULL)
		m->st.not_journalled++;
	copy_hmac_prop(m, s, msg);
	/* The loop drains the FIFO whole on each wake (hand_over), so only the
	 * first message after it emptied needs one: a burst costs one wake-up. */
	bool wake = m->fifo_n == 0;
	m->fifo[(m->fifo_head + m->fifo_n) % EH_MQTT_MAX_WINDOW] = s->idx;
	m->fifo_n++;
	m->nfree--;
	m->undone++;
	if (m->undone > m->st.undone_max)
		m->st.undone_max = m->undone;
	m->st.received++;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (wake)
		eh_loop_wake(m->loop);
	return 1;
}

static void on_paho_lost(void *ctx, char *cause)
{
	struct eh_mqtt_paho *m = ctx;

	EH_LOG_WRN("mqtt", "connection lost%s%s", cause ? ": " : "", cause ? cause : "");
	m->lib->MQTTAsync_free(cause);
	pthread_mutex_lock(&m->mu);
	m->link_up = false;
	pthread_mutex_unlock(&m->mu);
	post_events(m, EV_DISCONNECTED);
}

static void subscribe_all(struct eh_mqtt_paho *m)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int qos[EH_MQTT_MAX_SUBS];
	size_t i;
	int rc;

	if (m->cfg.nsubs == 0)
		return;
	for (i = 0; i < m->cfg.nsubs; i++)
		qos[i] = m->cfg.subs_qos ? m->cfg.subs_qos[i] : 1;
	rc = m->lib->MQTTAsync_subscribeMany(m->client, (int)m->cfg.nsubs,
					     (char *const *)m->cfg.subs, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		EH_LOG_ERR("mqtt", "subscribe failed: paho %d", rc);
}

static void connected(struct eh_mqtt_paho *m, int version, int session_present)
{
	subscribe_all(m);
	pthread_mutex_lock(&m->mu);
	m->session_present = session_present != 0;
	m->st.mqtt_version = version;
	m->link_up = true;
	pthread_mutex_unlock(&m->mu);
	post_events(m, EV_CONNECTED);
}

static void on_paho_connect5(void *ctx, MQTTAsync_successData5 *r)
{
	struct eh_mqtt_paho *m = ctx;

	connected(m, r ? r->alt.connect.MQTTVersion : 5, r ? r->alt.connect.sessionPresent : 0);
}

static void on_paho_connect(void *ctx, MQTTAsync_successData *r)
{
	struct eh_mqtt_paho *m = ctx;

	connected(m, r ? r->alt.connect.MQTTVersion : 4, r ? r->alt.connect.sessionPresent : 0);
}

static void connect_failed(struct eh_mqtt_paho *m, int code, int reason)
{
	unsigned ev = EV_CONNECT_FAILED;

	EH_LOG_WRN("mqtt", "connect to %s failed: paho %d, reason 0x%02x", m->cfg.uri, code,
		   (unsigned)reason);
	if (m->tls)
		eh_mqtt_tls_explain(m, code, reason);
	/* 3.1.1 brokers answer a v5 CONNECT with return code 1 (unacceptable
	 * protocol version); v5 brokers with reason 0x84. */
	if (code == 1 || reason == MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION ||
	    code == MQTTASYNC_WRONG_MQTT_VERSION)
		ev |= EV_VERSION_REFUSED;
	post_events(m, ev);
}

static void on_paho_connect_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	connect_failed(ctx, r ? r->code : -1, r ? (int)r->reasonCode : 0);
}

static void on_paho_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
	connect_failed(ctx, r ? r->code : -1, 0);
}

static void on_paho_disconnected(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	post_events(ctx, EV_DISCONNECT_DONE);
}

static void on_paho_disconnect_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	post_events(ctx, EV_DISCONNECT_DONE);
}

/* ==== Loop thread ==== */

static int version_of(const struct eh_mqtt_paho *m)
{
	if (m->cfg.mqtt_version == 4 || m->fallback_done)
		return MQTTVERSION_3_1_1;
	return MQTTVERSION_5;
}

static eh_err create_client(struct eh_mqtt_paho *m)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	co.MQTTVersion = version_of(m);
	rc = m->lib->MQTTAsync_createWithOptions(&m->client, m->cfg.uri, m->cfg.client_id,
						 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		EH_LOG_ERR("mqtt", "cannot create the client for %s: paho %d", m->cfg.uri, rc);
		m->client = NULL;
		return rc == MQTTASYNC_BAD_PROTOCOL ? EH_ERR_INVAL : EH_ERR_NET;
	}
	rc = m->lib->MQTTAsync_setCallbacks(m->client, m, on_paho_lost, on_paho_message, NULL);
	if (rc != MQTTASYNC_SUCCESS) {
		m->lib->MQTTAsync_destroy(&m->client);
		m->client = NULL;
		return EH_ERR_NET;
	}
	return EH_OK;
}

static eh_err connect_now(struct eh_mqtt_paho *m)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty expiry, maxpkt;
	int rc;

	if (version_of(m) == MQTTVERSION_5) {
		co = co5;
		co.cleanstart = 0;
		expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
		expiry.value.integer4 = m->cfg.session_expiry_s;
		m->lib->MQTTProperties_add(&props, &expiry);
		maxpkt.identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE;
		maxpkt.value.integer4 = m->cfg.max_packet_bytes;
		m->lib->MQTTProperties_add(&props, &maxpkt);
		co.connectProperties = &props;
		co.onSuccess5 = on_paho_connect5;
		co.onFailure5 = on_paho_connect_fail5;
	} else {
		co.cleansession = 0;
		co.MQTTVersion = MQTTVERSION_3_1_1;
		co.onSuccess = on_paho_connect;
		co.onFailure = on_paho_connect_fail;
	}
	co.keepAliveInterval = (int)m->cfg.keepalive_s;
	co.connectTimeout = 10;
	co.context = m;
	co.username = m->cfg.username;
	co.password = m->cfg.password;
	/* Reconnection is ours (schedule_retry): Paho's automatic reconnect
	 * does not call onSuccess again, so session_present would be unknown. */
	co.automaticReconnect = 0;
	if (m->tls) {
		eh_mqtt_tls_options(m, &ssl);
		co.ssl = &ssl;
	}
	if (m->cfg.will_topic != NULL) {
		will.topicName = m->cfg.will_topic;
		will.message = m->cfg.will_payload;
		will.retained = 1;
		will.qos = 1;
		co.will = &will;
	}
	rc = m->lib->MQTTAsync_connect(m->client, &co); /* copies options and properties */
	EH_LOG_DBG("mqtt", "connect started: paho %d", rc);
	m->lib->MQTTProperties_free(&props);
	if (rc != MQTTASYNC_SUCCESS) {
		EH_LOG_WRN("mqtt", "connect to %s not started: paho %d", m->cfg.uri, rc);
		return EH_ERR_NET;
	}
	return EH_OK;
}

/* ==== Worker thread ====
 * Paho may hold its client mutex while our message callback waits for room
 * (seen in 1.3.11: the queued-delivery path of MQTTAsync_receiveThread), so
 * every Paho call the loop thread would make - connect, publish - is made
 * here instead, and the loop thread never blocks behind the library. */

#define CMD_CONNECT 0x1u
#define CMD_FALLBACK 0x2u

struct out_hdr {
	uint32_t topic_len;   /* bytes after the header, without NUL */
	uint32_t payload_len; /* bytes after the topic's NUL */
	uint8_t qos;
	uint8_t retain;
	int16_t track; /* index in m->track, -1: untracked */
};

/* A tracked publish ended (Paho's threads, or the worker on a refusal). */
static void track_end(struct eh_mqtt_track *t, bool ok)
{
	struct eh_mqtt_paho *m = t->m;

	pthread_mutex_lock(&m->mu);
	if (t->state == TRACK_SENT || t->state == TRACK_QUEUED)
		t->state = ok ? TRACK_OK : TRACK_FAILED;
	m->events |= EV_PUBLISHED;
	pthread_mutex_unlock(&m->mu);
	eh_loop_wake(m->loop);
}

static void on_pub_ok(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	track_end(ctx, true);
}

static void on_pub_ok5(void *ctx, MQTTAsync_successData5 *r)
{
	/* A v5 PUBACK may carry a failure reason code (>= 0x80). */
	track_end(ctx, r == NULL || r->reasonCode < 0x80);
}

static void on_pub_fail(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	track_end(ctx, false);
}

static void on_pub_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	track_end(ctx, false);
}

static size_t out_entry_size(const struct out_hdr *h)
{
	size_t n = sizeof(*h) + h->topic_len + 1 + h->payload_len;

	return (n + 7u) & ~(size_t)7u; /* keep headers aligned */
}

static void send_head(struct eh_mqtt_paho *m, const uint8_t *e)
{
	struct out_hdr hdr;
	const struct out_hdr *h = &hdr;
	const char *topic = (const char *)(e + sizeof(hdr));
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	memcpy(&hdr, e, sizeof(hdr));
	msg.payload = (void *)(e + sizeof(*h) + h->topic_len + 1); /* copied by Paho */
	msg.payloadlen = (int)h->payload_len;
	msg.qos = h->qos;
	msg.retained = h->retain;
	if (h->track >= 0) {
		struct eh_mqtt_track *t = &m->track[h->track];

		pthread_mutex_lock(&m->mu);
		t->state = TRACK_SENT; /* before the library can answer */
		pthread_mutex_unlock(&m->mu);
		ro.context = t;
		if (version_of(m) == MQTTVERSION_5) {
			ro.onSuccess5 = on_pub_ok5;
			ro.onFailure5 = on_pub_fail5;
		} else {
			ro.onSuccess = on_pub_ok;
			ro.onFailure = on_pub_fail;
		}
	}
	rc = m->lib->MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
	pthread_mutex_lock(&m->mu);
	if (rc == MQTTASYNC_SUCCESS)
		m->st.published++;
	else
		m->st.publish_dropped++;
	pthread_mutex_unlock(&m->mu);
	if (rc != MQTTASYNC_SUCCESS && h->track >= 0)
		track_end(&m->track[h->track], false);
	if (rc != MQTTASYNC_SUCCESS && rc != MQTTASYNC_DISCONNECTED)
		EH_LOG_WRN("mqtt", "publish to %s refused: paho %d", topic, rc);
}

static void *worker_main(void *arg)
{
	struct eh_mqtt_paho *m = arg;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		unsigned cmds;

		while (m->cmds == 0 && m->out_len == 0 && !m->wstop)
			pthread_cond_wait(&m->wcv, &m->mu);
		if (m->wstop)
			break;
		cmds = m->cmds;
		m->cmds = 0;
		if (cmds & CMD_FALLBACK) {
			pthread_mutex_unlock(&m->mu);
			/* No callback of this client can be waiting: it never connected. */
			m->lib->MQTTAsync_destroy(&m->client);
			m->client = NULL;
			if (create_client(m) != EH_OK || connect_now(m) != EH_OK)
				post_events(m, EV_CONNECT_FAILED);
			pthread_mutex_lock(&m->mu);
			continue;
		}
		if (cmds & CMD_CONNECT) {
			pthread_mutex_unlock(&m->mu);
			if (connect_now(m) != EH_OK)
				post_events(m, EV_CONNECT_FAILED);
			pthread_mutex_lock(&m->mu);
			continue;
		}
		if (m->out_len > 0) {
			/* The head stays in place while Paho copies it; only the
			 * loop thread appends, after out_len. */
			struct out_hdr h;
			size_t n;

			memcpy(&h, m->outbox, sizeof(h));
			n = out_entry_size(&h);

			pthread_mutex_unlock(&m->mu);
			send_head(m, m->outbox);
			pthread_mutex_lock(&m->mu);
			memmove(m->outbox, m->outbox + n, m->out_len - n);
			m->out_len -= n;
			pthread_cond_broadcast(&m->cv);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void worker_cmd(struct eh_mqtt_paho *m, unsigned cmd)
{
	pthread_mutex_lock(&m->mu);
	m->cmds |= cmd;
	pthread_cond_signal(&m->wcv);
	pthread_mutex_unlock(&m->mu);
}

static void schedule_retry(struct eh_mqtt_paho *m);

static void retry_timer(struct eh_loop *l, void *arg)
{
	struct eh_mqtt_paho *m = arg;

	(void)l;
	m->retry_timer = 0;
	if (!m->open || m->closing)
		return;
	worker_cmd(m, CMD_CONNECT);
}

static void schedule_retry(struct eh_mqtt_paho *m)
{
	unsigned d = m->backoff_s;

	if (m->retry_timer != 0)
		return;
	m->backoff_s = d * 2 > m->cfg.reconnect_max_s ? m->cfg.reconnect_max_s : d * 2;
	if (eh_loop_after(m->loop, (uint64_t)d * 1000u, retry_timer, m, &m->retry_timer) != EH_OK)
		EH_LOG_ERR("mqtt", "no timer left to retry the connection");
}

static void on_up(struct eh_mqtt_paho *m)
{
	bool sp;

	pthread_mutex_lock(&m->mu);
	sp = m->session_present;
	m->st.connected = true;
	m->st.connects++;
	pthread_mutex_unlock(&m->mu);
	m->backoff_s = m->cfg.reconnect_min_s;
	EH_LOG_INF("mqtt", "connected to %s (MQTT %s, session %s)", m->cfg.uri,
		   m->st.mqtt_version == 5 ? "5" : "3.1.1", sp ? "resumed" : "new");
	if (m->st.mqtt_version != 5)
		EH_LOG_WRN("mqtt",
			   "MQTT 3.1.1 cannot tell the broker the largest packet this "
			   "client takes (%u bytes): a bigger message is read whole before "
			   "it is refused; limit it on the broker (mosquitto: "
			   "message_size_limit, max_packet_size; docs/MQTT.md)",
			   (unsigned)m->cfg.max_packet_bytes);
	if (m->h.on_connect)
		m->h.on_connect(m->h.ctx, sp);
}

static void on_lost(struct eh_mqtt_paho *m)
{
	pthread_mutex_lock(&m->mu);
	m->st.connected = false;
	m->st.disconnects++;
	pthread_mutex_unlock(&m->mu);
	if (m->h.on_disconnect)
		m->h.on_disconnect(m->h.ctx);
	if (!m->closing) {
		m->backoff_s = m->cfg.reconnect_min_s;
		schedule_retry(m);
	}
}

static void handle_events(struct eh_mqtt_paho *m, unsigned ev)
{
	bool up;

	if (ev & EV_CONNECT_FAILED) {
		m->st.connect_failures++;
		if ((ev & EV_VERSION_REFUSED) && m->cfg.mqtt_version == 0 && !m->fallback_done &&
		    m->st.connects == 0) {
			/* The client's version is fixed at creation: make a 3.1.1 one. */
			EH_LOG_INF("mqtt", "broker refused MQTT v5, using 3.1.1");
			m->fallback_done = true;
			worker_cmd(m, CMD_FALLBACK);
		} else {
			schedule_retry(m);
		}
	}
	/* Both bits in one batch: the order follows the link's state now. */
	pthread_mutex_lock(&m->mu);
	up = m->link_up;
	pthread_mutex_unlock(&m->mu);
	if ((ev & EV_CONNECTED) && (ev & EV_DISCONNECTED) && up) {
		on_lost(m);
		on_up(m);
	} else {
		if (ev & EV_CONNECTED)
			on_up(m);
		if (ev & EV_DISCONNECTED)
			on_lost(m);
	}
}

/* Hand filled slots to on_message, at most one window's worth per call so a
 * busy broker cannot starve the loop; re-wakes when more remain. */
static void hand_over(struct eh_mqtt_paho *m)
{
	unsigned budget = m->cfg.window;

	while (budget-- > 0) {
		struct eh_mqtt_msg *s;
		MQTTAsync_message *msg;

		pthread_mutex_lock(&m->mu);
		if (m->fifo_n == 0) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		s = &m->slots[m->fifo[m->fifo_head]];
		m->fifo_head = (m->fifo_head + 1) % EH_MQTT_MAX_WINDOW;
		m->fifo_n--;
		s->state = SLOT_HANDED;
		pthread_mutex_unlock(&m->mu);
		msg = s->lib_msg;
		m->h.on_message(m->h.ctx, s->lib_topic, msg->payload, (size_t)msg->payloadlen,
				s->hmac[0] ? s->hmac : NULL, s);
	}
	eh_loop_wake(m->loop);
}

/* Report tracked publishes that ended, and free their entries. */
static void report_published(struct eh_mqtt_paho *m)
{
	for (unsigned i = 0; i < EH_MQTT_MAX_TRACKED; i++) {
		struct eh_mqtt_track *t = &m->track[i];
		uint8_t state;
		uint64_t tag;

		pthread_mutex_lock(&m->mu);
		state = t->state;
		tag = t->tag;
		if (state == TRACK_OK || state == TRACK_FAILED) {
			t->state = TRACK_FREE;
			if (state == TRACK_OK)
				m->st.tracked_ok++;
			else
				m->st.tracked_failed++;
		}
		pthread_mutex_unlock(&m->mu);
		if ((state == TRACK_OK || state == TRACK_FAILED) && m->h.on_published)
			m->h.on_published(m->h.ctx, tag, state == TRACK_OK);
	}
}

static void paho_poll(struct eh_mqtt *mq)
{
	struct eh_mqtt_paho *m = mq->state;
	unsigned ev;

	if (!m->open)
		return;
	pthread_mutex_lock(&m->mu);
	ev = m->events;
	m->events = 0;
	pthread_mutex_unlock(&m->mu);
	if (ev)
		handle_events(m, ev);
	if (ev & EV_PUBLISHED)
		report_published(m);
	hand_over(m);
}

static eh_err paho_open(struct eh_mqtt *mq, const struct eh_mqtt_config *cfg, struct eh_loop *loop,
			const struct eh_mqtt_handlers *h)
{
	struct eh_mqtt_paho *m = mq->state;
	const char *lib_name;
	unsigned i;
	eh_err rc;

	EH_ASSERT(m != NULL && cfg != NULL && loop != NULL && h != NULL);
	lib_name = m->lib_name; /* the caller's, kept */
	/* Not the outbox (1.3 MiB): written before read; zeroing it would
	 * make it resident for nothing. */
	memset(m, 0, offsetof(struct eh_mqtt_paho, outbox));
	m->lib_name = lib_name;
	memset(&m->out_len, 0, sizeof(*m) - offsetof(struct eh_mqtt_paho, out_len));
	if (cfg->client_id == NULL || cfg->client_id[0] == '\0' || h->on_message == NULL ||
	    cfg->nsubs > EH_MQTT_MAX_SUBS || (cfg->nsubs > 0 && cfg->subs == NULL) ||
	    cfg->window > EH_MQTT_MAX_WINDOW ||
	    (cfg->max_packet_bytes != 0 && (cfg->max_packet_bytes < EH_MQTT_MIN_PACKET_BYTES ||
					    cfg->max_packet_bytes > EH_MQTT_MAX_PACKET_BYTES)) ||
	    (cfg->mqtt_version != 0 && cfg->mqtt_version != 4 && cfg->mqtt_version != 5))
		return EH_ERR_INVAL;
	if (eh_mqtt_uri_is_tls(cfg->uri) &&
	    (cfg->tls.ca_file == NULL ||
	     (cfg->tls.cert_file == NULL) != (cfg->tls.key_file == NULL)))
		return EH_ERR_INVAL;
	for (i = 0; i < cfg->nsubs; i++) {
		if (cfg->subs[i] == NULL || cfg->subs[i][0] == '\0')
			return EH_ERR_INVAL;
		if (cfg->subs_qos && (cfg->subs_qos[i] < 0 || cfg->subs_qos[i] > 2))
			return EH_ERR_INVAL;
	}
	m->cfg = *cfg;
	if (m->cfg.uri == NULL)
		m->cfg.uri = "tcp://127.0.0.1:1883";
	if (m->cfg.keepalive_s == 0)
		m->cfg.keepalive_s = 30;
	if (m->cfg.will_topic != NULL && m->cfg.will_payload == NULL)
		m->cfg.will_payload = "{\"state\":\"offline\"}";
	if (m->cfg.session_expiry_s == 0)
		m->cfg.session_expiry_s = 7u * 24u * 3600u;
	if (m->cfg.window == 0)
		m->cfg.window = EH_MQTT_DEFAULT_WINDOW;
	if (m->cfg.reconnect_min_s == 0)
		m->cfg.reconnect_min_s = 1;
	if (m->cfg.reconnect_max_s == 0)
		m->cfg.reconnect_max_s = 30;
	if (m->cfg.reconnect_max_s < m->cfg.reconnect_min_s)
		m->cfg.reconnect_max_s = m->cfg.reconnect_min_s;
	m->h = *h;
	m->loop = loop;
	m->tls = eh_mqtt_uri_is_tls(m->cfg.uri);
	/* The library this uri needs, loaded now (once per process; logged when missing). */
	if ((rc = eh_mqtt_lib_get(lib_name != NULL ? lib_name : eh_mqtt_lib_for(m->cfg.uri),
				  &m->lib)) != EH_OK)
		return rc;
	if (m->tls && m->cfg.tls.no_verify_host)
		EH_LOG_WRN("mqtt",
			   "TLS to %s without a host name check (mqtt.tls.verify_host false): "
			   "any certificate the CA signed is accepted for the broker",
			   m->cfg.uri);
	m->backoff_s = m->cfg.reconnect_min_s;
	for (i = 0; i < EH_MQTT_MAX_WINDOW; i++) {
		m->slots[i].idx = (uint8_t)i;
		m->slots[i].state = SLOT_FREE;
	}
	m->nfree = m->cfg.window;
	m->paused = m->cfg.start_paused;
	if (m->cfg.max_packet_bytes == 0)
		m->cfg.max_packet_bytes = EH_MQTT_MAX_PACKET_BYTES;
	pthread_mutex_init(&m->mu, NULL);
	eh_mqtt_cond_init(&m->cv);
	if ((rc = create_client(m)) != EH_OK) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		return rc;
	}
	eh_mqtt_cond_init(&m->wcv);
	if (pthread_create(&m->worker, NULL, worker_main, m) != 0) {
		m->lib->MQTTAsync_destroy(&m->client);
		pthread_cond_destroy(&m->wcv);
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		return EH_ERR_NOSPC;
	}
	m->open = true;
	worker_cmd(m, CMD_CONNECT);
	return EH_OK;
}

/* Copy one publish into the outbox; track: also take a tracked entry. */
static eh_err out_put(struct eh_mqtt_paho *m, const char *topic, const void *payload, size_t len,
		      int qos, bool retain, bool track, uint64_t tag)
{
	struct out_hdr h;
	size_t tlen, need;
	uint8_t *e;
	eh_err rc = EH_OK;

	if (!m->open)
		return EH_ERR_CLOSED;
	if (topic == NULL || topic[0] == '\0' || (len > 0 && payload == NULL) || qos < 0 || qos > 2)
		return EH_ERR_INVAL;
	tlen = strlen(topic);
	memset(&h, 0, sizeof(h));
	h.topic_len = (uint32_t)tlen;
	h.payload_len = (uint32_t)len;
	h.qos = (uint8_t)qos;
	h.retain = retain ? 1 : 0;
	h.track = -1;
	need = out_entry_size(&h);
	if (tlen > 65535u || len > UINT32_MAX || need > sizeof(m->outbox))
		return EH_ERR_TOOBIG;
	pthread_mutex_lock(&m->mu);
	if (!m->st.connected)
		rc = EH_ERR_CLOSED; /* nothing is kept for later: the app republishes on connect */
	else if (m->out_len + need > sizeof(m->outbox))
		rc = EH_ERR_AGAIN;
	if (rc == EH_OK && track) {
		rc = EH_ERR_AGAIN; /* every entry busy */
		for (int i = 0; i < EH_MQTT_MAX_TRACKED; i++) {
			if (m->track[i].state != TRACK_FREE)
				continue;
			m->track[i].m = m;
			m->track[i].tag = tag;
			m->track[i].state = TRACK_QUEUED;
			h.track = (int16_t)i;
			rc = EH_OK;
			break;
		}
	}
	if (rc == EH_OK) {
		e = m->outbox + m->out_len;
		memcpy(e, &h, sizeof(h));
		memcpy(e + sizeof(h), topic, tlen + 1);
		if (len > 0)
			memcpy(e + sizeof(h) + tlen + 1, payload, len);
		m->out_len += need;
		pthread_cond_signal(&m->wcv);
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static eh_err paho_publish(struct eh_mqtt *mq, const char *topic, const void *payload, size_t len,
			   int qos, bool retain)
{
	return out_put(mq->state, topic, payload, len, qos, retain, false, 0);
}

static eh_err paho_publish_tracked(struct eh_mqtt *mq, const char *topic, const void *payload,
				   size_t len, uint64_t tag)
{
	return out_put(mq->state, topic, payload, len, 1, false, true, tag);
}

static void paho_done(struct eh_mqtt *mq, struct eh_mqtt_msg *s)
{
	struct eh_mqtt_paho *m = mq->state;
	uint64_t w;
	MQTTAsync_message *msg;
	char *topic;

	if (!m->open || s == NULL)
		return;
	EH_ASSERT(s >= m->slots && s < m->slots + EH_MQTT_MAX_WINDOW && s->state == SLOT_HANDED);
	pthread_mutex_lock(&m->mu);
	w = eh_time_mono_us() - s->taken_us;
	msg = s->lib_msg;
	topic = s->lib_topic;
	s->lib_msg = NULL;
	s->lib_topic = NULL;
	s->state = SLOT_FREE;
	m->nfree++;
	m->undone--;
	m->st.done++;
	uint64_t jseq = s->jseq;
	s->jseq = 0;
	m->st.window_sum_us += w;
	if (w > m->st.window_max_us)
		m->st.window_max_us = w;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (jseq != 0 && m->cfg.journal.done != NULL)
		m->cfg.journal.done(m->cfg.journal.ctx, jseq);
	m->lib->MQTTAsync_freeMessage(&msg);
	m->lib->MQTTAsync_free(topic);
}

static void paho_pause(struct eh_mqtt *mq)
{
	struct eh_mqtt_paho *m = mq->state;

	if (!m->open)
		return;
	pthread_mutex_lock(&m->mu);
	m->paused = true;
	pthread_mutex_unlock(&m->mu);
}

static void paho_resume(struct eh_mqtt *mq)
{
	struct eh_mqtt_paho *m = mq->state;

	if (!m->open)
		return;
	pthread_mutex_lock(&m->mu);
	m->paused = false;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static void paho_get_stats(struct eh_mqtt *mq, struct eh_mqtt_stats *out)
{
	struct eh_mqtt_paho *m = mq->state;

	if (!m->open) {
		*out = m->st;
		return;
	}
	pthread_mutex_lock(&m->mu);
	*out = m->st;
	pthread_mutex_unlock(&m->mu);
}

void eh_mqtt_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

void eh_mqtt_deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts); /* the clock of eh_mqtt_cond_init */
	ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
	ts->tv_sec += ms / 1000u + ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

static void paho_close(struct eh_mqtt *mq)
{
	struct eh_mqtt_paho *m = mq->state;
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	uint64_t until;
	unsigned i;
	int rc;

	if (!m->open)
		return;
	if (m->retry_timer != 0)
		eh_loop_cancel(m->loop, m->retry_timer);
	m->retry_timer = 0;
	pthread_mutex_lock(&m->mu);
	m->closing = true; /* the message callback stops waiting */
	pthread_cond_broadcast(&m->cv);
	/* Let the worker send what the app queued last ({"state":"offline"}). */
	until = eh_time_mono_ms() + CLOSE_WAIT_MS;
	while (m->out_len > 0 && eh_time_mono_ms() < until) {
		struct timespec ts;

		eh_mqtt_deadline_in(&ts, 20);
		pthread_cond_timedwait(&m->cv, &m->mu, &ts);
	}
	m->wstop = true;
	pthread_cond_signal(&m->wcv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->worker, NULL);

	d.timeout = 1000;
	d.onSuccess = on_paho_disconnected;
	d.onFailure = on_paho_disconnect_fail;
	d.context = m;
	rc = m->lib->MQTTAsync_disconnect(m->client, &d);
	until = eh_time_mono_ms() + CLOSE_WAIT_MS;
	for (;;) {
		struct timespec ts;
		bool finished;

		hand_over(m);
		pthread_mutex_lock(&m->mu);
		finished = rc != MQTTASYNC_SUCCESS || (m->events & EV_DISCONNECT_DONE) ||
			   eh_time_mono_ms() >= until;
		if (!finished && m->fifo_n == 0) {
			eh_mqtt_deadline_in(&ts, 20);
			pthread_cond_timedwait(&m->cv, &m->mu, &ts);
		}
		pthread_mutex_unlock(&m->mu);
		if (finished)
			break;
	}
	hand_over(m);
	pthread_mutex_lock(&m->mu);
	m->dead = true; /* from now on Paho's thread drops and counts */
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	m->lib->MQTTAsync_destroy(&m->client);
	m->client = NULL;
	for (i = 0; i < EH_MQTT_MAX_WINDOW; i++) {
		struct eh_mqtt_msg *s = &m->slots[i];
		MQTTAsync_message *msg = s->lib_msg;

		if (s->state == SLOT_FILLED)
			m->st.dropped_on_close++;
		if (s->state != SLOT_FREE) {
			m->lib->MQTTAsync_freeMessage(&msg);
			m->lib->MQTTAsync_free(s->lib_topic);
		}
		s->state = SLOT_FREE;
		s->lib_msg = NULL;
		s->lib_topic = NULL;
	}
	if (m->st.dropped_on_close > 0)
		EH_LOG_WRN("mqtt", "%llu messages taken at close were never handed over",
			   (unsigned long long)m->st.dropped_on_close);
	m->st.connected = false;
	m->open = false;
	pthread_cond_destroy(&m->wcv);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
}

static const struct eh_mqtt_ops paho_ops = {
    paho_open,	paho_poll,   paho_publish,   paho_publish_tracked, paho_done,
    paho_pause, paho_resume, paho_get_stats, paho_close,
};

void eh_mqtt_paho_init(struct eh_mqtt *m, struct eh_mqtt_paho *st)
{
	EH_ASSERT(m != NULL && st != NULL);
	m->ops = &paho_ops;
	m->state = st;
	m->name = "paho";
	st->open = false;
}
