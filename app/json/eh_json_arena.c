/* SPDX-License-Identifier: Apache-2.0 */
/* eh_json_arena.c - cJSON's allocator hooks pointed at a caller-owned
 * arena, so parsing a config or filter tree allocates nothing from the
 * heap. This file and the tests are the only users of cJSON's hooks. */
#include "eh_json.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>

static _Thread_local struct eh_json_arena *arena_now; /* per thread: set while inside */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t n)
{
	struct eh_json_arena *a = arena_now;
	const size_t align = 16; /* max_align_t on both targets */

	if (a == NULL)
		return malloc(n); /* outside an arena: the library allocates */
	size_t off = (a->used + align - 1) & ~(align - 1);
	if (off > a->cap || n > a->cap - off) {
		a->exhausted = true;
		return NULL;
	}
	a->used = off + n;
	if (a->used > a->peak)
		a->peak = a->used;
	return a->buf + off;
}

static void arena_free(void *p)
{
	struct eh_json_arena *a = arena_now;

	if (p == NULL)
		return;
	if (a != NULL && (unsigned char *)p >= a->buf && (unsigned char *)p < a->buf + a->cap)
		return; /* released when the arena is left */
	free(p);
}

static void install_hooks(void)
{
	cJSON_Hooks h = {.malloc_fn = arena_malloc, .free_fn = arena_free};
	cJSON_InitHooks(&h);
}

void eh_json_arena_init(struct eh_json_arena *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->used = 0;
	a->peak = 0;
	a->exhausted = false;
}

void eh_json_arena_enter(struct eh_json_arena *a)
{
	pthread_once(&hooks_once, install_hooks);
	a->used = 0;
	a->exhausted = false;
	arena_now = a;
}

void eh_json_arena_leave(struct eh_json_arena *a)
{
	if (arena_now == a)
		arena_now = NULL;
	a->used = 0;
}
