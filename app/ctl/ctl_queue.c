/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_queue.c - `edgehookctl queue stat|dump FILE`: mounts a queue file
 * read-only and reports its fill, cursors, drops and the damage found
 * while reading every record. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "eh_ctl.h"
#include "eh_flash.h"
#include "eh_queue.h"
#include "eh_types.h"

static struct eh_queue ctl_q;		  /* large: static, not on the stack */
static uint8_t ctl_buf[EH_MAX_MSG_BYTES]; /* one payload */

struct walk_ctx {
	int dump;
	uint64_t records, bytes;
	uint64_t masks[EH_QUEUE_TYPES]; /* slots seen per type */
};

static int walk_one(void *arg, const struct eh_queue_rec *r, uint32_t seg)
{
	struct walk_ctx *w = arg;
	w->records++;
	w->bytes += r->len;
	w->masks[r->type] |= r->mask;
	if (w->dump) {
		char prev[61];
		uint32_t n = r->len < 60 ? r->len : 60;
		for (uint32_t i = 0; i < n; i++)
			prev[i] = (r->payload[i] >= 0x20 && r->payload[i] < 0x7f)
				      ? (char)r->payload[i]
				      : '.';
		prev[n] = 0;
		printf("seq %" PRIu64 " seg %u type %s mask 0x%" PRIx64 " len %u  %s%s\n", r->seq,
		       seg, eh_type_name(r->type), r->mask, r->len, prev, r->len > 60 ? "..." : "");
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: edgehookctl queue stat FILE | queue dump FILE\n"
		     "  FILE: the queue file (queue.path of the bootstrap file), read-only;\n"
		     "        works beside a running daemon (figures are a snapshot)\n"
		     "  exit 0: read, 2: bad usage or not a readable queue\n");
}

int eh_ctl_queue(int argc, char **argv)
{
	struct eh_flash f;
	struct eh_flash_file fs;
	struct eh_queue_config cfg;
	struct eh_queue_stats st;
	struct walk_ctx w;
	eh_err rc;
	int dump;

	if (eh_ctl_wants_help(argc, argv)) {
		usage(stdout);
		return EH_CTL_EXIT_OK;
	}
	if (argc != 3) {
		usage(stderr);
		return EH_CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "stat") == 0) {
		dump = 0;
	} else if (strcmp(argv[1], "dump") == 0) {
		dump = 1;
	} else {
		usage(stderr);
		return EH_CTL_EXIT_USAGE;
	}
	if ((rc = eh_flash_file_open(&f, &fs, argv[2], 0, 0, 0, 1)) != EH_OK) {
		fprintf(stderr, "%s: cannot open: %s\n", argv[2], eh_err_str(rc));
		return EH_CTL_EXIT_USAGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.flash = &f;
	cfg.read_only = true;
	if ((rc = eh_queue_open(&ctl_q, &cfg)) != EH_OK) {
		fprintf(stderr, "%s: not a usable queue: %s\n", argv[2],
			rc == EH_ERR_NOENT ? "blank (never formatted)" : eh_err_str(rc));
		eh_flash_close(&f);
		return EH_CTL_EXIT_USAGE;
	}
	memset(&w, 0, sizeof(w));
	w.dump = dump;
	rc = eh_queue_walk(&ctl_q, walk_one, &w, ctl_buf, sizeof(ctl_buf));
	eh_queue_stats(&ctl_q, &st);
	printf("file %s uid %016" PRIx64 "\n", argv[2], eh_queue_uid(&ctl_q));
	printf("geometry %u segments x %u bytes, capacity %" PRIu64 " bytes\n", st.segments,
	       st.segment_bytes, st.capacity_bytes);
	printf("fill %" PRIu64 " bytes in live segments (%.1f%%), %" PRIu64
	       " valid records (%" PRIu64 " payload bytes), seq %" PRIu64 "..%" PRIu64 "\n",
	       st.used_bytes,
	       st.capacity_bytes ? 100.0 * (double)st.used_bytes / (double)st.capacity_bytes : 0.0,
	       w.records, w.bytes, st.tail_seq, st.head_seq);
	printf("cursors (slot type: consumed-up-to lag), drops per slot:\n");
	for (unsigned s = 0; s < EH_QUEUE_SLOTS; s++) {
		int shown = 0;
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
			uint64_t c = eh_queue_cursor(&ctl_q, s, t);
			if (c == 0 && !(w.masks[t] & ((uint64_t)1 << s)))
				continue;
			if (!shown)
				printf("  slot %u:", s);
			shown = 1;
			printf(" %s %" PRIu64 " lag %" PRIu64 ";", eh_type_name(t), c,
			       eh_queue_lag(&ctl_q, s, t));
		}
		if (shown || st.drops[s] != 0)
			printf("%s drops %" PRIu64 "\n", shown ? "" : "  slot", st.drops[s]);
	}
	eh_queue_stats(&ctl_q, &st);
	printf("damage: %" PRIu64 " records failed their CRC, %" PRIu64
	       " damaged segment headers, %" PRIu64 " records lost to gaps, last stop %s\n",
	       st.corrupt_skipped, st.bad_headers, st.lost_detected,
	       st.unclean_mounts ? "unclean" : "clean");
	if (rc != EH_OK)
		fprintf(stderr, "%s: read error: %s\n", argv[2], eh_err_str(rc));
	eh_queue_close(&ctl_q);
	eh_flash_close(&f);
	return rc == EH_OK ? EH_CTL_EXIT_OK : EH_CTL_EXIT_USAGE;
}
