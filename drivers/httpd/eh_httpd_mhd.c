/* SPDX-License-Identifier: Apache-2.0 */
/* eh_httpd_mhd.c - the HTTP listener on GNU libmicrohttpd 0.9.7x. The library owns the
 * listening socket and the connections and allocates their buffers internally; it runs
 * with "external" epoll polling: we watch the one epoll fd it exposes from our loop, call
 * MHD_run() when it is readable and arm a loop timer for MHD_get_timeout(). Request
 * bodies are gathered into fixed slots in the caller's struct eh_httpd_mhd. */
#include "eh_httpd_mhd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "eh_log.h"

/* Bytes of the library's per-connection pool: request line, headers and the read buffer
 * body bytes pass through on their way into a body slot. */
#define CONN_MEMORY 32768u

/* ==== Loop glue ==== */

static void service(struct eh_httpd_mhd *st);

static void timer_cb(struct eh_loop *l, void *arg)
{
	struct eh_httpd_mhd *st = arg;

	(void)l;
	st->timer = 0;
	service(st);
}

static void fd_cb(struct eh_loop *l, int fd, unsigned revents, void *arg)
{
	(void)l;
	(void)fd;
	(void)revents;
	service(arg);
}

/* Let the library accept, read, call our handler and write, without waiting; then arm a
 * loop timer for its next deadline. MHD_get_timeout() answers 0 when it has work left
 * (data already read, a response to push): the timer then fires on the next iteration.
 * MHD_NO means nothing is scheduled: the loop sleeps in poll on the epoll fd. */
static void service(struct eh_httpd_mhd *st)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (st->d == NULL || st->in_service)
		return;
	st->in_service = true;
	st->stats.wakeups++;
	if (MHD_run(st->d) != MHD_YES)
		EH_LOG_WRN("httpd", "MHD_run failed");
	st->in_service = false;
	eh_loop_cancel(st->loop, st->timer);
	st->timer = 0;
	if (MHD_get_timeout(st->d, &ms) != MHD_YES)
		return;
	if (eh_loop_after(st->loop, (uint64_t)ms, timer_cb, st, &st->timer) != EH_OK)
		EH_LOG_WRN("httpd", "no loop timer free for the listener's next timeout");
}

/* The library's own messages are about what a client did (a reset, a bad request line),
 * which a client must not be able to flood the journal with: DEBUG only. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[200];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	EH_LOG_DBG("httpd", "libmicrohttpd: %s", line);
}

/* ==== Answers ==== */

/* Queue a response with a copy of body; extra headers are optional. */
static enum MHD_Result answer(struct eh_httpd_mhd *st, struct MHD_Connection *c,
			      struct eh_httpd_mhd_req *r, unsigned code, const char *ctype,
			      const char *body, size_t len, const char *hname, const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO; /* out of memory: the library closes the connection */
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (hname != NULL)
		MHD_add_response_header(resp, hname, hval);
	ok = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	if (r != NULL)
		r->answered = true;
	st->stats.requests++;
	return ok;
}

static enum MHD_Result answer_error(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				    struct eh_httpd_mhd_req *r, unsigned code, const char *diag,
				    const char *hname, const char *hval)
{
	size_t n = eh_httpd_error_body(diag, st->small, sizeof(st->small));

	if (r != NULL && r->route.target == EH_HTTPD_INGEST)
		st->stats.rejected++;
	return answer(st, c, r, code, "application/json", st->small, n, hname, hval);
}

static enum MHD_Result answer_busy(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				   struct eh_httpd_mhd_req *r, const char *diag)
{
	char after[12];

	snprintf(after, sizeof(after), "%u", EH_HTTPD_RETRY_AFTER_S);
	return answer_error(st, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, diag,
			    MHD_HTTP_HEADER_RETRY_AFTER, after);
}

static enum MHD_Result answer_too_big(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				      struct eh_httpd_mhd_req *r)
{
	char diag[96];

	snprintf(diag, sizeof(diag), "body: over the %zu byte limit", st->max_body);
	return answer_error(st, c, r, MHD_HTTP_CONTENT_TOO_LARGE, diag, NULL, NULL);
}

/* GET /status and /metrics: rendered into the response buffer, copied by the library. */
static enum MHD_Result answer_get(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				  struct eh_httpd_mhd_req *r)
{
	bool status = r->route.target == EH_HTTPD_STATUS;
	size_t n = status ? st->h.status_json(st->h.ctx, st->resp, sizeof(st->resp))
			  : st->h.metrics(st->h.ctx, st->resp, sizeof(st->resp));

	EH_ASSERT(n <= sizeof(st->resp));
	if (n == 0)
		return answer_error(st, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    status ? "status: does not fit" : "metrics: do not fit", NULL,
				    NULL);
	return answer(st, c, r, MHD_HTTP_OK,
		      status ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
		      st->resp, n, NULL, NULL);
}

/* The whole body is here: hand it over; the handler's code says what to answer. */
static enum MHD_Result answer_ingest(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				     struct eh_httpd_mhd_req *r)
{
	size_t accepted = 0, n;
	eh_err rc;

	st->diag[0] = '\0';
	rc = st->h.ingest(st->h.ctx, r->route.type, st->body[r->slot], r->len, &accepted, st->diag,
			  sizeof(st->diag));
	st->diag[sizeof(st->diag) - 1] = '\0';
	switch (rc) {
	case EH_OK:
		st->stats.ingested++;
		n = (size_t)snprintf(st->small, sizeof(st->small), "{\"accepted\": %zu}", accepted);
		return answer(st, c, r, MHD_HTTP_OK, "application/json", st->small, n, NULL, NULL);
	case EH_ERR_PROTO:
		return answer_error(st, c, r, MHD_HTTP_BAD_REQUEST,
				    st->diag[0] ? st->diag : "body: not a valid notification", NULL,
				    NULL);
	case EH_ERR_TOOBIG:
		return answer_error(st, c, r, MHD_HTTP_CONTENT_TOO_LARGE,
				    st->diag[0] ? st->diag : "body: too large", NULL, NULL);
	case EH_ERR_NOSPC:
		return answer_busy(st, c, r, st->diag[0] ? st->diag : "queue full");
	default:
		EH_LOG_WRN("httpd", "ingest: %s", eh_err_str(rc));
		return answer_error(st, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, eh_err_str(rc), NULL,
				    NULL);
	}
}

/* ==== Requests ==== */

static struct eh_httpd_mhd_req *req_take(struct eh_httpd_mhd *st)
{
	for (unsigned i = 0; i < EH_HTTPD_MAX_CONNS; i++) {
		struct eh_httpd_mhd_req *r = &st->reqs[i];
		if (!r->busy) {
			memset(r, 0, sizeof(*r));
			r->busy = true;
			r->slot = -1;
			return r;
		}
	}
	return NULL;
}

static int slot_take(struct eh_httpd_mhd *st)
{
	for (int i = 0; i < EH_HTTPD_BODY_SLOTS; i++) {
		if (!st->slot_busy[i]) {
			st->slot_busy[i] = true;
			return i;
		}
	}
	return -1;
}

/* The request line and headers are in: route, check the token and the announced size,
 * and answer at once whatever needs no body. */
static enum MHD_Result request_begin(struct eh_httpd_mhd *st, struct MHD_Connection *c,
				     struct eh_httpd_mhd_req *r, const char *url,
				     const char *method)
{
	const char *auth, *clen;

	eh_httpd_route(method, url, &r->route);
	if (r->route.target == EH_HTTPD_NOT_FOUND)
		return answer_error(st, c, r, MHD_HTTP_NOT_FOUND, "no such path", NULL, NULL);
	if (r->route.target == EH_HTTPD_BAD_METHOD)
		return answer_error(st, c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
				    MHD_HTTP_HEADER_ALLOW, r->route.allow);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!eh_httpd_token_ok(auth, st->token, st->token_len)) {
		st->stats.unauthorized++;
		return answer_error(st, c, r, MHD_HTTP_UNAUTHORIZED,
				    auth ? "authorization: wrong token"
					 : "authorization: a bearer token is required",
				    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	}
	if (r->route.target != EH_HTTPD_INGEST)
		return answer_get(st, c, r);
	clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen != NULL && strtoull(clen, NULL, 10) > st->max_body)
		return answer_too_big(st, c, r);
	if ((r->slot = slot_take(st)) < 0)
		return answer_busy(st, c, r, "busy: other bodies are being received");
	return MHD_YES;
}

/* The access handler: called once with the headers, then once per piece of body, then
 * once more with *upload_data_size == 0 when the body is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct eh_httpd_mhd *st = cls;
	struct eh_httpd_mhd_req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		if ((r = req_take(st)) == NULL)
			return answer_busy(st, c, NULL, "busy: too many requests");
		*con_cls = r;
		return request_begin(st, c, r, url, method);
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0; /* consumed, kept or dropped */
		if (r->answered || r->slot < 0)
			return MHD_YES;
		if (n > st->max_body - r->len || r->too_big) {
			r->too_big = true; /* read on, so the client gets its 413 */
			return MHD_YES;
		}
		memcpy(st->body[r->slot] + r->len, upload_data, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	if (r->route.target != EH_HTTPD_INGEST || r->slot < 0)
		return MHD_NO; /* cannot happen: everything else is answered at the start */
	if (r->too_big)
		return answer_too_big(st, c, r);
	return answer_ingest(st, c, r);
}

/* The library is done with a request (answered, failed or timed out): free its context
 * and body slot. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct eh_httpd_mhd *st = cls;
	struct eh_httpd_mhd_req *r = *con_cls;

	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	if (r->slot >= 0)
		st->slot_busy[r->slot] = false;
	r->busy = false;
	*con_cls = NULL;
}

/* ==== Ops ==== */

static eh_err parse_bind(const char *bind, uint16_t port, struct sockaddr_storage *ss, bool *v6)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (bind == NULL || bind[0] == '\0')
		bind = "127.0.0.1";
	if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*v6 = false;
		return EH_OK;
	}
	if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*v6 = true;
		return EH_OK;
	}
	return EH_ERR_INVAL;
}

static void mhd_close(struct eh_httpd *h)
{
	struct eh_httpd_mhd *st = h->state;

	if (st->fd >= 0)
		eh_loop_unwatch(st->loop, st->fd);
	st->fd = -1;
	if (st->timer != 0)
		eh_loop_cancel(st->loop, st->timer);
	st->timer = 0;
	if (st->d != NULL)
		MHD_stop_daemon(st->d); /* completes every open request (on_completed) */
	st->d = NULL;
	st->port = 0;
}

static eh_err mhd_open(struct eh_httpd *h, const struct eh_httpd_config *cfg, struct eh_loop *loop,
		       const struct eh_httpd_handlers *hd)
{
	struct eh_httpd_mhd *st = h->state;
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	bool v6 = false;
	eh_err rc = EH_ERR_INVAL;

	EH_ASSERT(st->d == NULL);
	if (cfg->port == 0)
		return EH_OK;
	if (cfg->max_body > EH_HTTPD_BODY_CEILING || cfg->token_len > EH_HTTPD_TOKEN_MAX ||
	    (cfg->token != NULL && cfg->token_len == 0) ||
	    parse_bind(cfg->bind, cfg->port, &ss, &v6) != EH_OK)
		return EH_ERR_INVAL;
	st->loop = loop;
	st->h = *hd;
	st->max_body = cfg->max_body ? cfg->max_body : EH_HTTPD_BODY_CEILING;
	st->token_len = cfg->token != NULL ? cfg->token_len : 0;
	if (st->token_len)
		memcpy(st->token, cfg->token, st->token_len);
	memset(st->reqs, 0, sizeof(st->reqs));
	memset(st->slot_busy, 0, sizeof(st->slot_busy));
	if (v6)
		flags |= MHD_USE_IPv6;
	st->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, st, MHD_OPTION_SOCK_ADDR,
				 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				 (unsigned)EH_HTTPD_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
				 (unsigned)EH_HTTPD_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				 (size_t)CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, st,
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, st, MHD_OPTION_END);
	if (st->d == NULL) {
		EH_LOG_ERR("httpd",
			   "cannot listen on %s port %u (in use, or not an address of "
			   "this host)",
			   cfg->bind && cfg->bind[0] ? cfg->bind : "127.0.0.1", cfg->port);
		return EH_ERR_NET;
	}
	info = MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		EH_LOG_ERR("httpd", "libmicrohttpd gives no epoll fd");
		rc = EH_ERR_IO;
		goto out;
	}
	if ((rc = eh_loop_watch(loop, info->epoll_fd, EH_LOOP_IN, fd_cb, st)) != EH_OK)
		goto out;
	st->fd = info->epoll_fd;
	info = MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_BIND_PORT);
	st->port = info != NULL ? info->port : cfg->port;
	EH_LOG_INF("httpd", "listening on %s port %u%s",
		   cfg->bind && cfg->bind[0] ? cfg->bind : "127.0.0.1", st->port,
		   st->token_len ? " (bearer token required)" : "");
	service(st);
	return EH_OK;
out:
	mhd_close(h);
	return rc;
}

static uint16_t mhd_port(const struct eh_httpd *h)
{
	const struct eh_httpd_mhd *st = h->state;

	return st->d != NULL ? st->port : 0;
}

static const struct eh_httpd_stats *mhd_stats(const struct eh_httpd *h)
{
	const struct eh_httpd_mhd *st = h->state;

	return &st->stats;
}

static const struct eh_httpd_ops mhd_ops = {mhd_open, mhd_port, mhd_stats, mhd_close};

void eh_httpd_mhd_init(struct eh_httpd *h, struct eh_httpd_mhd *st)
{
	EH_ASSERT(h != NULL && st != NULL);
	memset(st, 0, offsetof(struct eh_httpd_mhd, small));
	st->fd = -1;
	h->ops = &mhd_ops;
	h->state = st;
	h->name = "libmicrohttpd";
}
