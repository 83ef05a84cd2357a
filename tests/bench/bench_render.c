/* SPDX-License-Identifier: Apache-2.0 */
/* bench_render.c - the cost of rendering one stored notification into a batch body
 * (eh_render_note, the delivery hot path), per seed sample and per mode: compact as stored
 * (the copy fast path), compact with external_address on relative media paths (the
 * rewrite path, which escapes the address into every URL), and verbose from a catalog.
 * Prints nanoseconds per render (best of 5 runs) and, with --only MODE, runs one mode for
 * callgrind (instructions are steadier than time on a shared machine).
 * usage: bench_render [ITERATIONS] [--only fast|urls|verbose] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eh_render.h"

#define NSAMPLES 4

struct sample {
	const char *name;
	enum eh_note_type type;
	char raw[16384]; /* the first element of the fixture's array */
	size_t raw_len;
	char rel[16384]; /* the same with host-relative media paths ("/uploads/...") */
	size_t rel_len;
};

static struct sample samples[NSAMPLES] = {
    {"event.json", EH_TYPE_EVENTS},
    {"episode_open.json", EH_TYPE_EPISODES},
    {"episode_close.json", EH_TYPE_EPISODES},
    {"counter_record.json", EH_TYPE_COUNTERS},
};

static char out[1 << 16];
static volatile uint64_t sink;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A catalog that knows every id: the entity text is the same small object. */
static const char *lookup(void *ctx, enum eh_catalog_kind kind, long long id, size_t *len)
{
	static const char text[] = "{\"id\":1,\"name\":\"Main entrance\",\"comment\":\"\"}";
	(void)ctx;
	(void)kind;
	(void)id;
	*len = sizeof(text) - 1;
	return text;
}

/* The fixture's first element: from the first '{' to the last '}'. */
static void load(struct sample *s)
{
	static char file[16384];
	char path[512];
	const char *host = "http://172.17.46.134";
	FILE *f;
	size_t n, hl = strlen(host);

	snprintf(path, sizeof(path), "%s/json/%s", EH_FIXTURES, s->name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	n = fread(file, 1, sizeof(file) - 1, f);
	fclose(f);
	file[n] = '\0';
	char *a = strchr(file, '{'), *b = strrchr(file, '}');
	if (a == NULL || b == NULL) {
		fprintf(stderr, "%s: no object\n", path);
		exit(2);
	}
	s->raw_len = (size_t)(b - a) + 1;
	memcpy(s->raw, a, s->raw_len);
	for (size_t i = 0; i < s->raw_len;) {
		if (i + hl <= s->raw_len && memcmp(s->raw + i, host, hl) == 0) {
			i += hl;
			continue;
		}
		s->rel[s->rel_len++] = s->raw[i++];
	}
}

enum mode { FAST, URLS, VERBOSE, NMODES };
static const char *const mode_names[NMODES] = {"fast", "urls", "verbose"};

static void run(enum mode m, const struct sample *s, long iters)
{
	static const struct eh_catalog_view cat = {lookup, NULL};
	struct eh_render_opts o = {false, NULL, NULL};
	const char *raw = s->raw;
	size_t len = s->raw_len, n = 0;

	if (m == URLS) {
		o.external_address = "https://gw-01.example.org:8443";
		raw = s->rel;
		len = s->rel_len;
	} else if (m == VERBOSE) {
		o.verbose = true;
		o.catalog = &cat;
	}
	for (long i = 0; i < iters; i++) {
		if (eh_render_note(s->type, raw, len, &o, out, sizeof(out), &n) != EH_OK) {
			fprintf(stderr, "%s: render failed\n", s->name);
			exit(1);
		}
		sink += n;
	}
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	int only = -1;

	if (argc > 3 && strcmp(argv[2], "--only") == 0)
		for (int m = 0; m < NMODES; m++)
			if (strcmp(argv[3], mode_names[m]) == 0)
				only = m;
	for (int i = 0; i < NSAMPLES; i++)
		load(&samples[i]);
	if (only >= 0) {
		for (int i = 0; i < NSAMPLES; i++)
			run((enum mode)only, &samples[i], iters);
		printf("renders %ld\n", iters * NSAMPLES);
		return 0;
	}
	printf("%-22s %10s %10s %10s   (ns per render, best of 5)\n", "sample", "fast", "urls",
	       "verbose");
	for (int i = 0; i < NSAMPLES; i++) {
		double best[NMODES];
		for (int m = 0; m < NMODES; m++) {
			best[m] = 1e30;
			for (int r = 0; r < 5; r++) {
				double t0 = now_ns();
				run((enum mode)m, &samples[i], iters);
				double ns = (now_ns() - t0) / (double)iters;
				if (ns < best[m])
					best[m] = ns;
			}
		}
		printf("%-22s %10.0f %10.0f %10.0f\n", samples[i].name, best[FAST], best[URLS],
		       best[VERBOSE]);
	}
	return 0;
}
