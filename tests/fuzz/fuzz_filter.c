/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_filter.c - any bytes as a webhook's filters: compile never crashes,
 * a refusal always names a path under "filters" and leaves a table that
 * wants nothing; an accepted table matches the seed samples without harm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_filter.h"
#include "eh_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ev[] =
	    "{\"id\":\"1\",\"event_type\":\"event_created\",\"camera\":3,"
	    "\"camera_group\":1,\"matched\":true,\"matched_lists\":[1,2],"
	    "\"matched_dossier\":12,\"confidence\":0.8,\"bs_type\":\"overall\"}";
	static const char ep[] = "{\"id\":2,\"event_type\":\"episode_open\",\"cameras\":[],"
				 "\"last_event\":{\"camera\":4},\"camera_groups\":[1],"
				 "\"matched_event\":{},\"events_count\":3}";
	static const char co[] = "{\"id\":3,\"event_type\":\"counter_record\",\"counter\":2,"
				 "\"camera\":3,\"faces_count\":2,\"silhouettes_count\":0}";
	static const char *const msgs[EH_TYPE_COUNT] = {ev, ep, co};
	struct eh_filter f;
	struct eh_errs errs;
	struct eh_note n;
	size_t cnt;
	char text[2048];

	eh_errs_init(&errs);
	eh_err rc = eh_filter_compile((const char *)data, size, &f, &errs);
	if (rc != EH_OK) {
		if (errs.n == 0 || strncmp(errs.msg[0], "filters", 7) != 0)
			abort();
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			if (f.wanted[t])
				abort();
		return 0;
	}
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++) {
		if (eh_note_parse_message(msgs[t], strlen(msgs[t]), t, &n, 1, &cnt, NULL) != EH_OK)
			abort();
		bool m = eh_filter_match(&f, &n);
		eh_filter_explain(&f, &n, text, sizeof(text));
		if (m != (strncmp(text, "matched", 7) == 0))
			abort();
	}
	return 0;
}
