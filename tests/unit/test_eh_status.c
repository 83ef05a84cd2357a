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
	CHECK(strstr(buf,
		     "\"last_success\":null,\"last_error\":null,\"last_error_at\":null,"
		     "\"attempt\":0,\"next_attempt_at\":null,\"oldest_undelivered_at\":null") !=
	      NULL);
	snprintf(w.last_error, sizeof(w.last_error), "405, message='Not \"Allowed\"\n'");
	w.last_error_ms = 1796558400123ull; /* 2026-12-06T12:00:00.123Z */
	w.next_attempt_at_ms = 1796558402000ull;
	w.attempt = 3;
	REQUIRE(eh_status_render_webhook(&w, buf, sizeof(buf)) > 0);
	cJSON *j = cJSON_Parse(buf);
	REQUIRE(j != NULL);
	CHECK_STR(cJSON_GetObjectItem(j, "last_error")->valuestring,
		  "405, message='Not \"Allowed\"\n'");
	CHECK_STR(cJSON_GetObjectItem(j, "last_error_at")->valuestring, "2026-12-06T12:00:00Z");
	CHECK_STR(cJSON_GetObjectItem(j, "next_attempt_at")->valuestring, "2026-12-06T12:00:02Z");
	CHECK_EQ(cJSON_GetObjectItem(j, "attempt")->valuedouble, 3);
	CHECK_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "queue"), "events")->valuedouble, 3);
	cJSON_Delete(j);
}

/* The value of the sample line that starts with `series ` (exact series text). */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

EH_TEST(metrics_text_format)
{
	static char buf[16384];
	struct eh_status_figures f;
	struct eh_status_metric_webhook wh[2];
	memset(&f, 0, sizeof(f));
	memset(wh, 0, sizeof(wh));
	f.in.notifications = 41;
	f.queue.capacity_bytes = 1048576;
	f.queue.used_bytes = 8192;
	f.mqtt_connected = true;
	wh[0].id = 7;
	wh[0].t[0].depth = 3;
	wh[0].t[0].oldest_age_s = 12;
	wh[0].t[1].sent = 5;
	wh[1].id = 4294967295u;
	wh[1].t[2].failed_attempts = 9;
	wh[1].t[2].dead_lettered = 2;
	size_t n = eh_status_render_metrics(&f, wh, 2, buf, sizeof(buf));
	REQUIRE(n > 0);
	CHECK_EQ(n, strlen(buf));
	CHECK_EQ(sample(buf, "edgehook_input_notifications_total"), 41);
	CHECK_EQ(sample(buf, "edgehook_queue_size_bytes"), 1048576);
	CHECK_EQ(sample(buf, "edgehook_queue_used_bytes"), 8192);
	CHECK_EQ(sample(buf, "edgehook_mqtt_connected"), 1);
	CHECK_EQ(sample(buf, "edgehook_webhook_queue_depth{webhook=\"7\",type=\"events\"}"), 3);
	CHECK_EQ(sample(buf, "edgehook_webhook_oldest_age_seconds{webhook=\"7\",type=\"events\"}"),
		 12);
	CHECK_EQ(sample(buf, "edgehook_webhook_sent_total{webhook=\"7\",type=\"episodes\"}"), 5);
	CHECK_EQ(sample(buf, "edgehook_webhook_failed_attempts_total{webhook=\"4294967295\","
			     "type=\"counters\"}"),
		 9);
	CHECK_EQ(sample(buf, "edgehook_webhook_dead_lettered_total{webhook=\"4294967295\","
			     "type=\"counters\"}"),
		 2);
	/* Every family has its HELP and TYPE lines, once. */
	CHECK(strstr(buf, "# TYPE edgehook_webhook_queue_depth gauge\n") != NULL);
	CHECK(strstr(buf, "# HELP edgehook_webhook_sent_total ") != NULL);
	CHECK(strstr(buf, "# TYPE edgehook_input_notifications_total counter\n") != NULL);
	CHECK(buf[n - 1] == '\n');
	/* Short buffers give 0, at every size up to the needed one. */
	for (size_t cap = 0; cap < n + 1; cap += 97)
		CHECK_EQ(eh_status_render_metrics(&f, wh, 2, buf, cap), 0);
	CHECK_EQ(eh_status_render_metrics(&f, wh, 2, buf, n + 1), n);
	/* No webhooks: the families are still declared. */
	n = eh_status_render_metrics(&f, NULL, 0, buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "# TYPE edgehook_webhook_oldest_age_seconds gauge") != NULL);
}

EH_TEST(append_times_for_the_oldest_age)
{
	static struct eh_status_ages a;
	eh_status_ages_init(&a);
	CHECK_EQ(eh_status_ages_time(&a, 5, 77), 77); /* nothing known: the fallback */
	eh_status_ages_note(&a, 10, 1000);
	eh_status_ages_note(&a, 11, 1500); /* within the step: 10's entry covers it */
	eh_status_ages_note(&a, 12, 2000);
	eh_status_ages_note(&a, 40, 9000);
	CHECK_EQ(eh_status_ages_time(&a, 9, 77), 77); /* before the first: from before start */
	CHECK_EQ(eh_status_ages_time(&a, 10, 77), 1000);
	CHECK_EQ(eh_status_ages_time(&a, 11, 77), 1000);
	CHECK_EQ(eh_status_ages_time(&a, 12, 77), 2000);
	CHECK_EQ(eh_status_ages_time(&a, 39, 77), 2000);
	CHECK_EQ(eh_status_ages_time(&a, 40, 77), 9000);
	CHECK_EQ(eh_status_ages_time(&a, 1000, 77), 9000);
	/* Overwritten entries: older seqs get the oldest time kept, not the fallback. */
	eh_status_ages_init(&a);
	for (uint64_t i = 0; i < EH_STATUS_AGE_SLOTS + 10; i++)
		eh_status_ages_note(&a, 100 + i, 1000 * (i + 1));
	CHECK_EQ(eh_status_ages_time(&a, 100, 0), 11000);
	CHECK_EQ(eh_status_ages_time(&a, 110, 0), 11000);
	CHECK_EQ(eh_status_ages_time(&a, 111, 0), 12000);
	CHECK_EQ(eh_status_ages_time(&a, 100 + EH_STATUS_AGE_SLOTS + 9, 0),
		 1000 * (EH_STATUS_AGE_SLOTS + 10));
}
