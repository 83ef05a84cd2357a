/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_mqtt_topic.c - MQTT topic filter matching, the cases of the MQTT
 * specification's section 4.7 examples. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include "eh_mqtt.h"

EH_TEST(literal_levels)
{
	CHECK(eh_mqtt_topic_matches("a/b", "a/b"));
	CHECK(!eh_mqtt_topic_matches("a/b", "a/bc"));
	CHECK(!eh_mqtt_topic_matches("a/b", "a"));
	CHECK(!eh_mqtt_topic_matches("a", "a/b"));
	CHECK(!eh_mqtt_topic_matches("a/b", "a/b/"));
	CHECK(eh_mqtt_topic_matches("a//b", "a//b"));
}

EH_TEST(multi_level_wildcard_includes_the_parent)
{
	CHECK(eh_mqtt_topic_matches("sport/#", "sport"));
	CHECK(eh_mqtt_topic_matches("sport/#", "sport/tennis/player1"));
	CHECK(eh_mqtt_topic_matches("sport/#", "sport/"));
	CHECK(eh_mqtt_topic_matches("#", "a/b/c"));
	CHECK(!eh_mqtt_topic_matches("sport/#", "sports"));
	CHECK(eh_mqtt_topic_matches("a/+/#", "a/b"));
}

EH_TEST(single_level_wildcard)
{
	CHECK(eh_mqtt_topic_matches("sport/+/player1", "sport/tennis/player1"));
	CHECK(!eh_mqtt_topic_matches("sport/+", "sport/tennis/player1"));
	CHECK(eh_mqtt_topic_matches("sport/+", "sport/"));
	CHECK(!eh_mqtt_topic_matches("sport/+", "sport"));
	CHECK(eh_mqtt_topic_matches("+/+", "/finance"));
	CHECK(eh_mqtt_topic_matches("/+", "/finance"));
	CHECK(!eh_mqtt_topic_matches("+", "/finance"));
	CHECK(eh_mqtt_topic_matches("edgehook/+/in/events", "edgehook/gw-01/in/events"));
}

EH_TEST(dollar_topics_only_literally)
{
	CHECK(!eh_mqtt_topic_matches("#", "$SYS/broker/uptime"));
	CHECK(!eh_mqtt_topic_matches("+/broker/uptime", "$SYS/broker/uptime"));
	CHECK(eh_mqtt_topic_matches("$SYS/#", "$SYS/broker/uptime"));
}
