/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_bootstrap_diff.c - what reading the bootstrap file again changes:
 * each key alone reports itself and nothing else, identical files report no
 * change, the CA bundle is always read again, MQTT credentials and TLS files
 * ask for a reconnect, and the widest values compare to their last byte. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_bootstrap.h"

#include <stdio.h>

static struct eh_bootstrap cur, next;
static struct eh_boot_diff d;

/* A running file with every list in use and the derived names explicit,
 * so that one edited key changes no other. */
static const char base_json[] =
    "{\"device_id\": \"gw-01\", \"topic_prefix\": \"site/gw-01\","
    " \"mqtt\": {\"uri\": \"tcp://127.0.0.1:1883\", \"client_id\": \"edgehookd-gw-01\","
    "   \"username\": \"gw\", \"keepalive_s\": 30},"
    " \"inputs\": {\"events\": \"site/gw-01/in/events\","
    "   \"episodes\": \"site/gw-01/in/episodes\", \"counters\": \"site/gw-01/in/counters\"},"
    " \"queue\": {\"path\": \"/var/lib/edgehook/queue.ring\", \"size_bytes\": 1048576},"
    " \"tls\": {\"ca_file\": \"/etc/ssl/certs/ca-certificates.crt\"},"
    " \"https_proxy\": \"http://proxy.site:3128\","
    " \"no_proxy\": [\"localhost\", \".corp.example\", \"10.0.0.1\"],"
    " \"fleet_prefixes\": [\"fleet/site-a\", \"fleet/all\"],"
    " \"coap\": {\"port\": 5683}, \"http\": {\"port\": 8080},"
    " \"log_level\": \"info\"}";

static eh_err parse(const char *json, struct eh_bootstrap *b)
{
	struct eh_errs errs;
	eh_errs_init(&errs);
	eh_err rc = eh_bootstrap_parse(json, strlen(json), b, &errs);
	for (unsigned i = 0; i < errs.n; i++)
		fprintf(stderr, "  parse: %s\n", errs.msg[i]);
	return rc;
}

/* The secrets as eh_bootstrap_load_secrets would have read them. */
static void give_secrets(struct eh_bootstrap *b)
{
	snprintf(b->password, sizeof(b->password), "s3cret");
	b->has_password = true;
	memset(b->hmac_key, 'k', 32);
	b->hmac_key_len = 32;
	memset(b->http_token, 't', 24);
	b->http_token_len = 24;
}

static bool load_base(void)
{
	if (parse(base_json, &cur) != EH_OK)
		return false;
	give_secrets(&cur);
	next = cur;
	return true;
}

/* Exactly `apply` (besides the CA bundle, read again always) and, when
 * restart_name is not NULL, exactly that one restart key. */
static void expect_only(int line, uint32_t apply, int restart, const char *restart_name)
{
	eh_bootstrap_diff(&cur, &next, &d);
	if (d.apply != (EH_BOOT_APPLY_CA | apply) ||
	    d.restart != (restart < 0 ? 0u : 1u << restart) ||
	    d.n_restart != (restart < 0 ? 0u : 1u)) {
		fprintf(stderr, "  case at line %d: apply 0x%x restart 0x%x (%u keys)\n", line,
			d.apply, d.restart, d.n_restart);
		eh_test_failed_now = 1;
		return;
	}
	if (restart >= 0)
		CHECK_STR(d.restart_keys[0], restart_name);
}

/* Edit one key of `next` (a copy of the running file) and expect only it. */
#define ONLY(edit, apply, restart, name)                                                           \
	do {                                                                                       \
		next = cur;                                                                        \
		struct eh_bootstrap *n = &next;                                                    \
		edit;                                                                              \
		expect_only(__LINE__, (apply), (restart), (name));                                 \
	} while (0)

#define NONE (-1)

EH_TEST(identical_files_report_no_change)
{
	static struct eh_bootstrap again;
	REQUIRE(load_base());
	/* Parsed separately, over different stale bytes. */
	memset(&again, 0x5a, sizeof(again));
	REQUIRE(parse(base_json, &again) == EH_OK);
	give_secrets(&again);
	eh_bootstrap_diff(&cur, &again, &d);
	CHECK_EQ(d.apply, EH_BOOT_APPLY_CA);
	CHECK_EQ(d.restart, 0);
	CHECK_EQ(d.n_restart, 0);
	/* What follows a string's end is not part of it. */
	next = cur;
	memset(next.queue.path + strlen(next.queue.path) + 1, 'x', 8);
	memset(next.no_proxy[1] + strlen(next.no_proxy[1]) + 1, 'x', 8);
	memset(next.mqtt.tls.cert_file + 1, 'x', 8);
	eh_bootstrap_diff(&cur, &next, &d);
	CHECK_EQ(d.apply, EH_BOOT_APPLY_CA);
	CHECK_EQ(d.restart, 0);
}

EH_TEST(renewed_ca_under_the_same_name_reloads)
{
	REQUIRE(load_base());
	eh_bootstrap_diff(&cur, &next, &d);
	CHECK(d.apply & EH_BOOT_APPLY_CA);
	/* A new name: still only the bundle, which applies now. */
	ONLY(snprintf(n->ca_file, sizeof(n->ca_file), "/etc/edgehook/ca.pem"), 0, NONE, NULL);
}

EH_TEST(each_key_reports_itself_only)
{
	REQUIRE(load_base());
	ONLY(n->log_level = 3, EH_BOOT_APPLY_LOG_LEVEL, NONE, NULL);
	ONLY(n->stop_grace_s = 60, EH_BOOT_APPLY_STOP_GRACE, NONE, NULL);

	ONLY(snprintf(n->device_id, sizeof(n->device_id), "gw-02"), 0, EH_BOOT_RS_DEVICE_ID,
	     "device_id");
	ONLY(snprintf(n->topic_prefix, sizeof(n->topic_prefix), "site/gw-02"), 0,
	     EH_BOOT_RS_TOPIC_PREFIX, "topic_prefix");
	ONLY(snprintf(n->mqtt.uri, sizeof(n->mqtt.uri), "tcp://127.0.0.1:1884"), 0,
	     EH_BOOT_RS_MQTT_ID, "mqtt.uri/mqtt.client_id");
	ONLY(snprintf(n->mqtt.client_id, sizeof(n->mqtt.client_id), "other"), 0, EH_BOOT_RS_MQTT_ID,
	     "mqtt.uri/mqtt.client_id");
	for (int i = 0; i < 3; i++)
		ONLY(n->inputs[i][0] = 'X', 0, EH_BOOT_RS_INPUTS, "inputs");
	ONLY(snprintf(n->queue.path, sizeof(n->queue.path), "/data/q.ring"), 0, EH_BOOT_RS_QUEUE,
	     "queue");
	ONLY(n->queue.size_bytes *= 2, 0, EH_BOOT_RS_QUEUE, "queue");
	ONLY(n->queue.full_policy = EH_BOOT_BLOCK, 0, EH_BOOT_RS_QUEUE, "queue");
	ONLY(n->queue.commit_interval_ms += 1, 0, EH_BOOT_RS_QUEUE, "queue");
	ONLY(n->https_proxy.host[0] = '\0', 0, EH_BOOT_RS_PROXY, "https_proxy/no_proxy");
	ONLY(n->https_proxy.port = 8080, 0, EH_BOOT_RS_PROXY, "https_proxy/no_proxy");
	ONLY(n->n_no_proxy = 2, 0, EH_BOOT_RS_PROXY, "https_proxy/no_proxy");
	ONLY(n->no_proxy[2][0] = '9', 0, EH_BOOT_RS_PROXY, "https_proxy/no_proxy");
	ONLY(n->allow_plain_http = true, 0, EH_BOOT_RS_PLAIN_HTTP, "allow_plain_http");
	ONLY(n->n_fleet = 1, 0, EH_BOOT_RS_FLEET, "fleet_prefixes");
	ONLY(n->fleet_prefixes[0][0] = 'F', 0, EH_BOOT_RS_FLEET, "fleet_prefixes");
	ONLY(snprintf(n->config_hmac_key_file, sizeof(n->config_hmac_key_file), "/k"), 0,
	     EH_BOOT_RS_HMAC, "config_hmac_key_file");
	ONLY(n->hmac_key[0] = 'K', 0, EH_BOOT_RS_HMAC, "config_hmac_key_file");
	ONLY(n->hmac_key_len = 31, 0, EH_BOOT_RS_HMAC, "config_hmac_key_file");
	ONLY(snprintf(n->coap.bind, sizeof(n->coap.bind), "::1"), 0, EH_BOOT_RS_COAP, "coap");
	ONLY(n->coap.port = 0, 0, EH_BOOT_RS_COAP, "coap");
	ONLY(snprintf(n->http.bind, sizeof(n->http.bind), "::1"), 0, EH_BOOT_RS_HTTP, "http");
	ONLY(n->http.port = 8081, 0, EH_BOOT_RS_HTTP, "http");
	ONLY(snprintf(n->http.token_file, sizeof(n->http.token_file), "/t"), 0, EH_BOOT_RS_HTTP,
	     "http");
	ONLY(n->http_token[23] = 'T', 0, EH_BOOT_RS_HTTP, "http");
	ONLY(n->http_token_len = 0, 0, EH_BOOT_RS_HTTP, "http");
}

EH_TEST(credentials_and_tls_files_ask_for_a_reconnect)
{
	REQUIRE(load_base());
	ONLY(n->mqtt.username[0] = 'G', EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->mqtt.username[0] = '\0', EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->password[5] = 'T', EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->has_password = false, EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->mqtt.keepalive_s = 60, EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->mqtt.max_packet_bytes -= 1, EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(snprintf(n->mqtt.tls.ca_file, sizeof(n->mqtt.tls.ca_file), "/b.pem"),
	     EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(snprintf(n->mqtt.tls.cert_file, sizeof(n->mqtt.tls.cert_file), "/c.pem"),
	     EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(snprintf(n->mqtt.tls.key_file, sizeof(n->mqtt.tls.key_file), "/c.key"),
	     EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->mqtt.tls.verify_host = !n->mqtt.tls.verify_host, EH_BOOT_APPLY_MQTT, NONE, NULL);
	/* The password file's name alone: the password it holds decides. */
	ONLY(snprintf(n->mqtt.password_file, sizeof(n->mqtt.password_file), "/p2"), 0, NONE, NULL);

	/* Over TLS the files are read again at every reload: renewed in place. */
	snprintf(cur.mqtt.uri, sizeof(cur.mqtt.uri), "mqtts://127.0.0.1:8883");
	cur.mqtt.use_tls = true;
	ONLY((void)n, EH_BOOT_APPLY_MQTT, NONE, NULL);
	/* ... unless the URI changed, which waits for a restart. */
	ONLY(snprintf(n->mqtt.uri, sizeof(n->mqtt.uri), "mqtts://127.0.0.1:8884"), 0,
	     EH_BOOT_RS_MQTT_ID, "mqtt.uri/mqtt.client_id");
}

/* The longest value of a key differs from another in its last byte only. */
static void longest(char *s, size_t cap, char last)
{
	memset(s, 'p', cap - 1);
	s[0] = '/';
	s[cap - 2] = last;
	s[cap - 1] = '\0';
}

EH_TEST(widest_values_compare_to_the_last_byte)
{
	REQUIRE(load_base());
	longest(cur.queue.path, sizeof(cur.queue.path), 'a');
	longest(cur.mqtt.tls.key_file, sizeof(cur.mqtt.tls.key_file), 'a');
	longest(cur.config_hmac_key_file, sizeof(cur.config_hmac_key_file), 'a');
	longest(cur.http.token_file, sizeof(cur.http.token_file), 'a');
	cur.n_no_proxy = EH_BOOT_NO_PROXY_MAX;
	for (int i = 0; i < EH_BOOT_NO_PROXY_MAX; i++)
		longest(cur.no_proxy[i], sizeof(cur.no_proxy[i]), (char)('a' + i));
	cur.n_fleet = EH_BOOT_FLEET_MAX;
	for (int i = 0; i < EH_BOOT_FLEET_MAX; i++)
		longest(cur.fleet_prefixes[i], sizeof(cur.fleet_prefixes[i]), (char)('a' + i));
	memset(cur.password, 'w', sizeof(cur.password) - 1);
	cur.password[sizeof(cur.password) - 1] = '\0';
	memset(cur.hmac_key, 'k', sizeof(cur.hmac_key));
	cur.hmac_key_len = sizeof(cur.hmac_key);
	memset(cur.http_token, 't', sizeof(cur.http_token));
	cur.http_token_len = sizeof(cur.http_token);

	ONLY((void)n, 0, NONE, NULL);
	ONLY(n->queue.path[sizeof(n->queue.path) - 2] = 'b', 0, EH_BOOT_RS_QUEUE, "queue");
	ONLY(n->mqtt.tls.key_file[sizeof(n->mqtt.tls.key_file) - 2] = 'b', EH_BOOT_APPLY_MQTT, NONE,
	     NULL);
	ONLY(n->no_proxy[EH_BOOT_NO_PROXY_MAX - 1][EH_BOOT_HOST_MAX - 2] = 'z', 0, EH_BOOT_RS_PROXY,
	     "https_proxy/no_proxy");
	ONLY(n->fleet_prefixes[EH_BOOT_FLEET_MAX - 1][EH_BOOT_TOPIC_MAX - 2] = 'z', 0,
	     EH_BOOT_RS_FLEET, "fleet_prefixes");
	ONLY(n->config_hmac_key_file[EH_BOOT_PATH_MAX - 2] = 'b', 0, EH_BOOT_RS_HMAC,
	     "config_hmac_key_file");
	ONLY(n->http.token_file[EH_BOOT_PATH_MAX - 2] = 'b', 0, EH_BOOT_RS_HTTP, "http");
	ONLY(n->password[EH_BOOT_SECRET_MAX - 2] = 'W', EH_BOOT_APPLY_MQTT, NONE, NULL);
	ONLY(n->hmac_key[EH_BOOT_SECRET_MAX - 1] = 'K', 0, EH_BOOT_RS_HMAC, "config_hmac_key_file");
	ONLY(n->http_token[EH_BOOT_SECRET_MAX - 1] = 'T', 0, EH_BOOT_RS_HTTP, "http");
}

EH_TEST(every_restart_key_named_in_order)
{
	static const char *const names[EH_BOOT_RS_COUNT] = {
	    "device_id",
	    "topic_prefix",
	    "mqtt.uri/mqtt.client_id",
	    "inputs",
	    "queue",
	    "https_proxy/no_proxy",
	    "allow_plain_http",
	    "fleet_prefixes",
	    "config_hmac_key_file",
	    "coap",
	    "http",
	};
	REQUIRE(load_base());
	next.device_id[0] = 'X';
	next.topic_prefix[0] = 'X';
	next.mqtt.client_id[0] = 'X';
	next.inputs[1][0] = 'X';
	next.queue.commit_interval_ms++;
	next.https_proxy.port++;
	next.allow_plain_http = true;
	next.fleet_prefixes[1][0] = 'X';
	next.hmac_key_len = 0;
	next.coap.port++;
	next.http.port++;
	next.log_level = 0;
	eh_bootstrap_diff(&cur, &next, &d);
	CHECK_EQ(d.apply, EH_BOOT_APPLY_CA | EH_BOOT_APPLY_LOG_LEVEL);
	CHECK_EQ(d.restart, (1u << EH_BOOT_RS_COUNT) - 1);
	REQUIRE(d.n_restart == EH_BOOT_RS_COUNT);
	for (int k = 0; k < EH_BOOT_RS_COUNT; k++) {
		CHECK_STR(d.restart_keys[k], names[k]);
		CHECK_STR(eh_bootstrap_restart_name((enum eh_boot_restart)k), names[k]);
	}
	CHECK(eh_bootstrap_restart_name(EH_BOOT_RS_COUNT) == NULL);
}
