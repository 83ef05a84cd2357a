/* SPDX-License-Identifier: Apache-2.0 */
/* eh_httpd_route.c - the part of request handling that is ours, whatever library reads the
 * bytes: which path means what, the bearer token check, and the error body. Pure
 * functions over the caller's strings; no allocation. */
#include "eh_httpd.h"

#include <stdio.h>
#include <string.h>

/* ==== Routing ==== */

/* path[0..n) equals lit, optionally followed by one '/'. */
static bool path_is(const char *path, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n == l + 1 && path[l] == '/')
		n = l;
	return n == l && memcmp(path, lit, l) == 0;
}

void eh_httpd_route(const char *method, const char *path, struct eh_httpd_route *r)
{
	static const char *const types[] = {"/in/events", "/in/episodes", "/in/counters"};
	const char *q;
	size_t n;
	bool post, get;

	EH_ASSERT(r != NULL);
	r->target = EH_HTTPD_NOT_FOUND;
	r->type = EH_HTTPD_TYPE_AUTO;
	r->allow = NULL;
	if (method == NULL || path == NULL)
		return;
	q = strchr(path, '?');
	n = q != NULL ? (size_t)(q - path) : strlen(path);
	post = strcmp(method, "POST") == 0;
	get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (path_is(path, n, "/in")) {
		r->target = EH_HTTPD_INGEST;
	} else {
		for (int t = 0; t < 3; t++)
			if (path_is(path, n, types[t])) {
				r->target = EH_HTTPD_INGEST;
				r->type = t;
			}
	}
	if (r->target == EH_HTTPD_INGEST) {
		if (!post) {
			r->target = EH_HTTPD_BAD_METHOD;
			r->allow = "POST";
		}
		return;
	}
	if (path_is(path, n, "/status"))
		r->target = EH_HTTPD_STATUS;
	else if (path_is(path, n, "/metrics"))
		r->target = EH_HTTPD_METRICS;
	else
		return;
	if (!get) {
		r->target = EH_HTTPD_BAD_METHOD;
		r->allow = "GET, HEAD";
	}
}

/* ==== Bearer token ==== */

bool eh_httpd_token_ok(const char *authorization, const uint8_t *token, size_t len)
{
	static const char scheme[] = "bearer";
	const char *p = authorization;
	unsigned char diff = 0;
	size_t got;

	if (len == 0)
		return true;
	if (p == NULL)
		return false;
	for (size_t i = 0; i < sizeof(scheme) - 1; i++, p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != scheme[i])
			return false;
	}
	if (*p != ' ')
		return false;
	while (*p == ' ')
		p++;
	got = strlen(p);
	/* Every byte of the expected token is read whatever the input, so the time depends
	 * only on len; a shorter input is compared against its own bytes, padded by 0. */
	for (size_t i = 0; i < len; i++) {
		unsigned char g = i < got ? (unsigned char)p[i] : 0;
		diff |= (unsigned char)(g ^ token[i]);
	}
	return (diff == 0) & (got == len);
}

/* ==== Answers ==== */

size_t eh_httpd_error_body(const char *diag, char *buf, size_t cap)
{
	static const char head[] = "{\"error\": \"", tail[] = "\"}";
	static const char hex[] = "0123456789abcdef";
	size_t n = sizeof(head) - 1;

	EH_ASSERT(buf != NULL && cap >= 16);
	memcpy(buf, head, n);
	for (const char *s = diag ? diag : ""; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t k;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			k = 2;
		} else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		} else {
			esc[0] = (char)c;
			k = 1;
		}
		if (n + k + sizeof(tail) > cap)
			break; /* cut: the answer stays valid JSON */
		memcpy(buf + n, esc, k);
		n += k;
	}
	memcpy(buf + n, tail, sizeof(tail)); /* with the NUL */
	return n + sizeof(tail) - 1;
}
