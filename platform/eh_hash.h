/* SPDX-License-Identifier: Apache-2.0 */
/* eh_hash.h - the project's hashes, one of each kind:
 *  - CRC-32C (Castagnoli): what is stored on flash checks itself with it
 *    (queue records and segment headers, the inbound journal);
 *  - FNV-1a 64: small identities and change detection (config store
 *    trailer, topic sets, "did the status change");
 *  - eh_hash64: a fast keyed-by-type hash of a notification's bytes, for
 *    the redelivery filter (eight bytes a step).
 * All pure and thread-safe. None is cryptographic: signatures use
 * eh_crypto. */
#ifndef EH_HASH_H
#define EH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define EH_FNV1A64_SEED 1469598103934665603ull

/* CRC-32C of buf, continuing from crc (0 to start): chaining calls over the
 * parts of a buffer gives the CRC of the whole. */
uint32_t eh_crc32c(uint32_t crc, const void *buf, size_t len);

/* FNV-1a 64 of buf, continuing from h (EH_FNV1A64_SEED to start). */
static inline uint64_t eh_fnv1a64(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* A fast 64-bit hash of buf keyed by `key` (a notification's type); never
 * 0, so 0 can mean "empty" in a table. <queue>.seen stores it: changing it
 * changes that file's meaning (a restart would then redeliver once). */
uint64_t eh_hash64(unsigned key, const void *buf, size_t len);

#endif /* EH_HASH_H */
