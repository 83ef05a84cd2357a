/* SPDX-License-Identifier: Apache-2.0 */
/* bench_filter.c - the hot path's cost per notification: parse (our
 * validating scanner) + match against 32 active webhooks, next to
 * parse-only and to cJSON parse-only of the same bytes, in the same run.
 * Inputs: the seed samples as shipped (pretty-printed) and minified (as a
 * producer would publish them), compact and verbose.
 * usage: bench_filter [ITERATIONS] [--only none|parse|match|cjson] [--input K]
 * --only runs one phase (for callgrind: see bench_filter.sh) over every
 * input, or over input K only (0-7 as shipped, 8-15 minified). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eh_filter.h"
#include "eh_json.h"
#include "eh_note.h"

#define NSAMPLES 8
#define NHOOKS 32

struct sample {
	const char *name;
	enum eh_note_type type;
	char raw[16384];
	size_t raw_len;
	char min[16384]; /* the same without insignificant whitespace */
	size_t min_len;
};

static struct sample samples[NSAMPLES] = {
    {"event.json", EH_TYPE_EVENTS},
    {"episode_open.json", EH_TYPE_EPISODES},
    {"episode_close.json", EH_TYPE_EPISODES},
    {"counter_record.json", EH_TYPE_COUNTERS},
    {"verbose/event.json", EH_TYPE_EVENTS},
    {"verbose/episode_open.json", EH_TYPE_EPISODES},
    {"verbose/episode_close.json", EH_TYPE_EPISODES},
    {"verbose/counter_record.json", EH_TYPE_COUNTERS},
};

static struct eh_filter hooks[NHOOKS];
static unsigned char arena_mem[1 << 20];
static volatile uint64_t sink;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t minify(const char *in, size_t n, char *out)
{
	size_t k = 0;
	bool str = false;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (str) {
			out[k++] = ch;
			if (ch == '\\' && i + 1 < n)
				out[k++] = in[++i];
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
			out[k++] = ch;
		} else if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
			out[k++] = ch;
		}
	}
	return k;
}

/* 32 webhooks as an installation might have them: every filter field in use. */
static void make_hooks(void)
{
	static const char *const tmpl[] = {
	    "{}",
	    "{\"events\":{}}",
	    "{\"events\":{\"camera_group_in\":[1,NNN],\"matched_dossier_in\":[12,25]}}",
	    "{\"events\":{\"allowed_bs_types\":[\"overall\"],\"matched\":true,"
	    "\"confidence_gte\":0.75,\"camera_in\":[NNN,2,3,4,5,6,7,8]}}",
	    "{\"events\":{\"matched_lists_in\":[NNN,-1,4,5]},\"episodes\":{\"matched\":false}}",
	    "{\"episodes\":{\"allowed_types\":[\"episode_open\"],\"matched\":true}}",
	    "{\"episodes\":{\"camera_in\":[NNN,1],\"events_count_gte\":1,\"events_count_lte\":999}"
	    "}",
	    "{\"counters\":{\"counter_in\":[NNN,2],\"faces_gte\":1,\"silhouettes_lte\":10,"
	    "\"camera_group_in\":[1]}}",
	};
	char buf[512];
	for (int i = 0; i < NHOOKS; i++) {
		const char *t = tmpl[i % 8], *at = strstr(t, "NNN");
		int len =
		    at ? snprintf(buf, sizeof(buf), "%.*s%d%s", (int)(at - t), t, 100 + i, at + 3)
		       : snprintf(buf, sizeof(buf), "%s", t);
		if (eh_filter_compile(buf, (size_t)len, &hooks[i], NULL) != EH_OK) {
			fprintf(stderr, "bad hook %s\n", buf);
			exit(2);
		}
	}
}

/* The hot path: parse one message, match every webhook, return the masks. */
static uint64_t parse_match(const char *buf, size_t len, enum eh_note_type t, bool match)
{
	static struct eh_note notes[4];
	size_t n = 0;
	uint64_t mask = 0;

	if (eh_note_parse_message(buf, len, t, notes, 4, &n, NULL) != EH_OK)
		abort();
	if (!match)
		return n;
	for (size_t i = 0; i < n; i++)
		for (int h = 0; h < NHOOKS; h++)
			if (eh_filter_match(&hooks[h], &notes[i]))
				mask |= 1ull << h;
	return mask;
}

static uint64_t cjson_parse(const char *buf, size_t len, struct eh_json_arena *a)
{
	eh_json_arena_enter(a);
	cJSON *j = cJSON_ParseWithLength(buf, len);
	uint64_t r = j != NULL;
	eh_json_arena_leave(a);
	if (!r)
		abort();
	return r;
}

enum phase { P_NONE, P_PARSE, P_MATCH, P_CJSON };

static uint64_t run(enum phase p, const char *buf, size_t len, enum eh_note_type t,
		    struct eh_json_arena *a)
{
	switch (p) {
	case P_PARSE:
		return parse_match(buf, len, t, false);
	case P_MATCH:
		return parse_match(buf, len, t, true);
	case P_CJSON:
		return cjson_parse(buf, len, a);
	default:
		return len;
	}
}

static double time_ns(enum phase p, const char *buf, size_t len, enum eh_note_type t,
		      struct eh_json_arena *a, long iters)
{
	double best = 1e30;
	for (int rep = 0; rep < 5; rep++) { /* best of 5: the least disturbed run */
		double t0 = now_ns();
		for (long i = 0; i < iters; i++)
			sink += run(p, buf, len, t, a);
		double per = (now_ns() - t0) / (double)iters;
		if (per < best)
			best = per;
	}
	return best;
}

int main(int argc, char **argv)
{
	struct eh_json_arena arena;
	long iters = 20000;
	int only = -1, input = -1;
	char path[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			const char *w = argv[++i];
			only = strcmp(w, "parse") == 0	 ? P_PARSE
			       : strcmp(w, "match") == 0 ? P_MATCH
			       : strcmp(w, "cjson") == 0 ? P_CJSON
							 : P_NONE;
		} else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
			input = atoi(argv[++i]);
		} else {
			iters = atol(argv[i]);
		}
	}
	eh_json_arena_init(&arena, arena_mem, sizeof(arena_mem));
	for (int s = 0; s < NSAMPLES; s++) {
		snprintf(path, sizeof(path), "%s/json/%s", EH_FIXTURES, samples[s].name);
		FILE *f = fopen(path, "rb");
		if (f == NULL) {
			fprintf(stderr, "cannot open %s\n", path);
			return 2;
		}
		samples[s].raw_len = fread(samples[s].raw, 1, sizeof(samples[s].raw), f);
		fclose(f);
		samples[s].min_len = minify(samples[s].raw, samples[s].raw_len, samples[s].min);
	}
	make_hooks();

	if (only >= 0) {
		/* One phase over every sample, minified and not: callgrind counts it. */
		long count = 0;
		for (long i = 0; i < iters; i++)
			for (int k = 0; k < 2 * NSAMPLES; k++) {
				const struct sample *sp = &samples[k % NSAMPLES];
				if (input >= 0 && k != input)
					continue;
				sink +=
				    run((enum phase)only, k < NSAMPLES ? sp->raw : sp->min,
					k < NSAMPLES ? sp->raw_len : sp->min_len, sp->type, &arena);
				count++;
			}
		printf("notifications %ld\n", count);
		return 0;
	}

	printf("%-28s %6s %9s %9s %9s %8s %9s %7s\n", "sample", "bytes", "parse ns", "parse+32",
	       "filter+%", "cJSON ns", "cJSON/us", "ns/KiB");
	double tot[4] = {0, 0, 0, 0};
	for (int form = 0; form < 2; form++) {
		for (int s = 0; s < NSAMPLES; s++) {
			const char *b = form ? samples[s].min : samples[s].raw;
			size_t len = form ? samples[s].min_len : samples[s].raw_len;
			double tp = time_ns(P_PARSE, b, len, samples[s].type, &arena, iters);
			double tm = time_ns(P_MATCH, b, len, samples[s].type, &arena, iters);
			double tc =
			    time_ns(P_CJSON, b, len, samples[s].type, &arena, iters / 4 + 1);
			printf("%s%-26s %6zu %9.0f %9.0f %8.1f%% %8.0f %8.2fx %7.0f\n",
			       form ? "m:" : "  ", samples[s].name, len, tp, tm,
			       100.0 * (tm - tp) / tp, tc, tc / tm, tm * 1024.0 / (double)len);
			tot[0] += tp;
			tot[1] += tm;
			tot[2] += tc;
			tot[3] += (double)len;
		}
	}
	printf("mean over %d inputs: parse %.0f ns, parse+match(32) %.0f ns, filtering adds "
	       "%.1f%%, cJSON parse-only %.0f ns (%.2fx ours), %.0f bytes\n",
	       2 * NSAMPLES, tot[0] / 16, tot[1] / 16, 100.0 * (tot[1] - tot[0]) / tot[0],
	       tot[2] / 16, tot[2] / tot[1], tot[3] / 16);
	return 0;
}
