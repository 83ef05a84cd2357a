/* SPDX-License-Identifier: Apache-2.0 */
/* eh_render.h - one stored notification as it goes into a batch body:
 * with "webhook_type", compact or verbose (ids expanded from the catalog),
 * media paths made absolute with external_address (CONTRACT section 5).
 * The batch body is "[" + rendered notes joined by "," + "]"; delivery
 * composes that. No allocation: one pass, output into the caller's buffer. */
#ifndef EH_RENDER_H
#define EH_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "eh_err.h"
#include "eh_types.h"

enum eh_catalog_kind {
	EH_CAT_CAMERAS,
	EH_CAT_CAMERA_GROUPS,
	EH_CAT_WATCH_LISTS,
	EH_CAT_DOSSIERS,
};

/* The catalog as the renderer reads it. lookup returns the stored entity's
 * JSON text (one object, already validated by whoever stored it) and its
 * length, or NULL when unknown (the id then stays an id). The text must stay
 * valid for the duration of the eh_render_note() call. */
struct eh_catalog_view {
	const char *(*lookup)(void *ctx, enum eh_catalog_kind kind, long long id, size_t *len);
	void *ctx;
};

struct eh_render_opts {
	bool verbose;			       /* expand ids (true) or compact objects */
	const char *external_address;	       /* NULL or "": no URL rewriting */
	const struct eh_catalog_view *catalog; /* NULL: nothing to expand from */
};

/* Render one notification (raw[0..len): the element's bytes as stored, an
 * object that eh_note_parse_message() accepted) of the given type into
 * out[0..cap). Top-level "camera", "cameras" (cameras), "camera_group",
 * "camera_groups" (camera groups), "matched_lists" (watch lists) and
 * "matched_dossier" (dossiers) are expanded from the catalog (verbose) or
 * reduced to their ids (compact); nested events and "counter" stay as
 * received. "face", "frame", "fullframe" and "thumbnail" strings that start
 * with '/' get external_address in front, at any depth. "webhook_type" is
 * spliced in after '{' when absent. When nothing but that splice is needed
 * the bytes are copied as received.
 * Returns EH_OK with *out_len set; EH_ERR_NOSPC when cap is too small
 * (*out_len then holds the size needed); EH_ERR_PROTO when raw is not a
 * valid object; EH_ERR_INVAL for a bad type. out is not NUL-terminated. */
eh_err eh_render_note(enum eh_note_type type, const char *raw, size_t len,
		      const struct eh_render_opts *o, char *out, size_t cap, size_t *out_len);

#endif /* EH_RENDER_H */
