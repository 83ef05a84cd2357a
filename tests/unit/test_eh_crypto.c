/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_crypto.c - HMAC-SHA256 (RFC 4231 case 2) and base64 vectors. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_crypto.h"

EH_TEST(hmac_sha256_rfc4231_case2_in_parts)
{
	const uint8_t *parts[2] = {(const uint8_t *)"what do ya want ",
				   (const uint8_t *)"for nothing?"};
	size_t lens[2] = {16, 12};
	uint8_t mac[32];
	char hex[65];
	REQUIRE(eh_crypto_hmac_sha256((const uint8_t *)"Jefe", 4, parts, lens, 2, mac) == EH_OK);
	eh_crypto_hex(mac, 32, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

EH_TEST(base64_roundtrip_and_errors)
{
	char enc[16];
	uint8_t dec[16];
	size_t n = 0;
	REQUIRE(eh_crypto_base64_encode((const uint8_t *)"foob", 4, enc, sizeof(enc), &n) == EH_OK);
	CHECK_STR(enc, "Zm9vYg==");
	CHECK_EQ(n, 8);
	CHECK(eh_crypto_base64_decode("Zm9vYg==", 8, dec, sizeof(dec), &n) == EH_OK);
	CHECK_EQ(n, 4);
	CHECK(memcmp(dec, "foob", 4) == 0);
	CHECK(eh_crypto_base64_decode("Zm9v!g==", 8, dec, sizeof(dec), &n) == EH_ERR_INVAL);
	CHECK(eh_crypto_base64_encode((const uint8_t *)"foobar", 6, enc, 4, &n) == EH_ERR_NOSPC);
	CHECK(eh_crypto_equal("abc", "abc", 3));
	CHECK(!eh_crypto_equal("abc", "abd", 3));
}
