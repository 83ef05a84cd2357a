/* SPDX-License-Identifier: Apache-2.0 */
/* eh_crypto_mbedtls.c - eh_crypto over mbedTLS 2.28's md, base64 and x509. */
#define _GNU_SOURCE
#include "eh_crypto.h"
#include "eh_log.h"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <sys/random.h>
#include <sys/stat.h>

eh_err eh_crypto_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *const *parts,
			     const size_t *lens, size_t nparts, uint8_t out[EH_SHA256_LEN])
{
	mbedtls_md_context_t md;
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	eh_err rc = EH_ERR_INVAL;
	int r;

	mbedtls_md_init(&md);
	if ((r = mbedtls_md_setup(&md, info, 1)) != 0)
		goto out;
	if ((r = mbedtls_md_hmac_starts(&md, key, klen)) != 0)
		goto out;
	for (size_t i = 0; i < nparts; i++)
		if ((r = mbedtls_md_hmac_update(&md, parts[i], lens[i])) != 0)
			goto out;
	if ((r = mbedtls_md_hmac_finish(&md, out)) != 0)
		goto out;
	rc = EH_OK;
out:
	if (rc != EH_OK)
		EH_LOG_ERR("crypto", "hmac: -0x%04x", (unsigned)-r);
	mbedtls_md_free(&md);
	return rc;
}

eh_err eh_crypto_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *olen)
{
	size_t n = 0;
	int r = mbedtls_base64_encode((unsigned char *)out, cap, &n, in, len);
	if (r == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return EH_ERR_NOSPC;
	if (r != 0)
		return EH_ERR_INVAL;
	*olen = n;
	return EH_OK;
}

eh_err eh_crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *olen)
{
	size_t n = 0;
	int r = mbedtls_base64_decode(out, cap, &n, (const unsigned char *)in, len);
	if (r == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return EH_ERR_NOSPC;
	if (r != 0)
		return EH_ERR_INVAL;
	*olen = n;
	return EH_OK;
}

void eh_crypto_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int eh_crypto_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < len; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d == 0;
}

eh_err eh_crypto_random(void *out, size_t len)
{
	size_t done = 0;
	while (done < len) {
		/* Requests of up to 256 bytes are never interrupted (getrandom(2)). */
		ssize_t r =
		    getrandom((uint8_t *)out + done, len - done > 256 ? 256 : len - done, 0);
		if (r < 0)
			return EH_ERR_IO;
		done += (size_t)r;
	}
	return EH_OK;
}

eh_err eh_crypto_ca_check(const char *path, unsigned *ncerts)
{
	mbedtls_x509_crt ca;
	struct stat st;
	unsigned n = 0;
	eh_err rc = EH_ERR_TLS;
	int r;

	mbedtls_x509_crt_init(&ca);
	/* mbedTLS sizes its read buffer by seeking to the end: a directory or a
	 * device gives a bogus size (a huge allocation), so regular files only. */
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = EH_ERR_NOENT;
		goto out;
	}
	r = mbedtls_x509_crt_parse_file(&ca, path);
	if (r == MBEDTLS_ERR_X509_FILE_IO_ERROR || r == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
		rc = EH_ERR_NOENT;
		goto out;
	}
	/* As eh_tls_open: r > 0 counts certificates of a system bundle that did
	 * not parse (the others are usable); r < 0 or nothing loaded is fatal. */
	if (r < 0 || ca.version == 0) {
		EH_LOG_DBG("crypto", "x509_crt_parse_file: -0x%04x", (unsigned)(r < 0 ? -r : 0));
		goto out;
	}
	for (const mbedtls_x509_crt *c = &ca; c != NULL && c->version != 0; c = c->next)
		n++;
	rc = EH_OK;
out:
	mbedtls_x509_crt_free(&ca);
	if (ncerts != NULL)
		*ncerts = n;
	return rc;
}
