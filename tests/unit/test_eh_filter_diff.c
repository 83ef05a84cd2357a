/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_filter_diff.c - differential test: random notifications x random
 * filters, eh_filter_match() against a straightforward evaluator of
 * CONTRACT section 4 written here over cJSON trees (parsed inside our
 * arena). Seeded, so a diff is reproducible. The case count (default
 * 100000) is an all-digit argument, e.g. `test_eh_filter_diff
 * match_agrees_with_reference 20000` (ctest uses less under QEMU). Prints
 * the counts. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <cjson/cJSON.h>
#include <stdarg.h>

#include "eh_filter.h"
#include "eh_json.h"
#include "eh_note.h"

static unsigned long cases = 100000;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* ==== Generators ==== */

struct sb {
	char p[4096];
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void ap(struct sb *s, const char *fmt, ...)
{
	va_list a;
	va_start(a, fmt);
	int k = vsnprintf(s->p + s->n, sizeof(s->p) - s->n, fmt, a);
	va_end(a);
	if (k > 0 && s->n + (size_t)k < sizeof(s->p))
		s->n += (size_t)k;
}

static const int ids_dom[] = {-1, 1, 2, 3, 5, 12, 25};
#define DOM (int)(sizeof(ids_dom) / sizeof(ids_dom[0]))

/* An id value in compact or verbose form, or null. */
static void gen_id(struct sb *s)
{
	unsigned r = rnd(10);
	int v = ids_dom[rnd(DOM)];
	if (r == 0)
		ap(s, "null");
	else if (r < 6)
		ap(s, "%d", v);
	else
		ap(s, "{\"name\":\"n%d\",\"id\":%d,\"x\":[1,{\"id\":99}]}", v, v);
}

static void gen_id_list(struct sb *s)
{
	if (rnd(8) == 0) {
		ap(s, "null");
		return;
	}
	unsigned n = rnd(4);
	ap(s, "[");
	for (unsigned i = 0; i < n; i++) {
		if (i)
			ap(s, ",");
		if (rnd(2))
			ap(s, "%d", ids_dom[rnd(DOM)]);
		else
			ap(s, "{\"id\":%d}", ids_dom[rnd(DOM)]);
	}
	ap(s, "]");
}

static void gen_num(struct sb *s)
{
	static const char *const v[] = {"0", "1", "2", "3", "0.5", "0.75", "0.9", "1e0", "null"};
	ap(s, "%s", v[rnd(9)]);
}

static bool maybe(void)
{
	return rnd(4) != 0;
}

static void gen_note(struct sb *s, enum eh_note_type t)
{
	static const char *const ep_types[] = {"episode_open", "episode_event", "episode_close"};
	s->n = 0;
	ap(s, "{\"id\":\"%u\"", rnd(100000));
	if (t == EH_TYPE_EVENTS) {
		ap(s, ",\"event_type\":\"event_created\"");
		if (maybe()) {
			static const char *const bs[] = {"\"overall\"", "\"realtime\"", "\"x\"",
							 "null"};
			ap(s, ",\"bs_type\":%s", bs[rnd(4)]);
		}
		if (maybe()) {
			ap(s, ",\"camera\":");
			gen_id(s);
		}
		if (maybe()) {
			ap(s, ",\"camera_group\":");
			gen_id(s);
		}
		if (maybe()) {
			static const char *const m[] = {"true", "false", "null"};
			ap(s, ",\"matched\":%s", m[rnd(3)]);
		}
		if (maybe()) {
			ap(s, ",\"matched_dossier\":");
			gen_id(s);
		}
		if (maybe()) {
			ap(s, ",\"matched_lists\":");
			gen_id_list(s);
		}
		if (maybe()) {
			ap(s, ",\"confidence\":");
			gen_num(s);
		}
	} else if (t == EH_TYPE_EPISODES) {
		ap(s, ",\"event_type\":\"%s\"", ep_types[rnd(3)]);
		if (maybe()) {
			ap(s, ",\"cameras\":");
			gen_id_list(s);
		}
		if (maybe()) {
			ap(s, ",\"camera_groups\":");
			gen_id_list(s);
		}
		if (maybe()) {
			ap(s, ",\"matched_lists\":");
			gen_id_list(s);
		}
		if (maybe()) {
			unsigned r = rnd(3);
			ap(s, ",\"matched_event\":%s",
			   r == 0   ? "null"
			   : r == 1 ? "\"4\""
				    : "{\"id\":\"4\"}");
		}
		if (maybe()) {
			ap(s, ",\"events_count\":");
			gen_num(s);
		}
		if (maybe()) {
			ap(s, ",\"last_event\":{\"id\":\"7\",\"camera\":");
			gen_id(s);
			ap(s, "}");
		}
	} else {
		ap(s, ",\"event_type\":\"counter_record\"");
		if (maybe()) {
			ap(s, ",\"counter\":");
			gen_id(s);
		}
		if (maybe()) {
			ap(s, ",\"camera\":");
			gen_id(s);
		}
		if (maybe()) {
			ap(s, ",\"camera_group\":");
			gen_id(s);
		}
		if (maybe()) {
			ap(s, ",\"faces_count\":");
			gen_num(s);
		}
		if (maybe()) {
			ap(s, ",\"silhouettes_count\":");
			gen_num(s);
		}
	}
	ap(s, ",\"webhook_type\":\"%s\"}", eh_type_name(t));
}

static const char *const ev_f[] = {"allowed_bs_types", "camera_group_in",    "camera_in",
				   "matched_lists_in", "matched_dossier_in", "matched",
				   "confidence_gte"};
static const char *const ep_f[] = {"allowed_types",    "camera_group_in", "camera_in",
				   "matched_lists_in", "matched",	  "events_count_gte",
				   "events_count_lte"};
static const char *const co_f[] = {"counter_in", "camera_group_in", "camera_in",      "faces_gte",
				   "faces_lte",	 "silhouettes_gte", "silhouettes_lte"};

static void gen_field_value(struct sb *s, const char *name)
{
	if (strcmp(name, "matched") == 0) {
		ap(s, rnd(2) ? "true" : "false");
	} else if (strstr(name, "_gte") || strstr(name, "_lte")) {
		static const char *const v[] = {"0", "1", "2", "0.5", "0.75", "3"};
		ap(s, "%s", v[rnd(6)]);
	} else if (strcmp(name, "allowed_bs_types") == 0 || strcmp(name, "allowed_types") == 0) {
		static const char *const bs[] = {"overall", "realtime"};
		static const char *const ep[] = {"episode_open", "episode_event", "episode_close"};
		bool isbs = name[8] == 'b';
		unsigned n = rnd(3);
		ap(s, "[");
		for (unsigned i = 0; i < n; i++)
			ap(s, "%s\"%s\"", i ? "," : "", isbs ? bs[rnd(2)] : ep[rnd(3)]);
		ap(s, "]");
	} else {
		unsigned n = rnd(4);
		ap(s, "[");
		for (unsigned i = 0; i < n; i++)
			ap(s, "%s%d", i ? "," : "", ids_dom[rnd(DOM)]);
		ap(s, "]");
	}
}

static void gen_filter(struct sb *s)
{
	const char *const *fl[3] = {ev_f, ep_f, co_f};
	bool first = true;
	s->n = 0;
	ap(s, "{");
	if (rnd(10) != 0) {
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
			if (rnd(2) == 0)
				continue;
			ap(s, "%s\"%s\":{", first ? "" : ",", eh_type_name(t));
			first = false;
			bool ff = true;
			for (unsigned i = 0; i < 7; i++) {
				if (rnd(4) != 0)
					continue;
				ap(s, "%s\"%s\":", ff ? "" : ",", fl[t][i]);
				ff = false;
				gen_field_value(s, fl[t][i]);
			}
			ap(s, "}");
		}
	}
	ap(s, "}");
}

/* ==== The independent evaluator ==== */

/* An id from a compact number or a verbose object; false if none. */
static bool id_of(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return true;
	}
	if (cJSON_IsObject(v)) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
		if (cJSON_IsNumber(id)) {
			*out = id->valuedouble;
			return true;
		}
	}
	return false;
}

static bool in_list(const cJSON *list, double v)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list) if (e->valuedouble == v) return true;
	return false;
}

/* Does any id of the note's member (single or list) appear in list? */
static bool any_in(const cJSON *list, const cJSON *member)
{
	double v;
	if (cJSON_IsArray(member)) {
		const cJSON *e;
		cJSON_ArrayForEach(e, member) if (id_of(e, &v) && in_list(list, v)) return true;
		return false;
	}
	return id_of(member, &v) && in_list(list, v);
}

static bool str_in(const cJSON *list, const cJSON *s)
{
	const cJSON *e;
	if (!cJSON_IsString(s))
		return false;
	cJSON_ArrayForEach(e, list) if (strcmp(e->valuestring, s->valuestring) == 0) return true;
	return false;
}

static bool ref_match(const cJSON *filters, const cJSON *note, enum eh_note_type t)
{
	const char *tn = eh_type_name(t);
	bool any_type = false;
	for (unsigned k = 0; k < EH_TYPE_COUNT; k++)
		if (cJSON_GetObjectItemCaseSensitive(filters, eh_type_name(k)))
			any_type = true;
	if (!any_type)
		return true;
	const cJSON *tf = cJSON_GetObjectItemCaseSensitive(filters, tn);
	if (tf == NULL)
		return false;
	const cJSON *c;
	cJSON_ArrayForEach(c, tf)
	{
		const char *f = c->string;
		const cJSON *nv = NULL;
		bool ok;
		if (strcmp(f, "camera_in") == 0 && t == EH_TYPE_EPISODES) {
			nv = cJSON_GetObjectItemCaseSensitive(note, "cameras");
			if (cJSON_GetArraySize(nv) == 0) {
				const cJSON *le =
				    cJSON_GetObjectItemCaseSensitive(note, "last_event");
				nv = cJSON_GetObjectItemCaseSensitive(le, "camera");
			}
			ok = any_in(c, nv);
		} else if (strcmp(f, "camera_in") == 0) {
			ok = any_in(c, cJSON_GetObjectItemCaseSensitive(note, "camera"));
		} else if (strcmp(f, "camera_group_in") == 0) {
			ok = any_in(
			    c, cJSON_GetObjectItemCaseSensitive(
				   note, t == EH_TYPE_EPISODES ? "camera_groups" : "camera_group"));
		} else if (strcmp(f, "matched_lists_in") == 0) {
			ok = any_in(c, cJSON_GetObjectItemCaseSensitive(note, "matched_lists"));
		} else if (strcmp(f, "matched_dossier_in") == 0) {
			ok = any_in(c, cJSON_GetObjectItemCaseSensitive(note, "matched_dossier"));
		} else if (strcmp(f, "counter_in") == 0) {
			ok = any_in(c, cJSON_GetObjectItemCaseSensitive(note, "counter"));
		} else if (strcmp(f, "allowed_bs_types") == 0) {
			ok = str_in(c, cJSON_GetObjectItemCaseSensitive(note, "bs_type"));
		} else if (strcmp(f, "allowed_types") == 0) {
			ok = str_in(c, cJSON_GetObjectItemCaseSensitive(note, "event_type"));
		} else if (strcmp(f, "matched") == 0) {
			if (t == EH_TYPE_EPISODES) {
				nv = cJSON_GetObjectItemCaseSensitive(note, "matched_event");
				ok = nv != NULL &&
				     (cJSON_IsNull(nv) ? !cJSON_IsTrue(c) : cJSON_IsTrue(c));
			} else {
				nv = cJSON_GetObjectItemCaseSensitive(note, "matched");
				ok = cJSON_IsBool(nv) && cJSON_IsTrue(nv) == cJSON_IsTrue(c);
			}
		} else {
			/* _gte / _lte on a count */
			const char *member = "silhouettes_count";
			if (strncmp(f, "confidence", 10) == 0)
				member = "confidence";
			else if (strncmp(f, "events_count", 12) == 0)
				member = "events_count";
			else if (strncmp(f, "faces", 5) == 0)
				member = "faces_count";
			nv = cJSON_GetObjectItemCaseSensitive(note, member);
			bool gte = strstr(f, "_gte") != NULL;
			ok = cJSON_IsNumber(nv) && (gte ? nv->valuedouble >= c->valuedouble
							: nv->valuedouble <= c->valuedouble);
		}
		if (!ok)
			return false;
	}
	return true;
}

/* ==== The run ==== */

EH_TEST(match_agrees_with_reference)
{
	static unsigned char arena_mem[1 << 20];
	struct eh_json_arena arena;
	struct sb fs, ns;
	struct eh_filter f;
	struct eh_note n;
	unsigned long diffs = 0, matched = 0, bad = 0;
	size_t cnt;
	char why[1024];

	eh_json_arena_init(&arena, arena_mem, sizeof(arena_mem));
	for (unsigned long i = 0; i < cases; i++) {
		enum eh_note_type t = (enum eh_note_type)rnd(EH_TYPE_COUNT);
		gen_filter(&fs);
		gen_note(&ns, t);
		if (eh_filter_compile(fs.p, fs.n, &f, NULL) != EH_OK ||
		    eh_note_parse_message(ns.p, ns.n, t, &n, 1, &cnt, NULL) != EH_OK) {
			bad++;
			continue;
		}
		bool ours = eh_filter_match(&f, &n);
		eh_json_arena_enter(&arena);
		cJSON *jf = cJSON_ParseWithLength(fs.p, fs.n);
		cJSON *jn = cJSON_ParseWithLength(ns.p, ns.n);
		bool ref = jf && jn && ref_match(jf, jn, t);
		bool parsed = jf && jn;
		eh_json_arena_leave(&arena);
		if (!parsed) {
			bad++;
			continue;
		}
		eh_filter_explain(&f, &n, why, sizeof(why));
		if (ours != ref || ours != (strncmp(why, "matched", 7) == 0)) {
			if (diffs < 5)
				fprintf(stderr,
					"  diff: ours %d ref %d\n    filters %s\n    note %s\n%s",
					ours, ref, fs.p, ns.p, why);
			diffs++;
		}
		matched += ours;
	}
	printf("differential: %lu cases, %lu matched, %lu not matched, %lu diffs, %lu unusable, "
	       "arena peak %zu bytes\n",
	       cases, matched, cases - matched - bad, diffs, bad, arena.peak);
	CHECK_EQ(diffs, 0);
	CHECK_EQ(bad, 0);
	CHECK(matched > cases / 20 && matched < cases - cases / 20); /* both outcomes seen */
}

/* The count: an all-digit argument (the runner takes the others as test
 * names), or EH_DIFF_CASES. Read from /proc in a constructor because the
 * shared runner owns main(). */
__attribute__((constructor)) static void read_count(void)
{
	const char *e = getenv("EH_DIFF_CASES");
	static char buf[4096];
	FILE *f;
	size_t len;

	if (e != NULL && e[0] >= '1' && e[0] <= '9')
		cases = strtoul(e, NULL, 10);
	if ((f = fopen("/proc/self/cmdline", "rb")) == NULL)
		return;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (size_t a = strlen(buf) + 1; a < len; a += strlen(buf + a) + 1)
		if (buf[a] >= '1' && buf[a] <= '9' &&
		    strspn(buf + a, "0123456789") == strlen(buf + a))
			cases = strtoul(buf + a, NULL, 10);
}
