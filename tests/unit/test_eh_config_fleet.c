/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_config_fleet.c - fleets (CONTRACT 9.3): webhooks at
 * F/config/webhooks/<id> apply for every F of fleet_prefixes; the device's
 * own P/config/webhooks/<id> wins over a fleet's of the same id, in either
 * arrival order; deleting the device's own brings the fleet's back in the
 * same slot (its queue kept); an earlier fleet wins over a later one; the
 * config-status of a fleet webhook is under P; signed mode signs the fleet
 * topic. The kept messages are a small table here, as the daemon's config
 * store is. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "eh_config.h"

#define KEPT_MAX 16

static struct eh_config C;
static struct eh_config_result R;
static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
static const char *const FLEETS[] = {"site/a", "site/all"};
static char vpath[128];

/* The accepted messages, as the daemon keeps them beside the queue. */
static struct {
	char topic[EH_CONFIG_STATUS_TOPIC_MAX];
	char payload[1024];
	char hmac[EH_CONFIG_SIG_HEX];
} kept[KEPT_MAX];

static const uint8_t *stored(void *ctx, const char *topic, size_t *len, const char **hmac)
{
	(void)ctx;
	for (unsigned i = 0; i < KEPT_MAX; i++)
		if (strcmp(kept[i].topic, topic) == 0) {
			*len = strlen(kept[i].payload);
			*hmac = kept[i].hmac[0] ? kept[i].hmac : NULL;
			return (const uint8_t *)kept[i].payload;
		}
	return NULL;
}

static void keep(const char *topic, const char *json, const char *hmac)
{
	int free_at = -1;
	for (int i = 0; i < KEPT_MAX; i++) {
		if (strcmp(kept[i].topic, topic) == 0)
			kept[i].topic[0] = '\0';
		if (!kept[i].topic[0] && free_at < 0)
			free_at = i;
	}
	if (json[0] == '\0' || strstr(json, "\"deleted\"") != NULL || free_at < 0)
		return;
	snprintf(kept[free_at].topic, sizeof(kept[0].topic), "%s", topic);
	snprintf(kept[free_at].payload, sizeof(kept[0].payload), "%s", json);
	snprintf(kept[free_at].hmac, sizeof(kept[0].hmac), "%s", hmac ? hmac : "");
}

static void setup(bool signed_mode)
{
	struct eh_config_init ci;
	memset(kept, 0, sizeof(kept));
	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge/gw-01";
	ci.fleet_prefixes = FLEETS;
	ci.nfleet = 2;
	ci.stored = stored;
	if (signed_mode) {
		snprintf(vpath, sizeof(vpath), "/tmp/eh_config_fleet.%d.versions", (int)getpid());
		unlink(vpath);
		ci.hmac_key = KEY;
		ci.hmac_key_len = sizeof(KEY) - 1;
		ci.versions_path = vpath;
	}
	if (eh_config_init(&C, &ci) != EH_OK) {
		fprintf(stderr, "init failed\n");
		exit(2);
	}
}

/* One message as the daemon handles it: applied, then kept when accepted. */
static eh_err put(const char *topic, const char *json)
{
	eh_err rc = eh_config_handle(&C, topic, (const uint8_t *)json, strlen(json), NULL, &R);
	if (rc == EH_OK)
		keep(topic, json, NULL);
	return rc;
}

static eh_err put_signed(const char *topic, const char *json)
{
	char sig[EH_CONFIG_SIG_HEX];
	eh_config_sign(KEY, sizeof(KEY) - 1, topic, (const uint8_t *)json, strlen(json), sig);
	eh_err rc = eh_config_handle(&C, topic, (const uint8_t *)json, strlen(json), sig, &R);
	if (rc == EH_OK)
		keep(topic, json, sig);
	return rc;
}

/* The webhook with this id in the table, or NULL. */
static const struct eh_webhook *hook(uint32_t id)
{
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		if (C.webhooks[s].id == id)
			return &C.webhooks[s];
	return NULL;
}

#define FLEET_HOOK "{\"title\": \"Fleet\", \"url\": \"https://fleet.example/in\"}"
#define OWN_HOOK "{\"title\": \"Own\", \"url\": \"https://own.example/in\"}"

EH_TEST(fleet_topics_are_webhooks_answered_under_p)
{
	char st[EH_CONFIG_STATUS_TOPIC_MAX];
	uint32_t id = 0;

	setup(false);
	CHECK_EQ(put("site/a/config/webhooks/5", FLEET_HOOK), EH_OK);
	CHECK_EQ(R.nchanges, 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_CREATED);
	CHECK_STR(R.status_topic, "edge/gw-01/config-status/fleet/site/a/webhooks/5");
	CHECK_STR(R.status_body, "{\"accepted\": true}");
	REQUIRE(hook(5) != NULL);
	CHECK_STR(hook(5)->title, "Fleet");
	CHECK(eh_config_webhook_topic(&C, "site/all/config/webhooks/12", &id));
	CHECK_EQ(id, 12);
	CHECK(eh_config_webhook_topic(&C, "edge/gw-01/config/webhooks/3", &id));
	CHECK_EQ(id, 3);
	CHECK(!eh_config_webhook_topic(&C, "site/b/config/webhooks/3", NULL));
	CHECK(!eh_config_webhook_topic(&C, "site/a/config/gateway", NULL));
	eh_config_status_topic(&C, "site/all/config/webhooks/12", st);
	CHECK_STR(st, "edge/gw-01/config-status/fleet/site/all/webhooks/12");
	/* Only webhooks come from a fleet; a bad id is counted like P's. */
	CHECK_EQ(put("site/a/config/gateway", "{}"), EH_ERR_PROTO);
	CHECK_EQ(put("site/a/config/webhooks/x", FLEET_HOOK), EH_ERR_PROTO);
	CHECK(R.bad_id);
	/* The fleet webhook goes when its retained message goes. */
	CHECK_EQ(put("site/a/config/webhooks/5", ""), EH_OK);
	CHECK_EQ(R.nchanges, 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_DELETED);
	CHECK_STR(R.status_body, "");
	CHECK(hook(5) == NULL);
}

EH_TEST(own_webhook_wins_in_either_order)
{
	setup(false);
	/* Fleet first, then the device's own: replaced in place. */
	CHECK_EQ(put("site/a/config/webhooks/5", FLEET_HOOK), EH_OK);
	unsigned slot = R.changes[0].slot;
	CHECK_EQ(put("edge/gw-01/config/webhooks/5", OWN_HOOK), EH_OK);
	CHECK_EQ(R.nchanges, 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_EQ(R.changes[0].slot, slot);
	CHECK_STR(hook(5)->title, "Own");
	/* The fleet's update is accepted and kept, but the own one decides. */
	CHECK_EQ(put("site/a/config/webhooks/5",
		     "{\"title\": \"Fleet v2\", \"url\": \"https://fleet.example/in\"}"),
		 EH_OK);
	CHECK(R.accepted);
	CHECK(R.overridden);
	CHECK_EQ(R.nchanges, 0);
	CHECK_EQ(R.slot, (int)slot);
	CHECK_STR(hook(5)->title, "Own");
	/* A bad fleet message is still refused with its errors. */
	CHECK_EQ(put("site/a/config/webhooks/5", "{\"title\": \"\"}"), EH_ERR_PROTO);
	CHECK(!R.accepted);

	/* The device's own first, then the fleet's: never applied. */
	setup(false);
	CHECK_EQ(put("edge/gw-01/config/webhooks/9", OWN_HOOK), EH_OK);
	CHECK_EQ(put("site/all/config/webhooks/9", FLEET_HOOK), EH_OK);
	CHECK(R.overridden);
	CHECK_EQ(R.nchanges, 0);
	CHECK_STR(hook(9)->title, "Own");
	/* Deleting the fleet's while the own one decides changes nothing. */
	CHECK_EQ(put("site/all/config/webhooks/9", ""), EH_OK);
	CHECK_EQ(R.nchanges, 0);
	CHECK_STR(R.status_topic, "edge/gw-01/config-status/fleet/site/all/webhooks/9");
	CHECK_STR(R.status_body, ""); /* its retained answer is cleared */
	CHECK_STR(hook(9)->title, "Own");
}

EH_TEST(deleting_the_own_webhook_brings_the_fleet_one_back)
{
	setup(false);
	CHECK_EQ(put("site/a/config/webhooks/5", FLEET_HOOK), EH_OK);
	CHECK_EQ(put("edge/gw-01/config/webhooks/5", OWN_HOOK), EH_OK);
	unsigned slot = R.changes[0].slot;
	CHECK_EQ(put("edge/gw-01/config/webhooks/5", ""), EH_OK);
	/* Same id, same slot: its queued notifications are kept. */
	CHECK_EQ(R.nchanges, 1);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_EQ(R.changes[0].slot, slot);
	CHECK_STR(R.status_topic, "edge/gw-01/config-status/webhooks/5");
	CHECK_STR(R.status_body, "");
	REQUIRE(hook(5) != NULL);
	CHECK_STR(hook(5)->title, "Fleet");
	/* Deleting the own one again (nothing there from P) leaves the fleet's. */
	CHECK_EQ(put("edge/gw-01/config/webhooks/5", ""), EH_OK);
	CHECK_EQ(R.nchanges, 0);
	CHECK_STR(hook(5)->title, "Fleet");
	/* With no fleet message kept, the id is deleted. */
	CHECK_EQ(put("edge/gw-01/config/webhooks/6", OWN_HOOK), EH_OK);
	CHECK_EQ(put("edge/gw-01/config/webhooks/6", ""), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_DELETED);
	CHECK(hook(6) == NULL);
}

EH_TEST(an_earlier_fleet_wins_over_a_later_one)
{
	setup(false);
	CHECK_EQ(put("site/all/config/webhooks/4", FLEET_HOOK), EH_OK);
	CHECK_EQ(put("site/a/config/webhooks/4",
		     "{\"title\": \"Site A\", \"url\": \"https://a.example/in\"}"),
		 EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_STR(hook(4)->title, "Site A");
	CHECK_EQ(put("site/all/config/webhooks/4",
		     "{\"title\": \"All v2\", \"url\": \"https://all.example/in\"}"),
		 EH_OK);
	CHECK(R.overridden);
	CHECK_STR(hook(4)->title, "Site A");
	CHECK_EQ(put("site/a/config/webhooks/4", ""), EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	CHECK_STR(hook(4)->title, "All v2");
}

EH_TEST(signed_fleet_topics_sign_the_fleet_topic)
{
	setup(true);
	const char *v1 = "{\"title\": \"Fleet\", \"url\": \"https://fleet.example/in\", "
			 "\"version\": 1}";
	char sig[EH_CONFIG_SIG_HEX];

	/* A signature over the device's topic does not do for the fleet's. */
	eh_config_sign(KEY, sizeof(KEY) - 1, "edge/gw-01/config/webhooks/5", (const uint8_t *)v1,
		       strlen(v1), sig);
	CHECK_EQ(eh_config_handle(&C, "site/a/config/webhooks/5", (const uint8_t *)v1, strlen(v1),
				  sig, &R),
		 EH_ERR_PERM);
	CHECK_STR(R.status_topic, "edge/gw-01/config-status/fleet/site/a/webhooks/5");
	CHECK(hook(5) == NULL);
	CHECK_EQ(put_signed("site/a/config/webhooks/5", v1), EH_OK);
	REQUIRE(hook(5) != NULL);
	/* Versions are per topic: the fleet's rollback is refused. */
	CHECK_EQ(put_signed("site/a/config/webhooks/5",
			    "{\"title\": \"Old\", \"url\": \"https://fleet.example/in\", "
			    "\"version\": 1}"),
		 EH_ERR_PERM);
	/* Own wins, and its signed deletion brings the fleet's back. */
	CHECK_EQ(put_signed("edge/gw-01/config/webhooks/5",
			    "{\"title\": \"Own\", \"url\": \"https://own.example/in\", "
			    "\"version\": 1}"),
		 EH_OK);
	CHECK_STR(hook(5)->title, "Own");
	CHECK_EQ(put_signed("edge/gw-01/config/webhooks/5", "{\"version\": 2, \"deleted\": true}"),
		 EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_REPLACED);
	REQUIRE(hook(5) != NULL);
	CHECK_STR(hook(5)->title, "Fleet");
	CHECK_EQ(hook(5)->version, 1);
	/* A kept fleet message whose signature no longer holds is not applied. */
	CHECK_EQ(put_signed("edge/gw-01/config/webhooks/5",
			    "{\"title\": \"Own\", \"url\": \"https://own.example/in\", "
			    "\"version\": 3}"),
		 EH_OK);
	for (unsigned i = 0; i < KEPT_MAX; i++)
		if (strcmp(kept[i].topic, "site/a/config/webhooks/5") == 0)
			kept[i].hmac[0] = kept[i].hmac[0] == 'a' ? 'b' : 'a';
	CHECK_EQ(put_signed("edge/gw-01/config/webhooks/5", "{\"version\": 4, \"deleted\": true}"),
		 EH_OK);
	CHECK_EQ(R.changes[0].kind, EH_CONFIG_DELETED);
	CHECK(hook(5) == NULL);
	unlink(vpath);
}

EH_TEST(init_refuses_bad_fleets)
{
	struct eh_config_init ci;
	const char *same[] = {"edge/gw-01"}, *above[] = {"edge"}, *under[] = {"edge/gw-01/f"},
		   *wild[] = {"site/+"}, *sibling[] = {"edge/gw-0"};

	memset(&ci, 0, sizeof(ci));
	ci.topic_prefix = "edge/gw-01";
	ci.nfleet = 1;
	ci.fleet_prefixes = same;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.fleet_prefixes = above;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.fleet_prefixes = under;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.fleet_prefixes = wild;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
	ci.fleet_prefixes = sibling;
	CHECK_EQ(eh_config_init(&C, &ci), EH_OK);
	ci.nfleet = EH_CONFIG_FLEET_MAX + 1;
	CHECK_EQ(eh_config_init(&C, &ci), EH_ERR_INVAL);
}
