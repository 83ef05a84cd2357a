/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_status.c - status documents are valid JSON with the figures an
 * operator reads, escape what they carry, and fail cleanly when short. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_status.h"

#include <cJSON.h>

EH_TEST(status_document_is_json_with_figures_and_limits)
{
	char buf[4096];
	struct eh_status_figures f;
	memset(&f, 0, sizeof(f));
	f.state = "online";
	f.version = "0.1.0";
	f.device_id = "gw-01";
	f.in.messages = 7;
	f.in.rejected = 2;
	f.queue.capacity_bytes = 1 << 20;
	f.queue.full_policy = "block";
	f.sent = 5;
	size_t n = eh_status_render(&f, buf, sizeof(buf));
	REQUIRE(n > 0);
	cJSON *j = cJSON_Parse(buf);
	REQUIRE(j != NULL);
	CHECK_STR(cJSON_GetObjectItem(j, "state")->valuestring, "online");
	CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "input"), "messages")->valuedouble, 7);
	CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "input"), "rejected")->valuedouble, 2);
	CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "limits"), "webhooks")->valuedouble,
		 EH_MAX_WEBHOOKS);
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "queue"), "full_policy")->valuestring,
		  "block");
	cJSON_Delete(j);
	CHECK_EQ(eh_status_render(&f, buf, 100), 0);
	CHECK_STR(buf, "");
}

EH_TEST(webhook_state_escapes_and_nulls)
{
	char buf[1024];
	struct eh_status_webhook w;
	memset(&w, 0, sizeof(w));
	w.id = 2;
	w.queue[0] = 3;
	REQUIRE(eh_status_render_webhook(&w, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"last_success\":null,\"last_error\":null,\"last_error_at\":null,"
			  "\"attempt\":0,\"next_attempt_at\":null,\"oldest_undelivered_at\":null") !=
	      NULL);
	snprintf(w.last_error, sizeof(w.last_error), "405, message='Not \"Allowed\"\n'");
	w.last_error_ms = 1796558400123ull; /* 2026-12-06T12:00:00.123Z */
	w.next_attempt_at_ms = 1796558402000ull;
	w.attempt = 3;
	REQUIRE(eh_status_render_webhook(&w, buf, sizeof(buf)) > 0);
	cJSON *j = cJSON_Parse(buf);
	REQUIRE(j != NULL);
	CHECK_STR(cJSON_GetObjectItem(j, "last_error")->valuestring, "405, message='Not \"Allowed\"\n'");
	CHECK_STR(cJSON_GetObjectItem(j, "last_error_at")->valuestring, "2026-12-06T12:00:00Z");
	CHECK_STR(cJSON_GetObjectItem(j, "next_attempt_at")->valuestring, "2026-12-06T12:00:02Z");
	CHECK_EQ(cJSON_GetObjectItem(j, "attempt")->valuedouble, 3);
	CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "queue"), "events")->valuedouble, 3);
	cJSON_Delete(j);
}
