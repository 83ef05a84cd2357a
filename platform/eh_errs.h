/* SPDX-License-Identifier: Apache-2.0 */
/* eh_errs.h - a bounded list of human-readable validation errors, each
 * naming the path of the offending field ("filters.events.camera_in[2]:
 * expected integer"). Used by every validator of outside input; the list
 * is what config-status topics and `check-config` print. */
#ifndef EH_ERRS_H
#define EH_ERRS_H

#include <stddef.h>

#ifndef EH_ERRS_MAX
#define EH_ERRS_MAX 16 /* errors kept; further ones are counted only */
#endif
#ifndef EH_ERRS_LEN
#define EH_ERRS_LEN 160 /* bytes per message, including the path */
#endif

struct eh_errs {
	char msg[EH_ERRS_MAX][EH_ERRS_LEN];
	unsigned n;	  /* messages stored (<= EH_ERRS_MAX) */
	unsigned dropped; /* messages beyond EH_ERRS_MAX */
};

static inline void eh_errs_init(struct eh_errs *e)
{
	e->n = 0;
	e->dropped = 0;
}

static inline unsigned eh_errs_count(const struct eh_errs *e)
{
	return e->n + e->dropped;
}

/* Append "<path>: <message>". path may be NULL or "" (no prefix). */
void eh_errs_add(struct eh_errs *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Build a child path into buf: "<base>.<key>" or "<base>[<index>]".
 * Returns buf. Truncates safely. */
char *eh_path_key(char *buf, size_t cap, const char *base, const char *key);
char *eh_path_idx(char *buf, size_t cap, const char *base, unsigned idx);

#endif /* EH_ERRS_H */
