/* SPDX-License-Identifier: Apache-2.0 */
/* eh_bootstrap.c - strict loader of the bootstrap file. cJSON parses the
 * file once at start (its heap use ends with this function); every key is
 * checked against a table, so an unknown or mistyped key never passes. */
#include "eh_bootstrap.h"
#include "eh_crypto.h"
#include "eh_file.h"
#include "eh_limits.h"
#include "eh_log.h"
#include "eh_sock.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ==== Small validators ==== */

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* A string value into dst; errors name path. allow_null keeps dst as is. */
static bool get_string(const cJSON *v, const char *path, char *dst, size_t cap, bool allow_null,
		       bool allow_empty, struct eh_errs *errs)
{
	if (cJSON_IsNull(v) && allow_null) {
		dst[0] = '\0';
		return true;
	}
	if (!cJSON_IsString(v)) {
		eh_errs_add(errs, path, allow_null ? "expected string or null" : "expected string");
		return false;
	}
	size_t n = strlen(v->valuestring);
	if (n >= cap) {
		eh_errs_add(errs, path, "longer than %zu characters", cap - 1);
		return false;
	}
	if (n == 0 && !allow_empty) {
		eh_errs_add(errs, path, "must not be empty");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v->valuestring[i] < 0x20) {
			eh_errs_add(errs, path, "control character not allowed");
			return false;
		}
	}
	memcpy(dst, v->valuestring, n + 1);
	return true;
}

static bool get_uint(const cJSON *v, const char *path, uint64_t lo, uint64_t hi, uint64_t *out,
		     struct eh_errs *errs)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble) {
		eh_errs_add(errs, path, "expected integer");
		return false;
	}
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
		eh_errs_add(errs, path, "out of range %llu..%llu", (unsigned long long)lo,
			    (unsigned long long)hi);
		return false;
	}
	*out = (uint64_t)v->valuedouble;
	return true;
}

/* A topic (filter=false) or topic filter (filter=true, wildcards allowed). */
static bool valid_topic(const char *t, bool filter)
{
	size_t n = strlen(t);
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '+' || c == '#') {
			if (!filter)
				return false;
			bool starts = i == 0 || t[i - 1] == '/';
			bool ends = i + 1 == n || t[i + 1] == '/';
			if (!starts || !ends || (c == '#' && i + 1 != n))
				return false;
		}
	}
	return true;
}

/* Whether some topic matches both filters a and b (valid filters, '+' and
 * '#' on either side). A wildcard first level matches no topic starting
 * with '$' (MQTT 4.7.2). */
static bool filters_overlap(const char *a, const char *b)
{
	for (bool first = true;; first = false) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		bool hash_a = la == 1 && a[0] == '#', hash_b = lb == 1 && b[0] == '#';
		bool plus_a = la == 1 && a[0] == '+', plus_b = lb == 1 && b[0] == '+';

		if (first &&
		    (((hash_a || plus_a) && b[0] == '$') || ((hash_b || plus_b) && a[0] == '$')))
			return false;
		if (hash_a || hash_b)
			return true;
		if (!plus_a && !plus_b && (la != lb || memcmp(a, b, la) != 0))
			return false;
		a += la;
		b += lb;
		if (*a == '\0' || *b == '\0') /* "x/#" also matches "x" */
			return (*a == '\0' && *b == '\0') || strcmp(a, "/#") == 0 ||
			       strcmp(b, "/#") == 0;
		a++;
		b++;
	}
}

/* An input filter must match no topic the daemon publishes (status, dead
 * letters, webhook states, config-status) nor its config and catalog
 * topics: the daemon would take its own output as input, dead letters
 * re-ingested as notifications. Reported naming the key. */
static void input_not_own(const struct eh_bootstrap *b, const char *key, const char *filter,
			  struct eh_errs *errs)
{
	static const char *const own[] = {"status",	     "deadletter/+", "webhooks/+/state",
					  "config-status/#", "config/#",     "catalog/#"};
	char t[EH_BOOT_TOPIC_MAX + 32];

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		snprintf(t, sizeof(t), "%s/%s", b->topic_prefix, own[i]);
		if (filters_overlap(filter, t)) {
			eh_errs_add(errs, key,
				    "overlaps %s, a topic of the daemon's own: it would take its "
				    "own output as input",
				    t);
			return;
		}
	}
	for (size_t i = 0; i < b->n_fleet; i++) {
		snprintf(t, sizeof(t), "%s/config/#", b->fleet_prefixes[i]);
		if (filters_overlap(filter, t)) {
			eh_errs_add(errs, key, "overlaps %s, a fleet config topic", t);
			return;
		}
	}
}

/* tcp://host:port or mqtt://host:port (port defaults to 1883); mqtts:// or
 * ssl:// for TLS (port defaults to 8883). */
static bool parse_mqtt_uri(struct eh_bootstrap *b)
{
	const char *u = b->mqtt.uri;
	const char *rest;
	b->mqtt.use_tls = false;
	if (strncmp(u, "tcp://", 6) == 0)
		rest = u + 6;
	else if (strncmp(u, "mqtt://", 7) == 0)
		rest = u + 7;
	else if (strncmp(u, "mqtts://", 8) == 0)
		rest = u + 8, b->mqtt.use_tls = true;
	else if (strncmp(u, "ssl://", 6) == 0)
		rest = u + 6, b->mqtt.use_tls = true;
	else
		return false;
	const char *host = rest, *hend;
	if (*host == '[') {
		hend = strchr(host, ']');
		if (hend == NULL)
			return false;
		host++;
	} else {
		hend = strrchr(rest, ':');
		if (hend == NULL)
			hend = rest + strlen(rest);
	}
	size_t hl = (size_t)(hend - host);
	if (hl == 0 || hl >= sizeof(b->mqtt.host))
		return false;
	memcpy(b->mqtt.host, host, hl);
	b->mqtt.host[hl] = '\0';
	const char *p = hend;
	if (*p == ']')
		p++;
	b->mqtt.port = b->mqtt.use_tls ? 8883 : 1883;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535 || end == p + 1)
			return false;
		b->mqtt.port = (uint16_t)port;
	} else if (*p != '\0') {
		return false;
	}
	return true;
}

/* "http://host:port" with an optional trailing "/": an HTTP CONNECT proxy.
 * host may be a name, an IPv4 literal or a bracketed IPv6 literal. */
static bool parse_proxy_url(const char *u, char *host, size_t cap, uint16_t *port)
{
	const char *h, *hend, *p;
	char *end;
	long v;
	size_t hl;

	if (strncmp(u, "http://", 7) != 0)
		return false;
	h = u + 7;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL)
			return false;
		p = hend + 1;
	} else {
		hend = h + strcspn(h, ":/");
		p = hend;
	}
	hl = (size_t)(hend - h);
	if (hl == 0 || hl >= cap || *p != ':')
		return false;
	for (size_t i = 0; i < hl; i++) {
		char c = h[i];
		if (!(id_char(c) || c == ':'))
			return false;
	}
	v = strtol(p + 1, &end, 10);
	if (end == p + 1 || v < 1 || v > 65535 || !(*end == '\0' || strcmp(end, "/") == 0))
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)v;
	return true;
}

static void parse_no_proxy(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	char p[64];
	int i = 0;

	if (!cJSON_IsArray(o)) {
		eh_errs_add(errs, "no_proxy", "expected an array of host names, suffixes or IPs");
		return;
	}
	for (const cJSON *v = o->child; v != NULL; v = v->next, i++) {
		snprintf(p, sizeof(p), "no_proxy[%d]", i);
		if (b->n_no_proxy >= EH_BOOT_NO_PROXY_MAX) {
			eh_errs_add(errs, "no_proxy", "more than %d entries", EH_BOOT_NO_PROXY_MAX);
			return;
		}
		if (!get_string(v, p, b->no_proxy[b->n_no_proxy], sizeof(b->no_proxy[0]), false,
				false, errs))
			continue;
		if (strpbrk(b->no_proxy[b->n_no_proxy], " \t/@") != NULL) {
			eh_errs_add(errs, p, "a host name, \".suffix\", IP address or \"*\"");
			continue;
		}
		b->n_no_proxy++;
	}
}

/* Whether a is b, or one is a level prefix of the other ("a" and "a/b"):
 * then some topic could be read as a config topic of both. */
static bool prefixes_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

	if (memcmp(a, b, n) != 0)
		return false;
	return la == lb || (la < lb ? b[la] : a[lb]) == '/';
}

/* fleet_prefixes (CONTRACT 9.3): checked against topic_prefix once both
 * are known (eh_bootstrap_parse's end). */
static void parse_fleet(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	char p[64];
	int i = 0;

	if (!cJSON_IsArray(o)) {
		eh_errs_add(errs, "fleet_prefixes", "expected an array of topic prefixes");
		return;
	}
	for (const cJSON *v = o->child; v != NULL; v = v->next, i++) {
		char *f = b->fleet_prefixes[b->n_fleet];
		size_t n;
		snprintf(p, sizeof(p), "fleet_prefixes[%d]", i);
		if (b->n_fleet >= EH_BOOT_FLEET_MAX) {
			eh_errs_add(errs, "fleet_prefixes", "more than %d entries",
				    EH_BOOT_FLEET_MAX);
			return;
		}
		if (!get_string(v, p, f, sizeof(b->fleet_prefixes[0]), false, false, errs))
			continue;
		n = strlen(f);
		if (!valid_topic(f, false) || f[n - 1] == '/' || f[0] == '/') {
			eh_errs_add(errs, p,
				    "a topic without wildcards and without a leading or "
				    "trailing '/'");
			continue;
		}
		for (size_t k = 0; k < b->n_fleet; k++)
			if (prefixes_overlap(f, b->fleet_prefixes[k])) {
				eh_errs_add(errs, p, "overlaps fleet_prefixes[%zu]", k);
				n = 0;
			}
		if (n)
			b->n_fleet++;
	}
}

/* A fleet prefix must not overlap the device's own (its topics would be
 * read twice, once as the device's and once as the fleet's). */
static void check_fleet(struct eh_bootstrap *b, struct eh_errs *errs)
{
	char p[64];

	for (size_t i = 0; i < b->n_fleet; i++) {
		const char *f = b->fleet_prefixes[i];
		snprintf(p, sizeof(p), "fleet_prefixes[%zu]", i);
		if (prefixes_overlap(f, b->topic_prefix))
			eh_errs_add(errs, p, "overlaps topic_prefix \"%s\"", b->topic_prefix);
		else if (strlen(f) + strlen(b->topic_prefix) > EH_BOOT_FLEET_PAIR_MAX)
			eh_errs_add(errs, p, "with topic_prefix longer than %d bytes",
				    EH_BOOT_FLEET_PAIR_MAX);
		b->fleet_list[i] = f;
	}
}

/* ==== Sections ==== */

static bool known(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return true;
	return false;
}

static void unknown_keys(const cJSON *obj, const char *base, const char *const *keys,
			 struct eh_errs *errs)
{
	char p[128];
	for (const cJSON *c = obj->child; c; c = c->next)
		if (!known(c->string, keys))
			eh_errs_add(errs, eh_path_key(p, sizeof(p), base, c->string),
				    "unknown key");
}

/* mqtt.tls (CONTRACT 9.1). Only files are named here; they are loaded at
 * start and by --check-config (the MQTT driver reads them as PEM). */
static void parse_mqtt_tls(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"ca_file", "cert_file", "key_file", "verify_host", NULL};
	const cJSON *v;
	unsigned before = eh_errs_count(errs);

	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "mqtt.tls", "expected object");
		return;
	}
	unknown_keys(o, "mqtt.tls", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "ca_file")) != NULL)
		get_string(v, "mqtt.tls.ca_file", b->mqtt.tls.ca_file, sizeof(b->mqtt.tls.ca_file),
			   true, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cert_file")) != NULL)
		get_string(v, "mqtt.tls.cert_file", b->mqtt.tls.cert_file,
			   sizeof(b->mqtt.tls.cert_file), true, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "key_file")) != NULL)
		get_string(v, "mqtt.tls.key_file", b->mqtt.tls.key_file,
			   sizeof(b->mqtt.tls.key_file), true, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "verify_host")) != NULL) {
		if (cJSON_IsBool(v))
			b->mqtt.tls.verify_host = cJSON_IsTrue(v);
		else
			eh_errs_add(errs, "mqtt.tls.verify_host", "expected boolean");
	}
	/* A certificate without its key (or the reverse) cannot be presented. */
	if (eh_errs_count(errs) > before)
		return;
	if (b->mqtt.tls.cert_file[0] != '\0' && b->mqtt.tls.key_file[0] == '\0')
		eh_errs_add(errs, "mqtt.tls.key_file", "required when cert_file is set");
	if (b->mqtt.tls.key_file[0] != '\0' && b->mqtt.tls.cert_file[0] == '\0')
		eh_errs_add(errs, "mqtt.tls.cert_file", "required when key_file is set");
}

static void parse_mqtt(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"uri",	    "client_id",   "username",
					   "password_file", "keepalive_s", "max_packet_bytes",
					   "tls",	    NULL};
	const cJSON *v;
	uint64_t n;

	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "mqtt", "expected object");
		return;
	}
	unknown_keys(o, "mqtt", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "uri")) != NULL &&
	    get_string(v, "mqtt.uri", b->mqtt.uri, sizeof(b->mqtt.uri), false, false, errs))
		if (!parse_mqtt_uri(b))
			eh_errs_add(errs, "mqtt.uri",
				    "expected tcp://, mqtt://, mqtts:// or ssl:// host[:port]");
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "client_id")) != NULL &&
	    get_string(v, "mqtt.client_id", b->mqtt.client_id, sizeof(b->mqtt.client_id), false,
		       false, errs) &&
	    strlen(b->mqtt.client_id) > 128)
		eh_errs_add(errs, "mqtt.client_id", "longer than 128 characters");
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "username")) != NULL)
		get_string(v, "mqtt.username", b->mqtt.username, sizeof(b->mqtt.username), true,
			   false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "password_file")) != NULL)
		get_string(v, "mqtt.password_file", b->mqtt.password_file,
			   sizeof(b->mqtt.password_file), true, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "keepalive_s")) != NULL &&
	    get_uint(v, "mqtt.keepalive_s", 5, 3600, &n, errs))
		b->mqtt.keepalive_s = (uint32_t)n;
	/* A v5 broker never sends this client a bigger packet, so a huge
	 * message cannot reach the library's buffers. Above the largest
	 * message + headroom it would only let them in. */
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "max_packet_bytes")) != NULL) {
		if (cJSON_IsNull(v))
			b->mqtt.max_packet_bytes = EH_MQTT_MAX_PACKET_BYTES;
		else if (get_uint(v, "mqtt.max_packet_bytes", EH_MQTT_MIN_PACKET_BYTES,
				  EH_MQTT_MAX_PACKET_BYTES, &n, errs))
			b->mqtt.max_packet_bytes = (uint32_t)n;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "tls")) != NULL && !cJSON_IsNull(v)) {
		parse_mqtt_tls(v, b, errs);
		/* Settings that would silently do nothing over plain TCP. */
		if (!b->mqtt.use_tls && (b->mqtt.tls.ca_file[0] || b->mqtt.tls.cert_file[0] ||
					 !b->mqtt.tls.verify_host))
			eh_errs_add(errs, "mqtt.tls",
				    "set, but mqtt.uri is not mqtts:// or ssl://");
	}
}

static void parse_inputs(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"events", "episodes", "counters", NULL};
	char p[64];
	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "inputs", "expected object");
		return;
	}
	unknown_keys(o, "inputs", keys, errs);
	for (int t = 0; t < 3; t++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[t]);
		eh_path_key(p, sizeof(p), "inputs", keys[t]);
		if (v != NULL &&
		    get_string(v, p, b->inputs[t], sizeof(b->inputs[t]), false, false, errs) &&
		    !valid_topic(b->inputs[t], true))
			eh_errs_add(errs, p, "not a valid MQTT topic filter");
	}
}

static void parse_queue(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"path", "size_bytes", "full_policy",
					   "commit_interval_ms", NULL};
	const cJSON *v;
	uint64_t n;
	char pol[16];

	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "queue", "expected object");
		return;
	}
	unknown_keys(o, "queue", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "path")) != NULL)
		get_string(v, "queue.path", b->queue.path, sizeof(b->queue.path), false, false,
			   errs);
	/* 1 MiB .. 4 GiB: the ring needs at least 16 segments of 64 KiB. */
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "size_bytes")) != NULL &&
	    get_uint(v, "queue.size_bytes", 1048576, 4294967296ull, &n, errs))
		b->queue.size_bytes = n;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "full_policy")) != NULL &&
	    get_string(v, "queue.full_policy", pol, sizeof(pol), false, false, errs)) {
		if (strcmp(pol, "drop_oldest") == 0)
			b->queue.full_policy = EH_BOOT_DROP_OLDEST;
		else if (strcmp(pol, "block") == 0)
			b->queue.full_policy = EH_BOOT_BLOCK;
		else
			eh_errs_add(errs, "queue.full_policy",
				    "expected \"drop_oldest\" or \"block\"");
	} else if (v != NULL && cJSON_IsString(v)) {
		/* too long: already reported */
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "commit_interval_ms")) != NULL &&
	    get_uint(v, "queue.commit_interval_ms", 1, 1000, &n, errs))
		b->queue.commit_interval_ms = (uint32_t)n;
}

static void parse_tls(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"ca_file", NULL};
	const cJSON *v;
	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "tls", "expected object");
		return;
	}
	unknown_keys(o, "tls", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "ca_file")) != NULL)
		get_string(v, "tls.ca_file", b->ca_file, sizeof(b->ca_file), false, false, errs);
}

static void parse_coap(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"bind", "port", NULL};
	const cJSON *v;
	uint64_t n;
	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "coap", "expected object");
		return;
	}
	unknown_keys(o, "coap", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "bind")) != NULL)
		get_string(v, "coap.bind", b->coap.bind, sizeof(b->coap.bind), false, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "port")) != NULL &&
	    get_uint(v, "coap.port", 0, 65535, &n, errs))
		b->coap.port = (uint16_t)n;
	/* libcoap binds an IP literal; a name would fail only at start. */
	uint8_t ip[16];
	size_t iplen;
	if (b->coap.port != 0 && b->coap.bind[0] != '\0' &&
	    !eh_sock_ip_literal(b->coap.bind, ip, &iplen))
		eh_errs_add(errs, "coap.bind", "expected an IPv4 or IPv6 address");
}

static void parse_http(const cJSON *o, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static const char *const keys[] = {"bind", "port", "token_file", NULL};
	const cJSON *v;
	uint64_t n;
	if (!cJSON_IsObject(o)) {
		eh_errs_add(errs, "http", "expected object");
		return;
	}
	unknown_keys(o, "http", keys, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "bind")) != NULL &&
	    get_string(v, "http.bind", b->http.bind, sizeof(b->http.bind), false, false, errs)) {
		unsigned char a[16];
		/* Checked here so that --check-config finds it, not the start. */
		if (inet_pton(AF_INET, b->http.bind, a) != 1 &&
		    inet_pton(AF_INET6, b->http.bind, a) != 1)
			eh_errs_add(errs, "http.bind", "expected a numeric IPv4 or IPv6 address");
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "port")) != NULL &&
	    get_uint(v, "http.port", 0, 65535, &n, errs))
		b->http.port = (uint16_t)n;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "token_file")) != NULL)
		get_string(v, "http.token_file", b->http.token_file, sizeof(b->http.token_file),
			   true, false, errs);
}

/* ==== Entry points ==== */

void eh_bootstrap_defaults(struct eh_bootstrap *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->device_id, sizeof(b->device_id), "edgehook");
	snprintf(b->mqtt.uri, sizeof(b->mqtt.uri), "tcp://127.0.0.1:1883");
	snprintf(b->mqtt.host, sizeof(b->mqtt.host), "127.0.0.1");
	b->mqtt.port = 1883;
	b->mqtt.keepalive_s = 30;
	b->mqtt.max_packet_bytes = EH_MQTT_MAX_PACKET_BYTES;
	b->mqtt.tls.verify_host = true;
	snprintf(b->queue.path, sizeof(b->queue.path), "/var/lib/edgehook/queue.ring");
	b->queue.size_bytes = 16u * 1024 * 1024;
	b->queue.full_policy = EH_BOOT_DROP_OLDEST;
	b->queue.commit_interval_ms = 20;
	snprintf(b->ca_file, sizeof(b->ca_file), "/etc/ssl/certs/ca-certificates.crt");
	snprintf(b->coap.bind, sizeof(b->coap.bind), "127.0.0.1");
	b->coap.port = 5683;
	snprintf(b->http.bind, sizeof(b->http.bind), "127.0.0.1");
	b->stop_grace_s = 5;
	b->log_level = EH_LOG_LEVEL_INF;
}

eh_err eh_bootstrap_parse(const char *json, size_t len, struct eh_bootstrap *b,
			  struct eh_errs *errs)
{
	static const char *const keys[] = {"device_id",
					   "topic_prefix",
					   "mqtt",
					   "inputs",
					   "queue",
					   "tls",
					   "allow_plain_http",
					   "config_hmac_key_file",
					   "coap",
					   "log_level",
					   "stop_grace_s",
					   "https_proxy",
					   "no_proxy",
					   "http",
					   "fleet_prefixes",
					   NULL};
	unsigned before = eh_errs_count(errs);
	const cJSON *v;
	char lvl[16];
	bool have_prefix = false, have_client = false;
	bool have_input[3] = {false, false, false};

	eh_bootstrap_defaults(b);
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		long off = at ? (long)(at - json) : -1;
		eh_errs_add(errs, "", "not valid JSON (near byte %ld)", off);
		return EH_ERR_INVAL;
	}
	if (!cJSON_IsObject(root)) {
		eh_errs_add(errs, "", "expected a JSON object");
		cJSON_Delete(root);
		return EH_ERR_INVAL;
	}
	unknown_keys(root, "", keys, errs);

	if ((v = cJSON_GetObjectItemCaseSensitive(root, "device_id")) != NULL &&
	    get_string(v, "device_id", b->device_id, sizeof(b->device_id), false, false, errs)) {
		for (const char *c = b->device_id; *c; c++)
			if (!id_char(*c)) {
				eh_errs_add(errs, "device_id",
					    "only letters, digits, '.', '_' and '-' allowed");
				break;
			}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "topic_prefix")) != NULL &&
	    get_string(v, "topic_prefix", b->topic_prefix, sizeof(b->topic_prefix), false, false,
		       errs)) {
		size_t n = strlen(b->topic_prefix);
		if (!valid_topic(b->topic_prefix, false) || b->topic_prefix[n - 1] == '/')
			eh_errs_add(errs, "topic_prefix",
				    "a topic without wildcards and without a trailing '/'");
		have_prefix = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "mqtt")) != NULL) {
		parse_mqtt(v, b, errs);
		have_client = cJSON_GetObjectItemCaseSensitive(v, "client_id") != NULL;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "inputs")) != NULL) {
		parse_inputs(v, b, errs);
		for (int t = 0; t < 3; t++)
			have_input[t] = b->inputs[t][0] != '\0';
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "queue")) != NULL)
		parse_queue(v, b, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "tls")) != NULL)
		parse_tls(v, b, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "allow_plain_http")) != NULL) {
		if (cJSON_IsBool(v))
			b->allow_plain_http = cJSON_IsTrue(v);
		else
			eh_errs_add(errs, "allow_plain_http", "expected boolean");
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "config_hmac_key_file")) != NULL)
		get_string(v, "config_hmac_key_file", b->config_hmac_key_file,
			   sizeof(b->config_hmac_key_file), true, false, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "coap")) != NULL)
		parse_coap(v, b, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "http")) != NULL)
		parse_http(v, b, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "stop_grace_s")) != NULL) {
		uint64_t n;
		if (get_uint(v, "stop_grace_s", 0, 60, &n, errs))
			b->stop_grace_s = (uint32_t)n;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "https_proxy")) != NULL &&
	    !cJSON_IsNull(v) &&
	    (!cJSON_IsString(v) ||
	     !parse_proxy_url(v->valuestring, b->https_proxy.host, sizeof(b->https_proxy.host),
			      &b->https_proxy.port)))
		eh_errs_add(errs, "https_proxy", "expected null or \"http://host:port\"");
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "no_proxy")) != NULL)
		parse_no_proxy(v, b, errs);
	for (size_t i = 0; i < b->n_no_proxy; i++)
		b->no_proxy_list[i] = b->no_proxy[i];
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "fleet_prefixes")) != NULL)
		parse_fleet(v, b, errs);
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "log_level")) != NULL &&
	    get_string(v, "log_level", lvl, sizeof(lvl), false, false, errs)) {
		int l = eh_log_level_parse(lvl);
		if (l < 0)
			eh_errs_add(errs, "log_level",
				    "expected \"error\", \"warning\", \"info\" or \"debug\"");
		else
			b->log_level = l;
	} else if (v != NULL && cJSON_IsString(v)) {
		/* already reported: too long */
	}
	cJSON_Delete(root);

	/* Derived defaults: everything hangs off device_id and topic_prefix. */
	if (!have_prefix)
		snprintf(b->topic_prefix, sizeof(b->topic_prefix), "edgehook/%s", b->device_id);
	if (!have_client)
		snprintf(b->mqtt.client_id, sizeof(b->mqtt.client_id), "edgehookd-%s",
			 b->device_id);
	check_fleet(b, errs);
	static const char *const in_names[3] = {"events", "episodes", "counters"};
	char key[32];
	for (int t = 0; t < 3; t++) {
		if (!have_input[t])
			snprintf(b->inputs[t], sizeof(b->inputs[t]), "%s/in/%s", b->topic_prefix,
				 in_names[t]);
		else if (valid_topic(b->inputs[t], true))
			input_not_own(b, eh_path_key(key, sizeof(key), "inputs", in_names[t]),
				      b->inputs[t], errs);
	}
	return eh_errs_count(errs) > before ? EH_ERR_INVAL : EH_OK;
}

const char *eh_bootstrap_mqtt_ca(const struct eh_bootstrap *b)
{
	return b->mqtt.tls.ca_file[0] != '\0' ? b->mqtt.tls.ca_file : b->ca_file;
}

eh_err eh_bootstrap_load(const char *path, struct eh_bootstrap *b, struct eh_errs *errs)
{
	static char text[EH_BOOT_BOOTFILE_MAX + 1];
	size_t len = 0;
	eh_err rc = eh_file_read_all(path, text, sizeof(text), &len);
	if (rc == EH_ERR_TOOBIG) {
		eh_errs_add(errs, path, "larger than %d bytes", EH_BOOT_BOOTFILE_MAX);
		return EH_ERR_INVAL;
	}
	if (rc != EH_OK) {
		eh_errs_add(errs, path, "cannot read: %s", eh_err_str(rc));
		return rc;
	}
	return eh_bootstrap_parse(text, len, b, errs);
}

eh_err eh_bootstrap_check_files(const struct eh_bootstrap *b, struct eh_errs *errs)
{
	unsigned before = eh_errs_count(errs);
	eh_err rc = eh_crypto_ca_check(b->ca_file, NULL);

	if (rc == EH_ERR_NOENT)
		eh_errs_add(errs, "tls.ca_file", "cannot read %s", b->ca_file);
	else if (rc != EH_OK)
		eh_errs_add(errs, "tls.ca_file", "no usable CA certificate in %s", b->ca_file);
	return eh_errs_count(errs) > before ? EH_ERR_INVAL : EH_OK;
}

eh_err eh_bootstrap_read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	char text[EH_BOOT_SECRET_MAX + 2];
	size_t n = 0;
	eh_err rc = eh_file_read_all(path, text, sizeof(text), &n);
	if (rc != EH_OK)
		return rc;
	if (n > 0 && text[n - 1] == '\n')
		n--; /* one trailing newline, as editors add */
	if (n > cap)
		return EH_ERR_TOOBIG;
	memcpy(buf, text, n);
	*len = n;
	return EH_OK;
}

eh_err eh_bootstrap_load_secrets(struct eh_bootstrap *b, struct eh_errs *errs)
{
	unsigned before = eh_errs_count(errs);
	size_t n = 0;
	eh_err rc;

	if (b->mqtt.password_file[0] != '\0') {
		rc = eh_bootstrap_read_secret(b->mqtt.password_file, (uint8_t *)b->password,
					      sizeof(b->password) - 1, &n);
		if (rc != EH_OK) {
			eh_errs_add(errs, "mqtt.password_file", "cannot read %s: %s",
				    b->mqtt.password_file, eh_err_str(rc));
		} else {
			b->password[n] = '\0';
			b->has_password = true;
		}
	}
	if (b->config_hmac_key_file[0] != '\0') {
		rc = eh_bootstrap_read_secret(b->config_hmac_key_file, b->hmac_key,
					      sizeof(b->hmac_key), &b->hmac_key_len);
		if (rc != EH_OK)
			eh_errs_add(errs, "config_hmac_key_file", "cannot read %s: %s",
				    b->config_hmac_key_file, eh_err_str(rc));
		else if (b->hmac_key_len < EH_BOOT_HMAC_MIN)
			eh_errs_add(errs, "config_hmac_key_file",
				    "key is %zu bytes; at least %d required", b->hmac_key_len,
				    EH_BOOT_HMAC_MIN);
	}
	if (b->http.token_file[0] != '\0') {
		rc = eh_bootstrap_read_secret(b->http.token_file, b->http_token,
					      sizeof(b->http_token), &b->http_token_len);
		if (rc != EH_OK)
			eh_errs_add(errs, "http.token_file", "cannot read %s: %s",
				    b->http.token_file, eh_err_str(rc));
		else if (b->http_token_len == 0)
			eh_errs_add(errs, "http.token_file", "%s is empty", b->http.token_file);
	}
	return eh_errs_count(errs) > before ? EH_ERR_INVAL : EH_OK;
}
