/* SPDX-License-Identifier: Apache-2.0 */
/* eh_signal.c - signal handlers that set flags and wake the loop. */
#define _GNU_SOURCE
#include "eh_signal.h"

#include <signal.h>
#include <string.h>

static struct eh_loop *sig_loop;
static volatile sig_atomic_t sig_stop;
static volatile sig_atomic_t sig_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_hup = 1;
	else
		sig_stop = sig;
	if (sig_loop)
		eh_loop_wake(sig_loop);
}

eh_err eh_signal_install(struct eh_loop *l)
{
	struct sigaction sa;

	sig_loop = l;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return EH_ERR_IO;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return EH_OK;
}

int eh_signal_stop_requested(void)
{
	return sig_stop;
}

int eh_signal_take_hup(void)
{
	int h = sig_hup;
	sig_hup = 0;
	return h;
}
