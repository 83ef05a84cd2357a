/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_mqtt_lib.c - Paho loaded when a client opens: a library that is missing, or that
 * lacks one of the functions, fails the open with one line naming it; a tcp:// uri loads
 * the plain build and maps nothing of OpenSSL; the TLS files' check loads the TLS build
 * and reads the files with the OpenSSL it brings. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eh_log.h"
#include "eh_loop.h"
#include "eh_mqtt.h"
#include "eh_mqtt_lib.h"
#include "eh_mqtt_paho.h"

static struct eh_loop loop;
static struct eh_mqtt m;
static struct eh_mqtt_paho paho;

/* The error lines logged since the last reset, joined. */
static char logged[2048];

static void sink(int level, const char *line, void *arg)
{
	size_t n = strlen(logged);

	(void)level;
	(void)arg;
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

static void noop_message(void *ctx, const char *topic, const uint8_t *payload, size_t len,
			 const char *hmac, struct eh_mqtt_msg *msg)
{
	(void)ctx, (void)topic, (void)payload, (void)len, (void)hmac, (void)msg;
}

static const struct eh_mqtt_handlers handlers = {.on_message = noop_message};

/* Whether a library whose path holds needle is mapped into this process. */
static bool mapped(const char *needle)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* Open the client on uri with lib (NULL: the build the uri needs). */
static eh_err open_with(const char *uri, const char *lib)
{
	struct eh_mqtt_config cfg = {.uri = uri, .client_id = "lib-test"};

	if (strncmp(uri, "mqtts://", 8) == 0)
		cfg.tls.ca_file = EH_FIXTURES "/tls/ca.pem";
	eh_mqtt_paho_init(&m, &paho);
	paho.lib_name = lib;
	logged[0] = '\0';
	return eh_mqtt_open(&m, &cfg, &loop, &handlers);
}

EH_TEST(a_missing_library_fails_the_open_and_names_it)
{
	REQUIRE(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	eh_log_set_sink(sink, NULL);
	CHECK_EQ(open_with("tcp://127.0.0.1:1", "libpaho-mqtt3a-absent.so.1"), EH_ERR_NOENT);
	CHECK(strstr(logged, "needs libpaho-mqtt3a-absent.so.1 (package libpaho-mqtt1.3)") != NULL);
	CHECK(paho.lib == NULL);
	eh_mqtt_close(&m); /* safe after a failed open */
	/* Not kept as loaded: the same name fails again, and says so again. */
	CHECK_EQ(open_with("tcp://127.0.0.1:1", "libpaho-mqtt3a-absent.so.1"), EH_ERR_NOENT);
	CHECK(strstr(logged, "libpaho-mqtt3a-absent.so.1") != NULL);
	eh_log_set_sink(NULL, NULL);
	eh_loop_deinit(&loop);
}

EH_TEST(a_library_without_a_function_fails_the_open_and_names_the_symbol)
{
	REQUIRE(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	eh_log_set_sink(sink, NULL);
	/* The C maths library loads, and has nothing of Paho. */
	CHECK_EQ(open_with("tcp://127.0.0.1:1", "libm.so.6"), EH_ERR_NOENT);
	CHECK(strstr(logged, "libm.so.6 has no MQTTAsync_createWithOptions") != NULL);
	eh_mqtt_close(&m);
	eh_log_set_sink(NULL, NULL);
	eh_loop_deinit(&loop);
}

/* One test, in this order: OpenSSL must not be mapped before the TLS build is loaded. */
EH_TEST(tcp_loads_the_plain_build_without_openssl_and_tls_loads_the_tls_build)
{
	const struct eh_mqtt_lib *plain = NULL, *tls = NULL, *again = NULL;
	const char *bad = "x";
	char why[256], junk[] = "/tmp/eh_mqtt_lib_junk_XXXXXX";
	struct eh_mqtt_tls t = {0};
	int fd;

	REQUIRE(eh_loop_init(&loop, &eh_clock_system) == EH_OK);
	/* Nothing to check: nothing is loaded. */
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_OK);
	CHECK(bad == NULL);
	CHECK(!mapped("libpaho-mqtt3as") && !mapped("libcrypto"));

	REQUIRE(open_with("tcp://127.0.0.1:1", NULL) == EH_OK);
	REQUIRE(paho.lib != NULL);
	CHECK_STR(paho.lib->name, EH_MQTT_LIB_PLAIN);
	plain = paho.lib;
	eh_mqtt_close(&m);
	CHECK(mapped("libpaho-mqtt3a.so"));
	CHECK(!mapped("libpaho-mqtt3as"));
	CHECK(!mapped("libcrypto"));
	CHECK(!mapped("libssl"));
	/* Once per library: the same table again, still loaded after close. */
	CHECK_EQ(eh_mqtt_lib_get(EH_MQTT_LIB_PLAIN, &again), EH_OK);
	CHECK(again == plain);

	/* The TLS files' check: the TLS build and its OpenSSL read the files. */
	t.ca_file = "/nonexistent/ca.pem";
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_ERR_NOENT);
	CHECK_STR(bad, "ca_file");
	CHECK_STR(why, "cannot read /nonexistent/ca.pem: no such file");
	CHECK(mapped("libpaho-mqtt3as") && mapped("libcrypto"));
	fd = mkstemp(junk);
	REQUIRE(fd >= 0);
	CHECK_EQ(write(fd, "not pem\n", 8), 8);
	close(fd);
	t.ca_file = junk;
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_ERR_INVAL);
	CHECK_STR(bad, "ca_file");
	CHECK(strstr(why, "holds no PEM certificate") != NULL);
	t.ca_file = EH_FIXTURES "/tls/ca.pem";
	t.cert_file = EH_FIXTURES "/tls/ca.pem"; /* a certificate, though not a client's */
	t.key_file = junk;
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_ERR_INVAL);
	CHECK_STR(bad, "key_file");
	CHECK(strstr(why, "is not an unencrypted PEM private key") != NULL);
	t.cert_file = junk;
	t.key_file = NULL;
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_ERR_INVAL);
	CHECK_STR(bad, "cert_file");
	t.cert_file = NULL;
	CHECK_EQ(eh_mqtt_tls_check(&t, &bad, why, sizeof(why)), EH_OK);
	CHECK(bad == NULL);
	unlink(junk);

	/* An mqtts:// client opens on the TLS build, a table of its own. */
	REQUIRE(open_with("mqtts://127.0.0.1:1", NULL) == EH_OK);
	REQUIRE(paho.lib != NULL);
	CHECK_STR(paho.lib->name, EH_MQTT_LIB_TLS);
	tls = paho.lib;
	CHECK(tls != plain);
	eh_mqtt_close(&m);
	CHECK_EQ(eh_mqtt_lib_get(EH_MQTT_LIB_TLS, &again), EH_OK);
	CHECK(again == tls);
	/* Both builds are loaded: a third name has no room. */
	CHECK_EQ(eh_mqtt_lib_get("libpaho-mqtt3c.so.1", &again), EH_ERR_NOSPC);
	CHECK(again == NULL);
	eh_loop_deinit(&loop);
}
