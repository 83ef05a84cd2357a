/* SPDX-License-Identifier: Apache-2.0 */
/* bench_delivery.c - notifications per second delivered over TLS to a
 * local receiver (started by bench_delivery.sh), for batch sizes 1, 10 and
 * 100, with keep-alive against a new-connection-per-batch baseline in the
 * same run; TLS handshakes per 10k batches; our process's CPU time per
 * notification. Usage: bench_delivery PORT CA_FILE [NOTES_PER_RUN] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/resource.h>

#include "eh_delivery.h"
#include "eh_tls_pool.h"
#include "eh_log.h"

/* A compact event as the seed shows it (~700 bytes). */
static const char note_fmt[] =
    "{\"acknowledged\":false,\"acknowledged_by\":null,\"acknowledged_date\":null,"
    "\"acknowledged_reaction\":\"\",\"bs_type\":\"overall\",\"camera\":3,\"camera_group\":1,"
    "\"confidence\":0.7213,\"created_date\":\"2020-05-18T15:08:38+00:00\",\"episode\":null,"
    "\"event_type\":\"event_created\",\"face\":\"/uploads/2020/05/18/event/face.jpg\","
    "\"features\":{\"age\":31,\"gender\":\"male\",\"emotions\":\"neutral\"},"
    "\"frame\":\"/uploads/2020/05/18/event/frame.jpg\",\"frame_coords_bottom\":552,"
    "\"frame_coords_left\":1095,\"frame_coords_right\":1235,\"frame_coords_top\":392,"
    "\"id\":\"%llu\",\"looks_like_confidence\":null,\"matched\":true,"
    "\"matched_dossier\":44,\"matched_face\":\"dossierface-12\",\"matched_lists\":[1],"
    "\"quality\":0.6127,\"scores\":{\"direction\":null,\"track\":{\"id\":\"ad3f-19\"}},"
    "\"thumbnail\":\"/uploads/2020/05/18/event/thumb.jpg\",\"video_archive\":null}";

#define MAXN 20000
static char raws[MAXN][800];
static size_t rlen[MAXN];
static size_t total, head;

static eh_err src_peek(void *ctx, unsigned slot, unsigned type, struct eh_delivery_item *items,
		       size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	if (slot != 0 || type != 0)
		return EH_OK;
	for (size_t i = head; i < total && *n < max; i++) {
		items[*n].seq = i + 1;
		items[*n].raw = (const uint8_t *)raws[i];
		items[*n].len = rlen[i];
		(*n)++;
	}
	return EH_OK;
}

static eh_err src_ack(void *ctx, unsigned slot, unsigned type, uint64_t upto)
{
	(void)ctx;
	(void)slot;
	(void)type;
	head = (size_t)upto;
	return EH_OK;
}

static uint64_t src_lag(void *ctx, unsigned slot, unsigned type)
{
	(void)ctx;
	return (slot == 0 && type == 0) ? total - head : 0;
}

static const struct eh_delivery_source_ops ops = {src_peek, src_ack, src_lag};

static eh_err render(void *ctx, unsigned type, const uint8_t *raw, size_t len,
		     const struct eh_webhook *wh, char *out, size_t cap, size_t *out_len)
{
	int hn;
	(void)ctx;
	(void)wh;
	if (cap < len + 40)
		return EH_ERR_NOSPC;
	hn = snprintf(out, cap, "{\"webhook_type\":\"%s\",", eh_type_name(type));
	memcpy(out + hn, raw + 1, len - 1);
	*out_len = (size_t)hn + len - 1;
	return EH_OK;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS of this process in KiB (Linux). */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct result {
	double notes_per_s, cpu_us_per_note, handshakes_per_10k;
	size_t heap_open;   /* library heap in use at the end, connection still open */
	size_t heap_closed; /* after eh_delivery_stop */
	long rss_growth;    /* KiB of RSS the run added (bodies touched, TLS, pools) */
	uint64_t batches, connects, resumed;
};

static struct eh_delivery D;
static struct eh_tls_pool pool;
static struct eh_loop loop;
static struct eh_webhook W;

static int run(uint16_t port, const char *ca, unsigned batch, bool keepalive, size_t n,
	       struct result *r)
{
	struct eh_delivery_config c;
	struct eh_delivery_wstats st;
	uint64_t t0, t1;
	double c0, c1;
	size_t heap0 = mallinfo2().uordblks;
	long rss0 = rss_kib();

	total = n;
	head = 0;
	if (eh_loop_init(&loop, &eh_clock_system) != EH_OK)
		return -1;
	memset(&W, 0, sizeof(W));
	W.id = 1;
	W.gen = 1;
	W.active = true;
	W.url.tls = true;
	snprintf(W.url.host, sizeof(W.url.host), "127.0.0.1");
	W.url.port = port;
	snprintf(W.url.path, sizeof(W.url.path), "/bench");
	W.batch_size = (uint16_t)batch;
	W.batch_max_bytes = 1048576;
	W.max_attempts = 1;
	W.timeout_s = 10;
	memset(&c, 0, sizeof(c));
	c.loop = &loop;
	c.clock = &eh_clock_system;
	eh_tls_pool_init(&pool);
	if (eh_tls_pool_open(&pool, ca) != EH_OK) {
		fprintf(stderr, "CA %s unusable\n", ca);
		return -1;
	}
	c.transport = &eh_tls_pool_factory;
	c.transport_ctx = &pool;
	c.queue_uid = 1;
	c.source = &ops;
	c.render = render;
	c.no_keepalive = !keepalive;
	if (eh_delivery_init(&D, &c) != EH_OK) {
		fprintf(stderr, "delivery init failed (CA %s)\n", ca);
		return -1;
	}
	c0 = cpu_s();
	t0 = eh_time_mono_us();
	eh_delivery_set_webhook(&D, 0, &W);
	while (head < total) {
		eh_delivery_stats(&D, 0, &st);
		if (st.dead_lettered > 0) {
			fprintf(stderr, "delivery failed: %s\n", st.last_error);
			return -1;
		}
		eh_loop_run_once(&loop, 100);
	}
	t1 = eh_time_mono_us();
	c1 = cpu_s();
	eh_delivery_stats(&D, 0, &st);
	r->batches = st.batches;
	r->connects = eh_delivery_https_stats(&D)->connects;
	r->resumed = eh_delivery_https_stats(&D)->resumed;
	r->notes_per_s = (double)n / ((double)(t1 - t0) / 1e6);
	r->cpu_us_per_note = (c1 - c0) * 1e6 / (double)n;
	r->handshakes_per_10k = (double)r->connects * 10000.0 / (double)r->batches;
	r->heap_open = mallinfo2().uordblks - heap0;
	r->rss_growth = rss_kib() - rss0;
	eh_delivery_stop(&D);
	eh_tls_pool_free(&pool);
	r->heap_closed = mallinfo2().uordblks - heap0;
	eh_loop_deinit(&loop);
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = {1, 10, 100};
	uint16_t port;
	size_t n = 4000;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PORT CA_FILE [NOTES_PER_RUN]\n", argv[0]);
		return 2;
	}
	port = (uint16_t)atoi(argv[1]);
	if (argc > 3)
		n = (size_t)atol(argv[3]);
	if (n < 100 || n > MAXN)
		n = 4000;
	eh_log_set_level(EH_LOG_LEVEL_WRN);
	for (size_t i = 0; i < MAXN; i++) {
		int w = snprintf(raws[i], sizeof(raws[i]), note_fmt, 4267685965791894192ull + i);
		rlen[i] = (size_t)w;
	}
	printf("notification: %zu bytes; %zu notifications per run\n", rlen[0], n);
	printf("sizeof(struct eh_delivery): %zu KiB (BSS; body buffers are touched only as far "
	       "as batches reach)\n",
	       sizeof(struct eh_delivery) / 1024);
	printf("%-6s %-11s %12s %10s %14s %12s %9s\n", "batch", "connection", "notes/s", "batches",
	       "hs/10k batch", "cpu us/note", "resumed");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct result ka, nk;
		size_t runs = sizes[i] == 1 ? n / 4 : n; /* batch 1 is slow: fewer */

		if (run(port, argv[2], sizes[i], true, runs, &ka) != 0 ||
		    run(port, argv[2], sizes[i], false, runs, &nk) != 0)
			return 1;
		printf("%-6u %-11s %12.0f %10llu %14.1f %12.1f %9llu\n", sizes[i], "keep-alive",
		       ka.notes_per_s, (unsigned long long)ka.batches, ka.handshakes_per_10k,
		       ka.cpu_us_per_note, (unsigned long long)ka.resumed);
		printf("%-6u %-11s %12.0f %10llu %14.1f %12.1f %9llu\n", sizes[i], "per-batch",
		       nk.notes_per_s, (unsigned long long)nk.batches, nk.handshakes_per_10k,
		       nk.cpu_us_per_note, (unsigned long long)nk.resumed);
		if (i == 0)
			printf(
			    "heap held by mbedTLS: %zu KiB with one open TLS connection (CA chain "
			    "included), %zu KiB after stop\n",
			    ka.heap_open / 1024, ka.heap_closed / 1024);
		printf("batch %u: RSS added by the first run at this size: %ld KiB\n", sizes[i],
		       ka.rss_growth);
		printf("batch %u: keep-alive / new-connection-per-batch = %.2fx throughput, "
		       "%.2fx less CPU per notification\n",
		       sizes[i], ka.notes_per_s / nk.notes_per_s,
		       nk.cpu_us_per_note / ka.cpu_us_per_note);
	}
	return 0;
}
