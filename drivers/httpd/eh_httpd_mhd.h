/* SPDX-License-Identifier: Apache-2.0 */
/* eh_httpd_mhd.h - the HTTP listener on GNU libmicrohttpd (0.9.7x), driven from eh_loop:
 * no thread of its own. Included only by app/main.c and the listener's own tests. */
#ifndef EH_HTTPD_MHD_H
#define EH_HTTPD_MHD_H

#include "eh_httpd.h"

struct MHD_Daemon;

/* The library, loaded by dlopen() when the listener opens (not linked: a daemon without
 * the listener never maps it nor its TLS stack). */
#define EH_HTTPD_MHD_LIB "libmicrohttpd.so.12"
#define EH_HTTPD_MHD_FNS 12 /* room for the library functions resolved at open */

/* One request being served (the library's per-request context points here). */
struct eh_httpd_mhd_req {
	bool busy;     /* taken by a request; released when the library is done */
	bool answered; /* a response is queued: further body bytes are dropped */
	bool too_big;  /* the body went over max_body: 413 at its end */
	struct eh_httpd_route route;
	int slot;   /* body slot, -1 none */
	size_t len; /* body bytes kept so far */
};

/* Caller-allocated backend state (static in main.c): EH_HTTPD_BODY_SLOTS *
 * EH_HTTPD_BODY_CEILING + EH_HTTPD_RESP_MAX bytes and change; the buffers are not touched
 * by init, so untouched pages cost no RAM. */
struct eh_httpd_mhd {
	/* caller may set after eh_httpd_mhd_init (tests): NULL = EH_HTTPD_MHD_LIB */
	const char *lib_name;
	/* internal */
	void *lib;			    /* dlopen handle while open; NULL otherwise */
	void (*fn[EH_HTTPD_MHD_FNS])(void); /* its functions, resolved at open */
	struct MHD_Daemon *d;		    /* NULL: closed or off */
	struct eh_loop *loop;
	struct eh_httpd_handlers h;
	struct eh_httpd_stats stats;
	size_t max_body;
	uint16_t port;
	int fd;		 /* the library's epoll fd, watched by the loop; -1 none */
	uint32_t timer;	 /* loop timer for the library's next timeout; 0 none */
	bool in_service; /* inside MHD_run: do not re-enter */
	uint8_t token[EH_HTTPD_TOKEN_MAX];
	size_t token_len; /* 0: no token required */
	struct eh_httpd_mhd_req reqs[EH_HTTPD_MAX_CONNS];
	bool slot_busy[EH_HTTPD_BODY_SLOTS];
	char diag[EH_HTTPD_DIAG_MAX];
	char small[EH_HTTPD_DIAG_MAX * 6 + 32]; /* short answers: errors, {"accepted": N} */
	char resp[EH_HTTPD_RESP_MAX];
	uint8_t body[EH_HTTPD_BODY_SLOTS][EH_HTTPD_BODY_CEILING];
};

/* Cannot fail: points h at this backend with st as its state, and makes eh_httpd_close()
 * safe. st must outlive h. */
void eh_httpd_mhd_init(struct eh_httpd *h, struct eh_httpd_mhd *st);

#endif /* EH_HTTPD_MHD_H */
