/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt.h - the daemon's MQTT connection (backend: Eclipse Paho MQTT C,
 * MQTTAsync). Messages cross from the library's receive thread to the loop
 * thread through a bounded hand-off window: the library thread waits while
 * the window is full or paused, so memory stays bounded and the broker
 * holds what we have not taken. Durability: docs/DURABILITY.md. */
#ifndef EH_MQTT_H
#define EH_MQTT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"
#include "eh_loop.h"

#ifndef EH_MQTT_MAX_SUBS
#define EH_MQTT_MAX_SUBS 12 /* subscriptions per connection (5 + the fleets') */
#endif
#ifndef EH_MQTT_MAX_WINDOW
#define EH_MQTT_MAX_WINDOW 64 /* most messages taken and not yet eh_mqtt_done */
#endif
#ifndef EH_MQTT_OUTBOX_BYTES
/* Publishes waiting for the worker thread: room for the largest dead letter
 * (a whole POST body, EH_DELIVERY_BODY_MAX) with its topic. */
#define EH_MQTT_OUTBOX_BYTES (1344u * 1024u)
#endif
#ifndef EH_MQTT_MAX_TRACKED
#define EH_MQTT_MAX_TRACKED 128 /* tracked publishes waiting for the broker's answer */
#endif
#define EH_MQTT_HMAC_PROP_MAX 129 /* "hmac-sha256" user property value, with NUL */
#define EH_MQTT_DEFAULT_WINDOW 16

/* TLS to the broker, used when the uri is mqtts:// or ssl:// (OpenSSL, inside
 * Paho's TLS build). TLS 1.2 or later; TLS 1.2 only with ECDHE and AEAD
 * suites. Paths are borrowed like the config's strings. */
struct eh_mqtt_tls {
	const char *ca_file;   /* PEM trust anchors for the broker's certificate; required */
	const char *cert_file; /* PEM client certificate (mutual TLS); NULL: none */
	const char *key_file;  /* its PEM private key, not encrypted; set with cert_file */
	bool no_verify_host;   /* true: accept a certificate for another name (warned at open) */
};

/* The journal the driver writes through (the file is the app's). append
 * runs in the library thread, done in the loop thread, never both under
 * the driver's lock. */
struct eh_mqtt_journal_hook {
	/* Keep one message; true with *seq (its entry's number) when it is
	 * kept, false when not (the message goes on unjournalled, counted in
	 * not_journalled). */
	bool (*append)(void *ctx, const char *topic, const char *hmac, const void *payload,
		       size_t len, uint64_t *seq);
	/* The app called eh_mqtt_done for the message of entry seq. */
	void (*done)(void *ctx, uint64_t seq);
	void *ctx;
};

/* Caller fills; zero means default. Strings are borrowed and must stay valid
 * until eh_mqtt_close(). */
struct eh_mqtt_config {
	const char *uri;	   /* "tcp://127.0.0.1:1883" [this] */
	const char *client_id;	   /* required: the persistent session's key */
	const char *username;	   /* NULL: none */
	const char *password;	   /* NULL: none; never logged */
	struct eh_mqtt_tls tls;	   /* for mqtts:// and ssl:// only */
	unsigned keepalive_s;	   /* [30] */
	const char *will_topic;	   /* "P/status"; NULL: no last will */
	const char *will_payload;  /* [{"state":"offline"}], published retained, QoS 1 */
	const char *const *subs;   /* topic filters, wildcards allowed */
	const int *subs_qos;	   /* per filter 0..2; NULL: all QoS 1 */
	size_t nsubs;		   /* <= EH_MQTT_MAX_SUBS */
	unsigned session_expiry_s; /* MQTT v5 session expiry [604800 = 7 days] */
	unsigned window;	   /* hand-off window [16], 1..EH_MQTT_MAX_WINDOW */
	unsigned reconnect_min_s;  /* first reconnect delay [1] */
	unsigned reconnect_max_s;  /* cap of the doubling delay [30] */
	int mqtt_version;	   /* 0: v5, falling back to 3.1.1 if refused; 4: 3.1.1 only */
	/* MQTT v5 Maximum Packet Size sent in CONNECT: a v5 broker never sends
	 * a bigger packet, so a huge message never reaches Paho's buffers.
	 * [EH_MQTT_MAX_PACKET_BYTES]; 3.1.1 has no such field (warned at
	 * connect: the broker's own limit is the only guard). */
	uint32_t max_packet_bytes;
	bool start_paused; /* as if eh_mqtt_pause was called before the first message */
	/* The inbound journal (docs/DURABILITY.md): each message Paho hands
	 * over is given to journal.append in the library thread before it waits
	 * for the window, so a kill -9 after Paho's PUBACK loses only the
	 * microseconds before that call. append NULL: no journal. */
	struct eh_mqtt_journal_hook journal;
};

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

/* Called in the loop thread only. */
struct eh_mqtt_handlers {
	/* A message. topic is NUL-terminated; payload is len bytes (not
	 * terminated); hmac_prop is the MQTT v5 user property "hmac-sha256" or
	 * NULL. All pointers stay valid until eh_mqtt_done(m) - the app calls it
	 * exactly once per message, after the message is durable in its queue
	 * (or was refused, or needs no storage). */
	void (*on_message)(void *ctx, const char *topic, const uint8_t *payload, size_t len,
			   const char *hmac_prop, struct eh_mqtt_msg *m);
	/* Connected (first time or after a reconnect); subscriptions are sent. */
	void (*on_connect)(void *ctx, bool session_present);
	/* The connection is lost; the driver reconnects by itself. */
	void (*on_disconnect)(void *ctx);
	/* A tracked publish (eh_mqtt_publish_tracked) ended: ok when the broker
	 * acknowledged it (PUBACK), false when it was refused or could not be
	 * sent. Called once per tracked publish that the driver handed to the
	 * library, possibly never for one in flight when the client is closed. */
	void (*on_published)(void *ctx, uint64_t tag, bool ok);
	void *ctx;
};

/* One tracked publish (internal). */
struct eh_mqtt_track {
	struct eh_mqtt *m;
	uint64_t tag;  /* the caller's, handed back to on_published */
	uint8_t state; /* free, queued, sent, acknowledged, failed */
};

/* Figures for P/status and docs/MQTT.md. Read with eh_mqtt_get_stats. */
struct eh_mqtt_stats {
	uint64_t received;	   /* messages taken from the library */
	uint64_t done;		   /* eh_mqtt_done calls */
	uint64_t dropped_on_close; /* taken by the library at close, never handed over */
	uint64_t connects;	   /* successful connects, the first included */
	uint64_t disconnects;	   /* connections lost */
	uint64_t connect_failures;
	uint64_t published;	  /* handed to the library by the worker thread */
	uint64_t publish_dropped; /* queued, then the connection was gone */
	uint64_t tracked_ok;	  /* tracked publishes the broker acknowledged */
	uint64_t tracked_failed;  /* tracked publishes refused or never sent */
	uint64_t refused;	  /* dropped by the driver: topic over EH_MQTT_TOPIC_MAX or
				     holding a NUL byte */
	uint64_t not_journalled;  /* handed over without a journal entry (payload over
				     EH_MAX_MSG_BYTES: the app refuses it) or append failed */
	uint64_t window_max_us;	  /* longest taken -> done: broker acked, not yet durable */
	uint64_t window_sum_us;	  /* sum over `done`, for the mean */
	uint64_t waited_us;	  /* time the library thread waited for room or resume */
	unsigned undone_max;	  /* peak messages taken and not yet done */
	int mqtt_version;	  /* 5 or 4 (3.1.1) of the current connection; 0 before */
	bool connected;
};

struct eh_mqtt {
	/* internal: set by eh_mqtt_open */
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

/* Load the TLS files of t as a connection will, so that a bad one is found
 * at start (and by --check-config) rather than at every connect: ca_file
 * must hold at least one PEM certificate, cert_file a PEM certificate and
 * key_file an unencrypted PEM private key that belongs to it. NULL paths
 * are not checked. On failure *bad_key is "ca_file", "cert_file" or
 * "key_file" and why (cap bytes) says what is wrong: EH_ERR_NOENT (missing),
 * EH_ERR_IO (unreadable), EH_ERR_INVAL (not PEM, or the key does not match
 * the certificate). Any thread; allocates only inside OpenSSL, freed here. */
eh_err eh_mqtt_tls_check(const struct eh_mqtt_tls *t, const char **bad_key, char *why, size_t cap);

/* True for the uri schemes that mean TLS (mqtts://, ssl://). */
bool eh_mqtt_uri_is_tls(const char *uri);

/* Whether topic matches the subscription filter (MQTT 4.7: '+' one level,
 * '#' the rest including the parent level, "$" topics only literally).
 * Pure; both strings NUL-terminated. */
bool eh_mqtt_topic_matches(const char *filter, const char *topic);

/* A retained message's topic, for eh_mqtt_retained_snapshot. */
typedef void (*eh_mqtt_topic_fn)(void *ctx, const char *topic);

/* The topics of every non-empty retained message under filter, read once on
 * a short-lived clean connection (client id cfg->client_id + "-sync", the
 * uri, credentials and version of cfg): the broker sends them on subscribe,
 * then routes back our fence message on fence_topic (which filter must
 * match), which marks the end. fn(ctx, topic) is called once per message,
 * from the library's thread while the caller waits. Blocks up to
 * timeout_ms: for start-up, before the loop runs. EH_OK when the fence came
 * back (the list is complete); EH_ERR_TIMEOUT when the broker did not answer
 * in time, EH_ERR_NET when it refused or could not be reached, EH_ERR_INVAL
 * on a bad cfg: in those cases the topics seen so far are not the whole
 * set. */
eh_err eh_mqtt_retained_snapshot(const struct eh_mqtt_config *cfg, const char *filter,
				 const char *fence_topic, unsigned timeout_ms, eh_mqtt_topic_fn fn,
				 void *ctx);

/* The same under several filters (1..EH_MQTT_MAX_SUBS, one SUBSCRIBE):
 * the device's config and each fleet's webhooks. fence_topic must match
 * one of them. EH_ERR_INVAL also for 0 or too many filters. */
eh_err eh_mqtt_retained_snapshot_many(const struct eh_mqtt_config *cfg,
				      const char *const *filters, size_t nfilters,
				      const char *fence_topic, unsigned timeout_ms,
				      eh_mqtt_topic_fn fn, void *ctx);

/* Create the client and start connecting (asynchronously): MQTT v5 with
 * clean start off and a session expiry (3.1.1 with clean session off when
 * the broker refuses v5), the last will, QoS 1 subscriptions sent on every
 * connect, reconnection with a doubling delay capped at reconnect_max_s.
 * Installs eh_mqtt_poll as the loop's on_wake when none is set; otherwise
 * the owner of on_wake must call eh_mqtt_poll(m) from it.
 * EH_ERR_INVAL on a bad config (no uri/client_id, too many subs, qos out of
 * range, window too large, a TLS uri without tls.ca_file, cert_file without
 * key_file), EH_ERR_NET when the library refuses. With TLS and
 * tls.no_verify_host it logs a warning: any certificate the CA signed is
 * accepted for the broker. m, cfg's
 * strings, loop and h must outlive eh_mqtt_close. Loop thread only. */
eh_err eh_mqtt_open(struct eh_mqtt *m, const struct eh_mqtt_config *cfg, struct eh_loop *loop,
		    const struct eh_mqtt_handlers *h);

/* Hand over what arrived (messages, connect/disconnect) to the handlers.
 * Loop thread only; cheap when there is nothing. */
void eh_mqtt_poll(struct eh_mqtt *m);

/* Queue a publish for the driver's worker thread, which hands it to the
 * library (the loop thread never calls into Paho: see docs/MQTT.md). Loop
 * thread only. Copies topic and payload into the outbox. EH_ERR_CLOSED when
 * not connected (nothing is kept: the app republishes its retained topics
 * on connect), EH_ERR_AGAIN when the outbox is full (retry later),
 * EH_ERR_TOOBIG when larger than EH_MQTT_OUTBOX_BYTES, EH_ERR_INVAL on bad
 * arguments. A publish the library refuses later is counted in
 * publish_dropped. */
eh_err eh_mqtt_publish(struct eh_mqtt *m, const char *topic, const void *payload, size_t len,
		       int qos, bool retain);

/* A QoS 1 publish whose outcome matters (a dead letter): like
 * eh_mqtt_publish, not retained, and h->on_published(tag, ok) reports the
 * broker's PUBACK or the failure later, in the loop thread. EH_ERR_CLOSED
 * when not connected, EH_ERR_AGAIN when the outbox or the table of tracked
 * publishes (EH_MQTT_MAX_TRACKED) is full, EH_ERR_TOOBIG, EH_ERR_INVAL: in
 * each of those cases nothing was queued and on_published is not called. */
eh_err eh_mqtt_publish_tracked(struct eh_mqtt *m, const char *topic, const void *payload,
			       size_t len, uint64_t tag);

/* The message handed to on_message is taken: staged in the app's queue,
 * or refused (what that covers: docs/DURABILITY.md). Frees its slot, tells
 * the journal hook; a library thread waiting for room goes on. Loop thread
 * only. */
void eh_mqtt_done(struct eh_mqtt *m, struct eh_mqtt_msg *msg);

/* Backpressure: stop taking messages (the library thread waits, so the
 * broker keeps the rest) / start again. Loop thread only. */
void eh_mqtt_pause(struct eh_mqtt *m);
void eh_mqtt_resume(struct eh_mqtt *m);

void eh_mqtt_get_stats(struct eh_mqtt *m, struct eh_mqtt_stats *out);

/* Disconnect and free the client. Publishes nothing (the app publishes
 * {"state":"offline"} first). Messages the library already took are handed
 * to on_message during close, so the app must commit after close returns;
 * messages not yet eh_mqtt_done are released. Safe on a never-opened m
 * zeroed by the caller. Loop thread only. */
void eh_mqtt_close(struct eh_mqtt *m);

#endif /* EH_MQTT_H */
