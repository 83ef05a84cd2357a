/* SPDX-License-Identifier: Apache-2.0 */
/* eh_signal.h - SIGTERM/SIGINT ask the loop to stop, SIGHUP asks for a
 * reopen/reload, SIGPIPE is ignored. Handlers only set flags and wake the
 * loop (async-signal-safe). */
#ifndef EH_SIGNAL_H
#define EH_SIGNAL_H

#include "eh_loop.h"

/* Install the handlers; l is woken on each signal. */
eh_err eh_signal_install(struct eh_loop *l);
/* The last stop signal seen (0 if none), and whether a HUP arrived since
 * the last call (clears it). */
int eh_signal_stop_requested(void);
int eh_signal_take_hup(void);

#endif /* EH_SIGNAL_H */
