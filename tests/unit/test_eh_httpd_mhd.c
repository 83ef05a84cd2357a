/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_httpd_mhd.c - the listener on libmicrohttpd, loaded when it opens: a missing
 * library fails the open (and loads nothing), the real one answers a request on
 * 127.0.0.1 and is unloaded again at close. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eh_httpd.h"
#include "eh_httpd_mhd.h"
#include "eh_log.h"
#include "eh_loop.h"
#include "eh_time.h"

static struct eh_loop loop;
static struct eh_httpd h;
static struct eh_httpd_mhd st;

static size_t status_json(void *ctx, char *buf, size_t cap)
{
	(void)ctx;
	return (size_t)snprintf(buf, cap, "{\"ok\":true}");
}

static size_t metrics(void *ctx, char *buf, size_t cap)
{
	(void)ctx;
	return (size_t)snprintf(buf, cap, "x 1\n");
}

static eh_err ingest(void *ctx, int type, const uint8_t *body, size_t len, size_t *accepted,
		     char *diag, size_t diag_cap)
{
	(void)ctx;
	(void)type;
	(void)body;
	(void)len;
	(void)diag;
	(void)diag_cap;
	*accepted = 1;
	return EH_OK;
}

static const struct eh_httpd_handlers hd = {status_json, metrics, ingest, NULL};

/* A port nobody listens on just now. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &n) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

EH_TEST(a_missing_library_fails_the_open_and_loads_nothing)
{
	struct eh_httpd_config cfg = {.bind = "127.0.0.1", .port = free_port()};

	REQUIRE(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	eh_httpd_mhd_init(&h, &st);
	st.lib_name = "libmicrohttpd-absent.so.12";
	CHECK_EQ(eh_httpd_open(&h, &cfg, &loop, &hd), EH_ERR_NOENT);
	CHECK(st.lib == NULL);
	CHECK_EQ(eh_httpd_port(&h), 0);
	eh_httpd_close(&h); /* safe after a failed open */
	/* off: the library is not even looked for */
	cfg.port = 0;
	CHECK_EQ(eh_httpd_open(&h, &cfg, &loop, &hd), EH_OK);
	CHECK(st.lib == NULL);
	eh_loop_deinit(&loop);
}

EH_TEST(the_library_is_loaded_at_open_serves_and_is_unloaded_at_close)
{
	struct eh_httpd_config cfg = {.bind = "127.0.0.1", .port = free_port()};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char req[] = "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char resp[1024];
	size_t got = 0;
	int fd;

	REQUIRE(cfg.port != 0);
	REQUIRE(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	eh_httpd_mhd_init(&h, &st);
	REQUIRE(eh_httpd_open(&h, &cfg, &loop, &hd) == EH_OK);
	CHECK(st.lib != NULL);
	CHECK_EQ(eh_httpd_port(&h), cfg.port);
	a.sin_port = htons(cfg.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	REQUIRE(fd >= 0);
	(void)connect(fd, (struct sockaddr *)&a, sizeof(a));
	for (int i = 0; i < 200 && got < sizeof(resp) - 1; i++) {
		ssize_t n;
		(void)eh_loop_run_once(&loop, 10);
		if (i == 1)
			CHECK_EQ(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
				 (ssize_t)sizeof(req) - 1);
		n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	resp[got] = '\0';
	close(fd);
	CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
	CHECK(strstr(resp, "{\"ok\":true}") != NULL);
	CHECK_EQ(eh_httpd_stats(&h)->requests, 1);
	eh_httpd_close(&h);
	CHECK(st.lib == NULL);
	CHECK_EQ(eh_httpd_port(&h), 0);
	eh_loop_deinit(&loop);
}
