/* SPDX-License-Identifier: Apache-2.0 */
/* eh_render.c - streaming rewrite of one notification: a cheap look at
 * the top-level members decides whether anything must change; if not, the
 * stored bytes are copied (with "webhook_type" spliced in); otherwise one
 * pass re-emits the object, copying every untouched value as a span. */
#include "eh_render.h"

#include <string.h>

#include "eh_json.h"
#include "eh_jw.h"

/* ==== Output ==== */

struct out {
	char *p;
	size_t cap;
	size_t len; /* bytes needed so far; > cap means overflow */
};

static void put(struct out *w, const char *s, size_t n)
{
	if (w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct out *w, const char *s)
{
	put(w, s, strlen(s));
}

/* external_address as JSON string content, escaped straight into the output (the length
 * keeps counting past cap, as put() does). */
static void put_escaped(struct out *w, const char *s)
{
	if (w->len <= w->cap)
		w->len += eh_jw_escape(s, w->p + w->len, w->cap - w->len);
	else
		w->len += eh_jw_escape(s, NULL, 0);
}

/* ==== Member classes ==== */

enum member {
	M_OTHER,
	M_WEBHOOK_TYPE,
	M_URL, /* face, frame, fullframe, thumbnail */
	M_ID,  /* an id (or a list of ids) with a catalog kind */
};

static enum member classify(struct eh_json_view key, enum eh_catalog_kind *kind)
{
	static const struct {
		const char *name;
		enum member m;
		enum eh_catalog_kind kind;
	} tab[] = {
	    {"webhook_type", M_WEBHOOK_TYPE, EH_CAT_CAMERAS},
	    {"face", M_URL, EH_CAT_CAMERAS},
	    {"frame", M_URL, EH_CAT_CAMERAS},
	    {"fullframe", M_URL, EH_CAT_CAMERAS},
	    {"thumbnail", M_URL, EH_CAT_CAMERAS},
	    {"camera", M_ID, EH_CAT_CAMERAS},
	    {"cameras", M_ID, EH_CAT_CAMERAS},
	    {"camera_group", M_ID, EH_CAT_CAMERA_GROUPS},
	    {"camera_groups", M_ID, EH_CAT_CAMERA_GROUPS},
	    {"matched_lists", M_ID, EH_CAT_WATCH_LISTS},
	    {"matched_dossier", M_ID, EH_CAT_DOSSIERS},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (eh_json_str_eq(key, tab[i].name)) {
			*kind = tab[i].kind;
			return tab[i].m;
		}
	return M_OTHER;
}

/* ==== The decision ==== */

/* Would this id value change? verbose: a number (or a list holding one)
 * with a catalog; compact: an object (or a list holding one). */
static bool id_value_changes(struct eh_json_cur *c, const struct eh_render_opts *o, bool *ok)
{
	enum eh_json_kind want = o->verbose ? EH_JSON_NUMBER : EH_JSON_OBJECT;
	enum eh_json_kind k = eh_json_peek(c);
	bool change = false;
	int r;

	if (o->verbose && o->catalog == NULL) {
		*ok = eh_json_skip(c, NULL);
		return false;
	}
	if (k != EH_JSON_ARRAY) {
		*ok = eh_json_skip(c, NULL);
		return k == want;
	}
	*ok = eh_json_arr_begin(c);
	for (unsigned i = 0; *ok && (r = eh_json_arr_next(c, i)) == 1; i++) {
		if (eh_json_peek(c) == want)
			change = true;
		*ok = eh_json_skip(c, NULL);
	}
	*ok = *ok && r == 0;
	return change;
}

/* ==== The rewrite ==== */

struct rctx {
	struct eh_json_cur c;
	struct out w;
	const struct eh_render_opts *o;
	bool urls; /* external_address set */
};

static bool emit_value(struct rctx *x, bool top);

/* A URL member's value. */
static bool emit_url(struct rctx *x)
{
	struct eh_json_view v;

	if (eh_json_peek(&x->c) != EH_JSON_STRING)
		return emit_value(x, false);
	if (!eh_json_string(&x->c, &v))
		return false;
	put(&x->w, "\"", 1);
	if (v.len > 0 && v.p[0] == '/')
		put_escaped(&x->w, x->o->external_address);
	put(&x->w, v.p, v.len);
	put(&x->w, "\"", 1);
	return true;
}

/* One id (number or object) of the given kind. */
static bool emit_one_id(struct rctx *x, enum eh_catalog_kind kind)
{
	struct eh_json_view span, key, num;
	enum eh_json_kind k = eh_json_peek(&x->c);
	int64_t id;
	bool is_int, found = false;
	int r;

	if (k == EH_JSON_NUMBER && x->o->verbose && x->o->catalog != NULL) {
		if (!eh_json_number(&x->c, &span, &is_int))
			return false;
		if (is_int && eh_json_to_i64(span, &id) == EH_OK) {
			size_t n = 0;
			const char *t =
			    x->o->catalog->lookup(x->o->catalog->ctx, kind, (long long)id, &n);
			if (t != NULL && n > 0) {
				put(&x->w, t, n);
				return true;
			}
		}
		put(&x->w, span.p, span.len);
		return true;
	}
	if (k == EH_JSON_OBJECT && !x->o->verbose) {
		struct eh_json_cur save = x->c;
		if (!eh_json_obj_begin(&x->c))
			return false;
		for (unsigned i = 0; (r = eh_json_obj_next(&x->c, i, &key)) == 1; i++) {
			if (!found && eh_json_str_eq(key, "id") &&
			    eh_json_peek(&x->c) == EH_JSON_NUMBER) {
				if (!eh_json_number(&x->c, &num, &is_int))
					return false;
				found = is_int;
			} else if (!eh_json_skip(&x->c, NULL)) {
				return false;
			}
		}
		if (r < 0)
			return false;
		if (found) {
			put(&x->w, num.p, num.len);
			return true;
		}
		x->c = save; /* no integer id: keep the object */
	}
	return emit_value(x, false);
}

static bool emit_id_member(struct rctx *x, enum eh_catalog_kind kind)
{
	int r;

	if (eh_json_peek(&x->c) != EH_JSON_ARRAY)
		return emit_one_id(x, kind);
	if (!eh_json_arr_begin(&x->c))
		return false;
	put(&x->w, "[", 1);
	for (unsigned i = 0; (r = eh_json_arr_next(&x->c, i)) == 1; i++) {
		if (i > 0)
			put(&x->w, ",", 1);
		if (!emit_one_id(x, kind))
			return false;
	}
	put(&x->w, "]", 1);
	return r == 0;
}

/* Objects are re-emitted member by member only where something inside may
 * change: at the top, and everywhere when URLs are rewritten. */
static bool emit_object(struct rctx *x, bool top)
{
	struct eh_json_view key;
	enum eh_catalog_kind kind;
	int r;

	if (!eh_json_obj_begin(&x->c))
		return false;
	put(&x->w, "{", 1);
	for (unsigned i = 0; (r = eh_json_obj_next(&x->c, i, &key)) == 1; i++) {
		if (i > 0)
			put(&x->w, ",", 1);
		put(&x->w, key.p - 1, key.len + 2);
		put(&x->w, ":", 1);
		enum member m = classify(key, &kind);
		bool ok;
		if (m == M_URL && x->urls)
			ok = emit_url(x);
		else if (m == M_ID && top)
			ok = emit_id_member(x, kind);
		else
			ok = emit_value(x, false);
		if (!ok)
			return false;
	}
	put(&x->w, "}", 1);
	return r == 0;
}

static bool emit_value(struct rctx *x, bool top)
{
	struct eh_json_view span;
	enum eh_json_kind k = eh_json_peek(&x->c);
	int r;

	if (k == EH_JSON_OBJECT && (top || x->urls))
		return emit_object(x, top);
	if (k == EH_JSON_ARRAY && x->urls) {
		if (!eh_json_arr_begin(&x->c))
			return false;
		put(&x->w, "[", 1);
		for (unsigned i = 0; (r = eh_json_arr_next(&x->c, i)) == 1; i++) {
			if (i > 0)
				put(&x->w, ",", 1);
			if (!emit_value(x, false))
				return false;
		}
		put(&x->w, "]", 1);
		return r == 0;
	}
	if (!eh_json_skip(&x->c, &span))
		return false;
	put(&x->w, span.p, span.len);
	return true;
}

eh_err eh_render_note(enum eh_note_type type, const char *raw, size_t len,
		      const struct eh_render_opts *o, char *out, size_t cap, size_t *out_len)
{
	static const struct eh_render_opts plain = {false, NULL, NULL};
	struct rctx x;
	struct eh_json_view key;
	enum eh_catalog_kind kind;
	bool has_wt = false, change, ok = true;
	int r;

	*out_len = 0;
	if ((unsigned)type >= EH_TYPE_COUNT)
		return EH_ERR_INVAL;
	if (o == NULL)
		o = &plain;
	x.o = o;
	x.urls = o->external_address != NULL && o->external_address[0] != '\0';
	x.w = (struct out){out, cap, 0};
	change = x.urls;

	/* Look at the top-level members: webhook_type present? anything to do? */
	eh_json_init(&x.c, raw, len);
	if (!eh_json_obj_begin(&x.c))
		return EH_ERR_PROTO;
	for (unsigned i = 0; ok && (r = eh_json_obj_next(&x.c, i, &key)) == 1; i++) {
		enum member m = classify(key, &kind);
		if (m == M_WEBHOOK_TYPE)
			has_wt = true;
		if (m == M_ID && !change)
			change = id_value_changes(&x.c, o, &ok);
		else
			ok = eh_json_skip(&x.c, NULL);
	}
	if (!ok || r < 0 || !eh_json_finish(&x.c))
		return EH_ERR_PROTO;

	/* Write: "{" [splice] rest. */
	eh_json_init(&x.c, raw, len);
	eh_json_peek(&x.c); /* to the '{' */
	const char *open = x.c.p;
	put(&x.w, "{", 1);
	if (!has_wt) {
		puts_(&x.w, "\"webhook_type\":\"");
		puts_(&x.w, eh_type_name(type));
		puts_(&x.w, "\"");
		x.c.p = open + 1;
		if (eh_json_peek(&x.c) != EH_JSON_BAD || x.c.p >= x.c.end || *x.c.p != '}')
			put(&x.w, ",", 1);
	}
	if (!change) {
		/* Fast path: the stored bytes after '{', as they are. */
		put(&x.w, open + 1, (size_t)(raw + len - (open + 1)));
	} else {
		/* Rewrite; then drop the '{' emitted by emit_object. */
		size_t mark = x.w.len;
		eh_json_init(&x.c, raw, len);
		if (!emit_value(&x, true))
			return EH_ERR_PROTO;
		if (mark <= x.w.cap && x.w.len <= x.w.cap)
			memmove(x.w.p + mark, x.w.p + mark + 1, x.w.len - mark - 1);
		x.w.len--;
	}
	*out_len = x.w.len;
	return x.w.len > cap ? EH_ERR_NOSPC : EH_OK;
}
