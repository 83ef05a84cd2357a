/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_queue_kill.c - SIGKILL at random moments: a child appends and
 * commits to the file backend and reports every durable seq over a pipe;
 * it is killed with -9 after a random number of reports; reopened, the
 * queue holds every reported seq, in order, with its exact bytes. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eh_flash.h"
#include "eh_log.h"
#include "eh_queue.h"

#define QSIZE (4u << 20)
#define MAXREP 20000
static struct eh_queue q;
static uint8_t pbuf[1 << 20];
static struct eh_queue_rec recs[256];
static char path[128];
static uint64_t rep_seq[MAXREP], rep_id[MAXREP];

static void payload(uint8_t *p, uint32_t len, uint64_t id)
{
	memcpy(p, &id, 8);
	for (uint32_t i = 8; i < len; i++)
		p[i] = (uint8_t)(id * 13u + i);
}

static uint32_t len_of(uint64_t id)
{
	return 16 + (uint32_t)((id * 2654435761u) % 2500);
}

/* The child: append + commit forever, report each durable (seq, id). */
static void child(int wfd, uint64_t first_id)
{
	struct eh_flash f;
	struct eh_flash_file st;
	struct eh_queue_config c = {.full_policy = EH_QUEUE_DROP_OLDEST, .uid = 0x4b1};
	static uint8_t p[4096];
	if (eh_flash_file_open(&f, &st, path, QSIZE, 0, 0, 0) != EH_OK)
		_exit(2);
	c.flash = &f;
	if (eh_queue_open(&q, &c) != EH_OK)
		_exit(3);
	for (uint64_t id = first_id;; id++) {
		uint64_t seq, rep[2];
		payload(p, len_of(id), id);
		if (eh_queue_append(&q, 0, 1, p, len_of(id), &seq) != EH_OK)
			_exit(4);
		{
			if (eh_queue_commit(&q) != EH_OK)
				_exit(5);
			rep[0] = seq;
			rep[1] = id;
			if (write(wfd, rep, sizeof(rep)) != (ssize_t)sizeof(rep))
				_exit(6);
		}
	}
}

static void quiet(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

EH_TEST(every_seq_reported_durable_survives_kill_9)
{
	uint64_t s = 99, next_id = 0;
	unsigned rounds = getenv("EH_QEMU") ? 4 : 12, lost = 0, bad = 0, n_rep = 0;
	eh_log_set_sink(quiet, NULL);
	snprintf(path, sizeof(path), "/tmp/eh_queue_kill_%ld.ring", (long)getpid());
	unlink(path);
	for (unsigned r = 0; r < rounds; r++) {
		int fds[2];
		unsigned want, got = 0;
		pid_t pid;
		REQUIRE(pipe(fds) == 0);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child(fds[1], next_id);
		}
		close(fds[1]);
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		want = 1 + (unsigned)((s >> 33) % 300);
		n_rep = 0;
		while (got < want) {
			uint64_t rep[2];
			if (read(fds[0], rep, sizeof(rep)) != (ssize_t)sizeof(rep))
				break;
			if (n_rep < MAXREP) {
				rep_seq[n_rep] = rep[0];
				rep_id[n_rep] = rep[1];
				n_rep++;
			}
			got++;
		}
		kill(pid, SIGKILL); /* lands mid-append, mid-write or mid-sync */
		int status = 0;
		REQUIRE(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(fds[0]);
		CHECK(got == want);

		/* reopen read-only and look for every reported seq, in order */
		struct eh_flash f;
		struct eh_flash_file st;
		struct eh_queue_config c = {.read_only = true};
		REQUIRE(eh_flash_file_open(&f, &st, path, 0, 0, 0, 1) == EH_OK);
		c.flash = &f;
		REQUIRE(eh_queue_open(&q, &c) == EH_OK);
		unsigned k = 0;
		size_t n;
		uint64_t last = 0;
		do {
			n = 0;
			REQUIRE(eh_queue_peek(&q, 0, 0, recs, 256, 1 << 20, pbuf, sizeof(pbuf),
					      &n) == EH_OK);
			for (size_t i = 0; i < n; i++) {
				uint64_t id;
				CHECK(recs[i].seq > last);
				last = recs[i].seq;
				memcpy(&id, recs[i].payload, 8);
				static uint8_t want_p[4096];
				payload(want_p, len_of(id), id);
				if (recs[i].len != len_of(id) ||
				    memcmp(recs[i].payload, want_p, recs[i].len) != 0)
					bad++;
				while (k < n_rep && rep_seq[k] < recs[i].seq)
					k++, lost++; /* reported durable, not found */
				if (k < n_rep && rep_seq[k] == recs[i].seq) {
					CHECK_EQ(rep_id[k], id);
					k++;
				}
			}
			if (n > 0)
				eh_queue_ack(&q, 0, 0, recs[n - 1].seq);
		} while (n > 0);
		lost += n_rep - k;
		eh_queue_close(&q);
		eh_flash_close(&f);
		if (n_rep > 0)
			next_id = rep_id[n_rep - 1] + 1000;
	}
	CHECK_EQ(lost, 0u);
	CHECK_EQ(bad, 0u);
	eh_log_set_sink(NULL, NULL);
	unlink(path);
}
