/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_transport.c - the transports below the HTTP client: the plain
 * TCP backend against a loopback listener (connect, short reads, orderly
 * close, refusal), the TLS pool's CA-file errors, and the iPAddress SAN
 * check that mbedTLS 2.28 lacks, on certificates made with openssl. */
#define _GNU_SOURCE
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_tls_pool.h"
#include "eh_transport.h"
#include "eh_transport_mbedtls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* openssl req -x509 ... -addext "subjectAltName=DNS:example.org,IP:127.0.0.1,IP:::1" */
static const char san_pem[] = "-----BEGIN CERTIFICATE-----\n"
			      "MIIBwDCCAWWgAwIBAgIUPp+E156WJqsB3LTXNFQKjh2uFowwCgYIKoZIzj0EAwIw\n"
			      "HDEaMBgGA1UEAwwRZWRnZWhvb2sgc2FuIHRlc3QwHhcNMjYxMTI5MTAxMjAyWhcN\n"
			      "MzYxMTI2MTAxMjAyWjAcMRowGAYDVQQDDBFlZGdlaG9vayBzYW4gdGVzdDBZMBMG\n"
			      "ByqGSM49AgEGCCqGSM49AwEHA0IABGTrOYxuLlcq3nXXa88qpsHC6/pvOjHAsFMI\n"
			      "tjLUeYDCTfEzhdvDNFw5D/5c3ytvEacy9PdJGp43k+e90YmmNrujgYQwgYEwHQYD\n"
			      "VR0OBBYEFDddhCFI8LhuOtnja2eDe2ca6gCZMB8GA1UdIwQYMBaAFDddhCFI8Lhu\n"
			      "Otnja2eDe2ca6gCZMA8GA1UdEwEB/wQFMAMBAf8wLgYDVR0RBCcwJYILZXhhbXBs\n"
			      "ZS5vcmeHBH8AAAGHEAAAAAAAAAAAAAAAAAAAAAEwCgYIKoZIzj0EAwIDSQAwRgIh\n"
			      "APS4jIQ0kCnXvmf8Pco2zQuLQ7HJIvd+o05iDaTocRHgAiEA26Mxn0sYKIy1XyCQ\n"
			      "9SQJ9dVfWFRvPMPzL74bakR/N/A=\n"
			      "-----END CERTIFICATE-----\n";
/* the same without any subjectAltName, CN=127.0.0.1 */
static const char nosan_pem[] = "-----BEGIN CERTIFICATE-----\n"
				"MIIBfTCCASOgAwIBAgIUDOgydLzK9Hanb9gD7RfhqHPMxRwwCgYIKoZIzj0EAwIw\n"
				"FDESMBAGA1UEAwwJMTI3LjAuMC4xMB4XDTI2MTEyOTEwMTIwMloXDTM2MTEyNjEw\n"
				"MTIwMlowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
				"AQcDQgAEuafAQhvmQB42otQkkMS736jPCJYtq/y3LxDXpbMIlcDRk0yXyfdWi5CV\n"
				"ovIHrfXx6+KsyeS+EGa9COsdaEXPJ6NTMFEwHQYDVR0OBBYEFO6ZAz64+foA1bgN\n"
				"AEKJ5awsjjKEMB8GA1UdIwQYMBaAFO6ZAz64+foA1bgNAEKJ5awsjjKEMA8GA1Ud\n"
				"EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgSeyU/gorcwHQFGwH4i2QRxuE\n"
				"GQVT1Rg8ap0B3+sllTwCIQDpA4NR+Zkq/mWO0tD6vjOkRakY6torq4nPIx2JkWiI\n"
				"pQ==\n"
				"-----END CERTIFICATE-----\n";

static int parse(mbedtls_x509_crt *crt, const char *pem)
{
	mbedtls_x509_crt_init(crt);
	return mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
}

EH_TEST(ip_san_match)
{
	mbedtls_x509_crt crt;
	uint8_t v4[4] = {127, 0, 0, 1}, other[4] = {127, 0, 0, 2}, wrong[4] = {10, 9, 9, 9};
	uint8_t v6[16] = {0};

	v6[15] = 1;
	REQUIRE(parse(&crt, san_pem) == 0);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, v4, 4), 1);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, v6, 16), 1);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, other, 4), 0);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, wrong, 4), 0);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, v4, 3), 0); /* length must match too */
	mbedtls_x509_crt_free(&crt);
	/* A CN that spells the address is not an iPAddress entry. */
	REQUIRE(parse(&crt, nosan_pem) == 0);
	CHECK_EQ(eh_tls_cert_has_ip(&crt, v4, 4), 0);
	mbedtls_x509_crt_free(&crt);
	CHECK_EQ(eh_tls_cert_has_ip(NULL, v4, 4), 0);
}

EH_TEST(ip_san_survives_truncated_extensions)
{
	mbedtls_x509_crt crt;
	uint8_t v4[4] = {127, 0, 0, 1};
	size_t len;

	REQUIRE(parse(&crt, san_pem) == 0);
	/* Every shorter view of the extension block must fail closed. */
	len = crt.v3_ext.len;
	for (size_t n = 0; n < len; n++) {
		crt.v3_ext.len = n;
		CHECK_EQ(eh_tls_cert_has_ip(&crt, v4, 4), 0);
	}
	crt.v3_ext.len = len;
	CHECK_EQ(eh_tls_cert_has_ip(&crt, v4, 4), 1);
	mbedtls_x509_crt_free(&crt);
}

EH_TEST(tls_pool_ca_file_errors)
{
	static struct eh_tls_pool pool;
	char path[] = "/tmp/eh-transport-XXXXXX";
	int fd;

	eh_tls_pool_init(&pool);
	CHECK_EQ(eh_tls_pool_open(&pool, "/nonexistent/ca.pem"), EH_ERR_NOENT);
	eh_tls_pool_free(&pool);
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	CHECK(write(fd, "not a certificate\n", 18) == 18);
	close(fd);
	eh_tls_pool_init(&pool);
	CHECK_EQ(eh_tls_pool_open(&pool, path), EH_ERR_TLS);
	eh_tls_pool_free(&pool);
	fd = open(path, O_WRONLY | O_TRUNC);
	REQUIRE(fd >= 0);
	CHECK(write(fd, san_pem, strlen(san_pem)) == (ssize_t)strlen(san_pem));
	close(fd);
	eh_tls_pool_init(&pool);
	CHECK_EQ(eh_tls_pool_open(&pool, path), EH_OK);
	struct eh_transport_route tls = {true, NULL, 0, 0}, tcp = {false, NULL, 0, 0};
	struct eh_transport_route px = {false, "127.0.0.1", 3128, 0};
	CHECK(eh_tls_pool_transport(&pool, 0, &tls) != eh_tls_pool_transport(&pool, 0, &tcp));
	CHECK_STR(eh_tls_pool_transport(&pool, 1, &tls)->name, "mbedtls");
	CHECK_STR(eh_tls_pool_transport(&pool, 1, &tcp)->name, "tcp");
	CHECK_STR(eh_tls_pool_transport(&pool, 1, &px)->name, "proxy");
	eh_tls_pool_free(&pool);
	unlink(path);
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s, 4) != 0)
		return -1;
	getsockname(s, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	return s;
}

/* Drive an operation that may return EH_ERR_AGAIN, waiting on the fd. */
static void wait_fd(struct eh_transport *t)
{
	struct pollfd p = {eh_transport_pollfd(t), 0, 0};
	p.events = (eh_transport_want(t) & EH_TRANSPORT_WANT_WRITE) ? POLLOUT : POLLIN;
	poll(&p, 1, 2000);
}

EH_TEST(tcp_transport_round_trip_and_close)
{
	struct eh_transport t;
	struct eh_transport_tcp st;
	uint16_t port = 0;
	int ls = listener(&port), peer;
	eh_err rc;
	size_t n = 0, got = 0;
	char buf[16];

	REQUIRE(ls >= 0);
	eh_transport_tcp_init(&t, &st);
	CHECK_EQ(eh_transport_pollfd(&t), -1);
	while ((rc = eh_transport_connect(&t, "127.0.0.1", port)) == EH_ERR_AGAIN)
		wait_fd(&t);
	REQUIRE(rc == EH_OK);
	peer = accept(ls, NULL, NULL);
	REQUIRE(peer >= 0);
	while ((rc = eh_transport_send(&t, "ping", 4, &n)) == EH_ERR_AGAIN)
		wait_fd(&t);
	CHECK(rc == EH_OK && n == 4);
	CHECK(read(peer, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0);
	/* nothing to read yet: AGAIN, never a block */
	CHECK_EQ(eh_transport_recv(&t, buf, sizeof(buf), &n), EH_ERR_AGAIN);
	CHECK(write(peer, "pong!", 5) == 5);
	while (got < 5) {
		/* short reads: ask for 2 bytes at a time */
		rc = eh_transport_recv(&t, buf + got, 2, &n);
		if (rc == EH_ERR_AGAIN) {
			wait_fd(&t);
			continue;
		}
		REQUIRE(rc == EH_OK);
		CHECK(n <= 2);
		got += n;
	}
	CHECK(memcmp(buf, "pong!", 5) == 0);
	close(peer);
	while ((rc = eh_transport_recv(&t, buf, sizeof(buf), &n)) == EH_ERR_AGAIN)
		wait_fd(&t);
	CHECK_EQ(rc, EH_ERR_CLOSED);
	eh_transport_close(&t);
	eh_transport_close(&t); /* idempotent */
	CHECK_EQ(eh_transport_pollfd(&t), -1);
	close(ls);
}

EH_TEST(tcp_transport_refused)
{
	struct eh_transport t;
	struct eh_transport_tcp st;
	uint16_t port = 0;
	int ls = listener(&port);
	eh_err rc;

	REQUIRE(ls >= 0);
	close(ls); /* nobody listens there any more */
	eh_transport_tcp_init(&t, &st);
	while ((rc = eh_transport_connect(&t, "127.0.0.1", port)) == EH_ERR_AGAIN)
		wait_fd(&t);
	CHECK_EQ(rc, EH_ERR_NET);
	CHECK(strstr(eh_transport_error(&t), "cannot connect to 127.0.0.1:") != NULL);
	eh_transport_close(&t);
}
