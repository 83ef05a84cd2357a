/* SPDX-License-Identifier: Apache-2.0 */
/* eh_ctl.h - the subcommands of edgehookctl. Each takes the subcommand's
 * argv (argv[0] is the subcommand name) and returns the process exit code.
 * Every command adds its prototype here. */
#ifndef EH_CTL_H
#define EH_CTL_H

#include <stddef.h>
#include <string.h>

#include "eh_err.h"
#include "eh_file.h"

/* The exit codes of every subcommand (the usage text and edgehookctl(1)
 * list them too). */
#define EH_CTL_EXIT_OK 0	  /* done, or a positive answer */
#define EH_CTL_EXIT_NO 1	  /* a refusal or a negative answer: invalid, not matched */
#define EH_CTL_EXIT_USAGE 2	  /* bad usage, or a file that cannot be read or used */
#define EH_CTL_EXIT_UNREACHABLE 3 /* the broker or the daemon cannot be reached */

/* Read a whole document into buf (at most cap-1 bytes, NUL-terminated);
 * path "-" is standard input. Returns what eh_file_read_all returns. */
static inline eh_err eh_ctl_read(const char *path, char *buf, size_t cap, size_t *len)
{
	if (strcmp(path, "-") == 0)
		return eh_file_read_stdin(buf, cap, len);
	return eh_file_read_all(path, buf, cap, len);
}

/* Whether argv (after the subcommand name) asks for help: "--help" or
 * "-h" anywhere. */
static inline int eh_ctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/* check-config [TYPE] FILE, TYPE bootstrap, webhook or gateway: validate a
 * document as the daemon would and print every problem with its path.
 * Without TYPE the document's top-level keys must name exactly one type.
 * FILE "-" is standard input. Exit 0 valid, 1 invalid, 2 bad usage, an
 * unreadable file, or no TYPE and no way to tell it. --help: usage, 0. */
int eh_ctl_check_config(int argc, char **argv);

/* explain WEBHOOK.json NOTIFICATION.json [--type events|episodes|counters]:
 * print, for each notification of the message, whether the webhook's
 * filters match it and which field decided, with the values compared.
 * Either file may be "-" (standard input), not both. Exit 0 when at least
 * one notification matched, 1 when none did, 2 on bad usage or bad input
 * (errors with their paths on stderr). --help: usage, exit 0. */
int eh_ctl_explain(int argc, char **argv);

/* queue stat FILE | queue dump FILE: inspect a queue file read-only (no
 * lock, so it works beside a running daemon; figures are then a snapshot).
 * stat prints capacity, fill, per-cursor lag, drops and damage found; dump
 * prints every record (seq, type, mask, length, payload preview), the
 * cursors and the damage. A queue is a device-like file read at offsets, so
 * "-" is not accepted. Exit 0, 2 on bad usage or when the file cannot be
 * read as a queue. --help: usage, exit 0. */
int eh_ctl_queue(int argc, char **argv);

/* sign --key-file K --topic T FILE: print the lowercase hex
 * HMAC-SHA256(key, topic + "\0" + FILE's bytes), the "hmac-sha256" user
 * property signed mode wants. FILE "-" is standard input. Exit 0, 2 on bad
 * usage or unreadable files. --help: usage, exit 0. */
int eh_ctl_sign(int argc, char **argv);

/* The commands that talk to a running daemon through the broker named in
 * bootfile (CONTRACT 9.6): status, webhook list|get|set|rm, tail. argv[0]
 * is the command; --timeout S and, for tail, --count N anywhere after it.
 * Exit 0 done, 1 refused by the daemon or no such webhook, 2 bad usage or
 * a bad file (the bootstrap included), 3 broker unreachable or no answer
 * in time. --help: usage, exit 0. */
int eh_ctl_mqtt(const char *bootfile, int argc, char **argv);

#endif /* EH_CTL_H */
