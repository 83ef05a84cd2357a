/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_paho.h - the Paho MQTT C (MQTTAsync) backend of eh_mqtt.h: its
 * state and its init. Messages cross from the library's receive thread to
 * the loop thread through the window of slots; the library thread waits
 * while the window is full or paused. The inbound journal is written in
 * the library thread through the config's hook (docs/MQTT.md). */
#ifndef EH_MQTT_PAHO_H
#define EH_MQTT_PAHO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_mqtt.h"

struct eh_mqtt_lib;

/* One message handed to the app. Valid from on_message until eh_mqtt_done. */
struct eh_mqtt_msg {
	/* internal */
	void *lib_msg;			  /* the library's message (payload, properties) */
	char *lib_topic;		  /* the library's topic string */
	uint64_t taken_us;		  /* when the library thread took it (ack already sent) */
	uint8_t state;			  /* free, filled (waiting for the loop), handed */
	uint64_t jseq;			  /* its journal entry's number; 0: none */
	uint8_t idx;			  /* slot index */
	char hmac[EH_MQTT_HMAC_PROP_MAX]; /* the user property, "" when absent */
};

/* One tracked publish (internal). */
struct eh_mqtt_track {
	struct eh_mqtt_paho *m;
	uint64_t tag;  /* the caller's, handed back to on_published */
	uint8_t state; /* free, queued, sent, acknowledged, failed */
};

struct eh_mqtt_paho {
	/* caller may set after eh_mqtt_paho_init (tests): the library to load instead of the
	 * build the uri needs (eh_mqtt_lib.h); NULL: by the uri */
	const char *lib_name;
	/* internal: set by eh_mqtt_open */
	const struct eh_mqtt_lib *lib; /* Paho, loaded for the uri; kept after close */
	struct eh_mqtt_config cfg;
	struct eh_mqtt_handlers h;
	struct eh_loop *loop;
	void *client;	    /* MQTTAsync handle */
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* signalled on done, resume, close, outbox progress */
	pthread_cond_t wcv; /* wakes the worker thread */
	pthread_t worker;   /* the only caller of Paho's API outside its callbacks */
	unsigned cmds;	    /* CMD_* bits for the worker */
	bool wstop;
	_Alignas(
	    8) uint8_t outbox[EH_MQTT_OUTBOX_BYTES]; /* queued publishes, packed, oldest first */
	size_t out_len;
	struct eh_mqtt_msg slots[EH_MQTT_MAX_WINDOW];
	uint8_t fifo[EH_MQTT_MAX_WINDOW]; /* filled slots in arrival order */
	unsigned fifo_head, fifo_n;
	unsigned nfree;	 /* free slots */
	unsigned undone; /* filled or handed, not yet done */
	bool paused;	 /* eh_mqtt_pause: the library thread waits */
	bool closing;	 /* eh_mqtt_close in progress: take even when paused */
	bool dead;	 /* close gave up: drop what arrives */
	bool waiting;	 /* the library thread waits for room */
	unsigned events; /* EV_* bits for the loop thread */
	bool session_present;
	bool link_up;	      /* as Paho's threads last saw it */
	bool fallback_done;   /* switched to 3.1.1 */
	unsigned backoff_s;   /* next reconnect delay (initial connect) */
	uint32_t retry_timer; /* eh_loop timer id, 0 = none */
	struct eh_mqtt_stats st;
	bool tls;	   /* the uri asks for TLS */
	char tls_err[192]; /* OpenSSL's reason for the last failed handshake (mu) */
	struct eh_mqtt_track track[EH_MQTT_MAX_TRACKED];
	bool open;
};

/* Cannot fail. st (1.4 MiB: keep it static) must outlive m; eh_mqtt_open
 * sets it up. */
void eh_mqtt_paho_init(struct eh_mqtt *m, struct eh_mqtt_paho *st);

#endif /* EH_MQTT_PAHO_H */
