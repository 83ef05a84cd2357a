/* SPDX-License-Identifier: Apache-2.0 */
/* eh_note.h - one notification as the filters see it: its exact bytes as
 * received plus the handful of fields filters test, read in one validating
 * pass over the message (no copy, no allocation). Compact ("camera": 3) and
 * verbose ("camera": {"id": 3, ...}) input give the same struct. */
#ifndef EH_NOTE_H
#define EH_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_errs.h"
#include "eh_limits.h"
#include "eh_types.h"

#ifndef EH_NOTE_MAX_IDS
#define EH_NOTE_MAX_IDS 32 /* ids kept per list field of one notification */
#endif

/* event_type values, as bits so filters can hold a set of them. */
enum eh_event_kind {
	EH_EV_NONE = 0,
	EH_EV_EVENT_CREATED = 1u << 0,
	EH_EV_EPISODE_OPEN = 1u << 1,
	EH_EV_EPISODE_EVENT = 1u << 2,
	EH_EV_EPISODE_CLOSE = 1u << 3,
	EH_EV_COUNTER_RECORD = 1u << 4,
};

/* bs_type values, as bits. */
enum eh_bs_kind {
	EH_BS_NONE = 0, /* null or absent */
	EH_BS_OVERALL = 1u << 0,
	EH_BS_REALTIME = 1u << 1,
	EH_BS_OTHER = 1u << 2, /* another string: matches no filter value */
};

enum eh_tri {
	EH_TRI_NULL = 0, /* null or absent: satisfies no condition */
	EH_TRI_FALSE = 1,
	EH_TRI_TRUE = 2,
};

/* A bounded list of integer ids (compact ids or the "id" of verbose
 * objects). Absent, null and [] all have n == 0. */
struct eh_note_ids {
	uint8_t n;
	int64_t v[EH_NOTE_MAX_IDS];
};

/* An optional number. */
struct eh_note_num {
	bool has; /* false: null or absent */
	double v;
};

struct eh_note {
	enum eh_note_type type;
	const char *raw; /* the element's bytes, '{' to '}', inside the message */
	size_t raw_len;
	const char *id; /* the id's text: string content (escapes kept) or digits */
	size_t id_len;
	bool id_is_str;
	enum eh_event_kind event_type;
	bool has_webhook_type; /* the element carries "webhook_type" */
	bool verbose;	       /* some top-level id field came as an object */
	/* events: one value each in cameras / camera_groups; episodes: the
	 * lists (cameras falls back to last_event.camera when empty);
	 * counters: one value each. */
	struct eh_note_ids cameras;
	struct eh_note_ids camera_groups;
	struct eh_note_ids matched_lists; /* events, episodes */
	enum eh_bs_kind bs_type;	  /* events */
	enum eh_tri matched;		  /* events; episodes: matched_event != null */
	bool has_matched_dossier;	  /* events */
	int64_t matched_dossier;
	struct eh_note_num confidence;	 /* events */
	struct eh_note_num events_count; /* episodes */
	bool has_counter;		 /* counters */
	int64_t counter;
	struct eh_note_num faces_count;	      /* counters */
	struct eh_note_num silhouettes_count; /* counters */
};

/* Parse one MQTT message of the given input type: one object or an array of
 * up to EH_MAX_ARRAY_NOTES objects. Fills notes[0..*n) with views into buf
 * (valid while buf is). The whole message is validated; any bad element
 * rejects it all, with errors naming the path ("[2].camera: expected
 * integer or object with integer id").
 * Returns EH_OK; EH_ERR_PROTO for bad JSON or a bad element; EH_ERR_TOOBIG
 * when len > EH_MAX_MSG_BYTES, the array is longer than EH_MAX_ARRAY_NOTES
 * or max_notes, or a list holds more than EH_NOTE_MAX_IDS ids. *n is 0 on
 * error. errs may be NULL. */
eh_err eh_note_parse_message(const char *buf, size_t len, enum eh_note_type type,
			     struct eh_note *notes, size_t max_notes, size_t *n,
			     struct eh_errs *errs);

/* The same for a body as FindFace Security posts it to a webhook: each element's type
 * comes from its own "webhook_type" ("events", "episodes", "counters"; notes[i].type),
 * so one array may mix types. A missing or unknown webhook_type is an EH_ERR_PROTO error
 * at the element's path ("[3].webhook_type: required ..."). */
eh_err eh_note_parse_typed(const char *buf, size_t len, struct eh_note *notes, size_t max_notes,
			   size_t *n, struct eh_errs *errs);

/* The id of the notification whose bytes are raw[0..len), as the seed's log
 * prints it: string content (escapes decoded) or integer digits. Writes a
 * NUL-terminated text into buf (truncated to cap) and returns its length
 * (0: no id found). */
size_t eh_note_id_text(const char *raw, size_t len, char *buf, size_t cap);

/* "event_created", ...; "?" for EH_EV_NONE. */
const char *eh_note_event_name(enum eh_event_kind k);

/* The input type an event_type belongs to; EH_TYPE_COUNT if none. */
enum eh_note_type eh_note_event_type_of(enum eh_event_kind k);

/* Name -> enum eh_event_kind (EH_EV_NONE if unknown). */
enum eh_event_kind eh_note_event_parse(const char *s, size_t len);

#endif /* EH_NOTE_H */
