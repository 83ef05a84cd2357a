/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_http.c - the HTTP response parser, framing rules, chunked decoder
 * and Retry-After reader on hostile bytes. The input is copied into a heap
 * buffer of exactly its size so ASan sees any read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eh_https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_http_response r;
	struct eh_http_chunked c;
	enum eh_http_framing f;
	size_t used = 0, off;
	uint64_t len = 0, d = 0, delay = 0;
	int ka = 0;
	char *buf = malloc(size ? size : 1); /* test harness only: exact-size copy */

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (eh_http_parse_response(buf, size, &r, &used) == EH_OK) {
		if (used > size)
			abort();
		for (size_t i = 0; i < r.nheaders; i++)
			if (r.headers[i].name < buf ||
			    r.headers[i].value + r.headers[i].value_len > buf + size)
				abort();
		(void)eh_http_framing(&r, &f, &len, &ka);
		const char *v;
		size_t vl;
		if (eh_http_header_find(&r, "retry-after", &v, &vl))
			(void)eh_http_retry_after(v, vl, 1700000000, &delay);
		memset(&c, 0, sizeof(c));
		/* the rest as a chunked body, fed in uneven pieces */
		off = used;
		while (off < size) {
			size_t piece = 1 + (size_t)(buf[off] & 7), u = 0;
			if (piece > size - off)
				piece = size - off;
			eh_err rc = eh_http_chunked_feed(&c, buf + off, piece, &u, &d);
			if (u > piece)
				abort();
			if (rc != EH_ERR_AGAIN)
				break;
			off += u;
		}
	}
	(void)eh_http_retry_after(buf, size, 1700000000, &delay);
	free(buf);
	return 0;
}
