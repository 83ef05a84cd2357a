/* SPDX-License-Identifier: Apache-2.0 */
/* eh_time.h - the clock seam. Code that schedules takes a struct eh_clock
 * (or a now_ms read once per loop tick) so tests can move time by hand. */
#ifndef EH_TIME_H
#define EH_TIME_H

#include <stdint.h>

struct eh_clock {
	/* Monotonic milliseconds since an arbitrary origin. */
	uint64_t (*mono_ms)(void *ctx);
	/* Wall-clock milliseconds since the Unix epoch. */
	uint64_t (*wall_ms)(void *ctx);
	void *ctx;
};

/* The real clocks (CLOCK_MONOTONIC, CLOCK_REALTIME). */
uint64_t eh_time_mono_ms(void);
uint64_t eh_time_mono_us(void);
uint64_t eh_time_wall_ms(void);

/* A clock over the real clocks; ctx unused. */
extern const struct eh_clock eh_clock_system;

static inline uint64_t eh_clock_mono_ms(const struct eh_clock *c)
{
	return c->mono_ms(c->ctx);
}

static inline uint64_t eh_clock_wall_ms(const struct eh_clock *c)
{
	return c->wall_ms(c->ctx);
}

/* A hand-moved clock for tests: both readings come from the fields. */
struct eh_clock_fake {
	uint64_t mono_ms;
	uint64_t wall_ms;
};
void eh_clock_fake_init(struct eh_clock *c, struct eh_clock_fake *f);

#endif /* EH_TIME_H */
