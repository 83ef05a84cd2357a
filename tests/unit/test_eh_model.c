/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_model.c - the JSON scanner's RFC 8259 verdicts, and notification
 * parsing: the seed samples (compact and verbose give the same fields),
 * message-level bounds and every error path a producer can cause; cJSON
 * allocating from our arena only. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <cjson/cJSON.h>

#include "eh_json.h"
#include "eh_note.h"

static char big[EH_MAX_MSG_BYTES + 64];
static struct eh_note notes[EH_MAX_ARRAY_NOTES + 8];

/* ==== Scanner ==== */

static bool valid(const char *s)
{
	struct eh_json_cur c;
	return eh_json_validate(s, strlen(s), &c);
}

EH_TEST(json_accepts_rfc8259)
{
	const char *ok[] = {
	    "{}",
	    "[]",
	    "0",
	    "-0",
	    "1.5e+10",
	    "-12.25E-3",
	    "\"\"",
	    "true",
	    "false",
	    "null",
	    " \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] } \n",
	    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
	    "\"\\u00e9\\uD83D\\uDE00\"",
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	    "{\"a\":{\"a\":{\"a\":null}}}",
	    "123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!valid(ok[i]))
			fprintf(stderr, "  rejected: %s\n", ok[i]);
		CHECK(valid(ok[i]));
	}
}

EH_TEST(json_rejects_bad_syntax)
{
	const char *bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "[1,]",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{a:1}",
	    "{\"a\":}",
	    "01",
	    "1.",
	    ".5",
	    "-",
	    "1e",
	    "1e+",
	    "+1",
	    "0x10",
	    "tru",
	    "nul",
	    "True",
	    "\"abc",
	    "\"\\x\"",
	    "\"\\u12G4\"",
	    "\"\\u12\"",
	    "\"a\tb\"",
	    "\"\x01\"",
	    "\"\xc3\"",
	    "\"\xc0\xaf\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\"\xff\"",
	    "[1 2]",
	    "{\"a\":1}{}",
	    "{\"a\":1} x",
	    "[1]]",
	    "'a'",
	    "NaN",
	    "Infinity",
	    "[1,,2]",
	    "{,}",
	    "[,1]",
	    "{\"a\":1 \"b\":2}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (valid(bad[i]))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(!valid(bad[i]));
	}
}

EH_TEST(json_depth_bound)
{
	char s[2 * (EH_JSON_MAX_DEPTH + 1) + 1];
	size_t d;

	for (d = 0; d < EH_JSON_MAX_DEPTH; d++)
		s[d] = '[';
	for (size_t i = 0; i < EH_JSON_MAX_DEPTH; i++)
		s[d + i] = ']';
	s[2 * EH_JSON_MAX_DEPTH] = '\0';
	CHECK(valid(s)); /* exactly the bound */
	for (d = 0; d <= EH_JSON_MAX_DEPTH; d++)
		s[d] = '[';
	for (size_t i = 0; i <= EH_JSON_MAX_DEPTH; i++)
		s[d + i] = ']';
	s[2 * (EH_JSON_MAX_DEPTH + 1)] = '\0';
	CHECK(!valid(s)); /* one more */
}

EH_TEST(json_decode_and_numbers)
{
	char buf[32];
	bool trunc;
	int64_t v;
	struct eh_json_view s = {"a\\u00e9\\n\\uD83D\\uDE00", 21};

	size_t n = eh_json_decode(s, buf, sizeof(buf), &trunc);
	CHECK_EQ(n, 8);
	CHECK_STR(buf, "a\xc3\xa9\n\xf0\x9f\x98\x80");
	CHECK(!trunc);
	CHECK(eh_json_str_eq((struct eh_json_view){"c\\u0061mera", 11}, "camera"));
	CHECK(!eh_json_str_eq((struct eh_json_view){"cameras", 7}, "camera"));
	CHECK_EQ(eh_json_to_i64((struct eh_json_view){"-9223372036854775808", 20}, &v), EH_OK);
	CHECK(v == INT64_MIN);
	CHECK_EQ(eh_json_to_i64((struct eh_json_view){"9223372036854775808", 19}, &v),
		 EH_ERR_INVAL);
}

/* ==== Samples ==== */

static size_t load(const char *name, char *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/json/%s", EH_FIXTURES, name);
	return eh_test_read_file(path, buf, cap);
}

static eh_err parse(const char *s, size_t len, enum eh_note_type t, size_t *n, struct eh_errs *errs)
{
	eh_errs_init(errs);
	return eh_note_parse_message(s, len, t, notes, EH_MAX_ARRAY_NOTES, n, errs);
}

EH_TEST(sample_event_compact_and_verbose)
{
	static char buf[1 << 16];
	struct eh_errs errs;
	size_t n, len = load("event.json", buf, sizeof(buf));

	REQUIRE(parse(buf, len, EH_TYPE_EVENTS, &n, &errs) == EH_OK);
	REQUIRE(n == 1);
	struct eh_note *e = &notes[0];
	CHECK(e->id_is_str);
	CHECK_EQ(e->id_len, 19);
	CHECK(memcmp(e->id, "4267625862518432158", 19) == 0);
	CHECK_EQ(e->event_type, EH_EV_EVENT_CREATED);
	CHECK_EQ(e->bs_type, EH_BS_OVERALL);
	CHECK_EQ(e->cameras.n, 0); /* "camera": null */
	CHECK_EQ(e->camera_groups.n, 1);
	CHECK_EQ(e->camera_groups.v[0], 1);
	CHECK_EQ(e->matched, EH_TRI_FALSE);
	CHECK(!e->has_matched_dossier);
	CHECK_EQ(e->matched_lists.n, 1);
	CHECK_EQ(e->matched_lists.v[0], -1);
	CHECK(e->confidence.has && e->confidence.v == 0.0);
	CHECK(e->has_webhook_type);
	CHECK(!e->verbose);
	CHECK(e->raw[0] == '{' && e->raw[e->raw_len - 1] == '}');

	len = load("verbose/event.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_EVENTS, &n, &errs) == EH_OK);
	REQUIRE(n == 1);
	CHECK(e->verbose);
	CHECK_EQ(e->cameras.n, 1);
	CHECK_EQ(e->cameras.v[0], 1);
	CHECK_EQ(e->camera_groups.v[0], 1);
	CHECK_EQ(e->matched_lists.n, 1);
	CHECK_EQ(e->matched_lists.v[0], -1);
}

EH_TEST(sample_episodes)
{
	static char buf[1 << 16];
	struct eh_errs errs;
	size_t n, len;
	struct eh_note *e = &notes[0];

	len = load("episode_open.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK_EQ(e->event_type, EH_EV_EPISODE_OPEN);
	CHECK(!e->id_is_str);
	CHECK(e->id_len == 4 && memcmp(e->id, "2118", 4) == 0);
	CHECK_EQ(e->cameras.n, 0); /* [] and last_event.camera null */
	CHECK_EQ(e->camera_groups.n, 1);
	CHECK_EQ(e->matched, EH_TRI_FALSE);
	CHECK(e->events_count.has && e->events_count.v == 1);

	len = load("episode_close.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK_EQ(e->event_type, EH_EV_EPISODE_CLOSE);

	len = load("verbose/episode_open.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK_EQ(e->cameras.n, 1);
	CHECK_EQ(e->cameras.v[0], 1);
	CHECK_EQ(e->camera_groups.v[0], 1);
	CHECK_EQ(e->matched_lists.v[0], -1);

	len = load("verbose/episode_close.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK(e->events_count.has && e->events_count.v == 4);
}

EH_TEST(episode_camera_fallback_to_last_event)
{
	const char *s = "{\"id\":1,\"event_type\":\"episode_event\",\"cameras\":[],"
			"\"last_event\":{\"id\":\"9\",\"camera\":{\"id\":7,\"name\":\"x\"}},"
			"\"matched_event\":{\"id\":\"5\"}}";
	struct eh_errs errs;
	size_t n;

	REQUIRE(parse(s, strlen(s), EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK_EQ(notes[0].cameras.n, 1);
	CHECK_EQ(notes[0].cameras.v[0], 7);
	CHECK_EQ(notes[0].matched, EH_TRI_TRUE);
	/* A non-empty cameras list wins over last_event. */
	s = "{\"id\":1,\"event_type\":\"episode_event\",\"last_event\":{\"camera\":7},"
	    "\"cameras\":[2,3]}";
	REQUIRE(parse(s, strlen(s), EH_TYPE_EPISODES, &n, &errs) == EH_OK);
	CHECK_EQ(notes[0].cameras.n, 2);
	CHECK_EQ(notes[0].cameras.v[0], 2);
	CHECK_EQ(notes[0].matched, EH_TRI_NULL); /* matched_event absent */
}

EH_TEST(sample_counters)
{
	static char buf[1 << 16];
	struct eh_errs errs;
	size_t n, len;
	struct eh_note *e = &notes[0];

	len = load("counter_record.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_COUNTERS, &n, &errs) == EH_OK);
	CHECK_EQ(e->cameras.v[0], 3);
	CHECK_EQ(e->camera_groups.v[0], 1);
	CHECK(e->has_counter && e->counter == 2);
	CHECK(e->faces_count.has && e->faces_count.v == 2);
	CHECK(e->silhouettes_count.has && e->silhouettes_count.v == 3);
	len = load("verbose/counter_record.json", buf, sizeof(buf));
	REQUIRE(parse(buf, len, EH_TYPE_COUNTERS, &n, &errs) == EH_OK);
	CHECK_EQ(e->cameras.v[0], 1);
	CHECK(e->has_counter && e->counter == 1); /* verbose counter object */
	CHECK(e->silhouettes_count.has && e->silhouettes_count.v == 0);
}

/* ==== Messages ==== */

#define EV(id, extra) "{\"id\":" id ",\"event_type\":\"event_created\"" extra "}"

EH_TEST(message_object_and_array)
{
	struct eh_errs errs;
	size_t n;
	const char *one = EV("1", ",\"camera\":5");
	const char *arr = "[" EV("1", "") "," EV("\"two\"", ",\"camera\":{\"id\":6}") "]";

	REQUIRE(parse(one, strlen(one), EH_TYPE_EVENTS, &n, &errs) == EH_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(notes[0].raw_len, strlen(one));
	REQUIRE(parse(arr, strlen(arr), EH_TYPE_EVENTS, &n, &errs) == EH_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(notes[1].cameras.v[0], 6);
	CHECK(notes[1].raw == arr + 1 + strlen(EV("1", "")) + 1);
	REQUIRE(parse("[]", 2, EH_TYPE_EVENTS, &n, &errs) == EH_OK);
	CHECK_EQ(n, 0);
}

static void expect_err(const char *s, enum eh_note_type t, eh_err rc, const char *msg)
{
	struct eh_errs errs;
	size_t n = 99;
	eh_err got = parse(s, strlen(s), t, &n, &errs);

	CHECK_EQ(got, rc);
	CHECK_EQ(n, 0);
	bool found = false;
	for (unsigned i = 0; i < errs.n; i++)
		if (strstr(errs.msg[i], msg) != NULL)
			found = true;
	if (!found) {
		fprintf(stderr, "  wanted \"%s\" for %s; got:\n", msg, s);
		for (unsigned i = 0; i < errs.n; i++)
			fprintf(stderr, "    %s\n", errs.msg[i]);
	}
	CHECK(found);
}

EH_TEST(message_errors_name_the_path)
{
	expect_err("[" EV("1", "") "," EV("2", "") "," EV("3", ",\"camera\":\"x\"") "]",
		   EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "[2].camera: expected integer or object with integer id");
	expect_err("{\"id\":1,\"event_type\":\"episode_open\"}", EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "event_type: \"episode_open\" is not an events type");
	expect_err(EV("1", ",\"webhook_type\":\"episodes\""), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "webhook_type: \"episodes\" disagrees with input events");
	expect_err("{\"event_type\":\"event_created\"}", EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "id: required");
	expect_err("{\"id\":1}", EH_TYPE_EVENTS, EH_ERR_PROTO, "event_type: required");
	expect_err("[" EV("1", "") ", 5]", EH_TYPE_EVENTS, EH_ERR_PROTO, "[1]: expected object");
	expect_err("\"x\"", EH_TYPE_EVENTS, EH_ERR_PROTO, "expected an object or an array");
	expect_err(EV("1.5", ""), EH_TYPE_EVENTS, EH_ERR_PROTO, "id: expected string or integer");
	expect_err(EV("true", ""), EH_TYPE_EVENTS, EH_ERR_PROTO, "id: expected string or integer");
	expect_err(EV("1", ",\"matched\":1"), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "matched: expected true, false or null");
	expect_err(EV("1", ",\"confidence\":\"high\""), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "confidence: expected number");
	expect_err(EV("1", ",\"matched_lists\":[1,\"a\"]"), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "matched_lists[1]: expected integer or object with integer id");
	expect_err(EV("1", ",\"camera\":{\"name\":\"no id\"}"), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "camera: expected integer or object with integer id");
	expect_err(EV("1", ",\"camera\":1,\"camera\":2"), EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "camera: duplicate member");
	expect_err("{\"id\":1,\"event_type\":\"counter_record\",\"faces_count\":[]}",
		   EH_TYPE_COUNTERS, EH_ERR_PROTO, "faces_count: expected number");
}

/* A body as FindFace posts it: each element's type from its own webhook_type. */
EH_TEST(typed_message_splits_by_webhook_type)
{
	static char buf[1 << 16];
	static const char *const files[] = {"event.json", "episode_open.json", "episode_close.json",
					    "counter_record.json"};
	static const enum eh_note_type want[] = {EH_TYPE_EVENTS, EH_TYPE_EPISODES, EH_TYPE_EPISODES,
						 EH_TYPE_COUNTERS};
	struct eh_errs errs;
	size_t n, len = 0, one;

	/* The four sample arrays concatenated into one mixed array. */
	buf[len++] = '[';
	for (unsigned f = 0; f < 4; f++) {
		static char part[1 << 14];
		one = load(files[f], part, sizeof(part));
		REQUIRE(one > 2);
		while (one > 0 && part[one - 1] != ']')
			one--;
		if (f)
			buf[len++] = ',';
		memcpy(buf + len, part + 1, one - 2); /* without [ and ] */
		len += one - 2;
	}
	buf[len++] = ']';
	eh_errs_init(&errs);
	REQUIRE(eh_note_parse_typed(buf, len, notes, EH_MAX_ARRAY_NOTES, &n, &errs) == EH_OK);
	REQUIRE(n == 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(notes[i].type, want[i]);
	/* One object alone works too. */
	const char *o =
	    "{\"id\":7,\"event_type\":\"counter_record\",\"webhook_type\":\"counters\"}";
	eh_errs_init(&errs);
	REQUIRE(eh_note_parse_typed(o, strlen(o), notes, EH_MAX_ARRAY_NOTES, &n, &errs) == EH_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(notes[0].type, EH_TYPE_COUNTERS);
}

static void expect_typed_err(const char *s, const char *msg)
{
	struct eh_errs errs;
	size_t n = 9;
	eh_errs_init(&errs);
	CHECK(eh_note_parse_typed(s, strlen(s), notes, EH_MAX_ARRAY_NOTES, &n, &errs) ==
	      EH_ERR_PROTO);
	CHECK_EQ(n, 0);
	REQUIRE(errs.n >= 1);
	if (strncmp(errs.msg[0], msg, strlen(msg)) != 0)
		fprintf(stderr, "got \"%s\", want \"%s\"\n", errs.msg[0], msg);
	CHECK(strncmp(errs.msg[0], msg, strlen(msg)) == 0);
}

EH_TEST(typed_message_errors_name_the_path)
{
	expect_typed_err("[" EV("1", ",\"webhook_type\":\"events\"") "," EV("2", "") "]",
			 "[1].webhook_type: required");
	expect_typed_err(EV("1", ",\"webhook_type\":\"alarms\""),
			 "webhook_type: \"alarms\" is not \"events\", \"episodes\" or");
	expect_typed_err(EV("1", ",\"webhook_type\":3"), "webhook_type: expected string");
	/* The type read from webhook_type is then checked like a fixed input's. */
	expect_typed_err(EV("1", ",\"webhook_type\":\"episodes\""),
			 "event_type: \"event_created\" is not an episodes type");
	expect_typed_err("[" EV("1", ",\"webhook_type\":\"events\"") ",7]", "[1]: expected object");
}

EH_TEST(message_bad_json_rejected_whole)
{
	expect_err("[" EV("1", "") "," EV("2", ",") "]", EH_TYPE_EVENTS, EH_ERR_PROTO,
		   "[1]: invalid JSON at byte");
	expect_err(EV("1", "") " trailing", EH_TYPE_EVENTS, EH_ERR_PROTO, "invalid JSON");
	expect_err("{\"id\":1,\"event_type\":\"event_created\",\"x\":\"\\q\"}", EH_TYPE_EVENTS,
		   EH_ERR_PROTO, "bad escape");
	expect_err("", EH_TYPE_EVENTS, EH_ERR_PROTO, "invalid JSON");
}

EH_TEST(message_bounds)
{
	struct eh_errs errs;
	size_t n, len = 0;

	/* Depth: 33 levels inside a notification. */
	len =
	    (size_t)snprintf(big, sizeof(big), "{\"id\":1,\"event_type\":\"event_created\",\"x\":");
	for (int i = 0; i < EH_JSON_MAX_DEPTH; i++)
		big[len++] = '[';
	for (int i = 0; i < EH_JSON_MAX_DEPTH; i++)
		big[len++] = ']';
	big[len++] = '}';
	big[len] = '\0';
	CHECK_EQ(parse(big, len, EH_TYPE_EVENTS, &n, &errs), EH_ERR_TOOBIG);
	CHECK(errs.n > 0 && strstr(errs.msg[0], "nesting too deep") != NULL);

	/* Size: one byte over. */
	memset(big, ' ', EH_MAX_MSG_BYTES + 1);
	memcpy(big, "{}", 2);
	CHECK_EQ(parse(big, EH_MAX_MSG_BYTES + 1, EH_TYPE_EVENTS, &n, &errs), EH_ERR_TOOBIG);
	CHECK(errs.n > 0 && strstr(errs.msg[0], "over the") != NULL);

	/* Count: EH_MAX_ARRAY_NOTES is fine, one more is not. */
	const char *e = EV("1", "");
	for (int extra = 0; extra <= 1; extra++) {
		len = 0;
		big[len++] = '[';
		for (int i = 0; i < EH_MAX_ARRAY_NOTES + extra; i++) {
			if (i)
				big[len++] = ',';
			memcpy(big + len, e, strlen(e));
			len += strlen(e);
		}
		big[len++] = ']';
		eh_err rc = parse(big, len, EH_TYPE_EVENTS, &n, &errs);
		CHECK_EQ(rc, extra ? EH_ERR_TOOBIG : EH_OK);
		CHECK_EQ(n, extra ? 0 : EH_MAX_ARRAY_NOTES);
	}
	/* max_notes smaller than the array. */
	const char *two = "[" EV("1", "") "," EV("2", "") "]";
	eh_errs_init(&errs);
	CHECK_EQ(eh_note_parse_message(two, strlen(two), EH_TYPE_EVENTS, notes, 1, &n, &errs),
		 EH_ERR_TOOBIG);
	/* A list over EH_NOTE_MAX_IDS. */
	len = (size_t)snprintf(big, sizeof(big),
			       "{\"id\":1,\"event_type\":\"event_created\",\"matched_lists\":[");
	for (int i = 0; i <= EH_NOTE_MAX_IDS; i++)
		len += (size_t)snprintf(big + len, 16, "%s%d", i ? "," : "", i);
	len += (size_t)snprintf(big + len, 8, "]}");
	CHECK_EQ(parse(big, len, EH_TYPE_EVENTS, &n, &errs), EH_ERR_TOOBIG);
}

EH_TEST(id_text_as_the_log_prints_it)
{
	char buf[64];

	CHECK_EQ(
	    eh_note_id_text("{\"a\":[1,{\"id\":2}],\"id\":\"42\\u0031\"}", 34, buf, sizeof(buf)),
	    3);
	CHECK_STR(buf, "421");
	CHECK_EQ(eh_note_id_text("{\"id\": 4267685965791894192}", 27, buf, sizeof(buf)), 19);
	CHECK_STR(buf, "4267685965791894192");
	CHECK_EQ(eh_note_id_text("{\"id\":12345}", 12, buf, 4), 3);
	CHECK_STR(buf, "123");
	CHECK_EQ(eh_note_id_text("{\"x\":1}", 7, buf, sizeof(buf)), 0);
}

/* ==== cJSON behind the arena ==== */

EH_TEST(cjson_allocates_from_the_arena_only)
{
	static unsigned char mem[64 * 1024], tiny[256];
	struct eh_json_arena a, t;
	const char *doc = "{\"a\":[1,2,3,{\"b\":\"text\"}],\"c\":null,\"d\":\"more text here\"}";

	eh_json_arena_init(&a, mem, sizeof(mem));
	eh_json_arena_enter(&a);
	cJSON *j = cJSON_Parse(doc);
	REQUIRE(j != NULL);
	/* Every node and string lies inside the caller's buffer. */
	cJSON *b = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "a"), 3), "b");
	CHECK((unsigned char *)j >= mem && (unsigned char *)j < mem + sizeof(mem));
	CHECK(b != NULL && (unsigned char *)b->valuestring >= mem &&
	      (unsigned char *)b->valuestring < mem + sizeof(mem));
	CHECK(a.used > 0 && !a.exhausted);
	eh_json_arena_leave(&a);
	CHECK_EQ(a.used, 0);
	CHECK(a.peak > 0);

	/* Too small an arena: the parse fails cleanly, nothing from the heap. */
	eh_json_arena_init(&t, tiny, sizeof(tiny));
	eh_json_arena_enter(&t);
	CHECK(cJSON_Parse(doc) == NULL);
	CHECK(t.exhausted);
	eh_json_arena_leave(&t);
}
