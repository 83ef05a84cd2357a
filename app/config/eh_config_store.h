/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config_store.h - the accepted config messages, kept beside the queue.
 * After a restart the daemon replays them before MQTT connects, so the
 * webhook table is whole before the broker hands over the notifications it
 * kept for the session (it sends those before it re-sends retained config).
 * A retained copy that arrives later with the same bytes is recognised
 * and skipped. File: "<queue path>.config", replaced atomically on change. */
#ifndef EH_CONFIG_STORE_H
#define EH_CONFIG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"

#ifndef EH_CONFIG_STORE_BYTES
#define EH_CONFIG_STORE_BYTES (512u * 1024u) /* payload bytes kept */
#endif
#define EH_CONFIG_STORE_MAX (EH_MAX_WEBHOOKS + EH_CATALOG_MAX_ENTRIES + 8)
#define EH_CONFIG_STORE_TOPIC 256
#define EH_CONFIG_STORE_HMAC 129

struct eh_config_store_entry {
	char topic[EH_CONFIG_STORE_TOPIC]; /* "" = free */
	char hmac[EH_CONFIG_STORE_HMAC];   /* the signature it came with, "" = none */
	int slot;			   /* webhooks: the table slot it had, else -1 */
	uint32_t off, len;		   /* payload in the arena */
};

struct eh_config_store {
	/* internal */
	char path[300];
	struct eh_config_store_entry e[EH_CONFIG_STORE_MAX];
	unsigned n;
	uint8_t arena[EH_CONFIG_STORE_BYTES];
	uint32_t used;
	uint8_t file[EH_CONFIG_STORE_BYTES + EH_CONFIG_STORE_MAX * 420 + 64]; /* file image */
};

/* Read path (a missing file is an empty store). EH_ERR_CORRUPT when the
 * file fails its checksum or structure: the daemon then starts empty and
 * waits for the retained config (it says so in the log). */
eh_err eh_config_store_open(struct eh_config_store *s, const char *path);

/* Whether topic's stored payload is exactly these bytes. */
bool eh_config_store_same(const struct eh_config_store *s, const char *topic,
			  const uint8_t *payload, size_t len);

/* Keep (len > 0) or forget (len == 0) topic's payload and rewrite the
 * file. EH_ERR_NOSPC when the store is full (the message still applies;
 * it is simply not replayed after a restart). EH_ERR_INVAL, and nothing
 * changes, when topic holds a newline or hmac anything but lowercase hex
 * digits (the file keeps one value a line). */
eh_err eh_config_store_put(struct eh_config_store *s, const char *topic, const uint8_t *payload,
			   size_t len, const char *hmac, int slot);

/* Entry i (0 <= i < count) for replay, in the order they were kept. */
unsigned eh_config_store_count(const struct eh_config_store *s);
const struct eh_config_store_entry *eh_config_store_entry(const struct eh_config_store *s,
							  unsigned i, const uint8_t **payload);

#endif /* EH_CONFIG_STORE_H */
