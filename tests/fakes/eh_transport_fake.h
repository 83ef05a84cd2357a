/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_fake.h - a scripted peer behind struct eh_transport: no
 * sockets, no TLS. The server's bytes come as segments; segment k is
 * released once the client has written a request after segment k-1 (a
 * server answers only what was asked). Writes are captured; short I/O and
 * EH_ERR_AGAIN are injected on demand. pollfd is -1 (always ready). */
#ifndef EH_TRANSPORT_FAKE_H
#define EH_TRANSPORT_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_transport.h"

#define EH_FAKE_MAX_SEGMENTS 64
#define EH_FAKE_TX_MAX (512u * 1024u)

struct eh_fake_segment {
	const char *data; /* the server's bytes for one request */
	size_t len;	  /* 0 = strlen(data) */
	eh_err after;	  /* once consumed: EH_OK keep going, EH_ERR_CLOSED the server
			   * closes, EH_ERR_NET it resets, EH_ERR_AGAIN it stalls */
};

struct eh_transport_fake {
	/* test fills */
	struct eh_fake_segment seg[EH_FAKE_MAX_SEGMENTS];
	size_t nseg;
	size_t max_chunk;	/* > 0: at most this many bytes per send/recv */
	unsigned again_every;	/* > 0: every Nth I/O call returns EH_ERR_AGAIN */
	eh_err connect_result;	/* EH_OK, or the failure connect reports */
	unsigned connect_again; /* connect returns EH_ERR_AGAIN this many times first */
	bool hold;		/* a slow server: no answer starts while set */
	/* observed */
	uint8_t tx[EH_FAKE_TX_MAX]; /* everything the client wrote, all connections */
	size_t tx_len;
	unsigned connects; /* successful connects */
	unsigned closes;
	unsigned requests; /* segments released */
	/* internal */
	bool open;
	unsigned calls;
	unsigned again_left;
	size_t cur, pos; /* segment being read and offset in it */
	bool released;	 /* cur has been released to the client */
	size_t tx_mark;	 /* tx_len when cur was released */
	eh_err dead;	 /* the connection failed/closed: what recv returns */
	char err[64];
};

/* Cannot fail. f must outlive t; fill f's script before use. */
void eh_transport_fake_init(struct eh_transport *t, struct eh_transport_fake *f);

/* Append a server segment (data is borrowed). */
void eh_transport_fake_add(struct eh_transport_fake *f, const char *data, eh_err after);

#endif /* EH_TRANSPORT_FAKE_H */
