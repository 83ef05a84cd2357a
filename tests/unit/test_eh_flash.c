/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_flash.c - the block devices under the queue: the preallocated
 * file (size, zero fill, lock, geometry checks) and the power-cut emulator
 * (what each crash mode leaves on the device). */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eh_flash.h"
#include "eh_flash_emu.h"

static void tmp_path(char *p, size_t n, const char *tag)
{
	snprintf(p, n, "/tmp/eh_flash_%s_%ld.ring", tag, (long)getpid());
	unlink(p);
}

EH_TEST(file_is_created_full_size_zeroed_and_locked)
{
	char path[128];
	struct eh_flash f, f2;
	struct eh_flash_file st, st2;
	uint8_t buf[1024];
	tmp_path(path, sizeof(path), "create");
	REQUIRE(eh_flash_file_open(&f, &st, path, 1 << 20, 0, 0, 0) == EH_OK);
	CHECK_EQ(f.block_size, 256u * 1024u);
	CHECK_EQ(f.block_count, 4u);
	CHECK_EQ(eh_flash_file_default_block(16u << 20), 512u * 1024u);
	CHECK_EQ(eh_flash_file_default_block(64u << 20), 1024u * 1024u);
	CHECK_EQ(eh_flash_file_default_block(1u << 30), 4096u * 1024u);
	CHECK_EQ(f.prog_unit, 512u);
	CHECK(eh_flash_read(&f, 1000, buf, sizeof(buf)) == EH_OK);
	for (size_t i = 0; i < sizeof(buf); i++)
		REQUIRE(buf[i] == 0);
	/* a second opener (another daemon) is refused */
	CHECK(eh_flash_file_open(&f2, &st2, path, 1 << 20, 0, 0, 0) == EH_ERR_BUSY);
	memset(buf, 0xab, 512);
	CHECK(eh_flash_prog(&f, 512, buf, 512) == EH_OK);
	CHECK(eh_flash_sync(&f) == EH_OK);
	CHECK_EQ(f.bytes_prog, 512u);
	CHECK_EQ(f.syncs, 1u);
	eh_flash_close(&f);
	/* reopened: size kept, data kept, lock free again */
	REQUIRE(eh_flash_file_open(&f2, &st2, path, 0, 0, 0, 0) == EH_OK);
	CHECK_EQ(f2.block_count, 4u);
	CHECK(eh_flash_read(&f2, 512, buf, 4) == EH_OK);
	CHECK_EQ(buf[3], 0xab);
	eh_flash_close(&f2);
	unlink(path);
}

EH_TEST(file_with_a_size_not_a_multiple_of_the_block_is_refused)
{
	char path[128];
	struct eh_flash f;
	struct eh_flash_file st;
	FILE *fp;
	tmp_path(path, sizeof(path), "odd");
	fp = fopen(path, "wb");
	REQUIRE(fp != NULL);
	fputs("not a queue", fp);
	fclose(fp);
	CHECK(eh_flash_file_open(&f, &st, path, 0, 65536, 0, 0) == EH_ERR_CORRUPT);
	CHECK(eh_flash_file_open(&f, &st, "/nonexistent/dir/q", 0, 0, 0, 0) != EH_OK);
	unlink(path);
}

#define ESZ (4 * 4096)
static uint8_t dur[ESZ], cur[ESZ], logbuf[ESZ * 2];
static struct eh_flash_emu_op ops[64];

static void emu_setup(struct eh_flash *f, struct eh_flash_emu *e)
{
	memset(e, 0, sizeof(*e));
	memset(dur, 0, sizeof(dur));
	e->durable = dur;
	e->current = cur;
	e->size = ESZ;
	e->log = logbuf;
	e->log_cap = sizeof(logbuf);
	e->ops = ops;
	e->ops_cap = 64;
	eh_flash_emu_init(f, e, 4096, 4, 512);
}

EH_TEST(emu_keeps_synced_writes_and_loses_unsynced_ones_by_mode)
{
	struct eh_flash f;
	struct eh_flash_emu e;
	uint8_t a[512], b[1024], r[1024];
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	for (int mode = 0; mode < EH_FLASH_EMU_MODES; mode++) {
		emu_setup(&f, &e);
		CHECK(eh_flash_prog(&f, 0, a, 512) == EH_OK);
		CHECK(eh_flash_sync(&f) == EH_OK);
		CHECK(eh_flash_prog(&f, 512, b, 1024) == EH_OK);
		CHECK(eh_flash_read(&f, 512, r, 1024) == EH_OK);
		CHECK_EQ(r[1000], 2); /* reads see unsynced writes */
		eh_flash_emu_powerloss(&e, (enum eh_flash_emu_mode)mode, 7);
		CHECK(eh_flash_read(&f, 0, r, 512) == EH_OK);
		CHECK_EQ(r[511], 1); /* synced: always there */
		CHECK(eh_flash_read(&f, 512, r, 1024) == EH_OK);
		if (mode == EH_FLASH_EMU_ATOMIC)
			CHECK(r[0] == 2 && r[1023] == 2);
		if (mode == EH_FLASH_EMU_DROP)
			CHECK(r[0] == 0 && r[1023] == 0);
		if (mode == EH_FLASH_EMU_TORN) {
			int changed = 0;
			for (int i = 0; i < 1024; i++)
				changed += r[i] != 2;
			CHECK(changed > 0); /* something of the last write is torn */
		}
	}
}

EH_TEST(emu_cut_stops_every_later_operation)
{
	struct eh_flash f;
	struct eh_flash_emu e;
	uint8_t a[512] = {9};
	emu_setup(&f, &e);
	eh_flash_emu_cut_after(&e, 2);
	CHECK(eh_flash_prog(&f, 0, a, 512) == EH_OK);
	CHECK(eh_flash_sync(&f) == EH_ERR_IO); /* the cut lands on the sync */
	CHECK(eh_flash_prog(&f, 512, a, 512) == EH_ERR_IO);
	eh_flash_emu_powerloss(&e, EH_FLASH_EMU_DROP, 1);
	CHECK(eh_flash_read(&f, 0, a, 512) == EH_OK);
	CHECK_EQ(a[0], 0); /* the unsynced write before the cut is gone */
	CHECK(eh_flash_prog(&f, 0, a, 512) == EH_OK); /* power is back */
}
