/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_config_signed.c - signed config (CONTRACT section 4): a message
 * applies only with the right "hmac-sha256" over topic + "\0" + payload and
 * a version greater than the last accepted for its topic; the same version
 * and bytes again is a no-op; deletion is a signed tombstone; the versions
 * survive a restart through their file, and a damaged file stops the
 * start. Also `edgehookctl sign`, against a vector computed with Python's
 * hmac module. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "eh_config.h"
#include "eh_ctl.h"

static struct eh_config C;
static struct eh_config_result R;
static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
static char dir[64];
static char vpath[128];

/* Remove what the tests leave in their directory. */
static void cleanup_dir(void)
{
	static const char *const names[] = {"queue.versions", "queue.versions.tmp", "key",
					    "webhook.json", "stdout"};
	char p[160];
	if (dir[0] == '\0')
		return;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	dir[0] = '\0';
}

static void fresh_dir(void)
{
	cleanup_dir();
	snprintf(dir, sizeof(dir), "/tmp/eh_config_signed.XXXXXX");
	if (mkdtemp(dir) == NULL)
		exit(2);
	snprintf(vpath, sizeof(vpath), "%s/queue.versions", dir);
}

static eh_err init_signed(void)
{
	struct eh_config_init ci;
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge";
	ci.hmac_key = KEY;
	ci.hmac_key_len = sizeof(KEY) - 1;
	ci.versions_path = vpath;
	return eh_config_init(&C, &ci);
}

static eh_err put_signed(const char *topic, const char *json)
{
	char sig[EH_CONFIG_SIG_HEX];
	eh_config_sign(KEY, sizeof(KEY) - 1, topic, (const uint8_t *)json, strlen(json), sig);
	return eh_config_handle(&C, topic, (const uint8_t *)json, strlen(json), sig, &R);
}

static eh_err put_prop(const char *topic, const char *json, const char *prop)
{
	return eh_config_handle(&C, topic, (const uint8_t *)json, strlen(json), prop, &R);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		exit(2);
	fputs(text, f);
	fclose(f);
}

static size_t read_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;
	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

#define T7 "edge/config/webhooks/7"
#define V1 "{\"version\": 1, \"title\": \"t\", \"url\": \"https://h/\"}"
#define V2 "{\"version\": 2, \"title\": \"t2\", \"url\": \"https://h/\"}"

EH_TEST(sign_matches_python_hmac)
{
	char sig[EH_CONFIG_SIG_HEX];
	CHECK_EQ(eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V1, strlen(V1), sig),
		 EH_OK);
	/* hmac.new(key, b"edge/config/webhooks/7\0" + V1, sha256).hexdigest() */
	CHECK_STR(sig, "a3af0fc19f7e60feeff914103c51f26af38893d1bf31db72c1681eb429f5ff12");
	CHECK_EQ(eh_config_sign(KEY, sizeof(KEY) - 1, T7, NULL, 0, sig), EH_OK);
	CHECK_STR(sig, "a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce");
}

EH_TEST(good_signature_and_versions_apply)
{
	fresh_dir();
	REQUIRE(init_signed() == EH_OK); /* no file yet: an empty history */
	CHECK_EQ(put_signed(T7, V1), EH_OK);
	CHECK(R.accepted);
	CHECK_STR(R.status_topic, "edge/config-status/webhooks/7");
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_EQ(C.webhooks[0].version, 1);
	struct eh_status_config st;
	eh_config_status(&C, &st);
	CHECK(st.signed_mode);

	/* The same version and bytes (retained redelivery): nothing new. */
	CHECK_EQ(put_signed(T7, V1), EH_OK);
	CHECK(R.noop);
	CHECK(R.accepted);
	CHECK_STR(R.status_topic, "");
	CHECK_EQ(R.nchanges, 0);

	CHECK_EQ(put_signed(T7, V2), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_STR(C.webhooks[0].title, "t2");

	/* A replay of the old, validly signed message. */
	CHECK_EQ(put_signed(T7, V1), EH_ERR_PERM);
	CHECK_STR(R.status_body, "{\"accepted\": false, \"errors\": [\"version: 1 is not greater "
				 "than the last accepted 2\"]}");
	CHECK_STR(C.webhooks[0].title, "t2");
	/* The same version with other bytes. */
	CHECK_EQ(put_signed(T7, "{\"version\": 2, \"title\": \"evil\", \"url\": \"https://h/\"}"),
		 EH_ERR_PERM);
	CHECK(strstr(R.status_body, "version: 2 is not greater than the last accepted 2"));
	CHECK_STR(C.webhooks[0].title, "t2");

	char text[1024];
	read_text(vpath, text, sizeof(text));
	char sig[EH_CONFIG_SIG_HEX], line[256];
	eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V2, strlen(V2), sig);
	snprintf(line, sizeof(line), "2 %s %s\n", sig, T7);
	CHECK_STR(text, line);
}

EH_TEST(missing_or_wrong_signature_is_refused)
{
	char sig[EH_CONFIG_SIG_HEX];

	fresh_dir();
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(put_prop(T7, V1, NULL), EH_ERR_PERM);
	CHECK_STR(R.status_body, "{\"accepted\": false, \"errors\": [\"hmac-sha256: missing\"]}");
	CHECK_STR(R.status_topic, "edge/config-status/webhooks/7");
	CHECK_EQ(put_prop(T7, V1, "00"), EH_ERR_PERM);
	CHECK(strstr(R.status_body, "hmac-sha256: does not match"));
	/* Upper-case hex is not the contract's form. */
	eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V1, strlen(V1), sig);
	for (char *p = sig; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	CHECK_EQ(put_prop(T7, V1, sig), EH_ERR_PERM);
	/* Signed for another topic. */
	eh_config_sign(KEY, sizeof(KEY) - 1, "edge/config/webhooks/8", (const uint8_t *)V1,
		       strlen(V1), sig);
	CHECK_EQ(put_prop(T7, V1, sig), EH_ERR_PERM);
	/* Signed with another key. */
	eh_config_sign((const uint8_t *)"another key of 32 bytes.........", 32, T7,
		       (const uint8_t *)V1, strlen(V1), sig);
	CHECK_EQ(put_prop(T7, V1, sig), EH_ERR_PERM);
	CHECK_EQ(C.webhooks[0].id, 0);
	CHECK_EQ(C.refused, 5);
	CHECK_EQ(C.accepted, 0);

	/* Signed, but without a version; or an empty payload. */
	CHECK_EQ(put_signed(T7, "{\"title\": \"t\", \"url\": \"https://h/\"}"), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "version: required in signed mode"));
	CHECK_EQ(put_signed(T7, "{\"version\": \"3\", \"title\": \"t\", \"url\": \"https://h/\"}"),
		 EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "version: expected integer"));
	CHECK_EQ(put_signed(T7, ""), EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "payload: empty: signed mode deletes with"));
	CHECK_EQ(C.webhooks[0].id, 0);
	/* Nothing refused was recorded as a version. */
	char text[64];
	CHECK_EQ(read_text(vpath, text, sizeof(text)), 0);
}

EH_TEST(tombstone_deletes_and_blocks_replays)
{
	fresh_dir();
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(put_signed(T7, V1), EH_OK);
	CHECK_EQ(put_signed(T7, "{\"version\": 3, \"deleted\": true, \"title\": \"x\"}"),
		 EH_ERR_PROTO);
	CHECK(strstr(R.status_body, "deleted: a deletion carries only"));
	CHECK_EQ(C.webhooks[0].id, 7);
	CHECK_EQ(put_signed(T7, "{\"version\": 3, \"deleted\": true}"), EH_OK);
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_DELETED);
	CHECK_EQ(R.changes[0].old_id, 7);
	CHECK_EQ(C.webhooks[0].id, 0);
	/* The old creation, replayed, stays refused. */
	CHECK_EQ(put_signed(T7, V1), EH_ERR_PERM);
	CHECK_EQ(put_signed(T7, V2), EH_ERR_PERM);
	CHECK_EQ(C.webhooks[0].id, 0);
	/* A tombstone for what was never there is kept too. */
	CHECK_EQ(put_signed("edge/config/webhooks/8", "{\"version\": 5, \"deleted\": true}"),
		 EH_OK);
	CHECK_STR(R.status_topic, "");
	CHECK_EQ(put_signed("edge/config/webhooks/8", "{\"version\": 4, \"title\": \"t\", "
						      "\"url\": \"https://h/\"}"),
		 EH_ERR_PERM);
}

EH_TEST(versions_survive_a_restart)
{
	fresh_dir();
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(put_signed(T7, V1), EH_OK);
	CHECK_EQ(put_signed(T7, V2), EH_OK);
	CHECK_EQ(put_signed("edge/config/gateway", "{\"version\": 9, \"verbose\": true}"), EH_OK);
	CHECK(C.gateway.verbose);

	REQUIRE(init_signed() == EH_OK); /* a restart: the table is empty again */
	CHECK_EQ(C.webhooks[0].id, 0);
	/* The broker redelivers the retained (newest) message: it rebuilds
	 * the table once; again after that it is a no-op. */
	CHECK_EQ(put_signed(T7, V2), EH_OK);
	CHECK(!R.noop);
	REQUIRE(R.nchanges == 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_STR(C.webhooks[0].title, "t2");
	CHECK_EQ(C.webhooks[0].version, 2);
	CHECK_EQ(put_signed(T7, V2), EH_OK);
	CHECK(R.noop);
	CHECK_EQ(R.nchanges, 0);
	CHECK_EQ(put_signed("edge/config/gateway", "{\"version\": 9, \"verbose\": true}"), EH_OK);
	CHECK(!R.noop);
	CHECK(C.gateway.verbose);
	CHECK_EQ(put_signed(T7, V1), EH_ERR_PERM); /* the rollback stays refused */
	CHECK(strstr(R.status_body, "version: 1 is not greater than the last accepted 2"));
}

EH_TEST(a_damaged_versions_file_stops_the_start)
{
	static const char *const bad[] = {
	    "garbage\n",
	    "1 00 edge/config/webhooks/7\n",
	    "0 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce edge/t\n",
	    "1 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce edge/t",
	    "1 A924B883F59E39EAF5B96F7E83E052887483D1C2259D30534FC1D56B6A3D13CE edge/t\n",
	    "1 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce \n",
	    "1 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce edge/t\n"
	    "2 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce edge/t\n",
	    "99999999999999999999 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce "
	    "edge/t\n",
	};
	fresh_dir();
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(vpath, bad[i]);
		CHECK_EQ(init_signed(), EH_ERR_CORRUPT);
	}
	write_file(vpath, "");
	CHECK_EQ(init_signed(), EH_OK);
	write_file(vpath, "12 a924b883f59e39eaf5b96f7e83e052887483d1c2259d30534fc1d56b6a3d13ce "
			  "edge/config/webhooks/7\n");
	CHECK_EQ(init_signed(), EH_OK);
	CHECK_EQ(put_signed(T7, V2), EH_ERR_PERM);
	CHECK(strstr(R.status_body, "version: 2 is not greater than the last accepted 12"));
	/* A directory where the file should be cannot be read. */
	snprintf(vpath, sizeof(vpath), "%s", dir);
	CHECK(init_signed() != EH_OK);
}

EH_TEST(an_unwritable_versions_file_refuses_the_message)
{
	fresh_dir();
	snprintf(vpath, sizeof(vpath), "%s/no-such-dir/queue.versions", dir);
	REQUIRE(init_signed() == EH_OK); /* nothing kept yet: an empty history */
	CHECK_EQ(put_signed(T7, V1), EH_ERR_IO);
	CHECK(strstr(R.status_body, "version: cannot be kept in the versions file"));
	CHECK_EQ(R.nchanges, 0);
	CHECK_EQ(C.webhooks[0].id, 0); /* not applied without its version on disk */
	snprintf(vpath, sizeof(vpath), "%s/queue.versions", dir);
}

EH_TEST(signed_gateway_and_catalog)
{
	size_t len;

	fresh_dir();
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(put_signed("edge/catalog/cameras/3", "{\"id\": 3, \"version\": 1}"), EH_OK);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len) != NULL);
	CHECK_EQ(put_signed("edge/catalog/cameras/3", "{\"id\": 3}"), EH_ERR_PROTO);
	CHECK_EQ(put_prop("edge/catalog/cameras/3", "{\"id\": 3, \"version\": 2}", NULL),
		 EH_ERR_PERM);
	CHECK_EQ(put_signed("edge/catalog/cameras/3", "{\"version\": 2, \"deleted\": true}"),
		 EH_OK);
	CHECK(eh_config_catalog_lookup(&C, EH_CAT_CAMERAS, 3, &len) == NULL);
	CHECK_EQ(put_signed("edge/catalog/cameras/3", "{\"id\": 3, \"version\": 1}"), EH_ERR_PERM);

	CHECK_EQ(put_signed("edge/config/gateway", "{\"version\": 1, \"verbose\": true}"), EH_OK);
	CHECK(C.gateway.verbose);
	CHECK_EQ(put_prop("edge/config/gateway", "{\"version\": 2, \"verbose\": false}", "ab"),
		 EH_ERR_PERM);
	CHECK(C.gateway.verbose);
	CHECK_EQ(put_signed("edge/config/gateway", "{\"version\": 2, \"deleted\": true}"), EH_OK);
	CHECK(!C.gateway.verbose);
	/* Bad topics are never signed-checked: counted only. */
	CHECK_EQ(put_signed("edge/config/webhooks/x", "{}"), EH_ERR_PROTO);
	CHECK(R.bad_id);
}

/* Run `edgehookctl sign` with its stdout in a file; returns the exit code. */
static int run_sign(char **argv, int argc, char *out, size_t cap)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/stdout", dir);
	fflush(stdout);
	int saved = dup(1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	int rc = eh_ctl_sign(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	read_text(path, out, cap);
	return rc;
}

EH_TEST(ctl_sign_prints_the_property)
{
	char key[160], msg[160], out[256];

	fresh_dir();
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(msg, sizeof(msg), "%s/webhook.json", dir);
	write_file(key, "0123456789abcdef0123456789abcdef\n"); /* one trailing newline dropped */
	write_file(msg, V1);
	char *argv[] = {"sign", "--key-file", key, "--topic", T7, msg};
	CHECK_EQ(run_sign(argv, 6, out, sizeof(out)), 0);
	CHECK_STR(out, "a3af0fc19f7e60feeff914103c51f26af38893d1bf31db72c1681eb429f5ff12\n");

	/* What it prints is what the daemon accepts. */
	REQUIRE(init_signed() == EH_OK);
	out[64] = '\0';
	CHECK_EQ(put_prop(T7, V1, out), EH_OK);

	char *missing[] = {"sign", "--key-file", key, msg};
	CHECK_EQ(run_sign(missing, 4, out, sizeof(out)), 2);
	write_file(key, "short\n");
	CHECK_EQ(run_sign(argv, 6, out, sizeof(out)), 2);
	CHECK_STR(out, "");
	char nokey[160];
	snprintf(nokey, sizeof(nokey), "%s/nokey", dir);
	char *nokeyv[] = {"sign", "--key-file", nokey, "--topic", T7, msg};
	CHECK_EQ(run_sign(nokeyv, 6, out, sizeof(out)), 2);
	cleanup_dir();
}

/* init clears the versions table only as far as it was used: a second init
 * over another (empty) history still forgets every topic, and nothing past the
 * entries in use is written. */
EH_TEST(init_forgets_every_version_and_writes_only_used_entries)
{
	static const uint8_t zero[sizeof(C.versions[0])];
	unsigned past = 0;

	fresh_dir();
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(put_signed(T7, V2), EH_OK);
	CHECK_EQ(put_signed("edge/config/gateway", "{\"version\": 9, \"verbose\": true}"), EH_OK);
	CHECK_EQ(C.versions_used, 2);
	for (unsigned i = C.versions_used; i < EH_CONFIG_MAX_TOPICS; i++)
		past += memcmp(&C.versions[i], zero, sizeof(zero)) != 0;
	CHECK_EQ(past, 0);

	unlink(vpath); /* another history: empty */
	REQUIRE(init_signed() == EH_OK);
	CHECK_EQ(C.versions_used, 0);
	CHECK(C.versions[0].topic[0] == '\0' && C.versions[1].topic[0] == '\0');
	CHECK_EQ(put_signed(T7, V1), EH_OK); /* version 2 is forgotten */
	CHECK(R.accepted);
	CHECK_EQ(C.webhooks[0].version, 1);
	CHECK_EQ(C.versions_used, 1);
}
