/* SPDX-License-Identifier: Apache-2.0 */
/* eh_ctl.h - the subcommands of edgehookctl. Each takes the subcommand's
 * argv (argv[0] is the subcommand name) and returns the process exit code.
 * Every command adds its prototype here. */
#ifndef EH_CTL_H
#define EH_CTL_H

/* explain WEBHOOK.json NOTIFICATION.json [--type events|episodes|counters]:
 * print, for each notification of the message, whether the webhook's
 * filters match it and which field decided, with the values compared.
 * Exit 0 when at least one notification matched, 1 when none did, 2 on bad
 * usage or bad input (errors with their paths on stderr). */
int eh_ctl_explain(int argc, char **argv);

/* queue stat FILE | queue dump FILE: inspect a queue file read-only (no
 * lock, so it works beside a running daemon; figures are then a snapshot).
 * stat prints capacity, fill, per-cursor lag, drops and damage found; dump
 * prints every record (seq, type, mask, length, payload preview), the
 * cursors and the damage. Exit 0, 1 when the file cannot be read as a
 * queue, 2 on bad usage. */
int eh_ctl_queue(int argc, char **argv);

/* sign --key-file K --topic T FILE: print the lowercase hex
 * HMAC-SHA256(key, topic + "\0" + FILE's bytes), the "hmac-sha256" user
 * property signed mode wants. Exit 0, 2 on bad usage or unreadable files. */
int eh_ctl_sign(int argc, char **argv);

#endif /* EH_CTL_H */
