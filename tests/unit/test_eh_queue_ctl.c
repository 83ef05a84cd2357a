/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue_ctl.c - `edgehookctl queue stat|dump FILE` on a real queue
 * file: the figures an operator reads (fill, per-cursor lag, drops, damage)
 * match what was done to the queue, and damage is reported. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eh_ctl.h"
#include "eh_flash.h"
#include "eh_log.h"
#include "eh_hash.h"
#include "eh_queue.h"

static struct eh_queue q;
static char path[128], out[128];
static char text[1 << 20];

static int run_ctl(const char *sub)
{
	char *argv[] = {"queue", (char *)sub, path, NULL};
	int rc;
	fflush(stdout);
	FILE *saved = stdout;
	FILE *f = fopen(out, "w");
	if (f == NULL)
		return -1;
	stdout = f;
	rc = eh_ctl_queue(3, argv);
	fflush(f);
	stdout = saved;
	fclose(f);
	f = fopen(out, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return rc;
}

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

EH_TEST(stat_and_dump_report_fill_lag_drops_and_damage)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.uid = 0xabc};
	uint64_t seq;
	eh_log_set_sink(quiet, NULL);
	snprintf(path, sizeof(path), "/tmp/eh_queue_ctl_%ld.ring", (long)getpid());
	snprintf(out, sizeof(out), "/tmp/eh_queue_ctl_%ld.out", (long)getpid());
	unlink(path);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1 << 20, 64 * 1024, 512, 0) == EH_OK);
	c.flash = &f;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	for (int i = 0; i < 5; i++)
		REQUIRE(eh_queue_append(&q, 0, 0x9, "{\"id\":\"camera-7\"}", 17, &seq) == EH_OK);
	REQUIRE(eh_queue_append(&q, 2, 0x8, "{\"counter\":1}", 13, &seq) == EH_OK);
	REQUIRE(eh_queue_ack(&q, 0, 0, 3) == EH_OK);
	eh_queue_close(&q);
	eh_flash_close(&f);

	CHECK_EQ(run_ctl("stat"), 0);
	CHECK(strstr(text, "uid 0000000000000abc") != NULL);
	CHECK(strstr(text, "6 valid records") != NULL);
	CHECK(strstr(text, "slot 0: events 3 lag 2;") != NULL);
	CHECK(strstr(text, "slot 3: events 0 lag 5; counters 0 lag 1;") != NULL);
	CHECK(strstr(text, "damage: 0 records failed") != NULL);
	CHECK(strstr(text, "last stop clean") != NULL);

	CHECK_EQ(run_ctl("dump"), 0);
	CHECK(strstr(text, "seq 1 seg 0 type events mask 0x9 len 17  {\"id\":\"camera-7\"}") !=
	      NULL);
	CHECK(strstr(text, "type counters mask 0x8 len 13") != NULL);

	/* damage one payload byte: reported, and the record is not listed */
	FILE *fp = fopen(path, "r+b");
	REQUIRE(fp != NULL);
	static char img[1 << 20];
	REQUIRE(fread(img, 1, sizeof(img), fp) == sizeof(img));
	char *hit = NULL;
	for (size_t i = 0; i + 9 < sizeof(img) && hit == NULL; i++)
		if (memcmp(img + i, "{\"counter", 9) == 0)
			hit = img + i;
	REQUIRE(hit != NULL);
	fseek(fp, (long)(hit - img) + 3, SEEK_SET);
	fputc('X', fp);
	fclose(fp);
	CHECK_EQ(run_ctl("dump"), 0);
	CHECK(strstr(text, "counters") == NULL || strstr(text, "type counters") == NULL);
	CHECK(strstr(text, "damage: 1 records failed their CRC") != NULL);

	char *bad[] = {"queue", "frob", path, NULL};
	CHECK_EQ(eh_ctl_queue(3, bad), 2);
	char *missing[] = {"queue", "stat", "/nonexistent/q.ring", NULL};
	CHECK_EQ(eh_ctl_queue(3, missing), 2);
	eh_log_set_sink(NULL, NULL);
	unlink(path);
	unlink(out);
}

EH_TEST(a_file_opens_with_the_geometry_it_was_formatted_with)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.uid = 0x9};
	uint64_t seq;
	size_t n = 0;
	static uint8_t pbuf[4096];
	struct eh_queue_rec r[4];
	snprintf(path, sizeof(path), "/tmp/eh_queue_geo_%ld.ring", (long)getpid());
	unlink(path);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1 << 20, 64 * 1024, 4096, 0) == EH_OK);
	c.flash = &f;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	REQUIRE(eh_queue_append(&q, 0, 1, "geo", 3, &seq) == EH_OK);
	eh_queue_close(&q);
	eh_flash_close(&f);
	/* reopened with defaults (another block size, another unit) */
	REQUIRE(eh_flash_file_open(&f, &st, path, 0, 0, 0, 0) == EH_OK);
	CHECK(f.block_size != 64u * 1024u);
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	CHECK_EQ(f.block_size, 64u * 1024u);
	CHECK_EQ(f.prog_unit, 4096u);
	CHECK(eh_queue_peek(&q, 0, 0, r, 4, 4096, pbuf, sizeof(pbuf), &n) == EH_OK);
	CHECK(n == 1 && r[0].seq == seq && memcmp(r[0].payload, "geo", 3) == 0);
	eh_queue_close(&q);
	eh_flash_close(&f);
	unlink(path);
}

EH_TEST(stat_of_a_file_with_a_wrapping_record_length_prints_sane_figures)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.uid = 0x77};
	static uint8_t img[1 << 20];
	uint8_t salt_in[8] = {0x77, 0, 0, 0, 0, 0, 0, 0};
	uint32_t salt = eh_crc32c(0, salt_in, 8) | 1u;
	uint8_t *hit = NULL;
	eh_log_set_sink(quiet, NULL);
	snprintf(path, sizeof(path), "/tmp/eh_queue_wrap_%ld.ring", (long)getpid());
	snprintf(out, sizeof(out), "/tmp/eh_queue_wrap_%ld.out", (long)getpid());
	unlink(path);
	REQUIRE(eh_flash_file_open(&f, &st, path, 1 << 20, 64 * 1024, 512, 0) == EH_OK);
	c.flash = &f;
	REQUIRE(eh_queue_open(&q, &c) == EH_OK);
	for (int i = 0; i < 4; i++)
		REQUIRE(eh_queue_append(&q, 0, 0x1, "{\"id\":\"camera-7\"}", 17, NULL) == EH_OK);
	eh_queue_close(&q);
	eh_flash_close(&f);

	/* seq 2's length set to 0xFFFFFFF8 with its header CRC sealed again */
	FILE *fp = fopen(path, "r+b");
	REQUIRE(fp != NULL);
	REQUIRE(fread(img, 1, sizeof(img), fp) == sizeof(img));
	for (size_t o = 64 * 1024; o + 40 <= sizeof(img) && hit == NULL; o += 8)
		if (img[o] == 0x45 && img[o + 1] == 0x51 && img[o + 2] == 1 && img[o + 8] == 2 &&
		    img[o + 4] == 17)
			hit = img + o;
	REQUIRE(hit != NULL);
	hit[4] = 0xf8;
	hit[5] = hit[6] = hit[7] = 0xff;
	uint32_t crc = eh_crc32c(salt, hit, 36);
	for (int i = 0; i < 4; i++)
		hit[36 + i] = (uint8_t)(crc >> (8 * i));
	fseek(fp, (long)(hit - img), SEEK_SET);
	REQUIRE(fwrite(hit, 1, 40, fp) == 40);
	fclose(fp);

	CHECK_EQ(run_ctl("stat"), 0);
	CHECK(strstr(text, "4294967288") == NULL);
	CHECK(strstr(text, "(17 payload bytes)") != NULL); /* seq 1; 2..4 share its unit */
	CHECK(strstr(text, "damage: 1 records failed") != NULL);
	CHECK_EQ(run_ctl("dump"), 0);
	CHECK(strstr(text, "len 4294967288") == NULL);
	eh_log_set_sink(NULL, NULL);
	unlink(path);
	unlink(out);
}
