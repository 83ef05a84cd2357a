/* SPDX-License-Identifier: Apache-2.0 */
/* eh_note.c - one validating pass over an input message: every byte is
 * syntax-checked, the fields filters need are read into struct eh_note,
 * the rest is skipped. No copy of the payload, no allocation. */
#include "eh_note.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eh_json.h"

/* ==== Names ==== */

static const struct {
	const char *name;
	enum eh_event_kind kind;
	enum eh_note_type type;
} event_names[] = {
    {"event_created", EH_EV_EVENT_CREATED, EH_TYPE_EVENTS},
    {"episode_open", EH_EV_EPISODE_OPEN, EH_TYPE_EPISODES},
    {"episode_event", EH_EV_EPISODE_EVENT, EH_TYPE_EPISODES},
    {"episode_close", EH_EV_EPISODE_CLOSE, EH_TYPE_EPISODES},
    {"counter_record", EH_EV_COUNTER_RECORD, EH_TYPE_COUNTERS},
};

const char *eh_note_event_name(enum eh_event_kind k)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (event_names[i].kind == k)
			return event_names[i].name;
	return "?";
}

enum eh_note_type eh_note_event_type_of(enum eh_event_kind k)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (event_names[i].kind == k)
			return event_names[i].type;
	return EH_TYPE_COUNT;
}

enum eh_event_kind eh_note_event_parse(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strlen(event_names[i].name) == len && memcmp(event_names[i].name, s, len) == 0)
			return event_names[i].kind;
	return EH_EV_NONE;
}

/* ==== Parsing context ==== */

/* The top-level members filters read. */
enum field {
	F_ID,
	F_EVENT_TYPE,
	F_WEBHOOK_TYPE,
	F_BS_TYPE,
	F_CAMERA,
	F_CAMERA_GROUP,
	F_MATCHED,
	F_MATCHED_DOSSIER,
	F_MATCHED_LISTS,
	F_CONFIDENCE,
	F_CAMERAS,
	F_CAMERA_GROUPS,
	F_MATCHED_EVENT,
	F_EVENTS_COUNT,
	F_LAST_EVENT,
	F_COUNTER,
	F_FACES_COUNT,
	F_SILHOUETTES_COUNT,
	F_OTHER,
};

/* Which types read which field (bit per enum eh_note_type). */
#define T_EV (1u << EH_TYPE_EVENTS)
#define T_EP (1u << EH_TYPE_EPISODES)
#define T_CO (1u << EH_TYPE_COUNTERS)

static const struct {
	const char *name;
	uint8_t len;
	uint8_t types;
} fields[F_OTHER] = {
    [F_ID] = {"id", 2, T_EV | T_EP | T_CO},
    [F_EVENT_TYPE] = {"event_type", 10, T_EV | T_EP | T_CO},
    [F_WEBHOOK_TYPE] = {"webhook_type", 12, T_EV | T_EP | T_CO},
    [F_BS_TYPE] = {"bs_type", 7, T_EV},
    [F_CAMERA] = {"camera", 6, T_EV | T_CO},
    [F_CAMERA_GROUP] = {"camera_group", 12, T_EV | T_CO},
    [F_MATCHED] = {"matched", 7, T_EV},
    [F_MATCHED_DOSSIER] = {"matched_dossier", 15, T_EV},
    [F_MATCHED_LISTS] = {"matched_lists", 13, T_EV | T_EP},
    [F_CONFIDENCE] = {"confidence", 10, T_EV},
    [F_CAMERAS] = {"cameras", 7, T_EP},
    [F_CAMERA_GROUPS] = {"camera_groups", 13, T_EP},
    [F_MATCHED_EVENT] = {"matched_event", 13, T_EP},
    [F_EVENTS_COUNT] = {"events_count", 12, T_EP},
    [F_LAST_EVENT] = {"last_event", 10, T_EP},
    [F_COUNTER] = {"counter", 7, T_CO},
    [F_FACES_COUNT] = {"faces_count", 11, T_CO},
    [F_SILHOUETTES_COUNT] = {"silhouettes_count", 17, T_CO},
};

struct pctx {
	struct eh_json_cur c;
	struct eh_errs *errs;
	enum eh_note_type type;
	long idx;  /* element index, -1 when the message is one object */
	eh_err rc; /* first semantic error seen (the pass goes on to report more) */
};

/* Candidates by key length, so a key costs one or two comparisons instead
 * of one per field (most keys of a notification are not read at all). */
static const uint8_t by_len[18][4] = {
    [2] = {F_ID, F_OTHER},
    [6] = {F_CAMERA, F_OTHER},
    [7] = {F_BS_TYPE, F_MATCHED, F_CAMERAS, F_COUNTER},
    [10] = {F_EVENT_TYPE, F_CONFIDENCE, F_LAST_EVENT, F_OTHER},
    [11] = {F_FACES_COUNT, F_OTHER},
    [12] = {F_WEBHOOK_TYPE, F_CAMERA_GROUP, F_EVENTS_COUNT, F_OTHER},
    [13] = {F_MATCHED_LISTS, F_CAMERA_GROUPS, F_MATCHED_EVENT, F_OTHER},
    [15] = {F_MATCHED_DOSSIER, F_OTHER},
    [17] = {F_SILHOUETTES_COUNT, F_OTHER},
};

static enum field field_lookup(enum eh_note_type type, const char *k, size_t len)
{
	if (len >= sizeof(by_len) / sizeof(by_len[0]))
		return F_OTHER;
	for (unsigned i = 0; i < 4; i++) {
		unsigned f = by_len[len][i];
		if (f == F_OTHER || (f == F_ID && len != 2))
			break; /* end of the list (zero-filled rows hold F_ID) */
		if (fields[f].name[0] == k[0] && memcmp(fields[f].name, k, len) == 0)
			return (fields[f].types & (1u << type)) ? (enum field)f : F_OTHER;
	}
	return F_OTHER;
}

/* The field a top-level key names. Escaped keys ("c\u0061mera") are decoded
 * first, so no spelling of a field escapes the filters. */
static enum field field_of(enum eh_note_type type, struct eh_json_view key)
{
	char tmp[32];
	bool trunc = false;
	enum field f = field_lookup(type, key.p, key.len);

	if (f != F_OTHER || memchr(key.p, '\\', key.len) == NULL)
		return f;
	size_t n = eh_json_decode(key, tmp, sizeof(tmp), &trunc);
	return trunc ? F_OTHER : field_lookup(type, tmp, n);
}

/* Report an error at "<element>.<field>[<sub>]" (sub < 0: no index). */
__attribute__((format(printf, 5, 6))) static void
perr_at(struct pctx *x, eh_err rc, const char *field, long sub, const char *fmt, ...)
{
	char path[96], msg[EH_ERRS_LEN], idx[24] = "";
	va_list ap;

	if (x->rc == EH_OK || (x->rc == EH_ERR_PROTO && rc == EH_ERR_TOOBIG))
		x->rc = rc;
	if (x->errs == NULL)
		return;
	if (sub >= 0)
		snprintf(idx, sizeof(idx), "[%ld]", sub);
	if (x->idx >= 0)
		snprintf(path, sizeof(path), "[%ld]%s%s%s", x->idx, field ? "." : "",
			 field ? field : "", idx);
	else
		snprintf(path, sizeof(path), "%s%s", field ? field : "", idx);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	eh_errs_add(x->errs, path[0] ? path : NULL, "%s", msg);
}

#define perr(x, rc, field, ...) perr_at(x, rc, field, -1, __VA_ARGS__)

/* Quote a string view into buf for an error message (cut when long). */
static const char *quoted(struct eh_json_view v, char *buf, size_t cap)
{
	size_t n = v.len < cap - 6 ? v.len : cap - 6;
	snprintf(buf, cap, "\"%.*s%s\"", (int)n, v.p, n < v.len ? "..." : "");
	return buf;
}

/* ==== Value readers (each consumes exactly one value) ==== */

#define ID_WANT "expected integer or object with integer id"

/* An id: integer, {"id": integer, ...} or null (*has = false). */
static bool read_id(struct pctx *x, const char *field, long sub, int64_t *v, bool *has,
		    bool *verbose)
{
	struct eh_json_view t, key;
	bool is_int, got = false;
	int r;

	*has = false;
	switch (eh_json_peek(&x->c)) {
	case EH_JSON_NULL:
		return eh_json_literal(&x->c, NULL);
	case EH_JSON_NUMBER:
		if (!eh_json_number(&x->c, &t, &is_int))
			return false;
		if (!is_int || eh_json_to_i64(t, v) != EH_OK) {
			perr_at(x, EH_ERR_PROTO, field, sub, ID_WANT);
			return true;
		}
		*has = true;
		return true;
	case EH_JSON_OBJECT:
		if (!eh_json_obj_begin(&x->c))
			return false;
		for (unsigned i = 0; (r = eh_json_obj_next(&x->c, i, &key)) == 1; i++) {
			if (!got && eh_json_str_eq(key, "id") &&
			    eh_json_peek(&x->c) == EH_JSON_NUMBER) {
				if (!eh_json_number(&x->c, &t, &is_int))
					return false;
				if (is_int && eh_json_to_i64(t, v) == EH_OK)
					got = true;
			} else if (!eh_json_skip(&x->c, NULL)) {
				return false;
			}
		}
		if (r < 0)
			return false;
		if (!got)
			perr_at(x, EH_ERR_PROTO, field, sub, ID_WANT);
		*has = got;
		if (verbose != NULL)
			*verbose = true;
		return true;
	default:
		if (!eh_json_skip(&x->c, NULL))
			return false;
		perr_at(x, EH_ERR_PROTO, field, sub, ID_WANT);
		return true;
	}
}

static bool read_one_id(struct pctx *x, const char *field, struct eh_note_ids *ids, bool *verbose)
{
	bool has;

	ids->n = 0;
	if (!read_id(x, field, -1, &ids->v[0], &has, verbose))
		return false;
	ids->n = has ? 1 : 0;
	return true;
}

/* A list of ids, or null. */
static bool read_ids(struct pctx *x, const char *field, struct eh_note_ids *ids, bool *verbose)
{
	int r;

	ids->n = 0;
	if (eh_json_peek(&x->c) == EH_JSON_NULL)
		return eh_json_literal(&x->c, NULL);
	if (eh_json_peek(&x->c) != EH_JSON_ARRAY) {
		if (!eh_json_skip(&x->c, NULL))
			return false;
		perr(x, EH_ERR_PROTO, field, "expected array of ids");
		return true;
	}
	if (!eh_json_arr_begin(&x->c))
		return false;
	for (unsigned i = 0; (r = eh_json_arr_next(&x->c, i)) == 1; i++) {
		int64_t v = 0;
		bool has;
		if (!read_id(x, field, (long)i, &v, &has, verbose))
			return false;
		if (!has)
			continue;
		if (ids->n >= EH_NOTE_MAX_IDS) {
			if (ids->n == EH_NOTE_MAX_IDS)
				perr(x, EH_ERR_TOOBIG, field, "more than %d ids", EH_NOTE_MAX_IDS);
			ids->n = EH_NOTE_MAX_IDS + 1; /* report once */
			continue;
		}
		ids->v[ids->n++] = v;
	}
	if (ids->n > EH_NOTE_MAX_IDS)
		ids->n = EH_NOTE_MAX_IDS;
	return r == 0;
}

static bool read_num(struct pctx *x, const char *field, struct eh_note_num *num)
{
	struct eh_json_view t;

	num->has = false;
	switch (eh_json_peek(&x->c)) {
	case EH_JSON_NULL:
		return eh_json_literal(&x->c, NULL);
	case EH_JSON_NUMBER:
		if (!eh_json_number(&x->c, &t, NULL))
			return false;
		if (eh_json_to_double(t, &num->v) != EH_OK)
			perr(x, EH_ERR_PROTO, field, "number out of range");
		else
			num->has = true;
		return true;
	default:
		if (!eh_json_skip(&x->c, NULL))
			return false;
		perr(x, EH_ERR_PROTO, field, "expected number");
		return true;
	}
}

static bool read_bool(struct pctx *x, const char *field, enum eh_tri *t)
{
	enum eh_json_kind k = eh_json_peek(&x->c);

	*t = EH_TRI_NULL;
	if (k == EH_JSON_TRUE || k == EH_JSON_FALSE || k == EH_JSON_NULL) {
		if (!eh_json_literal(&x->c, NULL))
			return false;
		*t = k == EH_JSON_TRUE	  ? EH_TRI_TRUE
		     : k == EH_JSON_FALSE ? EH_TRI_FALSE
					  : EH_TRI_NULL;
		return true;
	}
	if (!eh_json_skip(&x->c, NULL))
		return false;
	perr(x, EH_ERR_PROTO, field, "expected true, false or null");
	return true;
}

/* last_event: only its camera is wanted (the episode's camera fallback). */
static bool read_last_event(struct pctx *x, int64_t *cam, bool *has)
{
	struct eh_json_view key;
	int r;

	*has = false;
	if (eh_json_peek(&x->c) != EH_JSON_OBJECT)
		return eh_json_skip(&x->c, NULL); /* null or an id: no camera to take */
	if (!eh_json_obj_begin(&x->c))
		return false;
	for (unsigned i = 0; (r = eh_json_obj_next(&x->c, i, &key)) == 1; i++) {
		if (eh_json_str_eq(key, "camera")) {
			if (!read_id(x, "last_event.camera", -1, cam, has, NULL))
				return false;
		} else if (!eh_json_skip(&x->c, NULL)) {
			return false;
		}
	}
	return r == 0;
}

/* ==== One element ==== */

static bool parse_note(struct pctx *x, struct eh_note *n)
{
	struct eh_json_view key, v;
	const char *start;
	uint32_t seen = 0;
	bool ok = true, has, last_cam_has = false;
	int64_t last_cam = 0;
	char q[48];
	int r;

	memset(n, 0, sizeof(*n));
	n->type = x->type;
	if (eh_json_peek(&x->c) != EH_JSON_OBJECT) {
		if (!eh_json_skip(&x->c, NULL))
			return false;
		perr(x, EH_ERR_PROTO, NULL, "expected object");
		return true;
	}
	start = x->c.p;
	if (!eh_json_obj_begin(&x->c))
		return false;
	for (unsigned i = 0; ok && (r = eh_json_obj_next(&x->c, i, &key)) == 1; i++) {
		enum field f = field_of(x->type, key);
		if (f == F_OTHER) {
			ok = eh_json_skip(&x->c, NULL);
			continue;
		}
		const char *name = fields[f].name;
		if (seen & (1u << f))
			perr(x, EH_ERR_PROTO, name, "duplicate member");
		seen |= 1u << f;
		switch (f) {
		case F_ID:
			if (eh_json_peek(&x->c) == EH_JSON_STRING) {
				ok = eh_json_string(&x->c, &v);
				n->id_is_str = true;
				if (ok && v.len == 0)
					perr(x, EH_ERR_PROTO, name, "empty");
			} else if (eh_json_peek(&x->c) == EH_JSON_NUMBER) {
				bool is_int;
				int64_t iv;
				ok = eh_json_number(&x->c, &v, &is_int);
				if (ok && (!is_int || eh_json_to_i64(v, &iv) != EH_OK))
					perr(x, EH_ERR_PROTO, name, "expected string or integer");
			} else {
				ok = eh_json_skip(&x->c, NULL);
				perr(x, EH_ERR_PROTO, name, "expected string or integer");
				v.p = NULL;
				v.len = 0;
			}
			n->id = v.p;
			n->id_len = v.len;
			break;
		case F_EVENT_TYPE:
			if (eh_json_peek(&x->c) != EH_JSON_STRING) {
				ok = eh_json_skip(&x->c, NULL);
				perr(x, EH_ERR_PROTO, name, "expected string");
				break;
			}
			if (!(ok = eh_json_string(&x->c, &v)))
				break;
			n->event_type = eh_note_event_parse(v.p, v.len);
			if (n->event_type == EH_EV_NONE)
				perr(x, EH_ERR_PROTO, name, "%s is not an event type",
				     quoted(v, q, sizeof(q)));
			else if (eh_note_event_type_of(n->event_type) != x->type)
				perr(x, EH_ERR_PROTO, name, "%s is not an %s type",
				     quoted(v, q, sizeof(q)), eh_type_name(x->type));
			break;
		case F_WEBHOOK_TYPE:
			n->has_webhook_type = true;
			if (eh_json_peek(&x->c) != EH_JSON_STRING) {
				ok = eh_json_skip(&x->c, NULL);
				perr(x, EH_ERR_PROTO, name, "expected string");
				break;
			}
			if ((ok = eh_json_string(&x->c, &v)) &&
			    !eh_json_str_eq(v, eh_type_name(x->type)))
				perr(x, EH_ERR_PROTO, name, "%s disagrees with input %s",
				     quoted(v, q, sizeof(q)), eh_type_name(x->type));
			break;
		case F_BS_TYPE:
			if (eh_json_peek(&x->c) == EH_JSON_NULL) {
				ok = eh_json_literal(&x->c, NULL);
			} else if (eh_json_peek(&x->c) == EH_JSON_STRING) {
				if ((ok = eh_json_string(&x->c, &v)))
					n->bs_type = eh_json_str_eq(v, "overall") ? EH_BS_OVERALL
						     : eh_json_str_eq(v, "realtime")
							 ? EH_BS_REALTIME
							 : EH_BS_OTHER;
			} else {
				ok = eh_json_skip(&x->c, NULL);
				perr(x, EH_ERR_PROTO, name, "expected string or null");
			}
			break;
		case F_CAMERA:
			ok = read_one_id(x, name, &n->cameras, &n->verbose);
			break;
		case F_CAMERA_GROUP:
			ok = read_one_id(x, name, &n->camera_groups, &n->verbose);
			break;
		case F_MATCHED:
			ok = read_bool(x, name, &n->matched);
			break;
		case F_MATCHED_DOSSIER:
			ok = read_id(x, name, -1, &n->matched_dossier, &n->has_matched_dossier,
				     &n->verbose);
			break;
		case F_MATCHED_LISTS:
			ok = read_ids(x, name, &n->matched_lists, &n->verbose);
			break;
		case F_CONFIDENCE:
			ok = read_num(x, name, &n->confidence);
			break;
		case F_CAMERAS:
			ok = read_ids(x, name, &n->cameras, &n->verbose);
			break;
		case F_CAMERA_GROUPS:
			ok = read_ids(x, name, &n->camera_groups, &n->verbose);
			break;
		case F_MATCHED_EVENT:
			n->matched =
			    eh_json_peek(&x->c) == EH_JSON_NULL ? EH_TRI_FALSE : EH_TRI_TRUE;
			ok = eh_json_skip(&x->c, NULL);
			break;
		case F_EVENTS_COUNT:
			ok = read_num(x, name, &n->events_count);
			break;
		case F_LAST_EVENT:
			ok = read_last_event(x, &last_cam, &last_cam_has);
			break;
		case F_COUNTER:
			ok = read_id(x, name, -1, &n->counter, &n->has_counter, &n->verbose);
			break;
		case F_FACES_COUNT:
			ok = read_num(x, name, &n->faces_count);
			break;
		case F_SILHOUETTES_COUNT:
			ok = read_num(x, name, &n->silhouettes_count);
			break;
		case F_OTHER:
			break;
		}
	}
	if (!ok || r < 0)
		return false;
	n->raw = start;
	n->raw_len = (size_t)(x->c.p - start);
	if (!(seen & (1u << F_ID)))
		perr(x, EH_ERR_PROTO, "id", "required");
	if (!(seen & (1u << F_EVENT_TYPE)))
		perr(x, EH_ERR_PROTO, "event_type", "required");
	(void)has;
	if (x->type == EH_TYPE_EPISODES && n->cameras.n == 0 && last_cam_has) {
		n->cameras.v[0] = last_cam;
		n->cameras.n = 1;
	}
	return true;
}

/* ==== Messages ==== */

/* The input type an element names in its top-level "webhook_type", read with a copy of
 * the cursor (the element is parsed again by parse_note, which checks it agrees). A
 * missing or unknown value is reported at the element's path; the result is then
 * EH_TYPE_COUNT and the element is skipped. A non-object gives events: parse_note
 * reports "expected object" for it. */
static enum eh_note_type sniff_type(struct pctx *x)
{
	struct eh_json_cur c = x->c;
	struct eh_json_view key, v;
	char q[48];
	int r;

	if (eh_json_peek(&c) != EH_JSON_OBJECT || !eh_json_obj_begin(&c))
		return EH_TYPE_EVENTS;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &key)) == 1; i++) {
		if (!eh_json_str_eq(key, "webhook_type")) {
			if (!eh_json_skip(&c, NULL))
				return EH_TYPE_EVENTS; /* bad JSON: parse_note finds it again */
			continue;
		}
		if (eh_json_peek(&c) != EH_JSON_STRING || !eh_json_string(&c, &v)) {
			perr(x, EH_ERR_PROTO, "webhook_type", "expected string");
			return EH_TYPE_COUNT;
		}
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			if (eh_json_str_eq(v, eh_type_name(t)))
				return (enum eh_note_type)t;
		perr(x, EH_ERR_PROTO, "webhook_type",
		     "%s is not \"events\", \"episodes\" or \"counters\"", quoted(v, q, sizeof(q)));
		return EH_TYPE_COUNT;
	}
	if (r == 0)
		perr(x, EH_ERR_PROTO, "webhook_type", "required to tell the notification's type");
	return r == 0 ? EH_TYPE_COUNT : EH_TYPE_EVENTS;
}

/* One element: its type fixed by the input (x->type) or read from it (by_wt). */
static bool parse_elem(struct pctx *x, struct eh_note *n, bool by_wt)
{
	if (by_wt) {
		enum eh_note_type t = sniff_type(x);
		if (t == EH_TYPE_COUNT)
			return eh_json_skip(&x->c, NULL); /* reported; validate the rest */
		x->type = t;
	}
	return parse_note(x, n);
}

static eh_err parse_message(const char *buf, size_t len, enum eh_note_type type, bool by_wt,
			    struct eh_note *notes, size_t max_notes, size_t *n,
			    struct eh_errs *errs)
{
	struct pctx x;
	size_t count = 0;
	bool ok;
	int r = 0;

	*n = 0;
	if (type >= EH_TYPE_COUNT)
		return EH_ERR_INVAL;
	if (len > EH_MAX_MSG_BYTES) {
		if (errs != NULL)
			eh_errs_add(errs, NULL, "message of %zu bytes is over the %d byte limit",
				    len, EH_MAX_MSG_BYTES);
		return EH_ERR_TOOBIG;
	}
	eh_json_init(&x.c, buf, len);
	x.errs = errs;
	x.type = type;
	x.idx = -1;
	x.rc = EH_OK;
	if (eh_json_peek(&x.c) == EH_JSON_ARRAY) {
		size_t cap = max_notes < EH_MAX_ARRAY_NOTES ? max_notes : EH_MAX_ARRAY_NOTES;
		ok = eh_json_arr_begin(&x.c);
		for (unsigned i = 0; ok && (r = eh_json_arr_next(&x.c, i)) == 1; i++) {
			x.idx = (long)i;
			if (count < cap) {
				ok = parse_elem(&x, &notes[count], by_wt);
				count++;
			} else {
				if (count == cap) {
					x.idx = -1;
					perr(&x, EH_ERR_TOOBIG, NULL,
					     "more than %zu notifications in one message", cap);
					count++;
				}
				ok = eh_json_skip(&x.c, NULL); /* still validate the rest */
			}
		}
		ok = ok && r == 0;
	} else if (eh_json_peek(&x.c) == EH_JSON_OBJECT && max_notes > 0) {
		ok = parse_elem(&x, &notes[0], by_wt);
		count = 1;
	} else if (eh_json_peek(&x.c) == EH_JSON_OBJECT) {
		ok = eh_json_skip(&x.c, NULL);
		perr(&x, EH_ERR_TOOBIG, NULL, "no room for a notification");
	} else {
		ok = eh_json_skip(&x.c, NULL);
		if (ok) {
			perr(&x, EH_ERR_PROTO, NULL, "expected an object or an array of objects");
		}
	}
	if (!ok || !eh_json_finish(&x.c)) {
		if (errs != NULL) {
			char path[32] = "";
			if (x.idx >= 0)
				snprintf(path, sizeof(path), "[%ld]", x.idx);
			eh_errs_add(errs, path[0] ? path : NULL, "invalid JSON at byte %zu: %s",
				    x.c.why_at, x.c.why ? x.c.why : "syntax error");
		}
		return x.c.why != NULL && strcmp(x.c.why, "nesting too deep") == 0 ? EH_ERR_TOOBIG
										   : EH_ERR_PROTO;
	}
	if (x.rc != EH_OK)
		return x.rc;
	*n = count;
	return EH_OK;
}

eh_err eh_note_parse_message(const char *buf, size_t len, enum eh_note_type type,
			     struct eh_note *notes, size_t max_notes, size_t *n,
			     struct eh_errs *errs)
{
	return parse_message(buf, len, type, false, notes, max_notes, n, errs);
}

eh_err eh_note_parse_typed(const char *buf, size_t len, struct eh_note *notes, size_t max_notes,
			   size_t *n, struct eh_errs *errs)
{
	return parse_message(buf, len, EH_TYPE_EVENTS, true, notes, max_notes, n, errs);
}

size_t eh_note_id_text(const char *raw, size_t len, char *buf, size_t cap)
{
	struct eh_json_cur c;
	struct eh_json_view key, v;
	bool trunc;
	int r;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	eh_json_init(&c, raw, len);
	if (!eh_json_obj_begin(&c))
		return 0;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &key)) == 1; i++) {
		if (!eh_json_str_eq(key, "id")) {
			if (!eh_json_skip(&c, NULL))
				return 0;
			continue;
		}
		enum eh_json_kind k = eh_json_peek(&c);
		if (k == EH_JSON_STRING && eh_json_string(&c, &v)) {
			size_t m = eh_json_decode(v, buf, cap, &trunc);
			return m < cap ? m : cap - 1;
		}
		if (k == EH_JSON_NUMBER && eh_json_number(&c, &v, NULL)) {
			size_t m = v.len < cap ? v.len : cap - 1;
			memcpy(buf, v.p, m);
			buf[m] = '\0';
			return m;
		}
		return 0;
	}
	return 0;
}
