/* SPDX-License-Identifier: Apache-2.0 */
/* eh_bootstrap_print.c - the effective bootstrap configuration as JSON
 * (`edgehookd --print-config`): every key with the value in force, defaults
 * and derived names included, itself a valid bootstrap file. Secret files
 * are named by their paths; what they hold (MQTT password, HMAC key, HTTP
 * token) never appears. */
#include "eh_bootstrap.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "eh_log.h"

static void str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

eh_err eh_bootstrap_render(const struct eh_bootstrap *b, char *buf, size_t cap)
{
	static const char *const types[] = {"events", "episodes", "counters"};
	static const char *const levels[] = {"error", "warning", "info", "debug"};
	cJSON *root = cJSON_CreateObject(), *o, *t, *a;
	eh_err rc = EH_ERR_NOSPC;

	if (root == NULL)
		return EH_ERR_NOSPC;
	cJSON_AddStringToObject(root, "device_id", b->device_id);
	cJSON_AddStringToObject(root, "topic_prefix", b->topic_prefix);
	o = cJSON_AddObjectToObject(root, "mqtt");
	cJSON_AddStringToObject(o, "uri", b->mqtt.uri);
	cJSON_AddStringToObject(o, "client_id", b->mqtt.client_id);
	str_or_null(o, "username", b->mqtt.username);
	str_or_null(o, "password_file", b->mqtt.password_file);
	cJSON_AddNumberToObject(o, "keepalive_s", b->mqtt.keepalive_s);
	cJSON_AddNumberToObject(o, "max_packet_bytes", b->mqtt.max_packet_bytes);
	t = cJSON_AddObjectToObject(o, "tls");
	str_or_null(t, "ca_file", b->mqtt.use_tls ? eh_bootstrap_mqtt_ca(b) : b->mqtt.tls.ca_file);
	str_or_null(t, "cert_file", b->mqtt.tls.cert_file);
	str_or_null(t, "key_file", b->mqtt.tls.key_file);
	cJSON_AddBoolToObject(t, "verify_host", b->mqtt.tls.verify_host);
	o = cJSON_AddObjectToObject(root, "inputs");
	for (unsigned i = 0; i < 3; i++)
		cJSON_AddStringToObject(o, types[i], b->inputs[i]);
	o = cJSON_AddObjectToObject(root, "queue");
	cJSON_AddStringToObject(o, "path", b->queue.path);
	cJSON_AddNumberToObject(o, "size_bytes", (double)b->queue.size_bytes);
	cJSON_AddStringToObject(o, "full_policy",
				b->queue.full_policy == EH_BOOT_BLOCK ? "block" : "drop_oldest");
	cJSON_AddNumberToObject(o, "commit_interval_ms", b->queue.commit_interval_ms);
	o = cJSON_AddObjectToObject(root, "tls");
	cJSON_AddStringToObject(o, "ca_file", b->ca_file);
	if (b->https_proxy.host[0]) {
		char p[EH_BOOT_HOST_MAX + 32];
		bool v6 = strchr(b->https_proxy.host, ':') != NULL;
		snprintf(p, sizeof(p), "http://%s%s%s:%u", v6 ? "[" : "", b->https_proxy.host,
			 v6 ? "]" : "", (unsigned)b->https_proxy.port);
		cJSON_AddStringToObject(root, "https_proxy", p);
	} else {
		cJSON_AddNullToObject(root, "https_proxy");
	}
	a = cJSON_AddArrayToObject(root, "no_proxy");
	for (size_t i = 0; i < b->n_no_proxy && a != NULL; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(b->no_proxy[i]));
	a = cJSON_AddArrayToObject(root, "fleet_prefixes");
	for (size_t i = 0; i < b->n_fleet && a != NULL; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(b->fleet_prefixes[i]));
	cJSON_AddBoolToObject(root, "allow_plain_http", b->allow_plain_http);
	str_or_null(root, "config_hmac_key_file", b->config_hmac_key_file);
	o = cJSON_AddObjectToObject(root, "coap");
	cJSON_AddStringToObject(o, "bind", b->coap.bind);
	cJSON_AddNumberToObject(o, "port", b->coap.port);
	o = cJSON_AddObjectToObject(root, "http");
	cJSON_AddStringToObject(o, "bind", b->http.bind);
	cJSON_AddNumberToObject(o, "port", b->http.port);
	str_or_null(o, "token_file", b->http.token_file);
	cJSON_AddNumberToObject(root, "stop_grace_s", b->stop_grace_s);
	cJSON_AddStringToObject(root, "log_level",
				b->log_level >= 0 && b->log_level <= 3 ? levels[b->log_level]
								       : "info");
	if (cJSON_PrintPreallocated(root, buf, (int)(cap > 0x7fffffff ? 0x7fffffff : cap), 1))
		rc = EH_OK;
	cJSON_Delete(root);
	return rc;
}
