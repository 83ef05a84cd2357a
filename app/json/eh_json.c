/* SPDX-License-Identifier: Apache-2.0 */
/* eh_json.c - the validating pull scanner: every byte of the input is
 * looked at once; nothing is copied or allocated. */
#include "eh_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ==== Basics ==== */

void eh_json_init(struct eh_json_cur *c, const char *buf, size_t len)
{
	c->p = buf;
	c->end = buf + len;
	c->base = buf;
	c->depth = 0;
	c->max_depth = EH_JSON_MAX_DEPTH;
	c->why = NULL;
	c->why_at = 0;
}

bool eh_json_fail(struct eh_json_cur *c, const char *why)
{
	if (c->why == NULL) {
		c->why = why;
		c->why_at = (size_t)(c->p - c->base);
	}
	c->p = c->end; /* nothing more is read after an error */
	return false;
}

/* ws[b]: b is JSON whitespace. */
static const bool ws[256] = {['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1};

static inline void skip_ws(struct eh_json_cur *c)
{
	const char *p = c->p, *e = c->end;

	if (p < e && !ws[(unsigned char)*p])
		return; /* the common case between tokens of compact input */
	while (p < e && ws[(unsigned char)*p]) {
		p++;
		/* Indentation comes in runs of spaces: eight at a time. */
		while (e - p >= 8 && memcmp(p, "        ", 8) == 0)
			p += 8;
	}
	c->p = p;
}

enum eh_json_kind eh_json_peek(struct eh_json_cur *c)
{
	skip_ws(c);
	if (c->p >= c->end)
		return EH_JSON_BAD;
	switch (*c->p) {
	case '{':
		return EH_JSON_OBJECT;
	case '[':
		return EH_JSON_ARRAY;
	case '"':
		return EH_JSON_STRING;
	case 't':
		return EH_JSON_TRUE;
	case 'f':
		return EH_JSON_FALSE;
	case 'n':
		return EH_JSON_NULL;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return EH_JSON_NUMBER;
	default:
		return EH_JSON_BAD;
	}
}

/* ==== Strings ==== */

/* plain[b]: byte b needs no attention inside a string (printable ASCII
 * other than '"' and '\\'). */
/* clang-format off */
static const bool plain[256] = {
#define R8(x) x, x, x, x, x, x, x, x
	R8(0), R8(0), R8(0), R8(0),                   /* 0x00-0x1f: control */
	1, 1, 0, 1, 1, 1, 1, 1, R8(1), R8(1), R8(1), /* 0x20-0x3f: '"' */
	R8(1), R8(1), R8(1), 1, 1, 1, 1, 0, 1, 1, 1, /* 0x40-0x5f: '\\' */
	R8(1), R8(1), R8(1), R8(1),                   /* 0x60-0x7f */
#undef R8
};
/* clang-format on */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Which of the 8 bytes at p need attention: '"', '\\', a control character
 * or a non-ASCII byte? (SWAR: a matching byte becomes zero after XOR.) The
 * result has the high bit of such bytes set; bytes above the first one may
 * be flagged falsely (borrows), the lowest flag is always exact. */
static inline uint64_t special8(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	uint64_t zq = (q - ONES) & ~q, zb = (b - ONES) & ~b;
	uint64_t lo = (x - ONES * 0x20) & ~x;
	return (zq | zb | lo | x) & HIGHS;
}

/* Index of the first flagged byte of a special8() mask. */
static inline unsigned first_flag(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(m) >> 3;
#else
	return (unsigned)__builtin_clzll(m) >> 3;
#endif
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Length of one valid UTF-8 sequence at p (lead byte >= 0x80), or 0.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, const unsigned char *e)
{
	unsigned char b0 = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (b0 >= 0xC2 && b0 <= 0xDF)
		n = 2;
	else if (b0 >= 0xE0 && b0 <= 0xEF) {
		n = 3;
		if (b0 == 0xE0)
			lo = 0xA0;
		else if (b0 == 0xED)
			hi = 0x9F;
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		n = 4;
		if (b0 == 0xF0)
			lo = 0x90;
		else if (b0 == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(e - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* The string starting at c->p, which is '"'. */
__attribute__((always_inline)) static inline bool string_at(struct eh_json_cur *c,
							    struct eh_json_view *raw)
{
	const unsigned char *p, *e = (const unsigned char *)c->end;

	p = (const unsigned char *)c->p + 1;
	const unsigned char *start = p;
	for (;;) {
		/* The common run: printable ASCII other than '"' and '\\', eight
		 * bytes at a time, then byte by byte up to the special one. */
		while (e - p >= 8) {
			uint64_t m = special8(p);
			if (m != 0) {
				p += first_flag(m);
				goto attention;
			}
			p += 8;
		}
		while (p < e && plain[*p])
			p++;
	attention:
		if (p >= e) {
			c->p = (const char *)p;
			return eh_json_fail(c, "unterminated string");
		}
		if (*p == '"')
			break;
		if (*p < 0x20) {
			c->p = (const char *)p;
			return eh_json_fail(c, "control character in string");
		}
		if (*p == '\\') {
			if (p + 1 >= e) {
				c->p = (const char *)p;
				return eh_json_fail(c, "unterminated string");
			}
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				break;
			case 'u':
				if (e - p < 6 || hexval(p[2]) < 0 || hexval(p[3]) < 0 ||
				    hexval(p[4]) < 0 || hexval(p[5]) < 0) {
					c->p = (const char *)p;
					return eh_json_fail(c, "bad \\u escape");
				}
				p += 6;
				break;
			default:
				c->p = (const char *)p;
				return eh_json_fail(c, "bad escape in string");
			}
			continue;
		}
		size_t n = utf8_len(p, e);
		if (n == 0) {
			c->p = (const char *)p;
			return eh_json_fail(c, "invalid UTF-8 in string");
		}
		p += n;
	}
	if (raw != NULL) {
		raw->p = (const char *)start;
		raw->len = (size_t)(p - start);
	}
	c->p = (const char *)p + 1;
	return true;
}

__attribute__((always_inline)) static inline bool scan_string(struct eh_json_cur *c,
							      struct eh_json_view *raw)
{
	skip_ws(c);
	if (c->p >= c->end || *c->p != '"')
		return eh_json_fail(c, "expected string");
	return string_at(c, raw);
}

bool eh_json_string(struct eh_json_cur *c, struct eh_json_view *raw)
{
	return scan_string(c, raw);
}

/* ==== Numbers and literals ==== */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

__attribute__((always_inline)) static inline bool
scan_number(struct eh_json_cur *c, struct eh_json_view *text, bool *is_int)
{
	const char *p, *e = c->end;
	bool integer = true;

	p = c->p; /* callers are at the number */
	const char *start = p;
	if (p < e && *p == '-')
		p++;
	if (p >= e || !is_digit(*p))
		return eh_json_fail(c, "expected number");
	if (*p == '0')
		p++;
	else
		while (p < e && is_digit(*p))
			p++;
	if (p < e && *p == '.') {
		integer = false;
		p++;
		if (p >= e || !is_digit(*p)) {
			c->p = p;
			return eh_json_fail(c, "bad number: digit expected after '.'");
		}
		while (p < e && is_digit(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !is_digit(*p)) {
			c->p = p;
			return eh_json_fail(c, "bad number: digit expected in exponent");
		}
		while (p < e && is_digit(*p))
			p++;
	}
	if (text != NULL) {
		text->p = start;
		text->len = (size_t)(p - start);
	}
	if (is_int != NULL)
		*is_int = integer;
	c->p = p;
	return true;
}

bool eh_json_number(struct eh_json_cur *c, struct eh_json_view *text, bool *is_int)
{
	skip_ws(c);
	return scan_number(c, text, is_int);
}

static bool take_word(struct eh_json_cur *c, const char *w, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return eh_json_fail(c, "invalid literal");
	c->p += n;
	return true;
}

bool eh_json_literal(struct eh_json_cur *c, enum eh_json_kind *kind)
{
	enum eh_json_kind k = eh_json_peek(c);
	bool ok;

	if (k == EH_JSON_TRUE)
		ok = take_word(c, "true", 4);
	else if (k == EH_JSON_FALSE)
		ok = take_word(c, "false", 5);
	else if (k == EH_JSON_NULL)
		ok = take_word(c, "null", 4);
	else
		return eh_json_fail(c, "expected true, false or null");
	if (ok && kind != NULL)
		*kind = k;
	return ok;
}

/* ==== Containers ==== */

static bool open_container(struct eh_json_cur *c, char ch, const char *what)
{
	skip_ws(c);
	if (c->p >= c->end || *c->p != ch)
		return eh_json_fail(c, what);
	if (c->depth >= c->max_depth)
		return eh_json_fail(c, "nesting too deep");
	c->depth++;
	c->p++;
	return true;
}

bool eh_json_obj_begin(struct eh_json_cur *c)
{
	return open_container(c, '{', "expected object");
}

bool eh_json_arr_begin(struct eh_json_cur *c)
{
	return open_container(c, '[', "expected array");
}

/* Shared by objects and arrays: after element i-1, expect ',' or the
 * closing bracket. Returns 1 (an element follows), 0 (closed), -1. */
static int container_next(struct eh_json_cur *c, unsigned i, char close)
{
	skip_ws(c);
	if (c->p >= c->end) {
		eh_json_fail(c, close == '}' ? "unterminated object" : "unterminated array");
		return -1;
	}
	if (*c->p == close) {
		c->p++;
		c->depth--;
		return 0;
	}
	if (i > 0) {
		if (*c->p != ',') {
			eh_json_fail(c,
				     close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
			return -1;
		}
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == close) {
			eh_json_fail(c, "trailing comma");
			return -1;
		}
	}
	return 1;
}

int eh_json_obj_next(struct eh_json_cur *c, unsigned i, struct eh_json_view *key)
{
	int r = container_next(c, i, '}');

	if (r != 1)
		return r;
	skip_ws(c);
	if (c->p >= c->end || *c->p != '"') {
		eh_json_fail(c, "expected member name");
		return -1;
	}
	if (!string_at(c, key))
		return -1;
	skip_ws(c);
	if (c->p >= c->end || *c->p != ':') {
		eh_json_fail(c, "expected ':'");
		return -1;
	}
	c->p++;
	return 1;
}

int eh_json_arr_next(struct eh_json_cur *c, unsigned i)
{
	return container_next(c, i, ']');
}

/* Skipping is the bulk of the work (most of a notification is members no
 * filter reads), so it is one loop over an explicit stack instead of
 * recursion through the pull calls; it checks exactly the same grammar. */
bool eh_json_skip(struct eh_json_cur *c, struct eh_json_view *span)
{
	uint64_t objs = 0; /* bit d: the container at local depth d is an object */
	unsigned d = 0;	   /* containers opened by this call and still open */
	const char *start;

	skip_ws(c);
	start = c->p;
value:
	skip_ws(c);
	if (c->p >= c->end)
		return eh_json_fail(c, "unexpected end of input");
	switch (*c->p) {
	case '{':
	case '[':
		if (c->depth >= c->max_depth || d >= 64)
			return eh_json_fail(c, "nesting too deep");
		c->depth++;
		objs = (objs & ~(1ull << d)) | ((uint64_t)(*c->p == '{') << d);
		d++;
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == (objs >> (d - 1) & 1 ? '}' : ']')) {
			c->p++;
			c->depth--;
			d--;
			goto after;
		}
		if (objs >> (d - 1) & 1)
			goto key;
		goto value;
	case '"':
		if (!string_at(c, NULL))
			return false;
		goto after;
	case 't':
	case 'f':
	case 'n':
		if (*c->p == 'n'   ? !take_word(c, "null", 4)
		    : *c->p == 't' ? !take_word(c, "true", 4)
				   : !take_word(c, "false", 5))
			return false;
		goto after;
	default:
		if (*c->p == '-' || is_digit(*c->p)) {
			if (!scan_number(c, NULL, NULL))
				return false;
			goto after;
		}
		return eh_json_fail(c, "unexpected character");
	}
key:
	skip_ws(c);
	if (c->p >= c->end || *c->p != '"')
		return eh_json_fail(c, c->p >= c->end ? "unterminated object"
						      : "expected member name");
	if (!string_at(c, NULL))
		return false;
	skip_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return eh_json_fail(c, "expected ':'");
	c->p++;
	goto value;
after:
	if (d == 0) {
		if (span != NULL) {
			span->p = start;
			span->len = (size_t)(c->p - start);
		}
		return true;
	}
	skip_ws(c);
	{
		bool obj = objs >> (d - 1) & 1;
		if (c->p >= c->end)
			return eh_json_fail(c, obj ? "unterminated object" : "unterminated array");
		if (*c->p == ',') {
			c->p++;
			skip_ws(c);
			if (c->p < c->end && (*c->p == '}' || *c->p == ']'))
				return eh_json_fail(c, "trailing comma");
			if (obj)
				goto key;
			goto value;
		}
		if (*c->p == (obj ? '}' : ']')) {
			c->p++;
			c->depth--;
			d--;
			goto after;
		}
		return eh_json_fail(c, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

bool eh_json_finish(struct eh_json_cur *c)
{
	if (c->why != NULL)
		return false;
	skip_ws(c);
	if (c->p != c->end)
		return eh_json_fail(c, "unexpected data after the value");
	return true;
}

bool eh_json_validate(const char *buf, size_t len, struct eh_json_cur *c)
{
	eh_json_init(c, buf, len);
	return eh_json_skip(c, NULL) && eh_json_finish(c);
}

/* ==== Decoding ==== */

static void put_byte(char *buf, size_t cap, size_t *n, bool *trunc, unsigned ch)
{
	if (*n + 1 < cap)
		buf[*n] = (char)ch;
	else
		*trunc = true;
	(*n)++;
}

size_t eh_json_decode(struct eh_json_view raw, char *buf, size_t cap, bool *trunc)
{
	size_t n = 0;
	bool t = false;

	for (size_t i = 0; i < raw.len; i++) {
		unsigned char ch = (unsigned char)raw.p[i];
		if (ch != '\\' || i + 1 >= raw.len) {
			put_byte(buf, cap, &n, &t, ch);
			continue;
		}
		char esc = raw.p[++i];
		unsigned cp;
		switch (esc) {
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (i + 4 >= raw.len) {
				cp = 0xFFFD;
				i = raw.len;
				break;
			}
			cp = (unsigned)(hexval((unsigned char)raw.p[i + 1]) << 12 |
					hexval((unsigned char)raw.p[i + 2]) << 8 |
					hexval((unsigned char)raw.p[i + 3]) << 4 |
					hexval((unsigned char)raw.p[i + 4]));
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < raw.len &&
			    raw.p[i + 1] == '\\' && raw.p[i + 2] == 'u') {
				unsigned lo = (unsigned)(hexval((unsigned char)raw.p[i + 3]) << 12 |
							 hexval((unsigned char)raw.p[i + 4]) << 8 |
							 hexval((unsigned char)raw.p[i + 5]) << 4 |
							 hexval((unsigned char)raw.p[i + 6]));
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 6;
				}
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD; /* a lone surrogate */
			break;
		default:
			cp = (unsigned char)esc;
			break;
		}
		if (cp < 0x80) {
			put_byte(buf, cap, &n, &t, cp);
		} else if (cp < 0x800) {
			put_byte(buf, cap, &n, &t, 0xC0 | (cp >> 6));
			put_byte(buf, cap, &n, &t, 0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			put_byte(buf, cap, &n, &t, 0xE0 | (cp >> 12));
			put_byte(buf, cap, &n, &t, 0x80 | ((cp >> 6) & 0x3F));
			put_byte(buf, cap, &n, &t, 0x80 | (cp & 0x3F));
		} else {
			put_byte(buf, cap, &n, &t, 0xF0 | (cp >> 18));
			put_byte(buf, cap, &n, &t, 0x80 | ((cp >> 12) & 0x3F));
			put_byte(buf, cap, &n, &t, 0x80 | ((cp >> 6) & 0x3F));
			put_byte(buf, cap, &n, &t, 0x80 | (cp & 0x3F));
		}
	}
	if (cap > 0)
		buf[n < cap ? n : cap - 1] = '\0';
	if (trunc != NULL)
		*trunc = t;
	return n;
}

bool eh_json_str_eq(struct eh_json_view raw, const char *lit)
{
	size_t n = strlen(lit);
	char tmp[64];
	bool trunc;

	if (memchr(raw.p, '\\', raw.len) == NULL)
		return raw.len == n && memcmp(raw.p, lit, n) == 0;
	if (n >= sizeof(tmp))
		return false;
	size_t m = eh_json_decode(raw, tmp, sizeof(tmp), &trunc);
	return !trunc && m == n && memcmp(tmp, lit, n) == 0;
}

eh_err eh_json_to_i64(struct eh_json_view text, int64_t *v)
{
	size_t i = 0;
	bool neg = false;
	uint64_t acc = 0;

	if (text.len == 0)
		return EH_ERR_INVAL;
	if (text.p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i >= text.len)
		return EH_ERR_INVAL;
	for (; i < text.len; i++) {
		char ch = text.p[i];
		if (!is_digit(ch))
			return EH_ERR_INVAL;
		unsigned d = (unsigned)(ch - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return EH_ERR_INVAL;
		acc = acc * 10 + d;
	}
	if (neg) {
		if (acc > (uint64_t)INT64_MAX + 1)
			return EH_ERR_INVAL;
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	} else {
		if (acc > (uint64_t)INT64_MAX)
			return EH_ERR_INVAL;
		*v = (int64_t)acc;
	}
	return EH_OK;
}

eh_err eh_json_to_double(struct eh_json_view text, double *v)
{
	static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,	 1e6,  1e7,
				       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	char tmp[400];
	char *endp;
	uint64_t m = 0;
	unsigned digits = 0, frac = 0;
	size_t i = text.len > 0 && text.p[0] == '-' ? 1 : 0;
	bool dot = false;

	/* Fast and exact: at most 15 significant digits and no exponent, so the
	 * mantissa and the power of ten are exact doubles and one division
	 * rounds correctly (as strtod would). */
	for (; i < text.len && digits <= 15; i++) {
		char ch = text.p[i];
		if (ch == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!is_digit(ch))
			break;
		m = m * 10 + (uint64_t)(ch - '0');
		digits++;
		frac += dot;
	}
	if (i == text.len && digits > 0 && digits <= 15) {
		double d = (double)m / pow10[frac];
		*v = text.p[0] == '-' ? -d : d;
		return EH_OK;
	}

	if (text.len == 0 || text.len >= sizeof(tmp))
		return EH_ERR_INVAL;
	memcpy(tmp, text.p, text.len);
	tmp[text.len] = '\0';
	double d = strtod(tmp, &endp); /* overflow gives inf, caught below */
	if (endp != tmp + text.len || !isfinite(d))
		return EH_ERR_INVAL;
	*v = d;
	return EH_OK;
}
