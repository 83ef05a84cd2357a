/* SPDX-License-Identifier: Apache-2.0 */
/* eh_jw.h - writing JSON: the one string escaper (RFC 8259) and a small writer over a
 * caller buffer, for the documents the daemon produces (P/status, webhook states,
 * config-status answers). The batch renderer uses the escaper alone. Nothing allocates. */
#ifndef EH_JW_H
#define EH_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s (NUL-terminated) as JSON string content, without the quotes: '"' and '\\' get a
 * backslash, bytes below 0x20 become \u00xx (lowercase hex), every other byte is copied
 * (UTF-8 passes through). Writes into out[0..cap) while whole escapes fit, never past
 * cap, and does not NUL-terminate. Returns the length the whole escaped text needs: when
 * it is <= cap, all of it was written. out may be NULL when cap is 0 (a measurement). */
size_t eh_jw_escape(const char *s, char *out, size_t cap);

/* The writer: overflow is sticky and reported by eh_jw_end (0). The text stays
 * NUL-terminated as it grows. */
struct eh_jw {
	/* internal */
	char *buf;
	size_t cap;
	size_t len;	 /* bytes written, without the NUL */
	bool overflow;	 /* something did not fit: the document is lost */
	bool need_comma; /* a value was written at this level */
};

/* Start a document in buf[0..cap); cannot fail (cap 0 is an overflow at once). */
void eh_jw_init(struct eh_jw *w, char *buf, size_t cap);
/* Append s as it is (no comma, no escaping). */
void eh_jw_raw(struct eh_jw *w, const char *s);
/* An object key, with the comma before it when needed, and the ':'. */
void eh_jw_key(struct eh_jw *w, const char *key);
/* Values: a comma before each but the first of a level. */
void eh_jw_str(struct eh_jw *w, const char *s); /* escaped with eh_jw_escape */
void eh_jw_u64(struct eh_jw *w, uint64_t v);
void eh_jw_bool(struct eh_jw *w, bool v);
void eh_jw_null(struct eh_jw *w);
void eh_jw_open(struct eh_jw *w, char c);  /* '{' or '[' */
void eh_jw_close(struct eh_jw *w, char c); /* '}' or ']' */
/* The document's length, or 0 after an overflow (buf then holds ""). */
size_t eh_jw_end(struct eh_jw *w);

#endif /* EH_JW_H */
