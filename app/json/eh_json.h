/* SPDX-License-Identifier: Apache-2.0 */
/* eh_json.h - a single-pass, non-allocating, validating JSON scanner
 * (RFC 8259: full syntax, string escapes, UTF-8, numbers) with a pull
 * interface: the caller walks objects and arrays, reads the members it
 * wants and skips (still validating) the rest. Every result is a view into
 * the caller's bytes, valid as long as those bytes are. */
#ifndef EH_JSON_H
#define EH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_err.h"
#include "eh_limits.h"

enum eh_json_kind {
	EH_JSON_BAD = 0, /* end of input or a byte that cannot start a value */
	EH_JSON_OBJECT,
	EH_JSON_ARRAY,
	EH_JSON_STRING,
	EH_JSON_NUMBER,
	EH_JSON_TRUE,
	EH_JSON_FALSE,
	EH_JSON_NULL,
};

/* A span of the caller's bytes. For strings: the content between the
 * quotes, escapes not decoded. */
struct eh_json_view {
	const char *p;
	size_t len;
};

/* The scanner state. Caller-owned; eh_json_init() fills it. */
struct eh_json_cur {
	const char *p;	    /* next unread byte */
	const char *end;    /* one past the last byte */
	const char *base;   /* first byte, for error offsets */
	unsigned depth;	    /* open objects + arrays */
	unsigned max_depth; /* EH_JSON_MAX_DEPTH unless changed after init */
	const char *why;    /* first error ("unterminated string"), NULL if none */
	size_t why_at;	    /* byte offset of that error */
};

void eh_json_init(struct eh_json_cur *c, const char *buf, size_t len);

/* Record an error at the current position (the first one wins); returns
 * false so callers can `return eh_json_fail(c, "...")`. */
bool eh_json_fail(struct eh_json_cur *c, const char *why);

/* Skip whitespace and tell what the next value is, consuming nothing. */
enum eh_json_kind eh_json_peek(struct eh_json_cur *c);

/* Read one value of the given shape; false (with c->why set) on bad syntax
 * or a value of another kind. */
bool eh_json_string(struct eh_json_cur *c, struct eh_json_view *raw);
bool eh_json_number(struct eh_json_cur *c, struct eh_json_view *text, bool *is_int);
bool eh_json_literal(struct eh_json_cur *c, enum eh_json_kind *kind);

/* Validate and skip one value of any kind; *span (may be NULL) receives
 * its bytes. Recursion is bounded by max_depth. */
bool eh_json_skip(struct eh_json_cur *c, struct eh_json_view *span);

/* Objects: eh_json_obj_begin() consumes '{'. Then, for i = 0, 1, ...:
 * eh_json_obj_next(c, i, &key) returns 1 with the key read and ':'
 * consumed (the caller must then read or skip the value), 0 when '}' was
 * consumed, -1 on a syntax error. Arrays likewise, without keys. */
bool eh_json_obj_begin(struct eh_json_cur *c);
int eh_json_obj_next(struct eh_json_cur *c, unsigned i, struct eh_json_view *key);
bool eh_json_arr_begin(struct eh_json_cur *c);
int eh_json_arr_next(struct eh_json_cur *c, unsigned i);

/* True when only whitespace is left; otherwise records an error. */
bool eh_json_finish(struct eh_json_cur *c);

/* Validate a whole document (exactly one value). */
bool eh_json_validate(const char *buf, size_t len, struct eh_json_cur *c);

/* Decode a string view's escapes into buf (NUL-terminated). Returns the
 * decoded length; *trunc is set when cap was too small. */
size_t eh_json_decode(struct eh_json_view raw, char *buf, size_t cap, bool *trunc);

/* Does the string view decode to exactly lit? Cheap when unescaped. */
bool eh_json_str_eq(struct eh_json_view raw, const char *lit);

/* Number text -> value. EH_ERR_INVAL when not an integer / out of range. */
eh_err eh_json_to_i64(struct eh_json_view text, int64_t *v);
eh_err eh_json_to_double(struct eh_json_view text, double *v);

/* ==== cJSON behind a per-call arena (cold paths only) ====
 * cJSON's allocator hooks are pointed (once, process-wide) at a thread's
 * current arena. Between eh_json_arena_enter() and eh_json_arena_leave()
 * every cJSON allocation on this thread is carved from the caller's buffer
 * and frees are no-ops, so the steady state never touches the heap; leaving
 * drops every tree made inside at once (never cJSON_Delete them). Outside an
 * arena cJSON falls back to the C library allocator. */
struct eh_json_arena {
	unsigned char *buf; /* caller's memory */
	size_t cap;
	size_t used;
	size_t peak;	/* largest `used` seen, for sizing */
	bool exhausted; /* an allocation was refused */
};

void eh_json_arena_init(struct eh_json_arena *a, void *buf, size_t cap);
void eh_json_arena_enter(struct eh_json_arena *a);
void eh_json_arena_leave(struct eh_json_arena *a);

#endif /* EH_JSON_H */
