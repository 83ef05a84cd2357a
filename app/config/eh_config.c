/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config.c - the control plane (CONTRACT sections 3-4): topic routing,
 * signed mode (HMAC per message, growing versions kept in a file), the
 * gateway settings, the catalog arena, and the atomic apply of validated
 * webhooks into the static table. Every message is validated in full into
 * temporaries first; only a message with no error touches the table.
 * Cold path except eh_config_match() and eh_config_catalog_lookup(). */
#include "eh_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "eh_config_priv.h"
#include "eh_crypto.h"
#include "eh_file.h"
#include "eh_jw.h"
#include "eh_log.h"

#define PREFIX_MAX 192	/* EH_BOOT_TOPIC_MAX; leaves room for "/config-status/catalog/..." */
#define TOPIC_SHOWN 128 /* bytes of a bad topic logged */
#define CAT_FREE 0xff

enum topic_kind { T_UNKNOWN, T_BAD_ID, T_WEBHOOK, T_GATEWAY, T_CATALOG };

struct topic {
	enum topic_kind kind;
	unsigned source;	  /* T_WEBHOOK: 0 = P, k + 1 = fleet k (the precedence order) */
	uint32_t id;		  /* T_WEBHOOK */
	enum eh_catalog_kind cat; /* T_CATALOG */
	long long cat_id;
};

static const char *const cat_names[] = {"cameras", "camera_groups", "watch_lists", "dossiers"};
#define CAT_KINDS (sizeof(cat_names) / sizeof(cat_names[0]))

/* ==== topics ==== */

/* A positive decimal without sign or leading zeros that fits uint32. */
static bool parse_webhook_id(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 10 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* An integer, negative allowed ("-1"), no leading zeros, no "-0". */
static bool parse_catalog_id(const char *s, long long *out)
{
	struct eh_json_view t = {s, strlen(s)};
	int64_t v;
	const char *d = s[0] == '-' ? s + 1 : s;

	if (d[0] == '\0' || (d[0] == '0' && (d[1] != '\0' || d != s)))
		return false;
	for (const char *p = d; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	if (eh_json_to_i64(t, &v) != EH_OK)
		return false;
	*out = (long long)v;
	return true;
}

/* F/config/webhooks/<id> for a fleet F: only webhooks come from a fleet. */
static void fleet_classify(const struct eh_config *c, const char *topic, struct topic *t)
{
	for (unsigned k = 0; k < c->init.nfleet; k++) {
		size_t fn = strlen(c->fleet[k]);
		if (strncmp(topic, c->fleet[k], fn) != 0 ||
		    strncmp(topic + fn, "/config/webhooks/", 17) != 0)
			continue;
		t->kind = parse_webhook_id(topic + fn + 17, &t->id) ? T_WEBHOOK : T_BAD_ID;
		t->source = k + 1;
		return;
	}
}

static void classify(const struct eh_config *c, const char *topic, struct topic *t)
{
	size_t pn = strlen(c->prefix);
	const char *rest;

	memset(t, 0, sizeof(*t));
	t->kind = T_UNKNOWN;
	if (strncmp(topic, c->prefix, pn) != 0 || topic[pn] != '/') {
		fleet_classify(c, topic, t);
		return;
	}
	rest = topic + pn + 1;
	if (strncmp(rest, "config/webhooks/", 16) == 0) {
		t->kind = parse_webhook_id(rest + 16, &t->id) ? T_WEBHOOK : T_BAD_ID;
	} else if (strcmp(rest, "config/gateway") == 0) {
		t->kind = T_GATEWAY;
	} else if (strncmp(rest, "catalog/", 8) == 0) {
		const char *kind = rest + 8, *slash = strchr(kind, '/');
		if (slash == NULL)
			return;
		for (unsigned k = 0; k < CAT_KINDS; k++) {
			size_t kn = strlen(cat_names[k]);
			if ((size_t)(slash - kind) == kn && strncmp(kind, cat_names[k], kn) == 0 &&
			    parse_catalog_id(slash + 1, &t->cat_id)) {
				t->kind = T_CATALOG;
				t->cat = (enum eh_catalog_kind)k;
			}
		}
	}
}

static void status_topic(const struct eh_config *c, const struct topic *t, char *out)
{
	switch (t->kind) {
	case T_WEBHOOK:
		if (t->source > 0) { /* init keeps P and F short enough for this */
			int n = snprintf(out, EH_CONFIG_STATUS_TOPIC_MAX,
					 "%.191s/config-status/fleet/", c->prefix);
			size_t at = n > 0 ? (size_t)n : 0;
			snprintf(out + at, EH_CONFIG_STATUS_TOPIC_MAX - at, "%s/webhooks/%" PRIu32,
				 c->fleet[t->source - 1], t->id);
		} else
			snprintf(out, EH_CONFIG_STATUS_TOPIC_MAX,
				 "%.191s/config-status/webhooks/%" PRIu32, c->prefix, t->id);
		break;
	case T_GATEWAY:
		snprintf(out, EH_CONFIG_STATUS_TOPIC_MAX, "%.191s/config-status/gateway",
			 c->prefix);
		break;
	case T_CATALOG:
		snprintf(out, EH_CONFIG_STATUS_TOPIC_MAX, "%.191s/config-status/catalog/%s/%lld",
			 c->prefix, cat_names[t->cat], t->cat_id);
		break;
	default:
		out[0] = '\0';
		break;
	}
}

static void shown(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s[n] && n + 1 < cap; n++)
		out[n] = ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f) ? '?' : s[n];
	out[n] = '\0';
}

/* ==== answers ==== */

static void body_accepted(struct eh_config_result *res)
{
	res->accepted = true;
	snprintf(res->status_body, sizeof(res->status_body), "{\"accepted\": true}");
}

/* {"accepted": false, "errors": [...]}: as many messages as fit, then a
 * count of the rest. */
static void body_refused(struct eh_config_result *res, const struct eh_errs *errs)
{
	for (unsigned k = errs->n;; k--) {
		struct eh_jw w;
		char more[48];
		unsigned rest = errs->n - k + errs->dropped;

		eh_jw_init(&w, res->status_body, sizeof(res->status_body));
		eh_jw_raw(&w, "{\"accepted\": false, \"errors\": [");
		w.need_comma = false;
		for (unsigned i = 0; i < k; i++)
			eh_jw_str(&w, errs->msg[i]);
		if (rest) {
			snprintf(more, sizeof(more), "... and %u more errors", rest);
			eh_jw_str(&w, more);
		}
		eh_jw_raw(&w, "]}");
		if (eh_jw_end(&w) || k == 0)
			break;
	}
}

static eh_err refuse(struct eh_config *c, const char *topic, struct eh_config_result *res,
		     const struct eh_errs *errs, eh_err rc)
{
	char t[TOPIC_SHOWN];

	c->refused++;
	res->accepted = false;
	res->nchanges = 0;
	body_refused(res, errs);
	shown(topic, t, sizeof(t));
	EH_LOG_WRN("config", "%s: refused: %s%s", t, errs->n ? errs->msg[0] : eh_err_str(rc),
		   eh_errs_count(errs) > 1 ? " (and more, see config-status)" : "");
	return rc;
}

/* ==== signed mode: signatures and versions ==== */

eh_err eh_config_sign(const uint8_t *key, size_t klen, const char *topic, const uint8_t *payload,
		      size_t len, char hex[EH_CONFIG_SIG_HEX])
{
	static const uint8_t nul = 0;
	const uint8_t *parts[3] = {(const uint8_t *)topic, &nul, payload ? payload : &nul};
	const size_t lens[3] = {strlen(topic), 1, len};
	uint8_t mac[EH_SHA256_LEN];
	eh_err rc = eh_crypto_hmac_sha256(key, klen, parts, lens, 3, mac);

	if (rc != EH_OK) {
		hex[0] = '\0';
		return rc;
	}
	eh_crypto_hex(mac, sizeof(mac), hex);
	return EH_OK;
}

static bool hex_to_bytes(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char ch = h[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(d << 4);
		else
			out[i / 2] |= (uint8_t)d;
	}
	return true;
}

/* Forget every entry: only those below the high-water mark were ever written. */
static void versions_clear(struct eh_config *c)
{
	if (c->versions_used > EH_CONFIG_MAX_TOPICS)
		c->versions_used = EH_CONFIG_MAX_TOPICS;
	memset(c->versions, 0, c->versions_used * sizeof(c->versions[0]));
	c->versions_used = 0;
}

static struct eh_config_version *version_find(struct eh_config *c, const char *topic)
{
	for (unsigned i = 0; i < c->versions_used; i++)
		if (c->versions[i].topic[0] && strcmp(c->versions[i].topic, topic) == 0)
			return &c->versions[i];
	return NULL;
}

static eh_err versions_save(struct eh_config *c)
{
	size_t n = 0;
	char hex[EH_CONFIG_SIG_HEX];

	for (unsigned i = 0; i < c->versions_used; i++) {
		const struct eh_config_version *v = &c->versions[i];
		if (!v->topic[0])
			continue;
		eh_crypto_hex(v->digest, sizeof(v->digest), hex);
		int w = snprintf(c->vfile + n, sizeof(c->vfile) - n, "%" PRIu64 " %s %s\n",
				 v->version, hex, v->topic);
		if (w < 0 || (size_t)w >= sizeof(c->vfile) - n)
			return EH_ERR_NOSPC;
		n += (size_t)w;
	}
	return eh_file_replace(c->init.versions_path, c->vfile, n);
}

/* One line: "<version> <64 hex> <topic>". */
static bool versions_line(struct eh_config *c, const char *p, size_t n, unsigned *count)
{
	uint64_t v = 0;
	size_t i = 0;
	struct eh_config_version *e;

	if (*count >= EH_CONFIG_MAX_TOPICS || n == 0 || p[0] == '0')
		return false;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (i >= 19 || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (i == 0 || v == 0 || i + 1 + 64 + 1 >= n || p[i] != ' ' || p[i + 65] != ' ')
		return false;
	e = &c->versions[*count];
	if (c->versions_used < *count + 1)
		c->versions_used = *count + 1; /* written from here on, even if refused */
	if (!hex_to_bytes(p + i + 1, e->digest, sizeof(e->digest)))
		return false;
	size_t tn = n - (i + 66);
	if (tn == 0 || tn >= sizeof(e->topic) || memchr(p + i + 66, '\0', tn) != NULL)
		return false;
	memcpy(e->topic, p + i + 66, tn);
	e->topic[tn] = '\0';
	e->version = v;
	for (unsigned k = 0; k < *count; k++)
		if (strcmp(c->versions[k].topic, e->topic) == 0)
			return false;
	(*count)++;
	return true;
}

static eh_err versions_load(struct eh_config *c)
{
	size_t len = 0;
	unsigned count = 0;
	eh_err rc = eh_file_read_all(c->init.versions_path, c->vfile, sizeof(c->vfile), &len);

	if (rc == EH_ERR_NOENT)
		return EH_OK;
	if (rc == EH_ERR_TOOBIG)
		rc = EH_ERR_CORRUPT;
	if (rc != EH_OK)
		goto bad;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(c->vfile + off, '\n', len - off);
		if (nl == NULL ||
		    !versions_line(c, c->vfile + off, (size_t)(nl - c->vfile - off), &count)) {
			rc = EH_ERR_CORRUPT;
			EH_LOG_ERR("config",
				   "%s: damaged at byte %zu: refusing to start without the "
				   "signed versions (rollback protection)",
				   c->init.versions_path, off);
			goto bad;
		}
		off = (size_t)(nl - c->vfile) + 1;
	}
	EH_LOG_INF("config", "%s: %u signed topic versions", c->init.versions_path, count);
	return EH_OK;
bad:
	versions_clear(c);
	return rc;
}

/* Keep (version, digest) for topic, durably, before the message applies. */
static eh_err version_record(struct eh_config *c, const char *topic, uint64_t version,
			     const uint8_t digest[32], struct eh_errs *errs)
{
	struct eh_config_version *e = version_find(c, topic), saved;
	eh_err rc;

	if (strlen(topic) >= sizeof(e->topic)) {
		eh_errs_add(errs, "topic", "longer than %d bytes", EH_CONFIG_STATUS_TOPIC_MAX - 1);
		return EH_ERR_TOOBIG;
	}
	if (e == NULL) {
		for (unsigned i = 0; e == NULL && i < c->versions_used; i++)
			if (!c->versions[i].topic[0])
				e = &c->versions[i];
		if (e == NULL && c->versions_used < EH_CONFIG_MAX_TOPICS)
			e = &c->versions[c->versions_used++];
		if (e == NULL) {
			eh_errs_add(errs, "version", "no room to keep it: %d signed topics at most",
				    EH_CONFIG_MAX_TOPICS);
			return EH_ERR_NOSPC;
		}
	}
	saved = *e;
	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	e->version = version;
	memcpy(e->digest, digest, sizeof(e->digest));
	e->applied = true;
	rc = versions_save(c);
	if (rc != EH_OK) {
		*e = saved;
		eh_errs_add(errs, "version", "cannot be kept in the versions file (%s)",
			    eh_err_str(rc));
		rc = EH_ERR_IO;
	}
	return rc;
}

/* ==== gateway ==== */

static void parse_gateway(struct eh_config *c, const char *json, size_t len, bool signed_mode,
			  struct eh_gateway *g, struct eh_errs *errs)
{
	struct eh_json_cur cur;
	struct eh_json_view key;
	char text[EH_CONFIG_EXT_ADDR_MAX];
	struct eh_url url;
	unsigned seen = 0;
	size_t n;
	int64_t v;
	bool b;

	eh_json_init(&cur, json, len);
	eh_json_obj_begin(&cur);
	for (unsigned i = 0; eh_json_obj_next(&cur, i, &key) == 1; i++) {
		static const char *const keys[] = {"verbose", "external_address", "log_level",
						   "version", "deleted"};
		unsigned k;
		for (k = 0; k < 5 && !eh_json_str_eq(key, keys[k]); k++)
			;
		if (k == 5) {
			char name[CFG_KEY_SHOWN];
			cfg_key_text(key, name, sizeof(name));
			eh_errs_add(errs, name, "unknown key");
			eh_json_skip(&cur, NULL);
			continue;
		}
		if (seen & (1u << k)) {
			eh_errs_add(errs, keys[k], "duplicate key");
			eh_json_skip(&cur, NULL);
			continue;
		}
		seen |= 1u << k;
		switch (k) {
		case 0:
			if (cfg_read_bool(&cur, errs, "verbose", &b))
				g->verbose = b;
			break;
		case 1:
			if (eh_json_peek(&cur) == EH_JSON_NULL) {
				eh_json_skip(&cur, NULL);
				g->external_address[0] = '\0';
			} else if (eh_json_peek(&cur) != EH_JSON_STRING) {
				eh_json_skip(&cur, NULL);
				eh_errs_add(errs, "external_address", "expected null or string");
			} else if (cfg_read_str(&cur, errs, "external_address", text, sizeof(text),
						&n) &&
				   cfg_parse_url(text, n, true, "external_address", &url, errs)) {
				if (text[n - 1] == '/')
					eh_errs_add(errs, "external_address",
						    "must not end with '/'");
				else if (strchr(text, '?') != NULL)
					eh_errs_add(errs, "external_address",
						    "a query is not allowed");
				else
					memcpy(g->external_address, text, n + 1);
			}
			break;
		case 2:
			if (eh_json_peek(&cur) != EH_JSON_STRING) {
				eh_json_skip(&cur, NULL);
				eh_errs_add(errs, "log_level", "expected string");
			} else if (cfg_read_str(&cur, errs, "log_level", text, 16, &n)) {
				int lvl = eh_log_level_parse(text);
				if (lvl < 0)
					eh_errs_add(errs, "log_level",
						    "expected \"error\", \"warning\", \"info\" or "
						    "\"debug\"");
				else
					g->log_level = lvl;
			}
			break;
		case 3:
			if (signed_mode)
				eh_json_skip(&cur, NULL);
			else
				cfg_read_int(&cur, errs, "version", 1, INT64_MAX, &v);
			break;
		default:
			if (signed_mode)
				eh_json_skip(&cur, NULL);
			else if (cfg_read_bool(&cur, errs, "deleted", &b) && b)
				eh_errs_add(errs, "deleted",
					    "only signed mode deletes this way; "
					    "publish an empty payload");
			break;
		}
	}
	(void)c;
}

eh_err eh_config_check_gateway(const char *json, size_t len, struct eh_errs *errs)
{
	struct eh_json_cur cur;
	struct eh_gateway g;
	unsigned before = eh_errs_count(errs);

	memset(&g, 0, sizeof(g));
	if (!cfg_begin_object(&cur, json, len, errs))
		return EH_ERR_PROTO;
	parse_gateway(NULL, json, len, false, &g, errs);
	return eh_errs_count(errs) > before ? EH_ERR_PROTO : EH_OK;
}

static void gateway_defaults(const struct eh_config *c, struct eh_gateway *g)
{
	memset(g, 0, sizeof(*g));
	g->log_level = c->default_log_level;
}

static void gateway_apply(struct eh_config *c, const struct eh_gateway *g,
			  struct eh_config_result *res)
{
	res->gateway_changed = g->verbose != c->gateway.verbose ||
			       g->log_level != c->gateway.log_level ||
			       strcmp(g->external_address, c->gateway.external_address) != 0;
	if (g->log_level != c->gateway.log_level)
		eh_log_set_level(g->log_level);
	c->gateway = *g;
	EH_LOG_INF("config", "gateway: verbose %s, external_address %s, log_level %s",
		   g->verbose ? "true" : "false",
		   g->external_address[0] ? g->external_address : "none",
		   eh_log_level_name(g->log_level));
}

/* ==== catalog ==== */

static int catalog_find(const struct eh_config *c, enum eh_catalog_kind kind, long long id)
{
	for (unsigned i = 0; i < EH_CATALOG_MAX_ENTRIES; i++)
		if (c->catalog[i].kind == (uint8_t)kind && c->catalog[i].id == id)
			return (int)i;
	return -1;
}

static void catalog_remove(struct eh_config *c, int idx)
{
	struct eh_catalog_entry *e = &c->catalog[idx];
	uint32_t off = e->off, len = e->len;

	memmove(c->arena + off, c->arena + off + len, c->arena_used - off - len);
	c->arena_used -= len;
	for (unsigned i = 0; i < EH_CATALOG_MAX_ENTRIES; i++)
		if (c->catalog[i].kind != CAT_FREE && c->catalog[i].off > off)
			c->catalog[i].off -= len;
	e->kind = CAT_FREE;
	e->id = 0;
	e->off = e->len = 0;
}

/* The entity's text without surrounding whitespace; "id", if present, must
 * be the topic's id. */
static void catalog_check(const char *json, size_t len, const struct topic *t,
			  struct eh_json_view *text, struct eh_errs *errs)
{
	struct eh_json_cur cur;
	struct eh_json_view key;
	int64_t v;

	eh_json_init(&cur, json, len);
	eh_json_peek(&cur);
	eh_json_skip(&cur, text);
	eh_json_init(&cur, json, len);
	eh_json_obj_begin(&cur);
	for (unsigned i = 0; eh_json_obj_next(&cur, i, &key) == 1; i++) {
		if (!eh_json_str_eq(key, "id")) {
			eh_json_skip(&cur, NULL);
			continue;
		}
		if (cfg_read_int(&cur, errs, "id", INT64_MIN, INT64_MAX, &v) && v != t->cat_id)
			eh_errs_add(errs, "id", "%lld does not match the topic's id %lld",
				    (long long)v, t->cat_id);
	}
	if (text->len > EH_CATALOG_BYTES)
		eh_errs_add(errs, "payload", "larger than the catalog (EH_CATALOG_BYTES = %d)",
			    EH_CATALOG_BYTES);
}

/* Room for len bytes replacing entry idx (-1: a new entry)? */
static eh_err catalog_fits(const struct eh_config *c, int idx, size_t len, struct eh_errs *errs)
{
	size_t old = idx >= 0 ? c->catalog[idx].len : 0;

	if (idx < 0 && catalog_find(c, (enum eh_catalog_kind)CAT_FREE, 0) < 0) {
		eh_errs_add(errs, "catalog", "full: %d entities at most (EH_CATALOG_MAX_ENTRIES)",
			    EH_CATALOG_MAX_ENTRIES);
		return EH_ERR_NOSPC;
	}
	if (c->arena_used - old + len > EH_CATALOG_BYTES) {
		eh_errs_add(errs, "catalog", "full: %d bytes at most (EH_CATALOG_BYTES), %u used",
			    EH_CATALOG_BYTES, (unsigned)c->arena_used);
		return EH_ERR_NOSPC;
	}
	return EH_OK;
}

static void catalog_store(struct eh_config *c, const struct topic *t, int idx,
			  struct eh_json_view text)
{
	if (idx >= 0)
		catalog_remove(c, idx);
	idx = catalog_find(c, (enum eh_catalog_kind)CAT_FREE, 0);
	memcpy(c->arena + c->arena_used, text.p, text.len);
	c->catalog[idx].kind = (uint8_t)t->cat;
	c->catalog[idx].id = t->cat_id;
	c->catalog[idx].off = c->arena_used;
	c->catalog[idx].len = (uint32_t)text.len;
	c->arena_used += (uint32_t)text.len;
}

const char *eh_config_catalog_lookup(void *ctx, enum eh_catalog_kind kind, long long id,
				     size_t *len)
{
	const struct eh_config *c = ctx;
	int i = catalog_find(c, kind, id);

	if (i < 0 || (unsigned)kind >= CAT_KINDS)
		return NULL;
	*len = c->catalog[i].len;
	return c->arena + c->catalog[i].off;
}

/* ==== webhooks ==== */

static int webhook_find(const struct eh_config *c, uint32_t id)
{
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		if (c->webhooks[s].id == id)
			return (int)s;
	return -1;
}

static void webhook_delete(struct eh_config *c, int slot, struct eh_config_result *res)
{
	struct eh_config_change *ch = &res->changes[res->nchanges++];
	uint16_t gen = c->webhooks[slot].gen;

	ch->kind = EH_CONFIG_DELETED;
	ch->slot = (unsigned)slot;
	ch->old_id = c->webhooks[slot].id;
	ch->new_id = 0;
	memset(&c->webhooks[slot], 0, sizeof(c->webhooks[slot]));
	c->webhooks[slot].gen = gen; /* kept so the next webhook here gets a new one */
	memset(&c->filters[slot], 0, sizeof(c->filters[slot]));
	EH_LOG_INF("config", "webhook %" PRIu32 " deleted (slot %d)", ch->old_id, slot);
}

void eh_config_url_shown(const struct eh_url *u, char *out, size_t cap)
{
	bool v6 = strchr(u->host, ':') != NULL;
	int path_len = (int)strcspn(u->path, "?");
	char port[8] = "";

	if (cap == 0)
		return;
	if (u->port != (u->tls ? 443 : 80))
		snprintf(port, sizeof(port), ":%u", (unsigned)u->port);
	snprintf(out, cap, "%s://%s%s%s%s%.*s", u->tls ? "https" : "http", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", port, path_len ? path_len : 1, path_len ? u->path : "/");
}

static void webhook_apply(struct eh_config *c, int slot, uint32_t id, struct eh_webhook *w,
			  const struct eh_filter *f, struct eh_config_result *res)
{
	struct eh_config_change *ch = &res->changes[res->nchanges++];
	bool replace = c->webhooks[slot].id == id;
	char url[EH_WEBHOOK_URL_MAX];

	ch->kind = replace ? EH_CONFIG_REPLACED : EH_CONFIG_CREATED;
	ch->slot = (unsigned)slot;
	ch->old_id = replace ? id : 0;
	ch->new_id = id;
	w->id = id;
	w->gen = replace ? c->webhooks[slot].gen : (uint16_t)(c->webhooks[slot].gen + 1);
	c->webhooks[slot] = *w;
	c->filters[slot] = *f;
	eh_config_url_shown(&w->url, url, sizeof(url));
	EH_LOG_INF("config", "webhook %" PRIu32 " %s (slot %d): \"%s\" -> %s%s", id,
		   replace ? "replaced" : "created", slot, w->title, url,
		   w->active ? "" : " (inactive)");
}

/* ==== fleets (CONTRACT 9.3) ==== */

static eh_err check_signature(struct eh_config *c, const char *topic, const uint8_t *payload,
			      size_t len, const char *prop, uint8_t digest[32],
			      struct eh_errs *errs);

/* Each F: set, no wildcards, not P nor a level prefix of P or under it,
 * short enough that P/config-status/fleet/F/webhooks/<id> fits. */
static bool fleet_valid(const struct eh_config_init *init)
{
	size_t pn = strlen(init->topic_prefix);

	if (init->nfleet > EH_CONFIG_FLEET_MAX || (init->nfleet && init->fleet_prefixes == NULL))
		return false;
	for (size_t k = 0; k < init->nfleet; k++) {
		const char *f = init->fleet_prefixes[k];
		size_t fn = f ? strlen(f) : 0, n = fn < pn ? fn : pn;
		if (fn == 0 || pn + fn > EH_CONFIG_FLEET_PAIR_MAX || strpbrk(f, "+#") != NULL)
			return false;
		if (memcmp(f, init->topic_prefix, n) == 0 &&
		    (fn == pn || (fn < pn ? init->topic_prefix[fn] : f[pn]) == '/'))
			return false;
	}
	return true;
}

/* The id of a deleted webhook falls back to the next source in precedence
 * (fleets after `after`, in their order) whose kept message still
 * validates: it applies in the same slot, so the id's queue is kept
 * (REPLACED). false when there is none: the id is deleted. */
static bool fleet_fallback(struct eh_config *c, int slot, uint32_t id, unsigned after,
			   struct eh_config_result *res)
{
	bool signed_mode = c->init.hmac_key != NULL;
	char topic[EH_CONFIG_STATUS_TOPIC_MAX];

	if (c->init.stored == NULL)
		return false;
	for (unsigned k = after; k < c->init.nfleet; k++) {
		struct eh_webhook w;
		struct eh_filter f;
		struct eh_errs errs;
		struct cfg_meta meta;
		uint8_t digest[32];
		const char *hmac = NULL;
		size_t len = 0;
		const uint8_t *p;

		snprintf(topic, sizeof(topic), "%.191s/config/webhooks/%" PRIu32, c->fleet[k], id);
		p = c->init.stored(c->init.stored_ctx, topic, &len, &hmac);
		if (p == NULL || len == 0)
			continue;
		eh_errs_init(&errs);
		memset(&meta, 0, sizeof(meta));
		if (signed_mode && check_signature(c, topic, p, len, hmac, digest, &errs) != EH_OK)
			goto bad;
		if (signed_mode)
			cfg_scan_meta((const char *)p, len, &meta, &errs);
		if (eh_errs_count(&errs) || meta.deleted ||
		    cfg_parse_webhook((const char *)p, len, c->init.allow_plain_http, signed_mode,
				      &w, &f, &errs) != EH_OK ||
		    (c->init.check_webhook != NULL &&
		     c->init.check_webhook(c->init.check_ctx, &w, &errs) != EH_OK))
			goto bad;
		if (meta.has_version)
			w.version = meta.version;
		webhook_apply(c, slot, id, &w, &f, res);
		c->source[slot] = (uint8_t)(k + 1);
		memset(&w, 0, sizeof(w)); /* the temporary held a secret */
		EH_LOG_INF("config", "webhook %" PRIu32 ": %s applies again", id, topic);
		return true;
	bad:
		EH_LOG_WRN("config", "webhook %" PRIu32 ": the kept %s does not apply: %s", id,
			   topic, errs.n ? errs.msg[0] : "deleted");
	}
	return false;
}

bool eh_config_webhook_topic(const struct eh_config *c, const char *topic, uint32_t *id)
{
	struct topic t;

	classify(c, topic, &t);
	if (t.kind == T_WEBHOOK && id != NULL)
		*id = t.id;
	return t.kind == T_WEBHOOK;
}

void eh_config_status_topic(const struct eh_config *c, const char *topic,
			    char out[EH_CONFIG_STATUS_TOPIC_MAX])
{
	struct topic t;

	classify(c, topic, &t);
	status_topic(c, &t, out);
}

/* ==== the message ==== */

eh_err eh_config_init(struct eh_config *c, const struct eh_config_init *init)
{
	if (c == NULL || init == NULL || init->topic_prefix == NULL ||
	    init->topic_prefix[0] == '\0' || strlen(init->topic_prefix) >= PREFIX_MAX ||
	    strpbrk(init->topic_prefix, "+#") != NULL ||
	    (init->hmac_key != NULL && (init->hmac_key_len == 0 || init->versions_path == NULL)) ||
	    !fleet_valid(init))
		return EH_ERR_INVAL;
	/* Not the webhook and filter tables (a free slot is id 0; a slot is
	 * written whole when a webhook takes it), the catalog arena nor the
	 * versions file buffer: zeroing them would make ~800 KiB resident for
	 * nothing. The versions table is cleared as far as it was used. */
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		struct eh_webhook *w = &c->webhooks[s];
		/* read first: a slot never written stays off the resident set */
		if (w->id != 0 || w->gen != 0 || w->active) {
			w->id = 0;
			w->gen = 0;
			w->active = false;
		}
		c->source[s] = 0;
	}
	memset(&c->gateway, 0,
	       offsetof(struct eh_config, arena) - offsetof(struct eh_config, gateway));
	c->arena_used = 0;
	versions_clear(c);
	memset(&c->accepted, 0,
	       offsetof(struct eh_config, vfile) - offsetof(struct eh_config, accepted));
	c->init = *init;
	c->slot_hint = -1;
	snprintf(c->prefix, sizeof(c->prefix), "%s", init->topic_prefix);
	c->init.topic_prefix = c->prefix;
	for (size_t k = 0; k < init->nfleet; k++)
		snprintf(c->fleet[k], sizeof(c->fleet[k]), "%s", init->fleet_prefixes[k]);
	c->init.fleet_prefixes = NULL; /* copied: c->fleet */
	for (unsigned i = 0; i < EH_CATALOG_MAX_ENTRIES; i++)
		c->catalog[i].kind = CAT_FREE;
	c->default_log_level = eh_log_level_now;
	gateway_defaults(c, &c->gateway);
	if (init->hmac_key != NULL)
		return versions_load(c);
	return EH_OK;
}

/* The signature check: before anything of the payload is read. */
static eh_err check_signature(struct eh_config *c, const char *topic, const uint8_t *payload,
			      size_t len, const char *prop, uint8_t digest[32],
			      struct eh_errs *errs)
{
	char want[EH_CONFIG_SIG_HEX];

	if (eh_config_sign(c->init.hmac_key, c->init.hmac_key_len, topic, payload, len, want) !=
	    EH_OK) {
		eh_errs_add(errs, "hmac-sha256", "cannot be computed");
		return EH_ERR_PERM;
	}
	hex_to_bytes(want, digest, 32);
	if (prop == NULL) {
		eh_errs_add(errs, "hmac-sha256", "missing");
		return EH_ERR_PERM;
	}
	if (strlen(prop) != 64 || !eh_crypto_equal(prop, want, 64)) {
		eh_errs_add(errs, "hmac-sha256", "does not match");
		return EH_ERR_PERM;
	}
	return EH_OK;
}

/* The contract's form of a signature: 64 lowercase hex digits. The value is
 * kept in the config store one value a line, so nothing else may pass. */
static bool sig_form(const char *prop)
{
	size_t n = 0;

	for (; prop[n] != '\0'; n++)
		if (n >= 64 ||
		    !((prop[n] >= '0' && prop[n] <= '9') || (prop[n] >= 'a' && prop[n] <= 'f')))
			return false;
	return n == 64;
}

/* Everything after the topic is known: validate, then apply. */
static eh_err handle_valid_topic(struct eh_config *c, const char *topic, const struct topic *t,
				 const uint8_t *payload, size_t len, const char *hmac_prop,
				 struct eh_config_result *res, struct eh_errs *errs)
{
	const char *json = (const char *)payload;
	bool signed_mode = c->init.hmac_key != NULL;
	uint8_t digest[32] = {0};
	struct cfg_meta meta;
	struct eh_json_cur cur;
	struct eh_webhook w;
	struct eh_filter f;
	struct eh_gateway g;
	struct eh_json_view text = {NULL, 0};
	struct eh_config_version *reapply = NULL;
	int slot = -1, idx = -1;
	bool over = false;
	eh_err rc;

	memset(&meta, 0, sizeof(meta));
	if (len > EH_MAX_MSG_BYTES) {
		eh_errs_add(errs, "payload", "larger than %d bytes", EH_MAX_MSG_BYTES);
		return refuse(c, topic, res, errs, EH_ERR_TOOBIG);
	}
	if (!signed_mode && hmac_prop != NULL && !sig_form(hmac_prop)) {
		/* Unsigned mode does not check it, but keeps it for restarts. */
		eh_errs_add(errs, "hmac-sha256", "expected 64 lowercase hex digits");
		return refuse(c, topic, res, errs, EH_ERR_PROTO);
	}
	if (signed_mode) {
		if ((rc = check_signature(c, topic, payload, len, hmac_prop, digest, errs)) !=
		    EH_OK)
			return refuse(c, topic, res, errs, rc);
		if (len == 0) {
			eh_errs_add(errs, "payload",
				    "empty: signed mode deletes with "
				    "{\"version\": N, \"deleted\": true}");
			return refuse(c, topic, res, errs, EH_ERR_PROTO);
		}
	}
	if (len == 0) {
		meta.deleted = true;
	} else {
		if (!cfg_begin_object(&cur, json, len, errs))
			return refuse(c, topic, res, errs, EH_ERR_PROTO);
		if (signed_mode) {
			cfg_scan_meta(json, len, &meta, errs);
			if (eh_errs_count(errs))
				return refuse(c, topic, res, errs, EH_ERR_PROTO);
			if (!meta.has_version) {
				eh_errs_add(errs, "version", "required in signed mode");
				return refuse(c, topic, res, errs, EH_ERR_PROTO);
			}
			struct eh_config_version *last = version_find(c, topic);
			if (last && meta.version == last->version &&
			    eh_crypto_equal(last->digest, digest, sizeof(digest))) {
				/* The accepted message again. After a restart it is the
				 * retained copy that rebuilds the table: apply it once. */
				if (!last->applied) {
					reapply = last;
					goto validate;
				}
				res->noop = true;
				res->accepted = true;
				res->status_topic[0] = '\0';
				body_accepted(res);
				return EH_OK;
			}
			if (last && meta.version <= last->version) {
				eh_errs_add(errs, "version",
					    "%" PRIu64
					    " is not greater than the last accepted %" PRIu64,
					    meta.version, last->version);
				return refuse(c, topic, res, errs, EH_ERR_PERM);
			}
			if (meta.deleted && meta.nkeys != 2) {
				eh_errs_add(errs, "deleted",
					    "a deletion carries only \"version\" and \"deleted\"");
				return refuse(c, topic, res, errs, EH_ERR_PROTO);
			}
		}
	}

validate:
	/* Validate into temporaries; nothing live changes before the end. */
	rc = EH_OK;
	switch (t->kind) {
	case T_WEBHOOK:
		slot = webhook_find(c, t->id);
		/* A preceding source decides this id (P over fleets, then the
		 * fleets in order): this one is validated and kept, not applied. */
		over = slot >= 0 && c->source[slot] < t->source;
		if (meta.deleted)
			break;
		rc = cfg_parse_webhook(json, len, c->init.allow_plain_http, signed_mode, &w, &f,
				       errs);
		if (rc == EH_OK && c->init.check_webhook != NULL)
			rc = c->init.check_webhook(c->init.check_ctx, &w, errs);
		if (rc == EH_OK && !over && slot < 0 && c->slot_hint >= 0 &&
		    c->webhooks[c->slot_hint].id == 0)
			slot = c->slot_hint; /* replay after a restart: the slot it had */
		if (rc == EH_OK && slot < 0 && (slot = webhook_find(c, 0)) < 0) {
			eh_errs_add(errs, "webhooks",
				    "table full: %d webhooks at most "
				    "(EH_MAX_WEBHOOKS)",
				    EH_MAX_WEBHOOKS);
			rc = EH_ERR_NOSPC;
		}
		w.version = meta.has_version ? meta.version : w.version;
		break;
	case T_GATEWAY:
		gateway_defaults(c, &g);
		if (!meta.deleted)
			parse_gateway(c, json, len, signed_mode, &g, errs);
		break;
	case T_CATALOG:
		idx = catalog_find(c, t->cat, t->cat_id);
		if (meta.deleted)
			break;
		catalog_check(json, len, t, &text, errs);
		if (eh_errs_count(errs) == 0)
			rc = catalog_fits(c, idx, text.len, errs);
		break;
	default:
		break;
	}
	if (eh_errs_count(errs))
		return refuse(c, topic, res, errs, rc != EH_OK ? rc : EH_ERR_PROTO);
	if (reapply != NULL)
		reapply->applied = true;
	else if (signed_mode &&
		 (rc = version_record(c, topic, meta.version, digest, errs)) != EH_OK)
		return refuse(c, topic, res, errs, rc);

	/* Apply. */
	body_accepted(res);
	c->accepted++;
	switch (t->kind) {
	case T_WEBHOOK:
		if (over) {
			res->overridden = true;
			res->slot = slot;
			EH_LOG_INF("config", "webhook %" PRIu32 ": %s kept; %s", t->id,
				   meta.deleted ? "deletion" : "fleet config",
				   c->source[slot] ? "an earlier fleet's decides"
						   : "the device's own "
						     "decides");
			if (meta.deleted)
				res->status_body[0] = '\0';
		} else if (!meta.deleted) {
			webhook_apply(c, slot, t->id, &w, &f, res);
			c->source[slot] = (uint8_t)t->source;
			res->slot = slot;
		} else if (slot >= 0 && c->source[slot] == t->source) {
			if (fleet_fallback(c, slot, t->id, t->source, res))
				res->slot = slot;
			else
				webhook_delete(c, slot, res);
			res->status_body[0] = '\0'; /* an empty retained message clears it */
		} else {
			/* nothing from this source was there (a later fleet's may be:
			 * it stays): nothing to answer */
			res->status_topic[0] = '\0';
		}
		break;
	case T_GATEWAY:
		gateway_apply(c, &g, res);
		break;
	case T_CATALOG:
		if (!meta.deleted) {
			catalog_store(c, t, idx, text);
		} else if (idx >= 0) {
			catalog_remove(c, idx);
			res->status_body[0] = '\0';
		} else {
			res->status_topic[0] = '\0';
		}
		break;
	default:
		break;
	}
	memset(&w, 0, sizeof(w)); /* the temporary held a secret */
	return EH_OK;
}

eh_err eh_config_handle(struct eh_config *c, const char *topic, const uint8_t *payload, size_t len,
			const char *hmac_prop, struct eh_config_result *res)
{
	struct eh_errs errs;
	struct topic t;
	char shown_topic[TOPIC_SHOWN];

	memset(res, 0, sizeof(*res));
	res->slot = -1;
	eh_errs_init(&errs);
	classify(c, topic, &t);
	if (t.kind == T_BAD_ID) {
		c->bad_ids++;
		res->bad_id = true;
		shown(topic, shown_topic, sizeof(shown_topic));
		EH_LOG_WRN("config", "%s: ignored: the webhook id is not a positive integer",
			   shown_topic);
		eh_errs_add(&errs, "topic", "the webhook id is not a positive integer");
		body_refused(res, &errs);
		return EH_ERR_PROTO;
	}
	if (t.kind == T_UNKNOWN) {
		eh_errs_add(&errs, "topic", "not a config or catalog topic");
		return refuse(c, topic, res, &errs, EH_ERR_PROTO);
	}
	status_topic(c, &t, res->status_topic);
	return handle_valid_topic(c, topic, &t, payload, len, hmac_prop, res, &errs);
}

/* ==== readers for the daemon ==== */

uint64_t eh_config_match(const struct eh_config *c, const struct eh_note *n)
{
	uint64_t mask = 0;

	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++)
		if (c->webhooks[s].id != 0 && c->webhooks[s].active &&
		    eh_filter_match(&c->filters[s], n))
			mask |= UINT64_C(1) << s;
	return mask;
}

bool eh_config_wants_type(const struct eh_config *c, unsigned slot, unsigned t)
{
	if (slot >= EH_MAX_WEBHOOKS || t >= EH_TYPE_COUNT || c->webhooks[slot].id == 0)
		return false;
	return c->filters[slot].wanted[t];
}

void eh_config_status(const struct eh_config *c, struct eh_status_config *out)
{
	memset(out, 0, sizeof(*out));
	out->accepted = c->accepted;
	out->refused = c->refused;
	out->bad_ids = c->bad_ids;
	out->signed_mode = c->init.hmac_key != NULL;
	for (unsigned s = 0; s < EH_MAX_WEBHOOKS; s++) {
		if (c->webhooks[s].id == 0)
			continue;
		out->webhooks++;
		if (c->webhooks[s].active)
			out->active++;
	}
}

void eh_config_hint_slot(struct eh_config *c, int slot)
{
	c->slot_hint = (slot >= 0 && slot < EH_MAX_WEBHOOKS) ? slot : -1;
}
