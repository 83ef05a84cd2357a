/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config_priv.h - shared between the config module's files: the JSON
 * readers that name their path in every error, the URL parser, and the
 * webhook validator. Not for use outside app/config. */
#ifndef EH_CONFIG_PRIV_H
#define EH_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eh_config.h"
#include "eh_json.h"

#define CFG_KEY_SHOWN 64 /* bytes of an unknown key quoted in an error */

/* What every signed message carries at its top level. */
struct cfg_meta {
	bool has_version;
	uint64_t version;
	bool deleted;	/* "deleted": true */
	unsigned nkeys; /* top-level members */
};

/* A key as it may appear in an error path: printable ASCII, cut. */
void cfg_key_text(struct eh_json_view key, char *out, size_t cap);

/* Readers: consume one value; on a wrong type or range add
 * "<path>: <what>" to errs and return false (the value is still consumed,
 * so a walk can go on and collect every error). */
bool cfg_read_int(struct eh_json_cur *c, struct eh_errs *errs, const char *path, int64_t lo,
		  int64_t hi, int64_t *out);
bool cfg_read_bool(struct eh_json_cur *c, struct eh_errs *errs, const char *path, bool *out);
/* A string decoded into buf (NUL-terminated); longer than cap-1 bytes or
 * holding a NUL is an error. */
bool cfg_read_str(struct eh_json_cur *c, struct eh_errs *errs, const char *path, char *buf,
		  size_t cap, size_t *len);

/* Check the document is valid JSON and one object; errors under "payload". */
bool cfg_begin_object(struct eh_json_cur *c, const char *json, size_t len, struct eh_errs *errs);

/* The top-level "version" and "deleted" of an object (already validated). */
void cfg_scan_meta(const char *json, size_t len, struct cfg_meta *m, struct eh_errs *errs);

/* Parse an absolute http(s) URL (CONTRACT section 4). Errors under path. */
bool cfg_parse_url(const char *text, size_t len, bool allow_plain_http, const char *path,
		   struct eh_url *out, struct eh_errs *errs);

/* Validate a webhook JSON object into w and f (never half-filled into the
 * caller's live table: pass temporaries). signed_mode allows "deleted". */
eh_err cfg_parse_webhook(const char *json, size_t len, bool allow_plain_http, bool signed_mode,
			 struct eh_webhook *w, struct eh_filter *f, struct eh_errs *errs);

#endif /* EH_CONFIG_PRIV_H */
