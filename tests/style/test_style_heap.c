/* SPDX-License-Identifier: Apache-2.0 */
/* test_style_heap.c - the hot path makes no heap call. Linked with GNU ld
 * --wrap for malloc, calloc, realloc, free and friends, so every reference
 * from our objects (eh_model, eh_filter, eh_json, eh_queue, eh_drv_storage,
 * eh_platform and this file) lands in a counter below. After a warm-up,
 * rounds of parse, match, explain, id text and render over the fixtures,
 * and of queue append, commit, peek and ack on a file-backed ring, must
 * leave every counter at zero. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_filter.h"
#include "eh_flash.h"
#include "eh_note.h"
#include "eh_queue.h"
#include "eh_render.h"

/* ==== Counting wrappers ==== */

/* Calls from our objects, by function. */
static size_t n_malloc, n_calloc, n_realloc, n_free, n_other;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	n_malloc++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	n_calloc++;
	return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_realloc++;
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	if (p != NULL)
		n_free++;
	__real_free(p);
}

char *__wrap_strdup(const char *s)
{
	n_other++;
	return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	n_other++;
	return __real_strndup(s, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	n_other++;
	return __real_posix_memalign(p, a, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	n_other++;
	return __real_aligned_alloc(a, n);
}

static size_t heap_calls(void)
{
	return n_malloc + n_calloc + n_realloc + n_free + n_other;
}

static void heap_reset(void)
{
	n_malloc = n_calloc = n_realloc = n_free = n_other = 0;
}

static void heap_print(const char *what)
{
	printf("%s: malloc %zu calloc %zu realloc %zu free %zu other %zu\n", what, n_malloc,
	       n_calloc, n_realloc, n_free, n_other);
}

/* ==== The workload ==== */

struct fixture {
	const char *file;
	enum eh_note_type type;
};

static const struct fixture fixtures[] = {
    {"event.json", EH_TYPE_EVENTS},
    {"episode_open.json", EH_TYPE_EPISODES},
    {"episode_close.json", EH_TYPE_EPISODES},
    {"counter_record.json", EH_TYPE_COUNTERS},
    {"verbose/event.json", EH_TYPE_EVENTS},
    {"verbose/episode_open.json", EH_TYPE_EPISODES},
    {"verbose/episode_close.json", EH_TYPE_EPISODES},
    {"verbose/counter_record.json", EH_TYPE_COUNTERS},
};
#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static const char f_events[] =
    "{\"events\":{\"camera_in\":[1,3],\"matched\":false,\"confidence_gte\":0.5}}";
static const char f_episodes[] = "{\"episodes\":{\"allowed_types\":[\"episode_open\"],"
				 "\"matched\":true,\"camera_in\":[1]},"
				 "\"counters\":{\"faces_gte\":1,\"silhouettes_lte\":3}}";
static const char f_lists[] =
    "{\"events\":{\"matched_lists_in\":[1,2]},\"counters\":{\"counter_in\":[2]}}";
static const char *const filter_src[] = {"{}", f_events, f_episodes, f_lists};
#define NFILT (sizeof(filter_src) / sizeof(filter_src[0]))

/* Caller-owned state, static as in the daemon. */
static char msg[NFIX][1 << 16];
static size_t msg_len[NFIX];
static struct eh_filter filters[NFILT];
static bool filters_ok[NFILT];
static struct eh_note notes[64];
static char text[4096];
static char out[1 << 17];

static const char *cat_lookup(void *ctx, enum eh_catalog_kind kind, long long id, size_t *len)
{
	(void)ctx;
	(void)kind;
	if (id != 1)
		return NULL;
	*len = 16;
	return "{\"id\":1,\"n\":\"x\"}";
}

static void load(void)
{
	char path[512];
	for (size_t i = 0; i < NFIX; i++) {
		snprintf(path, sizeof(path), "%s/json/%s", EH_FIXTURES, fixtures[i].file);
		msg_len[i] = eh_test_read_file(path, msg[i], sizeof(msg[i]));
	}
}

/* One round over every fixture; returns how many notes were parsed and
 * adds the matches to *matched. Fails the test on a refused fixture. */
static size_t round_once(size_t *matched)
{
	static const struct eh_catalog_view cat = {cat_lookup, NULL};
	size_t total = 0;
	for (size_t i = 0; i < NFIX; i++) {
		struct eh_errs errs;
		size_t n = 0;
		eh_errs_init(&errs);
		eh_err rc = eh_note_parse_message(msg[i], msg_len[i], fixtures[i].type, notes,
						  sizeof(notes) / sizeof(notes[0]), &n, &errs);
		CHECK_EQ(rc, EH_OK);
		total += n;
		for (size_t k = 0; k < n; k++) {
			for (size_t f = 0; f < NFILT; f++) {
				if (!filters_ok[f])
					continue;
				if (eh_filter_match(&filters[f], &notes[k]))
					(*matched)++;
				(void)eh_filter_explain(&filters[f], &notes[k], text, sizeof(text));
			}
			(void)eh_note_id_text(notes[k].raw, notes[k].raw_len, text, sizeof(text));
			for (int v = 0; v < 2; v++) {
				struct eh_render_opts o = {v == 1, v ? "http://x" : NULL, &cat};
				size_t len = 0;
				rc = eh_render_note(fixtures[i].type, notes[k].raw,
						    notes[k].raw_len, &o, out, sizeof(out), &len);
				CHECK_EQ(rc, EH_OK);
			}
		}
		/* A refused message takes the error path, which must not allocate either. */
		n = 0;
		eh_errs_init(&errs);
		rc = eh_note_parse_message(msg[i], msg_len[i] / 2, fixtures[i].type, notes,
					   sizeof(notes) / sizeof(notes[0]), &n, &errs);
		CHECK(rc != EH_OK);
	}
	return total;
}

/* ==== Tests ==== */

/* The counters see calls made from this binary's own objects: without this
 * the zero below would prove nothing. Calls go through volatile pointers
 * so the compiler cannot elide the pair. */
EH_TEST(wrap_counts_calls_from_our_objects)
{
	void *(*volatile m)(size_t) = malloc;
	void *(*volatile c)(size_t, size_t) = calloc;
	void (*volatile f)(void *) = free;
	heap_reset();
	void *p = m(32);
	void *q = c(4, 8);
	f(p);
	f(q);
	CHECK_EQ(n_malloc, 1);
	CHECK_EQ(n_calloc, 1);
	CHECK_EQ(n_free, 2);
	heap_reset();
}

EH_TEST(parse_match_render_steady_state_no_heap)
{
	size_t matched = 0, notes_seen = 0;
	int rounds = getenv("EH_QEMU") ? 20 : 200;

	load();
	heap_reset();
	for (size_t f = 0; f < NFILT; f++) {
		struct eh_errs errs;
		eh_errs_init(&errs);
		filters_ok[f] = eh_filter_compile(filter_src[f], strlen(filter_src[f]), &filters[f],
						  &errs) == EH_OK;
		CHECK(filters_ok[f]);
	}
	heap_print("filter compile (init)");
	/* Warm-up: anything lazily set up once is init, not steady state. */
	notes_seen = round_once(&matched);
	REQUIRE(notes_seen > 0);
	heap_print("first round (warm-up)");

	heap_reset();
	matched = 0;
	notes_seen = 0;
	for (int r = 0; r < rounds; r++)
		notes_seen += round_once(&matched);
	heap_print("steady state");
	printf("steady state: %d rounds, %zu notes, %zu matches\n", rounds, notes_seen, matched);
	CHECK(matched > 0);
	CHECK_EQ(heap_calls(), 0);
}

/* The storage path: every accepted note appended to the queue on a real
 * file, group-committed, peeked back, acked, committed again; the ring
 * wraps several times in steady state, so segment turnover is covered. */
static struct eh_queue queue;
static struct eh_queue_rec recs[256];
static uint8_t peekbuf[1 << 20];

static void queue_round(size_t *appended, size_t *delivered)
{
	for (size_t i = 0; i < NFIX; i++) {
		size_t n = 0, got = 0;
		unsigned t = (unsigned)fixtures[i].type;
		REQUIRE(eh_note_parse_message(msg[i], msg_len[i], fixtures[i].type, notes,
					      sizeof(notes) / sizeof(notes[0]), &n, NULL) == EH_OK);
		for (size_t k = 0; k < n; k++) {
			CHECK_EQ(
			    eh_queue_append(&queue, t, 1, notes[k].raw, notes[k].raw_len, NULL),
			    EH_OK);
			(*appended)++;
		}
		CHECK_EQ(eh_queue_commit(&queue), EH_OK);
		do {
			CHECK_EQ(eh_queue_peek(&queue, 0, t, recs, sizeof(recs) / sizeof(recs[0]),
					       sizeof(peekbuf), peekbuf, sizeof(peekbuf), &got),
				 EH_OK);
			if (got > 0)
				CHECK_EQ(eh_queue_ack(&queue, 0, t, recs[got - 1].seq), EH_OK);
			*delivered += got;
		} while (got > 0 && !eh_test_failed_now);
		CHECK_EQ(eh_queue_commit(&queue), EH_OK);
	}
}

EH_TEST(queue_append_commit_peek_ack_steady_state_no_heap)
{
	char path[128];
	struct eh_flash fl;
	struct eh_flash_file st;
	struct eh_queue_stats qs;
	size_t appended = 0, delivered = 0;
	int rounds = getenv("EH_QEMU") ? 12 : 60;

	load();
	snprintf(path, sizeof(path), "/tmp/eh_style_heap_%ld.ring", (long)getpid());
	unlink(path);
	/* 1 MiB in 64 KiB blocks: about 30 rounds fill it, so the ring wraps. */
	REQUIRE(eh_flash_file_open(&fl, &st, path, 1u << 20, 64u << 10, 0, 0) == EH_OK);
	struct eh_queue_config c = {.flash = &fl, .uid = 0x5eed};
	if (eh_queue_open(&queue, &c) != EH_OK) {
		eh_flash_close(&fl);
		unlink(path);
		REQUIRE(false);
	}
	heap_reset();
	queue_round(&appended, &delivered); /* warm-up */
	heap_print("queue first round (warm-up)");
	heap_reset();
	appended = delivered = 0;
	for (int r = 0; r < rounds && !eh_test_failed_now; r++)
		queue_round(&appended, &delivered);
	heap_print("queue steady state");
	eh_queue_stats(&queue, &qs);
	printf("queue steady state: %d rounds, %zu appended, %zu delivered, %llu payload bytes, "
	       "%llu bytes written to a 1024 KiB ring, %llu syncs\n",
	       rounds, appended, delivered, (unsigned long long)qs.payload_bytes,
	       (unsigned long long)qs.bytes_written, (unsigned long long)qs.syncs);
	CHECK_EQ(heap_calls(), 0);
	if (rounds >= 60)
		CHECK(qs.bytes_written > 2 * (1u << 20)); /* the ring wrapped at least twice */
	CHECK_EQ(delivered, appended);
	CHECK(appended > 0);
	eh_queue_close(&queue);
	eh_flash_close(&fl);
	unlink(path);
}
