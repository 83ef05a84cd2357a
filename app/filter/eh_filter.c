/* SPDX-License-Identifier: Apache-2.0 */
/* eh_filter.c - compile a webhook's filters into a fixed table (with our
 * validating scanner: exact error paths at any input size, no allocation),
 * match notifications against it, and explain a match. One field table
 * drives all three, so they cannot disagree about what a field means. */
#include "eh_filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eh_json.h"

/* ==== The field table ==== */

enum fkind {
	K_IDS,	 /* "_in": any overlap with the note's ids */
	K_GTE,	 /* note value >= bound */
	K_LTE,	 /* note value <= bound */
	K_BOOL,	 /* matched */
	K_BS,	 /* allowed_bs_types */
	K_TYPES, /* allowed_types */
};

/* Which value of the note a field tests. */
enum nval {
	NV_CAMERAS,
	NV_CAMERA_GROUPS,
	NV_MATCHED_LISTS,
	NV_DOSSIER,
	NV_COUNTER,
	NV_CONFIDENCE,
	NV_EVENTS_COUNT,
	NV_FACES,
	NV_SILHOUETTES,
	NV_MATCHED,
	NV_BS,
	NV_EVENT_TYPE,
};

struct fdesc {
	const char *name; /* as in the seed */
	enum fkind kind;
	size_t off; /* of the compiled condition in struct eh_filter */
	enum nval nv;
	const char *label; /* the note's member, for explain */
};

#define OFF(m) offsetof(struct eh_filter, m)

static const struct fdesc ev_fields[] = {
    {"allowed_bs_types", K_BS, OFF(ev.allowed_bs_types), NV_BS, "bs_type"},
    {"camera_group_in", K_IDS, OFF(ev.camera_group_in), NV_CAMERA_GROUPS, "camera_group"},
    {"camera_in", K_IDS, OFF(ev.camera_in), NV_CAMERAS, "camera"},
    {"matched_lists_in", K_IDS, OFF(ev.matched_lists_in), NV_MATCHED_LISTS, "matched_lists"},
    {"matched_dossier_in", K_IDS, OFF(ev.matched_dossier_in), NV_DOSSIER, "matched_dossier"},
    {"matched", K_BOOL, OFF(ev.matched), NV_MATCHED, "matched"},
    {"confidence_gte", K_GTE, OFF(ev.confidence_gte), NV_CONFIDENCE, "confidence"},
};

static const struct fdesc ep_fields[] = {
    {"allowed_types", K_TYPES, OFF(ep.allowed_types), NV_EVENT_TYPE, "event_type"},
    {"camera_group_in", K_IDS, OFF(ep.camera_group_in), NV_CAMERA_GROUPS, "camera_groups"},
    {"camera_in", K_IDS, OFF(ep.camera_in), NV_CAMERAS, "cameras"},
    {"matched_lists_in", K_IDS, OFF(ep.matched_lists_in), NV_MATCHED_LISTS, "matched_lists"},
    {"matched", K_BOOL, OFF(ep.matched), NV_MATCHED, "matched_event != null"},
    {"events_count_gte", K_GTE, OFF(ep.events_count_gte), NV_EVENTS_COUNT, "events_count"},
    {"events_count_lte", K_LTE, OFF(ep.events_count_lte), NV_EVENTS_COUNT, "events_count"},
};

static const struct fdesc co_fields[] = {
    {"counter_in", K_IDS, OFF(co.counter_in), NV_COUNTER, "counter"},
    {"camera_group_in", K_IDS, OFF(co.camera_group_in), NV_CAMERA_GROUPS, "camera_group"},
    {"camera_in", K_IDS, OFF(co.camera_in), NV_CAMERAS, "camera"},
    {"faces_gte", K_GTE, OFF(co.faces_gte), NV_FACES, "faces_count"},
    {"faces_lte", K_LTE, OFF(co.faces_lte), NV_FACES, "faces_count"},
    {"silhouettes_gte", K_GTE, OFF(co.silhouettes_gte), NV_SILHOUETTES, "silhouettes_count"},
    {"silhouettes_lte", K_LTE, OFF(co.silhouettes_lte), NV_SILHOUETTES, "silhouettes_count"},
};

static const struct {
	const struct fdesc *f;
	size_t n;
} type_fields[EH_TYPE_COUNT] = {
    {ev_fields, sizeof(ev_fields) / sizeof(ev_fields[0])},
    {ep_fields, sizeof(ep_fields) / sizeof(ep_fields[0])},
    {co_fields, sizeof(co_fields) / sizeof(co_fields[0])},
};

static const struct {
	const char *name;
	unsigned bit;
} bs_names[] = {{"overall", EH_BS_OVERALL}, {"realtime", EH_BS_REALTIME}},
  ep_type_names[] = {{"episode_open", EH_EV_EPISODE_OPEN},
		     {"episode_event", EH_EV_EPISODE_EVENT},
		     {"episode_close", EH_EV_EPISODE_CLOSE}};

/* ==== Compile ==== */

static bool field_holds(const struct eh_filter *f, const struct fdesc *d, const struct eh_note *n,
			bool *active);

struct cctx {
	struct eh_json_cur c;
	struct eh_errs *errs;
	bool bad;
};

__attribute__((format(printf, 3, 4))) static void cerr(struct cctx *x, const char *path,
						       const char *fmt, ...)
{
	char msg[EH_ERRS_LEN];
	va_list ap;

	x->bad = true;
	if (x->errs == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	eh_errs_add(x->errs, path, "%s", msg);
}

/* The document is validated before compiling, so the scanner calls below
 * cannot fail; a value of the wrong kind is reported and skipped. */
static void compile_ids(struct cctx *x, const char *path, struct eh_filter_ids *ids)
{
	char p[128];
	struct eh_json_view t;
	bool is_int;

	ids->present = true;
	ids->n = 0;
	if (eh_json_peek(&x->c) != EH_JSON_ARRAY) {
		eh_json_skip(&x->c, NULL);
		cerr(x, path, "expected array of integers");
		return;
	}
	eh_json_arr_begin(&x->c);
	unsigned i;
	for (i = 0; eh_json_arr_next(&x->c, i) == 1; i++) {
		int64_t v;
		if (eh_json_peek(&x->c) != EH_JSON_NUMBER) {
			eh_json_skip(&x->c, NULL);
			cerr(x, eh_path_idx(p, sizeof(p), path, i), "expected integer");
			continue;
		}
		eh_json_number(&x->c, &t, &is_int);
		if (!is_int || eh_json_to_i64(t, &v) != EH_OK) {
			cerr(x, eh_path_idx(p, sizeof(p), path, i), "expected integer");
			continue;
		}
		if (i < EH_FILTER_MAX_IDS)
			ids->v[ids->n++] = v;
	}
	if (i > EH_FILTER_MAX_IDS)
		cerr(x, path, "more than %d values", EH_FILTER_MAX_IDS);
}

static void compile_set(struct cctx *x, const char *path, struct eh_filter_set *set,
			enum fkind kind)
{
	char p[128], want[96], tmp[32];
	struct eh_json_view v;
	size_t nn = kind == K_BS ? 2 : 3;
	bool trunc;

	set->present = true;
	set->mask = 0;
	if (kind == K_BS)
		snprintf(want, sizeof(want), "expected \"overall\" or \"realtime\"");
	else
		snprintf(want, sizeof(want),
			 "expected \"episode_open\", \"episode_event\" or \"episode_close\"");
	if (eh_json_peek(&x->c) != EH_JSON_ARRAY) {
		eh_json_skip(&x->c, NULL);
		cerr(x, path, "expected array of strings");
		return;
	}
	eh_json_arr_begin(&x->c);
	unsigned i;
	for (i = 0; eh_json_arr_next(&x->c, i) == 1; i++) {
		unsigned bit = 0;
		if (eh_json_peek(&x->c) != EH_JSON_STRING) {
			eh_json_skip(&x->c, NULL);
			cerr(x, eh_path_idx(p, sizeof(p), path, i), "%s", want);
			continue;
		}
		eh_json_string(&x->c, &v);
		for (size_t k = 0; k < nn; k++) {
			const char *name = kind == K_BS ? bs_names[k].name : ep_type_names[k].name;
			if (eh_json_str_eq(v, name))
				bit = kind == K_BS ? bs_names[k].bit : ep_type_names[k].bit;
		}
		if (bit == 0) {
			eh_json_decode(v, tmp, sizeof(tmp), &trunc);
			cerr(x, eh_path_idx(p, sizeof(p), path, i), "\"%s%s\": %s", tmp,
			     trunc ? "..." : "", want);
			continue;
		}
		set->mask |= (uint8_t)bit;
	}
	if (i > EH_FILTER_MAX_IDS)
		cerr(x, path, "more than %d values", EH_FILTER_MAX_IDS);
}

static void compile_field(struct cctx *x, const char *path, const struct fdesc *d,
			  struct eh_filter *f)
{
	void *slot = (char *)f + d->off;
	struct eh_json_view t;
	enum eh_json_kind k;

	switch (d->kind) {
	case K_IDS:
		compile_ids(x, path, slot);
		break;
	case K_GTE:
	case K_LTE: {
		struct eh_filter_bound *b = slot;
		if (eh_json_peek(&x->c) != EH_JSON_NUMBER) {
			eh_json_skip(&x->c, NULL);
			cerr(x, path, "expected number");
			break;
		}
		eh_json_number(&x->c, &t, NULL);
		if (eh_json_to_double(t, &b->v) != EH_OK) {
			cerr(x, path, "number out of range");
			break;
		}
		b->present = true;
		break;
	}
	case K_BOOL:
		k = eh_json_peek(&x->c);
		if (k != EH_JSON_TRUE && k != EH_JSON_FALSE) {
			eh_json_skip(&x->c, NULL);
			cerr(x, path, "expected true or false");
			break;
		}
		eh_json_literal(&x->c, NULL);
		*(int8_t *)slot = k == EH_JSON_TRUE ? 1 : 0;
		break;
	case K_BS:
	case K_TYPES:
		compile_set(x, path, slot, d->kind);
		break;
	}
}

static void compile_type(struct cctx *x, const char *path, unsigned type, struct eh_filter *f)
{
	struct eh_json_view key;
	char p[128], name[40];
	uint32_t seen = 0;
	bool trunc;

	if (eh_json_peek(&x->c) != EH_JSON_OBJECT) {
		eh_json_skip(&x->c, NULL);
		cerr(x, path, "expected object");
		return;
	}
	eh_json_obj_begin(&x->c);
	for (unsigned i = 0; eh_json_obj_next(&x->c, i, &key) == 1; i++) {
		const struct fdesc *d = NULL;
		size_t j;
		eh_json_decode(key, name, sizeof(name), &trunc);
		for (j = 0; j < type_fields[type].n && !trunc; j++)
			if (strcmp(type_fields[type].f[j].name, name) == 0) {
				d = &type_fields[type].f[j];
				break;
			}
		eh_path_key(p, sizeof(p), path, name);
		if (d == NULL) {
			eh_json_skip(&x->c, NULL);
			cerr(x, p, "unknown field");
			continue;
		}
		if (seen & (1u << j)) {
			eh_json_skip(&x->c, NULL);
			cerr(x, p, "duplicate field");
			continue;
		}
		seen |= 1u << j;
		compile_field(x, p, d, f);
	}
}

void eh_filter_all(struct eh_filter *out)
{
	memset(out, 0, sizeof(*out));
	out->ev.matched = -1;
	out->ep.matched = -1;
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		out->wanted[t] = true;
}

eh_err eh_filter_compile(const char *json, size_t len, struct eh_filter *out, struct eh_errs *errs)
{
	struct cctx x = {.errs = errs, .bad = false};
	struct eh_json_view key;
	char p[64], name[40];
	bool any = false, trunc;

	memset(out, 0, sizeof(*out));
	out->ev.matched = -1;
	out->ep.matched = -1;
	if (len > EH_MAX_MSG_BYTES) {
		cerr(&x, "filters", "over %d bytes", EH_MAX_MSG_BYTES);
		return EH_ERR_TOOBIG;
	}
	if (!eh_json_validate(json, len, &x.c)) {
		cerr(&x, "filters", "invalid JSON at byte %zu: %s", x.c.why_at, x.c.why);
		return EH_ERR_PROTO;
	}
	eh_json_init(&x.c, json, len);
	if (eh_json_peek(&x.c) != EH_JSON_OBJECT) {
		cerr(&x, "filters", "expected object");
		return EH_ERR_PROTO;
	}
	eh_json_obj_begin(&x.c);
	for (unsigned i = 0; eh_json_obj_next(&x.c, i, &key) == 1; i++) {
		unsigned t;
		eh_json_decode(key, name, sizeof(name), &trunc);
		for (t = 0; t < EH_TYPE_COUNT; t++)
			if (!trunc && strcmp(name, eh_type_name(t)) == 0)
				break;
		eh_path_key(p, sizeof(p), "filters", name);
		if (t == EH_TYPE_COUNT) {
			eh_json_skip(&x.c, NULL);
			cerr(&x, p, "unknown field");
			continue;
		}
		if (out->wanted[t]) {
			eh_json_skip(&x.c, NULL);
			cerr(&x, p, "duplicate field");
			continue;
		}
		out->wanted[t] = true;
		any = true;
		compile_type(&x, p, t, out);
	}
	if (x.bad) {
		memset(out, 0, sizeof(*out)); /* wants nothing */
		return EH_ERR_PROTO;
	}
	if (!any) {
		eh_filter_all(out);
		return EH_OK;
	}
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		for (size_t i = 0; i < type_fields[t].n; i++) {
			bool active;
			struct eh_note probe;
			memset(&probe, 0, sizeof(probe));
			probe.type = (enum eh_note_type)t;
			field_holds(out, &type_fields[t].f[i], &probe, &active);
			if (active)
				out->active[t][out->nactive[t]++] = (uint8_t)i;
		}
	return EH_OK;
}

/* ==== Match ==== */

/* The note's ids for a field (single-valued fields as a list of 0 or 1). */
static const int64_t *note_ids(const struct eh_note *n, enum nval nv, size_t *cnt)
{
	switch (nv) {
	case NV_CAMERAS:
		*cnt = n->cameras.n;
		return n->cameras.v;
	case NV_CAMERA_GROUPS:
		*cnt = n->camera_groups.n;
		return n->camera_groups.v;
	case NV_MATCHED_LISTS:
		*cnt = n->matched_lists.n;
		return n->matched_lists.v;
	case NV_DOSSIER:
		*cnt = n->has_matched_dossier ? 1 : 0;
		return &n->matched_dossier;
	case NV_COUNTER:
		*cnt = n->has_counter ? 1 : 0;
		return &n->counter;
	default:
		*cnt = 0;
		return NULL;
	}
}

static const struct eh_note_num *note_num(const struct eh_note *n, enum nval nv)
{
	switch (nv) {
	case NV_CONFIDENCE:
		return &n->confidence;
	case NV_EVENTS_COUNT:
		return &n->events_count;
	case NV_FACES:
		return &n->faces_count;
	default:
		return &n->silhouettes_count;
	}
}

/* Does field d hold for n? *active is false when the field is absent. */
static bool field_holds(const struct eh_filter *f, const struct fdesc *d, const struct eh_note *n,
			bool *active)
{
	const void *slot = (const char *)f + d->off;

	*active = true;
	switch (d->kind) {
	case K_IDS: {
		const struct eh_filter_ids *ids = slot;
		size_t cnt;
		if (!ids->present) {
			*active = false;
			return true;
		}
		const int64_t *v = note_ids(n, d->nv, &cnt);
		for (size_t i = 0; i < cnt; i++)
			for (size_t j = 0; j < ids->n; j++)
				if (v[i] == ids->v[j])
					return true;
		return false;
	}
	case K_GTE:
	case K_LTE: {
		const struct eh_filter_bound *b = slot;
		if (!b->present) {
			*active = false;
			return true;
		}
		const struct eh_note_num *x = note_num(n, d->nv);
		return x->has && (d->kind == K_GTE ? x->v >= b->v : x->v <= b->v);
	}
	case K_BOOL: {
		int8_t want = *(const int8_t *)slot;
		if (want < 0) {
			*active = false;
			return true;
		}
		return n->matched == (want ? EH_TRI_TRUE : EH_TRI_FALSE);
	}
	case K_BS:
	case K_TYPES: {
		const struct eh_filter_set *s = slot;
		if (!s->present) {
			*active = false;
			return true;
		}
		unsigned have = d->kind == K_BS ? (unsigned)n->bs_type : (unsigned)n->event_type;
		return (s->mask & have) != 0;
	}
	}
	return false;
}

bool eh_filter_match(const struct eh_filter *f, const struct eh_note *n)
{
	unsigned t = (unsigned)n->type;
	bool active;

	if (t >= EH_TYPE_COUNT || !f->wanted[t])
		return false;
	const struct fdesc *d = type_fields[t].f;
	for (unsigned i = 0; i < f->nactive[t]; i++)
		if (!field_holds(f, &d[f->active[t][i]], n, &active))
			return false;
	return true;
}

/* ==== Explain ==== */

struct wbuf {
	char *p;
	size_t cap;
	size_t len; /* needed so far (may exceed cap) */
};

__attribute__((format(printf, 2, 3))) static void wr(struct wbuf *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(w->len < w->cap ? w->p + w->len : NULL, w->len < w->cap ? w->cap - w->len : 0,
		      fmt, ap);
	va_end(ap);
	if (k > 0)
		w->len += (size_t)k;
}

static void wr_ids(struct wbuf *w, const int64_t *v, size_t n)
{
	wr(w, "[");
	for (size_t i = 0; i < n; i++)
		wr(w, "%s%lld", i ? ", " : "", (long long)v[i]);
	wr(w, "]");
}

static void wr_set(struct wbuf *w, unsigned mask, enum fkind kind)
{
	bool first = true;

	wr(w, "[");
	for (size_t k = 0; k < (kind == K_BS ? 2u : 3u); k++) {
		unsigned bit = kind == K_BS ? bs_names[k].bit : ep_type_names[k].bit;
		if (mask & bit) {
			wr(w, "%s\"%s\"", first ? "" : ", ",
			   kind == K_BS ? bs_names[k].name : ep_type_names[k].name);
			first = false;
		}
	}
	wr(w, "]");
}

static void wr_note_value(struct wbuf *w, const struct fdesc *d, const struct eh_note *n)
{
	size_t cnt;
	const int64_t *v;

	switch (d->kind) {
	case K_IDS:
		v = note_ids(n, d->nv, &cnt);
		if (cnt == 0)
			wr(w, "null/absent/[]");
		else if (d->nv == NV_DOSSIER || d->nv == NV_COUNTER ||
			 (n->type != EH_TYPE_EPISODES && d->nv != NV_MATCHED_LISTS))
			wr(w, "%lld", (long long)v[0]);
		else
			wr_ids(w, v, cnt);
		break;
	case K_GTE:
	case K_LTE: {
		const struct eh_note_num *x = note_num(n, d->nv);
		if (x->has)
			wr(w, "%.17g", x->v);
		else
			wr(w, "null/absent");
		break;
	}
	case K_BOOL:
		wr(w, "%s",
		   n->matched == EH_TRI_TRUE	? "true"
		   : n->matched == EH_TRI_FALSE ? "false"
						: "null/absent");
		break;
	case K_BS:
		wr(w, "%s",
		   n->bs_type == EH_BS_OVERALL	  ? "\"overall\""
		   : n->bs_type == EH_BS_REALTIME ? "\"realtime\""
		   : n->bs_type == EH_BS_OTHER	  ? "(another value)"
						  : "null/absent");
		break;
	case K_TYPES:
		wr(w, "\"%s\"", eh_note_event_name(n->event_type));
		break;
	}
}

size_t eh_filter_explain(const struct eh_filter *f, const struct eh_note *n, char *buf, size_t cap)
{
	struct wbuf w = {buf, cap, 0};
	bool ok = eh_filter_match(f, n), active;
	unsigned t = (unsigned)n->type;
	char id[64];

	if (cap > 0)
		buf[0] = '\0';
	eh_note_id_text(n->raw, n->raw_len, id, sizeof(id));
	wr(&w, "%s: %s %s (%s)\n", ok ? "matched" : "not matched", eh_type_name(t), id,
	   eh_note_event_name(n->event_type));
	if (t >= EH_TYPE_COUNT)
		return w.len;
	if (!f->wanted[t]) {
		wr(&w, "  filters.%s: absent while other types are present: type not wanted\n",
		   eh_type_name(t));
		return w.len;
	}
	unsigned shown = 0;
	for (size_t i = 0; i < type_fields[t].n; i++) {
		const struct fdesc *d = &type_fields[t].f[i];
		const void *slot = (const char *)f + d->off;
		bool holds = field_holds(f, d, n, &active);
		if (!active)
			continue;
		shown++;
		wr(&w, "  filters.%s.%s ", eh_type_name(t), d->name);
		switch (d->kind) {
		case K_IDS: {
			const struct eh_filter_ids *ids = slot;
			wr_ids(&w, ids->v, ids->n);
			break;
		}
		case K_GTE:
		case K_LTE:
			wr(&w, "%s %.17g", d->kind == K_GTE ? ">=" : "<=",
			   ((const struct eh_filter_bound *)slot)->v);
			break;
		case K_BOOL:
			wr(&w, "%s", *(const int8_t *)slot ? "true" : "false");
			break;
		case K_BS:
		case K_TYPES:
			wr_set(&w, ((const struct eh_filter_set *)slot)->mask, d->kind);
			break;
		}
		wr(&w, " vs %s = ", d->label);
		wr_note_value(&w, d, n);
		wr(&w, ": %s\n", holds ? "holds" : "FAILS");
	}
	if (shown == 0)
		wr(&w, "  filters.%s: no conditions: every %s notification\n", eh_type_name(t),
		   eh_type_name(t));
	return w.len;
}
