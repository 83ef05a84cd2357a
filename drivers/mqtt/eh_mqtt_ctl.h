/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_ctl.h - a short-lived MQTT v5 client for edgehookctl: connect,
 * subscribe, publish and take messages one by one, each call waiting with a
 * deadline (backend: Paho MQTTAsync). One client per process; the daemon's
 * connection is eh_mqtt.h. */
#ifndef EH_MQTT_CTL_H
#define EH_MQTT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_mqtt.h"

struct eh_mqtt_ctl_config {
	const char *uri;       /* tcp://, mqtt://, mqtts:// or ssl:// */
	const char *client_id; /* required; the session is clean and not kept */
	const char *username;  /* NULL: none */
	const char *password;  /* NULL: none */
	bool use_tls;	       /* mqtts:// or ssl:// */
	struct eh_mqtt_tls tls;
};

/* One message taken with eh_mqtt_ctl_next. */
struct eh_mqtt_ctl_msg {
	char topic[EH_MQTT_TOPIC_MAX];
	const uint8_t *payload; /* len bytes, NUL-terminated; valid until the next call */
	size_t len;
	bool retained; /* a retained message sent at subscribe, not a live publish */
};

/* Connect (MQTT v5, clean start), waiting at most timeout_ms. EH_ERR_NET or
 * EH_ERR_TLS when the broker cannot be reached, EH_ERR_PERM when it refuses
 * the credentials, EH_ERR_TIMEOUT. */
eh_err eh_mqtt_ctl_open(const struct eh_mqtt_ctl_config *c, unsigned timeout_ms);

/* Subscribe to filter at QoS 1 and wait for the broker's answer. */
eh_err eh_mqtt_ctl_subscribe(const char *filter, unsigned timeout_ms);

/* Publish len bytes at QoS 1 and wait for the PUBACK. hmac: the
 * "hmac-sha256" user property, NULL for none. */
eh_err eh_mqtt_ctl_publish(const char *topic, const void *payload, size_t len, bool retained,
			   const char *hmac, unsigned timeout_ms);

/* Take the next message, waiting at most timeout_ms. EH_OK with *m filled,
 * EH_ERR_TIMEOUT when none came, EH_ERR_CLOSED when the connection is lost. */
eh_err eh_mqtt_ctl_next(struct eh_mqtt_ctl_msg *m, unsigned timeout_ms);

/* Disconnect and free the client. */
void eh_mqtt_ctl_close(void);

#endif /* EH_MQTT_CTL_H */
