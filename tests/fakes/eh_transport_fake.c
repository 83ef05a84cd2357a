/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_fake.c - the scripted peer (see the header). */
#include "eh_transport_fake.h"

#include <stdio.h>
#include <string.h>

static int inject_again(struct eh_transport_fake *f)
{
	f->calls++;
	return f->again_every != 0 && f->calls % f->again_every == 0;
}

static eh_err fake_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_fake *f = t->state;

	(void)host;
	(void)port;
	if (f->again_left > 0) {
		f->again_left--;
		return EH_ERR_AGAIN;
	}
	if (f->connect_result != EH_OK) {
		snprintf(f->err, sizeof(f->err), "fake connect failure");
		return f->connect_result;
	}
	f->open = true;
	f->dead = EH_OK;
	f->connects++;
	return EH_OK;
}

static eh_err fake_send(struct eh_transport *t, const void *buf, size_t len, size_t *n)
{
	struct eh_transport_fake *f = t->state;

	if (!f->open)
		return EH_ERR_CLOSED;
	if (f->dead == EH_ERR_CLOSED || f->dead == EH_ERR_NET) {
		snprintf(f->err, sizeof(f->err), "connection reset while sending");
		return EH_ERR_NET;
	}
	if (inject_again(f))
		return EH_ERR_AGAIN;
	if (f->max_chunk && len > f->max_chunk)
		len = f->max_chunk;
	if (len > sizeof(f->tx) - f->tx_len)
		len = sizeof(f->tx) - f->tx_len;
	memcpy(f->tx + f->tx_len, buf, len);
	f->tx_len += len;
	*n = len;
	return EH_OK;
}

static eh_err fake_recv(struct eh_transport *t, void *buf, size_t len, size_t *n)
{
	struct eh_transport_fake *f = t->state;
	struct eh_fake_segment *s;

	if (!f->open)
		return EH_ERR_CLOSED;
	if (f->dead != EH_OK) {
		snprintf(f->err, sizeof(f->err), "%s",
			 f->dead == EH_ERR_NET ? "connection reset by peer"
					       : "server disconnected");
		return f->dead;
	}
	if (inject_again(f))
		return EH_ERR_AGAIN;
	if (f->released && f->pos == f->seg[f->cur].len) {
		/* The segment is consumed: the server does what it says next. */
		s = &f->seg[f->cur];
		if (s->after != EH_OK && s->after != EH_ERR_AGAIN) {
			f->dead = s->after;
			f->cur++;
			f->released = false;
			f->pos = 0;
			return fake_recv(t, buf, len, n);
		}
		if (s->after == EH_ERR_AGAIN)
			return EH_ERR_AGAIN; /* stalled for good */
		f->cur++;
		f->released = false;
		f->pos = 0;
	}
	if (!f->released) {
		if (f->hold || f->cur >= f->nseg || f->tx_len == f->tx_mark)
			return EH_ERR_AGAIN; /* nothing asked, or nothing left to say */
		f->released = true;
		f->tx_mark = f->tx_len;
		f->requests++;
	}
	s = &f->seg[f->cur];
	if (len > s->len - f->pos)
		len = s->len - f->pos;
	if (f->max_chunk && len > f->max_chunk)
		len = f->max_chunk;
	if (len == 0)
		return EH_ERR_AGAIN;
	memcpy(buf, s->data + f->pos, len);
	f->pos += len;
	*n = len;
	return EH_OK;
}

static int fake_pollfd(const struct eh_transport *t)
{
	(void)t;
	return -1;
}

static unsigned fake_want(const struct eh_transport *t)
{
	(void)t;
	return EH_TRANSPORT_WANT_READ;
}

static void fake_close(struct eh_transport *t)
{
	struct eh_transport_fake *f = t->state;

	if (f->open)
		f->closes++;
	f->open = false;
	/* A new connection starts at the next unreleased segment. */
	if (f->released) {
		f->cur++;
		f->released = false;
		f->pos = 0;
	}
	f->tx_mark = f->tx_len;
	f->again_left = f->connect_again;
}

static const char *fake_error(const struct eh_transport *t)
{
	const struct eh_transport_fake *f = t->state;
	return f->err;
}

static const struct eh_transport_ops fake_ops = {
    .connect = fake_connect,
    .send = fake_send,
    .recv = fake_recv,
    .pollfd = fake_pollfd,
    .want = fake_want,
    .close = fake_close,
    .error = fake_error,
    .resumed = NULL,
};

void eh_transport_fake_init(struct eh_transport *t, struct eh_transport_fake *f)
{
	t->ops = &fake_ops;
	t->state = f;
	t->name = "fake";
	f->again_left = f->connect_again;
	for (size_t i = 0; i < f->nseg; i++)
		if (f->seg[i].len == 0 && f->seg[i].data != NULL)
			f->seg[i].len = strlen(f->seg[i].data);
}

void eh_transport_fake_add(struct eh_transport_fake *f, const char *data, eh_err after)
{
	if (f->nseg >= EH_FAKE_MAX_SEGMENTS)
		return;
	f->seg[f->nseg].data = data;
	f->seg[f->nseg].len = strlen(data);
	f->seg[f->nseg].after = after;
	f->nseg++;
}
