/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_topic.c - MQTT topic filter matching (MQTT 3.1.1 section 4.7 and
 * 5.0 section 4.7): '+' one level, '#' this level and every one below,
 * including the parent itself ("a/#" matches "a"). */
#include "eh_mqtt.h"

#include <string.h>

bool eh_mqtt_topic_matches(const char *filter, const char *topic)
{
	/* A filter starting with a wildcard does not match topics starting
	 * with '$' (broker internals). */
	if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return false;
	for (;;) {
		const char *fe = strchr(filter, '/');
		const char *te = strchr(topic, '/');
		size_t fl = fe ? (size_t)(fe - filter) : strlen(filter);
		size_t tl = te ? (size_t)(te - topic) : strlen(topic);

		if (fl == 1 && filter[0] == '#')
			return true;
		if (!(fl == 1 && filter[0] == '+') && (fl != tl || memcmp(filter, topic, fl) != 0))
			return false;
		if (fe == NULL)
			return te == NULL;
		if (te == NULL)
			/* "a/#" matches "a": the rest of the filter is exactly "#". */
			return strcmp(fe + 1, "#") == 0;
		filter = fe + 1;
		topic = te + 1;
	}
}
