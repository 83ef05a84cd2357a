/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_explain.c - `edgehookctl explain WEBHOOK.json NOTIFICATION.json`:
 * compile a webhook's filters, parse a notification message, and print for
 * each notification whether it matched and which filter field decided,
 * with the values compared. */
#include "eh_ctl.h"

#include <stdio.h>
#include <string.h>

#include "eh_file.h"
#include "eh_filter.h"
#include "eh_json.h"
#include "eh_note.h"

#define EXPLAIN_MAX_NOTES 64 /* notifications explained from one message */

/* A command-line tool, run once: its buffers are static, not on the stack. */
static char webhook_buf[EH_MAX_MSG_BYTES + 1];
static char message_buf[EH_MAX_MSG_BYTES + 2];
static struct eh_note notes[EXPLAIN_MAX_NOTES];
static char text[8192];

static void usage(FILE *out)
{
	fprintf(out, "usage: edgehookctl explain WEBHOOK.json NOTIFICATION.json "
		     "[--type events|episodes|counters]\n"
		     "  WEBHOOK.json: a webhook object with \"filters\", or a bare filters "
		     "object\n"
		     "  either file may be - (standard input), not both\n"
		     "  exit 0: matched, 1: not matched, 2: bad usage or bad input\n");
}

static void print_errs(const char *what, const struct eh_errs *errs)
{
	for (unsigned i = 0; i < errs->n; i++)
		fprintf(stderr, "%s: %s\n", what, errs->msg[i]);
	if (errs->dropped)
		fprintf(stderr, "%s: ... and %u more errors\n", what, errs->dropped);
}

/* The "filters" value of a webhook object, or the whole text when it is a
 * bare filters object (no "title", "url" or "filters" member). A webhook
 * without "filters" takes everything ("{}"). */
static struct eh_json_view filters_of(const char *buf, size_t len)
{
	struct eh_json_view whole = {buf, len}, key, span, none = {"{}", 2};
	struct eh_json_cur c;
	bool webhook = false, found = false;
	int r;

	eh_json_init(&c, buf, len);
	if (eh_json_peek(&c) != EH_JSON_OBJECT || !eh_json_obj_begin(&c))
		return whole;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &key)) == 1; i++) {
		if (eh_json_str_eq(key, "filters")) {
			if (!eh_json_skip(&c, &span))
				return whole;
			found = webhook = true;
			continue;
		}
		if (eh_json_str_eq(key, "title") || eh_json_str_eq(key, "url"))
			webhook = true;
		if (!eh_json_skip(&c, NULL))
			return whole;
	}
	if (r < 0 || !webhook)
		return whole;
	return found ? span : none;
}

/* The input type of a message: its first element's webhook_type, else its
 * event_type. EH_TYPE_COUNT when neither says. */
static enum eh_note_type type_of(const char *buf, size_t len)
{
	struct eh_json_cur c;
	struct eh_json_view key, v;
	enum eh_note_type from_event = EH_TYPE_COUNT;
	int r;

	eh_json_init(&c, buf, len);
	if (eh_json_peek(&c) == EH_JSON_ARRAY &&
	    (!eh_json_arr_begin(&c) || eh_json_arr_next(&c, 0) != 1))
		return EH_TYPE_COUNT;
	if (eh_json_peek(&c) != EH_JSON_OBJECT || !eh_json_obj_begin(&c))
		return EH_TYPE_COUNT;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &key)) == 1; i++) {
		bool wt = eh_json_str_eq(key, "webhook_type");
		bool et = eh_json_str_eq(key, "event_type");
		if ((wt || et) && eh_json_peek(&c) == EH_JSON_STRING) {
			if (!eh_json_string(&c, &v))
				return EH_TYPE_COUNT;
			for (unsigned t = 0; wt && t < EH_TYPE_COUNT; t++)
				if (eh_json_str_eq(v, eh_type_name(t)))
					return (enum eh_note_type)t;
			if (et)
				from_event = eh_note_event_type_of(eh_note_event_parse(v.p, v.len));
			continue;
		}
		if (!eh_json_skip(&c, NULL))
			return EH_TYPE_COUNT;
	}
	return from_event;
}

int eh_ctl_explain(int argc, char **argv)
{
	const char *paths[2] = {NULL, NULL};
	const char *type_arg = NULL;
	enum eh_note_type type = EH_TYPE_COUNT;
	struct eh_filter f;
	struct eh_errs errs;
	size_t wlen, mlen, n;
	int npos = 0, matched = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
			type_arg = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EH_CTL_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "explain: unknown option %s\n", argv[i]);
			usage(stderr);
			return EH_CTL_EXIT_USAGE;
		} else if (npos < 2) {
			paths[npos++] = argv[i];
		} else {
			usage(stderr);
			return EH_CTL_EXIT_USAGE;
		}
	}
	if (npos != 2) {
		usage(stderr);
		return EH_CTL_EXIT_USAGE;
	}
	if (strcmp(paths[0], "-") == 0 && strcmp(paths[1], "-") == 0) {
		fprintf(stderr, "explain: only one file can be - (standard input)\n");
		return EH_CTL_EXIT_USAGE;
	}
	if (type_arg != NULL) {
		for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
			if (strcmp(type_arg, eh_type_name(t)) == 0)
				type = (enum eh_note_type)t;
		if (type == EH_TYPE_COUNT) {
			fprintf(stderr,
				"explain: --type: \"%s\" is not events, episodes or counters\n",
				type_arg);
			return EH_CTL_EXIT_USAGE;
		}
	}
	if (eh_ctl_read(paths[0], webhook_buf, sizeof(webhook_buf), &wlen) != EH_OK) {
		fprintf(stderr, "%s: cannot read (or over %zu bytes)\n", paths[0],
			sizeof(webhook_buf) - 1);
		return EH_CTL_EXIT_USAGE;
	}
	if (eh_ctl_read(paths[1], message_buf, sizeof(message_buf), &mlen) != EH_OK) {
		fprintf(stderr, "%s: cannot read\n", paths[1]);
		return EH_CTL_EXIT_USAGE;
	}

	struct eh_json_view fv = filters_of(webhook_buf, wlen);
	eh_errs_init(&errs);
	if (eh_filter_compile(fv.p, fv.len, &f, &errs) != EH_OK) {
		print_errs(paths[0], &errs);
		return EH_CTL_EXIT_USAGE;
	}
	if (type == EH_TYPE_COUNT)
		type = type_of(message_buf, mlen);
	if (type == EH_TYPE_COUNT) {
		fprintf(stderr,
			"%s: no webhook_type or known event_type to tell its input; "
			"use --type\n",
			paths[1]);
		return EH_CTL_EXIT_USAGE;
	}
	eh_errs_init(&errs);
	if (eh_note_parse_message(message_buf, mlen, type, notes, EXPLAIN_MAX_NOTES, &n, &errs) !=
	    EH_OK) {
		print_errs(paths[1], &errs);
		return EH_CTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		matched += eh_filter_match(&f, &notes[i]);
		size_t need = eh_filter_explain(&f, &notes[i], text, sizeof(text));
		fputs(text, stdout);
		if (need >= sizeof(text))
			fputs("  ...\n", stdout);
	}
	if (n == 0)
		printf("not matched: the message holds no notification\n");
	return matched > 0 ? EH_CTL_EXIT_OK : EH_CTL_EXIT_NO;
}
