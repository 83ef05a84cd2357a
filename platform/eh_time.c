/* SPDX-License-Identifier: Apache-2.0 */
/* eh_time.c - real and fake clocks. */
#include "eh_time.h"

#include <time.h>

uint64_t eh_time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t eh_time_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t eh_time_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t sys_mono(void *ctx)
{
	(void)ctx;
	return eh_time_mono_ms();
}

static uint64_t sys_wall(void *ctx)
{
	(void)ctx;
	return eh_time_wall_ms();
}

const struct eh_clock eh_clock_system = {sys_mono, sys_wall, 0};

static uint64_t fake_mono(void *ctx)
{
	return ((struct eh_clock_fake *)ctx)->mono_ms;
}

static uint64_t fake_wall(void *ctx)
{
	return ((struct eh_clock_fake *)ctx)->wall_ms;
}

void eh_clock_fake_init(struct eh_clock *c, struct eh_clock_fake *f)
{
	c->mono_ms = fake_mono;
	c->wall_ms = fake_wall;
	c->ctx = f;
}
