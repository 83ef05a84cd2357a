/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_journal.c - replay of arbitrary journal images. The first byte picks
 * how the rest is read:
 *  0: the bytes are the image;
 *  1: a program that builds a current-format image whose file header and
 *     entries carry valid CRC-32Cs, with hostile numbers, lengths (near and
 *     over every bound), places (across halves, into the spill, overlapping)
 *     and a hostile commit mark, so the fuzzer gets past the CRCs;
 *  2: the same for the previous format (FNV-1a 64 over host-endian fields).
 * Each image is replayed whole, then again from where a callback that
 * refuses now and then stopped. Nothing may read outside the image, and
 * every entry handed over must be within the bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_hash.h"
#include "eh_journal.h"

static uint8_t img[1u << 13]; /* 8 KiB: the walks, not the CRC, are what is tested */

struct cb {
	unsigned calls, refuse_every;
	unsigned long sum;
};

static bool take(void *ctx, const char *topic, const uint8_t *payload, size_t len, const char *hmac)
{
	struct cb *c = ctx;
	size_t tl = strlen(topic);
	if (tl > EH_MQTT_TOPIC_MAX || len > EH_MAX_MSG_BYTES ||
	    (hmac != NULL && strlen(hmac) > EH_JOURNAL_HMAC_MAX))
		abort();
	/* Touch every byte handed over: ASan sees a read past the image. */
	for (size_t i = 0; i < len; i++)
		c->sum += payload[i];
	c->calls++;
	return c->refuse_every == 0 || c->calls % c->refuse_every != 0;
}

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint32_t rd(struct rd *r, unsigned bytes)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v |= (uint32_t)(r->n ? r->p[0] : 0) << (8 * i);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

static void le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A length near a bound: small, the bound, one over, or wild. */
static uint32_t hostile_len(struct rd *r, uint32_t bound)
{
	uint32_t k = rd(r, 1);
	switch (k & 3) {
	case 0:
		return k >> 2;
	case 1:
		return bound;
	case 2:
		return bound + 1;
	default:
		return rd(r, 4);
	}
}

static size_t build_v2(struct rd *r)
{
	uint32_t area = 16u * (1u + rd(r, 2) % 256u); /* 16 .. 4 KiB */
	size_t len = 32u + area + rd(r, 2) % 2048u;
	if (len > sizeof(img))
		len = sizeof(img);
	memset(img, 0, len);
	memcpy(img, "EHJL", 4);
	le(img + 4, 2, 2);
	le(img + 6, 32, 2);
	le(img + 8, area, 4);
	le(img + 12, eh_crc32c(0, img, 12), 4);
	le(img + 16, rd(r, 1) & 1 ? rd(r, 4) : rd(r, 1), 8);
	uint64_t seq = rd(r, 1);
	while (r->n > 0) {
		size_t at = (32u + 8u * rd(r, 2)) % len;
		uint32_t tl = hostile_len(r, EH_MQTT_TOPIC_MAX);
		uint32_t hl = hostile_len(r, EH_JOURNAL_HMAC_MAX);
		uint32_t pl = hostile_len(r, 64);
		unsigned step = rd(r, 1);
		seq = step & 0x80 ? seq - (step & 7) : seq + (step & 7);
		size_t body = (size_t)(tl & 0xffff) + (hl & 0xff) + pl;
		if (at + 24 > len)
			continue;
		uint8_t *e = img + at;
		memcpy(e, "EHJE", 4);
		le(e + 8, seq, 8);
		le(e + 16, pl, 4);
		le(e + 20, tl, 2);
		e[22] = (uint8_t)hl;
		e[23] = (uint8_t)(step & 0x40 ? 1 : 0);
		size_t avail = len - at - 24, k = body < avail ? body : avail;
		for (size_t i = 0; i < k; i++)
			e[24 + i] = (uint8_t)('a' + (i + step) % 26);
		le(e + 4, eh_crc32c(0, e + 8, 16 + k), 4);
	}
	return len;
}

static size_t build_v1(struct rd *r)
{
	size_t len = 0;
	while (r->n > 0 && len + 24 < sizeof(img)) {
		uint32_t tl = hostile_len(r, EH_MQTT_TOPIC_MAX);
		uint32_t hl = hostile_len(r, EH_JOURNAL_HMAC_MAX);
		uint32_t pl = hostile_len(r, 64);
		uint8_t *e = img + len;
		uint32_t magic = 0x314a4845u;
		size_t avail = sizeof(img) - len - 24;
		uint64_t body = (uint64_t)tl + hl + pl, k = body < avail ? body : avail;
		memcpy(e, &magic, 4);
		memcpy(e + 4, &tl, 4);
		memcpy(e + 8, &hl, 4);
		memcpy(e + 12, &pl, 4);
		for (size_t i = 0; i < k; i++)
			e[24 + i] = (uint8_t)('a' + i % 26);
		uint64_t h = eh_fnv1a64(EH_FNV1A64_SEED, e + 4, 12);
		h = eh_fnv1a64(h, e + 24, (size_t)k);
		memcpy(e + 16, &h, 8);
		len += 24 + (size_t)k;
		len += rd(r, 1) % 8; /* junk between entries */
		if (len > sizeof(img))
			len = sizeof(img);
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_journal_replay r;
	struct cb c = {0, 0, 0};
	struct rd in = {data + 1, size ? size - 1 : 0};
	size_t len;

	if (size == 0)
		return 0;
	if (data[0] == 1)
		len = build_v2(&in);
	else if (data[0] == 2)
		len = build_v1(&in);
	else {
		len = size - 1 < sizeof(img) ? size - 1 : sizeof(img);
		memcpy(img, data + 1, len);
	}
	c.refuse_every = size % 5;
	if (eh_journal_replay_buf(img, len, 0, UINT64_MAX, take, &c, &r) != EH_OK)
		return 0;
	if (r.replayed > c.calls || (c.refuse_every == 0 && r.stopped))
		abort();
	if (r.stopped) {
		struct eh_journal_replay r2;
		uint64_t from = r.next;
		c.refuse_every = 0;
		if (eh_journal_replay_buf(img, len, from, r.end, take, &c, &r2) != EH_OK ||
		    r2.stopped || (r2.replayed > 0 && r2.next <= from))
			abort();
	}
	return 0;
}
