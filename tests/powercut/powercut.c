/* SPDX-License-Identifier: Apache-2.0 */
/* powercut.c - exhaustive single power cut over the queue. A seeded
 * workload (appends of varied sizes and types, three consumers at different
 * speeds incl. a dead or sleeping one, wrap-around, a full ring under both
 * policies, clean and unclean restarts) is first run without a cut to count
 * its device operations; then it is re-run once per operation index and
 * crash mode, cut there, recovered, and checked against an oracle kept here,
 * off the device.
 *
 *   powercut [STEPS] [--seed N] [--replay SEED:POLICY:CUT:MODE]
 *
 * Exit 0 when every "must be 0" figure is 0. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eh_flash_emu.h"
#include "eh_log.h"
#include "eh_queue.h"

#define BS 16384u /* segment */
#define BC 8u	  /* superblock + 7 segments */
#define UNIT 512u
#define SZ (BS * BC)
#define MAXREC 20000
#define NSLOT 3

static uint8_t dur[SZ], cur[SZ], logbuf[SZ * 8];
static struct eh_flash_emu_op ops[8192];
static struct eh_flash_emu emu;
static struct eh_flash fl;
static struct eh_queue q;
static uint8_t pbuf[1 << 20], rbuf[1 << 16];
/* The queue's segment cache, a window smaller than a segment and not a
 * divisor of it, so its ring wraps inside records under every cut. */
static uint8_t qcache[BS / 3];
static struct eh_queue_rec recs[64];

/* ==== Oracle ==== */

struct orec {
	uint64_t seq, mask;
	uint32_t len;
	uint8_t type;
	uint8_t durable; /* a commit covering it returned OK */
	uint8_t acked;	 /* bit s: slot s acknowledged it (webhook got it) */
	uint8_t seen;	 /* bit s: delivered to slot s in the check */
	uint8_t gone;	 /* staged but never committed before a kill */
};
static struct orec orc[MAXREC];
static uint32_t n_issued;

struct figures {
	uint64_t points, runs, recoveries, mount_fail, durable_total, lost, corrupt, spurious,
	    unaccounted, dropped, dup, mount_max, mount_bound, order, append_after, lost_detected,
	    not_fired;
	char first_fail[160];
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* payload: id (u32), len (u32), then bytes derived from the id */
static void make_payload(uint8_t *p, uint32_t len, uint32_t id)
{
	memcpy(p, &id, 4);
	memcpy(p + 4, &len, 4);
	for (uint32_t i = 8; i < len; i++)
		p[i] = (uint8_t)(id * 131u + i * 7u + (i >> 5));
}

/* 0 ok, 1 corrupt, 2 spurious */
static int check_rec(const struct eh_queue_rec *r, unsigned slot, unsigned type)
{
	uint32_t id, len;
	if (r->len < 8)
		return 1;
	memcpy(&id, r->payload, 4);
	memcpy(&len, r->payload + 4, 4);
	if (id >= n_issued || len != r->len)
		return 2;
	for (uint32_t i = 8; i < len; i++)
		if (r->payload[i] != (uint8_t)(id * 131u + i * 7u + (i >> 5)))
			return 1;
	if (orc[id].seq != r->seq || orc[id].type != type || !(orc[id].mask & (1ull << slot)) ||
	    orc[id].len != r->len)
		return 2;
	return 0;
}

static int verbose_fail;

static void fail(struct figures *f, const char *id, const char *what)
{
	if (verbose_fail)
		printf("FAIL %s replay=%s\n", what, id);
	if (f->first_fail[0] == 0)
		snprintf(f->first_fail, sizeof(f->first_fail), "%s replay=%s", what, id);
}

/* ==== Device ==== */

static const struct eh_flash_emu_mem emu_mem =
    EH_FLASH_EMU_MEM(dur, cur, logbuf, ops, BS, BC, UNIT);

static void dev_blank(void)
{
	eh_flash_emu_attach(&fl, &emu, &emu_mem, 1);
}

static eh_err qopen(int policy, bool ro)
{
	struct eh_queue_config c = {.flash = &fl,
				    .full_policy = policy ? EH_QUEUE_BLOCK : EH_QUEUE_DROP_OLDEST,
				    .uid = 0x5eed,
				    .read_only = ro,
				    .cache = qcache,
				    .cache_bytes = sizeof(qcache)};
	return eh_queue_open(&q, &c);
}

static void mark_durable(void)
{
	uint64_t d = eh_queue_durable_seq(&q);
	for (uint32_t i = 0; i < n_issued; i++)
		if (orc[i].seq <= d && !orc[i].gone)
			orc[i].durable = 1;
}

/* ==== Workload ==== */

/* One consumer pass: deliver and acknowledge what is pending. */
static int consume(unsigned slot, struct figures *f, const char *id)
{
	for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
		size_t n = 0;
		if (eh_queue_peek(&q, slot, t, recs, 16, 8192, pbuf, sizeof(pbuf), &n) != EH_OK)
			return -1;
		for (size_t i = 0; i < n; i++) {
			int bad = check_rec(&recs[i], slot, t);
			if (bad == 1) {
				f->corrupt++;
				fail(f, id, "corrupt record delivered (running)");
			} else if (bad == 2) {
				f->spurious++;
				fail(f, id, "spurious record delivered (running)");
			}
		}
		if (n > 0) {
			for (size_t i = 0; i < n; i++) {
				uint32_t rid;
				memcpy(&rid, recs[i].payload, 4);
				if (rid < n_issued)
					orc[rid].acked |= (uint8_t)(1u << slot);
			}
			if (eh_queue_ack(&q, slot, t, recs[n - 1].seq) != EH_OK)
				return -1;
		}
	}
	return 0;
}

/* Cumulative ("linear") mode: power is cut every linear_every operations
 * of the same run; after each cut the image is recovered, checked, and the
 * workload continues on it, so crashes also land after recoveries (appends
 * behind a torn tail, evictions after an unclean mount). */
static uint64_t linear_every;
static int linear_mode;
static uint64_t linear_seed;
static void verify(int policy, struct figures *f, const char *id);

static int linear_recover(int policy, struct figures *f, const char *id)
{
	f->points++;
	f->runs++;
	eh_flash_emu_powerloss(&emu, (enum eh_flash_emu_mode)linear_mode,
			       linear_seed ^ (emu.op_count * 2654435761u));
	for (uint32_t i = 0; i < n_issued; i++)
		orc[i].gone |= !orc[i].durable;
	verify(policy, f, id);
	/* reopen with power on (a format after a cut during the first one
	 * needs four operations; the single-cut driver covers cuts there) */
	if (qopen(policy, false) != EH_OK)
		return -1;
	eh_flash_emu_cut_after(&emu, linear_every);
	return 0;
}

/* Run the workload; returns 1 when power was cut (the device is then
 * dead), 0 when it ran to the end. */
static int workload(uint64_t seed, int policy, unsigned steps, struct figures *f, const char *id)
{
	uint64_t s = seed;
	n_issued = 0;
	memset(orc, 0, sizeof(orc));
	if (qopen(policy, false) != EH_OK) {
		if (!emu.dead || linear_every == 0)
			return emu.dead ? 1 : -1;
		if (linear_recover(policy, f, id) != 0)
			return -1;
	}
	for (unsigned step = 0; step < steps; step++) {
		unsigned na = 1 + (unsigned)(rnd(&s) % 3);
		for (unsigned a = 0; a < na && n_issued < MAXREC; a++) {
			uint32_t len = 8 + (uint32_t)(rnd(&s) % 1200);
			uint64_t mask = 1 + rnd(&s) % 7, seq = 0;
			unsigned type = (unsigned)(rnd(&s) % 3);
			eh_err rc;
			if (rnd(&s) % 50 == 0)
				len = 3000 + (uint32_t)(rnd(&s) % 2000);
			make_payload(rbuf, len, n_issued);
			rc = eh_queue_append(&q, type, mask, rbuf, len, &seq);
			if (rc == EH_OK) {
				orc[n_issued].seq = seq;
				orc[n_issued].mask = mask;
				orc[n_issued].len = len;
				orc[n_issued].type = (uint8_t)type;
				n_issued++;
			} else if (rc != EH_ERR_NOSPC) {
				goto fault;
			}
		}
		if (rnd(&s) % 3 == 0) {
			if (eh_queue_commit(&q) != EH_OK)
				goto fault;
			mark_durable();
		}
		if (consume(0, f, id) != 0)
			goto fault;
		if (step % 5 == 4 && consume(1, f, id) != 0)
			goto fault;
		/* slot 2: dead under drop_oldest, wakes every 40 steps under block */
		if (policy == 1 && step % 40 == 39 && consume(2, f, id) != 0)
			goto fault;
		if (step % 97 == 96) { /* clean restart */
			eh_queue_close(&q);
			if (emu.dead)
				goto fault;
			mark_durable();
			if (qopen(policy, false) != EH_OK)
				goto fault;
		}
		if (step % 151 ==
		    150) { /* process killed: unsynced writes stay in the page cache */
			uint64_t left = emu.cut_at != 0 ? emu.cut_at - emu.op_count : 0;
			eh_flash_emu_powerloss(&emu, EH_FLASH_EMU_ATOMIC, 0);
			eh_flash_emu_cut_after(&emu, left); /* the cut still to come stays armed */
			for (uint32_t i = 0; i < n_issued; i++)
				orc[i].gone |= !orc[i].durable;
			if (qopen(policy, false) != EH_OK)
				goto fault;
		}
		if (!emu.dead)
			continue;
	fault:
		if (!emu.dead)
			return -1;
		if (linear_every == 0)
			return 1;
		if (linear_recover(policy, f, id) != 0)
			return -1;
	}
	eh_queue_close(&q);
	if (emu.dead && linear_every != 0)
		return linear_recover(policy, f, id) != 0 ? -1 : 0;
	return emu.dead ? 1 : 0;
}

/* After the cut: recover read-only, drain every cursor, compare. */
static void verify(int policy, struct figures *f, const char *id)
{
	struct eh_queue_stats st;
	uint64_t last[NSLOT][EH_QUEUE_TYPES] = {{0}};
	for (uint32_t i = 0; i < n_issued; i++)
		orc[i].seen = 0;
	eh_err rc = qopen(policy, true);
	bool any_durable = false;
	for (uint32_t i = 0; i < n_issued; i++)
		any_durable = any_durable || orc[i].durable;
	if (rc == EH_ERR_NOENT && !any_durable) {
		f->recoveries++; /* cut while formatting: nothing was ever acknowledged */
		goto append_after;
	}
	if (rc != EH_OK) {
		f->mount_fail++;
		fail(f, id, "mount failed");
		return;
	}
	f->recoveries++;
	eh_queue_stats(&q, &st);
	if (verbose_fail) {
		printf("  drops %" PRIu64 " %" PRIu64 " %" PRIu64
		       " tail seg %u head seg %u next %" PRIu64 "\n",
		       st.drops[0], st.drops[1], st.drops[2], q.tail_seg, q.head_seg, q.next_seq);
		for (unsigned i = 0; i < BC - 1; i++)
			printf("  seg %u seq %" PRIu64 " first %" PRIu64 " live %d\n", i,
			       q.segs[i].seg_seq, q.segs[i].first_seq, q.segs[i].live);
		for (unsigned t = 0; t < 3; t++)
			printf("  cur[2][%u] = %" PRIu64 "\n", t, q.cur[2][t]);
	}
	if (st.mount_bytes_read > f->mount_max)
		f->mount_max = st.mount_bytes_read;
	f->mount_bound = st.mount_bytes_bound;
	if (st.mount_bytes_read > st.mount_bytes_bound)
		fail(f, id, "mount read more than the bound");
	for (unsigned slot = 0; slot < NSLOT; slot++) {
		for (unsigned t = 0; t < EH_QUEUE_TYPES; t++) {
			size_t n;
			do {
				n = 0;
				if (eh_queue_peek(&q, slot, t, recs, 64, 1 << 20, pbuf,
						  sizeof(pbuf), &n) != EH_OK) {
					fail(f, id, "peek failed after recovery");
					break;
				}
				for (size_t i = 0; i < n; i++) {
					int bad = check_rec(&recs[i], slot, t);
					uint32_t rid;
					if (bad == 1) {
						f->corrupt++;
						fail(f, id, "corrupt record delivered");
						continue;
					}
					if (bad == 2) {
						f->spurious++;
						fail(f, id, "spurious record delivered");
						continue;
					}
					if (recs[i].seq <= last[slot][t]) {
						f->order++;
						fail(f, id, "out of order");
					}
					last[slot][t] = recs[i].seq;
					memcpy(&rid, recs[i].payload, 4);
					if (orc[rid].acked & (1u << slot))
						f->dup++;
					orc[rid].seen |= (uint8_t)(1u << slot);
				}
				if (n > 0)
					eh_queue_ack(&q, slot, t, recs[n - 1].seq);
			} while (n > 0);
		}
	}
	for (unsigned slot = 0; slot < NSLOT; slot++) {
		uint64_t missing = 0;
		for (uint32_t i = 0; i < n_issued; i++) {
			const struct orec *o = &orc[i];
			if (!o->durable || !(o->mask & (1ull << slot)))
				continue;
			f->durable_total += slot == 0;
			if (!(o->acked & (1u << slot)) && !(o->seen & (1u << slot))) {
				missing++;
				if (verbose_fail)
					printf("  slot %u missing id %u seq %" PRIu64 " type %u\n",
					       slot, i, o->seq, o->type);
			}
		}
		f->dropped += st.drops[slot];
		if (missing > st.drops[slot]) {
			if (policy == 1 || st.drops[slot] == 0)
				f->lost += missing - st.drops[slot];
			else
				f->unaccounted += missing - st.drops[slot];
			fail(f, id, "acknowledged records missing");
		}
	}
	eh_queue_stats(&q, &st);
	if (st.lost_detected != 0) {
		f->lost_detected += st.lost_detected;
		fail(f, id, "records reported lost to damage");
	}
	eh_queue_close(&q);
append_after:
	if (linear_every != 0)
		return; /* the workload itself goes on appending */
	/* the recovered queue takes and delivers a new record */
	if (qopen(policy, false) == EH_OK) {
		uint64_t seq = 0;
		size_t n = 0;
		make_payload(rbuf, 64, 0);
		if (eh_queue_append(&q, 0, 1, rbuf, 64, &seq) != EH_OK ||
		    eh_queue_commit(&q) != EH_OK) {
			if (policy == 0) {
				f->append_after++;
				fail(f, id, "append after recovery failed");
			}
		} else {
			eh_queue_ack(&q, 0, 0, seq - 1);
			eh_queue_peek(&q, 0, 0, recs, 64, 1 << 20, pbuf, sizeof(pbuf), &n);
			if (n == 0 || recs[n - 1].seq != seq) {
				f->append_after++;
				fail(f, id, "record appended after recovery not delivered");
			}
		}
		eh_queue_close(&q);
	} else {
		f->mount_fail++;
		fail(f, id, "reopen after recovery failed");
	}
}

static void run_one(uint64_t seed, int policy, uint64_t cut, int mode, unsigned steps,
		    struct figures *f)
{
	char id[96];
	snprintf(id, sizeof(id), "%" PRIu64 ":%d:%" PRIu64 ":%d", seed, policy, cut, mode);
	dev_blank();
	eh_flash_emu_cut_after(&emu, cut);
	f->runs++;
	int r = workload(seed, policy, steps, f, id);
	if (r < 0) {
		fail(f, id, "workload error without a cut");
		return;
	}
	if (r == 0) {
		f->not_fired++;
		fail(f, id, "the cut never fired");
	}
	if (r == 1)
		eh_flash_emu_powerloss(&emu, (enum eh_flash_emu_mode)mode,
				       seed ^ (cut * 2654435761u));
	verify(policy, f, id);
}

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

int main(int argc, char **argv)
{
	unsigned steps = 600;
	uint64_t seed = 0x5eed;
	const char *replay = NULL;
	struct figures f;
	uint64_t total_ops[2] = {0, 0};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--replay") == 0 && i + 1 < argc)
			replay = argv[++i];
		else if (strcmp(argv[i], "--linear") == 0 && i + 1 < argc)
			linear_every = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--long") == 0)
			steps = 4000;
		else
			steps = (unsigned)strtoul(argv[i], NULL, 0);
	}
	if (getenv("EH_QEMU") != NULL && steps > 150)
		steps = 150;
	if (replay == NULL)
		eh_log_set_sink(quiet, NULL);
	else
		eh_log_set_level(EH_LOG_LEVEL_DBG);
	verbose_fail = getenv("EH_POWERCUT_VERBOSE") != NULL;
	memset(&f, 0, sizeof(f));
	if (replay != NULL) {
		uint64_t rs, cut;
		int pol, mode;
		if (sscanf(replay, "%" SCNu64 ":%d:%" SCNu64 ":%d", &rs, &pol, &cut, &mode) != 4)
			return 2;
		run_one(rs, pol, cut, mode, steps, &f);
		printf("replay %s: %s\n", replay, f.first_fail[0] ? f.first_fail : "pass");
		return f.first_fail[0] ? 1 : 0;
	}
	if (linear_every != 0) {
		/* every mode, both policies, cuts every linear_every operations */
		for (int policy = 0; policy < 2; policy++) {
			for (int mode = 0; mode < EH_FLASH_EMU_MODES; mode++) {
				char id[96];
				snprintf(id, sizeof(id), "linear %" PRIu64 ":%d:%d", seed, policy,
					 mode);
				linear_mode = mode;
				linear_seed = seed ^ (uint64_t)mode;
				dev_blank();
				eh_flash_emu_cut_after(&emu, linear_every);
				if (workload(seed, policy, steps, &f, id) < 0)
					fail(&f, id, "workload error");
				total_ops[policy] += emu.op_count;
			}
		}
		goto report;
	}
	for (int policy = 0; policy < 2; policy++) {
		/* dry run: how many device operations the workload makes */
		dev_blank();
		if (workload(seed, policy, steps, &f, "dry") != 0) {
			printf("dry run failed\n");
			return 1;
		}
		total_ops[policy] = emu.op_count;
		for (uint64_t cut = 1; cut <= total_ops[policy]; cut++) {
			f.points++;
			for (int mode = 0; mode < EH_FLASH_EMU_MODES; mode++)
				run_one(seed, policy, cut, mode, steps, &f);
		}
	}
report:
	printf("PLTEST v1 seed=%#" PRIx64
	       " geometry=W%u/SEG%uK/N%u steps=%u modes=atomic,reorder,torn,drop\n",
	       seed, UNIT, BS / 1024, BC - 1, steps);
	printf("workload ops (prog/erase/sync):    %" PRIu64 " drop_oldest + %" PRIu64 " block\n",
	       total_ops[0], total_ops[1]);
	printf("crash states (points x modes):     %" PRIu64 "\n", f.runs);
	printf("recoveries completed / failures:   %" PRIu64 " / %" PRIu64 "\n", f.recoveries,
	       f.mount_fail);
	printf("durable records checked (slot 0):  %" PRIu64 "\n", f.durable_total);
	printf("records dropped by policy:         %" PRIu64 " (accounted, persisted)\n",
	       f.dropped);
	printf("duplicate deliveries (allowed):    %" PRIu64 "\n", f.dup);
	printf("out-of-order deliveries:           %" PRIu64 "\n", f.order);
	printf("append after recovery failures:    %" PRIu64 "\n", f.append_after);
	printf("records reported lost to damage:   %" PRIu64 "\n", f.lost_detected);
	if (linear_every != 0)
		printf("crash points tried:                %" PRIu64
		       " (cumulative: one every %" PRIu64
		       " operations, each recovered, checked and continued)\n",
		       f.points, linear_every);
	else
		printf("crash points tried:                %" PRIu64
		       " (every operation; cuts that did not fire: %" PRIu64 ")\n",
		       f.points, f.not_fired);
	printf("acknowledged records lost:         %" PRIu64 "\n", f.lost);
	printf("corrupt records delivered:         %" PRIu64 "\n", f.corrupt);
	printf("spurious records delivered:        %" PRIu64 "\n", f.spurious);
	printf("unaccounted drops:                 %" PRIu64 "\n", f.unaccounted);
	printf("max bytes read at mount / bound:   %" PRIu64 " / %" PRIu64 "\n", f.mount_max,
	       f.mount_bound);
	printf("first failure: %s\n", f.first_fail[0] ? f.first_fail : "none");
	int ok = f.first_fail[0] == 0;
	printf("RESULT: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
