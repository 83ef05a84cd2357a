/* SPDX-License-Identifier: Apache-2.0 */
/* eh_bootstrap_diff.c - what reading the bootstrap file again changes
 * (SIGHUP): the settings that apply at once, and the keys that wait for a
 * restart. Compares values, never acts; the daemon applies the result. */
#include "eh_bootstrap.h"

#include <string.h>

static const char *const restart_names[EH_BOOT_RS_COUNT] = {
    [EH_BOOT_RS_DEVICE_ID] = "device_id",
    [EH_BOOT_RS_TOPIC_PREFIX] = "topic_prefix",
    [EH_BOOT_RS_MQTT_ID] = "mqtt.uri/mqtt.client_id",
    [EH_BOOT_RS_INPUTS] = "inputs",
    [EH_BOOT_RS_QUEUE] = "queue",
    [EH_BOOT_RS_PROXY] = "https_proxy/no_proxy",
    [EH_BOOT_RS_PLAIN_HTTP] = "allow_plain_http",
    [EH_BOOT_RS_FLEET] = "fleet_prefixes",
    [EH_BOOT_RS_HMAC] = "config_hmac_key_file",
    [EH_BOOT_RS_COAP] = "coap",
    [EH_BOOT_RS_HTTP] = "http",
};

const char *eh_bootstrap_restart_name(enum eh_boot_restart k)
{
	if ((unsigned)k >= EH_BOOT_RS_COUNT)
		return NULL;
	return restart_names[k];
}

static bool str_ne(const char *a, const char *b)
{
	return strcmp(a, b) != 0;
}

static bool bytes_ne(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen != blen || memcmp(a, b, alen) != 0;
}

/* The MQTT connection's settings that a reconnect applies. The files are
 * read again by the reconnect, so a renewed certificate under the same name
 * counts: over TLS at the same URI, every reload reconnects. */
static bool mqtt_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	return str_ne(n->mqtt.username, c->mqtt.username) || str_ne(n->password, c->password) ||
	       n->has_password != c->has_password || n->mqtt.keepalive_s != c->mqtt.keepalive_s ||
	       n->mqtt.max_packet_bytes != c->mqtt.max_packet_bytes ||
	       str_ne(n->mqtt.tls.ca_file, c->mqtt.tls.ca_file) ||
	       str_ne(n->mqtt.tls.cert_file, c->mqtt.tls.cert_file) ||
	       str_ne(n->mqtt.tls.key_file, c->mqtt.tls.key_file) ||
	       n->mqtt.tls.verify_host != c->mqtt.tls.verify_host ||
	       (n->mqtt.use_tls && !str_ne(n->mqtt.uri, c->mqtt.uri));
}

static bool inputs_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	for (size_t i = 0; i < sizeof(n->inputs) / sizeof(n->inputs[0]); i++)
		if (str_ne(n->inputs[i], c->inputs[i]))
			return true;
	return false;
}

static bool queue_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	return str_ne(n->queue.path, c->queue.path) || n->queue.size_bytes != c->queue.size_bytes ||
	       n->queue.full_policy != c->queue.full_policy ||
	       n->queue.commit_interval_ms != c->queue.commit_interval_ms;
}

static bool proxy_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	if (str_ne(n->https_proxy.host, c->https_proxy.host) ||
	    n->https_proxy.port != c->https_proxy.port || n->n_no_proxy != c->n_no_proxy)
		return true;
	for (size_t i = 0; i < n->n_no_proxy && i < EH_BOOT_NO_PROXY_MAX; i++)
		if (str_ne(n->no_proxy[i], c->no_proxy[i]))
			return true;
	return false;
}

static bool fleet_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	if (n->n_fleet != c->n_fleet)
		return true;
	for (size_t i = 0; i < n->n_fleet && i < EH_BOOT_FLEET_MAX; i++)
		if (str_ne(n->fleet_prefixes[i], c->fleet_prefixes[i]))
			return true;
	return false;
}

static bool hmac_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	return str_ne(n->config_hmac_key_file, c->config_hmac_key_file) ||
	       bytes_ne(n->hmac_key, n->hmac_key_len, c->hmac_key, c->hmac_key_len);
}

static bool coap_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	return str_ne(n->coap.bind, c->coap.bind) || n->coap.port != c->coap.port;
}

static bool http_changed(const struct eh_bootstrap *c, const struct eh_bootstrap *n)
{
	return str_ne(n->http.bind, c->http.bind) || n->http.port != c->http.port ||
	       str_ne(n->http.token_file, c->http.token_file) ||
	       bytes_ne(n->http_token, n->http_token_len, c->http_token, c->http_token_len);
}

static void restart_if(struct eh_boot_diff *d, bool changed, enum eh_boot_restart k)
{
	if (!changed)
		return;
	d->restart |= 1u << k;
	d->restart_keys[d->n_restart++] = restart_names[k];
}

void eh_bootstrap_diff(const struct eh_bootstrap *cur, const struct eh_bootstrap *next,
		       struct eh_boot_diff *d)
{
	const struct eh_bootstrap *c = cur, *n = next;

	memset(d, 0, sizeof(*d));
	d->apply = EH_BOOT_APPLY_CA;
	if (n->log_level != c->log_level)
		d->apply |= EH_BOOT_APPLY_LOG_LEVEL;
	if (n->stop_grace_s != c->stop_grace_s)
		d->apply |= EH_BOOT_APPLY_STOP_GRACE;
	if (mqtt_changed(c, n))
		d->apply |= EH_BOOT_APPLY_MQTT;

	restart_if(d, str_ne(n->device_id, c->device_id), EH_BOOT_RS_DEVICE_ID);
	restart_if(d, str_ne(n->topic_prefix, c->topic_prefix), EH_BOOT_RS_TOPIC_PREFIX);
	restart_if(d,
		   str_ne(n->mqtt.uri, c->mqtt.uri) || str_ne(n->mqtt.client_id, c->mqtt.client_id),
		   EH_BOOT_RS_MQTT_ID);
	restart_if(d, inputs_changed(c, n), EH_BOOT_RS_INPUTS);
	restart_if(d, queue_changed(c, n), EH_BOOT_RS_QUEUE);
	restart_if(d, proxy_changed(c, n), EH_BOOT_RS_PROXY);
	restart_if(d, n->allow_plain_http != c->allow_plain_http, EH_BOOT_RS_PLAIN_HTTP);
	restart_if(d, fleet_changed(c, n), EH_BOOT_RS_FLEET);
	restart_if(d, hmac_changed(c, n), EH_BOOT_RS_HMAC);
	restart_if(d, coap_changed(c, n), EH_BOOT_RS_COAP);
	restart_if(d, http_changed(c, n), EH_BOOT_RS_HTTP);
}
