/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_httpd.c - the listener's own request handling, no sockets: which method and
 * path mean what, the bearer token check, and the JSON error body. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_httpd.h"

static struct eh_httpd_route route(const char *m, const char *p)
{
	struct eh_httpd_route r;
	eh_httpd_route(m, p, &r);
	return r;
}

EH_TEST(routes)
{
	CHECK_EQ(route("POST", "/in").target, EH_HTTPD_INGEST);
	CHECK_EQ(route("POST", "/in").type, EH_HTTPD_TYPE_AUTO);
	CHECK_EQ(route("POST", "/in/").target, EH_HTTPD_INGEST);
	CHECK_EQ(route("POST", "/in?src=ffsec").target, EH_HTTPD_INGEST);
	CHECK_EQ(route("POST", "/in/events").type, 0);
	CHECK_EQ(route("POST", "/in/episodes").type, 1);
	CHECK_EQ(route("POST", "/in/counters/").type, 2);
	CHECK_EQ(route("GET", "/status").target, EH_HTTPD_STATUS);
	CHECK_EQ(route("HEAD", "/status").target, EH_HTTPD_STATUS);
	CHECK_EQ(route("GET", "/metrics").target, EH_HTTPD_METRICS);
	CHECK_EQ(route("GET", "/metrics?x=1").target, EH_HTTPD_METRICS);
	/* Known paths, other methods: 405 with what is allowed. */
	CHECK_EQ(route("GET", "/in").target, EH_HTTPD_BAD_METHOD);
	CHECK_STR(route("GET", "/in/events").allow, "POST");
	CHECK_EQ(route("POST", "/metrics").target, EH_HTTPD_BAD_METHOD);
	CHECK_STR(route("DELETE", "/status").allow, "GET, HEAD");
	/* Near misses are unknown. */
	static const char *const no[] = {
	    "/",   "",		"/inx",	     "/in/event", "/in/events/x", "/in//",
	    "/IN", "/status/1", "/metricsx", "in",	  "/in/events//"};
	for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (route("POST", no[i]).target != EH_HTTPD_NOT_FOUND)
			fprintf(stderr, "path %s\n", no[i]);
		CHECK_EQ(route("POST", no[i]).target, EH_HTTPD_NOT_FOUND);
		CHECK_EQ(route("GET", no[i]).target, EH_HTTPD_NOT_FOUND);
	}
	CHECK_EQ(route(NULL, "/in").target, EH_HTTPD_NOT_FOUND);
	CHECK_EQ(route("POST", NULL).target, EH_HTTPD_NOT_FOUND);
}

EH_TEST(bearer_token)
{
	const uint8_t tok[] = "s3cret";
	size_t n = sizeof(tok) - 1;
	CHECK(eh_httpd_token_ok("Bearer s3cret", tok, n));
	CHECK(eh_httpd_token_ok("bearer s3cret", tok, n));
	CHECK(eh_httpd_token_ok("BEARER   s3cret", tok, n));
	CHECK(!eh_httpd_token_ok(NULL, tok, n));
	CHECK(!eh_httpd_token_ok("", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer ", tok, n));
	CHECK(!eh_httpd_token_ok("Bearers3cret", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer s3cre", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer s3cret ", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer s3cres", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer S3cret", tok, n));
	CHECK(!eh_httpd_token_ok("Basic s3cret", tok, n));
	CHECK(!eh_httpd_token_ok("Bearer s3cret\x01", tok, n));
	/* No token configured: everyone passes. */
	CHECK(eh_httpd_token_ok(NULL, NULL, 0));
}

EH_TEST(error_body_is_json_and_cut_whole)
{
	char buf[64];
	size_t n = eh_httpd_error_body("[1].camera: \"x\" is\tbad\\", buf, sizeof(buf));
	CHECK_STR(buf, "{\"error\": \"[1].camera: \\\"x\\\" is\\u0009bad\\\\\"}");
	CHECK_EQ(n, strlen(buf));
	/* Too long: cut before an escape, never inside one, and still closed. */
	char small[24];
	n = eh_httpd_error_body("abcdefgh\"ijklmnop", small, sizeof(small));
	CHECK_EQ(n, strlen(small));
	CHECK(n < sizeof(small));
	CHECK(strcmp(small + n - 2, "\"}") == 0);
	CHECK(strncmp(small, "{\"error\": \"abcdefgh", 19) == 0);
	CHECK_EQ(eh_httpd_error_body(NULL, buf, sizeof(buf)), strlen("{\"error\": \"\"}"));
}
