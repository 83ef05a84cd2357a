/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_ctl.h - a short-lived MQTT v5 client for edgehookctl: connect,
 * subscribe, publish and take messages one by one, each call waiting with a
 * deadline (backend: Paho MQTTAsync). The caller owns the client struct
 * (large: keep it static); the daemon's connection is eh_mqtt.h. */
#ifndef EH_MQTT_CTL_H
#define EH_MQTT_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_mqtt.h"

struct eh_mqtt_lib;

struct eh_mqtt_ctl_config {
	const char *uri;       /* tcp://, mqtt://, mqtts:// or ssl:// */
	const char *client_id; /* required; the session is clean and not kept */
	const char *username;  /* NULL: none */
	const char *password;  /* NULL: none */
	bool use_tls;	       /* mqtts:// or ssl:// */
	struct eh_mqtt_tls tls;
};

#define EH_MQTT_CTL_RING 32 /* messages received and not yet taken */

/* A client. Zero it, then eh_mqtt_ctl_open; everything inside is internal. */
struct eh_mqtt_ctl {
	const struct eh_mqtt_lib *lib; /* Paho, loaded for the uri at open */
	void *client;		       /* the library's handle */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool sync_ready; /* mu and cv initialised */
	bool lost;	 /* the connection is gone */
	bool closing;	 /* the receive thread must stop waiting for room */
	int op_state;	 /* 0 pending, 1 done, -1 failed */
	int op_code;	 /* the library's failure code, or an MQTT v5 reason */
	struct {
		void *msg;   /* the library's message */
		char *topic; /* the library's topic string */
	} ring[EH_MQTT_CTL_RING];
	unsigned head, count;
	/* The message handed out last: a config message is at most
	 * EH_MAX_MSG_BYTES, a dead letter a whole POST body. */
	uint8_t payload[EH_MQTT_OUTBOX_BYTES + 1];
};

/* One message taken with eh_mqtt_ctl_next. */
struct eh_mqtt_ctl_msg {
	char topic[EH_MQTT_TOPIC_MAX];
	const uint8_t *payload; /* len bytes, NUL-terminated, inside the client; valid
				 * until the next call */
	size_t len;
	bool retained;	/* a retained message sent at subscribe, not a live publish */
	bool truncated; /* longer than the client's buffer: cut there */
};

/* Connect (MQTT v5, clean start), waiting at most timeout_ms. EH_ERR_NET or
 * EH_ERR_TLS when the broker cannot be reached, EH_ERR_NOENT when the Paho
 * build for the uri cannot be loaded (logged), EH_ERR_PERM when it refuses
 * the credentials, EH_ERR_TIMEOUT. */
eh_err eh_mqtt_ctl_open(struct eh_mqtt_ctl *q, const struct eh_mqtt_ctl_config *c,
			unsigned timeout_ms);

/* Subscribe to filter at QoS 1 and wait for the broker's answer. */
eh_err eh_mqtt_ctl_subscribe(struct eh_mqtt_ctl *q, const char *filter, unsigned timeout_ms);

/* Publish len bytes at QoS 1 and wait for the PUBACK. hmac: the
 * "hmac-sha256" user property, NULL for none. */
eh_err eh_mqtt_ctl_publish(struct eh_mqtt_ctl *q, const char *topic, const void *payload,
			   size_t len, bool retained, const char *hmac, unsigned timeout_ms);

/* Take the next message, waiting at most timeout_ms. EH_OK with *m filled,
 * EH_ERR_TIMEOUT when none came, EH_ERR_CLOSED when the connection is lost. */
eh_err eh_mqtt_ctl_next(struct eh_mqtt_ctl *q, struct eh_mqtt_ctl_msg *m, unsigned timeout_ms);

/* Disconnect and free the library's client; safe on a zeroed struct and
 * after a failed open. */
void eh_mqtt_ctl_close(struct eh_mqtt_ctl *q);

#endif /* EH_MQTT_CTL_H */
