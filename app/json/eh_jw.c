/* SPDX-License-Identifier: Apache-2.0 */
/* eh_jw.c - the JSON string escaper and the bounded writer built on it. */
#include "eh_jw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ==== Escaping ==== */

size_t eh_jw_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	/* One pass, one byte at a time: the common byte is a compare and a store; the length
	 * keeps counting past cap so the caller learns the size needed. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char ch = *p;
		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			if (n < cap)
				out[n] = (char)ch;
			n++;
		} else if (ch >= 0x20) {
			if (cap >= 2 && n <= cap - 2) {
				out[n] = '\\';
				out[n + 1] = (char)ch;
			}
			n += 2;
		} else {
			if (cap >= 6 && n <= cap - 6) {
				memcpy(out + n, "\\u00", 4);
				out[n + 4] = hex[ch >> 4];
				out[n + 5] = hex[ch & 15];
			}
			n += 6;
		}
	}
	return n;
}

/* ==== Writer ==== */

void eh_jw_init(struct eh_jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = cap == 0;
	w->need_comma = false;
	if (cap > 0)
		buf[0] = '\0';
}

static void jw_put(struct eh_jw *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n + 1 > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void eh_jw_raw(struct eh_jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_value_prefix(struct eh_jw *w)
{
	if (w->need_comma)
		jw_put(w, ",", 1);
	w->need_comma = true;
}

static void jw_string(struct eh_jw *w, const char *s)
{
	jw_put(w, "\"", 1);
	if (!w->overflow) {
		size_t room = w->cap - w->len - 1; /* the NUL always fits after a put */
		size_t n = eh_jw_escape(s, w->buf + w->len, room);
		if (n > room) {
			w->overflow = true;
			return;
		}
		w->len += n;
		w->buf[w->len] = '\0';
	}
	jw_put(w, "\"", 1);
}

void eh_jw_key(struct eh_jw *w, const char *key)
{
	jw_value_prefix(w);
	jw_string(w, key);
	jw_put(w, ":", 1);
	w->need_comma = false;
}

void eh_jw_str(struct eh_jw *w, const char *s)
{
	jw_value_prefix(w);
	jw_string(w, s);
}

void eh_jw_u64(struct eh_jw *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	jw_value_prefix(w);
	jw_put(w, num, (size_t)n);
}

void eh_jw_bool(struct eh_jw *w, bool v)
{
	jw_value_prefix(w);
	eh_jw_raw(w, v ? "true" : "false");
}

void eh_jw_null(struct eh_jw *w)
{
	jw_value_prefix(w);
	eh_jw_raw(w, "null");
}

void eh_jw_open(struct eh_jw *w, char c)
{
	jw_value_prefix(w);
	jw_put(w, &c, 1);
	w->need_comma = false;
}

void eh_jw_close(struct eh_jw *w, char c)
{
	jw_put(w, &c, 1);
	w->need_comma = true;
}

size_t eh_jw_end(struct eh_jw *w)
{
	if (w->overflow) {
		if (w->cap > 0)
			w->buf[0] = '\0';
		return 0;
	}
	return w->len;
}
