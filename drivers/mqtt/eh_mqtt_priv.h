/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_priv.h - what the two files of the MQTT driver share: the TLS
 * options handed to Paho (eh_mqtt_tls.c) and the timed waits of
 * eh_mqtt_paho.c and eh_mqtt_snapshot.c. Not for callers of eh_mqtt.h. */
#ifndef EH_MQTT_PRIV_H
#define EH_MQTT_PRIV_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <time.h>

#include "eh_mqtt_paho.h"

/* Fill o with t's files, the host check and the cipher floor (o starts as
 * MQTTAsync_SSLOptions_initializer); no callbacks. Paho copies every string
 * at MQTTAsync_connect. */
void eh_mqtt_tls_ssl_options(const struct eh_mqtt_tls *t, MQTTAsync_SSLOptions *o);

/* Fill o for m's TLS connection (o starts as MQTTAsync_SSLOptions_initializer).
 * Paho copies every string at MQTTAsync_connect. */
void eh_mqtt_tls_options(struct eh_mqtt_paho *m, MQTTAsync_SSLOptions *o);

/* A connect over TLS failed with Paho's code and MQTT v5 reason (Paho's
 * thread): log one line with the TLS reason and what it means for the
 * operator (which file or key to look at), then forget it. Nothing is
 * logged for a failure below TLS (TCP) or above it (a CONNACK refusal). */
void eh_mqtt_tls_explain(struct eh_mqtt_paho *m, int code, int reason_code);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC, and an
 * absolute deadline ms from now on that clock: a wall clock that jumps
 * (NTP at boot on a box without RTC) neither stretches nor cuts a wait. */
void eh_mqtt_cond_init(pthread_cond_t *cv);
void eh_mqtt_deadline_in(struct timespec *ts, unsigned ms);

#endif /* EH_MQTT_PRIV_H */
