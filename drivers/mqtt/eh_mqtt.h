/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt.h - the daemon's MQTT connection, behind struct eh_mqtt_ops.
 * Backends: Eclipse Paho MQTT C, MQTTAsync (eh_mqtt_paho.h), and
 * tests/fakes/eh_mqtt_fake.h. A backend hands messages to the loop thread
 * through a bounded window: at most `window` messages are taken and not
 * yet eh_mqtt_done, none while paused, so memory stays bounded and the
 * broker holds what we have not taken. Polling is explicit: the owner of
 * the loop's on_wake calls eh_mqtt_poll; no backend installs itself as a
 * loop handler. Durability: docs/DURABILITY.md. The pure helpers (topic
 * matcher, TLS checks, the retained snapshot) are plain functions. The
 * inbound journal is the app's (app/journal), reached through a hook. */
#ifndef EH_MQTT_H
#define EH_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_assert.h"
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
 * Paho's TLS build, loaded only for such a uri: eh_mqtt_lib.h). TLS 1.2 or later; TLS 1.2 only with
 * ECDHE and AEAD suites. Paths are borrowed like the config's strings. */
struct eh_mqtt_tls {
	const char *ca_file;   /* PEM trust anchors for the broker's certificate; required */
	const char *cert_file; /* PEM client certificate (mutual TLS); NULL: none */
	const char *key_file;  /* its PEM private key, not encrypted; set with cert_file */
	bool no_verify_host;   /* true: accept a certificate for another name (warned at open) */
};

/* The journal a backend writes through (the file is the app's). append
 * runs in the library thread, done in the loop thread, never under the
 * backend's own lock. */
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
	/* The inbound journal (docs/DURABILITY.md): each message the library
	 * hands over is given to journal.append in the library thread before it
	 * waits for the window, so a kill -9 after the PUBACK loses only the
	 * microseconds before that call. append NULL: no journal. */
	struct eh_mqtt_journal_hook journal;
};

/* One message handed to the app: the backend's own (opaque here). Valid
 * from on_message until eh_mqtt_done. */
struct eh_mqtt_msg;

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

/* Load the TLS files of t as a connection will, so that a bad one is found
 * at start (and by --check-config) rather than at every connect: ca_file
 * must hold at least one PEM certificate, cert_file a PEM certificate and
 * key_file an unencrypted PEM private key that belongs to it. NULL paths
 * are not checked. The files are read with the OpenSSL of Paho's TLS build,
 * which this loads (nothing is loaded when every path is NULL). On failure
 * *bad_key is "ca_file", "cert_file" or "key_file" and why (cap bytes) says
 * what is wrong: EH_ERR_NOENT (missing), EH_ERR_IO (unreadable),
 * EH_ERR_INVAL (not PEM, or the key does not match the certificate); or
 * *bad_key is NULL with EH_ERR_NOENT when the TLS build cannot be loaded
 * (why names the library). Any thread; allocates only inside OpenSSL,
 * freed here. */
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
 * on a bad cfg, EH_ERR_NOENT when the library the uri needs cannot be loaded
 * (logged): in those cases the topics seen so far are not the whole set. */
eh_err eh_mqtt_retained_snapshot(const struct eh_mqtt_config *cfg, const char *filter,
				 const char *fence_topic, unsigned timeout_ms, eh_mqtt_topic_fn fn,
				 void *ctx);

/* The same under several filters (1..EH_MQTT_MAX_SUBS, one SUBSCRIBE):
 * the device's config and each fleet's webhooks. fence_topic must match
 * one of them. EH_ERR_INVAL also for 0 or too many filters. */
eh_err eh_mqtt_retained_snapshot_many(const struct eh_mqtt_config *cfg, const char *const *filters,
				      size_t nfilters, const char *fence_topic, unsigned timeout_ms,
				      eh_mqtt_topic_fn fn, void *ctx);

struct eh_mqtt;

/* What a backend implements; the inline wrappers below are what callers
 * use. Every op is called in the loop thread only. */
struct eh_mqtt_ops {
	eh_err (*open)(struct eh_mqtt *m, const struct eh_mqtt_config *cfg, struct eh_loop *loop,
		       const struct eh_mqtt_handlers *h);
	void (*poll)(struct eh_mqtt *m);
	eh_err (*publish)(struct eh_mqtt *m, const char *topic, const void *payload, size_t len,
			  int qos, bool retain);
	eh_err (*publish_tracked)(struct eh_mqtt *m, const char *topic, const void *payload,
				  size_t len, uint64_t tag);
	void (*done)(struct eh_mqtt *m, struct eh_mqtt_msg *msg);
	void (*pause)(struct eh_mqtt *m);
	void (*resume)(struct eh_mqtt *m);
	void (*get_stats)(struct eh_mqtt *m, struct eh_mqtt_stats *out);
	void (*close)(struct eh_mqtt *m);
};

/* Caller allocates (static: a backend's state can be large); a backend's
 * *_init() fills it (eh_mqtt_paho_init, eh_mqtt_fake_init), and the
 * fields are read-only afterwards. `state` is the backend's storage,
 * provided by the caller; it must outlive m. A zeroed, never initialised
 * m may be closed (nothing happens). */
struct eh_mqtt {
	const struct eh_mqtt_ops *ops;
	void *state;
	const char *name; /* "paho", "fake": for logs */
};

/* Create the client and start connecting (asynchronously): MQTT v5 with
 * clean start off and a session expiry (3.1.1 with clean session off when
 * the broker refuses v5), the last will, QoS 1 subscriptions sent on every
 * connect, reconnection with a doubling delay capped at reconnect_max_s.
 * Nothing is installed on the loop for the handlers: the owner of the
 * loop's on_wake calls eh_mqtt_poll(m) from it (a backend wakes the loop
 * when it has something; the loop's timers serve the reconnect delay).
 * EH_ERR_INVAL on a bad config (no uri/client_id, too many subs, qos out of
 * range, window too large, a TLS uri without tls.ca_file, cert_file without
 * key_file), EH_ERR_NOENT when the Paho build the uri needs (plain for
 * tcp://, TLS for mqtts://) cannot be loaded or lacks a function (one error
 * line names the library and the symbol), EH_ERR_NET when the library
 * refuses. With TLS and
 * tls.no_verify_host it logs a warning: any certificate the CA signed is
 * accepted for the broker. m, cfg's strings, loop and h must outlive
 * eh_mqtt_close. May be called again after eh_mqtt_close. Loop thread
 * only. */
static inline eh_err eh_mqtt_open(struct eh_mqtt *m, const struct eh_mqtt_config *cfg,
				  struct eh_loop *loop, const struct eh_mqtt_handlers *h)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	return m->ops->open(m, cfg, loop, h);
}

/* Hand over what arrived (messages, connect/disconnect, tracked publishes'
 * outcomes) to the handlers. Call it from the loop's on_wake. Loop thread
 * only; cheap when there is nothing. */
static inline void eh_mqtt_poll(struct eh_mqtt *m)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	m->ops->poll(m);
}

/* Queue a publish (the Paho backend's worker thread hands it to the
 * library: the loop thread never calls into Paho, docs/MQTT.md). Copies
 * topic and payload. EH_ERR_CLOSED when not connected (nothing is kept:
 * the app republishes its retained topics on connect), EH_ERR_AGAIN when
 * the outbox is full (retry later), EH_ERR_TOOBIG when larger than the
 * outbox, EH_ERR_INVAL on bad arguments. A publish the library refuses
 * later is counted in publish_dropped. */
static inline eh_err eh_mqtt_publish(struct eh_mqtt *m, const char *topic, const void *payload,
				     size_t len, int qos, bool retain)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	return m->ops->publish(m, topic, payload, len, qos, retain);
}

/* A QoS 1 publish whose outcome matters (a dead letter): like
 * eh_mqtt_publish, not retained, and h->on_published(tag, ok) reports the
 * broker's PUBACK or the failure later, from eh_mqtt_poll. EH_ERR_CLOSED
 * when not connected, EH_ERR_AGAIN when the outbox or the table of tracked
 * publishes (EH_MQTT_MAX_TRACKED) is full, EH_ERR_TOOBIG, EH_ERR_INVAL: in
 * each of those cases nothing was queued and on_published is not called. */
static inline eh_err eh_mqtt_publish_tracked(struct eh_mqtt *m, const char *topic,
					     const void *payload, size_t len, uint64_t tag)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	return m->ops->publish_tracked(m, topic, payload, len, tag);
}

/* The message handed to on_message is taken: staged in the app's queue,
 * or refused, or not wanted (what that covers: docs/DURABILITY.md). Frees
 * its place in the window and tells the journal hook its entry is done: a
 * backend waiting for room goes on. */
static inline void eh_mqtt_done(struct eh_mqtt *m, struct eh_mqtt_msg *msg)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	m->ops->done(m, msg);
}

/* Backpressure: stop handing over messages (the Paho backend's library
 * thread waits, so the broker keeps the rest) / start again. */
static inline void eh_mqtt_pause(struct eh_mqtt *m)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	m->ops->pause(m);
}

static inline void eh_mqtt_resume(struct eh_mqtt *m)
{
	EH_ASSERT(m != NULL && m->ops != NULL);
	m->ops->resume(m);
}

static inline void eh_mqtt_get_stats(struct eh_mqtt *m, struct eh_mqtt_stats *out)
{
	EH_ASSERT(m != NULL && m->ops != NULL && out != NULL);
	m->ops->get_stats(m, out);
}

/* Disconnect and free the client. Publishes nothing (the app publishes
 * {"state":"offline"} first). Messages the library already took are handed
 * to on_message during close, so the app must commit after close returns;
 * messages not yet eh_mqtt_done are released. Idempotent; nothing on a
 * never-opened m, nor on a zeroed one no backend initialised. */
static inline void eh_mqtt_close(struct eh_mqtt *m)
{
	EH_ASSERT(m != NULL);
	if (m->ops != NULL)
		m->ops->close(m);
}

#endif /* EH_MQTT_H */
