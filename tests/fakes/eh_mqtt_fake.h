/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_fake.h - a broker and client in memory behind struct eh_mqtt:
 * no threads, no sockets. The test injects messages (topic, payload, the
 * hmac-sha256 property), connects and disconnects; eh_mqtt_poll hands
 * them to the handlers in order, and, as the Paho backend's window does,
 * never hands one over while `window` handed messages are not yet done,
 * nor while paused (but see `prefetch`). Publishes, done calls and the pause
 * state are recorded for the test to read. Tracked publishes are reported
 * only when the test says so (eh_mqtt_fake_report). Injecting, resuming
 * and a done that frees room wake the loop, as the library thread does. */
#ifndef EH_MQTT_FAKE_H
#define EH_MQTT_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_mqtt.h"

#define EH_MQTT_FAKE_MAX_MSGS 256		/* injected since the last time all were done */
#define EH_MQTT_FAKE_ARENA (2u * 1024u * 1024u) /* their topics and payloads */
#define EH_MQTT_FAKE_MAX_PUBS 64		/* publishes recorded; later ones are counted */
#define EH_MQTT_FAKE_PUB_BYTES 512		/* payload bytes kept of each */

/* One injected message: the fake's eh_mqtt_msg. */
struct eh_mqtt_msg {
	unsigned id;   /* 1, 2, ... in injection order, never reused */
	uint8_t state; /* waiting, handed, done */
	size_t topic;  /* offset of the NUL-terminated topic in the arena */
	size_t payload;
	size_t len;
	bool has_hmac;
	char hmac[EH_MQTT_HMAC_PROP_MAX];
};

struct eh_mqtt_fake_pub {
	char topic[EH_MQTT_TOPIC_MAX + 1];
	uint8_t payload[EH_MQTT_FAKE_PUB_BYTES]; /* the first bytes of it */
	size_t len;				 /* its whole length */
	int qos;
	bool retain;
	bool tracked;
	uint64_t tag;  /* tracked only */
	bool reported; /* tracked: on_published was called */
};

struct eh_mqtt_fake {
	/* test fills (after init) */
	eh_err publish_result; /* EH_OK, or what every publish returns (nothing recorded) */
	/* As the Paho backend's library thread: when pause comes, the waiting
	 * messages that fit the free places of the window are already taken,
	 * and are still handed over (the app holds them). false: pause stops
	 * every hand-over at once. */
	bool prefetch;
	/* observed */
	struct eh_mqtt_fake_pub pubs[EH_MQTT_FAKE_MAX_PUBS];
	size_t npubs;			      /* recorded */
	uint64_t publishes;		      /* accepted, recorded or not */
	unsigned done[EH_MQTT_FAKE_MAX_MSGS]; /* ids in the order eh_mqtt_done saw them */
	size_t ndone;
	bool paused;
	unsigned pauses, resumes; /* calls that changed the state */
	unsigned undone;	  /* handed and not yet done */
	unsigned undone_max;
	bool open;
	bool connected;
	unsigned window; /* from the config at open */
	/* internal */
	struct eh_mqtt_config cfg;
	struct eh_mqtt_handlers h;
	struct eh_loop *loop;
	struct eh_mqtt_msg msgs[EH_MQTT_FAKE_MAX_MSGS];
	size_t nmsgs, next; /* injected; the first not yet handed */
	size_t taken_upto;  /* prefetch: handed over even while paused, below this */
	unsigned next_id;
	size_t arena_used;
	int link; /* 1: connect pending, -1: disconnect pending, 0: none */
	bool session_present;
	bool report_pending;
	bool report_ok;
	struct eh_mqtt_stats st;
	uint8_t arena[EH_MQTT_FAKE_ARENA];
};

/* Cannot fail. f (large: keep it static) must outlive m. Resets f. */
void eh_mqtt_fake_init(struct eh_mqtt *m, struct eh_mqtt_fake *f);

/* A message from the broker, handed over by a later eh_mqtt_poll. hmac:
 * the hmac-sha256 property, NULL when absent. The id it will carry
 * (struct eh_mqtt_msg.id), or 0 when the fake is full (more than
 * EH_MQTT_FAKE_MAX_MSGS not yet all done, or the arena). */
unsigned eh_mqtt_fake_inject(struct eh_mqtt_fake *f, const char *topic, const void *payload,
			     size_t len, const char *hmac);

/* The connection comes up (on_connect at the next poll; publishes are
 * accepted from now on) or goes down (on_disconnect; publishes answer
 * EH_ERR_CLOSED). */
void eh_mqtt_fake_connect(struct eh_mqtt_fake *f, bool session_present);
void eh_mqtt_fake_disconnect(struct eh_mqtt_fake *f);

/* The broker answers every tracked publish not yet reported: at the next
 * poll, on_published(tag, ok) once each. */
void eh_mqtt_fake_report(struct eh_mqtt_fake *f, bool ok);

/* Whether message id was done; its position in the done order (0-based),
 * or -1. */
int eh_mqtt_fake_done_pos(const struct eh_mqtt_fake *f, unsigned id);

/* Messages injected and not yet handed over. */
size_t eh_mqtt_fake_waiting(const struct eh_mqtt_fake *f);

#endif /* EH_MQTT_FAKE_H */
