/* SPDX-License-Identifier: Apache-2.0 */
/* eh_ingest.c - message -> size bound -> parse -> match -> redelivery
 * filter -> one staged record per wanted notification; the held FIFO under
 * `block`. The bytes of each notification are staged as received. */
#include "eh_ingest.h"

#include <stdio.h>
#include <string.h>

#include "eh_assert.h"
#include "eh_errs.h"
#include "eh_hash.h"
#include "eh_log.h"

/* ==== Redelivery filter ====
 * Broker redeliveries of notifications already queued (same type, same
 * bytes): an 8-way set-associative table of recent hashes (65536 of them,
 * two candidate sets each),
 * O(1) per notification, rebuilt at start from <queue>.seen and the newest
 * records. A
 * collision only forgets an older entry, which then may be queued twice:
 * still at least once, never lost. */

/* Each hash may live in one of two sets (two choices: the table fills
 * evenly, so an old entry is not pushed out while the table has room). */
static unsigned set_a(uint64_t h)
{
	return (unsigned)(h & (EH_INGEST_DEDUPE_SETS - 1));
}

static unsigned set_b(uint64_t h)
{
	return (unsigned)((h >> 40) & (EH_INGEST_DEDUPE_SETS - 1));
}

static bool in_set(const struct eh_ingest *g, unsigned set, uint64_t h)
{
	for (unsigned w = 0; w < EH_INGEST_DEDUPE_WAYS; w++)
		if (g->dedupe[set][w] == h)
			return true;
	return false;
}

static unsigned free_ways(const struct eh_ingest *g, unsigned set)
{
	unsigned n = 0;
	for (unsigned w = 0; w < EH_INGEST_DEDUPE_WAYS; w++)
		n += g->dedupe[set][w] == 0;
	return n;
}

static bool dedupe_seen(const struct eh_ingest *g, uint64_t h)
{
	return in_set(g, set_a(h), h) || in_set(g, set_b(h), h);
}

/* Into the set with more room; when both are full, the way replaced next
 * (round robin) of the first. */
static void dedupe_add(struct eh_ingest *g, uint64_t h)
{
	unsigned a = set_a(h), b = set_b(h);
	unsigned fa = free_ways(g, a), fb = free_ways(g, b);
	unsigned i = fb > fa ? b : a;

	g->dedupe_dirty[i / 64] |= (uint64_t)1 << (i % 64);
	if (fa + fb > 0) {
		for (unsigned w = 0; w < EH_INGEST_DEDUPE_WAYS; w++)
			if (g->dedupe[i][w] == 0) {
				g->dedupe[i][w] = h;
				return;
			}
	}
	g->dedupe[i][g->dedupe_next[i]] = h;
	g->dedupe_next[i] = (uint8_t)((g->dedupe_next[i] + 1) % EH_INGEST_DEDUPE_WAYS);
}

uint64_t eh_ingest_hash(unsigned type, const uint8_t *raw, size_t len)
{
	return eh_hash64(type, raw, len);
}

void eh_ingest_remember_hash(struct eh_ingest *g, uint64_t hash)
{
	/* Known already: a second way in its set would only evict another. */
	if (hash != 0 && !dedupe_seen(g, hash))
		dedupe_add(g, hash);
}

void eh_ingest_remember(struct eh_ingest *g, unsigned type, const uint8_t *raw, size_t len)
{
	eh_ingest_remember_hash(g, eh_hash64(type, raw, len));
}

/* ==== One message ==== */

void eh_ingest_init(struct eh_ingest *g, const struct eh_ingest_ops *ops, void *ctx)
{
	EH_ASSERT(g != NULL && ops != NULL && ops->match != NULL && ops->append != NULL);
	/* The parse scratch is written before it is read: not zeroed, so it
	 * costs no resident memory until a large array arrives. The filter is
	 * cleared set by set where hashes were added (512 KiB whole). */
	memset(g, 0, offsetof(struct eh_ingest, dedupe_dirty));
	for (unsigned w = 0; w < EH_INGEST_DEDUPE_SETS / 64; w++) {
		while (g->dedupe_dirty[w] != 0) {
			unsigned i = w * 64 + (unsigned)__builtin_ctzll(g->dedupe_dirty[w]);
			memset(g->dedupe[i], 0, sizeof(g->dedupe[i]));
			g->dedupe_next[i] = 0;
			g->dedupe_dirty[w] &= g->dedupe_dirty[w] - 1;
		}
	}
	g->ops = ops;
	g->ctx = ctx;
}

eh_err eh_ingest_message(struct eh_ingest *g, unsigned type, const uint8_t *payload, size_t len,
			 char *diag, size_t diag_cap, size_t *from)
{
	struct eh_errs errs;
	size_t n = 0;
	eh_err rc;

	EH_ASSERT(g != NULL && from != NULL && type <= EH_INGEST_BY_WEBHOOK_TYPE);
	if (*from == 0)
		g->st.messages++;
	if (len > EH_MAX_MSG_BYTES) {
		g->st.rejected++;
		g->st.oversize++;
		snprintf(diag, diag_cap, "message of %zu bytes is over the %d byte limit", len,
			 EH_MAX_MSG_BYTES);
		return EH_ERR_TOOBIG;
	}
	eh_errs_init(&errs);
	if (type == EH_INGEST_BY_WEBHOOK_TYPE)
		rc = eh_note_parse_typed((const char *)payload, len, g->notes, EH_MAX_ARRAY_NOTES,
					 &n, &errs);
	else
		rc = eh_note_parse_message((const char *)payload, len, type, g->notes,
					   EH_MAX_ARRAY_NOTES, &n, &errs);
	if (rc != EH_OK) {
		g->st.rejected++;
		snprintf(diag, diag_cap, "%s", errs.n ? errs.msg[0] : eh_err_str(rc));
		return rc == EH_ERR_TOOBIG ? EH_ERR_TOOBIG : EH_ERR_PROTO;
	}
	/* Under `block` a message may stop half-way: *from says where it goes
	 * on once there is room, so no notification is staged twice. */
	for (size_t i = *from; i < n; i++) {
		const struct eh_note *note = &g->notes[i];
		unsigned t = note->type; /* the message's, or the element's own */
		uint64_t h, mask = g->ops->match(g->ctx, note);

		g->st.notifications++;
		if (mask == 0) {
			g->st.unmatched++;
			continue;
		}
		h = eh_hash64(t, (const uint8_t *)note->raw, note->raw_len);
		if (dedupe_seen(g, h)) {
			g->st.duplicates++;
			continue;
		}
		rc = g->ops->append(g->ctx, t, mask, (const uint8_t *)note->raw, note->raw_len, h);
		if (rc == EH_ERR_NOSPC) {
			g->st.notifications--;
			*from = i;
			snprintf(diag, diag_cap, "queue full");
			return EH_ERR_NOSPC;
		}
		if (rc != EH_OK) {
			g->st.rejected++;
			snprintf(diag, diag_cap, "[%zu]: queue refused: %s", i, eh_err_str(rc));
			return rc == EH_ERR_IO ? EH_ERR_IO : EH_ERR_TOOBIG;
		}
		g->st.queued++;
		dedupe_add(g, h);
		EH_LOG_DBG("ingest", "staged %s notification %.*s", eh_type_name(t),
			   (int)(note->id_len < 64 ? note->id_len : 64), note->id);
		if (g->ops->kick != NULL)
			for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
				if (mask & (1ull << s))
					g->ops->kick(g->ctx, s, t);
	}
	*from = 0;
	g->last_count = n;
	return EH_OK;
}

size_t eh_ingest_last_count(const struct eh_ingest *g)
{
	return g->last_count;
}

/* ==== Held input under `block` ==== */

/* Ingest a held or offered message. false: no room (e->from says where it
 * goes on); true: taken. */
static bool take(struct eh_ingest *g, struct eh_ingest_held *e)
{
	char diag[EH_ERRS_LEN];
	eh_err rc = eh_ingest_message(g, e->type, e->payload, e->len, diag, sizeof(diag), &e->from);

	if (rc == EH_ERR_NOSPC)
		return false;
	if (rc != EH_OK)
		EH_LOG_WRN("ingest", "%s message of %zu bytes refused: %s", eh_type_name(e->type),
			   e->len, diag);
	if (g->ops->taken != NULL)
		g->ops->taken(g->ctx, e->msg);
	return true;
}

void eh_ingest_offer(struct eh_ingest *g, unsigned type, const uint8_t *payload, size_t len,
		     void *msg)
{
	struct eh_ingest_held e = {msg, payload, len, type, 0};

	EH_ASSERT(g != NULL && type < EH_TYPE_COUNT);
	if (g->held_n == 0 && take(g, &e))
		return;
	/* The source sends at most its window before it waits: never more. */
	EH_ASSERT(g->held_n < EH_INGEST_MAX_HELD);
	g->held[(g->held_head + g->held_n++) % EH_INGEST_MAX_HELD] = e;
	if (g->held_n == 1) {
		g->st.blocked++;
		if (g->ops->pause != NULL)
			g->ops->pause(g->ctx, true);
		EH_LOG_WRN("queue", "full (block policy): input paused");
	}
}

void eh_ingest_retry(struct eh_ingest *g)
{
	EH_ASSERT(g != NULL);
	if (g->held_n == 0)
		return;
	while (g->held_n) {
		if (!take(g, &g->held[g->held_head]))
			return;
		g->held_head = (g->held_head + 1) % EH_INGEST_MAX_HELD;
		g->held_n--;
	}
	if (g->ops->pause != NULL)
		g->ops->pause(g->ctx, false);
	EH_LOG_INF("queue", "room again: input resumed");
}

bool eh_ingest_holding(const struct eh_ingest *g)
{
	return g->held_n != 0;
}
