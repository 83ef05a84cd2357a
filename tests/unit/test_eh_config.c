/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_config.c - the config control plane in unsigned mode: webhooks
 * created, replaced and deleted with the right changes reported; every
 * validation error with its path; a refused message changes nothing;
 * bounds of the webhook table and the catalog; the gateway; bad topics;
 * matching through the real filter and note modules; no secret or header
 * value in any answer. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_config.h"
#include "eh_log.h"
#include "eh_note.h"

static struct eh_config C;
static struct eh_config_result R;
static char big[EH_MAX_MSG_BYTES * 4 + 64];

static void setup(bool plain_http)
{
	struct eh_config_init ci;
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge";
	ci.allow_plain_http = plain_http;
	if (eh_config_init(&C, &ci) != EH_OK) {
		fprintf(stderr, "init failed\n");
		exit(2);
	}
}

static eh_err put(const char *topic, const char *json)
{
	return eh_config_handle(&C, topic, (const uint8_t *)json, strlen(json), NULL, &R);
}

static eh_err put_hook(unsigned id, const char *json)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "edge/config/webhooks/%u", id);
	return put(topic, json);
}

/* Is msg one of the errors check_webhook reports for json? */
static int has_error(const char *json, bool plain, const char *msg)
{
	static struct eh_errs e;
	eh_errs_init(&e);
	eh_err rc = eh_config_check_webhook(json, strlen(json), plain, &e);
	for (unsigned i = 0; i < e.n; i++)
		if (strcmp(e.msg[i], msg) == 0)
			return rc != EH_OK;
	fprintf(stderr, "  no error \"%s\" for %.120s; got:\n", msg, json);
	for (unsigned i = 0; i < e.n; i++)
		fprintf(stderr, "    %s\n", e.msg[i]);
	return 0;
}

static int has_error_prefix(const char *json, const char *prefix)
{
	static struct eh_errs e;
	eh_errs_init(&e);
	eh_err rc = eh_config_check_webhook(json, strlen(json), false, &e);
	for (unsigned i = 0; i < e.n; i++)
		if (strncmp(e.msg[i], prefix, strlen(prefix)) == 0)
			return rc != EH_OK;
	fprintf(stderr, "  no error starting \"%s\" for %.120s; got %u errors:\n", prefix, json,
		e.n);
	for (unsigned i = 0; i < e.n; i++)
		fprintf(stderr, "    %s\n", e.msg[i]);
	return 0;
}

#define GOOD "\"title\": \"Doors\", \"url\": \"https://hooks.example/ff\""

EH_TEST(create_replace_delete_report_changes)
{
	setup(false);
	CHECK_EQ(put_hook(7, "{" GOOD "}"), EH_OK);
	CHECK_STR(R.status_topic, "edge/config-status/webhooks/7");
	CHECK_STR(R.status_body, "{\"accepted\": true}");
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_EQ(R.changes[0].slot, 0);
	CHECK_EQ(R.changes[0].new_id, 7);
	const struct eh_webhook *w = &C.webhooks[0];
	CHECK_EQ(w->id, 7);
	CHECK_STR(w->title, "Doors");
	CHECK_STR(w->url_text, "https://hooks.example/ff");
	CHECK(w->url.tls);
	CHECK_STR(w->url.host, "hooks.example");
	CHECK_EQ(w->url.port, 443);
	CHECK_STR(w->url.path, "/ff");
	CHECK_EQ(w->batch_size, 1);
	CHECK_EQ(w->batch_max_bytes, 1048576);
	CHECK_EQ(w->max_attempts, 10);
	CHECK(w->active);
	CHECK_EQ(w->verbose, -1);
	CHECK_EQ(w->nheaders, 0);
	CHECK(!w->has_secret);
	CHECK_EQ(w->timeout_s, 10);
	for (unsigned t = 0; t < EH_TYPE_COUNT; t++)
		CHECK(eh_config_wants_type(&C, 0, t));
	uint16_t gen = w->gen;

	CHECK_EQ(put_hook(7, "{\"title\": \"Doors 2\", \"url\": \"https://h/\"}"), EH_OK);
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_EQ(R.changes[0].slot, 0);
	CHECK_EQ(R.changes[0].old_id, 7);
	CHECK_EQ(R.changes[0].new_id, 7);
	CHECK_STR(w->title, "Doors 2");
	CHECK_EQ(w->gen, gen); /* same webhook: its queue and delivery state stay */

	CHECK_EQ(put_hook(9, "{" GOOD "}"), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_EQ(R.changes[0].slot, 1);

	CHECK_EQ(put_hook(7, ""), EH_OK);
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_DELETED);
	CHECK_EQ(R.changes[0].slot, 0);
	CHECK_EQ(R.changes[0].old_id, 7);
	CHECK_STR(R.status_topic, "edge/config-status/webhooks/7");
	CHECK_STR(R.status_body, ""); /* an empty retained message clears the status */
	CHECK_EQ(C.webhooks[0].id, 0);
	CHECK(!eh_config_wants_type(&C, 0, EH_TYPE_EVENTS));

	/* The lowest free slot is reused, with a new generation. */
	CHECK_EQ(put_hook(12, "{" GOOD "}"), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_EQ(R.changes[0].slot, 0);
	CHECK(C.webhooks[0].gen != gen);

	/* Deleting what is not there: nothing to answer, nothing changed. */
	CHECK_EQ(put_hook(99, ""), EH_OK);
	CHECK_EQ(R.nchanges, 0);
	CHECK_STR(R.status_topic, "");
}

EH_TEST(every_key_is_read)
{
	setup(true);
	CHECK_EQ(put_hook(3, "{\"title\": \"All\", \"url\": \"http://[::1]:8080?x=1&y=2\","
			     " \"batch_size\": 1000, \"batch_max_bytes\": 1024,"
			     " \"max_attempts\": 0, \"active\": false, \"verbose\": true,"
			     " \"filters\": {\"counters\": {}},"
			     " \"headers\": {\"Authorization\": \"Bearer abc\", \"X-Site\": \"7\"},"
			     " \"secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
			     " \"timeout_s\": 300, \"version\": 4}"),
		 EH_OK);
	const struct eh_webhook *w = &C.webhooks[0];
	CHECK(!w->url.tls);
	CHECK_STR(w->url.host, "::1");
	CHECK_EQ(w->url.port, 8080);
	CHECK_STR(w->url.path, "/?x=1&y=2");
	CHECK_EQ(w->batch_size, 1000);
	CHECK_EQ(w->batch_max_bytes, 1024);
	CHECK_EQ(w->max_attempts, 0);
	CHECK(!w->active);
	CHECK_EQ(w->verbose, 1);
	CHECK_EQ(w->nheaders, 2);
	CHECK_STR(w->headers[0].name, "Authorization");
	CHECK_STR(w->headers[0].value, "Bearer abc");
	CHECK_STR(w->headers[1].name, "X-Site");
	CHECK(w->has_secret);
	CHECK_EQ(w->secret_len, 24);
	CHECK_EQ(w->secret[0], 0x31);
	CHECK_EQ(w->timeout_s, 300);
	CHECK_EQ(w->version, 4);
	CHECK(!eh_config_wants_type(&C, 0, EH_TYPE_EVENTS));
	CHECK(!eh_config_wants_type(&C, 0, EH_TYPE_EPISODES));
	CHECK(eh_config_wants_type(&C, 0, EH_TYPE_COUNTERS));

	CHECK_EQ(put_hook(4, "{\"title\": \"v4\", \"url\": \"https://10.0.0.2:9443/a/b\"}"), EH_OK);
	CHECK_STR(C.webhooks[1].url.host, "10.0.0.2");
	CHECK_EQ(C.webhooks[1].url.port, 9443);
	CHECK_STR(C.webhooks[1].url.path, "/a/b");
	CHECK_EQ(put_hook(5, "{\"title\": \"n\", \"url\": \"https://Hooks-1.example.com\", "
			     "\"verbose\": null}"),
		 EH_OK);
	CHECK_STR(C.webhooks[2].url.path, "/");
	CHECK_EQ(C.webhooks[2].verbose, -1);
}

EH_TEST(validation_errors_name_their_paths)
{
	static char s[4096];
	CHECK(has_error("{}", false, "title: required"));
	CHECK(has_error("{}", false, "url: required"));
	CHECK(has_error("{\"title\": \"\", \"url\": \"https://h/\"}", false,
			"title: expected 1..255 bytes"));
	memset(s, 0, sizeof(s));
	strcpy(s, "{\"url\": \"https://h/\", \"title\": \"");
	memset(s + strlen(s), 'a', 256);
	strcat(s, "\"}");
	CHECK(has_error(s, false, "title: longer than 255 bytes"));
	CHECK(has_error("{" GOOD ", \"title\": \"x\"}", false, "title: duplicate key"));
	CHECK(has_error("{" GOOD ", \"colour\": 1}", false, "colour: unknown key"));
	CHECK(
	    has_error("{" GOOD ", \"batch_size\": 0}", false, "batch_size: out of range 1..1000"));
	CHECK(has_error("{" GOOD ", \"batch_size\": 1001}", false,
			"batch_size: out of range 1..1000"));
	CHECK(
	    has_error("{" GOOD ", \"batch_size\": \"1\"}", false, "batch_size: expected integer"));
	CHECK(has_error("{" GOOD ", \"batch_size\": 1.5}", false, "batch_size: expected integer"));
	CHECK(has_error("{" GOOD ", \"batch_max_bytes\": 1023}", false,
			"batch_max_bytes: out of range 1024..1048576"));
	CHECK(has_error("{" GOOD ", \"max_attempts\": 101}", false,
			"max_attempts: out of range 0..100"));
	CHECK(has_error("{" GOOD ", \"max_attempts\": -1}", false,
			"max_attempts: out of range 0..100"));
	CHECK(has_error("{" GOOD ", \"timeout_s\": 0}", false, "timeout_s: out of range 1..300"));
	CHECK(has_error("{" GOOD ", \"timeout_s\": 99999999999999999999}", false,
			"timeout_s: out of range 1..300"));
	CHECK(has_error("{" GOOD ", \"active\": \"yes\"}", false, "active: expected boolean"));
	CHECK(has_error("{" GOOD ", \"verbose\": 1}", false, "verbose: expected null or boolean"));
	CHECK(has_error("{" GOOD ", \"version\": 0}", false,
			"version: out of range 1..9223372036854775807"));
	CHECK(has_error("{" GOOD ", \"deleted\": true}", false,
			"deleted: only signed mode deletes this way; publish an empty payload"));

	/* url */
	CHECK(has_error("{\"title\": \"t\", \"url\": \"http://h/\"}", false,
			"url: expected https:// (http:// needs allow_plain_http)"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"ftp://h/\"}", false,
			"url: expected https:// (http:// needs allow_plain_http)"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"ftp://h/\"}", true,
			"url: expected https:// or http://"));
	CHECK(has_error("{\"title\": \"t\", \"url\": 5}", false, "url: expected string"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://u:p@h/\"}", false,
			"url: user information is not allowed"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h/a#b\"}", false,
			"url: fragments are not allowed"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h/a b\"}", false,
			"url: spaces and control characters are not allowed"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h/a\\nb\"}", false,
			"url: spaces and control characters are not allowed"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h/\\u00e9\"}", false,
			"url: non-ASCII characters must be percent-encoded"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://\"}", false, "url: missing host"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h:0/\"}", false,
			"url: port: expected 1..65535"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h:65536/\"}", false,
			"url: port: expected 1..65535"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://h:/\"}", false,
			"url: port: expected 1..65535"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://[::g]/\"}", false,
			"url: host: not a valid IPv6 address"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://999.1.1.1/\"}", false,
			"url: host: not a valid host name or IPv4 address"));
	CHECK(has_error("{\"title\": \"t\", \"url\": \"https://a..b/\"}", false,
			"url: host: not a valid host name or IPv4 address"));
	memset(s, 0, sizeof(s));
	strcpy(s, "{\"title\": \"t\", \"url\": \"https://h/");
	memset(s + strlen(s), 'a', 520);
	strcat(s, "\"}");
	CHECK(has_error(s, false, "url: longer than 512 bytes"));

	/* filters keep their own paths */
	CHECK(has_error("{" GOOD ", \"filters\": []}", false, "filters: expected object"));
	CHECK(has_error_prefix("{" GOOD ", \"filters\": {\"events\": {\"camera_in\": [1, \"x\"]}}}",
			       "filters.events.camera_in[1]: "));
	CHECK(has_error_prefix("{" GOOD ", \"filters\": {\"bogus\": 1}}", "filters.bogus"));

	/* headers */
	CHECK(has_error("{" GOOD ", \"headers\": []}", false, "headers: expected object"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"Host\": \"x\"}}", false,
			"headers.Host: set by the daemon itself"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"content-type\": \"x\"}}", false,
			"headers.content-type: set by the daemon itself"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"X-Edgehook-Batch\": \"x\"}}", false,
			"headers.X-Edgehook-Batch: set by the daemon itself"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"Webhook-Signature\": \"x\"}}", false,
			"headers.Webhook-Signature: set by the daemon itself"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"Bad Name\": \"x\"}}", false,
			"headers[0]: name is not an RFC 7230 token"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"A\": \"1\", \"\": \"x\"}}", false,
			"headers[1]: name is not an RFC 7230 token"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"X-A\": \"1\", \"x-a\": \"2\"}}", false,
			"headers.x-a: duplicate header"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"X-A\": \"a\\r\\nb\"}}", false,
			"headers.X-A: value holds CR, LF, NUL or another control character"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"X-A\": \"a\\u0000b\"}}", false,
			"headers.X-A: value holds CR, LF, NUL or another control character"));
	CHECK(has_error("{" GOOD ", \"headers\": {\"X-A\": 1}}", false,
			"headers.X-A: expected string"));
	memset(s, 0, sizeof(s));
	strcpy(s, "{" GOOD ", \"headers\": {");
	for (int i = 0; i < EH_MAX_HEADERS + 1; i++)
		sprintf(s + strlen(s), "%s\"X-H%d\": \"v\"", i ? ", " : "", i);
	strcat(s, "}}");
	CHECK(has_error(s, false, "headers: more than 16 headers (EH_MAX_HEADERS)"));
	memset(s, 0, sizeof(s));
	strcpy(s, "{" GOOD ", \"headers\": {\"X-Long\": \"");
	memset(s + strlen(s), 'v', 512);
	strcat(s, "\"}}");
	CHECK(has_error(s, false, "headers.X-Long: value longer than 511 bytes"));

	/* secret */
	CHECK(has_error("{" GOOD ", \"secret\": \"abc\"}", false,
			"secret: expected \"whsec_\" followed by base64"));
	CHECK(has_error("{" GOOD ", \"secret\": \"whsec_\"}", false,
			"secret: expected \"whsec_\" followed by base64"));
	CHECK(has_error("{" GOOD ", \"secret\": \"whsec_!!!!\"}", false,
			"secret: expected \"whsec_\" followed by base64"));
	CHECK(has_error("{" GOOD ", \"secret\": \"whsec_YW=j\"}", false,
			"secret: expected \"whsec_\" followed by base64"));
	CHECK(has_error("{" GOOD ", \"secret\": 5}", false, "secret: expected null or string"));
	/* 66 bytes of key, base64: too long */
	memset(s, 0, sizeof(s));
	strcpy(s, "{" GOOD ", \"secret\": \"whsec_");
	for (int i = 0; i < 22; i++)
		strcat(s, "QUFB");
	strcat(s, "\"}");
	CHECK(has_error(s, false, "secret: the key must decode to 16..64 bytes"));
	/* A key shorter than 16 bytes is guessable: 1 byte, then 15 bytes. */
	CHECK(has_error("{" GOOD ", \"secret\": \"whsec_YQ==\"}", false,
			"secret: the key must decode to 16..64 bytes"));
	CHECK(has_error("{" GOOD ", \"secret\": \"whsec_MDEyMzQ1Njc4OWFiY2Rl\"}", false,
			"secret: the key must decode to 16..64 bytes"));
	/* 16 bytes is the shortest accepted. */
	{
		static const char k16[] =
		    "{" GOOD ", \"secret\": \"whsec_MDEyMzQ1Njc4OWFiY2RlZg==\"}";
		static struct eh_errs e16;
		eh_errs_init(&e16);
		CHECK_EQ(eh_config_check_webhook(k16, strlen(k16), false, &e16), EH_OK);
	}

	/* the payload itself */
	CHECK(has_error_prefix("{", "payload: invalid JSON: "));
	CHECK(has_error_prefix("{\"title\": \"t\",}", "payload: invalid JSON: "));
	CHECK(has_error("[]", false, "payload: expected a JSON object"));
	CHECK(has_error("\"x\"", false, "payload: expected a JSON object"));
	memset(s, 0, sizeof(s));
	strcpy(s, "{" GOOD ", \"filters\": {\"events\": ");
	for (int i = 0; i < 40; i++)
		strcat(s, "[");
	for (int i = 0; i < 40; i++)
		strcat(s, "]");
	strcat(s, "}}");
	CHECK(has_error_prefix(s, "payload: invalid JSON: "));
}

EH_TEST(every_error_is_collected_and_answered)
{
	setup(false);
	CHECK_EQ(put_hook(1, "{\"title\": \"\", \"url\": \"http://h/\", \"batch_size\": 0, "
			     "\"timeout_s\": \"x\", \"oops\": null}"),
		 EH_ERR_PROTO);
	CHECK(!R.accepted);
	CHECK_STR(R.status_topic, "edge/config-status/webhooks/1");
	CHECK_STR(R.status_body,
		  "{\"accepted\": false, \"errors\": [\"title: expected 1..255 bytes\","
		  "\"url: expected https:// (http:// needs allow_plain_http)\","
		  "\"batch_size: out of range 1..1000\",\"timeout_s: expected integer\","
		  "\"oops: unknown key\"]}");
	CHECK_EQ(R.nchanges, 0);
	CHECK_EQ(C.webhooks[0].id, 0);

	/* More errors than the list keeps: the answer says how many more. */
	static char s[4096];
	strcpy(s, "{");
	for (int i = 0; i < 20; i++)
		sprintf(s + strlen(s), "%s\"k%d\": 1", i ? ", " : "", i);
	strcat(s, "}");
	CHECK_EQ(put_hook(1, s), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "\"... and 6 more errors\"]}") != NULL);

	/* 1 MiB, not JSON at all */
	memset(big, 'x', 1 << 20);
	CHECK_EQ(
	    eh_config_handle(&C, "edge/config/webhooks/1", (const uint8_t *)big, 1 << 20, NULL, &R),
	    EH_ERR_TOOBIG);
	CHECK_STR(R.status_body,
		  "{\"accepted\": false, \"errors\": [\"payload: larger than 262144 bytes\"]}");
	CHECK_EQ(put_hook(1, "not json"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "payload: invalid JSON") != NULL);

	/* Deep nesting anywhere, at the limit of the payload size. */
	size_t n = 0;
	n += (size_t)sprintf(big, "{" GOOD ", \"filters\": ");
	while (n < EH_MAX_MSG_BYTES / 2)
		big[n++] = '[';
	CHECK_EQ(eh_config_handle(&C, "edge/config/webhooks/1", (const uint8_t *)big, n, NULL, &R),
		 EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "payload: invalid JSON") != NULL);
	CHECK_EQ(C.accepted, 0);
	CHECK_EQ(C.refused, 5);
}

EH_TEST(a_refused_message_changes_nothing)
{
	static struct eh_note n;
	size_t cnt;
	const char *ev = "{\"id\":\"1\",\"event_type\":\"event_created\",\"camera\":3}";

	setup(false);
	CHECK_EQ(put_hook(5, "{\"title\": \"Keep\", \"url\": \"https://h/\", \"batch_size\": 7,"
			     " \"headers\": {\"X-K\": \"v\"},"
			     " \"filters\": {\"events\": {\"camera_in\": [3]}}}"),
		 EH_OK);
	CHECK_EQ(put("edge/catalog/cameras/3", "{\"id\": 3, \"name\": \"Door\"}"), EH_OK);
	REQUIRE(eh_note_parse_message(ev, strlen(ev), EH_TYPE_EVENTS, &n, 1, &cnt, NULL) == EH_OK);
	CHECK_EQ(eh_config_match(&C, &n), 1);

	static struct eh_webhook before;
	static struct eh_filter fbefore;
	before = C.webhooks[0];
	fbefore = C.filters[0];
	/* Valid filters and title, one bad field: nothing of it applies. */
	CHECK_EQ(put_hook(5, "{\"title\": \"Changed\", \"url\": \"https://other/\","
			     " \"filters\": {\"events\": {\"camera_in\": [4]}},"
			     " \"headers\": {\"X-New\": \"n\"}, \"timeout_s\": 0}"),
		 EH_ERR_PROTO);
	CHECK_EQ(R.nchanges, 0);
	CHECK(memcmp(&before, &C.webhooks[0], sizeof(before)) == 0);
	CHECK(memcmp(&fbefore, &C.filters[0], sizeof(fbefore)) == 0);
	CHECK_EQ(eh_config_match(&C, &n), 1);
	/* A bad catalog entity leaves the old one. */
	CHECK_EQ(put("edge/catalog/cameras/3", "{\"id\": 4, \"name\": \"Wrong\"}"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "id: 4 does not match the topic's id 3") != NULL);
	size_t len = 0;
	const char *t = eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len);
	REQUIRE(t != NULL);
	CHECK_EQ(len, strlen("{\"id\": 3, \"name\": \"Door\"}"));
	CHECK(memcmp(t, "{\"id\": 3, \"name\": \"Door\"}", len) == 0);
	/* A bad gateway leaves the gateway. */
	CHECK_EQ(put("edge/config/gateway", "{\"verbose\": true, \"log_level\": \"loud\"}"),
		 EH_ERR_PROTO);
	CHECK(!C.gateway.verbose);
}

EH_TEST(table_full_is_refused_with_the_limit)
{
	setup(false);
	for (unsigned i = 1; i <= EH_MAX_WEBHOOKS; i++)
		REQUIRE(put_hook(i, "{" GOOD "}") == EH_OK);
	CHECK_EQ(put_hook(1000, "{" GOOD "}"), EH_ERR_NOSPC);
	CHECK_STR(R.status_body, "{\"accepted\": false, \"errors\": [\"webhooks: table full: 32 "
				 "webhooks at most (EH_MAX_WEBHOOKS)\"]}");
	CHECK_EQ(R.nchanges, 0);
	/* Replacing still works when full; a deletion makes room. */
	CHECK_EQ(put_hook(32, "{\"title\": \"r\", \"url\": \"https://h/\"}"), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_EQ(put_hook(17, ""), EH_OK);
	CHECK_EQ(put_hook(1000, "{" GOOD "}"), EH_OK);
	CHECK_EQ(R.changes[0].slot, 16);
	struct eh_status_config st;
	eh_config_status(&C, &st);
	CHECK_EQ(st.webhooks, EH_MAX_WEBHOOKS);
	CHECK_EQ(st.active, EH_MAX_WEBHOOKS);
	CHECK_EQ(st.refused, 1);
	CHECK(!st.signed_mode);
}

EH_TEST(catalog_store_replace_delete_lookup)
{
	size_t len = 0;
	const char *t;

	setup(false);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len) == NULL);
	CHECK_EQ(put("edge/catalog/cameras/3", " {\"id\": 3, \"name\": \"Door\"}\n"), EH_OK);
	CHECK_STR(R.status_topic, "edge/config-status/catalog/cameras/3");
	CHECK_STR(R.status_body, "{\"accepted\": true}");
	CHECK_EQ(put("edge/catalog/watch_lists/-1", "{\"id\": -1, \"name\": \"Unmatched\"}"),
		 EH_OK);
	CHECK_STR(R.status_topic, "edge/config-status/catalog/watch_lists/-1");
	CHECK_EQ(put("edge/catalog/dossiers/12", "{\"name\": \"no id is fine\"}"), EH_OK);
	CHECK_EQ(put("edge/catalog/camera_groups/1", "{\"id\": 1}"), EH_OK);
	t = eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len);
	REQUIRE(t != NULL);
	CHECK(len == 25 && memcmp(t, "{\"id\": 3, \"name\": \"Door\"}", len) == 0);
	t = eh_config_catalog_lookup(&C, EH_CAT_WATCH_LISTS, -1, &len);
	REQUIRE(t != NULL);
	CHECK(memcmp(t, "{\"id\": -1, \"name\": \"Unmatched\"}", len) == 0);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_DOSSIERS, 3, &len) == NULL);

	/* Replace the first (a middle of the arena) with a longer text: the
	 * others are still found intact after compaction. */
	uint32_t used = C.arena_used;
	CHECK_EQ(put("edge/catalog/cameras/3", "{\"id\": 3, \"name\": \"Front door\"}"), EH_OK);
	CHECK_EQ(C.arena_used, used + 6);
	t = eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len);
	CHECK(t && memcmp(t, "{\"id\": 3, \"name\": \"Front door\"}", len) == 0);
	t = eh_config_catalog_lookup(&C, EH_CAT_DOSSIERS, 12, &len);
	CHECK(t && memcmp(t, "{\"name\": \"no id is fine\"}", len) == 0);

	/* Delete: gone, space back; deleting the unknown answers nothing. */
	CHECK_EQ(put("edge/catalog/cameras/3", ""), EH_OK);
	CHECK_STR(R.status_body, "");
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len) == NULL);
	CHECK_EQ(C.arena_used, used - 25);
	t = eh_config_catalog_lookup(&C, EH_CAT_WATCH_LISTS, -1, &len);
	CHECK(t && memcmp(t, "{\"id\": -1, \"name\": \"Unmatched\"}", len) == 0);
	CHECK_EQ(put("edge/catalog/cameras/3", ""), EH_OK);
	CHECK_STR(R.status_topic, "");

	/* Shapes and ids */
	CHECK_EQ(put("edge/catalog/cameras/4", "[1]"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "payload: expected a JSON object") != NULL);
	CHECK_EQ(put("edge/catalog/cameras/4", "{\"id\": \"4\"}"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "id: expected integer") != NULL);
	CHECK_EQ(put("edge/catalog/cameras/4", "{\"id\": 4"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "payload: invalid JSON") != NULL);
}

EH_TEST(catalog_bounds_are_refused_with_the_limit)
{
	char topic[64], body[64];
	size_t len;

	setup(false);
	for (int i = 0; i < EH_CATALOG_MAX_ENTRIES; i++) {
		snprintf(topic, sizeof(topic), "edge/catalog/dossiers/%d", i);
		snprintf(body, sizeof(body), "{\"id\": %d}", i);
		REQUIRE(put(topic, body) == EH_OK);
	}
	CHECK_EQ(put("edge/catalog/dossiers/100000", "{}"), EH_ERR_NOSPC);
	CHECK(strstr(R.status_body, "catalog: full: 512 entities at most "
				    "(EH_CATALOG_MAX_ENTRIES)") != NULL);
	CHECK_EQ(put("edge/catalog/dossiers/5", "{\"id\": 5, \"x\": 1}"), EH_OK); /* replace ok */

	/* Bytes: two entities of 100 KiB fit, a third does not. */
	setup(false);
	size_t n = 100 * 1024;
	memset(big, ' ', n);
	big[0] = '{';
	memcpy(big + 1, "\"a\": 1", 6);
	big[n - 1] = '}';
	CHECK_EQ(eh_config_handle(&C, "edge/catalog/cameras/1", (const uint8_t *)big, n, NULL, &R),
		 EH_OK);
	CHECK_EQ(eh_config_handle(&C, "edge/catalog/cameras/2", (const uint8_t *)big, n, NULL, &R),
		 EH_OK);
	CHECK_EQ(eh_config_handle(&C, "edge/catalog/cameras/3", (const uint8_t *)big, n, NULL, &R),
		 EH_ERR_NOSPC);
	CHECK(strstr(R.status_body, "catalog: full: 262144 bytes at most (EH_CATALOG_BYTES)") !=
	      NULL);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len) == NULL);
	/* Replacing one of them by the same size still fits. */
	CHECK_EQ(eh_config_handle(&C, "edge/catalog/cameras/2", (const uint8_t *)big, n, NULL, &R),
		 EH_OK);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 1, &len) != NULL && len == n);
}

EH_TEST(gateway_settings_apply_and_reset)
{
	int level = eh_log_level_now;

	setup(false);
	CHECK(!C.gateway.verbose);
	CHECK_STR(C.gateway.external_address, "");
	CHECK_EQ(put("edge/config/gateway", "{\"verbose\": true, \"external_address\": "
					    "\"https://edge.example:8443/media\", \"log_level\": "
					    "\"debug\"}"),
		 EH_OK);
	CHECK_STR(R.status_topic, "edge/config-status/gateway");
	CHECK(R.gateway_changed);
	CHECK(C.gateway.verbose);
	CHECK_STR(C.gateway.external_address, "https://edge.example:8443/media");
	CHECK_EQ(C.gateway.log_level, EH_LOG_LEVEL_DBG);
	CHECK_EQ(eh_log_level_now, EH_LOG_LEVEL_DBG);
	CHECK_EQ(put("edge/config/gateway", "{\"verbose\": true, \"external_address\": "
					    "\"https://edge.example:8443/media\", \"log_level\": "
					    "\"debug\"}"),
		 EH_OK);
	CHECK(!R.gateway_changed);

	CHECK_EQ(put("edge/config/gateway", "{\"external_address\": \"https://e/\", \"log_level\": "
					    "\"loud\", \"verbose\": 1, \"colour\": 2}"),
		 EH_ERR_PROTO);
	CHECK_STR(R.status_body, "{\"accepted\": false, \"errors\": [\"external_address: must not "
				 "end with '/'\",\"log_level: expected \\\"error\\\", "
				 "\\\"warning\\\", \\\"info\\\" or \\\"debug\\\"\",\"verbose: "
				 "expected boolean\",\"colour: unknown key\"]}");
	CHECK_EQ(put("edge/config/gateway", "{\"external_address\": \"ftp://e\"}"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "external_address: expected https:// or http://") != NULL);
	CHECK_EQ(put("edge/config/gateway", "{\"external_address\": \"http://e/x?y\"}"),
		 EH_ERR_PROTO);
	CHECK_EQ(C.gateway.log_level, EH_LOG_LEVEL_DBG);

	/* Keys left out take their defaults; an empty payload resets all. */
	CHECK_EQ(put("edge/config/gateway", "{\"external_address\": null}"), EH_OK);
	CHECK(!C.gateway.verbose);
	CHECK_EQ(eh_log_level_now, level);
	CHECK_EQ(put("edge/config/gateway", "{\"verbose\": true}"), EH_OK);
	CHECK_EQ(put("edge/config/gateway", ""), EH_OK);
	CHECK(R.gateway_changed);
	CHECK(!C.gateway.verbose);
	CHECK_STR(R.status_body, "{\"accepted\": true}");
	eh_log_set_level(level);
}

EH_TEST(bad_topics_are_counted_not_applied)
{
	static const char *const bad_ids[] = {
	    "edge/config/webhooks/abc", "edge/config/webhooks/-3",
	    "edge/config/webhooks/0",	"edge/config/webhooks/1/x",
	    "edge/config/webhooks/007", "edge/config/webhooks/4294967296",
	    "edge/config/webhooks/",	"edge/config/webhooks/+1",
	    "edge/config/webhooks/1 ",
	};
	setup(false);
	for (unsigned i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		CHECK_EQ(put(bad_ids[i], "{" GOOD "}"), EH_ERR_PROTO);
		CHECK(R.bad_id);
		CHECK_STR(R.status_topic, "");
		CHECK_EQ(R.nchanges, 0);
	}
	CHECK_EQ(C.bad_ids, sizeof(bad_ids) / sizeof(bad_ids[0]));
	static const char *const unknown[] = {
	    "edge/config/other",      "edge/config/gateway/x",	 "edge/catalog/cats/1",
	    "edge/catalog/cameras/x", "edge/catalog/cameras/-0", "edge/catalog/cameras/01",
	    "edge/catalog/cameras",   "other/config/gateway",	 "edge/config/webhooks",
	};
	for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		CHECK_EQ(put(unknown[i], "{}"), EH_ERR_PROTO);
		CHECK(!R.bad_id);
		CHECK(!R.accepted);
		CHECK_STR(R.status_topic, "");
	}
	CHECK_EQ(C.refused, sizeof(unknown) / sizeof(unknown[0]));
	CHECK_EQ(put("edge/config/webhooks/4294967295", "{" GOOD "}"), EH_OK);
	CHECK_EQ(C.webhooks[0].id, 4294967295u);
	struct eh_status_config st;
	eh_config_status(&C, &st);
	CHECK_EQ(st.bad_ids, sizeof(bad_ids) / sizeof(bad_ids[0]));
	CHECK_EQ(st.accepted, 1);
}

EH_TEST(match_uses_active_webhooks_filters)
{
	static struct eh_note ev, co;
	size_t cnt;
	const char *e = "{\"id\":\"1\",\"event_type\":\"event_created\",\"camera\":3,"
			"\"matched\":true}";
	const char *c = "{\"id\":2,\"event_type\":\"counter_record\",\"counter\":2,\"camera\":3,"
			"\"faces_count\":2,\"silhouettes_count\":0}";

	setup(false);
	REQUIRE(eh_note_parse_message(e, strlen(e), EH_TYPE_EVENTS, &ev, 1, &cnt, NULL) == EH_OK);
	REQUIRE(eh_note_parse_message(c, strlen(c), EH_TYPE_COUNTERS, &co, 1, &cnt, NULL) == EH_OK);
	CHECK_EQ(eh_config_match(&C, &ev), 0);
	CHECK_EQ(put_hook(1, "{" GOOD ", \"filters\": {\"events\": {\"camera_in\": [3]}}}"), EH_OK);
	CHECK_EQ(put_hook(2, "{" GOOD ", \"filters\": {\"events\": {\"camera_in\": [4]}}}"), EH_OK);
	CHECK_EQ(put_hook(3, "{" GOOD ", \"active\": false}"), EH_OK);
	CHECK_EQ(put_hook(4, "{" GOOD "}"), EH_OK);
	CHECK_EQ(put_hook(5, "{" GOOD ", \"filters\": {\"counters\": {\"faces_gte\": 2}}}"), EH_OK);
	CHECK_EQ(eh_config_match(&C, &ev), (1u << 0) | (1u << 3));
	CHECK_EQ(eh_config_match(&C, &co), (1u << 3) | (1u << 4));
	CHECK(eh_config_wants_type(&C, 0, EH_TYPE_EVENTS));
	CHECK(!eh_config_wants_type(&C, 0, EH_TYPE_COUNTERS));
	CHECK(eh_config_wants_type(&C, 4, EH_TYPE_COUNTERS));
	CHECK(!eh_config_wants_type(&C, 4, EH_TYPE_EPISODES));
	CHECK(!eh_config_wants_type(&C, 9, EH_TYPE_EVENTS)); /* empty slot */
	CHECK(!eh_config_wants_type(&C, EH_MAX_WEBHOOKS, EH_TYPE_EVENTS));
	/* Reactivation and deletion change the mask. */
	CHECK_EQ(put_hook(3, "{" GOOD ", \"active\": true}"), EH_OK);
	CHECK_EQ(eh_config_match(&C, &ev), (1u << 0) | (1u << 2) | (1u << 3));
	CHECK_EQ(put_hook(1, ""), EH_OK);
	CHECK_EQ(eh_config_match(&C, &ev), (1u << 2) | (1u << 3));
	struct eh_status_config st;
	eh_config_status(&C, &st);
	CHECK_EQ(st.webhooks, 4);
	CHECK_EQ(st.active, 4);
}

EH_TEST(no_secret_or_header_value_in_any_answer)
{
	static const char *const msgs[] = {
	    "{\"title\": \"t\", \"url\": \"https://h/\", \"secret\": \"whsec_TOPSECRET!\"}",
	    "{\"title\": \"t\", \"url\": \"https://h/\", \"secret\": \"TOPSECRET\"}",
	    "{\"title\": \"t\", \"url\": \"https://h/\", \"headers\": {\"X-A\": "
	    "\"TOPSECRET\\r\\n\"}}",
	    "{\"title\": \"t\", \"url\": \"https://h/\", \"headers\": {\"Host\": \"TOPSECRET\"}}",
	    "{\"title\": \"t\", \"url\": \"https://h/\", \"headers\": {\"X-A\": \"TOPSECRET\"}, "
	    "\"secret\": \"whsec_VE9QU0VDUkVU\", \"timeout_s\": 0}",
	};
	setup(false);
	for (unsigned i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		CHECK(put_hook(1, msgs[i]) != EH_OK);
		CHECK(strstr(R.status_body, "TOPSECRET") == NULL);
		CHECK(strstr(R.status_body, "VE9QU0VDUkVU") == NULL);
		CHECK(strstr(R.status_body, "\"accepted\": false") != NULL);
	}
	/* A refused message leaves no secret in the table either. */
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		CHECK(!C.webhooks[s].has_secret);
}

/* The hmac-sha256 user property is kept beside the payload in the config
 * store, one value a line: only the contract's form (64 lowercase hex digits)
 * may pass, or a newline in it would break the store for the next start. */
EH_TEST(hmac_property_must_be_64_lowercase_hex)
{
	static const char json[] = "{" GOOD "}";
	static const char *const bad[] = {
	    "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00f\n",
	    "00ff00ff00ff00ff00ff00ff00ff00ff\n0ff00ff00ff00ff00ff00ff00ff00ff",
	    "00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF",
	    "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00f",
	    "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff0",
	    "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00fg",
	    "",
	};
	setup(false);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(eh_config_handle(&C, "edge/config/webhooks/5", (const uint8_t *)json,
					  strlen(json), bad[i], &R),
			 EH_ERR_PROTO);
		CHECK(!R.accepted);
		CHECK_STR(R.status_topic, "edge/config-status/webhooks/5");
		CHECK_STR(R.status_body, "{\"accepted\": false, \"errors\": [\"hmac-sha256: "
					 "expected 64 lowercase hex digits\"]}");
		CHECK_EQ(R.nchanges, 0);
		CHECK_EQ(C.webhooks[0].id, 0);
	}
	CHECK_EQ(eh_config_handle(
		     &C, "edge/config/webhooks/5", (const uint8_t *)json, strlen(json),
		     "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff", &R),
		 EH_OK);
	CHECK(R.accepted);
}

/* ==== URLs in logs ==== */

static char logged[4096];

static void log_sink(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

static void url_shown(bool tls, const char *host, uint16_t port, const char *path, const char *want)
{
	struct eh_url u;
	char out[EH_WEBHOOK_URL_MAX];

	memset(&u, 0, sizeof(u));
	u.tls = tls;
	snprintf(u.host, sizeof(u.host), "%s", host);
	u.port = port;
	snprintf(u.path, sizeof(u.path), "%s", path);
	eh_config_url_shown(&u, out, sizeof(out));
	CHECK_STR(out, want);
}

/* Receivers take their tokens in the query string: the log shows scheme,
 * host, port and path only. */
EH_TEST(logged_urls_have_no_query_string)
{
	url_shown(true, "hooks.example", 443, "/ff?token=SECRET", "https://hooks.example/ff");
	url_shown(true, "hooks.example", 443, "/?token=SECRET", "https://hooks.example/");
	url_shown(true, "hooks.example", 443, "", "https://hooks.example/");
	url_shown(true, "hooks.example", 8443, "/a/b?x=1&token=SECRET",
		  "https://hooks.example:8443/a/b");
	url_shown(false, "10.0.0.5", 80, "/a?SECRET", "http://10.0.0.5/a");
	url_shown(false, "::1", 8080, "/in?SECRET", "http://[::1]:8080/in");

	logged[0] = '\0';
	eh_log_set_sink(log_sink, NULL);
	setup(false);
	CHECK_EQ(put_hook(3, "{\"title\": \"t\", \"url\": "
			     "\"https://hooks.example/ff?token=SECRET\"}"),
		 EH_OK);
	CHECK_EQ(put_hook(3, "{\"title\": \"t\", \"url\": "
			     "\"https://hooks.example:8443/ff?a=1&token=SECRET\"}"),
		 EH_OK);
	/* User information is refused, and the refusal does not quote it. */
	CHECK(put_hook(4, "{\"title\": \"t\", \"url\": "
			  "\"https://user:SECRET@hooks.example/ff\"}") != EH_OK);
	eh_log_set_sink(NULL, NULL);
	CHECK(strstr(logged, "webhook 3 created (slot 0): \"t\" -> https://hooks.example/ff\n"));
	CHECK(strstr(logged,
		     "webhook 3 replaced (slot 0): \"t\" -> https://hooks.example:8443/ff\n"));
	CHECK(strstr(logged, "url: user information is not allowed"));
	CHECK(strstr(logged, "SECRET") == NULL);
	if (strstr(logged, "SECRET") != NULL)
		fprintf(stderr, "%s", logged);
}

EH_TEST(init_refuses_bad_arguments)
{
	struct eh_config_init ci;
	memset(&ci, 0, sizeof(ci));
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.topic_prefix = "a/#";
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.topic_prefix = "edge";
	ci.hmac_key = (const uint8_t *)"0123456789abcdef";
	ci.hmac_key_len = 16;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL); /* signed without a versions file */
}

EH_TEST(longest_prefix_still_fits_every_status_topic)
{
	static char prefix[200], topic[300], want[300];
	struct eh_config_init ci;

	memset(prefix, 'p', 191);
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = prefix;
	REQUIRE(eh_config_init(&C, &ci) == EH_OK);
	snprintf(topic, sizeof(topic), "%s/catalog/camera_groups/-9223372036854775808", prefix);
	CHECK_EQ(put(topic, "{}"), EH_OK);
	snprintf(want, sizeof(want), "%s/config-status/catalog/camera_groups/-9223372036854775808",
		 prefix);
	CHECK_STR(R.status_topic, want);
	snprintf(topic, sizeof(topic), "%s/config/webhooks/4294967295", prefix);
	CHECK_EQ(put(topic, "{" GOOD "}"), EH_OK);
	snprintf(want, sizeof(want), "%s/config-status/webhooks/4294967295", prefix);
	CHECK_STR(R.status_topic, want);
	prefix[191] = 'p'; /* 192 bytes: longer than the bootstrap file allows */
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
}

/* ==== Client certificate and proxy keys (CONTRACT 9.2) ==== */

EH_TEST(client_certificate_and_proxy_keys_are_read)
{
	const struct eh_webhook *w;

	setup(false);
	REQUIRE(put_hook(3, "{" GOOD ", \"client_cert_file\": \"/etc/eh/gw.crt\","
			    " \"client_key_file\": \"/etc/eh/gw.key\","
			    " \"proxy\": \"http://proxy.site:3128\"}") == EH_OK);
	w = &C.webhooks[R.changes[0].slot];
	CHECK_STR(w->client_cert_file, "/etc/eh/gw.crt");
	CHECK_STR(w->client_key_file, "/etc/eh/gw.key");
	CHECK_EQ(w->proxy, EH_WEBHOOK_PROXY_URL);
	CHECK_STR(w->proxy_host, "proxy.site");
	CHECK_EQ(w->proxy_port, 3128);
	REQUIRE(put_hook(3, "{" GOOD ", \"proxy\": \"direct\", \"client_cert_file\": null,"
			    " \"client_key_file\": null}") == EH_OK);
	CHECK_EQ(w->proxy, EH_WEBHOOK_PROXY_DIRECT);
	CHECK_STR(w->client_cert_file, "");
	REQUIRE(put_hook(3, "{" GOOD ", \"proxy\": null}") == EH_OK);
	CHECK_EQ(w->proxy, EH_WEBHOOK_PROXY_GATEWAY);
	REQUIRE(put_hook(3, "{" GOOD ", \"proxy\": \"http://[::1]:8080/\"}") == EH_OK);
	CHECK_STR(w->proxy_host, "::1");
	CHECK_EQ(w->proxy_port, 8080);
}

EH_TEST(client_certificate_and_proxy_errors_name_their_key)
{
	static const char want[] = "proxy: expected null, \"direct\" or \"http://host:port\"";

	CHECK(has_error("{" GOOD ", \"client_cert_file\": \"/a.crt\"}", false,
			"client_key_file: required with client_cert_file"));
	CHECK(has_error("{" GOOD ", \"client_key_file\": \"/a.key\"}", false,
			"client_cert_file: required with client_key_file"));
	CHECK(has_error("{\"title\": \"x\", \"url\": \"http://h/\", \"client_cert_file\": "
			"\"/a.crt\", \"client_key_file\": \"/a.key\"}",
			true, "client_cert_file: only for https:// URLs"));
	CHECK(has_error("{" GOOD ", \"client_cert_file\": \"\"}", false,
			"client_cert_file: expected null or a file path"));
	CHECK(has_error("{" GOOD ", \"client_key_file\": 7}", false,
			"client_key_file: expected null or a file path"));
	CHECK(has_error("{" GOOD ", \"proxy\": \"https://p:3128\"}", false, want));
	CHECK(has_error("{" GOOD ", \"proxy\": \"http://p:3128/x\"}", false, want));
	CHECK(has_error("{" GOOD ", \"proxy\": \"http://u@p:3128\"}", false, want));
	CHECK(has_error("{" GOOD ", \"proxy\": \"socks5://p:1080\"}", false, want));
	CHECK(has_error("{" GOOD ", \"proxy\": \"Direct\"}", false, want));
	CHECK(has_error("{" GOOD ", \"proxy\": true}", false, want));
}

/* The check hook: its errors refuse the message and nothing changes. */
static unsigned hook_calls;
static eh_err refuse_files(void *ctx, const struct eh_webhook *w, struct eh_errs *errs)
{
	(void)ctx;
	hook_calls++;
	if (strcmp(w->client_cert_file, "/missing.crt") != 0)
		return EH_OK;
	eh_errs_add(errs, "client_cert_file", "cannot read %s", w->client_cert_file);
	return EH_ERR_NOENT;
}

EH_TEST(check_hook_refuses_a_webhook_whose_files_do_not_load)
{
	struct eh_config_init ci;

	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge";
	ci.check_webhook = refuse_files;
	REQUIRE(eh_config_init(&C, &ci) == EH_OK);
	hook_calls = 0;
	REQUIRE(put_hook(4, "{" GOOD "}") == EH_OK);
	CHECK_EQ(hook_calls, 1);
	CHECK(put_hook(4, "{" GOOD ", \"title\": \"x\"}") != EH_OK);
	CHECK_EQ(hook_calls, 1); /* not called on a webhook that failed validation */
	CHECK(put_hook(4, "{\"title\": \"New\", \"url\": \"https://hooks.example/ff\","
			  " \"client_cert_file\": \"/missing.crt\","
			  " \"client_key_file\": \"/k.key\"}") == EH_ERR_NOENT);
	CHECK(!R.accepted);
	CHECK(strstr(R.status_body, "client_cert_file: cannot read /missing.crt") != NULL);
	CHECK_STR(C.webhooks[0].title, "Doors"); /* unchanged */
}
