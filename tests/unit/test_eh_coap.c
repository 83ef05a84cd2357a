/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_coap.c - the CoAP endpoint against a hand-built UDP client on 127.0.0.1, with a
 * fake clock driving the Observe rate limit and fake daemon handlers. The run against
 * coap-client is tests/integration/test_coap.py with test_eh_coap_serve.c. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eh_coap.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_time.h"

/* ==== Fake daemon handlers ==== */

enum fake_answer { ANS_OK, ANS_BAD, ANS_FULL, ANS_TOOBIG, ANS_IO };

struct fake {
	unsigned figure;	 /* appears in /status; bumped by the test or by ingest */
	size_t status_pad;	 /* extra bytes in /status to force Block2 */
	bool status_unfit;	 /* status_json answers 0: the figures did not fit */
	enum fake_answer answer; /* what ingest answers */
	unsigned ingests;	 /* ingest calls */
	unsigned last_type;
	size_t last_len;
	uint8_t last[EH_COAP_BODY_CEILING];
};

static size_t fake_status(void *ctx, char *buf, size_t cap)
{
	struct fake *f = ctx;
	if (f->status_unfit)
		return 0;
	int n = snprintf(buf, cap, "{\"figure\":%u,\"pad\":\"", f->figure);
	size_t len = (size_t)n;

	for (size_t i = 0; i < f->status_pad && len + 3 < cap; i++)
		buf[len++] = (char)('a' + i % 26);
	if (len + 2 < cap) {
		buf[len++] = '"';
		buf[len++] = '}';
	}
	return len;
}

static eh_err fake_webhook(void *ctx, uint32_t id, char *buf, size_t cap, size_t *len)
{
	(void)ctx;
	if (id != 7 && id != 4294967295u)
		return EH_ERR_NOENT;
	*len = (size_t)snprintf(buf, cap, "{\"id\":%u,\"state\":\"ok\"}", (unsigned)id);
	return EH_OK;
}

static eh_err fake_ingest(void *ctx, unsigned type, const uint8_t *p, size_t len, char *diag,
			  size_t diag_cap)
{
	struct fake *f = ctx;
	enum fake_answer a = f->answer;

	f->ingests++;
	switch (a) {
	case ANS_BAD:
		snprintf(diag, diag_cap, "payload: expected a JSON object at byte 0");
		return EH_ERR_PROTO;
	case ANS_FULL:
		return EH_ERR_NOSPC;
	case ANS_TOOBIG:
		return EH_ERR_TOOBIG;
	case ANS_IO:
		return EH_ERR_IO;
	case ANS_OK:
		break;
	}
	f->last_type = type;
	f->last_len = len;
	memcpy(f->last, p, len);
	f->figure++;
	return EH_OK;
}

static struct fake fk; /* large: static */

static struct eh_coap_handlers fake_handlers(void)
{
	return (struct eh_coap_handlers){fake_status, fake_webhook, fake_ingest, &fk};
}

/* ==== A hand-built CoAP client ==== */

#define T_CON 0
#define T_NON 1
#define T_ACK 2
#define CODE(c, d) (uint8_t)(((c) << 5) | (d))

struct opt {
	uint16_t num;
	const void *val;
	size_t len;
};

struct msg {
	uint8_t type, code;
	uint16_t mid;
	uint8_t token[8];
	size_t tkl;
	int observe;	    /* -1: absent */
	int content_format; /* -1: absent */
	long size1;	    /* -1: absent */
	long block1;	    /* -1: absent */
	uint8_t payload[20000];
	size_t plen;
};

/* Encode a request; options must be sorted by number. */
static size_t encode(uint8_t *out, uint8_t type, uint8_t code, uint16_t mid, uint8_t tok,
		     const struct opt *opts, size_t nopt, const void *payload, size_t plen)
{
	size_t n = 0;
	uint16_t prev = 0;

	out[n++] = (uint8_t)(0x40 | (type << 4) | 1);
	out[n++] = code;
	out[n++] = (uint8_t)(mid >> 8);
	out[n++] = (uint8_t)mid;
	out[n++] = tok;
	for (size_t i = 0; i < nopt; i++) {
		unsigned d = opts[i].num - prev, l = (unsigned)opts[i].len;
		uint8_t *hdr = &out[n++];
		prev = opts[i].num;
		*hdr = 0;
		if (d < 13) {
			*hdr |= (uint8_t)(d << 4);
		} else {
			*hdr |= 13 << 4;
			out[n++] = (uint8_t)(d - 13);
		}
		if (l < 13) {
			*hdr |= (uint8_t)l;
		} else if (l < 269) {
			*hdr |= 13;
			out[n++] = (uint8_t)(l - 13);
		} else {
			*hdr |= 14;
			out[n++] = (uint8_t)((l - 269) >> 8);
			out[n++] = (uint8_t)(l - 269);
		}
		memcpy(&out[n], opts[i].val, l);
		n += l;
	}
	if (plen > 0) {
		out[n++] = 0xff;
		memcpy(&out[n], payload, plen);
		n += plen;
	}
	return n;
}

static unsigned uint_of(const uint8_t *p, size_t len)
{
	unsigned v = 0;
	for (size_t i = 0; i < len; i++)
		v = (v << 8) | p[i];
	return v;
}

static int decode(const uint8_t *in, size_t len, struct msg *m)
{
	size_t n = 4;
	unsigned num = 0;

	if (len < 4 || (in[0] >> 6) != 1)
		return -1;
	m->type = (in[0] >> 4) & 3;
	m->tkl = in[0] & 15;
	m->code = in[1];
	m->mid = (uint16_t)(in[2] << 8 | in[3]);
	if (m->tkl > 8 || n + m->tkl > len)
		return -1;
	memcpy(m->token, in + n, m->tkl);
	n += m->tkl;
	m->observe = m->content_format = -1;
	m->size1 = m->block1 = -1;
	m->plen = 0;
	while (n < len && in[n] != 0xff) {
		unsigned d = in[n] >> 4, l = in[n] & 15;
		n++;
		if (d == 13)
			d = 13 + in[n++];
		else if (d == 14)
			d = 269 + (unsigned)(in[n] << 8 | in[n + 1]), n += 2;
		if (l == 13)
			l = 13 + in[n++];
		else if (l == 14)
			l = 269 + (unsigned)(in[n] << 8 | in[n + 1]), n += 2;
		if (n + l > len)
			return -1;
		num += d;
		if (num == 6)
			m->observe = (int)uint_of(in + n, l);
		else if (num == 12)
			m->content_format = (int)uint_of(in + n, l);
		else if (num == 60)
			m->size1 = (long)uint_of(in + n, l);
		else if (num == 27)
			m->block1 = (long)uint_of(in + n, l);
		n += l;
	}
	if (n < len && in[n] == 0xff) {
		m->plen = len - n - 1;
		if (m->plen >= sizeof(m->payload))
			return -1;
		memcpy(m->payload, in + n + 1, m->plen);
	}
	m->payload[m->plen] = 0;
	return 0;
}

struct client {
	int fd;
	struct sockaddr_in6 to; /* AF_INET or AF_INET6; sockaddr_in fits inside */
	socklen_t tolen;
	uint16_t mid;
	uint8_t tok;
};

static int client_open(struct client *cl, uint16_t port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&cl->to;

	cl->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&cl->to, 0, sizeof(cl->to));
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl->tolen = sizeof(*a4);
	cl->mid = 0x1000;
	cl->tok = 0x40;
	return cl->fd;
}

static int client_open6(struct client *cl, uint16_t port)
{
	cl->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&cl->to, 0, sizeof(cl->to));
	cl->to.sin6_family = AF_INET6;
	cl->to.sin6_port = htons(port);
	cl->to.sin6_addr = in6addr_loopback;
	cl->tolen = sizeof(cl->to);
	cl->mid = 0x2000;
	cl->tok = 0x10;
	return cl->fd;
}

static void client_send(struct client *cl, uint8_t type, uint8_t code, const struct opt *o,
			size_t no, const void *payload, size_t plen)
{
	static uint8_t buf[70000];
	size_t n = encode(buf, type, code, cl->mid++, cl->tok++, o, no, payload, plen);
	ssize_t r = sendto(cl->fd, buf, n, 0, (struct sockaddr *)&cl->to, cl->tolen);
	(void)r;
}

/* Run the server's loop until a datagram reaches the client, up to `turns` loop turns of
 * at most 200 ms each (the turns end early on any fd activity). 0 when one arrived. */
static int client_recv(struct client *cl, struct eh_loop *l, struct msg *m, int turns)
{
	static uint8_t buf[70000];
	for (int i = 0; i < turns; i++) {
		ssize_t r = recv(cl->fd, buf, sizeof(buf), 0);
		if (r >= 0)
			return decode(buf, (size_t)r, m);
		eh_loop_run_once(l, 200);
	}
	return -1;
}

/* A request and its answer; ACKs an answer that came CON (a notification). */
static int roundtrip(struct client *cl, struct eh_loop *l, uint8_t code, const struct opt *o,
		     size_t no, const void *payload, size_t plen, struct msg *m)
{
	client_send(cl, T_CON, code, o, no, payload, plen);
	return client_recv(cl, l, m, 20);
}

/* A free port below the kernel's ephemeral range (32768 by default), so no client socket
 * of this or another test is ever handed the server's port as its source port. */
static uint16_t free_udp_port(void)
{
	static unsigned seed;
	uint16_t port = 0;

	if (seed == 0)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)eh_time_mono_us();
	for (int i = 0; i < 200 && port == 0; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		seed = seed * 1103515245u + 12345u;
		a.sin_port = htons((uint16_t)(20000 + (seed >> 8) % 12000));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			port = ntohs(a.sin_port);
		close(fd);
	}
	return port;
}

/* ==== Fixture ==== */

struct fix {
	struct eh_clock clock;
	struct eh_clock_fake fc;
	struct eh_loop loop;
	struct eh_coap coap;
	struct client cl;
	uint16_t port;
};

static struct fix fx;

static int fix_open(size_t max_body)
{
	struct eh_coap_handlers h = fake_handlers();
	memset(&fk, 0, offsetof(struct fake, last));
	fx.fc = (struct eh_clock_fake){.mono_ms = 1000000, .wall_ms = 1700000000000ull};
	eh_clock_fake_init(&fx.clock, &fx.fc);
	if (eh_loop_init(&fx.loop, &fx.clock) != EH_OK)
		return -1;
	fx.port = free_udp_port();
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .port = fx.port, .max_body = max_body};
	if (eh_coap_open(&fx.coap, &cfg, &fx.loop, &h) != EH_OK)
		return -1;
	return client_open(&fx.cl, fx.port) < 0 ? -1 : 0;
}

static void fix_close(void)
{
	close(fx.cl.fd);
	eh_coap_close(&fx.coap);
	eh_loop_deinit(&fx.loop);
}

#define PATH(s)                                                                                    \
	{                                                                                          \
		11, s, sizeof(s) - 1                                                               \
	}

static struct msg m;

/* ==== Tests ==== */

EH_TEST(port_zero_is_off)
{
	struct eh_coap_handlers h = fake_handlers();
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .port = 0};
	struct eh_loop l;
	struct eh_coap c;

	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	CHECK_EQ(eh_coap_open(&c, &cfg, &l, &h), EH_OK);
	CHECK(!eh_coap_is_open(&c));
	CHECK_EQ(eh_coap_port(&c), 0);
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++)
		CHECK_EQ(l.fds[i].fd, -1);
	eh_coap_status_changed(&c); /* no-op, no crash */
	eh_coap_close(&c);
	eh_coap_close(&c);
	eh_loop_deinit(&l);
}

EH_TEST(bad_config_is_refused)
{
	struct eh_coap_handlers h = fake_handlers();
	struct eh_coap_config bad_bind = {.bind = "localhost", .port = 5683};
	struct eh_coap_config bad_body = {.bind = "127.0.0.1", .port = 5683, .max_body = 262145};
	struct eh_loop l;
	struct eh_coap c;

	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	CHECK_EQ(eh_coap_open(&c, &bad_bind, &l, &h), EH_ERR_INVAL);
	CHECK(!eh_coap_is_open(&c));
	CHECK_EQ(eh_coap_open(&c, &bad_body, &l, &h), EH_ERR_INVAL);
	eh_coap_close(&c);
	eh_loop_deinit(&l);
}

EH_TEST(port_in_use_is_a_net_error)
{
	struct eh_coap_handlers h = fake_handlers();
	struct eh_coap c2;

	REQUIRE(fix_open(0) == 0);
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .port = fx.port};
	CHECK_EQ(eh_coap_open(&c2, &cfg, &fx.loop, &h), EH_ERR_NET);
	CHECK(!eh_coap_is_open(&c2));
	/* The first endpoint still answers. */
	struct opt o[] = {PATH("status")};
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	fix_close();
}

EH_TEST(get_status_returns_the_figures_as_json)
{
	struct opt o[] = {PATH("status")};

	REQUIRE(fix_open(0) == 0);
	fk.figure = 41;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.type, T_ACK);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK_EQ(m.content_format, 50);
	CHECK_STR((char *)m.payload, "{\"figure\":41,\"pad\":\"\"}");
	fk.figure = 42;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_STR((char *)m.payload, "{\"figure\":42,\"pad\":\"\"}");
	CHECK_EQ(eh_coap_stats(&fx.coap)->requests, 2);
	/* Figures that do not fit are an error, not an empty 2.05. */
	fk.status_unfit = true;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(5, 0));
	fix_close();
}

EH_TEST(discovery_lists_the_resources)
{
	struct opt o[] = {{11, ".well-known", 11}, {11, "core", 4}};

	REQUIRE(fix_open(0) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK_EQ(m.content_format, 40);
	CHECK(strstr((char *)m.payload, "</status>") != NULL);
	CHECK(strstr((char *)m.payload, "obs") != NULL);
	CHECK(strstr((char *)m.payload, "</in/events>") != NULL);
	CHECK(strstr((char *)m.payload, "</in/episodes>") != NULL);
	CHECK(strstr((char *)m.payload, "</in/counters>") != NULL);
	CHECK(strstr((char *)m.payload, "ct=50") != NULL);
	fix_close();
}

EH_TEST(webhook_state_by_id)
{
	struct opt ok[] = {PATH("webhooks"), PATH("7")};
	struct opt max[] = {PATH("webhooks"), PATH("4294967295")};
	struct opt none[] = {PATH("webhooks"), PATH("8")};
	struct opt over[] = {PATH("webhooks"), PATH("4294967296")};
	struct opt junk[] = {PATH("webhooks"), PATH("7x")};
	struct opt lead0[] = {PATH("webhooks"), PATH("07")};
	struct opt deep[] = {PATH("webhooks"), PATH("7"), PATH("x")};

	REQUIRE(fix_open(0) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), ok, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK_EQ(m.content_format, 50);
	CHECK_STR((char *)m.payload, "{\"id\":7,\"state\":\"ok\"}");
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), max, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), none, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), over, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), junk, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), lead0, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), deep, 3, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	fix_close();
}

EH_TEST(post_reaches_ingest_byte_for_byte)
{
	static const char body[] =
	    "{\"type\":\"event\",\"id\":\"e1\",\"bytes\":\"\\u00e9\xc3\xa9\"}";
	struct opt ev[] = {PATH("in"), PATH("events")};
	struct opt ep[] = {PATH("in"), PATH("episodes")};
	uint8_t cf50 = 50;
	struct opt co[] = {PATH("in"), PATH("counters"), {12, &cf50, 1}};

	REQUIRE(fix_open(0) == 0);
	fk.answer = ANS_OK;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, body, sizeof(body) - 1, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.ingests, 1);
	CHECK_EQ(fk.last_type, 0);
	CHECK_EQ(fk.last_len, sizeof(body) - 1);
	CHECK(memcmp(fk.last, body, sizeof(body) - 1) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ep, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.last_type, 1);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), co, 3, "{\"c\":1}", 7, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.last_type, 2);
	CHECK_EQ(fk.last_len, 7);
	CHECK_EQ(eh_coap_stats(&fx.coap)->ingested, 3);
	fix_close();
}

EH_TEST(ingest_answers_map_to_codes)
{
	struct opt ev[] = {PATH("in"), PATH("events")};

	REQUIRE(fix_open(0) == 0);
	fk.answer = ANS_BAD;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{nope", 5, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 0));
	CHECK_STR((char *)m.payload, "payload: expected a JSON object at byte 0");
	fk.answer = ANS_FULL;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(5, 3));
	fk.answer = ANS_TOOBIG;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 13));
	CHECK_EQ(m.size1, EH_COAP_BODY_CEILING);
	fk.answer = ANS_IO;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(5, 0));
	CHECK_EQ(eh_coap_stats(&fx.coap)->rejected, 4);
	CHECK_EQ(eh_coap_stats(&fx.coap)->ingested, 0);
	fix_close();
}

EH_TEST(body_over_max_body_is_413_without_ingest)
{
	static char body[200];
	struct opt ev[] = {PATH("in"), PATH("events")};

	memset(body, 'x', sizeof(body));
	REQUIRE(fix_open(100) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, body, 101, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 13));
	CHECK_EQ(m.size1, 100);
	CHECK_EQ(fk.ingests, 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, body, 100, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.ingests, 1);
	fix_close();
}

/* Block1 option value: num, more, size exponent (16 << szx bytes). */
static size_t block1(uint8_t out[3], unsigned num, unsigned more, unsigned szx)
{
	unsigned v = num << 4 | more << 3 | szx;
	if (v < 256) {
		out[0] = (uint8_t)v;
		return 1;
	}
	if (v < 65536) {
		out[0] = (uint8_t)(v >> 8), out[1] = (uint8_t)v;
		return 2;
	}
	out[0] = (uint8_t)(v >> 16), out[1] = (uint8_t)(v >> 8), out[2] = (uint8_t)v;
	return 3;
}

/* POST one Block1 piece of body (64-byte blocks, szx 2) and return the answer's code. */
static int post_block(struct client *cl, unsigned num, unsigned more, const char *body, size_t blen,
		      long size1)
{
	uint8_t b1[3], s1[4] = {(uint8_t)(size1 >> 24), (uint8_t)(size1 >> 16),
				(uint8_t)(size1 >> 8), (uint8_t)size1};
	size_t off = (size_t)num * 64, n = more ? 64 : blen - off;
	struct opt o[4] = {
	    PATH("in"), PATH("events"), {27, b1, block1(b1, num, more, 2)}, {60, s1, 4}};

	client_send(cl, T_CON, CODE(0, 2), o, size1 >= 0 ? 4 : 3, body + off, n);
	if (client_recv(cl, &fx.loop, &m, 20) != 0)
		return -1;
	return m.code;
}

EH_TEST(block1_body_is_put_together_in_order)
{
	static char body[200];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)('A' + i % 23);
	body[0] = '{';
	REQUIRE(fix_open(0) == 0);
	CHECK_EQ(post_block(&fx.cl, 0, 1, body, 200, 200), CODE(2, 31));
	CHECK_EQ(m.block1 >> 4, 0);
	CHECK_EQ(post_block(&fx.cl, 1, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(post_block(&fx.cl, 1, 1, body, 200, -1), CODE(2, 31)); /* a repeat */
	CHECK_EQ(post_block(&fx.cl, 2, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(fk.ingests, 0);
	CHECK_EQ(post_block(&fx.cl, 3, 0, body, 200, -1), CODE(2, 4));
	CHECK_EQ(fk.ingests, 1);
	CHECK_EQ(fk.last_len, 200);
	CHECK(memcmp(fk.last, body, 200) == 0);
	fix_close();
}

EH_TEST(block1_bounds_and_order_are_enforced)
{
	static char body[400];

	memset(body, 'x', sizeof(body));
	REQUIRE(fix_open(150) == 0);
	/* A Size1 claim over max_body: refused before anything is kept. */
	CHECK_EQ(post_block(&fx.cl, 0, 1, body, 400, 400), CODE(4, 13));
	CHECK_EQ(m.size1, 150);
	/* No claim, but the blocks run past max_body. */
	CHECK_EQ(post_block(&fx.cl, 0, 1, body, 400, -1), CODE(2, 31));
	CHECK_EQ(post_block(&fx.cl, 1, 1, body, 400, -1), CODE(2, 31));
	CHECK_EQ(post_block(&fx.cl, 2, 1, body, 400, -1), CODE(4, 13));
	/* A gap. */
	CHECK_EQ(post_block(&fx.cl, 0, 1, body, 400, -1), CODE(2, 31));
	CHECK_EQ(post_block(&fx.cl, 2, 0, body, 150, -1), CODE(4, 8));
	/* A later block with no block 0 before it. */
	CHECK_EQ(post_block(&fx.cl, 1, 0, body, 100, -1), CODE(4, 8));
	CHECK_EQ(fk.ingests, 0);
	fix_close();
}

EH_TEST(block1_one_transfer_at_a_time)
{
	static char body[200];
	struct client other;

	memset(body, 'y', sizeof(body));
	REQUIRE(fix_open(0) == 0);
	REQUIRE(client_open(&other, fx.port) >= 0);
	CHECK_EQ(post_block(&fx.cl, 0, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(post_block(&other, 0, 1, body, 200, -1), CODE(5, 3));
	/* The first client's transfer goes on. */
	CHECK_EQ(post_block(&fx.cl, 1, 1, body, 200, -1), CODE(2, 31));
	/* Abandoned for longer than EH_COAP_ASM_IDLE_MS: another client may take over. */
	fx.fc.mono_ms += EH_COAP_ASM_IDLE_MS;
	CHECK_EQ(post_block(&other, 0, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(post_block(&fx.cl, 2, 1, body, 200, -1), CODE(4, 8));
	CHECK_EQ(post_block(&other, 1, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(post_block(&other, 2, 1, body, 200, -1), CODE(2, 31));
	CHECK_EQ(post_block(&other, 3, 0, body, 200, -1), CODE(2, 4));
	CHECK_EQ(fk.ingests, 1);
	CHECK_EQ(fk.last_len, 200);
	close(other.fd);
	fix_close();
}

/* A retransmitted request (same message id: its answer was lost) is answered again without
 * a second ingest; the same body in a new message is a new notification. */
EH_TEST(retransmitted_post_is_ingested_once)
{
	struct opt ev[] = {PATH("in"), PATH("events")};

	REQUIRE(fix_open(0) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{\"a\":1}", 7, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	fx.cl.mid--; /* the same message again */
	fx.cl.tok--;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{\"a\":1}", 7, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.ingests, 1);
	CHECK_EQ(eh_coap_stats(&fx.coap)->duplicates, 1);
	/* A refused one is refused again, still without a call. */
	fk.answer = ANS_FULL;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(5, 3));
	fx.cl.mid--;
	fx.cl.tok--;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(5, 3));
	CHECK_EQ(fk.ingests, 2);
	/* After EXCHANGE_LIFETIME the id may be reused for a new message. */
	fk.answer = ANS_OK;
	fx.fc.mono_ms += EH_COAP_DEDUP_MS;
	fx.cl.mid--;
	fx.cl.tok--;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.ingests, 3);
	/* A new message with the same body. */
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 2, "{\"a\":1}", 7, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 4));
	CHECK_EQ(fk.ingests, 4);
	fix_close();
}

EH_TEST(wrong_content_format_is_415)
{
	uint8_t cf_text = 0;
	struct opt ev[] = {PATH("in"), PATH("events"), {12, &cf_text, 0}};

	REQUIRE(fix_open(0) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), ev, 3, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 15));
	CHECK_EQ(fk.ingests, 0);
	fix_close();
}

EH_TEST(unknown_paths_404_wrong_methods_405)
{
	struct opt nope[] = {PATH("nope")};
	struct opt in_x[] = {PATH("in"), PATH("alerts")};
	struct opt status[] = {PATH("status")};
	struct opt ev[] = {PATH("in"), PATH("events")};

	REQUIRE(fix_open(0) == 0);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), nope, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), in_x, 2, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 3), nope, 1, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 4));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 2), status, 1, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 5));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 3), status, 1, "{}", 2, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 5));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), ev, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 5));
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 4), ev, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(4, 5));
	CHECK_EQ(fk.ingests, 0);
	fix_close();
}

/* Acknowledge a CON notification so libcoap keeps the observer. */
static void ack(struct client *cl, const struct msg *n)
{
	uint8_t b[4] = {0x60, 0, (uint8_t)(n->mid >> 8), (uint8_t)n->mid};
	ssize_t r = sendto(cl->fd, b, 4, 0, (struct sockaddr *)&cl->to, cl->tolen);
	(void)r;
}

EH_TEST(observe_notifies_at_most_once_a_second)
{
	uint8_t zero = 0;
	struct opt o[] = {{6, &zero, 0}, PATH("status")};
	unsigned obs0;

	REQUIRE(fix_open(0) == 0);
	fk.figure = 1;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 2, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	REQUIRE(m.observe >= 0);
	obs0 = (unsigned)m.observe;
	CHECK_STR((char *)m.payload, "{\"figure\":1,\"pad\":\"\"}");

	/* First change: notified in this turn of the loop. */
	fk.figure = 2;
	eh_coap_status_changed(&fx.coap);
	REQUIRE(client_recv(&fx.cl, &fx.loop, &m, 5) == 0);
	if (m.type == T_CON)
		ack(&fx.cl, &m);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK((unsigned)m.observe > obs0);
	CHECK_STR((char *)m.payload, "{\"figure\":2,\"pad\":\"\"}");
	CHECK_EQ(eh_coap_stats(&fx.coap)->notifies, 1);

	/* Two more changes within the second: nothing yet, whatever the real time. */
	fk.figure = 3;
	eh_coap_status_changed(&fx.coap);
	fx.fc.mono_ms += 500;
	fk.figure = 4;
	eh_coap_status_changed(&fx.coap);
	fx.fc.mono_ms += 499;
	CHECK(client_recv(&fx.cl, &fx.loop, &m, 3) != 0);
	CHECK_EQ(eh_coap_stats(&fx.coap)->notifies, 1);

	/* At one second: one notification carrying the latest figures. */
	fx.fc.mono_ms += 1;
	REQUIRE(client_recv(&fx.cl, &fx.loop, &m, 5) == 0);
	if (m.type == T_CON)
		ack(&fx.cl, &m);
	CHECK_STR((char *)m.payload, "{\"figure\":4,\"pad\":\"\"}");
	CHECK_EQ(eh_coap_stats(&fx.coap)->notifies, 2);
	CHECK(client_recv(&fx.cl, &fx.loop, &m, 2) != 0);
	fix_close();
}

/* Response bodies live in EH_COAP_RESP_SLOTS slots: libcoap must hand each one back after
 * a single-datagram answer, or the fifth GET would be refused. */
EH_TEST(many_gets_do_not_exhaust_slots)
{
	struct opt o[] = {PATH("status")};
	struct opt w[] = {PATH("webhooks"), PATH("7")};

	REQUIRE(fix_open(0) == 0);
	for (int i = 0; i < 4 * EH_COAP_RESP_SLOTS; i++) {
		REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), i % 2 ? o : w, i % 2 ? 1 : 2, NULL,
				  0, &m) == 0);
		CHECK_EQ(m.code, CODE(2, 5));
	}
	fix_close();
}

EH_TEST(large_status_goes_block_wise)
{
	struct opt o[] = {PATH("status")};

	REQUIRE(fix_open(0) == 0);
	fk.status_pad = 3000; /* well over one datagram */
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK(m.plen > 0 && m.plen <= 1024); /* the first block only */
	CHECK(memcmp(m.payload, "{\"figure\":0,\"pad\":\"abc", 22) == 0);
	fix_close();
}

static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* The endpoint adds no thread, and an idle endpoint costs nothing: over two seconds the
 * loop is never woken for it and the process uses (almost) no CPU. Real clock here: the
 * question is what libcoap schedules by itself. */
EH_TEST(no_thread_and_idle_is_free)
{
	struct eh_coap_handlers h = fake_handlers();
	struct eh_loop l;
	static struct eh_coap c;
	int before = task_count();
	struct opt o[] = {PATH("status")};
	struct client cl;

	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .port = free_udp_port()};
	REQUIRE(eh_coap_open(&c, &cfg, &l, &h) == EH_OK);
	CHECK_EQ(task_count(), before);
	/* Serve one request first, so any per-session timers libcoap keeps would show. */
	REQUIRE(client_open(&cl, cfg.port) >= 0);
	REQUIRE(roundtrip(&cl, &l, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK_EQ(task_count(), before);

	uint64_t wake0 = eh_coap_stats(&c)->wakeups, cpu0 = cpu_us(), t0 = eh_time_mono_ms();
	while (eh_time_mono_ms() - t0 < 2000)
		eh_loop_run_once(&l, (int)(2000 - (eh_time_mono_ms() - t0)));
	uint64_t wakes = eh_coap_stats(&c)->wakeups - wake0, cpu = cpu_us() - cpu0;
	printf("  idle 2 s: %llu wake-ups, %llu us cpu, %d threads\n", (unsigned long long)wakes,
	       (unsigned long long)cpu, task_count());
	CHECK_EQ(wakes, 0);
	CHECK(cpu < 20000); /* 20 ms of 2 s: 1%, far below any polling */
	close(cl.fd);
	eh_coap_close(&c);
	CHECK_EQ(task_count(), before);
	eh_loop_deinit(&l);
}

EH_TEST(ipv6_loopback)
{
	struct eh_coap_handlers h = fake_handlers();
	struct eh_loop l;
	static struct eh_coap c;
	struct opt o[] = {PATH("status")};
	struct eh_coap_config cfg = {.bind = "::1", .port = free_udp_port()};
	struct client cl;
	eh_err rc;

	REQUIRE(eh_loop_init(&l, &eh_clock_system) == EH_OK);
	rc = eh_coap_open(&c, &cfg, &l, &h);
	if (rc == EH_ERR_NET) { /* no IPv6 on this host: nothing to test */
		printf("  ::1 unavailable, skipped\n");
		eh_loop_deinit(&l);
		return;
	}
	REQUIRE(rc == EH_OK);
	REQUIRE(client_open6(&cl, cfg.port) >= 0);
	memset(&fk, 0, offsetof(struct fake, last));
	fk.figure = 6;
	REQUIRE(roundtrip(&cl, &l, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	CHECK_STR((char *)m.payload, "{\"figure\":6,\"pad\":\"\"}");
	close(cl.fd);
	eh_coap_close(&c);
	eh_loop_deinit(&l);
}

EH_TEST(close_then_reopen_same_port)
{
	struct eh_coap_handlers h = fake_handlers();
	struct opt o[] = {PATH("status")};
	uint16_t port;

	REQUIRE(fix_open(0) == 0);
	port = fx.port;
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	eh_coap_close(&fx.coap);
	CHECK(!eh_coap_is_open(&fx.coap));
	for (int i = 0; i < EH_LOOP_MAX_FDS; i++)
		CHECK_EQ(fx.loop.fds[i].fd, -1);
	struct eh_coap_config cfg = {.bind = "127.0.0.1", .port = port};
	REQUIRE(eh_coap_open(&fx.coap, &cfg, &fx.loop, &h) == EH_OK);
	REQUIRE(roundtrip(&fx.cl, &fx.loop, CODE(0, 1), o, 1, NULL, 0, &m) == 0);
	CHECK_EQ(m.code, CODE(2, 5));
	fix_close();
}
