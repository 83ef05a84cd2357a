/* SPDX-License-Identifier: Apache-2.0 */
/* eh_coap_libcoap.c - the CoAP endpoint on libcoap 3 (4.3.x, notls). libcoap owns the UDP
 * socket, sessions and block-wise state and allocates them internally; we watch the one
 * epoll fd it exposes from our loop, call coap_io_process(NO_WAIT) when it is readable and
 * arm a loop timer for its next timeout. Response bodies come from fixed slots in the
 * caller's struct eh_coap. */
#include "eh_coap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "eh_assert.h"
#include "eh_log.h"

/* Content-Format application/json (RFC 7252 section 12.3). */
#define CF_JSON COAP_MEDIATYPE_APPLICATION_JSON
/* libcoap keeps at most this many idle client sessions (each a few hundred bytes). */
#define MAX_IDLE_SESSIONS 32
/* An idle client session is dropped after this many seconds. */
#define SESSION_TIMEOUT_S 60

/* ==== libcoap glue ==== */

/* libcoap's own log lines go through ours at DEBUG: most are about what a peer sent (a
 * reset, a bad option), which a peer must not be able to flood the journal with; what the
 * daemon must know (bind failure, refused setup) this driver logs itself. */
static void coap_log_to_eh(coap_log_t level, const char *message)
{
	char line[200];
	size_t n = strlen(message);

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, message, n);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	line[n] = '\0';
	EH_LOG_DBG("coap", "libcoap(%d): %s", (int)level, line);
}

static struct eh_coap *coap_of(coap_session_t *session)
{
	return coap_get_app_data(coap_session_get_context(session));
}

/* ==== Servicing from the loop ==== */

static void service(struct eh_coap *c);

static void io_timer_cb(struct eh_loop *l, void *arg)
{
	struct eh_coap *c = arg;

	(void)l;
	c->io_timer = 0;
	service(c);
}

static void io_fd_cb(struct eh_loop *l, int fd, unsigned revents, void *arg)
{
	(void)l;
	(void)fd;
	(void)revents;
	service(arg);
}

/* Run libcoap's pending work without waiting, then arm a loop timer for its next
 * deadline (retransmission, block-wise expiry, delayed notifications). libcoap answers 0
 * when it has nothing scheduled: then no timer, and the loop sleeps in poll. */
static void service(struct eh_coap *c)
{
	unsigned int next_ms;
	coap_tick_t now;

	if (c->ctx == NULL || c->in_service)
		return;
	c->in_service = true;
	c->stats.wakeups++;
	if (coap_io_process(c->ctx, COAP_IO_NO_WAIT) < 0)
		EH_LOG_WRN("coap", "coap_io_process failed");
	coap_ticks(&now);
	next_ms = coap_io_prepare_epoll(c->ctx, now);
	c->in_service = false;
	eh_loop_cancel(c->loop, c->io_timer);
	c->io_timer = 0;
	if (next_ms > 0 && eh_loop_after(c->loop, next_ms, io_timer_cb, c, &c->io_timer) != EH_OK)
		EH_LOG_WRN("coap", "no loop timer free for libcoap's next timeout");
}

/* ==== Response slots ==== */

/* libcoap calls this once it no longer needs a body given to it. */
static void slot_release(coap_session_t *session, void *app_ptr)
{
	bool *busy = app_ptr;

	(void)session;
	*busy = false;
}

static int slot_take(struct eh_coap *c)
{
	for (int i = 0; i < EH_COAP_RESP_SLOTS; i++) {
		if (!c->slot_busy[i]) {
			c->slot_busy[i] = true;
			return i;
		}
	}
	return -1;
}

/* Send slot i's len bytes as the JSON body; libcoap splits it into Block2 pieces when it
 * does not fit one datagram and releases the slot after the last one. */
static void slot_send(struct eh_coap *c, int i, size_t len, coap_resource_t *r, coap_session_t *s,
		      const coap_pdu_t *req, coap_pdu_t *resp, const coap_string_t *query)
{
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
	if (!coap_add_data_large_response(r, s, req, resp, query, CF_JSON, -1, 0, len,
					  (const uint8_t *)c->slot[i], slot_release,
					  &c->slot_busy[i])) {
		/* libcoap did not take the body: the slot was not handed over. */
		c->slot_busy[i] = false;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
	}
}

static void answer_text(coap_pdu_t *resp, coap_pdu_code_t code, const char *text)
{
	coap_pdu_set_code(resp, code);
	if (text != NULL && text[0] != '\0')
		coap_add_data(resp, strlen(text), (const uint8_t *)text);
}

/* ==== Resources ==== */

static void hnd_status(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
		       const coap_string_t *query, coap_pdu_t *resp)
{
	struct eh_coap *c = coap_of(s);
	size_t len;
	int i;

	c->stats.requests++;
	if ((i = slot_take(c)) < 0) {
		answer_text(resp, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, "busy");
		return;
	}
	len = c->h.status_json(c->h.ctx, c->slot[i], sizeof(c->slot[i]));
	EH_ASSERT(len <= sizeof(c->slot[i]));
	if (len == 0) {
		/* Nothing usable was written (the figures did not fit): say so. */
		c->slot_busy[i] = false;
		answer_text(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR, "status: does not fit");
		return;
	}
	slot_send(c, i, len, r, s, req, resp, query);
}

/* Parse a decimal webhook id: 1..10 digits, no sign, no leading zero unless "0",
 * at most UINT32_MAX. */
static bool parse_id(const uint8_t *p, size_t n, uint32_t *id)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || (n > 1 && p[0] == '0'))
		return false;
	for (size_t k = 0; k < n; k++) {
		if (p[k] < '0' || p[k] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[k] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* Requests for paths we did not register land here: only GET /webhooks/<id> is served. */
static void hnd_unknown_get(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			    const coap_string_t *query, coap_pdu_t *resp)
{
	struct eh_coap *c = coap_of(s);
	coap_opt_iterator_t oi;
	coap_opt_filter_t f;
	coap_opt_t *opt;
	const uint8_t *seg[3];
	size_t seglen[3];
	unsigned nseg = 0;
	uint32_t id = 0;
	size_t len = 0;
	eh_err rc;
	int i;

	c->stats.requests++;
	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
	coap_option_iterator_init(req, &oi, &f);
	while ((opt = coap_option_next(&oi)) != NULL) {
		if (nseg == 3)
			break;
		seg[nseg] = coap_opt_value(opt);
		seglen[nseg] = coap_opt_length(opt);
		nseg++;
	}
	if (nseg != 2 || seglen[0] != 8 || memcmp(seg[0], "webhooks", 8) != 0 ||
	    !parse_id(seg[1], seglen[1], &id)) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
		return;
	}
	if ((i = slot_take(c)) < 0) {
		answer_text(resp, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, "busy");
		return;
	}
	rc = c->h.webhook_json(c->h.ctx, id, c->slot[i], sizeof(c->slot[i]), &len);
	if (rc != EH_OK) {
		c->slot_busy[i] = false;
		if (rc == EH_ERR_NOENT) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
		} else {
			EH_LOG_WRN("coap", "webhook %u: %s", (unsigned)id, eh_err_str(rc));
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		}
		return;
	}
	EH_ASSERT(len <= sizeof(c->slot[i]));
	slot_send(c, i, len, r, s, req, resp, query);
}

/* Any other method on an unknown path: it does not exist. */
static void hnd_unknown_other(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			      const coap_string_t *query, coap_pdu_t *resp)
{
	(void)r;
	(void)req;
	(void)query;
	coap_of(s)->stats.requests++;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_NOT_FOUND);
}

/* ==== Ingest ==== */

static void answer_too_large(struct eh_coap *c, coap_pdu_t *resp)
{
	uint8_t buf[8];

	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
	coap_add_option(resp, COAP_OPTION_SIZE1,
			coap_encode_var_safe(buf, sizeof(buf), (unsigned)c->max_body), buf);
}

_Static_assert(sizeof(coap_address_t) <= sizeof(((struct eh_coap *)0)->asm_peer),
	       "asm_peer holds a coap_address_t");

static bool is_peer(const unsigned char *peer, coap_session_t *s)
{
	coap_address_t a;

	memcpy(&a, peer, sizeof(a));
	return coap_address_equals(&a, coap_session_get_addr_remote(s));
}

static void set_peer(unsigned char *peer, size_t cap, coap_session_t *s)
{
	memset(peer, 0, cap);
	memcpy(peer, coap_session_get_addr_remote(s), sizeof(coap_address_t));
}

static bool asm_is_peer(const struct eh_coap *c, coap_session_t *s)
{
	return is_peer(c->asm_peer, s);
}

/* ==== Duplicate requests ==== */

/* The answer given to this (client, message id) within EXCHANGE_LIFETIME, or NULL. */
static const struct eh_coap_seen *seen_find(const struct eh_coap *c, coap_session_t *s,
					    uint16_t mid)
{
	uint64_t now = eh_loop_now(c->loop);

	for (unsigned i = 0; i < EH_COAP_DEDUP_SLOTS; i++) {
		const struct eh_coap_seen *e = &c->seen[i];
		if (e->code != 0 && e->mid == mid && now - e->at_ms < EH_COAP_DEDUP_MS &&
		    is_peer(e->peer, s))
			return e;
	}
	return NULL;
}

static void seen_add(struct eh_coap *c, coap_session_t *s, uint16_t mid, coap_pdu_code_t code)
{
	struct eh_coap_seen *e = &c->seen[c->seen_next];

	c->seen_next = (c->seen_next + 1) % EH_COAP_DEDUP_SLOTS;
	set_peer(e->peer, sizeof(e->peer), s);
	e->mid = mid;
	e->code = (uint8_t)code;
	e->at_ms = eh_loop_now(c->loop);
}

/* One Block1 piece of a body. libcoap (COAP_BLOCK_USE_LIBCOAP without SINGLE_BODY) hands
 * each piece over as it arrives and turns our 2.xx into 2.31 Continue while more follow;
 * we keep the pieces in asm_buf, so a body's size is checked before it is stored, and a
 * client's Size1 claim costs nothing. Returns true when data and len hold a whole body. */
static bool take_block(struct eh_coap *c, unsigned type, coap_session_t *s, const coap_pdu_t *req,
		       const coap_block_t *b, const uint8_t **data, size_t *len, coap_pdu_t *resp)
{
	uint64_t bsize = (uint64_t)1 << (b->szx + 4), off = (uint64_t)b->num * bsize;
	uint64_t now = eh_loop_now(c->loop);
	coap_opt_iterator_t oi;
	coap_opt_t *size1 = coap_check_option(req, COAP_OPTION_SIZE1, &oi);
	bool ours = c->asm_busy && c->asm_type == type && asm_is_peer(c, s);

	if ((size1 != NULL &&
	     coap_decode_var_bytes(coap_opt_value(size1), coap_opt_length(size1)) > c->max_body) ||
	    off + *len > c->max_body || (b->m && *len != bsize)) {
		if (ours)
			c->asm_busy = false;
		if (b->m && *len != bsize) {
			answer_text(resp, COAP_RESPONSE_CODE_BAD_REQUEST,
				    "block1: a non-final block must fill its size");
			return false;
		}
		answer_too_large(c, resp);
		return false;
	}
	if (b->num == 0) {
		if (c->asm_busy && !ours && now - c->asm_last_ms < EH_COAP_ASM_IDLE_MS) {
			answer_text(resp, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE,
				    "block1: another transfer is in progress");
			return false;
		}
		c->asm_busy = true;
		c->asm_type = type;
		c->asm_len = 0;
		set_peer(c->asm_peer, sizeof(c->asm_peer), s);
		ours = true;
	}
	if (!ours || off > c->asm_len) {
		if (ours)
			c->asm_busy = false;
		answer_text(resp, COAP_RESPONSE_CODE_INCOMPLETE,
			    "block1: blocks must arrive in order from block 0");
		return false;
	}
	/* off < asm_len: a repeated block (lost ACK); its bytes are already here. */
	if (off + *len > c->asm_len) {
		memcpy(c->asm_buf + off, *data, *len);
		c->asm_len = (size_t)off + *len;
	}
	c->asm_last_ms = now;
	c->stats.blocks++;
	if (b->m) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTINUE);
		return false;
	}
	c->asm_busy = false;
	*data = c->asm_buf;
	*len = c->asm_len;
	return true;
}

/* POST /in/<type>: the body goes to the ingest handler, whose answer maps to the code.
 * 2.04 means the daemon has it queued. */
static void ingest_body(struct eh_coap *c, unsigned type, coap_session_t *s, const coap_pdu_t *req,
			coap_pdu_t *resp)
{
	const uint8_t *data = NULL;
	size_t len = 0, offset = 0, total = 0;
	coap_opt_iterator_t oi;
	coap_opt_t *cf;
	coap_block_t b;
	eh_err rc;

	if (!coap_get_data_large(req, &len, &data, &offset, &total)) {
		len = 0;
		data = (const uint8_t *)"";
	}
	cf = coap_check_option(req, COAP_OPTION_CONTENT_FORMAT, &oi);
	if (cf != NULL &&
	    coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf)) != CF_JSON) {
		c->stats.rejected++;
		answer_text(resp, COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT,
			    "content-format: must be 50 (application/json)");
		return;
	}
	if (coap_get_block(req, COAP_OPTION_BLOCK1, &b)) {
		if (!take_block(c, type, s, req, &b, &data, &len, resp)) {
			if (coap_pdu_get_code(resp) != COAP_RESPONSE_CODE_CONTINUE)
				c->stats.rejected++;
			return;
		}
	} else if (len > c->max_body) {
		c->stats.rejected++;
		answer_too_large(c, resp);
		return;
	}
	c->diag[0] = '\0';
	rc = c->h.ingest(c->h.ctx, type, data, len, c->diag, sizeof(c->diag));
	c->diag[sizeof(c->diag) - 1] = '\0';
	switch (rc) {
	case EH_OK:
		c->stats.ingested++;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
		return;
	case EH_ERR_PROTO:
		answer_text(resp, COAP_RESPONSE_CODE_BAD_REQUEST,
			    c->diag[0] ? c->diag : "payload: not a valid notification");
		break;
	case EH_ERR_TOOBIG:
		answer_too_large(c, resp);
		break;
	case EH_ERR_NOSPC:
		answer_text(resp, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, "queue full");
		break;
	default:
		EH_LOG_WRN("coap", "ingest: %s", eh_err_str(rc));
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		break;
	}
	c->stats.rejected++;
}

static void ingest(unsigned type, coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp)
{
	struct eh_coap *c = coap_of(s);
	uint16_t mid = (uint16_t)coap_pdu_get_mid(req);
	const struct eh_coap_seen *e;
	coap_pdu_code_t code;

	c->stats.requests++;
	if ((e = seen_find(c, s, mid)) != NULL) {
		c->stats.duplicates++;
		coap_pdu_set_code(resp, (coap_pdu_code_t)e->code);
		return;
	}
	ingest_body(c, type, s, req, resp);
	/* 2.31 pieces need no entry: a repeated piece is recognised by its offset. */
	if ((code = coap_pdu_get_code(resp)) != COAP_RESPONSE_CODE_CONTINUE)
		seen_add(c, s, mid, code);
}

#define INGEST_HANDLER(name, type)                                                                 \
	static void name(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,             \
			 const coap_string_t *query, coap_pdu_t *resp)                             \
	{                                                                                          \
		(void)r;                                                                           \
		(void)query;                                                                       \
		ingest((type), s, req, resp);                                                      \
	}
INGEST_HANDLER(hnd_in_events, 0)
INGEST_HANDLER(hnd_in_episodes, 1)
INGEST_HANDLER(hnd_in_counters, 2)

/* ==== Setup ==== */

/* Register one resource; libcoap owns it from here (freed with the context). */
static coap_resource_t *add_resource(coap_context_t *ctx, const char *path, coap_request_t m,
				     coap_method_handler_t fn, const char *rt)
{
	coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);

	if (r == NULL)
		return NULL;
	coap_register_handler(r, m, fn);
	coap_add_attr(r, coap_make_str_const("ct"), coap_make_str_const("50"), 0);
	coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const(rt), 0);
	coap_add_resource(ctx, r);
	return r;
}

static eh_err parse_bind(const char *bind, uint16_t port, coap_address_t *a)
{
	coap_address_init(a);
	if (bind == NULL || bind[0] == '\0')
		bind = "127.0.0.1";
	if (inet_pton(AF_INET, bind, &a->addr.sin.sin_addr) == 1) {
		a->addr.sin.sin_family = AF_INET;
		a->addr.sin.sin_port = htons(port);
		a->size = sizeof(a->addr.sin);
		return EH_OK;
	}
	if (inet_pton(AF_INET6, bind, &a->addr.sin6.sin6_addr) == 1) {
		a->addr.sin6.sin6_family = AF_INET6;
		a->addr.sin6.sin6_port = htons(port);
		a->size = sizeof(a->addr.sin6);
		return EH_OK;
	}
	return EH_ERR_INVAL;
}

/* libcoap sets SO_REUSEADDR on its UDP socket, so a second daemon on the same port would
 * bind happily and take part of the traffic. A plain bind first says whether anyone holds
 * the port; the window until libcoap binds is a few microseconds at startup. */
static bool port_is_free(const coap_address_t *a)
{
	int fd = socket(a->addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return true; /* cannot tell: let libcoap try */
	ok = bind(fd, &a->addr.sa, a->size) == 0;
	close(fd);
	return ok;
}

void eh_coap_init(struct eh_coap *c)
{
	EH_ASSERT(c != NULL);
	memset(c, 0, offsetof(struct eh_coap, slot));
	c->fd = -1;
}

eh_err eh_coap_open(struct eh_coap *c, const struct eh_coap_config *cfg, struct eh_loop *loop,
		    const struct eh_coap_handlers *h)
{
	eh_err rc = EH_ERR_INVAL;
	coap_address_t addr;
	coap_resource_t *r;

	EH_ASSERT(c != NULL && cfg != NULL && loop != NULL && h != NULL);
	EH_ASSERT(h->status_json != NULL && h->webhook_json != NULL && h->ingest != NULL);
	eh_coap_init(c);
	if (cfg->port == 0)
		return EH_OK;
	if (cfg->max_body > EH_COAP_BODY_CEILING) {
		EH_LOG_ERR("coap", "coap.max_body: %zu is over %u", cfg->max_body,
			   EH_COAP_BODY_CEILING);
		return EH_ERR_INVAL;
	}
	if (parse_bind(cfg->bind, cfg->port, &addr) != EH_OK) {
		EH_LOG_ERR("coap", "coap.bind: \"%s\" is not a numeric IPv4 or IPv6 address",
			   cfg->bind);
		return EH_ERR_INVAL;
	}
	c->loop = loop;
	c->h = *h;
	c->max_body = cfg->max_body ? cfg->max_body : EH_COAP_BODY_CEILING;
	c->port = cfg->port;

	coap_startup();
	coap_set_log_handler(coap_log_to_eh);
	coap_set_log_level(LOG_WARNING);
	rc = EH_ERR_IO;
	if ((c->ctx = coap_new_context(NULL)) == NULL)
		goto out;
	coap_set_app_data(c->ctx, c);
	/* Not COAP_BLOCK_SINGLE_BODY: libcoap would then build Block1 bodies itself, in a
	 * buffer sized by the client's Size1 claim. take_block() keeps them in ours. */
	coap_context_set_block_mode(c->ctx, COAP_BLOCK_USE_LIBCOAP);
	coap_context_set_max_idle_sessions(c->ctx, MAX_IDLE_SESSIONS);
	coap_context_set_session_timeout(c->ctx, SESSION_TIMEOUT_S);
	if (!port_is_free(&addr) || coap_new_endpoint(c->ctx, &addr, COAP_PROTO_UDP) == NULL) {
		EH_LOG_ERR("coap", "coap.port: cannot bind udp port %u on %s (in use?)",
			   (unsigned)cfg->port,
			   cfg->bind && cfg->bind[0] ? cfg->bind : "127.0.0.1");
		rc = EH_ERR_NET;
		goto out;
	}
	rc = EH_ERR_IO;
	c->status = add_resource(c->ctx, "status", COAP_REQUEST_GET, hnd_status, "edgehook.status");
	if (c->status == NULL)
		goto out;
	coap_resource_set_get_observable(c->status, 1); /* libcoap adds "obs" to the link */
	if (add_resource(c->ctx, "in/events", COAP_REQUEST_POST, hnd_in_events, "edgehook.in") ==
		NULL ||
	    add_resource(c->ctx, "in/episodes", COAP_REQUEST_POST, hnd_in_episodes,
			 "edgehook.in") == NULL ||
	    add_resource(c->ctx, "in/counters", COAP_REQUEST_POST, hnd_in_counters,
			 "edgehook.in") == NULL)
		goto out;
	if ((r = coap_resource_unknown_init2(hnd_unknown_other, 0)) == NULL)
		goto out;
	coap_register_handler(r, COAP_REQUEST_GET, hnd_unknown_get);
	coap_register_handler(r, COAP_REQUEST_POST, hnd_unknown_other);
	coap_register_handler(r, COAP_REQUEST_DELETE, hnd_unknown_other);
	coap_add_resource(c->ctx, r);
	/* -1 when libcoap was built without epoll: it would then want its own select(). */
	if ((c->fd = coap_context_get_coap_fd(c->ctx)) < 0) {
		EH_LOG_ERR("coap", "libcoap lacks epoll support; cannot serve from the loop");
		goto out;
	}
	if ((rc = eh_loop_watch(loop, c->fd, EH_LOOP_IN, io_fd_cb, c)) != EH_OK)
		goto out;
	{
		const char *b = cfg->bind && cfg->bind[0] ? cfg->bind : "127.0.0.1";
		bool v6 = strchr(b, ':') != NULL;
		EH_LOG_INF("coap", "serving coap://%s%s%s:%u", v6 ? "[" : "", b, v6 ? "]" : "",
			   (unsigned)cfg->port);
	}
	service(c);
	return EH_OK;
out:
	eh_coap_close(c);
	return rc;
}

/* ==== Observe ==== */

static void notify_cb(struct eh_loop *l, void *arg)
{
	struct eh_coap *c = arg;

	c->notify_timer = 0;
	c->last_notify_ms = eh_loop_now(l);
	c->notified_once = true;
	c->stats.notifies++;
	coap_resource_notify_observers(c->status, NULL);
	service(c);
}

void eh_coap_status_changed(struct eh_coap *c)
{
	uint64_t now, delay = 0;

	EH_ASSERT(c != NULL);
	if (c->ctx == NULL || c->notify_timer != 0)
		return; /* off, or a round is already due: it will carry this change */
	now = eh_loop_now(c->loop);
	if (c->notified_once && now < c->last_notify_ms + EH_COAP_NOTIFY_MIN_MS)
		delay = c->last_notify_ms + EH_COAP_NOTIFY_MIN_MS - now;
	if (eh_loop_after(c->loop, delay, notify_cb, c, &c->notify_timer) != EH_OK)
		EH_LOG_WRN("coap", "no loop timer free for an observe notification");
}

/* ==== Queries and teardown ==== */

bool eh_coap_is_open(const struct eh_coap *c)
{
	return c->ctx != NULL;
}

uint16_t eh_coap_port(const struct eh_coap *c)
{
	return c->ctx != NULL ? c->port : 0;
}

const struct eh_coap_stats *eh_coap_stats(const struct eh_coap *c)
{
	return &c->stats;
}

void eh_coap_close(struct eh_coap *c)
{
	EH_ASSERT(c != NULL);
	if (c->loop != NULL) {
		if (c->fd >= 0)
			eh_loop_unwatch(c->loop, c->fd);
		eh_loop_cancel(c->loop, c->io_timer);
		eh_loop_cancel(c->loop, c->notify_timer);
	}
	c->fd = -1;
	c->io_timer = 0;
	c->notify_timer = 0;
	if (c->ctx != NULL) {
		/* Frees sessions, endpoints, resources and block-wise state; pending bodies
		 * come back through slot_release. */
		coap_free_context(c->ctx);
		c->ctx = NULL;
		coap_cleanup();
	} else if (c->loop != NULL) {
		coap_cleanup();
	}
	c->status = NULL;
	c->loop = NULL;
}
