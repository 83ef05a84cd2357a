/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_mqtt.c - the commands that talk to a running daemon through its MQTT
 * broker, with the bootstrap file's settings (CONTRACT 9.6): status,
 * webhook list|get|set|rm, tail. Retained topics are read by subscribing
 * and taking what arrives until the broker has been quiet for QUIET_MS. */
#include "eh_ctl.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eh_bootstrap.h"
#include "eh_config.h"
#include "eh_errs.h"
#include "eh_json.h"
#include "eh_mqtt_ctl.h"

#define QUIET_MS 300u  /* no retained message for this long: all were sent */
#define LIST_MAX 1024u /* webhooks listed */
#define TOPIC_LEN (EH_BOOT_TOPIC_MAX + 64)

/* A command-line tool, run once: its buffers are static, not on the stack. */
static struct eh_bootstrap boot;
static struct eh_mqtt_ctl mq;
static char doc[EH_MAX_MSG_BYTES + 64];
static char signed_doc[EH_MAX_MSG_BYTES + 64];
static char last_config[EH_MAX_MSG_BYTES + 1];
static size_t last_config_len;
static bool have_config;
static unsigned timeout_ms = 10000;
static volatile sig_atomic_t interrupted;

struct listed {
	unsigned long id;
	char title[EH_WEBHOOK_TITLE_MAX];
	char url[EH_WEBHOOK_URL_MAX];
	int active;	 /* 1, 0, -1 no config */
	char status[48]; /* "accepted", "refused (N errors)", "-" */
};
static struct listed list[LIST_MAX];
static unsigned nlist;

static int usage(FILE *out)
{
	fprintf(out,
		"usage: edgehookctl -c BOOTSTRAP COMMAND [--timeout S]\n"
		"  status                   print the daemon's retained P/status\n"
		"  webhook list             every webhook: id, active, config-status, title, url\n"
		"  webhook get ID           print webhook ID's retained config (its\n"
		"                           config-status goes to stderr)\n"
		"  webhook set ID FILE|-    publish FILE as webhook ID (retained, QoS 1; signed\n"
		"                           with config_hmac_key_file, \"version\" added when\n"
		"                           absent) and print the daemon's answer\n"
		"  webhook rm ID            delete webhook ID and wait for the daemon\n"
		"  tail [--count N]         print states and dead letters as they come, one line\n"
		"                           each: TOPIC PAYLOAD; until interrupted or N lines\n"
		"  --timeout S: how long to wait for the broker and the daemon [10]\n"
		"  exit 0: done, 1: refused by the daemon (each error with its path on\n"
		"       stderr) or no such webhook, 2: bad usage or a bad file,\n"
		"       3: broker unreachable or no answer in time\n");
	return out == stdout ? EH_CTL_EXIT_OK : EH_CTL_EXIT_USAGE;
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Load the bootstrap file and its secrets; connect. Returns an exit code. */
static int connect_broker(const char *bootfile)
{
	struct eh_mqtt_ctl_config cfg;
	struct eh_errs errs;
	char client_id[64];
	eh_err rc;

	eh_errs_init(&errs);
	if (eh_bootstrap_load(bootfile, &boot, &errs) == EH_OK)
		eh_bootstrap_load_secrets(&boot, &errs);
	for (unsigned i = 0; i < errs.n; i++)
		fprintf(stderr, "%s: %s\n", bootfile, errs.msg[i]);
	if (eh_errs_count(&errs))
		return EH_CTL_EXIT_USAGE;
	snprintf(client_id, sizeof(client_id), "edgehookctl-%ld", (long)getpid());
	memset(&cfg, 0, sizeof(cfg));
	cfg.uri = boot.mqtt.uri;
	cfg.client_id = client_id;
	cfg.username = boot.mqtt.username[0] ? boot.mqtt.username : NULL;
	cfg.password = boot.has_password ? boot.password : NULL;
	cfg.use_tls = boot.mqtt.use_tls;
	cfg.tls.ca_file = eh_bootstrap_mqtt_ca(&boot);
	cfg.tls.cert_file = boot.mqtt.tls.cert_file[0] ? boot.mqtt.tls.cert_file : NULL;
	cfg.tls.key_file = boot.mqtt.tls.key_file[0] ? boot.mqtt.tls.key_file : NULL;
	cfg.tls.no_verify_host = !boot.mqtt.tls.verify_host;
	rc = eh_mqtt_ctl_open(&mq, &cfg, timeout_ms);
	if (rc != EH_OK) {
		fprintf(stderr, "cannot connect to the broker at %s: %s\n", boot.mqtt.uri,
			rc == EH_ERR_PERM ? "user name or password refused" : eh_err_str(rc));
		return EH_CTL_EXIT_UNREACHABLE;
	}
	return EH_CTL_EXIT_OK;
}

static int subscribe(const char *filter)
{
	eh_err rc = eh_mqtt_ctl_subscribe(&mq, filter, timeout_ms);

	if (rc != EH_OK) {
		fprintf(stderr, "cannot subscribe to %s: %s\n", filter, eh_err_str(rc));
		return EH_CTL_EXIT_UNREACHABLE;
	}
	return EH_CTL_EXIT_OK;
}

/* Take messages until the broker is quiet; each goes to fn. EH_ERR_CLOSED
 * when the connection is lost. */
static eh_err gather(void (*fn)(const struct eh_mqtt_ctl_msg *m))
{
	struct eh_mqtt_ctl_msg m;
	eh_err rc;

	while ((rc = eh_mqtt_ctl_next(&mq, &m, QUIET_MS)) == EH_OK)
		fn(&m);
	return rc == EH_ERR_TIMEOUT ? EH_OK : rc;
}

/* The id after the last '/' of topic, or after "webhooks/" for a state
 * topic; 0 when not a positive integer. */
static unsigned long id_in(const char *s)
{
	char *end;
	unsigned long long v;

	if (*s < '1' || *s > '9' || strspn(s, "0123456789") > 10)
		return 0; /* 10 digits never overflow an unsigned long long */
	v = strtoull(s, &end, 10);
	if ((*end != '\0' && *end != '/') || v > 0xFFFFFFFFull)
		return 0;
	return (unsigned long)v;
}

static unsigned long parse_id(const char *s)
{
	unsigned long v = id_in(s);

	return (v != 0 && strchr(s, '/') == NULL) ? v : 0;
}

/* The top-level value of key in a JSON object: its kind and raw view. */
static bool json_get(const char *buf, size_t len, const char *key, enum eh_json_kind *kind,
		     struct eh_json_view *val)
{
	struct eh_json_cur c;
	struct eh_json_view k;
	int r;

	eh_json_init(&c, buf, len);
	if (eh_json_peek(&c) != EH_JSON_OBJECT || !eh_json_obj_begin(&c))
		return false;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &k)) == 1; i++) {
		if (eh_json_str_eq(k, key)) {
			*kind = eh_json_peek(&c);
			if (*kind == EH_JSON_STRING)
				return eh_json_string(&c, val);
			return eh_json_skip(&c, val);
		}
		if (!eh_json_skip(&c, NULL))
			return false;
	}
	return false;
}

static void json_str(const char *buf, size_t len, const char *key, char *out, size_t cap)
{
	enum eh_json_kind kind;
	struct eh_json_view v;
	bool trunc;

	out[0] = '\0';
	if (json_get(buf, len, key, &kind, &v) && kind == EH_JSON_STRING)
		eh_json_decode(v, out, cap, &trunc);
}

/* The "version" of a config document; 0 when it has none. */
static unsigned long long json_version(const char *buf, size_t len, bool *present)
{
	enum eh_json_kind kind;
	struct eh_json_view v;
	char num[32];

	*present = json_get(buf, len, "version", &kind, &v);
	if (!*present || kind != EH_JSON_NUMBER || v.len >= sizeof(num))
		return 0;
	memcpy(num, v.p, v.len);
	num[v.len] = '\0';
	return strtoull(num, NULL, 10);
}

/* Print a config-status document's errors, one line each, with prefix.
 * Returns 1 accepted, 0 refused, -1 not a config-status. */
static int print_status(const char *prefix, const char *buf, size_t len, bool quiet_ok)
{
	struct eh_json_cur c;
	struct eh_json_view k, v;
	enum eh_json_kind kind;
	char msg[1024];
	bool trunc;
	int r;

	if (!json_get(buf, len, "accepted", &kind, &v))
		return -1;
	if (kind == EH_JSON_TRUE) {
		if (!quiet_ok)
			fprintf(stderr, "%saccepted\n", prefix);
		return 1;
	}
	fprintf(stderr, "%srefused\n", prefix);
	eh_json_init(&c, buf, len);
	if (!eh_json_obj_begin(&c))
		return 0;
	for (unsigned i = 0; (r = eh_json_obj_next(&c, i, &k)) == 1; i++) {
		if (!eh_json_str_eq(k, "errors") || eh_json_peek(&c) != EH_JSON_ARRAY) {
			if (!eh_json_skip(&c, NULL))
				return 0;
			continue;
		}
		if (!eh_json_arr_begin(&c))
			return 0;
		for (unsigned j = 0; eh_json_arr_next(&c, j) == 1; j++) {
			if (eh_json_peek(&c) != EH_JSON_STRING || !eh_json_string(&c, &v)) {
				if (!eh_json_skip(&c, NULL))
					return 0;
				continue;
			}
			eh_json_decode(v, msg, sizeof(msg), &trunc);
			fprintf(stderr, "  %s\n", msg);
		}
	}
	return 0;
}

/* ==== status ==== */

static int cmd_status(void)
{
	char topic[TOPIC_LEN];
	struct eh_mqtt_ctl_msg m;
	eh_err rc;
	int ex;

	snprintf(topic, sizeof(topic), "%s/status", boot.topic_prefix);
	if ((ex = subscribe(topic)) != 0)
		return ex;
	while ((rc = eh_mqtt_ctl_next(&mq, &m, timeout_ms)) == EH_OK && m.len == 0)
		;
	if (rc != EH_OK) {
		fprintf(stderr, "no %s within %u s: has the daemon ever connected?\n", topic,
			timeout_ms / 1000);
		return EH_CTL_EXIT_UNREACHABLE;
	}
	printf("%s\n", (const char *)m.payload);
	return EH_CTL_EXIT_OK;
}

/* ==== webhook list ==== */

static struct listed *list_slot(unsigned long id)
{
	for (unsigned i = 0; i < nlist; i++)
		if (list[i].id == id)
			return &list[i];
	if (nlist == LIST_MAX)
		return NULL;
	memset(&list[nlist], 0, sizeof(list[nlist]));
	list[nlist].id = id;
	list[nlist].active = -1;
	strcpy(list[nlist].status, "-");
	return &list[nlist++];
}

static size_t config_prefix_len(void)
{
	return strlen(boot.topic_prefix) + strlen("/config/webhooks/");
}

static size_t status_prefix_len(void)
{
	return strlen(boot.topic_prefix) + strlen("/config-status/webhooks/");
}

static void on_list_msg(const struct eh_mqtt_ctl_msg *m)
{
	const char *buf = (const char *)m->payload;
	bool is_status = strstr(m->topic + strlen(boot.topic_prefix), "/config-status/") ==
			 m->topic + strlen(boot.topic_prefix);
	size_t plen = is_status ? status_prefix_len() : config_prefix_len();
	unsigned long id;
	struct listed *l;
	enum eh_json_kind kind;
	struct eh_json_view v;
	unsigned nerr = 0;

	if (m->len == 0 || strlen(m->topic) <= plen || (id = parse_id(m->topic + plen)) == 0)
		return;
	if ((l = list_slot(id)) == NULL)
		return;
	if (is_status) {
		if (!json_get(buf, m->len, "accepted", &kind, &v))
			return;
		if (kind == EH_JSON_TRUE) {
			strcpy(l->status, "accepted");
			return;
		}
		if (json_get(buf, m->len, "errors", &kind, &v) && kind == EH_JSON_ARRAY) {
			struct eh_json_cur c;

			eh_json_init(&c, v.p, v.len);
			if (eh_json_arr_begin(&c))
				while (eh_json_arr_next(&c, nerr) == 1 && eh_json_skip(&c, NULL))
					nerr++;
		}
		snprintf(l->status, sizeof(l->status), "refused(%u)", nerr);
		return;
	}
	json_str(buf, m->len, "title", l->title, sizeof(l->title));
	json_str(buf, m->len, "url", l->url, sizeof(l->url));
	l->active = 1;
	if (json_get(buf, m->len, "active", &kind, &v) && kind == EH_JSON_FALSE)
		l->active = 0;
	if (json_get(buf, m->len, "deleted", &kind, &v) && kind == EH_JSON_TRUE)
		l->active = -1;
}

static int by_id(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmd_list(void)
{
	char topic[TOPIC_LEN];
	int ex;

	snprintf(topic, sizeof(topic), "%s/config/webhooks/+", boot.topic_prefix);
	if ((ex = subscribe(topic)) != 0)
		return ex;
	snprintf(topic, sizeof(topic), "%s/config-status/webhooks/+", boot.topic_prefix);
	if ((ex = subscribe(topic)) != 0)
		return ex;
	if (gather(on_list_msg) != EH_OK) {
		fprintf(stderr, "the broker closed the connection\n");
		return EH_CTL_EXIT_UNREACHABLE;
	}
	qsort(list, nlist, sizeof(list[0]), by_id);
	printf("ID\tACTIVE\tCONFIG-STATUS\tTITLE\tURL\n");
	for (unsigned i = 0; i < nlist; i++) {
		const struct listed *l = &list[i];

		printf("%lu\t%s\t%s\t%s\t%s\n", l->id,
		       l->active < 0 ? "-" : (l->active ? "yes" : "no"), l->status,
		       l->title[0] ? l->title : "-", l->url[0] ? l->url : "-");
	}
	return EH_CTL_EXIT_OK;
}

/* ==== webhook get / set / rm ==== */

static char config_topic[TOPIC_LEN];
static char status_topic[TOPIC_LEN];
static char last_status[4096];
static size_t last_status_len;
static bool have_status;

static void on_one_msg(const struct eh_mqtt_ctl_msg *m)
{
	if (strcmp(m->topic, config_topic) == 0 && m->retained) {
		have_config = m->len > 0;
		last_config_len = m->len;
		memcpy(last_config, m->payload, m->len + 1);
	} else if (strcmp(m->topic, status_topic) == 0 && m->retained &&
		   m->len < sizeof(last_status)) {
		have_status = m->len > 0;
		last_status_len = m->len;
		memcpy(last_status, m->payload, m->len + 1);
	}
}

/* Subscribe to webhook id's config and config-status topics and read what
 * is retained there. */
static int read_one(unsigned long id)
{
	int ex;

	snprintf(config_topic, sizeof(config_topic), "%s/config/webhooks/%lu", boot.topic_prefix,
		 id);
	snprintf(status_topic, sizeof(status_topic), "%s/config-status/webhooks/%lu",
		 boot.topic_prefix, id);
	if ((ex = subscribe(config_topic)) != 0 || (ex = subscribe(status_topic)) != 0)
		return ex;
	if (gather(on_one_msg) != EH_OK) {
		fprintf(stderr, "the broker closed the connection\n");
		return EH_CTL_EXIT_UNREACHABLE;
	}
	return EH_CTL_EXIT_OK;
}

/* The retained config is a signed deletion, {"version": N, "deleted": true}. */
static bool is_deletion(void)
{
	enum eh_json_kind kind;
	struct eh_json_view v;

	return have_config && json_get(last_config, last_config_len, "deleted", &kind, &v) &&
	       kind == EH_JSON_TRUE;
}

static int cmd_get(unsigned long id)
{
	int ex = read_one(id);

	if (ex != 0)
		return ex;
	if (!have_config || is_deletion()) {
		fprintf(stderr, "webhook %lu: not set\n", id);
		return EH_CTL_EXIT_NO;
	}
	printf("%s\n", last_config);
	if (have_status) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "webhook %lu: ", id);
		print_status(prefix, last_status, last_status_len, false);
	}
	return EH_CTL_EXIT_OK;
}

/* The M of the daemon's refusal "version: N is not greater than the last
 * accepted M" in a config-status document; 0 when it is another refusal. */
static unsigned long long refused_version(const char *buf)
{
	const char *p = strstr(buf, "is not greater than the last accepted ");

	return p == NULL ? 0
			 : strtoull(p + strlen("is not greater than the last accepted "), NULL, 10);
}

/* Publish payload on config_topic (signed when the bootstrap has a key),
 * then wait for the daemon's next word on status_topic. With retry set (a
 * version the tool chose), a refusal of that version is not printed: *retry
 * gets the daemon's last accepted version and the result is -1. The
 * retained message can be older than the last accepted version: a refused
 * message stays retained at the broker while the daemon keeps the one
 * before it. */
static int publish_and_wait(unsigned long id, const char *payload, size_t len, bool removing,
			    unsigned long long *retry)
{
	char hex[EH_CONFIG_SIG_HEX];
	const char *hmac = NULL;
	struct eh_mqtt_ctl_msg m;
	char prefix[64];
	eh_err rc;
	int r;

	if (boot.config_hmac_key_file[0] != '\0') {
		rc = eh_config_sign(boot.hmac_key, boot.hmac_key_len, config_topic,
				    (const uint8_t *)payload, len, hex);
		if (rc != EH_OK) {
			fprintf(stderr, "cannot sign: %s\n", eh_err_str(rc));
			return EH_CTL_EXIT_USAGE;
		}
		hmac = hex;
	}
	rc = eh_mqtt_ctl_publish(&mq, config_topic, payload, len, true, hmac, timeout_ms);
	if (rc != EH_OK) {
		fprintf(stderr, "cannot publish %s: %s\n", config_topic, eh_err_str(rc));
		return EH_CTL_EXIT_UNREACHABLE;
	}
	snprintf(prefix, sizeof(prefix), "webhook %lu: ", id);
	for (;;) {
		rc = eh_mqtt_ctl_next(&mq, &m, timeout_ms);
		if (rc != EH_OK) {
			fprintf(stderr,
				"webhook %lu: published, but no answer on %s within %u s "
				"(is the daemon running?)\n",
				id, status_topic, timeout_ms / 1000);
			return EH_CTL_EXIT_UNREACHABLE;
		}
		if (strcmp(m.topic, status_topic) != 0 || m.retained)
			continue;
		if (m.len == 0) {
			if (removing) {
				fprintf(stderr, "%sdeleted\n", prefix);
				return EH_CTL_EXIT_OK;
			}
			continue;
		}
		if (retry != NULL && (*retry = refused_version((const char *)m.payload)) != 0)
			return -1;
		r = print_status(prefix, (const char *)m.payload, m.len, false);
		if (r < 0)
			continue;
		return r == 1 ? EH_CTL_EXIT_OK : EH_CTL_EXIT_NO;
	}
}

static int set_versioned(unsigned long id, const char *file, size_t len, unsigned long long v,
			 unsigned long long *retry);

static int cmd_set(unsigned long id, const char *file)
{
	struct eh_json_cur c;
	bool present;
	size_t len = 0;
	eh_err rc;
	int ex;

	rc = eh_ctl_read(file, doc, EH_MAX_MSG_BYTES + 1, &len);
	if (rc != EH_OK) {
		fprintf(stderr, "%s: cannot read: %s%s\n", file, eh_err_str(rc),
			rc == EH_ERR_TOOBIG ? " (larger than the daemon accepts)" : "");
		return EH_CTL_EXIT_USAGE;
	}
	eh_json_init(&c, doc, len);
	if (!eh_json_validate(doc, len, &c)) {
		fprintf(stderr, "%s: not JSON: %s at byte %zu\n", file,
			c.why != NULL ? c.why : "invalid", c.why_at);
		return EH_CTL_EXIT_USAGE;
	}
	eh_json_init(&c, doc, len);
	if (eh_json_peek(&c) != EH_JSON_OBJECT) {
		fprintf(stderr, "%s: a webhook is a JSON object\n", file);
		return EH_CTL_EXIT_USAGE;
	}
	if ((ex = read_one(id)) != 0)
		return ex;
	if (have_config && have_status && last_config_len == len &&
	    memcmp(last_config, doc, len) == 0) {
		/* The daemon takes the same bytes again as a no-op and publishes no
		 * new config-status: its retained answer is the answer. */
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "webhook %lu: unchanged, ", id);
		return print_status(prefix, last_status, last_status_len, false) == 1
			   ? EH_CTL_EXIT_OK
			   : EH_CTL_EXIT_NO;
	}
	(void)json_version(doc, len, &present);
	if (boot.config_hmac_key_file[0] != '\0' && !present) {
		bool had;
		unsigned long long v =
		    have_config ? json_version(last_config, last_config_len, &had) : 0;
		unsigned long long last = 0;

		ex = set_versioned(id, file, len, v + 1, &last);
		if (ex == -1)
			ex = set_versioned(id, file, len, last + 1, NULL);
		return ex;
	}
	return publish_and_wait(id, doc, len, false, NULL);
}

/* Publish doc (len bytes, without "version") with version v added. */
static int set_versioned(unsigned long id, const char *file, size_t len, unsigned long long v,
			 unsigned long long *retry)
{
	const char *brace = memchr(doc, '{', len);
	size_t head = (size_t)(brace - doc) + 1, n;
	bool empty = true;

	for (size_t i = head; i < len; i++) {
		if (doc[i] != ' ' && doc[i] != '\t' && doc[i] != '\n' && doc[i] != '\r') {
			empty = doc[i] == '}';
			break;
		}
	}
	n = (size_t)snprintf(signed_doc, sizeof(signed_doc), "{\"version\": %llu%s", v,
			     empty ? "" : ",");
	if (n + (len - head) > EH_MAX_MSG_BYTES) {
		fprintf(stderr, "%s: too large with its version\n", file);
		return EH_CTL_EXIT_USAGE;
	}
	memcpy(signed_doc + n, doc + head, len - head);
	n += len - head;
	signed_doc[n] = '\0';
	return publish_and_wait(id, signed_doc, n, false, retry);
}

static int cmd_rm(unsigned long id)
{
	int ex = read_one(id);
	unsigned long long v;
	bool had;
	int n;

	if (ex != 0)
		return ex;
	if (!have_config || is_deletion()) {
		fprintf(stderr, "webhook %lu: not set\n", id);
		return EH_CTL_EXIT_NO;
	}
	if (boot.config_hmac_key_file[0] == '\0')
		return publish_and_wait(id, "", 0, true, NULL);
	v = json_version(last_config, last_config_len, &had) + 1;
	for (int attempt = 0;; attempt++) {
		unsigned long long last = 0;

		n = snprintf(signed_doc, sizeof(signed_doc),
			     "{\"version\": %llu, \"deleted\": true}", v);
		ex = publish_and_wait(id, signed_doc, (size_t)n, true, attempt == 0 ? &last : NULL);
		if (ex != -1)
			return ex;
		v = last + 1;
	}
}

/* ==== tail ==== */

static int cmd_tail(long count)
{
	char topic[TOPIC_LEN];
	struct eh_mqtt_ctl_msg m;
	struct sigaction sa;
	long seen = 0;
	eh_err rc;
	int ex;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(topic, sizeof(topic), "%s/webhooks/+/state", boot.topic_prefix);
	if ((ex = subscribe(topic)) != 0)
		return ex;
	snprintf(topic, sizeof(topic), "%s/deadletter/+", boot.topic_prefix);
	if ((ex = subscribe(topic)) != 0)
		return ex;
	while (!interrupted && (count <= 0 || seen < count)) {
		rc = eh_mqtt_ctl_next(&mq, &m, 500);
		if (rc == EH_ERR_TIMEOUT)
			continue;
		if (rc != EH_OK) {
			fprintf(stderr, "the broker closed the connection\n");
			return EH_CTL_EXIT_UNREACHABLE;
		}
		if (m.len == 0)
			continue; /* a state cleared with its webhook */
		for (size_t i = 0; i < m.len; i++)
			if (m.payload[i] == '\n' || m.payload[i] == '\r')
				((uint8_t *)m.payload)[i] = ' ';
		printf("%s %s%s\n", m.topic, (const char *)m.payload, m.truncated ? " [cut]" : "");
		fflush(stdout);
		seen++;
	}
	return EH_CTL_EXIT_OK;
}

/* ==== dispatch ==== */

int eh_ctl_mqtt(const char *bootfile, int argc, char **argv)
{
	const char *pos[4];
	unsigned npos = 0;
	long count = 0;
	unsigned long id = 0;
	int ex;

	if (eh_ctl_wants_help(argc, argv))
		return usage(stdout);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			long s = strtol(argv[++i], &end, 10);

			if (*end != '\0' || s < 1 || s > 3600)
				return usage(stderr);
			timeout_ms = (unsigned)s * 1000u;
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			char *end;

			count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || count < 1)
				return usage(stderr);
		} else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && npos < 4) {
			pos[npos++] = argv[i];
		} else {
			return usage(stderr);
		}
	}
	if (npos == 0)
		return usage(stderr);
	if (strcmp(pos[0], "status") == 0 || strcmp(pos[0], "tail") == 0) {
		if (npos != 1 || (count > 0 && strcmp(pos[0], "tail") != 0))
			return usage(stderr);
	} else if (strcmp(pos[0], "webhook") == 0 && npos >= 2 && count == 0) {
		bool list_cmd = strcmp(pos[1], "list") == 0;
		bool set_cmd = strcmp(pos[1], "set") == 0;

		if (!list_cmd && strcmp(pos[1], "get") != 0 && !set_cmd &&
		    strcmp(pos[1], "rm") != 0)
			return usage(stderr);
		if (npos != (list_cmd ? 2u : set_cmd ? 4u : 3u))
			return usage(stderr);
		if (!list_cmd && (id = parse_id(pos[2])) == 0) {
			fprintf(stderr, "webhook id \"%s\": expected a positive integer\n", pos[2]);
			return EH_CTL_EXIT_USAGE;
		}
	} else {
		return usage(stderr);
	}
	if (bootfile == NULL) {
		fprintf(stderr, "%s needs -c BOOTSTRAP: the daemon's bootstrap file\n", pos[0]);
		return EH_CTL_EXIT_USAGE;
	}
	if ((ex = connect_broker(bootfile)) != 0) {
		eh_mqtt_ctl_close(&mq);
		return ex;
	}
	if (strcmp(pos[0], "status") == 0)
		ex = cmd_status();
	else if (strcmp(pos[0], "tail") == 0)
		ex = cmd_tail(count);
	else if (strcmp(pos[1], "list") == 0)
		ex = cmd_list();
	else if (strcmp(pos[1], "get") == 0)
		ex = cmd_get(id);
	else if (strcmp(pos[1], "set") == 0)
		ex = cmd_set(id, pos[3]);
	else
		ex = cmd_rm(id);
	eh_mqtt_ctl_close(&mq);
	memset(boot.hmac_key, 0, sizeof(boot.hmac_key));
	memset(boot.password, 0, sizeof(boot.password));
	return ex;
}
