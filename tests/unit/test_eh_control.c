/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_control.c - the config control plane without a broker: config
 * topics create, replace and delete webhooks and are kept in the store (a
 * temporary directory); a refused replacement keeps the old webhook and
 * names the field; signed mode refuses a missing or wrong signature and an
 * old version; reconciliation at start and after the fence removes the
 * stored webhooks the broker no longer holds, and nothing when the seen set
 * overflowed or in signed mode; fleets (docs/FLEET.md); the workers log line
 * at its widest. Publishing goes to a recording fake. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "eh_control.h"
#include "eh_log.h"

#define P "edge/gw-01"
#define PUB_MAX 256

static struct eh_config C;
static struct eh_config_store S;
static struct eh_control K;
static struct eh_clock clock_;
static struct eh_clock_fake clock_f;
static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
static const char *const FLEETS[] = {"site/a", "site/all"};
static char dir[64];

/* What the control plane did through its ops. */
static struct {
	bool connected;
	unsigned npub;
	struct {
		char topic[EH_CONTROL_TOPIC_MAX];
		char body[EH_CONFIG_STATUS_BODY_MAX];
		bool retain;
	} pub[PUB_MAX];
	uint64_t resets;			       /* bit s: slot s reset */
	const struct eh_webhook *set[EH_MAX_WEBHOOKS]; /* last webhook_set per slot */
	uint64_t set_mask;			       /* bit s: webhook_set(s) called */
	unsigned changed;
} rec;

static eh_err fake_publish(void *ctx, const char *topic, const char *body, size_t len, int qos,
			   bool retain)
{
	(void)ctx;
	(void)qos;
	if (!rec.connected)
		return EH_ERR_CLOSED;
	if (rec.npub < PUB_MAX) {
		snprintf(rec.pub[rec.npub].topic, EH_CONTROL_TOPIC_MAX, "%s", topic);
		snprintf(rec.pub[rec.npub].body, EH_CONFIG_STATUS_BODY_MAX, "%.*s", (int)len, body);
		rec.pub[rec.npub].retain = retain;
		rec.npub++;
	}
	return EH_OK;
}

static void fake_slot_reset(void *ctx, unsigned slot)
{
	(void)ctx;
	rec.resets |= 1ull << slot;
}

static void fake_webhook_set(void *ctx, unsigned slot, const struct eh_webhook *w)
{
	(void)ctx;
	rec.set[slot] = w;
	rec.set_mask |= 1ull << slot;
}

static void fake_changed(void *ctx)
{
	(void)ctx;
	rec.changed++;
}

static const struct eh_control_ops OPS = {fake_publish, fake_slot_reset, fake_webhook_set,
					  fake_changed};

static void forget(void)
{
	bool connected = rec.connected;
	memset(&rec, 0, sizeof(rec));
	rec.connected = connected;
}

/* The body last published on topic, or NULL. */
static const char *published(const char *topic)
{
	for (unsigned i = rec.npub; i-- > 0;)
		if (strcmp(rec.pub[i].topic, topic) == 0)
			return rec.pub[i].body;
	return NULL;
}

static void cleanup_dir(void)
{
	char p[400];
	DIR *d;
	struct dirent *e;

	if (dir[0] == '\0')
		return;
	d = opendir(dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	dir[0] = '\0';
}

/* Config, store and control over dir, as the daemon opens them at start
 * (a second call is a restart: the store and versions file stay). */
static void open_all(bool signed_mode, size_t nfleet)
{
	struct eh_config_init ci;
	static char vpath[128], spath[128];

	snprintf(vpath, sizeof(vpath), "%s/q.versions", dir);
	snprintf(spath, sizeof(spath), "%s/q.config", dir);
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = P;
	ci.fleet_prefixes = FLEETS;
	ci.nfleet = nfleet;
	ci.stored = eh_control_stored;
	ci.stored_ctx = &S;
	if (signed_mode) {
		ci.hmac_key = KEY;
		ci.hmac_key_len = sizeof(KEY) - 1;
		ci.versions_path = vpath;
	}
	if (eh_config_init(&C, &ci) != EH_OK || eh_config_store_open(&S, spath) != EH_OK) {
		fprintf(stderr, "config or store init failed\n");
		exit(2);
	}
	struct eh_control_config cc = {
	    .config = &C,
	    .store = &S,
	    .topic_prefix = P,
	    .fleet_prefixes = FLEETS,
	    .nfleet = nfleet,
	    .signed_mode = signed_mode,
	    .clock = &clock_,
	    .ops = &OPS,
	};
	if (eh_control_init(&K, &cc) != EH_OK) {
		fprintf(stderr, "control init failed\n");
		exit(2);
	}
	forget();
}

static void setup(bool signed_mode, size_t nfleet)
{
	cleanup_dir();
	snprintf(dir, sizeof(dir), "/tmp/eh_control.XXXXXX");
	if (mkdtemp(dir) == NULL)
		exit(2);
	eh_log_set_level(EH_LOG_LEVEL_ERR + 0);
	eh_clock_fake_init(&clock_, &clock_f);
	clock_f.mono_ms = 1000;
	rec.connected = true;
	open_all(signed_mode, nfleet);
}

static bool msg(const char *topic, const char *json)
{
	return eh_control_message(&K, topic, (const uint8_t *)json, strlen(json), NULL);
}

static bool msg_signed(const char *topic, const char *json, const char *sig)
{
	return eh_control_message(&K, topic, (const uint8_t *)json, strlen(json), sig);
}

/* The slot of webhook id, or -1. */
static int slot_of(uint32_t id)
{
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		if (C.webhooks[s].id == id)
			return (int)s;
	return -1;
}

/* Whether the store keeps a message on topic. */
static bool stored(const char *topic)
{
	size_t len;
	const char *hmac;
	return eh_control_stored(&S, topic, &len, &hmac) != NULL;
}

/* A restart: everything opened again over the same directory, the store
 * replayed after a snapshot that saw the given topics (NULL ends). */
static void restart(bool signed_mode, size_t nfleet, eh_err snap_rc, const char *const *seen)
{
	open_all(signed_mode, nfleet);
	eh_control_snapshot_begin(&K);
	for (unsigned i = 0; seen[i] != NULL; i++)
		eh_control_snapshot_topic(&K, seen[i]);
	eh_control_reconcile_at_start(&K, snap_rc);
	eh_control_replay(&K);
}

/* The fence this connection published, sent back as the broker would. */
static void fence_back(void)
{
	const char *nonce = published(P "/config/_fence");
	REQUIRE(nonce != NULL);
	char copy[EH_CONTROL_NONCE_MAX];
	snprintf(copy, sizeof(copy), "%s", nonce);
	CHECK(msg(P "/config/_fence", copy));
}

#define W1 "{\"title\": \"One\", \"url\": \"https://one.example/in\"}"
#define W1B "{\"title\": \"One b\", \"url\": \"https://one.example/in\"}"
#define W2 "{\"title\": \"Two\", \"url\": \"https://two.example/in\"}"
#define FLEET_HOOK "{\"title\": \"Fleet\", \"url\": \"https://fleet.example/in\"}"
#define OWN_HOOK "{\"title\": \"Own\", \"url\": \"https://own.example/in\"}"

EH_TEST(create_replace_delete_through_the_topics)
{
	const char *subs[EH_CONTROL_SUBS_MAX];

	setup(false, 0);
	CHECK_EQ(eh_control_subs(&K, subs, EH_CONTROL_SUBS_MAX), 2);
	CHECK_STR(subs[0], P "/config/#");
	CHECK_STR(subs[1], P "/catalog/#");
	CHECK_STR(eh_control_fence_topic(&K), P "/config/_fence");
	CHECK(!msg("edge/in/events", "{}")); /* not a control topic */
	CHECK(eh_control_owns(&K, P "/catalog/cameras/3"));
	CHECK(!eh_control_owns(&K, P "/status"));

	/* Create. */
	CHECK(msg(P "/config/webhooks/7", W1));
	int s = slot_of(7);
	REQUIRE(s >= 0);
	CHECK_STR(published(P "/config-status/webhooks/7"), "{\"accepted\": true}");
	CHECK(rec.pub[0].retain);
	CHECK(rec.resets == 1ull << s); /* a new webhook starts at the head */
	CHECK(rec.set[s] == &C.webhooks[s]);
	CHECK(rec.changed == 1);
	CHECK(stored(P "/config/webhooks/7"));

	/* The retained copy again (every subscribe): nothing happens. */
	forget();
	CHECK(msg(P "/config/webhooks/7", W1));
	CHECK_EQ(rec.npub, 0);
	CHECK_EQ(rec.set_mask, 0);

	/* Replace: same slot, its queue kept. */
	forget();
	CHECK(msg(P "/config/webhooks/7", W1B));
	CHECK_EQ(slot_of(7), s);
	CHECK_STR(C.webhooks[s].title, "One b");
	CHECK_EQ(rec.resets, 0);
	CHECK(rec.set_mask == 1ull << s);
	CHECK(eh_config_store_same(&S, P "/config/webhooks/7", (const uint8_t *)W1B, strlen(W1B)));

	/* Delete: queue reset, retained answer and state cleared, forgotten. */
	forget();
	CHECK(msg(P "/config/webhooks/7", ""));
	CHECK_EQ(slot_of(7), -1);
	CHECK(rec.resets == 1ull << s);
	CHECK(rec.set_mask == 1ull << s && rec.set[s] == NULL);
	CHECK_STR(published(P "/config-status/webhooks/7"), "");
	CHECK_STR(published(P "/webhooks/7/state"), "");
	CHECK(!stored(P "/config/webhooks/7"));

	struct eh_control_stats st;
	eh_control_stats(&K, &st);
	CHECK_EQ(st.messages, 4);
	CHECK_EQ(st.unchanged, 1);
	CHECK_EQ(st.not_kept, 0);
	cleanup_dir();
}

EH_TEST(bad_replacement_keeps_the_old_config_and_names_the_field)
{
	setup(false, 0);
	CHECK(msg(P "/config/webhooks/7", W1));
	int s = slot_of(7);
	forget();
	CHECK(msg(P "/config/webhooks/7", "{\"title\": \"One\", \"url\": \"ftp://one.example/\"}"));
	const char *body = published(P "/config-status/webhooks/7");
	REQUIRE(body != NULL);
	CHECK(strstr(body, "\"accepted\": false") != NULL);
	CHECK(strstr(body, "url") != NULL);
	CHECK_EQ(slot_of(7), s);
	CHECK_STR(C.webhooks[s].title, "One");
	CHECK_EQ(rec.set_mask, 0);
	CHECK_EQ(rec.resets, 0);
	CHECK(eh_config_store_same(&S, P "/config/webhooks/7", (const uint8_t *)W1, strlen(W1)));

	/* After a restart the old one is still what runs. */
	static const char *const seen[] = {P "/config/webhooks/7", NULL};
	restart(false, 0, EH_OK, seen);
	CHECK_EQ(slot_of(7), s);
	CHECK_STR(C.webhooks[s].title, "One");
	cleanup_dir();
}

#define T7 P "/config/webhooks/7"
#define V1 "{\"version\": 1, \"title\": \"t\", \"url\": \"https://h/\"}"
#define V2 "{\"version\": 2, \"title\": \"t2\", \"url\": \"https://h/\"}"

EH_TEST(signed_mode_refuses_missing_wrong_and_old)
{
	char sig1[EH_CONFIG_SIG_HEX], sig2[EH_CONFIG_SIG_HEX], bad[EH_CONFIG_SIG_HEX];

	setup(true, 0);
	eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V1, strlen(V1), sig1);
	eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V2, strlen(V2), sig2);
	snprintf(bad, sizeof(bad), "%s", sig1);
	bad[0] = bad[0] == '0' ? '1' : '0';

	CHECK(msg(T7, V1)); /* no signature */
	CHECK(strstr(published(P "/config-status/webhooks/7"), "\"accepted\": false") != NULL);
	CHECK_EQ(slot_of(7), -1);
	CHECK(msg_signed(T7, V1, bad));
	CHECK_EQ(slot_of(7), -1);
	CHECK(!stored(T7));

	CHECK(msg_signed(T7, V2, sig2));
	CHECK(slot_of(7) >= 0);
	CHECK(stored(T7));
	/* An older version, correctly signed: a replay, refused. */
	forget();
	CHECK(msg_signed(T7, V1, sig1));
	CHECK(strstr(published(P "/config-status/webhooks/7"), "\"accepted\": false") != NULL);
	CHECK_STR(C.webhooks[slot_of(7)].title, "t2");
	CHECK(eh_config_store_same(&S, T7, (const uint8_t *)V2, strlen(V2)));
	cleanup_dir();
}

EH_TEST(fence_removes_what_did_not_come_back)
{
	setup(false, 0);
	CHECK(msg(P "/config/webhooks/1", W1));
	CHECK(msg(P "/config/webhooks/2", W2));
	int s2 = slot_of(2);

	/* A reconnect: the retained webhook 1 comes back, 2 does not. */
	forget();
	eh_control_on_connect(&K);
	const char *nonce = published(P "/config/_fence");
	REQUIRE(nonce != NULL);
	CHECK(!rec.pub[rec.npub - 1].retain);
	CHECK(msg(P "/config/webhooks/1", W1));
	/* A stale fence (another connection's) reconciles nothing. */
	CHECK(msg(P "/config/_fence", "1-0"));
	CHECK(slot_of(2) >= 0);
	fence_back();
	CHECK(slot_of(1) >= 0);
	CHECK_EQ(slot_of(2), -1);
	CHECK(rec.resets == 1ull << s2);
	CHECK_STR(published(P "/config-status/webhooks/2"), "");
	CHECK_STR(published(P "/webhooks/2/state"), "");
	CHECK(!stored(P "/config/webhooks/2"));
	CHECK(stored(P "/config/webhooks/1"));

	/* The fence is spent: sent again, it does nothing more. */
	forget();
	CHECK(msg(P "/config/_fence", "1000-1"));
	CHECK_EQ(rec.npub, 0);

	/* Not connected: the fence cannot go out, and none is awaited. */
	rec.connected = false;
	eh_control_on_connect(&K);
	rec.connected = true;
	CHECK(msg(P "/config/_fence", "1000-2"));
	CHECK(slot_of(1) >= 0);
	cleanup_dir();
}

EH_TEST(reconcile_at_start_forgets_the_deleted_and_keeps_the_seen)
{
	static const char *const seen[] = {P "/config/webhooks/1", P "/config/gateway", NULL};

	setup(false, 0);
	CHECK(msg(P "/config/webhooks/1", W1));
	CHECK(msg(P "/config/webhooks/2", W2));
	int s1 = slot_of(1), s2 = slot_of(2);

	/* A snapshot that did not complete changes nothing. */
	rec.connected = false;
	restart(false, 0, EH_ERR_TIMEOUT, seen);
	CHECK_EQ(rec.resets, 0);
	CHECK_EQ(slot_of(2), s2);

	restart(false, 0, EH_OK, seen);
	CHECK(rec.resets == 1ull << s2); /* with its queued notifications */
	CHECK_EQ(slot_of(1), s1);	 /* replayed in its own slot */
	CHECK_EQ(slot_of(2), -1);
	CHECK(!stored(P "/config/webhooks/2"));
	CHECK_EQ(rec.npub, 0); /* nothing published before the connection */
	rec.connected = true;
	eh_control_on_connect(&K);
	CHECK_STR(published(P "/config-status/webhooks/2"), "");
	CHECK_STR(published(P "/webhooks/2/state"), "");
	CHECK(published(P "/config-status/webhooks/1") == NULL);

	struct eh_control_stats st;
	eh_control_stats(&K, &st);
	CHECK_EQ(st.removed, 1);
	cleanup_dir();
}

EH_TEST(seen_overflow_deletes_nothing)
{
	static char topics[EH_CONTROL_SEEN_MAX + 1][64];
	static const char *seen[EH_CONTROL_SEEN_MAX + 2];

	setup(false, 0);
	CHECK(msg(P "/config/webhooks/1", W1));
	CHECK(msg(P "/config/webhooks/2", W2));
	/* More retained webhook topics than tracked, none of them ours. */
	for (unsigned i = 0; i <= EH_CONTROL_SEEN_MAX; i++) {
		snprintf(topics[i], sizeof(topics[i]), P "/config/webhooks/%u", 1000 + i);
		seen[i] = topics[i];
	}
	seen[EH_CONTROL_SEEN_MAX + 1] = NULL;
	restart(false, 0, EH_OK, seen);
	struct eh_control_stats st;
	eh_control_stats(&K, &st);
	CHECK(st.seen_overflow);
	CHECK_EQ(st.removed, 0);
	CHECK_EQ(rec.resets, 0);
	CHECK(slot_of(1) >= 0 && slot_of(2) >= 0);

	/* The same through the fence. */
	forget();
	eh_control_on_connect(&K);
	for (unsigned i = 0; i <= EH_CONTROL_SEEN_MAX; i++)
		CHECK(msg(topics[i], "{}")); /* refused, but seen */
	fence_back();
	CHECK(slot_of(1) >= 0 && slot_of(2) >= 0);
	CHECK_EQ(rec.resets, 0);
	cleanup_dir();
}

EH_TEST(signed_mode_keeps_webhooks_whose_retained_message_is_absent)
{
	static const char *const none[] = {NULL};
	char sig[EH_CONFIG_SIG_HEX];

	setup(true, 0);
	eh_config_sign(KEY, sizeof(KEY) - 1, T7, (const uint8_t *)V1, strlen(V1), sig);
	CHECK(msg_signed(T7, V1, sig));
	int s = slot_of(7);
	REQUIRE(s >= 0);
	restart(true, 0, EH_OK, none);
	CHECK_EQ(slot_of(7), s);
	CHECK_EQ(rec.resets, 0);
	eh_control_on_connect(&K);
	fence_back();
	CHECK_EQ(slot_of(7), s);
	cleanup_dir();
}

EH_TEST(fleets_subscribe_answer_under_p_and_yield_to_the_own_webhook)
{
	const char *subs[EH_CONTROL_SUBS_MAX];
	const char *filters[EH_CONTROL_SUBS_MAX];

	setup(false, 2);
	CHECK_EQ(eh_control_subs(&K, subs, EH_CONTROL_SUBS_MAX), 4);
	CHECK_STR(subs[2], "site/a/config/webhooks/#");
	CHECK_STR(subs[3], "site/all/config/webhooks/#");
	CHECK_EQ(eh_control_snapshot_filters(&K, filters, EH_CONTROL_SUBS_MAX), 3);
	CHECK_STR(filters[0], P "/config/#");
	CHECK_STR(filters[2], "site/all/config/webhooks/#");
	CHECK(eh_control_owns(&K, "site/a/config/webhooks/5"));
	CHECK(!eh_control_owns(&K, "site/a/in/events")); /* inputs may live under F */

	CHECK(msg("site/a/config/webhooks/5", FLEET_HOOK));
	int s = slot_of(5);
	REQUIRE(s >= 0);
	CHECK_STR(published(P "/config-status/fleet/site/a/webhooks/5"), "{\"accepted\": true}");
	CHECK(stored("site/a/config/webhooks/5"));
	/* The device's own wins, in place. */
	forget();
	CHECK(msg(P "/config/webhooks/5", OWN_HOOK));
	CHECK_EQ(slot_of(5), s);
	CHECK_STR(C.webhooks[s].title, "Own");
	CHECK_EQ(rec.resets, 0);
	/* Deleting the own one brings the fleet's back, queue kept. */
	forget();
	CHECK(msg(P "/config/webhooks/5", ""));
	CHECK_EQ(slot_of(5), s);
	CHECK_STR(C.webhooks[s].title, "Fleet");
	CHECK_EQ(rec.resets, 0);
	CHECK(!stored(P "/config/webhooks/5"));
	CHECK(stored("site/a/config/webhooks/5"));
	cleanup_dir();
}

EH_TEST(fleets_at_start_the_other_config_of_the_id_stays)
{
	static const char *const fleet_only[] = {"site/a/config/webhooks/5", NULL};
	static const char *const none[] = {NULL};

	setup(false, 2);
	CHECK(msg("site/a/config/webhooks/5", FLEET_HOOK));
	CHECK(msg(P "/config/webhooks/5", OWN_HOOK));
	int s = slot_of(5);

	/* The own one was deleted while away; the fleet's is still retained. */
	rec.connected = false;
	restart(false, 2, EH_OK, fleet_only);
	CHECK_EQ(rec.resets, 0); /* the id stays: its queue too */
	CHECK_EQ(slot_of(5), s);
	CHECK_STR(C.webhooks[s].title, "Fleet");
	CHECK(!stored(P "/config/webhooks/5"));
	rec.connected = true;
	eh_control_on_connect(&K);
	CHECK_STR(published(P "/config-status/webhooks/5"), ""); /* the own answer cleared */
	CHECK(published(P "/webhooks/5/state") == NULL);	 /* the webhook stays */

	/* Then the fleet's goes too: the id goes whole, its fleet answer cleared. */
	rec.connected = false;
	restart(false, 2, EH_OK, none);
	CHECK(rec.resets == 1ull << s);
	CHECK_EQ(slot_of(5), -1);
	rec.connected = true;
	eh_control_on_connect(&K);
	CHECK_STR(published(P "/config-status/fleet/site/a/webhooks/5"), "");
	CHECK_STR(published(P "/webhooks/5/state"), "");
	cleanup_dir();
}

/* The workers log lines, caught. */
static char workers_line[EH_TYPE_COUNT][1024];
static unsigned nworkers;

static void catch_log(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(line, "workers for webhooks") != NULL && nworkers < EH_TYPE_COUNT)
		snprintf(workers_line[nworkers++], sizeof(workers_line[0]), "%s", line);
}

EH_TEST(workers_line_at_its_widest)
{
	char topic[64], want[EH_MAX_WEBHOOKS * 12 + 4];
	size_t n = 0;

	setup(false, 0);
	rec.connected = false; /* no answers: quicker */
	for (unsigned i = 0; i < EH_MAX_WEBHOOKS; i++) {
		uint32_t id = 4000000000u + i; /* 10 digits each */
		snprintf(topic, sizeof(topic), P "/config/webhooks/%u", id);
		CHECK(msg(topic, W1));
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%u", n ? ", " : "", id);
	}
	struct eh_status_config sc;
	eh_control_status(&K, &sc);
	CHECK_EQ(sc.webhooks, EH_MAX_WEBHOOKS);
	/* A restart: the replay logs the whole table once. */
	open_all(false, 0);
	nworkers = 0;
	eh_log_set_level(EH_LOG_LEVEL_INF + 0);
	eh_log_set_sink(catch_log, NULL);
	eh_control_replay(&K);
	eh_log_set_sink(NULL, NULL);
	eh_log_set_level(EH_LOG_LEVEL_ERR + 0);
	CHECK_EQ(nworkers, EH_TYPE_COUNT);
	for (unsigned t = 0; t < nworkers; t++)
		CHECK(strstr(workers_line[t], want) != NULL);
	cleanup_dir();
}
