/* SPDX-License-Identifier: Apache-2.0 */
/* powercut_journal.c - a cut at every storage operation of the queue, with
 * the inbound journal beside it. The daemon's MQTT path in small: each
 * message is journalled (app/journal, a real file), staged in the queue on
 * the emulated device and marked done; every few messages the queue
 * commits and, when the commit returned, the journal is told. The workload
 * is run once to count the device's operations, then once per operation
 * index and crash mode, cut there: the process dies (the journal file keeps
 * what was copied into it, as the page cache does across a kill), the
 * device loses what the mode says, the queue is recovered and the journal
 * replayed. Every message that was journalled must be in the queue or in
 * the journal; nothing else may appear.
 *
 *   powercut_journal [MESSAGES]
 *
 * Exit 0 when no message is missing and none is spurious. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_flash_emu.h"
#include "eh_journal.h"
#include "eh_log.h"
#include "eh_queue.h"

#define BS 16384u
#define BC 8u
#define UNIT 512u
#define SZ (BS * BC)
#define MAXMSG 400
#define COMMIT_EVERY 5

static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 8];
static struct eh_flash_emu_op ops[8192];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static struct eh_journal j;
static uint8_t pbuf[1 << 16], msg[1024];
static struct eh_queue_rec recs[64];
static char path[64];
static uint8_t found[MAXMSG]; /* per message id: 1 queue, 2 journal */
static unsigned journalled, spurious;

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static const struct eh_flash_emu_mem emu_mem =
    EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, UNIT);

static void dev_blank(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
}

static eh_err qopen(void)
{
	struct eh_queue_config c = {
	    .flash = &fl, .full_policy = EH_QUEUE_DROP_OLDEST, .uid = 0x10a1};
	return eh_queue_open(&q, &c);
}

static size_t make(unsigned id)
{
	size_t len = 8 + (id * 37u) % 300u;
	memcpy(msg, &id, 4);
	for (size_t i = 4; i < len; i++)
		msg[i] = (uint8_t)(id * 13u + i);
	return len;
}

static unsigned id_of(const uint8_t *p, size_t len)
{
	unsigned id;
	if (len < 8)
		return MAXMSG;
	memcpy(&id, p, 4);
	if (id >= MAXMSG || make(id) != len || memcmp(p, msg, len) != 0)
		return MAXMSG;
	return id;
}

/* The workload; returns when it ends or the device dies. */
static void workload(unsigned n)
{
	journalled = 0;
	for (unsigned id = 0; id < n; id++) {
		size_t len = make(id);
		uint64_t jseq, seq;
		if (!eh_journal_append(&j, "site/in", NULL, msg, len, &jseq))
			return;
		journalled = id + 1;
		if (eh_queue_append(&q, 0, 1, msg, len, &seq) != EH_OK)
			return;
		eh_journal_done(&j, jseq);
		if ((id + 1) % COMMIT_EVERY == 0) {
			if (eh_queue_commit(&q) != EH_OK)
				return;
			eh_journal_committed(&j);
		}
	}
	if (eh_queue_commit(&q) == EH_OK)
		eh_journal_committed(&j);
}

static bool from_journal(void *ctx, const char *topic, const uint8_t *p, size_t len,
			 const char *hmac)
{
	(void)ctx;
	(void)topic;
	(void)hmac;
	unsigned id = id_of(p, len);
	if (id >= MAXMSG)
		spurious++;
	else
		found[id] |= 2;
	return true;
}

static int collect(void)
{
	struct eh_journal_replay r;
	memset(found, 0, sizeof(found));
	if (qopen() != EH_OK)
		return -1;
	for (;;) {
		size_t n = 0;
		if (eh_queue_peek(&q, 0, 0, recs, 64, sizeof(pbuf), pbuf, sizeof(pbuf), &n) !=
		    EH_OK)
			return -1;
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			unsigned id = id_of(recs[i].payload, recs[i].len);
			if (id >= MAXMSG)
				spurious++;
			else
				found[id] |= 1;
		}
		if (eh_queue_ack(&q, 0, 0, recs[n - 1].seq) != EH_OK)
			return -1;
	}
	eh_queue_close(&q);
	if (eh_journal_replay_file(path, 0, UINT64_MAX, from_journal, NULL, &r) != EH_OK)
		return -1;
	return 0;
}

static int start(void)
{
	struct eh_journal_config jc = {path, 0};
	dev_blank();
	unlink(path);
	if (qopen() != EH_OK || eh_journal_open(&j, &jc, 0) != EH_OK)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 60;
	uint64_t total, points = 0, missing = 0, in_journal_only = 0;

	if (n > MAXMSG)
		n = MAXMSG;
	eh_log_set_sink(quiet, NULL);
	snprintf(path, sizeof(path), "/tmp/eh-powercut-journal-%d", (int)getpid());
	if (start() != 0)
		return 2;
	workload(n);
	total = emu.op_count;
	eh_queue_close(&q);
	eh_journal_close(&j);
	for (uint64_t cut = 1; cut <= total; cut++) {
		for (int mode = 0; mode < EH_FLASH_EMU_MODES; mode++) {
			if (start() != 0)
				return 2;
			eh_flash_emu_cut_after(&emu, cut);
			workload(n);
			/* The process dies: the journal file keeps what was copied. */
			eh_journal_close(&j);
			eh_flash_emu_powerloss(&emu, (enum eh_flash_emu_mode)mode, cut * 31u + 7u);
			if (collect() != 0) {
				printf("cut %llu mode %s: recovery failed\n",
				       (unsigned long long)cut,
				       eh_flash_emu_mode_name((enum eh_flash_emu_mode)mode));
				return 1;
			}
			points++;
			for (unsigned id = 0; id < journalled; id++) {
				if (found[id] == 0) {
					missing++;
					printf("cut %llu mode %s: message %u journalled, "
					       "in neither the queue nor the journal\n",
					       (unsigned long long)cut,
					       eh_flash_emu_mode_name((enum eh_flash_emu_mode)mode),
					       id);
				}
				in_journal_only += found[id] == 2;
			}
		}
	}
	unlink(path);
	printf("powercut_journal: %u messages, %llu device operations, %llu cut points x modes; "
	       "missing %llu (must be 0), spurious %u (must be 0); %llu times a message was "
	       "only in the journal\n",
	       n, (unsigned long long)total, (unsigned long long)points,
	       (unsigned long long)missing, spurious, (unsigned long long)in_journal_only);
	return missing || spurious ? 1 : 0;
}
