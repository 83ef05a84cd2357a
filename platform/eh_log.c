/* SPDX-License-Identifier: Apache-2.0 */
/* eh_log.c - the stderr log sink. One write(2) per line so lines from a
 * crashing process are never interleaved half-way. */
#include "eh_log.h"
#include "eh_assert.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

int eh_log_level_now = EH_LOG_LEVEL_INF;
static int log_timestamps;
static int log_prio_prefix; /* "<N>" sd-daemon prefix: under journald */
static eh_log_sink log_sink;
static void *log_sink_arg;

/* The seed's level words, padded to 9 columns as FindFace prints them. */
static const char *const level_word[] = {"ERROR    ", "WARNING  ", "INFO     ", "DEBUG    "};
static const char *const level_name[] = {"error", "warning", "info", "debug"};
/* sd-daemon priorities: err=3, warning=4, info=6, debug=7. */
static const char level_prio[] = {'3', '4', '6', '7'};

int eh_log_level_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_name[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return EH_LOG_LEVEL_WRN;
	return -1;
}

const char *eh_log_level_name(int level)
{
	if (level < 0 || level > 3)
		return "?";
	return level_name[level];
}

void eh_log_set_level(int level)
{
	if (level >= 0 && level <= 3)
		eh_log_level_now = level;
}

void eh_log_set_timestamps(int on)
{
	log_timestamps = on;
}

void eh_log_set_prio_prefix(int on)
{
	log_prio_prefix = on;
}

void eh_log_set_sink(eh_log_sink sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void eh_log_vemit(int level, const char *module, const char *fmt, va_list ap)
{
	char line[512]; /* a log line; longer messages are cut, never split */
	size_t n = 0;
	int w;

	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	if (log_sink == NULL && log_prio_prefix) {
		line[n++] = '<';
		line[n++] = level_prio[level];
		line[n++] = '>';
	}
	if (log_timestamps) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n += strftime(line + n, sizeof(line) - n, "%Y-%m-%dT%H:%M:%S", &tm);
		w = snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
		n += (w > 0) ? (size_t)w : 0;
	}
	w = snprintf(line + n, sizeof(line) - n, "%s[%s] ", level_word[level], module);
	if (w > 0)
		n += (size_t)w;
	if (n < sizeof(line)) {
		w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (w > 0)
			n += (size_t)w;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated */
	/* One line: control characters from payload-derived text are blanked. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (log_sink != NULL) {
		line[n] = '\0';
		log_sink(level, line, log_sink_arg);
		return;
	}
	line[n++] = '\n';
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r; /* nothing sensible to do when stderr is gone */
}

void eh_log_emit(int level, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	eh_log_vemit(level, module, fmt, ap);
	va_end(ap);
}

void eh_assert_fail(const char *expr, const char *file, int line)
{
	eh_log_emit(EH_LOG_LEVEL_ERR, "assert", "%s:%d: %s", file, line, expr);
	abort();
}
