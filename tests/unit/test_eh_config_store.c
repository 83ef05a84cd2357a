/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_config_store.c - the accepted config kept beside the queue:
 * round trip with slots and signatures, same-bytes detection, deletion,
 * and a damaged file refused whole. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_config_store.h"

#include <unistd.h>

static struct eh_config_store st, st2;

static void tmp_path(char *p, size_t cap)
{
	snprintf(p, cap, "/tmp/eh_cstore_%d", (int)getpid());
	unlink(p);
}

EH_TEST(missing_file_is_empty_and_roundtrip_keeps_slots)
{
	char p[64];
	const uint8_t *pl;
	tmp_path(p, sizeof(p));
	REQUIRE(eh_config_store_open(&st, p) == EH_OK);
	CHECK_EQ(eh_config_store_count(&st), 0);
	CHECK(eh_config_store_put(&st, "P/config/webhooks/1", (const uint8_t *)"{\"a\":1}", 7, NULL,
				  0) == EH_OK);
	CHECK(eh_config_store_put(&st, "P/config/webhooks/2", (const uint8_t *)"{\"b\":\n2}", 8,
				  "abcd", 5) == EH_OK);
	CHECK(eh_config_store_put(&st, "P/catalog/cameras/3", (const uint8_t *)"{}", 2, NULL, -1) ==
	      EH_OK);
	REQUIRE(eh_config_store_open(&st2, p) == EH_OK);
	REQUIRE(eh_config_store_count(&st2) == 3);
	const struct eh_config_store_entry *e = eh_config_store_entry(&st2, 1, &pl);
	CHECK_STR(e->topic, "P/config/webhooks/2");
	CHECK_STR(e->hmac, "abcd");
	CHECK_EQ(e->slot, 5);
	CHECK_EQ(e->len, 8);
	CHECK(memcmp(pl, "{\"b\":\n2}", 8) == 0);
	CHECK(eh_config_store_same(&st2, "P/config/webhooks/1", (const uint8_t *)"{\"a\":1}", 7));
	CHECK(!eh_config_store_same(&st2, "P/config/webhooks/1", (const uint8_t *)"{\"a\":2}", 7));
	CHECK(!eh_config_store_same(&st2, "P/config/webhooks/9", (const uint8_t *)"{}", 2));
	unlink(p);
}

/* One value a line: a topic or signature holding a newline (or anything
 * but lowercase hex in a signature) would shift every later line. */
EH_TEST(values_that_would_break_the_lines_are_refused)
{
	char p[64];
	tmp_path(p, sizeof(p));
	REQUIRE(eh_config_store_open(&st, p) == EH_OK);
	CHECK_EQ(eh_config_store_put(&st, "t/1", (const uint8_t *)"{}", 2, "ab\ncd", 0),
		 EH_ERR_INVAL);
	CHECK_EQ(eh_config_store_put(&st, "t/1", (const uint8_t *)"{}", 2, "ABCD", 0),
		 EH_ERR_INVAL);
	CHECK_EQ(eh_config_store_put(&st, "t/\n1", (const uint8_t *)"{}", 2, NULL, 0),
		 EH_ERR_INVAL);
	CHECK_EQ(eh_config_store_count(&st), 0);
	CHECK_EQ(eh_config_store_put(&st, "t/1", (const uint8_t *)"{}", 2, "abcd", 0), EH_OK);
	REQUIRE(eh_config_store_open(&st2, p) == EH_OK);
	CHECK_EQ(eh_config_store_count(&st2), 1);
	unlink(p);
}

EH_TEST(replace_and_delete)
{
	char p[64];
	const uint8_t *pl;
	tmp_path(p, sizeof(p));
	REQUIRE(eh_config_store_open(&st, p) == EH_OK);
	eh_config_store_put(&st, "t/1", (const uint8_t *)"one", 3, NULL, 0);
	eh_config_store_put(&st, "t/2", (const uint8_t *)"two", 3, NULL, 1);
	eh_config_store_put(&st, "t/1", (const uint8_t *)"uno!", 4, NULL, 0);
	eh_config_store_put(&st, "t/2", NULL, 0, NULL, -1);
	REQUIRE(eh_config_store_open(&st2, p) == EH_OK);
	REQUIRE(eh_config_store_count(&st2) == 1);
	const struct eh_config_store_entry *e = eh_config_store_entry(&st2, 0, &pl);
	CHECK_STR(e->topic, "t/1");
	CHECK(e->len == 4 && memcmp(pl, "uno!", 4) == 0);
	unlink(p);
}

EH_TEST(damaged_file_is_refused_whole)
{
	char p[64];
	tmp_path(p, sizeof(p));
	REQUIRE(eh_config_store_open(&st, p) == EH_OK);
	eh_config_store_put(&st, "t/1", (const uint8_t *)"payload", 7, NULL, 0);
	FILE *f = fopen(p, "r+b");
	REQUIRE(f != NULL);
	fseek(f, 14, SEEK_SET); /* inside the entry */
	fputc('X', f);
	fclose(f);
	CHECK(eh_config_store_open(&st2, p) == EH_ERR_CORRUPT);
	CHECK_EQ(eh_config_store_count(&st2), 0);
	f = fopen(p, "wb");
	fputs("EHCS1\nt/1\n-\n0\n99999\nx\nEND 0000000000000000\n", f);
	fclose(f);
	CHECK(eh_config_store_open(&st2, p) == EH_ERR_CORRUPT);
	unlink(p);
}
