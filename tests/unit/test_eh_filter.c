/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_filter.c - CONTRACT section 4 field by field and type by type:
 * absent vs [] vs values, {}, the seed's three examples, every seed sample
 * (compact and verbose agree), every compile error path, explain. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_filter.h"
#include "eh_note.h"

static struct eh_note notes[4];

static bool compile(const char *js, struct eh_filter *f)
{
	struct eh_errs errs;
	eh_errs_init(&errs);
	eh_err rc = eh_filter_compile(js, strlen(js), f, &errs);
	if (rc != EH_OK) {
		fprintf(stderr, "  compile %s:\n", js);
		for (unsigned i = 0; i < errs.n; i++)
			fprintf(stderr, "    %s\n", errs.msg[i]);
	}
	return rc == EH_OK;
}

static const struct eh_note *note(enum eh_note_type t, const char *js)
{
	static struct eh_note one;
	size_t n;
	struct eh_errs errs;
	eh_errs_init(&errs);
	if (eh_note_parse_message(js, strlen(js), t, &one, 1, &n, &errs) != EH_OK || n != 1) {
		fprintf(stderr, "  bad test note %s: %s\n", js, errs.n ? errs.msg[0] : "");
		exit(2);
	}
	return &one;
}

/* Does filters `fj` match notification `nj` of type t? */
static int m(const char *fj, enum eh_note_type t, const char *nj)
{
	struct eh_filter f;
	if (!compile(fj, &f))
		return -1;
	return eh_filter_match(&f, note(t, nj)) ? 1 : 0;
}

#define EV(x) "{\"id\":\"1\",\"event_type\":\"event_created\"" x "}"
#define EP(k, x) "{\"id\":2,\"event_type\":\"" k "\"" x "}"
#define CO(x) "{\"id\":3,\"event_type\":\"counter_record\"" x "}"

EH_TEST(empty_filters_take_every_type)
{
	CHECK_EQ(m("{}", EH_TYPE_EVENTS, EV("")), 1);
	CHECK_EQ(m("{}", EH_TYPE_EPISODES, EP("episode_open", "")), 1);
	CHECK_EQ(m("{}", EH_TYPE_COUNTERS, CO("")), 1);
	CHECK_EQ(m(" { } ", EH_TYPE_COUNTERS, CO("")), 1);
}

EH_TEST(type_keys_select_types)
{
	CHECK_EQ(m("{\"events\":{}}", EH_TYPE_EVENTS, EV("")), 1);
	CHECK_EQ(m("{\"events\":{}}", EH_TYPE_EPISODES, EP("episode_open", "")), 0);
	CHECK_EQ(m("{\"events\":{}}", EH_TYPE_COUNTERS, CO("")), 0);
	CHECK_EQ(m("{\"episodes\":{},\"counters\":{}}", EH_TYPE_EVENTS, EV("")), 0);
	CHECK_EQ(m("{\"episodes\":{},\"counters\":{}}", EH_TYPE_COUNTERS, CO("")), 1);
}

/* For one field: absent = no condition, [] = nothing, values = any of, and
 * a note without the value never satisfies it. */
static void check_ids(const char *type_key, const char *field, enum eh_note_type t,
		      const char *note_hit, const char *note_miss, const char *note_none)
{
	char f[256];
	snprintf(f, sizeof(f), "{\"%s\":{}}", type_key);
	CHECK_EQ(m(f, t, note_hit), 1);
	CHECK_EQ(m(f, t, note_none), 1);
	snprintf(f, sizeof(f), "{\"%s\":{\"%s\":[]}}", type_key, field);
	CHECK_EQ(m(f, t, note_hit), 0);
	CHECK_EQ(m(f, t, note_none), 0);
	snprintf(f, sizeof(f), "{\"%s\":{\"%s\":[99, 5, 7]}}", type_key, field);
	if (m(f, t, note_hit) != 1)
		fprintf(stderr, "  %s.%s should match %s\n", type_key, field, note_hit);
	CHECK_EQ(m(f, t, note_hit), 1);
	CHECK_EQ(m(f, t, note_miss), 0);
	CHECK_EQ(m(f, t, note_none), 0);
}

EH_TEST(events_id_fields)
{
	check_ids("events", "camera_in", EH_TYPE_EVENTS, EV(",\"camera\":5"), EV(",\"camera\":6"),
		  EV(",\"camera\":null"));
	check_ids("events", "camera_in", EH_TYPE_EVENTS, EV(",\"camera\":{\"id\":7}"),
		  EV(",\"camera\":{\"id\":8}"), EV(""));
	check_ids("events", "camera_group_in", EH_TYPE_EVENTS, EV(",\"camera_group\":5"),
		  EV(",\"camera_group\":1"), EV(""));
	check_ids("events", "matched_lists_in", EH_TYPE_EVENTS, EV(",\"matched_lists\":[1,7]"),
		  EV(",\"matched_lists\":[-1]"), EV(",\"matched_lists\":[]"));
	check_ids("events", "matched_dossier_in", EH_TYPE_EVENTS, EV(",\"matched_dossier\":99"),
		  EV(",\"matched_dossier\":12"), EV(",\"matched_dossier\":null"));
}

EH_TEST(events_scalar_fields)
{
	const char *f = "{\"events\":{\"allowed_bs_types\":[\"realtime\"]}}";
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"bs_type\":\"realtime\"")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"bs_type\":\"overall\"")), 0);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"bs_type\":\"other\"")), 0);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"bs_type\":null")), 0);
	CHECK_EQ(m("{\"events\":{\"allowed_bs_types\":[]}}", EH_TYPE_EVENTS,
		   EV(",\"bs_type\":\"overall\"")),
		 0);
	f = "{\"events\":{\"matched\":true}}";
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"matched\":true")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"matched\":false")), 0);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"matched\":null")), 0);
	f = "{\"events\":{\"matched\":false}}";
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"matched\":false")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV("")), 0); /* absent never satisfies */
	f = "{\"events\":{\"confidence_gte\":0.75}}";
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"confidence\":0.75")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"confidence\":0.9")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"confidence\":0.7499")), 0);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"confidence\":null")), 0);
}

EH_TEST(episodes_fields)
{
	check_ids("episodes", "camera_in", EH_TYPE_EPISODES,
		  EP("episode_open", ",\"cameras\":[1,5]"), EP("episode_open", ",\"cameras\":[1]"),
		  EP("episode_open", ",\"cameras\":[]"));
	/* cameras [] falls back to last_event.camera */
	check_ids("episodes", "camera_in", EH_TYPE_EPISODES,
		  EP("episode_open", ",\"cameras\":[],\"last_event\":{\"camera\":5}"),
		  EP("episode_open", ",\"cameras\":[],\"last_event\":{\"camera\":{\"id\":6}}"),
		  EP("episode_open", ",\"cameras\":[],\"last_event\":{\"camera\":null}"));
	check_ids("episodes", "camera_group_in", EH_TYPE_EPISODES,
		  EP("episode_close", ",\"camera_groups\":[{\"id\":5}]"),
		  EP("episode_close", ",\"camera_groups\":[1,2]"),
		  EP("episode_close", ",\"camera_groups\":null"));
	check_ids("episodes", "matched_lists_in", EH_TYPE_EPISODES,
		  EP("episode_event", ",\"matched_lists\":[7]"),
		  EP("episode_event", ",\"matched_lists\":[-1]"), EP("episode_event", ""));
	/* camera_groups has no fallback */
	CHECK_EQ(m("{\"episodes\":{\"camera_group_in\":[1]}}", EH_TYPE_EPISODES,
		   EP("episode_open", ",\"camera_groups\":[],\"last_event\":{\"camera_group\":1}")),
		 0);
	const char *f = "{\"episodes\":{\"allowed_types\":[\"episode_open\",\"episode_close\"]}}";
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", "")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", "")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_event", "")), 0);
	CHECK_EQ(
	    m("{\"episodes\":{\"allowed_types\":[]}}", EH_TYPE_EPISODES, EP("episode_open", "")),
	    0);
	f = "{\"episodes\":{\"matched\":true}}";
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":{\"id\":\"1\"}")),
		 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":\"123\"")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":null")), 0);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", "")), 0);
	f = "{\"episodes\":{\"matched\":false}}";
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":null")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_open", "")), 0);
	f = "{\"episodes\":{\"events_count_gte\":2,\"events_count_lte\":4}}";
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", ",\"events_count\":1")), 0);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", ",\"events_count\":2")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", ",\"events_count\":4")), 1);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", ",\"events_count\":5")), 0);
	CHECK_EQ(m(f, EH_TYPE_EPISODES, EP("episode_close", ",\"events_count\":null")), 0);
}

EH_TEST(counters_fields)
{
	check_ids("counters", "counter_in", EH_TYPE_COUNTERS, CO(",\"counter\":5"),
		  CO(",\"counter\":{\"id\":2}"), CO(""));
	check_ids("counters", "camera_in", EH_TYPE_COUNTERS, CO(",\"camera\":7"),
		  CO(",\"camera\":3"), CO(",\"camera\":null"));
	check_ids("counters", "camera_group_in", EH_TYPE_COUNTERS,
		  CO(",\"camera_group\":{\"id\":99}"), CO(",\"camera_group\":1"), CO(""));
	const char *f = "{\"counters\":{\"faces_gte\":1,\"faces_lte\":2}}";
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"faces_count\":0")), 0);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"faces_count\":1")), 1);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"faces_count\":2")), 1);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"faces_count\":3")), 0);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO("")), 0);
	f = "{\"counters\":{\"silhouettes_gte\":0,\"silhouettes_lte\":0}}";
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"silhouettes_count\":0")), 1);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"silhouettes_count\":3")), 0);
	CHECK_EQ(m(f, EH_TYPE_COUNTERS, CO(",\"silhouettes_count\":null")), 0);
}

EH_TEST(all_present_fields_must_hold)
{
	const char *f = "{\"events\":{\"camera_in\":[1],\"matched\":true}}";
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"camera\":1,\"matched\":true")), 1);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"camera\":1,\"matched\":false")), 0);
	CHECK_EQ(m(f, EH_TYPE_EVENTS, EV(",\"camera\":2,\"matched\":true")), 0);
}

EH_TEST(seed_examples)
{
	/* #1 all events */
	CHECK_EQ(m("{ \"events\": {} }", EH_TYPE_EVENTS, EV(",\"camera\":3")), 1);
	CHECK_EQ(m("{ \"events\": {} }", EH_TYPE_EPISODES, EP("episode_open", "")), 0);
	/* #2 opening of matched episodes */
	const char *f2 =
	    "{ \"episodes\": { \"allowed_types\": [\"episode_open\"], \"matched\": true }}";
	CHECK_EQ(m(f2, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":{\"id\":\"7\"}")),
		 1);
	CHECK_EQ(m(f2, EH_TYPE_EPISODES, EP("episode_open", ",\"matched_event\":null")), 0);
	CHECK_EQ(m(f2, EH_TYPE_EPISODES, EP("episode_close", ",\"matched_event\":{\"id\":\"7\"}")),
		 0);
	CHECK_EQ(m(f2, EH_TYPE_EVENTS, EV(",\"matched\":true")), 0);
	/* #3 camera group 1 or 3 and dossier 12 or 25 (without the seed's trailing commas,
	 * which JSON does not allow) */
	const char *f3 =
	    "{\"events\":{\"camera_group_in\":[1, 3],\"matched_dossier_in\":[12, 25]}}";
	CHECK_EQ(m(f3, EH_TYPE_EVENTS, EV(",\"camera_group\":3,\"matched_dossier\":25")), 1);
	CHECK_EQ(m(f3, EH_TYPE_EVENTS, EV(",\"camera_group\":1,\"matched_dossier\":{\"id\":12}")),
		 1);
	CHECK_EQ(m(f3, EH_TYPE_EVENTS, EV(",\"camera_group\":2,\"matched_dossier\":12")), 0);
	CHECK_EQ(m(f3, EH_TYPE_EVENTS, EV(",\"camera_group\":1,\"matched_dossier\":13")), 0);
	CHECK_EQ(m(f3, EH_TYPE_EVENTS, EV(",\"camera_group\":1,\"matched_dossier\":null")), 0);
	/* The seed's literal text with trailing commas is refused, with a reason. */
	struct eh_filter f;
	struct eh_errs errs;
	const char *lit = "{\n\"events\": {\n\"camera_group_in\": [1, 3],\n"
			  "\"matched_dossier_in\": [12, 25],\n},\n}";
	eh_errs_init(&errs);
	CHECK_EQ(eh_filter_compile(lit, strlen(lit), &f, &errs), EH_ERR_PROTO);
	CHECK(errs.n == 1 && strstr(errs.msg[0], "trailing comma") != NULL);
}

/* Every sample, compact and verbose, against webhooks that must agree. */
EH_TEST(seed_samples_compact_and_verbose_agree)
{
	static char buf[1 << 16];
	const char *names[] = {"event.json", "episode_open.json", "episode_close.json",
			       "counter_record.json"};
	const enum eh_note_type types[] = {EH_TYPE_EVENTS, EH_TYPE_EPISODES, EH_TYPE_EPISODES,
					   EH_TYPE_COUNTERS};
	const char *hooks[] = {
	    "{}",
	    "{\"events\":{}}",
	    "{\"events\":{\"camera_group_in\":[1],\"matched\":false,\"matched_lists_in\":[-1]}}",
	    "{\"events\":{\"allowed_bs_types\":[\"overall\"],\"confidence_gte\":0}}",
	    "{\"events\":{\"matched\":true}}",
	    "{\"episodes\":{\"allowed_types\":[\"episode_open\"],\"matched\":true}}",
	    "{\"episodes\":{\"matched\":false,\"camera_group_in\":[1]}}",
	    "{\"episodes\":{\"events_count_gte\":1,\"events_count_lte\":10}}",
	    "{\"episodes\":{\"matched_lists_in\":[-1]},\"counters\":{\"faces_gte\":1}}",
	    "{\"counters\":{\"camera_group_in\":[1],\"silhouettes_lte\":5}}",
	    "{\"counters\":{\"counter_in\":[1,2]}}",
	    /* one element, split over two lines (parenthesised for clang's
	     * -Wstring-concatenation) */
	    ("{\"events\":{\"camera_in\":[]},\"episodes\":{\"camera_in\":[]},"
	     "\"counters\":{\"camera_in\":[]}}"),
	};
	/* Expected per hook for: event, ep_open, ep_close, counter; then verbose may only
	 * differ where the sample's own values differ (camera 1 vs null/3, counts). */
	int agree = 0, total = 0;
	for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
		struct eh_filter f;
		REQUIRE(compile(hooks[h], &f));
		for (int s = 0; s < 4; s++) {
			char path[512];
			size_t n;
			int r[2];
			for (int v = 0; v < 2; v++) {
				snprintf(path, sizeof(path), "%s/json/%s%s", EH_FIXTURES,
					 v ? "verbose/" : "", names[s]);
				size_t sz = eh_test_read_file(path, buf, sizeof(buf));
				REQUIRE(eh_note_parse_message(buf, sz, types[s], notes, 4, &n,
							      NULL) == EH_OK);
				r[v] = eh_filter_match(&f, &notes[0]);
			}
			total++;
			agree += r[0] == r[1];
			if (r[0] != r[1])
				fprintf(stderr, "  %s on %s: compact %d verbose %d\n", hooks[h],
					names[s], r[0], r[1]);
		}
	}
	CHECK_EQ(agree, total);
	/* And some are known answers. */
	CHECK_EQ(
	    m("{\"events\":{\"camera_group_in\":[1],\"matched\":false}}", EH_TYPE_EVENTS,
	      "{\"id\":1,\"event_type\":\"event_created\",\"camera_group\":1,\"matched\":false}"),
	    1);
}

static void expect_compile_err(const char *js, const char *msg)
{
	struct eh_filter f;
	struct eh_errs errs;

	memset(&f, 0xff, sizeof(f));
	eh_errs_init(&errs);
	eh_err rc = eh_filter_compile(js, strlen(js), &f, &errs);
	CHECK(rc != EH_OK);
	CHECK(!f.wanted[0] && !f.wanted[1] && !f.wanted[2]); /* wants nothing */
	bool found = false;
	for (unsigned i = 0; i < errs.n; i++)
		if (strcmp(errs.msg[i], msg) == 0)
			found = true;
	if (!found) {
		fprintf(stderr, "  wanted \"%s\" for %s; got:\n", msg, js);
		for (unsigned i = 0; i < errs.n; i++)
			fprintf(stderr, "    %s\n", errs.msg[i]);
	}
	CHECK(found);
}

EH_TEST(compile_errors_name_the_path)
{
	expect_compile_err("{\"events\":{\"camera_in\":[1,2,\"3\"]}}",
			   "filters.events.camera_in[2]: expected integer");
	expect_compile_err("{\"events\":{\"camera_in\":[1.5]}}",
			   "filters.events.camera_in[0]: expected integer");
	expect_compile_err("{\"events\":{\"camera_in\":[99999999999999999999]}}",
			   "filters.events.camera_in[0]: expected integer");
	expect_compile_err("{\"events\":{\"colour\":1}}", "filters.events.colour: unknown field");
	expect_compile_err("{\"alerts\":{}}", "filters.alerts: unknown field");
	expect_compile_err("{\"events\":[]}", "filters.events: expected object");
	expect_compile_err("[]", "filters: expected object");
	expect_compile_err("{\"events\":{\"camera_in\":5}}",
			   "filters.events.camera_in: expected array of integers");
	expect_compile_err("{\"events\":{\"camera_in\":null}}",
			   "filters.events.camera_in: expected array of integers");
	expect_compile_err("{\"events\":{\"matched\":\"yes\"}}",
			   "filters.events.matched: expected true or false");
	expect_compile_err("{\"events\":{\"matched\":null}}",
			   "filters.events.matched: expected true or false");
	expect_compile_err("{\"events\":{\"confidence_gte\":\"0.5\"}}",
			   "filters.events.confidence_gte: expected number");
	expect_compile_err(
	    "{\"events\":{\"allowed_bs_types\":[\"overall\",\"sometimes\"]}}",
	    "filters.events.allowed_bs_types[1]: \"sometimes\": expected \"overall\" or "
	    "\"realtime\"");
	expect_compile_err("{\"events\":{\"allowed_bs_types\":\"overall\"}}",
			   "filters.events.allowed_bs_types: expected array of strings");
	expect_compile_err("{\"episodes\":{\"allowed_types\":[\"episode_opened\"]}}",
			   "filters.episodes.allowed_types[0]: \"episode_opened\": expected "
			   "\"episode_open\", \"episode_event\" or \"episode_close\"");
	expect_compile_err("{\"episodes\":{\"events_count_lte\":true}}",
			   "filters.episodes.events_count_lte: expected number");
	expect_compile_err("{\"episodes\":{\"confidence_gte\":1}}",
			   "filters.episodes.confidence_gte: unknown field");
	expect_compile_err("{\"counters\":{\"faces_gte\":[1]}}",
			   "filters.counters.faces_gte: expected number");
	expect_compile_err("{\"counters\":{\"matched\":true}}",
			   "filters.counters.matched: unknown field");
	expect_compile_err("{\"events\":{},\"events\":{}}", "filters.events: duplicate field");
	expect_compile_err("{\"events\":{\"matched\":true,\"matched\":false}}",
			   "filters.events.matched: duplicate field");
	expect_compile_err("{\"events\":{}",
			   "filters: invalid JSON at byte 12: unterminated object");
	expect_compile_err("", "filters: invalid JSON at byte 0: unexpected end of input");

	/* More than EH_FILTER_MAX_IDS values; exactly that many is fine. */
	static char big[8192];
	for (int extra = 0; extra <= 1; extra++) {
		size_t len = (size_t)snprintf(big, sizeof(big), "{\"counters\":{\"camera_in\":[");
		for (int i = 0; i < EH_FILTER_MAX_IDS + extra; i++)
			len += (size_t)snprintf(big + len, 16, "%s%d", i ? "," : "", i);
		snprintf(big + len, 8, "]}}");
		if (extra) {
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "filters.counters.camera_in: more than %d values",
				 EH_FILTER_MAX_IDS);
			expect_compile_err(big, msg);
		} else {
			struct eh_filter f;
			CHECK(compile(big, &f));
			CHECK_EQ(f.co.camera_in.n, EH_FILTER_MAX_IDS);
		}
	}
	/* Several errors are all reported. */
	struct eh_filter f;
	struct eh_errs errs;
	const char *multi = "{\"events\":{\"camera_in\":[\"a\",\"b\"],\"x\":1},\"y\":2}";
	eh_errs_init(&errs);
	CHECK_EQ(eh_filter_compile(multi, strlen(multi), &f, &errs), EH_ERR_PROTO);
	CHECK_EQ(errs.n, 4);
}

EH_TEST(explain_names_the_deciding_field)
{
	struct eh_filter f;
	char buf[1024];

	REQUIRE(compile("{\"events\":{\"camera_in\":[1,3],\"matched\":true}}", &f));
	const struct eh_note *n = note(EH_TYPE_EVENTS, EV(",\"camera\":3,\"matched\":false"));
	size_t len = eh_filter_explain(&f, n, buf, sizeof(buf));
	CHECK_EQ(len, strlen(buf));
	CHECK(strncmp(buf, "not matched: events 1 (event_created)\n", 38) == 0);
	CHECK(strstr(buf, "filters.events.camera_in [1, 3] vs camera = 3: holds\n") != NULL);
	CHECK(strstr(buf, "filters.events.matched true vs matched = false: FAILS\n") != NULL);
	n = note(EH_TYPE_COUNTERS, CO(""));
	eh_filter_explain(&f, n, buf, sizeof(buf));
	CHECK(strstr(buf, "filters.counters: absent while other types are present") != NULL);
	/* Truncation: the needed length is still returned. */
	char small[10];
	CHECK(eh_filter_explain(&f, n, small, sizeof(small)) > sizeof(small));
	CHECK_EQ(strlen(small), sizeof(small) - 1);
}
