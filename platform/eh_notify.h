/* SPDX-License-Identifier: Apache-2.0 */
/* eh_notify.h - the sd_notify protocol (READY=1, WATCHDOG=1, STOPPING=1,
 * STATUS=...) over $NOTIFY_SOCKET, without libsystemd. A no-op when the
 * variable is unset. */
#ifndef EH_NOTIFY_H
#define EH_NOTIFY_H

#include <stdint.h>

#include "eh_err.h"

/* Send one datagram with state (e.g. "READY=1\nSTATUS=running").
 * EH_OK also when not under systemd. */
eh_err eh_notify(const char *state);

/* The watchdog period systemd asked for, halved (the recommended ping
 * interval), in ms; 0 when no watchdog is set ($WATCHDOG_USEC). */
uint64_t eh_notify_watchdog_ms(void);

#endif /* EH_NOTIFY_H */
