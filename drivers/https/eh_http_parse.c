/* SPDX-License-Identifier: Apache-2.0 */
/* eh_http_parse.c - the HTTP/1.1 response parser, chunked decoder and
 * Retry-After reader. Nothing here allocates or writes to the input: results
 * are views into the caller's buffer and counts in out-parameters. Every
 * loop is bounded by the input length; this file is the fuzz target. */
#include "eh_https.h"

#include <string.h>

/* ==== Character classes ==== */

static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value and reason characters: visible, blank, or obs-text. */
static int is_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* ==== Status line and headers ==== */

/* Consume a line ending at buf[*i]: CRLF or a bare LF. 1 done, 0 more input
 * needed, -1 malformed. */
static int eat_eol(const char *buf, size_t len, size_t *i)
{
	if (*i >= len)
		return 0;
	if (buf[*i] == '\n') {
		*i += 1;
		return 1;
	}
	if (buf[*i] != '\r')
		return -1;
	if (*i + 1 >= len)
		return 0;
	if (buf[*i + 1] != '\n')
		return -1;
	*i += 2;
	return 1;
}

eh_err eh_http_parse_response(const char *buf, size_t len, struct eh_http_response *r,
			      size_t *consumed)
{
	static const char proto[] = "HTTP/1.";
	size_t i, start, end;
	int e;

	EH_ASSERT(buf != NULL || len == 0);
	EH_ASSERT(r != NULL && consumed != NULL);
	r->nheaders = 0;
	r->reason = NULL;
	r->reason_len = 0;
	/* "HTTP/1.x " */
	for (i = 0; i < 7; i++) {
		if (i >= len)
			return EH_ERR_AGAIN;
		if (buf[i] != proto[i])
			return EH_ERR_PROTO;
	}
	if (i >= len)
		return EH_ERR_AGAIN;
	if (buf[i] != '0' && buf[i] != '1')
		return EH_ERR_PROTO;
	r->minor_version = buf[i++] - '0';
	if (i >= len)
		return EH_ERR_AGAIN;
	if (buf[i++] != ' ')
		return EH_ERR_PROTO;
	/* three-digit status */
	r->status = 0;
	for (int d = 0; d < 3; d++, i++) {
		if (i >= len)
			return EH_ERR_AGAIN;
		if (buf[i] < '0' || buf[i] > '9')
			return EH_ERR_PROTO;
		r->status = r->status * 10 + (buf[i] - '0');
	}
	if (r->status < 100)
		return EH_ERR_PROTO;
	if (i >= len)
		return EH_ERR_AGAIN;
	if (buf[i] == ' ') {
		i++;
		start = i;
		while (i < len && buf[i] != '\r' && buf[i] != '\n') {
			if (!is_vchar((unsigned char)buf[i]))
				return EH_ERR_PROTO;
			i++;
		}
		r->reason = buf + start;
		r->reason_len = i - start;
	} else if (buf[i] != '\r' && buf[i] != '\n') {
		return EH_ERR_PROTO;
	}
	e = eat_eol(buf, len, &i);
	if (e <= 0)
		return e == 0 ? EH_ERR_AGAIN : EH_ERR_PROTO;
	/* header fields up to the empty line */
	for (;;) {
		struct eh_http_header h;

		if (i >= len)
			return EH_ERR_AGAIN;
		if (buf[i] == '\r' || buf[i] == '\n') {
			e = eat_eol(buf, len, &i);
			if (e <= 0)
				return e == 0 ? EH_ERR_AGAIN : EH_ERR_PROTO;
			*consumed = i;
			return EH_OK;
		}
		start = i;
		while (i < len && is_tchar((unsigned char)buf[i]))
			i++;
		if (i >= len)
			return EH_ERR_AGAIN;
		if (buf[i] != ':' || i == start)
			return EH_ERR_PROTO; /* also rejects obs-fold (leading blank) */
		h.name = buf + start;
		h.name_len = i - start;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		start = i;
		while (i < len && buf[i] != '\r' && buf[i] != '\n') {
			if (!is_vchar((unsigned char)buf[i]))
				return EH_ERR_PROTO;
			i++;
		}
		if (i >= len)
			return EH_ERR_AGAIN;
		end = i;
		while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
			end--;
		h.value = buf + start;
		h.value_len = end - start;
		e = eat_eol(buf, len, &i);
		if (e <= 0)
			return e == 0 ? EH_ERR_AGAIN : EH_ERR_PROTO;
		if (r->nheaders >= EH_HTTP_MAX_HEADERS)
			return EH_ERR_TOOBIG;
		r->headers[r->nheaders++] = h;
	}
}

int eh_http_header_find(const struct eh_http_response *r, const char *name, const char **value,
			size_t *value_len)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		if (ieq(r->headers[i].name, r->headers[i].name_len, name)) {
			*value = r->headers[i].value;
			*value_len = r->headers[i].value_len;
			return 1;
		}
	}
	return 0;
}

/* 1 when the comma-separated list v holds token tok (case-insensitive). */
static int list_has(const char *v, size_t len, const char *tok)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && ieq(v + s, e - s, tok))
			return 1;
	}
	return 0;
}

/* The last element of a comma-separated list equals tok. */
static int list_last_is(const char *v, size_t len, const char *tok)
{
	size_t e = len, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',' && v[s - 1] != ' ' && v[s - 1] != '\t')
		s--;
	return e > s && ieq(v + s, e - s, tok);
}

eh_err eh_http_framing(const struct eh_http_response *r, enum eh_http_framing *f, uint64_t *length,
		       int *keep_alive)
{
	int have_len = 0, have_te = 0, chunked = 0;
	uint64_t cl = 0;

	*length = 0;
	*keep_alive = r->minor_version == 1;
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct eh_http_header *h = &r->headers[i];

		if (ieq(h->name, h->name_len, "connection")) {
			if (list_has(h->value, h->value_len, "close"))
				*keep_alive = 0;
		} else if (ieq(h->name, h->name_len, "transfer-encoding")) {
			have_te = 1;
			chunked = list_last_is(h->value, h->value_len, "chunked");
		} else if (ieq(h->name, h->name_len, "content-length")) {
			uint64_t v = 0;

			if (h->value_len == 0 || h->value_len > 18)
				return EH_ERR_PROTO;
			for (size_t k = 0; k < h->value_len; k++) {
				if (h->value[k] < '0' || h->value[k] > '9')
					return EH_ERR_PROTO;
				v = v * 10 + (uint64_t)(h->value[k] - '0');
			}
			if (have_len && v != cl)
				return EH_ERR_PROTO; /* conflicting lengths: smuggling */
			cl = v;
			have_len = 1;
		}
	}
	if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304) {
		*f = EH_HTTP_FRAME_NONE;
		return EH_OK;
	}
	if (have_te) {
		if (!chunked)
			return EH_ERR_PROTO; /* we ask for no codings */
		*f = EH_HTTP_FRAME_CHUNKED;
		if (have_len)
			*keep_alive = 0; /* RFC 9112 6.3: both present, close afterwards */
		return EH_OK;
	}
	if (have_len) {
		*f = EH_HTTP_FRAME_LENGTH;
		*length = cl;
		return EH_OK;
	}
	*f = EH_HTTP_FRAME_CLOSE;
	*keep_alive = 0;
	return EH_OK;
}

/* ==== Chunked transfer coding ==== */

enum {
	CH_SIZE = 0, /* hex digits of a chunk size */
	CH_EXT,	     /* rest of the size line (extensions), up to LF */
	CH_DATA,     /* chunk data */
	CH_DATA_CR,  /* CR (or LF) after data */
	CH_DATA_LF,  /* LF after data */
	CH_TRAILER0, /* start of a trailer line or the final empty line */
	CH_TRAILER,  /* inside a trailer line */
	CH_FINAL_LF, /* LF of the final empty line */
	CH_DONE,
};

#define CH_LINE_MAX 4096 /* bound on a size-line extension or a trailer line */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

eh_err eh_http_chunked_feed(struct eh_http_chunked *c, const char *buf, size_t len, size_t *used,
			    uint64_t *data)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)buf[i];
		int hv;

		switch (c->state) {
		case CH_SIZE:
			hv = hexval(ch);
			if (hv >= 0) {
				if (++c->digits > 15)
					return EH_ERR_PROTO; /* over 2^60 bytes */
				c->remaining = c->remaining * 16 + (uint64_t)hv;
				i++;
				break;
			}
			if (c->digits == 0)
				return EH_ERR_PROTO;
			c->state = CH_EXT;
			c->line_len = 0;
			break;
		case CH_EXT:
			i++;
			if (ch == '\n') {
				c->digits = 0;
				c->state = c->remaining == 0 ? CH_TRAILER0 : CH_DATA;
				break;
			}
			if ((ch < 0x20 && ch != '\t' && ch != '\r') || ++c->line_len > CH_LINE_MAX)
				return EH_ERR_PROTO;
			break;
		case CH_DATA: {
			size_t take = len - i;

			if ((uint64_t)take > c->remaining)
				take = (size_t)c->remaining;
			c->remaining -= take;
			*data += take;
			i += take;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			i++;
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				return EH_ERR_PROTO;
			break;
		case CH_DATA_LF:
			i++;
			if (ch != '\n')
				return EH_ERR_PROTO;
			c->state = CH_SIZE;
			break;
		case CH_TRAILER0:
			i++;
			c->line_len = 1;
			if (ch == '\r')
				c->state = CH_FINAL_LF;
			else if (ch == '\n')
				c->state = CH_DONE;
			else
				c->state = CH_TRAILER;
			break;
		case CH_TRAILER:
			i++;
			if (ch == '\n')
				c->state = CH_TRAILER0;
			else if (++c->line_len > CH_LINE_MAX)
				return EH_ERR_PROTO;
			break;
		case CH_FINAL_LF:
			i++;
			if (ch != '\n')
				return EH_ERR_PROTO;
			c->state = CH_DONE;
			break;
		default:
			break;
		}
		if (c->state == CH_DONE) {
			*used = i;
			return EH_OK;
		}
	}
	*used = i;
	return c->state == CH_DONE ? EH_OK : EH_ERR_AGAIN;
}

/* ==== Retry-After ==== */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse, restated). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 1;
}

eh_err eh_http_retry_after(const char *v, size_t len, uint64_t now_wall_s, uint64_t *delay_s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	unsigned day, year, hh, mm, ss, mon = 0;
	int64_t t;

	while (len > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len > 0 && len <= 9 && num(v, len, &day)) {
		*delay_s = day;
		return EH_OK;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes) */
	if (len != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' ||
	    v[16] != ' ' || v[19] != ':' || v[22] != ':' || v[25] != ' ' ||
	    memcmp(v + 26, "GMT", 3) != 0)
		return EH_ERR_INVAL;
	for (unsigned k = 0; k < 12; k++)
		if (memcmp(v + 8, months + 3 * k, 3) == 0)
			mon = k + 1;
	if (mon == 0 || !num(v + 5, 2, &day) || !num(v + 12, 4, &year) || !num(v + 17, 2, &hh) ||
	    !num(v + 20, 2, &mm) || !num(v + 23, 2, &ss))
		return EH_ERR_INVAL;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return EH_ERR_INVAL;
	t = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	*delay_s = (t > (int64_t)now_wall_s) ? (uint64_t)(t - (int64_t)now_wall_s) : 0;
	return EH_OK;
}
