/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_note.c - any bytes as an input message of each type: parse, match
 * against a few compiled filters, explain, render compact and verbose.
 * Checks that an accepted note's views lie inside the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eh_filter.h"
#include "eh_note.h"
#include "eh_render.h"

static struct eh_note notes[64];
static char out[1 << 20];
static char text[4096];

static const char *cat_lookup(void *ctx, enum eh_catalog_kind kind, long long id, size_t *len)
{
	(void)ctx;
	(void)kind;
	if (id != 1)
		return NULL;
	*len = 16;
	return "{\"id\":1,\"n\":\"x\"}";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char f_ev[] = "{\"events\":{\"camera_in\":[1,3],\"matched\":false,"
				   "\"confidence_gte\":0.5}}";
	static const char f_ep[] = "{\"episodes\":{\"allowed_types\":[\"episode_open\"],"
				   "\"matched\":true,\"camera_in\":[1]},"
				   "\"counters\":{\"faces_gte\":1,\"silhouettes_lte\":3}}";
	static const char *const filters[] = {"{}", f_ev, f_ep};
	static const struct eh_catalog_view cat = {cat_lookup, NULL};
	struct eh_filter f[3];
	struct eh_errs errs;
	const char *buf = (const char *)data;

	for (int i = 0; i < 3; i++)
		if (eh_filter_compile(filters[i], strlen(filters[i]), &f[i], NULL) != EH_OK)
			abort();
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		size_t n = 0;
		eh_errs_init(&errs);
		eh_err rc = eh_note_parse_message(buf, size, t, notes, 64, &n, &errs);
		if (rc != EH_OK) {
			if (n != 0 || eh_errs_count(&errs) == 0)
				abort(); /* a refusal always says why */
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			const struct eh_note *e = &notes[i];
			if (e->raw < buf || e->raw + e->raw_len > buf + size)
				abort();
			if (e->id != NULL &&
			    (e->id < e->raw || e->id + e->id_len > e->raw + e->raw_len))
				abort();
			for (int k = 0; k < 3; k++) {
				bool m = eh_filter_match(&f[k], e);
				eh_filter_explain(&f[k], e, text, sizeof(text));
				if (m != (strncmp(text, "matched", 7) == 0))
					abort();
			}
			eh_note_id_text(e->raw, e->raw_len, text, sizeof(text));
			for (int v = 0; v < 2; v++) {
				struct eh_render_opts o = {v == 1, v ? "http://x" : NULL, &cat};
				size_t len;
				rc = eh_render_note(t, e->raw, e->raw_len, &o, out, sizeof(out),
						    &len);
				if (rc != EH_OK && rc != EH_ERR_NOSPC)
					abort(); /* what parse accepted, render renders */
				if (rc == EH_OK) {
					/* and renders valid JSON that parses as the same type */
					size_t m = 0;
					if (eh_note_parse_message(out, len, t, notes + 63, 1, &m,
								  NULL) != EH_OK &&
					    len < 200000)
						abort();
				}
				(void)eh_render_note(t, e->raw, e->raw_len, &o, out, 7, &len);
			}
		}
	}
	return 0;
}
