/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_render.c - one notification as it goes into a batch: the
 * webhook_type splice (never a duplicate key), the byte-exact fast path,
 * verbose expansion from the catalog and compaction back (CONTRACT 5),
 * external_address on media paths, NOSPC. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_json.h"
#include "eh_note.h"
#include "eh_render.h"

static char out[1 << 17];

/* A catalog of a few entities. */
static const char *lookup(void *ctx, enum eh_catalog_kind kind, long long id, size_t *len)
{
	static const struct {
		enum eh_catalog_kind kind;
		long long id;
		const char *text;
	} tab[] = {
	    {EH_CAT_CAMERAS, 3, "{\"id\":3,\"name\":\"Door\"}"},
	    {EH_CAT_CAMERA_GROUPS, 1, "{\"id\":1,\"name\":\"Default Camera Group\"}"},
	    {EH_CAT_WATCH_LISTS, -1, "{\"id\":-1,\"name\":\"Unmatched\"}"},
	    {EH_CAT_DOSSIERS, 12, "{\"id\":12,\"name\":\"Ann\"}"},
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].kind == kind && tab[i].id == id) {
			*len = strlen(tab[i].text);
			return tab[i].text;
		}
	return NULL;
}

static const struct eh_catalog_view cat = {lookup, NULL};

static const char *render(enum eh_note_type t, const char *in, const struct eh_render_opts *o)
{
	size_t len = 0;
	eh_err rc = eh_render_note(t, in, strlen(in), o, out, sizeof(out) - 1, &len);
	if (rc != EH_OK) {
		fprintf(stderr, "  render: %s\n", eh_err_str(rc));
		return "(error)";
	}
	out[len] = '\0';
	return out;
}

EH_TEST(splice_webhook_type_when_absent)
{
	struct eh_render_opts o = {false, NULL, NULL};

	CHECK_STR(render(EH_TYPE_EVENTS, "{\"id\": 1, \"camera\": 3}", &o),
		  "{\"webhook_type\":\"events\",\"id\": 1, \"camera\": 3}");
	CHECK_STR(render(EH_TYPE_COUNTERS, "{ }", &o), "{\"webhook_type\":\"counters\" }");
	/* Present: the bytes as stored, no second key. */
	const char *s = "{\"webhook_type\": \"episodes\",\n  \"id\": 7}";
	CHECK_STR(render(EH_TYPE_EPISODES, s, &o), s);
}

EH_TEST(fast_path_copies_seed_samples_exactly)
{
	static char buf[1 << 16];
	static struct eh_note notes[4];
	const char *names[] = {"event.json", "episode_open.json", "episode_close.json",
			       "counter_record.json"};
	const enum eh_note_type types[] = {EH_TYPE_EVENTS, EH_TYPE_EPISODES, EH_TYPE_EPISODES,
					   EH_TYPE_COUNTERS};
	struct eh_render_opts o = {false, NULL, &cat};

	for (int i = 0; i < 4; i++) {
		char path[512];
		size_t n, len;
		snprintf(path, sizeof(path), "%s/json/%s", EH_FIXTURES, names[i]);
		size_t sz = eh_test_read_file(path, buf, sizeof(buf));
		REQUIRE(eh_note_parse_message(buf, sz, types[i], notes, 4, &n, NULL) == EH_OK);
		REQUIRE(eh_render_note(types[i], notes[0].raw, notes[0].raw_len, &o, out,
				       sizeof(out), &len) == EH_OK);
		CHECK_EQ(len, notes[0].raw_len);
		CHECK(memcmp(out, notes[0].raw, len) == 0);
	}
}

EH_TEST(verbose_expands_from_catalog)
{
	struct eh_render_opts o = {true, NULL, &cat};
	const char *in = "{\"id\":\"9\",\"camera\":3,\"camera_group\":1,\"matched_lists\":[-1,5],"
			 "\"matched_dossier\":12,\"last_event\":{\"camera\":3},\"counter\":2,"
			 "\"webhook_type\":\"events\"}";
	CHECK_STR(render(EH_TYPE_EVENTS, in, &o),
		  "{\"id\":\"9\",\"camera\":{\"id\":3,\"name\":\"Door\"},"
		  "\"camera_group\":{\"id\":1,\"name\":\"Default Camera Group\"},"
		  "\"matched_lists\":[{\"id\":-1,\"name\":\"Unmatched\"},5],"
		  "\"matched_dossier\":{\"id\":12,\"name\":\"Ann\"},"
		  "\"last_event\":{\"camera\":3},\"counter\":2,\"webhook_type\":\"events\"}");
	/* Episodes: camera_groups and cameras lists. */
	CHECK_STR(
	    render(EH_TYPE_EPISODES, "{\"id\":1,\"camera_groups\":[1],\"cameras\":[3, 4]}", &o),
	    "{\"webhook_type\":\"episodes\",\"id\":1,"
	    "\"camera_groups\":[{\"id\":1,\"name\":\"Default Camera Group\"}],"
	    "\"cameras\":[{\"id\":3,\"name\":\"Door\"},4]}");
	/* No catalog: nothing to expand, bytes as stored. */
	struct eh_render_opts none = {true, NULL, NULL};
	CHECK_STR(render(EH_TYPE_EVENTS, "{\"id\":1, \"camera\":3}", &none),
		  "{\"webhook_type\":\"events\",\"id\":1, \"camera\":3}");
}

EH_TEST(compact_reduces_verbose_objects_to_ids)
{
	struct eh_render_opts o = {false, NULL, NULL};
	const char *in = "{\"id\":\"9\",\"camera\":{\"id\":3,\"name\":\"Door\",\"x\":[1,{}]},"
			 "\"camera_group\":{\"name\":\"n\",\"id\":1},"
			 "\"matched_lists\":[{\"id\":-1,\"name\":\"Unmatched\"}],"
			 "\"matched_dossier\":null,\"counter\":{\"id\":2}}";
	CHECK_STR(render(EH_TYPE_EVENTS, in, &o),
		  "{\"webhook_type\":\"events\",\"id\":\"9\",\"camera\":3,\"camera_group\":1,"
		  "\"matched_lists\":[-1],\"matched_dossier\":null,\"counter\":{\"id\":2}}");
}

EH_TEST(verbose_sample_round_trip)
{
	static char buf[1 << 16], compact[1 << 16], again[1 << 16];
	static struct eh_note n1, n2;
	struct eh_render_opts c = {false, NULL, NULL}, v = {true, NULL, &cat};
	char path[512];
	size_t cnt, len, len2;

	snprintf(path, sizeof(path), "%s/json/verbose/event.json", EH_FIXTURES);
	size_t sz = eh_test_read_file(path, buf, sizeof(buf));
	REQUIRE(eh_note_parse_message(buf, sz, EH_TYPE_EVENTS, &n1, 1, &cnt, NULL) == EH_OK);
	REQUIRE(eh_render_note(EH_TYPE_EVENTS, n1.raw, n1.raw_len, &c, compact, sizeof(compact),
			       &len) == EH_OK);
	/* Compacted: same filter fields, no longer verbose, much smaller. */
	REQUIRE(eh_note_parse_message(compact, len, EH_TYPE_EVENTS, &n2, 1, &cnt, NULL) == EH_OK);
	CHECK(!n2.verbose);
	CHECK(n2.cameras.n == 1 && n2.cameras.v[0] == 1);
	CHECK(n2.camera_groups.n == 1 && n2.camera_groups.v[0] == 1);
	CHECK(n2.matched_lists.n == 1 && n2.matched_lists.v[0] == -1);
	CHECK(len < n1.raw_len / 2);
	/* Expanded again from the catalog: watch list -1 and group 1 come back. */
	REQUIRE(eh_render_note(EH_TYPE_EVENTS, compact, len, &v, again, sizeof(again), &len2) ==
		EH_OK);
	again[len2] = '\0';
	CHECK(strstr(again, "\"matched_lists\":[{\"id\":-1,\"name\":\"Unmatched\"}]") != NULL);
	CHECK(strstr(again, "\"camera_group\":{\"id\":1,\"name\":\"Default Camera Group\"}") !=
	      NULL);
	CHECK(strstr(again, "\"camera\":1,") != NULL); /* camera 1 is not in this catalog */
	struct eh_json_cur jc;
	CHECK(eh_json_validate(again, len2, &jc));
}

EH_TEST(external_address_on_media_paths)
{
	struct eh_render_opts o = {false, "https://edge.example:8443", NULL};
	const char *in =
	    "{\"id\":1,\"face\":\"/uploads/f.jpg\",\"frame\":\"http://h/x.jpg\","
	    "\"thumbnail\":null,\"other\":\"/keep\","
	    "\"last_event\":{\"fullframe\":\"/u/ff.jpg\",\"a\":[{\"thumbnail\":\"/t\"}]},"
	    "\"webhook_type\":\"events\"}";
	CHECK_STR(render(EH_TYPE_EVENTS, in, &o),
		  "{\"id\":1,\"face\":\"https://edge.example:8443/uploads/f.jpg\","
		  "\"frame\":\"http://h/x.jpg\",\"thumbnail\":null,\"other\":\"/keep\","
		  "\"last_event\":{\"fullframe\":\"https://edge.example:8443/u/ff.jpg\","
		  "\"a\":[{\"thumbnail\":\"https://edge.example:8443/t\"}]},"
		  "\"webhook_type\":\"events\"}");
	struct eh_render_opts q = {false, "http://a\"b", NULL};
	CHECK_STR(render(EH_TYPE_EVENTS, "{\"face\":\"/f\"}", &q),
		  "{\"webhook_type\":\"events\",\"face\":\"http://a\\\"b/f\"}");
}

EH_TEST(nospc_reports_needed_size)
{
	struct eh_render_opts o = {true, "http://x", &cat};
	const char *in = "{\"id\":1,\"camera\":3,\"face\":\"/f\"}";
	char small[8];
	size_t need = 0, len = 0;

	REQUIRE(eh_render_note(EH_TYPE_EVENTS, in, strlen(in), &o, out, sizeof(out), &need) ==
		EH_OK);
	for (size_t cap = 0; cap < need; cap++) {
		CHECK_EQ(eh_render_note(EH_TYPE_EVENTS, in, strlen(in), &o,
					cap <= sizeof(small) ? small : out, cap, &len),
			 EH_ERR_NOSPC);
		CHECK_EQ(len, need);
	}
	CHECK_EQ(eh_render_note(EH_TYPE_EVENTS, in, strlen(in), &o, out, need, &len), EH_OK);
	struct eh_render_opts plain = {false, NULL, NULL};
	CHECK_EQ(eh_render_note(EH_TYPE_EVENTS, "{\"id\":1}", 8, &plain, small, 8, &len),
		 EH_ERR_NOSPC);
	CHECK_EQ(len, 8 + strlen("\"webhook_type\":\"events\","));
	CHECK_EQ(eh_render_note(EH_TYPE_EVENTS, "{\"id\":", 6, &plain, out, sizeof(out), &len),
		 EH_ERR_PROTO);
}

EH_TEST(compact_verbose_compact_round_trip)
{
	static char verbose[4096], back[4096];
	struct eh_render_opts v = {true, NULL, &cat}, c = {false, NULL, NULL};
	const char *in = "{\"id\":\"5\",\"camera\":3,\"camera_group\":1,\"matched_lists\":[-1,7],"
			 "\"matched_dossier\":12,\"episode\":null,\"webhook_type\":\"events\"}";
	size_t vl, bl;

	REQUIRE(eh_render_note(EH_TYPE_EVENTS, in, strlen(in), &v, verbose, sizeof(verbose), &vl) ==
		EH_OK);
	CHECK(vl > strlen(in) + 60); /* four entities came in */
	REQUIRE(eh_render_note(EH_TYPE_EVENTS, verbose, vl, &c, back, sizeof(back), &bl) == EH_OK);
	back[bl] = '\0';
	CHECK_STR(back, in);
}
