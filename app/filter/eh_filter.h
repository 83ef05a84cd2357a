/* SPDX-License-Identifier: Apache-2.0 */
/* eh_filter.h - a webhook's filters (CONTRACT section 4, the seed's
 * filters) compiled into a fixed-size table with no pointers into the
 * source text, and matched against parsed notifications. */
#ifndef EH_FILTER_H
#define EH_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_errs.h"
#include "eh_limits.h"
#include "eh_note.h"

/* One "_in" list. present == false: no condition; n == 0: matches nothing. */
struct eh_filter_ids {
	bool present;
	uint8_t n;
	int64_t v[EH_FILTER_MAX_IDS];
};

/* One "_gte" / "_lte" bound. */
struct eh_filter_bound {
	bool present;
	double v;
};

/* A set of enum values (allowed_bs_types, allowed_types). */
struct eh_filter_set {
	bool present;
	uint8_t mask; /* enum eh_bs_kind or enum eh_event_kind bits; 0 = [] */
};

struct eh_filter_events {
	struct eh_filter_set allowed_bs_types;
	struct eh_filter_ids camera_group_in;
	struct eh_filter_ids camera_in;
	struct eh_filter_ids matched_lists_in;
	struct eh_filter_ids matched_dossier_in;
	int8_t matched; /* -1 absent, 0 false, 1 true */
	struct eh_filter_bound confidence_gte;
};

struct eh_filter_episodes {
	struct eh_filter_set allowed_types;
	struct eh_filter_ids camera_group_in;
	struct eh_filter_ids camera_in;
	struct eh_filter_ids matched_lists_in;
	int8_t matched;
	struct eh_filter_bound events_count_gte;
	struct eh_filter_bound events_count_lte;
};

struct eh_filter_counters {
	struct eh_filter_ids counter_in;
	struct eh_filter_ids camera_group_in;
	struct eh_filter_ids camera_in;
	struct eh_filter_bound faces_gte;
	struct eh_filter_bound faces_lte;
	struct eh_filter_bound silhouettes_gte;
	struct eh_filter_bound silhouettes_lte;
};

/* The compiled filters of one webhook. Plain data: copy it freely. */
struct eh_filter {
	bool wanted[EH_TYPE_COUNT]; /* does the webhook take this type at all */
	/* internal: the fields present per type, so a match visits only those */
	uint8_t nactive[EH_TYPE_COUNT];
	uint8_t active[EH_TYPE_COUNT][8];
	struct eh_filter_events ev;
	struct eh_filter_episodes ep;
	struct eh_filter_counters co;
};

/* Compile a webhook's "filters" value (json[0..len), an object) into *out.
 * Unknown fields, wrong types, unknown enum values and lists longer than
 * EH_FILTER_MAX_IDS are errors, each added to errs (may be NULL) with a path
 * that begins with "filters" ("filters.events.camera_in[2]: expected
 * integer"). On error *out is cleared to "wants nothing", never half valid.
 * Returns EH_OK, EH_ERR_PROTO (bad JSON or bad filters) or EH_ERR_TOOBIG
 * (len over EH_MAX_MSG_BYTES). No allocation. */
eh_err eh_filter_compile(const char *json, size_t len, struct eh_filter *out, struct eh_errs *errs);

/* The filters as "{}" compiles them: every notification of every type. */
void eh_filter_all(struct eh_filter *out);

/* Does the webhook want this notification (CONTRACT section 4)? */
bool eh_filter_match(const struct eh_filter *f, const struct eh_note *n);

/* Explain eh_filter_match(): a first line "matched" or "not matched", then one
 * line per filter field of the note's type: the field, the condition, the
 * value compared and the verdict. Writes a NUL-terminated text into buf,
 * cut to cap; returns the length it needed (as snprintf). */
size_t eh_filter_explain(const struct eh_filter *f, const struct eh_note *n, char *buf, size_t cap);

#endif /* EH_FILTER_H */
