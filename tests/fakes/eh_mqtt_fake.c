/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_fake.c - see eh_mqtt_fake.h. */
#include "eh_mqtt_fake.h"

#include <string.h>

#include "eh_assert.h"
#include "eh_loop.h"

#define MSG_WAITING 0
#define MSG_HANDED 1
#define MSG_DONE 2

static struct eh_mqtt_fake *fake_of(struct eh_mqtt *m)
{
	return m->state;
}

static void wake(struct eh_mqtt_fake *f)
{
	if (f->open && f->loop != NULL)
		eh_loop_wake(f->loop);
}

static eh_err fake_open(struct eh_mqtt *m, const struct eh_mqtt_config *cfg, struct eh_loop *loop,
			const struct eh_mqtt_handlers *h)
{
	struct eh_mqtt_fake *f = fake_of(m);

	EH_ASSERT(cfg != NULL && loop != NULL && h != NULL);
	if (cfg->client_id == NULL || cfg->client_id[0] == '\0' || h->on_message == NULL ||
	    cfg->window > EH_MQTT_MAX_WINDOW || cfg->nsubs > EH_MQTT_MAX_SUBS)
		return EH_ERR_INVAL;
	f->cfg = *cfg;
	f->h = *h;
	f->loop = loop;
	f->window = cfg->window ? cfg->window : EH_MQTT_DEFAULT_WINDOW;
	f->paused = cfg->start_paused;
	f->open = true;
	return EH_OK;
}

/* The messages that fit the window, in order; pause stops it at once
 * (on_message may pause), but for those already taken (prefetch). */
static void hand_over(struct eh_mqtt_fake *f)
{
	while (f->open && f->next < f->nmsgs && (!f->paused || f->next < f->taken_upto) &&
	       f->undone < f->window) {
		struct eh_mqtt_msg *s = &f->msgs[f->next++];

		s->state = MSG_HANDED;
		f->undone++;
		if (f->undone > f->undone_max)
			f->undone_max = f->undone;
		f->st.received++;
		if (f->undone > f->st.undone_max)
			f->st.undone_max = f->undone;
		f->h.on_message(f->h.ctx, (const char *)f->arena + s->topic, f->arena + s->payload,
				s->len, s->has_hmac ? s->hmac : NULL, s);
	}
}

static void report(struct eh_mqtt_fake *f)
{
	bool ok = f->report_ok;

	f->report_pending = false;
	for (size_t i = 0; i < f->npubs; i++) {
		struct eh_mqtt_fake_pub *p = &f->pubs[i];
		if (!p->tracked || p->reported)
			continue;
		p->reported = true;
		if (ok)
			f->st.tracked_ok++;
		else
			f->st.tracked_failed++;
		if (f->h.on_published != NULL)
			f->h.on_published(f->h.ctx, p->tag, ok);
	}
}

static void fake_poll(struct eh_mqtt *m)
{
	struct eh_mqtt_fake *f = fake_of(m);

	if (!f->open)
		return;
	if (f->link > 0) {
		f->link = 0;
		f->connected = true;
		f->st.connected = true;
		f->st.connects++;
		f->st.mqtt_version = 5;
		if (f->h.on_connect != NULL)
			f->h.on_connect(f->h.ctx, f->session_present);
	} else if (f->link < 0) {
		f->link = 0;
		f->connected = false;
		f->st.connected = false;
		f->st.disconnects++;
		if (f->h.on_disconnect != NULL)
			f->h.on_disconnect(f->h.ctx);
	}
	if (f->report_pending)
		report(f);
	hand_over(f);
}

static eh_err record(struct eh_mqtt_fake *f, const char *topic, const void *payload, size_t len,
		     int qos, bool retain, bool tracked, uint64_t tag)
{
	if (!f->open || !f->connected)
		return EH_ERR_CLOSED;
	if (topic == NULL || topic[0] == '\0' || (len > 0 && payload == NULL) || qos < 0 ||
	    qos > 2 || strlen(topic) > EH_MQTT_TOPIC_MAX)
		return EH_ERR_INVAL;
	if (f->publish_result != EH_OK)
		return f->publish_result;
	f->publishes++;
	f->st.published++;
	if (f->npubs < EH_MQTT_FAKE_MAX_PUBS) {
		struct eh_mqtt_fake_pub *p = &f->pubs[f->npubs++];
		memset(p, 0, sizeof(*p));
		memcpy(p->topic, topic, strlen(topic) + 1);
		memcpy(p->payload, payload,
		       len < EH_MQTT_FAKE_PUB_BYTES ? len : EH_MQTT_FAKE_PUB_BYTES);
		p->len = len;
		p->qos = qos;
		p->retain = retain;
		p->tracked = tracked;
		p->tag = tag;
	} else if (tracked) {
		return EH_ERR_AGAIN; /* no room to remember it: as a full table */
	}
	return EH_OK;
}

static eh_err fake_publish(struct eh_mqtt *m, const char *topic, const void *payload, size_t len,
			   int qos, bool retain)
{
	return record(fake_of(m), topic, payload, len, qos, retain, false, 0);
}

static eh_err fake_publish_tracked(struct eh_mqtt *m, const char *topic, const void *payload,
				   size_t len, uint64_t tag)
{
	return record(fake_of(m), topic, payload, len, 1, false, true, tag);
}

/* All injected messages done: start the arena again. */
static void recycle(struct eh_mqtt_fake *f)
{
	if (f->undone == 0 && f->next == f->nmsgs) {
		f->nmsgs = 0;
		f->next = 0;
		f->taken_upto = 0;
		f->arena_used = 0;
	}
}

static void fake_done(struct eh_mqtt *m, struct eh_mqtt_msg *s)
{
	struct eh_mqtt_fake *f = fake_of(m);

	if (!f->open || s == NULL)
		return;
	EH_ASSERT(s >= f->msgs && s < f->msgs + f->nmsgs && s->state == MSG_HANDED);
	s->state = MSG_DONE;
	f->undone--;
	f->st.done++;
	if (f->ndone < EH_MQTT_FAKE_MAX_MSGS)
		f->done[f->ndone] = s->id;
	f->ndone++;
	recycle(f);
	if (f->next < f->nmsgs && !f->paused)
		wake(f); /* room again for a waiting message */
}

static void fake_pause(struct eh_mqtt *m)
{
	struct eh_mqtt_fake *f = fake_of(m);

	if (!f->open || f->paused)
		return;
	f->paused = true;
	f->pauses++;
	if (f->prefetch) {
		size_t room = f->window - f->undone;
		f->taken_upto = f->nmsgs - f->next < room ? f->nmsgs : f->next + room;
	}
}

static void fake_resume(struct eh_mqtt *m)
{
	struct eh_mqtt_fake *f = fake_of(m);

	if (!f->open || !f->paused)
		return;
	f->paused = false;
	f->resumes++;
	if (f->next < f->nmsgs)
		wake(f);
}

static void fake_get_stats(struct eh_mqtt *m, struct eh_mqtt_stats *out)
{
	*out = fake_of(m)->st;
}

/* Handed messages not done are released (as Paho frees them); waiting
 * ones stay with the broker for the next open. */
static void fake_close(struct eh_mqtt *m)
{
	struct eh_mqtt_fake *f = fake_of(m);

	if (!f->open)
		return;
	for (size_t i = 0; i < f->next; i++)
		if (f->msgs[i].state == MSG_HANDED)
			f->msgs[i].state = MSG_DONE;
	f->undone = 0;
	recycle(f);
	f->open = false;
	f->connected = false;
	f->st.connected = false;
	f->link = 0;
}

static const struct eh_mqtt_ops fake_ops = {
    fake_open,	fake_poll,   fake_publish,   fake_publish_tracked, fake_done,
    fake_pause, fake_resume, fake_get_stats, fake_close,
};

void eh_mqtt_fake_init(struct eh_mqtt *m, struct eh_mqtt_fake *f)
{
	EH_ASSERT(m != NULL && f != NULL);
	/* Not the arena (2 MiB): written before read. */
	memset(f, 0, offsetof(struct eh_mqtt_fake, arena));
	f->next_id = 1;
	m->ops = &fake_ops;
	m->state = f;
	m->name = "fake";
}

unsigned eh_mqtt_fake_inject(struct eh_mqtt_fake *f, const char *topic, const void *payload,
			     size_t len, const char *hmac)
{
	size_t tl = strlen(topic);
	struct eh_mqtt_msg *s;

	if (f->nmsgs == EH_MQTT_FAKE_MAX_MSGS ||
	    f->arena_used + tl + 1 + len > EH_MQTT_FAKE_ARENA ||
	    (hmac != NULL && strlen(hmac) >= EH_MQTT_HMAC_PROP_MAX))
		return 0;
	s = &f->msgs[f->nmsgs++];
	memset(s, 0, sizeof(*s));
	s->id = f->next_id++;
	s->state = MSG_WAITING;
	s->topic = f->arena_used;
	memcpy(f->arena + f->arena_used, topic, tl + 1);
	f->arena_used += tl + 1;
	s->payload = f->arena_used;
	if (len > 0)
		memcpy(f->arena + f->arena_used, payload, len);
	f->arena_used += len;
	s->len = len;
	if (hmac != NULL) {
		s->has_hmac = true;
		memcpy(s->hmac, hmac, strlen(hmac) + 1);
	}
	wake(f);
	return s->id;
}

void eh_mqtt_fake_connect(struct eh_mqtt_fake *f, bool session_present)
{
	f->link = 1;
	f->session_present = session_present;
	wake(f);
}

void eh_mqtt_fake_disconnect(struct eh_mqtt_fake *f)
{
	f->link = -1;
	f->connected = false; /* publishes fail from now on, as the driver sees it */
	wake(f);
}

void eh_mqtt_fake_report(struct eh_mqtt_fake *f, bool ok)
{
	f->report_pending = true;
	f->report_ok = ok;
	wake(f);
}

int eh_mqtt_fake_done_pos(const struct eh_mqtt_fake *f, unsigned id)
{
	size_t n = f->ndone < EH_MQTT_FAKE_MAX_MSGS ? f->ndone : EH_MQTT_FAKE_MAX_MSGS;

	for (size_t i = 0; i < n; i++)
		if (f->done[i] == id)
			return (int)i;
	return -1;
}

size_t eh_mqtt_fake_waiting(const struct eh_mqtt_fake *f)
{
	return f->nmsgs - f->next;
}
