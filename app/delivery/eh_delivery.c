/* SPDX-License-Identifier: Apache-2.0 */
/* eh_delivery.c - webhook workers. A worker peeks its records, renders a
 * batch into a free sender's body buffer and POSTs it; on 2xx it acks and
 * goes on, on failure it waits (the seed's 0.1 x 2.7^k schedule, or
 * Retry-After) and sends the same batch again: same first record, same
 * count, same key. Senders are few (EH_DELIVERY_SENDERS) because each owns
 * a body buffer and a connection; workers queue for them in arrival order. */
#include "eh_delivery.h"
#include "eh_crypto.h"
#include "eh_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void worker_try(struct eh_delivery_worker *w);
static bool senders_idle(const struct eh_delivery *d);
static eh_err reload_now(struct eh_delivery *d);

/* ==== Helpers ==== */

uint64_t eh_delivery_backoff_ms(uint32_t k)
{
	double ms = 100.0; /* 0.1 s */

	for (uint32_t i = 0; i < k; i++) {
		ms *= 2.7;
		if (ms >= EH_DELIVERY_WAIT_CAP_MS)
			return EH_DELIVERY_WAIT_CAP_MS;
	}
	return (uint64_t)(ms + 0.5);
}

static const struct eh_webhook *worker_wh(const struct eh_delivery_worker *w)
{
	const struct eh_webhook *wh = w->d->slots[w->slot].wh;

	return (wh != NULL && wh->id != 0) ? wh : NULL;
}

static uint64_t worker_lag(const struct eh_delivery_worker *w)
{
	const struct eh_delivery_config *c = &w->d->cfg;
	return c->source->lag(c->source_ctx, w->slot, w->type);
}

/* "WebhooksManager:<id>" */
static void log_module(const struct eh_webhook *wh, char *buf, size_t cap)
{
	snprintf(buf, cap, "WebhooksManager:%" PRIu32, wh->id);
}

static void set_error(struct eh_delivery_worker *w, const char *text)
{
	struct eh_delivery_slot *s = &w->d->slots[w->slot];
	snprintf(s->last_error, sizeof(s->last_error), "%s", text);
	s->last_error_ms = eh_clock_wall_ms(w->d->cfg.clock);
}

/* ==== Clock ==== */

static void on_clock_check(struct eh_loop *l, void *arg);

/* True while the wall clock is before the build time: the attempt waits,
 * the state says why, and a timer looks again. */
static bool clock_held(struct eh_delivery_worker *w)
{
	struct eh_delivery *d = w->d;

	if (d->cfg.not_before_s == 0 ||
	    eh_clock_wall_ms(d->cfg.clock) / 1000u >= d->cfg.not_before_s)
		return false;
	if (strcmp(d->slots[w->slot].last_error, EH_DELIVERY_CLOCK_WAIT) != 0)
		set_error(w, EH_DELIVERY_CLOCK_WAIT); /* once: the state is not republished */
	if (d->clock_timer == 0 && eh_loop_after(d->cfg.loop, EH_DELIVERY_CLOCK_CHECK_MS,
						 on_clock_check, d, &d->clock_timer) != EH_OK)
		EH_LOG_ERR("delivery", "timer table full");
	return true;
}

static void on_clock_check(struct eh_loop *l, void *arg)
{
	struct eh_delivery *d = arg;

	(void)l;
	d->clock_timer = 0;
	if (d->stopped)
		return;
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++) {
		struct eh_delivery_slot *s = &d->slots[i];
		if (strcmp(s->last_error, EH_DELIVERY_CLOCK_WAIT) != 0)
			continue;
		if (clock_held(&s->w[0]))
			return;
		s->last_error[0] = '\0';
		s->last_error_ms = 0;
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			worker_try(&s->w[t]);
	}
}

/* ==== Routes: proxy and client certificate ==== */

bool eh_delivery_no_proxy_match(const char *const *list, size_t n, const char *host)
{
	size_t hl = strlen(host);

	for (size_t i = 0; i < n; i++) {
		const char *e = list[i];
		size_t el;

		if (e == NULL || e[0] == '\0')
			continue;
		if (strcmp(e, "*") == 0)
			return true;
		if (e[0] == '.')
			e++; /* ".example.com" and "example.com" both cover subdomains */
		el = strlen(e);
		if (el == 0 || el > hl)
			continue;
		if (strcasecmp(host + hl - el, e) == 0 && (el == hl || host[hl - el - 1] == '.'))
			return true;
	}
	return false;
}

/* The proxy of wh's connections, or NULL for direct. */
static const char *route_proxy(const struct eh_delivery *d, const struct eh_webhook *wh,
			       uint16_t *port)
{
	*port = 0;
	switch (wh->proxy) {
	case EH_WEBHOOK_PROXY_DIRECT:
		return NULL;
	case EH_WEBHOOK_PROXY_URL:
		*port = wh->proxy_port;
		return wh->proxy_host;
	default:
		if (d->cfg.proxy_host == NULL || d->cfg.proxy_host[0] == '\0' ||
		    eh_delivery_no_proxy_match(d->cfg.no_proxy, d->cfg.n_no_proxy, wh->url.host))
			return NULL;
		*port = d->cfg.proxy_port;
		return d->cfg.proxy_host;
	}
}

/* Give back a client identity handle (0: none held). */
static void identity_put(struct eh_delivery *d, unsigned handle)
{
	if (handle != 0 && d->cfg.transport->identity_put != NULL)
		d->cfg.transport->identity_put(d->cfg.transport_ctx, handle);
}

eh_err eh_delivery_check_webhook(void *ctx, const struct eh_webhook *wh, struct eh_errs *errs)
{
	struct eh_delivery *d = ctx;
	char why[EH_DELIVERY_ERR_MAX];
	unsigned handle = 0;
	bool key = false;
	eh_err rc;

	EH_ASSERT(d != NULL && wh != NULL);
	if (wh->client_cert_file[0] == '\0' || d->cfg.transport->identity_load == NULL)
		return EH_OK;
	rc = d->cfg.transport->identity_load(d->cfg.transport_ctx, wh->client_cert_file,
					     wh->client_key_file, &handle, &key, why, sizeof(why));
	if (rc != EH_OK) {
		eh_errs_add(errs, key ? "client_key_file" : "client_cert_file", "%s", why);
		return rc;
	}
	identity_put(d, handle);
	return EH_OK;
}

/* Read the slot's client certificate again (a new or changed webhook);
 * connections in flight keep the one they started with. */
static void slot_identity(struct eh_delivery *d, struct eh_delivery_slot *s,
			  const struct eh_webhook *wh)
{
	unsigned old = s->identity;
	bool key = false;
	eh_err rc;

	s->identity = 0;
	s->identity_err[0] = '\0';
	if (wh != NULL && wh->client_cert_file[0] != '\0') {
		char why[EH_DELIVERY_ERR_MAX - 24];

		bool can = d->cfg.transport->identity_load != NULL;
		rc = can ? d->cfg.transport->identity_load(
			       d->cfg.transport_ctx, wh->client_cert_file, wh->client_key_file,
			       &s->identity, &key, why, sizeof(why))
			 : EH_ERR_INVAL;
		if (rc != EH_OK) {
			if (!can)
				snprintf(why, sizeof(why), "no TLS context");
			snprintf(s->identity_err, sizeof(s->identity_err), "client certificate: %s",
				 why);
			EH_LOG_ERR("delivery", "webhook %" PRIu32 ": %s", wh->id, s->identity_err);
			s->identity = 0;
		}
	}
	identity_put(d, old);
}

/* ==== Senders ==== */

static struct eh_delivery_sender *sender_get(struct eh_delivery *d, struct eh_delivery_worker *w)
{
	for (unsigned i = 0; i < EH_DELIVERY_SENDERS; i++) {
		if (d->senders[i].w == NULL) {
			d->senders[i].w = w;
			w->sender = &d->senders[i];
			return &d->senders[i];
		}
	}
	return NULL;
}

/* Free a sender and hand it to the worker that has waited longest. */
static void sender_put(struct eh_delivery *d, struct eh_delivery_sender *s)
{
	struct eh_delivery_worker *next = NULL;

	if (s->w != NULL)
		s->w->sender = NULL;
	s->w = NULL;
	if (d->stopped)
		return;
	if (d->reload_ca != NULL) {
		/* A CA reload waits for every sender: hand none out meanwhile. */
		if (senders_idle(d))
			(void)reload_now(d);
		return;
	}
	/* Oldest first; a waiter that no longer needs a sender (deactivated,
	 * queue emptied) passes it on to the next one. */
	while (s->w == NULL) {
		next = NULL;
		for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++)
			for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
				struct eh_delivery_worker *w = &d->slots[i].w[t];
				if (w->state == EH_DW_WAITING &&
				    (next == NULL || w->ticket < next->ticket))
					next = w;
			}
		if (next == NULL)
			return;
		next->state = EH_DW_IDLE;
		worker_try(next);
	}
}

/* ==== Building a batch ==== */

/* Append "'id'" (or ", 'id'") to the sender's id list, cut with "..." when full. */
static void ids_add(struct eh_delivery *d, struct eh_delivery_sender *s, size_t *n,
		    const struct eh_delivery_item *it)
{
	char id[64];
	size_t len = 0;
	int wr;

	if (*n + 8 >= sizeof(s->ids))
		return;
	if (d->cfg.note_id != NULL)
		len = d->cfg.note_id(d->cfg.ctx, it->raw, it->len, id, sizeof(id));
	if (len == 0 || len >= sizeof(id))
		len = (size_t)snprintf(id, sizeof(id), "#%" PRIu64, it->seq);
	if (*n + len + 10 >= sizeof(s->ids)) {
		wr = snprintf(s->ids + *n, sizeof(s->ids) - *n, "%s...", *n ? ", " : "");
		*n = sizeof(s->ids) - 1;
		(void)wr;
		return;
	}
	wr = snprintf(s->ids + *n, sizeof(s->ids) - *n, "%s'%.*s'", *n ? ", " : "", (int)len, id);
	if (wr > 0)
		*n += (size_t)wr;
}

/* The body of a record that cannot be rendered: its stored bytes in an
 * array, so its dead letter still carries the notification. */
static void raw_body(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
		     const struct eh_delivery_item *it)
{
	size_t n = it->len <= EH_DELIVERY_BODY_MAX - 2 ? it->len : EH_DELIVERY_BODY_MAX - 2;

	s->body[0] = '[';
	memcpy(s->body + 1, it->raw, n);
	s->body[n + 1] = ']';
	s->body_len = n + 2;
	snprintf(s->ids, sizeof(s->ids), "#%" PRIu64, it->seq);
	w->count = 1;
	w->first_seq = w->last_seq = it->seq;
	w->have_batch = true;
}

/* Peek and render the worker's batch into s->body. EH_OK with w->count
 * records; EH_ERR_NOENT when nothing is queued; EH_ERR_CORRUPT when the
 * first record cannot be rendered at all: the batch is that record alone,
 * its stored bytes in s->body, to be given up (dead-lettered) so it cannot
 * wedge the worker. */
static eh_err batch_build(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
			  const struct eh_webhook *wh)
{
	struct eh_delivery *d = w->d;
	const struct eh_delivery_config *c = &d->cfg;
	size_t max_items = w->have_batch ? w->count : wh->batch_size;
	size_t n = 0, pos, idn = 0, used = 0;
	size_t limit = wh->batch_max_bytes ? wh->batch_max_bytes : EH_DELIVERY_BODY_MAX;
	eh_err rc;

	if (max_items == 0)
		max_items = 1;
	if (max_items > EH_MAX_BATCH)
		max_items = EH_MAX_BATCH;
	if (limit > EH_DELIVERY_BODY_MAX)
		limit = EH_DELIVERY_BODY_MAX;
	for (;;) {
		rc = c->source->peek(c->source_ctx, w->slot, w->type, d->items, max_items, &n);
		if (rc != EH_OK)
			return rc;
		if (n == 0) {
			w->have_batch = false;
			return EH_ERR_NOENT;
		}
		if (w->have_batch && d->items[0].seq != w->first_seq) {
			/* The batch left the queue (full policy): start a new one. */
			w->have_batch = false;
			w->attempts = 0;
			max_items = wh->batch_size ? wh->batch_size : 1;
			continue;
		}
		break;
	}
	s->body[0] = '[';
	pos = 1;
	s->ids[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t out = 0;
		/* Room for ",", the record and "]": the first record may use the
		 * whole buffer, later ones stop at batch_max_bytes. */
		size_t cap = (i == 0 ? EH_DELIVERY_BODY_MAX : limit);

		if (cap < pos + 2)
			break;
		cap -= pos + 1 + (i > 0);
		rc = c->render(c->ctx, w->type, d->items[i].raw, d->items[i].len, wh,
			       s->body + pos + (i > 0), cap, &out);
		if (rc == EH_ERR_NOSPC && i > 0)
			break;
		if (rc != EH_OK) {
			char mod[32];

			log_module(wh, mod, sizeof(mod));
			EH_LOG_ERR(mod,
				   "Webhook worker(id-%" PRIu32 ", type-\"%s\") cannot render "
				   "record %" PRIu64 ": %s; skipped",
				   wh->id, eh_type_name(w->type), d->items[i].seq, eh_err_str(rc));
			if (i > 0)
				break; /* send what is ready; the bad one comes first next time */
			raw_body(w, s, &d->items[0]);
			return EH_ERR_CORRUPT;
		}
		if (i > 0)
			s->body[pos++] = ',';
		pos += out;
		used = i + 1;
		ids_add(d, s, &idn, &d->items[i]);
	}
	s->body[pos++] = ']';
	s->body_len = pos;
	w->count = used;
	w->first_seq = d->items[0].seq;
	w->last_seq = d->items[used - 1].seq;
	w->have_batch = true;
	return EH_OK;
}

/* Headers of one attempt; the signature covers this attempt's timestamp. */
static eh_err request_fill(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
			   const struct eh_webhook *wh)
{
	struct eh_delivery *d = w->d;
	size_t nh = 0;

	snprintf(s->key, sizeof(s->key), "%016" PRIx64 "-%" PRIu32 "-%s-%" PRIu64, d->cfg.queue_uid,
		 wh->id, eh_type_name(w->type), w->first_seq);
	snprintf(s->wh_id, sizeof(s->wh_id), "%" PRIu32, wh->id);
	snprintf(s->host, sizeof(s->host), "%s", wh->url.host);
	snprintf(s->path, sizeof(s->path), "%s", wh->url.path[0] ? wh->url.path : "/");
	s->hdrs[nh++] = (struct eh_https_hdr){"Content-Type", "application/json"};
	s->hdrs[nh++] = (struct eh_https_hdr){"User-Agent", "edgehookd/" EH_VERSION};
	s->hdrs[nh++] = (struct eh_https_hdr){"X-Edgehook-Webhook", s->wh_id};
	s->hdrs[nh++] = (struct eh_https_hdr){"X-Edgehook-Batch", s->key};
	if (wh->has_secret) {
		uint8_t mac[EH_SHA256_LEN];
		char b64[48];
		size_t blen = 0;
		uint64_t ts = eh_clock_wall_ms(d->cfg.clock) / 1000;
		const uint8_t *parts[5];
		size_t lens[5];

		snprintf(s->ts, sizeof(s->ts), "%" PRIu64, ts);
		parts[0] = (const uint8_t *)s->key;
		lens[0] = strlen(s->key);
		parts[1] = (const uint8_t *)".";
		lens[1] = 1;
		parts[2] = (const uint8_t *)s->ts;
		lens[2] = strlen(s->ts);
		parts[3] = (const uint8_t *)".";
		lens[3] = 1;
		parts[4] = (const uint8_t *)s->body;
		lens[4] = s->body_len;
		if (eh_crypto_hmac_sha256(wh->secret, wh->secret_len, parts, lens, 5, mac) !=
			EH_OK ||
		    eh_crypto_base64_encode(mac, sizeof(mac), b64, sizeof(b64), &blen) != EH_OK)
			return EH_ERR_INVAL;
		snprintf(s->sig, sizeof(s->sig), "v1,%s", b64);
		s->hdrs[nh++] = (struct eh_https_hdr){"webhook-id", s->key};
		s->hdrs[nh++] = (struct eh_https_hdr){"webhook-timestamp", s->ts};
		s->hdrs[nh++] = (struct eh_https_hdr){"webhook-signature", s->sig};
	}
	for (unsigned i = 0; i < wh->nheaders && i < EH_MAX_HEADERS; i++)
		s->hdrs[nh++] = (struct eh_https_hdr){wh->headers[i].name, wh->headers[i].value};
	memset(&s->req, 0, sizeof(s->req));
	s->req.tls = wh->url.tls;
	s->req.host = s->host;
	s->req.port = wh->url.port ? wh->url.port : (wh->url.tls ? 443 : 80);
	s->req.path = s->path;
	s->req.method = "POST";
	s->req.hdrs = s->hdrs;
	s->req.nhdrs = nh;
	s->req.body = s->body;
	s->req.body_len = s->body_len;
	s->req.timeout_ms = (wh->timeout_s ? wh->timeout_s : 10) * 1000u;
	s->req.proxy_host = route_proxy(d, wh, &s->req.proxy_port);
	s->req.identity = d->slots[w->slot].identity;
	if (wh->client_cert_file[0] != '\0' && s->req.identity == 0)
		return EH_ERR_NOENT; /* the certificate did not load */
	return EH_OK;
}

/* ==== Outcomes ==== */

static void on_backoff(struct eh_loop *l, void *arg)
{
	struct eh_delivery_worker *w = arg;

	(void)l;
	w->timer = 0;
	if (w->state != EH_DW_BACKOFF)
		return;
	w->state = EH_DW_IDLE;
	worker_try(w);
}

static void batch_sent(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
		       const struct eh_webhook *wh)
{
	struct eh_delivery *d = w->d;
	struct eh_delivery_slot *sl = &d->slots[w->slot];
	char mod[32];

	d->cfg.source->ack(d->cfg.source_ctx, w->slot, w->type, w->last_seq);
	sl->sent += w->count;
	w->sent += w->count;
	sl->batches++;
	sl->last_success_ms = eh_clock_wall_ms(d->cfg.clock);
	sl->last_error[0] = '\0'; /* the state says what is wrong now */
	sl->last_error_ms = 0;
	log_module(wh, mod, sizeof(mod));
	EH_LOG_INF(mod,
		   "<queue:%3" PRIu64 "> Webhook worker(id-%" PRIu32 ", type-\"%s\") sent "
		   "batch(len-%zu, type-\"%s\"): [%s]",
		   worker_lag(w), wh->id, eh_type_name(w->type), w->count, eh_type_name(w->type),
		   s->ids);
	w->have_batch = false;
	w->attempts = 0;
}

/* ==== Dead letters ====
 * A given-up batch leaves the queue only once its dead letter is
 * acknowledged by the broker (CONTRACT 9.4): until then the worker holds it
 * in EH_DW_DEADLETTER, counted in dead_letters_pending, and publishes it
 * again after a wait. A kill in that state loses nothing: after the restart
 * the batch is attempted again from the queue. */

#define DL_WAIT_MIN_MS 1000u
#define DL_WAIT_MAX_MS 30000u
#define DL_ANSWER_MS 60000u /* a publish with no answer by then is sent again */

static uint64_t dl_tag(const struct eh_delivery_worker *w)
{
	return ((uint64_t)w->slot << 40) | ((uint64_t)w->type << 32) | w->dl_gen;
}

static void dl_timer(struct eh_loop *l, void *arg);

static void dl_wait(struct eh_delivery_worker *w, uint64_t ms)
{
	struct eh_delivery *d = w->d;

	eh_loop_cancel(d->cfg.loop, w->timer);
	w->timer = 0;
	w->due_ms = eh_loop_now(d->cfg.loop) + ms;
	if (eh_loop_after(d->cfg.loop, ms, dl_timer, w, &w->timer) != EH_OK)
		EH_LOG_ERR("delivery", "timer table full; dead letter retried at the next kick");
}

/* Publish the dead letter in s->body; on a refusal, wait and try again. */
static void dl_publish(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
		       const struct eh_webhook *wh)
{
	struct eh_delivery *d = w->d;
	eh_err rc;

	w->dl_gen++;
	rc = d->cfg.deadletter(d->cfg.ctx, wh, w->type, s->body, s->body_len, dl_tag(w));
	if (rc == EH_OK) {
		if (w->state == EH_DW_DEADLETTER) /* not answered from inside the call */
			dl_wait(w, DL_ANSWER_MS);
		return;
	}
	char why[EH_DELIVERY_ERR_MAX];
	snprintf(why, sizeof(why), "dead letter not published: %s", eh_err_str(rc));
	set_error(w, why);
	dl_wait(w, w->dl_wait_ms);
	w->dl_wait_ms = w->dl_wait_ms * 2 > DL_WAIT_MAX_MS ? DL_WAIT_MAX_MS : w->dl_wait_ms * 2;
}

/* The batch in s->body is given up: hand it to the dead-letter publisher. */
static void give_up(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
		    const struct eh_webhook *wh)
{
	struct eh_delivery *d = w->d;
	struct eh_delivery_slot *sl = &d->slots[w->slot];

	w->attempts = 0;
	if (d->cfg.deadletter == NULL) {
		d->cfg.source->ack(d->cfg.source_ctx, w->slot, w->type, w->last_seq);
		sl->dead_lettered += w->count;
		w->dead_lettered += w->count;
		w->have_batch = false;
		w->state = EH_DW_IDLE;
		return;
	}
	w->state = EH_DW_DEADLETTER;
	w->dl_wait_ms = DL_WAIT_MIN_MS;
	sl->dl_pending += w->count;
	dl_publish(w, s, wh);
}

/* The dead letter left the queue (published, or its records were evicted). */
static void dl_finish(struct eh_delivery_worker *w, bool published)
{
	struct eh_delivery *d = w->d;
	struct eh_delivery_slot *sl = &d->slots[w->slot];

	eh_loop_cancel(d->cfg.loop, w->timer);
	w->timer = 0;
	sl->dl_pending -= sl->dl_pending >= w->count ? w->count : sl->dl_pending;
	if (published) {
		d->cfg.source->ack(d->cfg.source_ctx, w->slot, w->type, w->last_seq);
		sl->dead_lettered += w->count;
		w->dead_lettered += w->count;
	}
	w->have_batch = false;
	w->attempts = 0;
	w->state = EH_DW_IDLE;
}

/* Time to publish the dead letter again: the body is rendered anew from
 * the same records (the same bytes unless the webhook or catalog changed). */
static void dl_timer(struct eh_loop *l, void *arg)
{
	struct eh_delivery_worker *w = arg;
	struct eh_delivery *d = w->d;
	const struct eh_webhook *wh = worker_wh(w);
	struct eh_delivery_sender *s;
	uint64_t first = w->first_seq;
	eh_err rc;

	(void)l;
	w->timer = 0;
	if (w->state != EH_DW_DEADLETTER || wh == NULL || d->stopped || d->draining)
		return;
	if (d->reload_ca != NULL) { /* the senders are held for a CA reload */
		dl_wait(w, DL_WAIT_MIN_MS);
		return;
	}
	if ((s = sender_get(d, w)) == NULL) {
		dl_wait(w, DL_WAIT_MIN_MS); /* every sender busy: soon again */
		return;
	}
	rc = batch_build(w, s, wh);
	if ((rc == EH_OK || rc == EH_ERR_CORRUPT) && w->first_seq == first) {
		dl_publish(w, s, wh);
		sender_put(d, s);
		return;
	}
	/* The batch left the queue meanwhile (full policy): nothing to publish. */
	w->first_seq = first;
	dl_finish(w, false);
	sender_put(d, s);
	worker_try(w);
}

void eh_delivery_deadletter_done(struct eh_delivery *d, uint64_t tag, bool ok)
{
	unsigned slot = (unsigned)(tag >> 40), type = (unsigned)(tag >> 32) & 0xffu;
	struct eh_delivery_worker *w;

	EH_ASSERT(d != NULL);
	if (slot >= EH_MAX_WEBHOOKS || type >= EH_TYPE_COUNT)
		return;
	w = &d->slots[slot].w[type];
	if (w->state != EH_DW_DEADLETTER || dl_tag(w) != tag)
		return; /* an older publish of this batch, or the worker was reset */
	if (!ok) {
		set_error(w, "dead letter not acknowledged by the broker");
		dl_wait(w, w->dl_wait_ms);
		w->dl_wait_ms =
		    w->dl_wait_ms * 2 > DL_WAIT_MAX_MS ? DL_WAIT_MAX_MS : w->dl_wait_ms * 2;
		return;
	}
	dl_finish(w, true);
	worker_try(w);
}

/* A failed attempt: count it, then give up or schedule the next one. */
static void batch_failed(struct eh_delivery_worker *w, struct eh_delivery_sender *s,
			 const struct eh_webhook *wh, const char *reason, const char *retry_after,
			 int status)
{
	struct eh_delivery *d = w->d;
	struct eh_delivery_slot *sl = &d->slots[w->slot];
	uint64_t wait_ms, ra;
	char mod[32], of[16];

	w->attempts++;
	sl->failed_attempts++;
	w->failed_attempts++;
	set_error(w, reason);
	log_module(wh, mod, sizeof(mod));
	if (wh->max_attempts != 0 && w->attempts >= wh->max_attempts) {
		EH_LOG_ERR(mod,
			   "<queue:%3" PRIu64 "> Webhook worker(id-%" PRIu32
			   ", type-\"%s\") Gave up "
			   "batch(len-%zu, type-\"%s\") after %" PRIu32 " attempts: [%s]",
			   worker_lag(w), wh->id, eh_type_name(w->type), w->count,
			   eh_type_name(w->type), w->attempts, s->ids);
		give_up(w, s, wh);
		return;
	}
	wait_ms = eh_delivery_backoff_ms(w->attempts + 1);
	if ((status == 429 || status == 503) && retry_after[0] != '\0' &&
	    eh_http_retry_after(retry_after, strlen(retry_after),
				eh_clock_wall_ms(d->cfg.clock) / 1000, &ra) == EH_OK) {
		wait_ms =
		    ra >= EH_DELIVERY_WAIT_CAP_MS / 1000 ? EH_DELIVERY_WAIT_CAP_MS : ra * 1000;
		if (wait_ms < EH_DELIVERY_RETRY_AFTER_MIN_MS)
			wait_ms = EH_DELIVERY_RETRY_AFTER_MIN_MS; /* "0" or a past date */
	}
	if (wh->max_attempts == 0)
		snprintf(of, sizeof(of), "unlimited");
	else
		snprintf(of, sizeof(of), "%u", (unsigned)wh->max_attempts);
	EH_LOG_WRN(mod,
		   "<queue:%3" PRIu64 "> Webhook worker(id-%" PRIu32 ", type-\"%s\") Error sending "
		   "webhook: %s. Attempt %" PRIu32 " out of %s. Next attempt in %" PRIu64
		   ".%03u seconds.",
		   worker_lag(w), wh->id, eh_type_name(w->type), reason, w->attempts + 1, of,
		   wait_ms / 1000, (unsigned)(wait_ms % 1000));
	w->state = EH_DW_BACKOFF;
	w->due_ms = eh_loop_now(d->cfg.loop) + wait_ms;
	if (eh_loop_after(d->cfg.loop, wait_ms, on_backoff, w, &w->timer) != EH_OK) {
		EH_LOG_ERR("delivery", "timer table full; retrying at the next kick");
		w->state = EH_DW_IDLE;
	}
}

static void on_done(struct eh_https_req *req, const struct eh_https_result *res, void *arg)
{
	struct eh_delivery_sender *s = arg;
	struct eh_delivery_worker *w = s->w;
	struct eh_delivery *d = s->d;
	const struct eh_webhook *wh;
	char reason[EH_DELIVERY_ERR_MAX];

	(void)req;
	if (w == NULL) {
		sender_put(d, s);
		return;
	}
	wh = worker_wh(w);
	w->state = EH_DW_IDLE;
	if (wh == NULL) {
		sender_put(d, s);
		return;
	}
	if (res->err == EH_OK && res->status >= 200 && res->status < 300) {
		batch_sent(w, s, wh);
	} else {
		if (res->err == EH_OK)
			snprintf(reason, sizeof(reason), "%d, message='%s'", res->status,
				 res->reason);
		else
			snprintf(reason, sizeof(reason), "%s", res->error);
		batch_failed(w, s, wh, reason, res->retry_after,
			     res->err == EH_OK ? res->status : 0);
	}
	sender_put(d, s);
	if (w->state == EH_DW_IDLE)
		worker_try(w);
}

/* ==== Worker ==== */

/* Start the next attempt when the worker has records and may send. */
static void worker_try(struct eh_delivery_worker *w)
{
	struct eh_delivery *d = w->d;
	const struct eh_webhook *wh;
	struct eh_delivery_sender *s;
	eh_err rc;

	for (;;) {
		wh = worker_wh(w);
		/* A worker still holding a sender is inside its own completion
		 * (on_done -> ack -> a kick from the app): on_done goes on after. */
		if (d->stopped || d->draining || d->reload_ca != NULL || wh == NULL ||
		    !wh->active || w->state != EH_DW_IDLE || w->sender != NULL)
			return;
		if (worker_lag(w) == 0 || clock_held(w))
			return;
		s = sender_get(d, w);
		if (s == NULL) {
			w->state = EH_DW_WAITING;
			w->ticket = d->next_ticket++;
			return;
		}
		rc = batch_build(w, s, wh);
		if (rc == EH_ERR_CORRUPT) {
			char mod[32];

			log_module(wh, mod, sizeof(mod));
			EH_LOG_ERR(mod,
				   "Webhook worker(id-%" PRIu32 ", type-\"%s\") Gave up "
				   "batch(len-1, type-\"%s\"): record %" PRIu64
				   " cannot be rendered; its stored bytes go to the dead letter",
				   wh->id, eh_type_name(w->type), eh_type_name(w->type),
				   w->first_seq);
			give_up(w, s, wh);
			sender_put(d, s);
			if (w->state != EH_DW_IDLE)
				return;
			continue;
		}
		if (rc != EH_OK) {
			if (rc != EH_ERR_NOENT)
				EH_LOG_ERR("delivery", "queue peek for webhook %" PRIu32 ": %s",
					   wh->id, eh_err_str(rc));
			sender_put(d, s);
			return;
		}
		if ((rc = request_fill(w, s, wh)) == EH_OK) {
			s->req.done = on_done;
			s->req.arg = s;
			rc = eh_https_start(&d->https, &s->req);
		}
		if (rc == EH_OK) {
			w->state = EH_DW_SENDING;
			return;
		}
		/* Refused before anything was sent: still an attempt that failed. */
		const char *why = rc == EH_ERR_PERM	? "plain http:// is not allowed"
				  : rc == EH_ERR_BUSY	? "no free connection"
				  : rc == EH_ERR_TOOBIG ? "request headers too large"
				  : rc == EH_ERR_NOENT	? d->slots[w->slot].identity_err
							: "invalid request (URL or headers)";
		batch_failed(w, s, wh, why, "", 0);
		sender_put(d, s);
		if (w->state != EH_DW_IDLE)
			return;
	}
}

static void worker_reset(struct eh_delivery_worker *w)
{
	struct eh_delivery *d = w->d;

	if (w->sender != NULL) {
		eh_https_cancel(&d->https, &w->sender->req);
		struct eh_delivery_sender *s = w->sender;
		s->w = NULL;
		w->sender = NULL;
		if (!d->stopped)
			sender_put(d, s);
	}
	eh_loop_cancel(d->cfg.loop, w->timer);
	w->timer = 0;
	w->state = EH_DW_IDLE;
	w->attempts = 0;
	w->have_batch = false;
}

/* ==== API ==== */

static struct eh_transport *pool_transport(void *ctx, unsigned idx,
					   const struct eh_transport_route *route)
{
	struct eh_delivery *d = ctx;

	return d->cfg.transport->transport(d->cfg.transport_ctx, idx, route);
}

eh_err eh_delivery_init(struct eh_delivery *d, const struct eh_delivery_config *cfg)
{
	struct eh_https_config hc;

	EH_ASSERT(d != NULL && cfg != NULL);
	if (cfg->loop == NULL || cfg->clock == NULL || cfg->source == NULL ||
	    cfg->source->peek == NULL || cfg->source->ack == NULL || cfg->source->lag == NULL ||
	    cfg->render == NULL || cfg->transport == NULL || cfg->transport->transport == NULL)
		return EH_ERR_INVAL;
	memset(d->slots, 0, sizeof(d->slots));
	d->cfg = *cfg;
	d->stopped = false;
	d->draining = false;
	d->next_ticket = 1;
	d->clock_timer = 0;
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++)
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
			d->slots[i].w[t].d = d;
			d->slots[i].w[t].slot = i;
			d->slots[i].w[t].type = t;
		}
	for (unsigned i = 0; i < EH_DELIVERY_SENDERS; i++) {
		d->senders[i].d = d;
		d->senders[i].w = NULL;
		d->senders[i].req.conn = NULL;
	}
	memset(&hc, 0, sizeof(hc));
	hc.loop = cfg->loop;
	hc.transport = pool_transport;
	hc.transport_ctx = d;
	hc.allow_plain_http = cfg->allow_plain_http;
	hc.no_keepalive = cfg->no_keepalive;
	hc.idle_ms = cfg->idle_ms;
	eh_https_init(&d->https, &hc);
	return EH_OK;
}

void eh_delivery_set_webhook(struct eh_delivery *d, unsigned slot, const struct eh_webhook *wh)
{
	struct eh_delivery_slot *s;

	EH_ASSERT(d != NULL && slot < EH_MAX_WEBHOOKS);
	s = &d->slots[slot];
	if (wh != NULL && wh->id == 0)
		wh = NULL;
	if (wh == NULL || s->wh == NULL || wh->id != s->id || wh->gen != s->gen) {
		/* Deleted, or another webhook in this slot: start from scratch. */
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			worker_reset(&s->w[t]);
		s->sent = s->failed_attempts = s->dead_lettered = s->batches = 0;
		s->dl_pending = 0;
		s->last_success_ms = s->last_error_ms = 0;
		s->last_error[0] = '\0';
	}
	slot_identity(d, s, wh);
	s->wh = wh;
	s->id = wh ? wh->id : 0;
	s->gen = wh ? wh->gen : 0;
	if (wh != NULL)
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			worker_try(&s->w[t]);
}

void eh_delivery_kick(struct eh_delivery *d, unsigned slot, unsigned type)
{
	EH_ASSERT(d != NULL);
	if (slot >= EH_MAX_WEBHOOKS || type >= EH_TYPE_COUNT)
		return;
	worker_try(&d->slots[slot].w[type]);
}

void eh_delivery_stats(const struct eh_delivery *d, unsigned slot, struct eh_delivery_wstats *out)
{
	const struct eh_delivery_slot *s;
	uint64_t now;

	EH_ASSERT(d != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	if (slot >= EH_MAX_WEBHOOKS)
		return;
	s = &d->slots[slot];
	now = eh_loop_now(d->cfg.loop);
	out->sent = s->sent;
	out->failed_attempts = s->failed_attempts;
	out->dead_lettered = s->dead_lettered;
	out->batches = s->batches;
	out->dead_letters_pending = s->dl_pending;
	out->last_success_ms = s->last_success_ms;
	out->last_error_ms = s->last_error[0] ? s->last_error_ms : 0;
	snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		const struct eh_delivery_worker *w = &s->w[t];
		out->by_type[t].sent = w->sent;
		out->by_type[t].failed_attempts = w->failed_attempts;
		out->by_type[t].dead_lettered = w->dead_lettered;
		if (s->wh != NULL)
			out->queue[t] = d->cfg.source->lag(d->cfg.source_ctx, slot, t);
		if (w->state == EH_DW_SENDING)
			out->in_flight = true;
		if ((w->state == EH_DW_BACKOFF || w->state == EH_DW_SENDING) && w->attempts > 0 &&
		    w->attempts + 1 > out->attempt)
			out->attempt = w->attempts + 1;
		if (w->state == EH_DW_BACKOFF) {
			uint64_t in = w->due_ms > now ? w->due_ms - now : 1;
			if (out->next_attempt_in_ms == 0 || in < out->next_attempt_in_ms)
				out->next_attempt_in_ms = in;
		}
	}
	out->next_attempt_in_s = (double)out->next_attempt_in_ms / 1000.0;
	if (out->next_attempt_in_ms)
		out->next_attempt_at_ms = eh_clock_wall_ms(d->cfg.clock) + out->next_attempt_in_ms;
}

static bool senders_idle(const struct eh_delivery *d)
{
	for (unsigned i = 0; i < EH_DELIVERY_SENDERS; i++)
		if (d->senders[i].w != NULL)
			return false;
	return true;
}

/* The CA reload, with every sender idle: close, reload, go on. */
static eh_err reload_now(struct eh_delivery *d)
{
	const char *path = d->reload_ca;
	eh_err rc;

	d->reload_ca = NULL;
	eh_https_close_all(&d->https);
	rc = d->cfg.transport->reload_ca(d->cfg.transport_ctx, path);
	if (rc == EH_OK)
		EH_LOG_INF("delivery", "CA bundle %s reloaded: new connections use it", path);
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++)
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			worker_try(&d->slots[i].w[t]);
	return rc;
}

eh_err eh_delivery_reload_ca(struct eh_delivery *d, const char *ca_file)
{
	EH_ASSERT(d != NULL && ca_file != NULL);
	if (d->cfg.transport->reload_ca == NULL || d->stopped)
		return EH_ERR_INVAL;
	d->reload_ca = ca_file;
	if (!senders_idle(d))
		return EH_ERR_AGAIN;
	return reload_now(d);
}

unsigned eh_delivery_drain(struct eh_delivery *d)
{
	unsigned n = 0;

	EH_ASSERT(d != NULL);
	d->draining = true;
	for (unsigned i = 0; i < EH_DELIVERY_SENDERS; i++)
		if (d->senders[i].w != NULL)
			n++;
	return n;
}

void eh_delivery_stop(struct eh_delivery *d)
{
	EH_ASSERT(d != NULL);
	if (d->stopped)
		return;
	d->stopped = true;
	eh_loop_cancel(d->cfg.loop, d->clock_timer);
	d->clock_timer = 0;
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++)
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			worker_reset(&d->slots[i].w[t]);
	eh_https_close_all(&d->https);
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++) {
		identity_put(d, d->slots[i].identity);
		d->slots[i].identity = 0;
	}
}

const struct eh_https_stats *eh_delivery_https_stats(const struct eh_delivery *d)
{
	return eh_https_get_stats(&d->https);
}
