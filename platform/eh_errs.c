/* SPDX-License-Identifier: Apache-2.0 */
/* eh_errs.c - bounded validation error lists and field paths. */
#include "eh_errs.h"

#include <stdarg.h>
#include <stdio.h>

void eh_errs_add(struct eh_errs *e, const char *path, const char *fmt, ...)
{
	va_list ap;
	int w = 0;

	if (e->n >= EH_ERRS_MAX) {
		e->dropped++;
		return;
	}
	char *m = e->msg[e->n++];
	if (path != NULL && path[0] != '\0') {
		w = snprintf(m, EH_ERRS_LEN, "%s: ", path);
		if (w < 0 || w >= EH_ERRS_LEN)
			return;
	}
	va_start(ap, fmt);
	vsnprintf(m + w, (size_t)(EH_ERRS_LEN - w), fmt, ap);
	va_end(ap);
}

char *eh_path_key(char *buf, size_t cap, const char *base, const char *key)
{
	if (base == NULL || base[0] == '\0')
		snprintf(buf, cap, "%s", key);
	else
		snprintf(buf, cap, "%s.%s", base, key);
	return buf;
}

char *eh_path_idx(char *buf, size_t cap, const char *base, unsigned idx)
{
	snprintf(buf, cap, "%s[%u]", base ? base : "", idx);
	return buf;
}
