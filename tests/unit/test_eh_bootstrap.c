/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_bootstrap.c - the bootstrap loader: defaults, derived topics and
 * every error path, each of which must name its key. */
#define EH_TEST_MAIN
#include "eh_test.h"
#include "eh_bootstrap.h"
#include "eh_limits.h"
#include "eh_log.h"

#include <unistd.h>

static struct eh_bootstrap b;
static struct eh_errs errs;

static eh_err parse(const char *json)
{
	eh_errs_init(&errs);
	return eh_bootstrap_parse(json, strlen(json), &b, &errs);
}

/* The single error the input must produce, compared whole. */
static void expect_error(const char *json, const char *msg)
{
	eh_err rc = parse(json);
	CHECK(rc == EH_ERR_INVAL);
	CHECK_EQ(errs.n, 1);
	if (errs.n >= 1)
		CHECK_STR(errs.msg[0], msg);
}

EH_TEST(empty_object_gives_contract_defaults)
{
	REQUIRE(parse("{}") == EH_OK);
	CHECK_STR(b.device_id, "edgehook");
	CHECK_STR(b.topic_prefix, "edgehook/edgehook");
	CHECK_STR(b.mqtt.uri, "tcp://127.0.0.1:1883");
	CHECK_STR(b.mqtt.client_id, "edgehookd-edgehook");
	CHECK_EQ(b.mqtt.keepalive_s, 30);
	CHECK_EQ(b.mqtt.max_packet_bytes, EH_MQTT_MAX_PACKET_BYTES);
	CHECK_STR(b.inputs[0], "edgehook/edgehook/in/events");
	CHECK_STR(b.inputs[1], "edgehook/edgehook/in/episodes");
	CHECK_STR(b.inputs[2], "edgehook/edgehook/in/counters");
	CHECK_STR(b.queue.path, "/var/lib/edgehook/queue.ring");
	CHECK_EQ(b.queue.size_bytes, 16777216);
	CHECK_EQ(b.queue.full_policy, EH_BOOT_DROP_OLDEST);
	CHECK_EQ(b.queue.commit_interval_ms, 20);
	CHECK_STR(b.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	CHECK(!b.allow_plain_http);
	CHECK_STR(b.config_hmac_key_file, "");
	CHECK_STR(b.coap.bind, "127.0.0.1");
	CHECK_EQ(b.coap.port, 5683);
	CHECK_EQ(b.log_level, EH_LOG_LEVEL_INF);
}

EH_TEST(max_packet_bytes_null_range_and_errors)
{
	char j[128], msg[128];
	REQUIRE(parse("{\"mqtt\":{\"max_packet_bytes\":null}}") == EH_OK);
	CHECK_EQ(b.mqtt.max_packet_bytes, EH_MAX_MSG_BYTES + EH_MQTT_PACKET_HEADROOM);
	snprintf(j, sizeof(j), "{\"mqtt\":{\"max_packet_bytes\":%d}}", EH_MQTT_MIN_PACKET_BYTES);
	REQUIRE(parse(j) == EH_OK);
	CHECK_EQ(b.mqtt.max_packet_bytes, EH_MQTT_MIN_PACKET_BYTES);
	snprintf(j, sizeof(j), "{\"mqtt\":{\"max_packet_bytes\":%d}}", EH_MQTT_MAX_PACKET_BYTES);
	REQUIRE(parse(j) == EH_OK);
	CHECK_EQ(b.mqtt.max_packet_bytes, EH_MQTT_MAX_PACKET_BYTES);
	snprintf(msg, sizeof(msg), "mqtt.max_packet_bytes: out of range %d..%d",
		 EH_MQTT_MIN_PACKET_BYTES, EH_MQTT_MAX_PACKET_BYTES);
	snprintf(j, sizeof(j), "{\"mqtt\":{\"max_packet_bytes\":%d}}",
		 EH_MQTT_MAX_PACKET_BYTES + 1);
	expect_error(j, msg);
	snprintf(j, sizeof(j), "{\"mqtt\":{\"max_packet_bytes\":%d}}",
		 EH_MQTT_MIN_PACKET_BYTES - 1);
	expect_error(j, msg);
	expect_error("{\"mqtt\":{\"max_packet_bytes\":33554432}}", msg);
	expect_error("{\"mqtt\":{\"max_packet_bytes\":\"1M\"}}",
		     "mqtt.max_packet_bytes: expected integer");
}

EH_TEST(contract_example_parses)
{
	const char *j =
	    "{\"device_id\":\"gw-01\",\"topic_prefix\":\"edgehook/gw-01\","
	    "\"mqtt\":{\"uri\":\"tcp://127.0.0.1:1884\",\"client_id\":\"edgehookd-gw-01\","
	    "\"username\":null,\"password_file\":null,\"keepalive_s\":30},"
	    "\"inputs\":{\"events\":\"cams/+/events\",\"episodes\":\"edgehook/gw-01/in/episodes\","
	    "\"counters\":\"edgehook/gw-01/in/#\"},"
	    "\"queue\":{\"path\":\"/tmp/q.ring\",\"size_bytes\":1048576,\"full_policy\":\"block\"},"
	    "\"tls\":{\"ca_file\":\"/tmp/ca.pem\"},\"allow_plain_http\":true,"
	    "\"config_hmac_key_file\":null,\"coap\":{\"bind\":\"::1\",\"port\":0},"
	    "\"log_level\":\"debug\"}";
	REQUIRE(parse(j) == EH_OK);
	CHECK_STR(b.mqtt.host, "127.0.0.1");
	CHECK_EQ(b.mqtt.port, 1884);
	CHECK_STR(b.inputs[0], "cams/+/events");
	CHECK_STR(b.inputs[2], "edgehook/gw-01/in/#");
	CHECK_EQ(b.queue.full_policy, EH_BOOT_BLOCK);
	CHECK_EQ(b.queue.size_bytes, 1048576);
	CHECK(b.allow_plain_http);
	CHECK_EQ(b.coap.port, 0);
	CHECK_EQ(b.log_level, EH_LOG_LEVEL_DBG);
}

EH_TEST(device_id_drives_derived_names)
{
	REQUIRE(parse("{\"device_id\":\"cam-7\"}") == EH_OK);
	CHECK_STR(b.topic_prefix, "edgehook/cam-7");
	CHECK_STR(b.mqtt.client_id, "edgehookd-cam-7");
	CHECK_STR(b.inputs[1], "edgehook/cam-7/in/episodes");
	REQUIRE(parse("{\"topic_prefix\":\"site/a\"}") == EH_OK);
	CHECK_STR(b.inputs[0], "site/a/in/events");
}

/* Two boxes set up from the shipped example differ only in device_id: every
 * MQTT name (prefix, client id, input topics) must follow it, or they share
 * a client id and a session and knock each other off the broker. */
EH_TEST(shipped_example_derives_every_name_from_device_id)
{
	static char text[8192], edited[8300];
	char path[512];
	snprintf(path, sizeof(path), "%s/config/edgehookd.conf.example", EH_SOURCE_DIR);
	REQUIRE(eh_test_read_file(path, text, sizeof(text)) > 0);
	const char *k = strstr(text, "\"device_id\"");
	REQUIRE(k != NULL);
	const char *open = strchr(strchr(k + 11, ':'), '"');
	REQUIRE(open != NULL);
	const char *close = strchr(open + 1, '"');
	REQUIRE(close != NULL);
	snprintf(edited, sizeof(edited), "%.*s\"gw-42\"%s", (int)(open - text), text, close + 1);
	REQUIRE(parse(edited) == EH_OK);
	CHECK_STR(b.device_id, "gw-42");
	CHECK_STR(b.topic_prefix, "edgehook/gw-42");
	CHECK_STR(b.mqtt.client_id, "edgehookd-gw-42");
	CHECK_STR(b.inputs[0], "edgehook/gw-42/in/events");
	CHECK_STR(b.inputs[1], "edgehook/gw-42/in/episodes");
	CHECK_STR(b.inputs[2], "edgehook/gw-42/in/counters");
}

EH_TEST(every_error_names_its_key)
{
	expect_error("[]", "expected a JSON object");
	expect_error("{\"devise_id\":\"x\"}", "devise_id: unknown key");
	expect_error("{\"device_id\":5}", "device_id: expected string");
	expect_error("{\"device_id\":\"\"}", "device_id: must not be empty");
	expect_error("{\"device_id\":\"a b\"}",
		     "device_id: only letters, digits, '.', '_' and '-' allowed");
	expect_error("{\"topic_prefix\":\"a/#\"}",
		     "topic_prefix: a topic without wildcards and without a trailing '/'");
	expect_error("{\"topic_prefix\":\"a/\"}",
		     "topic_prefix: a topic without wildcards and without a trailing '/'");
	expect_error("{\"mqtt\":1}", "mqtt: expected object");
	expect_error("{\"mqtt\":{\"url\":\"x\"}}", "mqtt.url: unknown key");
	expect_error("{\"mqtt\":{\"uri\":\"wss://h:1\"}}",
		     "mqtt.uri: expected tcp://, mqtt://, mqtts:// or ssl:// host[:port]");
	expect_error("{\"mqtt\":{\"uri\":\"tcp://h:70000\"}}",
		     "mqtt.uri: expected tcp://, mqtt://, mqtts:// or ssl:// host[:port]");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h:0\"}}",
		     "mqtt.uri: expected tcp://, mqtt://, mqtts:// or ssl:// host[:port]");
	expect_error("{\"mqtt\":{\"keepalive_s\":1}}", "mqtt.keepalive_s: out of range 5..3600");
	expect_error("{\"mqtt\":{\"keepalive_s\":2.5}}", "mqtt.keepalive_s: expected integer");
	expect_error("{\"mqtt\":{\"keepalive_s\":\"30\"}}", "mqtt.keepalive_s: expected integer");
	expect_error("{\"mqtt\":{\"username\":7}}", "mqtt.username: expected string or null");
	expect_error("{\"mqtt\":{\"client_id\":\"\"}}", "mqtt.client_id: must not be empty");
	expect_error("{\"inputs\":[]}", "inputs: expected object");
	expect_error("{\"inputs\":{\"faces\":\"x\"}}", "inputs.faces: unknown key");
	expect_error("{\"inputs\":{\"events\":\"a/#/b\"}}",
		     "inputs.events: not a valid MQTT topic filter");
	expect_error("{\"inputs\":{\"counters\":\"a+\"}}",
		     "inputs.counters: not a valid MQTT topic filter");
	expect_error("{\"queue\":{\"size_bytes\":1024}}",
		     "queue.size_bytes: out of range 1048576..4294967296");
	expect_error("{\"queue\":{\"size_bytes\":-5}}",
		     "queue.size_bytes: out of range 1048576..4294967296");
	expect_error("{\"queue\":{\"full_policy\":\"newest\"}}",
		     "queue.full_policy: expected \"drop_oldest\" or \"block\"");
	expect_error("{\"queue\":{\"path\":null}}", "queue.path: expected string");
	expect_error("{\"queue\":{\"commit_interval_ms\":0}}",
		     "queue.commit_interval_ms: out of range 1..1000");
	expect_error("{\"queue\":{\"x\":0}}", "queue.x: unknown key");
	expect_error("{\"queue\":true}", "queue: expected object");
	expect_error("{\"tls\":{\"ca_file\":3}}", "tls.ca_file: expected string");
	expect_error("{\"tls\":{\"cert\":\"x\"}}", "tls.cert: unknown key");
	expect_error("{\"tls\":\"x\"}", "tls: expected object");
	expect_error("{\"allow_plain_http\":\"yes\"}", "allow_plain_http: expected boolean");
	expect_error("{\"config_hmac_key_file\":1}",
		     "config_hmac_key_file: expected string or null");
	expect_error("{\"coap\":{\"port\":70000}}", "coap.port: out of range 0..65535");
	expect_error("{\"coap\":{\"host\":\"x\"}}", "coap.host: unknown key");
	expect_error("{\"coap\":0}", "coap: expected object");
	expect_error("{\"log_level\":\"loud\"}",
		     "log_level: expected \"error\", \"warning\", \"info\" or \"debug\"");
	expect_error("{\"device_id\":\"a\\u0001\"}", "device_id: control character not allowed");
}

/* An input filter that matches a topic the daemon publishes (status, dead
 * letters, webhook states, config-status) or reads its config from would
 * feed the daemon its own output: refused, naming the key. */
EH_TEST(input_overlapping_the_daemons_own_topics_is_refused)
{
	static const char *const refused[][2] = {
	    {"gw/#", "gw/status"},
	    {"#", "gw/status"},
	    {"+/#", "gw/status"},
	    {"gw/+", "gw/status"},
	    {"+/status", "gw/status"},
	    {"gw/deadletter/7", "gw/deadletter/+"},
	    {"gw/+/7", "gw/deadletter/+"},
	    /* matches gw/config/events, which the daemon reads as config */
	    {"gw/+/events", "gw/deadletter/+"},
	    {"gw/webhooks/+/state", "gw/webhooks/+/state"},
	    {"gw/+/+/state", "gw/webhooks/+/state"},
	    {"+/+/+/+", "gw/webhooks/+/state"},
	    {"gw/webhooks/#", "gw/webhooks/+/state"},
	    {"gw/config-status/webhooks/3", "gw/config-status/#"},
	    {"gw/config/webhooks/+", "gw/config/#"},
	    {"gw/config", "gw/config/#"},
	    {"gw/catalog/cameras/1", "gw/catalog/#"},
	};
	static const char *const accepted[] = {
	    "gw/in/events",
	    "gw/in/#",
	    "gw/in/+",
	    "gw",
	    "+/in/events",
	    "cams/+/events",
	    "gw/webhooks/+/other",
	    "gw/status/x",
	    "gw/deadletter",
	    "gw/webhooks/+",
	    "other/#",
	};
	char json[256], msg[256];

	for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"topic_prefix\":\"gw\",\"inputs\":{\"episodes\":\"%s\"}}",
			 refused[i][0]);
		snprintf(msg, sizeof(msg),
			 "inputs.episodes: overlaps %s, a topic of the daemon's own: it would "
			 "take its own output as input",
			 refused[i][1]);
		expect_error(json, msg);
	}
	for (unsigned i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"topic_prefix\":\"gw\",\"inputs\":{\"counters\":\"%s\"}}", accepted[i]);
		CHECK_EQ(parse(json), EH_OK);
		if (errs.n)
			fprintf(stderr, "  %s: %s\n", accepted[i], errs.msg[0]);
	}
	/* The derived prefix counts as well (edgehook/<device_id>). */
	expect_error("{\"device_id\":\"cam-7\",\"inputs\":{\"events\":\"edgehook/#\"}}",
		     "inputs.events: overlaps edgehook/cam-7/status, a topic of the daemon's "
		     "own: it would take its own output as input");
}

/* CONTRACT 9.1: mqtts:// and ssl:// are TLS (default port 8883), mqtt.tls
 * names the files; its errors name the key. */
EH_TEST(mqtt_tls_keys)
{
	CHECK(parse("{}") == EH_OK);
	CHECK(!b.mqtt.use_tls);
	CHECK(b.mqtt.tls.verify_host);
	CHECK_STR(eh_bootstrap_mqtt_ca(&b), "/etc/ssl/certs/ca-certificates.crt");

	CHECK(parse("{\"mqtt\":{\"uri\":\"mqtts://broker.example\"}}") == EH_OK);
	CHECK(b.mqtt.use_tls);
	CHECK_STR(b.mqtt.host, "broker.example");
	CHECK_EQ(b.mqtt.port, 8883);
	CHECK(parse("{\"mqtt\":{\"uri\":\"ssl://[::1]:9883\"}}") == EH_OK);
	CHECK(b.mqtt.use_tls);
	CHECK_STR(b.mqtt.host, "::1");
	CHECK_EQ(b.mqtt.port, 9883);
	CHECK(parse("{\"mqtt\":{\"uri\":\"mqtt://h\"}}") == EH_OK);
	CHECK(!b.mqtt.use_tls);
	CHECK_EQ(b.mqtt.port, 1883);

	/* The contract's example: nulls mean defaults, the CA from tls.ca_file. */
	CHECK(parse("{\"mqtt\":{\"uri\":\"mqtts://h:8883\",\"tls\":{\"ca_file\":null,"
		    "\"cert_file\":null,\"key_file\":null,\"verify_host\":true}},"
		    "\"tls\":{\"ca_file\":\"/etc/ca.pem\"}}") == EH_OK);
	CHECK_STR(eh_bootstrap_mqtt_ca(&b), "/etc/ca.pem");
	CHECK_STR(b.mqtt.tls.cert_file, "");
	CHECK(parse("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"ca_file\":\"/b/ca.pem\","
		    "\"cert_file\":\"/b/c.pem\",\"key_file\":\"/b/k.pem\","
		    "\"verify_host\":false}}}") == EH_OK);
	CHECK_STR(eh_bootstrap_mqtt_ca(&b), "/b/ca.pem");
	CHECK_STR(b.mqtt.tls.cert_file, "/b/c.pem");
	CHECK_STR(b.mqtt.tls.key_file, "/b/k.pem");
	CHECK(!b.mqtt.tls.verify_host);
	/* A plain uri with a tls block of nulls is fine. */
	CHECK(parse("{\"mqtt\":{\"uri\":\"tcp://h\",\"tls\":{\"ca_file\":null}}}") == EH_OK);

	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":1}}", "mqtt.tls: expected object");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"ca\":\"x\"}}}",
		     "mqtt.tls.ca: unknown key");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"verify_host\":\"no\"}}}",
		     "mqtt.tls.verify_host: expected boolean");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"cert_file\":\"/c\"}}}",
		     "mqtt.tls.key_file: required when cert_file is set");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"key_file\":\"/k\"}}}",
		     "mqtt.tls.cert_file: required when key_file is set");
	expect_error("{\"mqtt\":{\"uri\":\"mqtts://h\",\"tls\":{\"cert_file\":\"\",\"key_file\":"
		     "\"/k\"}}}",
		     "mqtt.tls.cert_file: must not be empty");
	expect_error("{\"mqtt\":{\"uri\":\"tcp://h\",\"tls\":{\"cert_file\":\"/c\","
		     "\"key_file\":\"/k\"}}}",
		     "mqtt.tls: set, but mqtt.uri is not mqtts:// or ssl://");
}

EH_TEST(several_problems_are_all_reported)
{
	CHECK(parse("{\"x\":1,\"mqtt\":{\"keepalive_s\":0},\"coap\":{\"port\":-1}}") ==
	      EH_ERR_INVAL);
	CHECK_EQ(errs.n, 3);
}

EH_TEST(not_json_reports_position)
{
	CHECK(parse("{\"device_id\": }") == EH_ERR_INVAL);
	CHECK_EQ(errs.n, 1);
	CHECK(strstr(errs.msg[0], "not valid JSON") != NULL);
}

EH_TEST(too_long_string_is_an_error)
{
	char j[600];
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(j, sizeof(j), "{\"queue\":{\"path\":\"%s\"}}", big);
	expect_error(j, "queue.path: longer than 255 characters");
}

EH_TEST(file_loading_and_secrets)
{
	char dir[] = "/tmp/eh_boot_XXXXXX";
	char conf[128], key[128], pw[128], j[512];
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(conf, sizeof(conf), "%s/boot.json", dir);
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	FILE *f = fopen(key, "w");
	fputs("0123456789abcdef\n", f);
	fclose(f);
	f = fopen(pw, "w");
	fputs("s3cret\n", f);
	fclose(f);
	snprintf(j, sizeof(j),
		 "{\"config_hmac_key_file\":\"%s\",\"mqtt\":{\"password_file\":\"%s\","
		 "\"username\":\"u\"}}",
		 key, pw);
	f = fopen(conf, "w");
	fputs(j, f);
	fclose(f);
	eh_errs_init(&errs);
	REQUIRE(eh_bootstrap_load(conf, &b, &errs) == EH_OK);
	REQUIRE(eh_bootstrap_load_secrets(&b, &errs) == EH_OK);
	CHECK_EQ(b.hmac_key_len, 16); /* the trailing newline is not part of the key */
	CHECK_STR(b.password, "s3cret");
	CHECK(b.has_password);

	f = fopen(key, "w");
	fputs("short\n", f);
	fclose(f);
	eh_errs_init(&errs);
	CHECK(eh_bootstrap_load_secrets(&b, &errs) == EH_ERR_INVAL);
	CHECK_STR(errs.msg[0], "config_hmac_key_file: key is 5 bytes; at least 16 required");

	unlink(pw);
	eh_errs_init(&errs);
	CHECK(eh_bootstrap_load_secrets(&b, &errs) == EH_ERR_INVAL);
	CHECK(strncmp(errs.msg[0], "mqtt.password_file: cannot read", 31) == 0);

	eh_errs_init(&errs);
	CHECK(eh_bootstrap_load("/nonexistent/boot.json", &b, &errs) == EH_ERR_NOENT);
	CHECK(strstr(errs.msg[0], "cannot read") != NULL);
	unlink(key);
	unlink(conf);
	rmdir(dir);
}

EH_TEST(http_listener_keys)
{
	char dir[] = "/tmp/eh_boot_XXXXXX";
	char tok[128], j[512];
	REQUIRE(parse("{}") == EH_OK);
	CHECK_STR(b.http.bind, "127.0.0.1");
	CHECK_EQ(b.http.port, 0); /* off by default */
	CHECK_STR(b.http.token_file, "");
	REQUIRE(parse("{\"http\":{\"bind\":\"::1\",\"port\":8480,\"token_file\":null}}") == EH_OK);
	CHECK_STR(b.http.bind, "::1");
	CHECK_EQ(b.http.port, 8480);
	expect_error("{\"http\":{\"port\":65536}}", "http.port: out of range 0..65535");
	expect_error("{\"http\":{\"tokens\":\"x\"}}", "http.tokens: unknown key");
	expect_error("{\"http\":{\"bind\":\"localhost\"}}",
		     "http.bind: expected a numeric IPv4 or IPv6 address");
	expect_error("{\"http\":[]}", "http: expected object");
	expect_error("{\"http\":{\"token_file\":7}}", "http.token_file: expected string or null");

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	FILE *f = fopen(tok, "w");
	fputs("t0ken\n", f);
	fclose(f);
	snprintf(j, sizeof(j), "{\"http\":{\"port\":1,\"token_file\":\"%s\"}}", tok);
	REQUIRE(parse(j) == EH_OK);
	REQUIRE(eh_bootstrap_load_secrets(&b, &errs) == EH_OK);
	CHECK_EQ(b.http_token_len, 5); /* without the trailing newline */
	CHECK(memcmp(b.http_token, "t0ken", 5) == 0);
	f = fopen(tok, "w");
	fclose(f);
	eh_errs_init(&errs);
	CHECK(eh_bootstrap_load_secrets(&b, &errs) == EH_ERR_INVAL);
	CHECK(strncmp(errs.msg[0], "http.token_file: ", 17) == 0 && strstr(errs.msg[0], "empty"));
	unlink(tok);
	eh_errs_init(&errs);
	CHECK(eh_bootstrap_load_secrets(&b, &errs) == EH_ERR_INVAL);
	CHECK(strncmp(errs.msg[0], "http.token_file: cannot read", 28) == 0);
	rmdir(dir);
}

EH_TEST(https_proxy_and_no_proxy)
{
	REQUIRE(parse("{}") == EH_OK);
	CHECK_STR(b.https_proxy.host, "");
	CHECK_EQ(b.n_no_proxy, 0);
	REQUIRE(parse("{\"https_proxy\": \"http://proxy.site:3128\", \"no_proxy\": "
		      "[\"localhost\", \".corp.example\", \"10.1.2.3\", \"*\"]}") == EH_OK);
	CHECK_STR(b.https_proxy.host, "proxy.site");
	CHECK_EQ(b.https_proxy.port, 3128);
	REQUIRE(b.n_no_proxy == 4);
	CHECK_STR(b.no_proxy_list[1], ".corp.example");
	CHECK_STR(b.no_proxy_list[3], "*");
	REQUIRE(parse("{\"https_proxy\": \"http://[::1]:8080/\"}") == EH_OK);
	CHECK_STR(b.https_proxy.host, "::1");
	CHECK_EQ(b.https_proxy.port, 8080);
	REQUIRE(parse("{\"https_proxy\": null}") == EH_OK);
	CHECK_STR(b.https_proxy.host, "");
	expect_error("{\"https_proxy\": \"proxy.site:3128\"}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"https_proxy\": \"http://proxy.site\"}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"https_proxy\": \"https://proxy.site:3128\"}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"https_proxy\": \"http://u:p@proxy.site:3128\"}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"https_proxy\": \"http://proxy.site:0\"}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"https_proxy\": 3128}",
		     "https_proxy: expected null or \"http://host:port\"");
	expect_error("{\"no_proxy\": \"localhost\"}",
		     "no_proxy: expected an array of host names, suffixes or IPs");
	expect_error("{\"no_proxy\": [\"ok\", 5]}", "no_proxy[1]: expected string");
	expect_error("{\"no_proxy\": [\"10.0.0.0/8\"]}",
		     "no_proxy[0]: a host name, \".suffix\", IP address or \"*\"");
	expect_error("{\"no_proxy\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
		     "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}",
		     "no_proxy: more than 16 entries");
}

/* fleet_prefixes (CONTRACT 9.3): topic prefixes without wildcards, none
 * overlapping another or the device's own, a bounded count. */
EH_TEST(fleet_prefixes_are_validated)
{
	REQUIRE(parse("{}") == EH_OK);
	CHECK_EQ(b.n_fleet, 0);
	REQUIRE(parse("{\"device_id\": \"gw-01\", \"fleet_prefixes\": [\"edgehook/fleet/site-a\", "
		      "\"edgehook/fleet/all\"]}") == EH_OK);
	REQUIRE(b.n_fleet == 2);
	CHECK_STR(b.fleet_list[0], "edgehook/fleet/site-a");
	CHECK_STR(b.fleet_list[1], "edgehook/fleet/all");
	expect_error("{\"fleet_prefixes\": \"edgehook/fleet\"}",
		     "fleet_prefixes: expected an array of topic prefixes");
	expect_error("{\"fleet_prefixes\": [\"site/+\"]}",
		     "fleet_prefixes[0]: a topic without wildcards and without a leading or "
		     "trailing '/'");
	expect_error("{\"fleet_prefixes\": [\"site/#\"]}",
		     "fleet_prefixes[0]: a topic without wildcards and without a leading or "
		     "trailing '/'");
	expect_error("{\"fleet_prefixes\": [\"site/\"]}",
		     "fleet_prefixes[0]: a topic without wildcards and without a leading or "
		     "trailing '/'");
	expect_error("{\"fleet_prefixes\": [\"site\", 3]}", "fleet_prefixes[1]: expected string");
	/* The device's own prefix, one above it, or one under it. */
	expect_error("{\"device_id\": \"gw-01\", \"fleet_prefixes\": [\"edgehook/gw-01\"]}",
		     "fleet_prefixes[0]: overlaps topic_prefix \"edgehook/gw-01\"");
	expect_error("{\"device_id\": \"gw-01\", \"fleet_prefixes\": [\"edgehook\"]}",
		     "fleet_prefixes[0]: overlaps topic_prefix \"edgehook/gw-01\"");
	expect_error("{\"device_id\": \"gw-01\", \"fleet_prefixes\": [\"edgehook/gw-01/x\"]}",
		     "fleet_prefixes[0]: overlaps topic_prefix \"edgehook/gw-01\"");
	/* A sibling that shares the first characters is no overlap. */
	REQUIRE(parse("{\"device_id\": \"gw-01\", \"fleet_prefixes\": [\"edgehook/gw-0\"]}") ==
		EH_OK);
	expect_error("{\"fleet_prefixes\": [\"site/a\", \"site\"]}",
		     "fleet_prefixes[1]: overlaps fleet_prefixes[0]");
	expect_error("{\"fleet_prefixes\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}",
		     "fleet_prefixes: more than 4 entries");
	/* An input that would take the fleet's config as notifications. */
	expect_error("{\"fleet_prefixes\": [\"site\"], \"inputs\": {\"events\": \"site/#\"}}",
		     "inputs.events: overlaps site/config/#, a fleet config topic");
}

/* What start loads besides the file itself is checked before start (and
 * by --check-config): a CA bundle start could not load, or a CoAP bind
 * address that is not an IP address, is a configuration error (exit 2),
 * not a failure later at start (exit 1, restarted in a loop). */
EH_TEST(check_files_refuses_what_start_would_fail_on)
{
	char dir[] = "/tmp/eh_boot_ca_XXXXXX";
	char junk[128], want[256];
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
	FILE *f = fopen(junk, "w");
	fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
	      f);
	fclose(f);

	REQUIRE(parse("{\"tls\":{\"ca_file\":\"" EH_FIXTURES "/tls/ca.pem\"}}") == EH_OK);
	CHECK_EQ(eh_bootstrap_check_files(&b, &errs), EH_OK);
	CHECK_EQ(errs.n, 0);

	REQUIRE(parse("{\"tls\":{\"ca_file\":\"/nonexistent/ca.pem\"}}") == EH_OK);
	CHECK_EQ(eh_bootstrap_check_files(&b, &errs), EH_ERR_INVAL);
	CHECK_EQ(errs.n, 1);
	CHECK_STR(errs.msg[0], "tls.ca_file: cannot read /nonexistent/ca.pem");

	snprintf(b.ca_file, sizeof(b.ca_file), "%s", junk);
	eh_errs_init(&errs);
	CHECK_EQ(eh_bootstrap_check_files(&b, &errs), EH_ERR_INVAL);
	snprintf(want, sizeof(want), "tls.ca_file: no usable CA certificate in %s", junk);
	CHECK_STR(errs.msg[0], want);

	snprintf(b.ca_file, sizeof(b.ca_file), "%s", dir); /* a directory */
	eh_errs_init(&errs);
	CHECK_EQ(eh_bootstrap_check_files(&b, &errs), EH_ERR_INVAL);
	CHECK_EQ(errs.n, 1);

	/* The CoAP bind address must be an IP literal (libcoap binds it as one). */
	expect_error("{\"coap\":{\"bind\":\"localhost\",\"port\":5683}}",
		     "coap.bind: expected an IPv4 or IPv6 address");
	expect_error("{\"coap\":{\"bind\":\"127.0.0.300\"}}",
		     "coap.bind: expected an IPv4 or IPv6 address");
	CHECK_EQ(parse("{\"coap\":{\"bind\":\"::1\"}}"), EH_OK);
	CHECK_EQ(parse("{\"coap\":{\"bind\":\"0.0.0.0\",\"port\":5684}}"), EH_OK);
	CHECK_EQ(parse("{\"coap\":{\"bind\":\"localhost\",\"port\":0}}"), EH_OK); /* off */
	unlink(junk);
	rmdir(dir);
}
