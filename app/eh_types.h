/* SPDX-License-Identifier: Apache-2.0 */
/* eh_types.h - vocabulary shared by every app module: the three
 * notification types and their names as the seed spells them. */
#ifndef EH_TYPES_H
#define EH_TYPES_H

#include <stdint.h>

enum eh_note_type {
	EH_TYPE_EVENTS = 0,   /* "events": event_created */
	EH_TYPE_EPISODES = 1, /* "episodes": episode_open, episode_event, episode_close */
	EH_TYPE_COUNTERS = 2, /* "counters": counter_record */
	EH_TYPE_COUNT = 3,
};

/* "events" | "episodes" | "counters"; "?" for an out-of-range value. */
static inline const char *eh_type_name(unsigned t)
{
	static const char *const names[] = {"events", "episodes", "counters"};
	return t < EH_TYPE_COUNT ? names[t] : "?";
}

#endif /* EH_TYPES_H */
