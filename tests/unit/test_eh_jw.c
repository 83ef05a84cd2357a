/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_jw.c - the JSON string escaper (every byte class, the size it reports, never a
 * byte past cap) and the bounded writer (commas, nesting, sticky overflow). */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_jw.h"

EH_TEST(escape_every_byte_class)
{
	char out[64];
	size_t n = eh_jw_escape("a\"b\\c\n\x01\x1f\x7f\xc3\xa9/", out, sizeof(out));
	out[n] = '\0';
	CHECK_STR(out, "a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f\xc3\xa9/");
	CHECK_EQ(n, strlen("a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f\xc3\xa9/"));
	CHECK_EQ(eh_jw_escape("", out, sizeof(out)), 0);
	/* A measurement: no buffer at all. */
	CHECK_EQ(eh_jw_escape("x\"\t", NULL, 0), 1 + 2 + 6);
}

EH_TEST(escape_never_writes_past_cap_and_cuts_whole_escapes)
{
	static const char *const in[] = {"abcdef", "\"\"\"\"", "\t\t\t", "ab\"\x02yz"};
	for (size_t k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		size_t full = eh_jw_escape(in[k], NULL, 0);
		char want[64];
		REQUIRE(eh_jw_escape(in[k], want, sizeof(want)) == full);
		for (size_t cap = 0; cap <= full + 1; cap++) {
			char buf[80];
			memset(buf, '#', sizeof(buf));
			CHECK_EQ(eh_jw_escape(in[k], buf, cap), full);
			for (size_t i = cap; i < sizeof(buf); i++)
				CHECK(buf[i] == '#');
			/* What was written is a prefix of the whole text. */
			size_t w = 0;
			while (w < cap && buf[w] != '#')
				w++;
			CHECK(memcmp(buf, want, w) == 0);
			/* Never half an escape: w is the escaped length of some prefix of the
			 * input. */
			bool boundary = false;
			for (size_t i = 0; i <= strlen(in[k]) && !boundary; i++) {
				char head[16];
				memcpy(head, in[k], i);
				head[i] = '\0';
				boundary = eh_jw_escape(head, NULL, 0) == w;
			}
			CHECK(boundary);
		}
	}
}

EH_TEST(writer_builds_nested_documents)
{
	char buf[256];
	struct eh_jw w;
	eh_jw_init(&w, buf, sizeof(buf));
	eh_jw_open(&w, '{');
	eh_jw_key(&w, "a");
	eh_jw_u64(&w, UINT64_MAX);
	eh_jw_key(&w, "b\"");
	eh_jw_open(&w, '[');
	eh_jw_bool(&w, true);
	eh_jw_null(&w);
	eh_jw_str(&w, "x\ny");
	eh_jw_close(&w, ']');
	eh_jw_key(&w, "c");
	eh_jw_open(&w, '{');
	eh_jw_close(&w, '}');
	eh_jw_close(&w, '}');
	size_t n = eh_jw_end(&w);
	CHECK_STR(buf, "{\"a\":18446744073709551615,\"b\\\"\":[true,null,\"x\\u000ay\"],\"c\":{}}");
	CHECK_EQ(n, strlen(buf));
}

EH_TEST(writer_overflow_is_sticky_and_empties_the_buffer)
{
	const char *doc = "{\"k\":\"a\\\"b\",\"n\":123}";
	size_t full = strlen(doc);
	for (size_t cap = 0; cap <= full + 1; cap++) {
		char buf[64];
		struct eh_jw w;
		memset(buf, '#', sizeof(buf));
		eh_jw_init(&w, buf, cap);
		eh_jw_open(&w, '{');
		eh_jw_key(&w, "k");
		eh_jw_str(&w, "a\"b");
		eh_jw_key(&w, "n");
		eh_jw_u64(&w, 123);
		eh_jw_close(&w, '}');
		size_t n = eh_jw_end(&w);
		if (cap > full) {
			CHECK_EQ(n, full);
			CHECK_STR(buf, doc);
		} else {
			CHECK_EQ(n, 0);
			if (cap > 0)
				CHECK(buf[0] == '\0');
		}
		for (size_t i = cap; i < sizeof(buf); i++)
			CHECK(buf[i] == '#');
	}
}
