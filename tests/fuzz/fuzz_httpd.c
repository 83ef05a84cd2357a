/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_httpd.c - the listener's routing, bearer token check and error body on hostile
 * strings. The input is split at NUL bytes into method, path, Authorization value and
 * diagnostic, each copied into a heap buffer of exactly its size so ASan sees any read
 * past its end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-separated piece of the input as its own NUL-terminated heap string. */
static char *piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1); /* test harness only: exact-size copy */

	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = z ? z + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t tok[] = "0123456789abcdef";
	const uint8_t *p = data, *end = data + size;
	char *method = piece(&p, end), *path = piece(&p, end), *auth = piece(&p, end);
	char *diag = piece(&p, end);
	struct eh_httpd_route r;
	char body[96];
	size_t n;

	eh_httpd_route(method, path, &r);
	if (r.target == EH_HTTPD_INGEST && (r.type < EH_HTTPD_TYPE_AUTO || r.type > 2))
		abort();
	if (r.target == EH_HTTPD_BAD_METHOD && r.allow == NULL)
		abort();
	if (eh_httpd_token_ok(auth, tok, sizeof(tok) - 1) &&
	    strcmp(auth + strlen(auth) - (sizeof(tok) - 1), (const char *)tok) != 0)
		abort(); /* accepted without ending in the token */
	n = eh_httpd_error_body(diag, body, sizeof(body));
	if (n >= sizeof(body) || body[n] != '\0' || strcmp(body + n - 2, "\"}") != 0)
		abort();
	free(method);
	free(path);
	free(auth);
	free(diag);
	return 0;
}
