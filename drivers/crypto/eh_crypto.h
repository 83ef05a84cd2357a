/* SPDX-License-Identifier: Apache-2.0 */
/* eh_crypto.h - the few primitives the app needs (HMAC-SHA256 for webhook
 * signatures and signed config, base64, random bytes, a CA bundle check),
 * so that no file outside drivers/ includes a crypto library header.
 * Backend: mbedTLS. */
#ifndef EH_CRYPTO_H
#define EH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"

#define EH_SHA256_LEN 32

/* HMAC-SHA256 over the concatenation of nparts byte strings. */
eh_err eh_crypto_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *const *parts,
			     const size_t *lens, size_t nparts, uint8_t out[EH_SHA256_LEN]);

/* Standard base64 with padding. *olen excludes the NUL that encode adds.
 * EH_ERR_NOSPC when cap is too small; decode: EH_ERR_INVAL on bad input. */
eh_err eh_crypto_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *olen);
eh_err eh_crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *olen);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void eh_crypto_hex(const uint8_t *in, size_t len, char *out);

/* Constant-time comparison: 1 when equal. */
int eh_crypto_equal(const void *a, const void *b, size_t len);

/* Load the trusted-CA bundle at path (PEM or DER) the way the HTTPS client
 * does at start, then drop it: EH_OK when at least one certificate is
 * usable (*ncerts, may be NULL, gets how many), EH_ERR_NOENT when the file
 * cannot be read, EH_ERR_TLS when it holds no usable certificate. Lets a
 * configuration check refuse what start would fail on. */
eh_err eh_crypto_ca_check(const char *path, unsigned *ncerts);

/* Bytes from the OS's random source (getrandom). */
eh_err eh_crypto_random(void *out, size_t len);

#endif /* EH_CRYPTO_H */
