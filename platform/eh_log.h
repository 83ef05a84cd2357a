/* SPDX-License-Identifier: Apache-2.0 */
/* eh_log.h - one line per message on stderr, with an sd-daemon "<N>" prefix
 * so journald keeps the level, then the seed's level word ("INFO     ").
 * The level is checked before anything is formatted; arguments of the
 * macros must have no side effects. No allocation; long lines are cut. */
#ifndef EH_LOG_H
#define EH_LOG_H

#include <stdarg.h>

enum eh_log_level {
	EH_LOG_LEVEL_ERR = 0,
	EH_LOG_LEVEL_WRN = 1,
	EH_LOG_LEVEL_INF = 2,
	EH_LOG_LEVEL_DBG = 3,
};

/* Compile-time floor: messages above it are compiled out. */
#ifndef EH_LOG_LEVEL
#define EH_LOG_LEVEL EH_LOG_LEVEL_DBG
#endif

/* The runtime level; messages above it are not formatted. */
extern int eh_log_level_now;

/* "error"|"warning"|"info"|"debug" (also "warn") -> level; -1 if unknown. */
int eh_log_level_parse(const char *name);
const char *eh_log_level_name(int level);
void eh_log_set_level(int level);

/* Prefix lines with a wall-clock timestamp (off under journald, which adds
 * its own; on when stderr is a terminal). */
void eh_log_set_timestamps(int on);

/* Prefix lines with sd-daemon "<N>" priorities (on under journald). */
void eh_log_set_prio_prefix(int on);

/* Redirect output (tests). NULL sink restores stderr. The sink receives
 * one complete line without the trailing newline. */
typedef void (*eh_log_sink)(int level, const char *line, void *arg);
void eh_log_set_sink(eh_log_sink sink, void *arg);

/* Emit one line: "<N>LEVEL    [module] message". */
void eh_log_emit(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void eh_log_vemit(int level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define EH_LOG_(lvl, mod, ...)                                                                     \
	do {                                                                                       \
		if ((lvl) <= EH_LOG_LEVEL && (lvl) <= eh_log_level_now)                            \
			eh_log_emit((lvl), (mod), __VA_ARGS__);                                    \
	} while (0)

/* mod is a string literal naming the module: "queue", "WebhooksManager:2". */
#define EH_LOG_ERR(mod, ...) EH_LOG_(EH_LOG_LEVEL_ERR, mod, __VA_ARGS__)
#define EH_LOG_WRN(mod, ...) EH_LOG_(EH_LOG_LEVEL_WRN, mod, __VA_ARGS__)
#define EH_LOG_INF(mod, ...) EH_LOG_(EH_LOG_LEVEL_INF, mod, __VA_ARGS__)
#define EH_LOG_DBG(mod, ...) EH_LOG_(EH_LOG_LEVEL_DBG, mod, __VA_ARGS__)

#endif /* EH_LOG_H */
