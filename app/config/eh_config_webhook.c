/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config_webhook.c - validation of one webhook's JSON (CONTRACT section
 * 4) into a struct eh_webhook and its compiled filters: every key checked,
 * every error collected with its path, secrets and header values never
 * quoted. Also the URL parser and the small JSON readers the other config
 * files share. Nothing is allocated: the pull scanner reads the caller's
 * bytes and the filters compile from the span of their value. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eh_config_priv.h"
#include "eh_crypto.h"

#define BATCH_MAX_BYTES_MIN 1024u
#define BATCH_MAX_BYTES_MAX (1024u * 1024u)
#define TIMEOUT_MAX_S 300
#define MAX_ATTEMPTS_MAX 100
#define HOST_NAME_MAX_LEN 253
#define SECRET_TEXT_MAX 128 /* "whsec_" + base64 of 64 bytes is 94 */

/* ==== JSON readers ==== */

void cfg_key_text(struct eh_json_view key, char *out, size_t cap)
{
	bool trunc = false;
	size_t n = eh_json_decode(key, out, cap, &trunc);

	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)out[i];
		if (ch < 0x20 || ch >= 0x7f)
			out[i] = '?';
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, cap, "\"\"");
}

bool cfg_read_int(struct eh_json_cur *c, struct eh_errs *errs, const char *path, int64_t lo,
		  int64_t hi, int64_t *out)
{
	struct eh_json_view t;
	bool is_int = false;
	int64_t v;

	if (eh_json_peek(c) != EH_JSON_NUMBER) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, path, "expected integer");
		return false;
	}
	if (!eh_json_number(c, &t, &is_int) || !is_int) {
		eh_errs_add(errs, path, "expected integer");
		return false;
	}
	if (eh_json_to_i64(t, &v) != EH_OK || v < lo || v > hi) {
		eh_errs_add(errs, path, "out of range %lld..%lld", (long long)lo, (long long)hi);
		return false;
	}
	*out = v;
	return true;
}

bool cfg_read_bool(struct eh_json_cur *c, struct eh_errs *errs, const char *path, bool *out)
{
	enum eh_json_kind k = eh_json_peek(c);

	if (k != EH_JSON_TRUE && k != EH_JSON_FALSE) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, path, "expected boolean");
		return false;
	}
	eh_json_literal(c, &k);
	*out = (k == EH_JSON_TRUE);
	return true;
}

bool cfg_read_str(struct eh_json_cur *c, struct eh_errs *errs, const char *path, char *buf,
		  size_t cap, size_t *len)
{
	struct eh_json_view raw;
	bool trunc = false;
	size_t n;

	buf[0] = '\0';
	if (eh_json_peek(c) != EH_JSON_STRING) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, path, "expected string");
		return false;
	}
	if (!eh_json_string(c, &raw))
		return false;
	n = eh_json_decode(raw, buf, cap, &trunc);
	if (trunc) {
		buf[0] = '\0';
		eh_errs_add(errs, path, "longer than %zu bytes", cap - 1);
		return false;
	}
	if (memchr(buf, '\0', n) != NULL) {
		buf[0] = '\0';
		eh_errs_add(errs, path, "contains a NUL character");
		return false;
	}
	if (len)
		*len = n;
	return true;
}

bool cfg_begin_object(struct eh_json_cur *c, const char *json, size_t len, struct eh_errs *errs)
{
	if (!eh_json_validate(json, len, c)) {
		eh_errs_add(errs, "payload", "invalid JSON: %s at byte %zu",
			    c->why ? c->why : "bad syntax", c->why_at);
		return false;
	}
	eh_json_init(c, json, len);
	if (eh_json_peek(c) != EH_JSON_OBJECT) {
		eh_errs_add(errs, "payload", "expected a JSON object");
		return false;
	}
	return eh_json_obj_begin(c);
}

void cfg_scan_meta(const char *json, size_t len, struct cfg_meta *m, struct eh_errs *errs)
{
	struct eh_json_cur c;
	struct eh_json_view key;
	int64_t v;

	memset(m, 0, sizeof(*m));
	eh_json_init(&c, json, len);
	if (!eh_json_obj_begin(&c))
		return;
	for (unsigned i = 0; eh_json_obj_next(&c, i, &key) == 1; i++) {
		m->nkeys++;
		if (eh_json_str_eq(key, "version")) {
			if (cfg_read_int(&c, errs, "version", 1, INT64_MAX, &v)) {
				m->has_version = true;
				m->version = (uint64_t)v;
			}
		} else if (eh_json_str_eq(key, "deleted")) {
			cfg_read_bool(&c, errs, "deleted", &m->deleted);
		} else {
			eh_json_skip(&c, NULL);
		}
	}
}

/* ==== URL ==== */

static bool host_name_ok(const char *h, size_t n)
{
	size_t label = 0;
	bool digits_dots = true;

	if (n == 0 || n > HOST_NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (ch == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-')
			return false;
		if (ch == '-' && label == 0)
			return false;
		if (!(ch >= '0' && ch <= '9'))
			digits_dots = false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || h[n - 1] == '-')
		return false;
	if (digits_dots) { /* all digits and dots: it must be a dotted IPv4 address */
		char buf[16];
		unsigned char a[4];
		if (n >= sizeof(buf))
			return false;
		memcpy(buf, h, n);
		buf[n] = '\0';
		return inet_pton(AF_INET, buf, a) == 1;
	}
	return true;
}

bool cfg_parse_url(const char *text, size_t len, bool allow_plain_http, const char *path,
		   struct eh_url *out, struct eh_errs *errs)
{
	const char *p, *end = text + len, *auth_end, *host, *host_end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len >= EH_WEBHOOK_URL_MAX) {
		eh_errs_add(errs, path, "longer than %d bytes", EH_WEBHOOK_URL_MAX - 1);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch <= 0x20 || ch == 0x7f) {
			eh_errs_add(errs, path, "spaces and control characters are not allowed");
			return false;
		}
		if (ch >= 0x80) {
			eh_errs_add(errs, path, "non-ASCII characters must be percent-encoded");
			return false;
		}
	}
	if (len >= 8 && strncasecmp(text, "https://", 8) == 0) {
		out->tls = true;
		p = text + 8;
	} else if (len >= 7 && strncasecmp(text, "http://", 7) == 0 && allow_plain_http) {
		p = text + 7;
	} else {
		eh_errs_add(errs, path,
			    allow_plain_http
				? "expected https:// or http://"
				: "expected https:// (http:// needs allow_plain_http)");
		return false;
	}
	if (memchr(text, '#', len) != NULL) {
		eh_errs_add(errs, path, "fragments are not allowed");
		return false;
	}
	for (auth_end = p; auth_end < end && *auth_end != '/' && *auth_end != '?'; auth_end++)
		;
	if (memchr(p, '@', (size_t)(auth_end - p)) != NULL) {
		eh_errs_add(errs, path, "user information is not allowed");
		return false;
	}
	if (auth_end == p) {
		eh_errs_add(errs, path, "missing host");
		return false;
	}
	if (*p == '[') {
		unsigned char a[16];
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		n = host_end ? (size_t)(host_end - host) : 0;
		if (host_end == NULL || n == 0 || n >= 46) {
			eh_errs_add(errs, path, "host: not a valid IPv6 address");
			return false;
		}
		memcpy(out->host, host, n);
		out->host[n] = '\0';
		if (inet_pton(AF_INET6, out->host, a) != 1) {
			out->host[0] = '\0';
			eh_errs_add(errs, path, "host: not a valid IPv6 address");
			return false;
		}
		p = host_end + 1;
	} else {
		host = p;
		for (host_end = p; host_end < auth_end && *host_end != ':'; host_end++)
			;
		n = (size_t)(host_end - host);
		if (!host_name_ok(host, n)) {
			eh_errs_add(errs, path, "host: not a valid host name or IPv4 address");
			return false;
		}
		memcpy(out->host, host, n);
		out->host[n] = '\0';
		p = host_end;
	}
	out->port = out->tls ? 443 : 80;
	if (p < auth_end) {
		unsigned long port = 0;
		const char *d = p + 1;
		if (*p != ':' || d == auth_end || auth_end - d > 5) {
			eh_errs_add(errs, path, "port: expected 1..65535");
			return false;
		}
		for (; d < auth_end; d++) {
			if (*d < '0' || *d > '9') {
				eh_errs_add(errs, path, "port: expected 1..65535");
				return false;
			}
			port = port * 10 + (unsigned long)(*d - '0');
		}
		if (port == 0 || port > 65535) {
			eh_errs_add(errs, path, "port: expected 1..65535");
			return false;
		}
		out->port = (uint16_t)port;
	}
	n = (size_t)(end - auth_end);
	if (n == 0) {
		strcpy(out->path, "/");
	} else if (*auth_end == '?') {
		if (n + 2 > EH_WEBHOOK_PATH_MAX)
			goto long_path;
		out->path[0] = '/';
		memcpy(out->path + 1, auth_end, n);
		out->path[n + 1] = '\0';
	} else {
		if (n + 1 > EH_WEBHOOK_PATH_MAX)
			goto long_path;
		memcpy(out->path, auth_end, n);
		out->path[n] = '\0';
	}
	return true;
long_path:
	eh_errs_add(errs, path, "path longer than %d bytes", EH_WEBHOOK_PATH_MAX - 2);
	return false;
}

/* ==== headers and secret ==== */

static bool is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Headers the daemon writes itself (CONTRACT section 5). */
static bool header_reserved(const char *name)
{
	static const char *const exact[] = {"Content-Type", "Content-Length",	 "Host",
					    "User-Agent",   "Transfer-Encoding", "Connection"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcasecmp(name, exact[i]) == 0)
			return true;
	return strncasecmp(name, "X-Edgehook-", 11) == 0 || strncasecmp(name, "webhook-", 8) == 0;
}

static void parse_headers(struct eh_json_cur *c, struct eh_webhook *w, struct eh_errs *errs)
{
	struct eh_json_view key, raw;
	char path[EH_HEADER_NAME_MAX + 16];
	bool too_many = false;

	if (eh_json_peek(c) != EH_JSON_OBJECT) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, "headers", "expected object");
		return;
	}
	eh_json_obj_begin(c);
	for (unsigned i = 0; eh_json_obj_next(c, i, &key) == 1; i++) {
		char name[EH_HEADER_NAME_MAX];
		bool trunc = false, ok = true;
		size_t n = eh_json_decode(key, name, sizeof(name), &trunc);

		snprintf(path, sizeof(path), "headers[%u]", i);
		if (trunc) {
			eh_errs_add(errs, path, "name longer than %d bytes",
				    EH_HEADER_NAME_MAX - 1);
			ok = false;
		} else {
			for (size_t k = 0; k < n; k++)
				ok = ok && is_tchar((unsigned char)name[k]);
			if (n == 0 || !ok)
				eh_errs_add(errs, path, "name is not an RFC 7230 token");
			ok = ok && n > 0;
		}
		if (ok) {
			eh_path_key(path, sizeof(path), "headers", name);
			if (header_reserved(name)) {
				eh_errs_add(errs, path, "set by the daemon itself");
				ok = false;
			}
			for (unsigned k = 0; ok && k < w->nheaders; k++) {
				if (strcasecmp(w->headers[k].name, name) == 0) {
					eh_errs_add(errs, path, "duplicate header");
					ok = false;
				}
			}
		}
		if (eh_json_peek(c) != EH_JSON_STRING) {
			eh_json_skip(c, NULL);
			eh_errs_add(errs, path, "expected string");
			continue;
		}
		eh_json_string(c, &raw);
		char value[EH_HEADER_VALUE_MAX];
		trunc = false;
		n = eh_json_decode(raw, value, sizeof(value), &trunc);
		if (trunc) {
			eh_errs_add(errs, path, "value longer than %d bytes",
				    EH_HEADER_VALUE_MAX - 1);
			ok = false;
		} else {
			for (size_t k = 0; k < n; k++) {
				unsigned char ch = (unsigned char)value[k];
				if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
					eh_errs_add(errs, path,
						    "value holds CR, LF, NUL or another control "
						    "character");
					ok = false;
					break;
				}
			}
		}
		if (!ok)
			continue;
		if (w->nheaders >= EH_MAX_HEADERS) {
			if (!too_many)
				eh_errs_add(errs, "headers",
					    "more than %d headers (EH_MAX_HEADERS)",
					    EH_MAX_HEADERS);
			too_many = true;
			continue;
		}
		memcpy(w->headers[w->nheaders].name, name, strlen(name) + 1);
		memcpy(w->headers[w->nheaders].value, value, n + 1);
		w->nheaders++;
	}
}

static void parse_secret(struct eh_json_cur *c, struct eh_webhook *w, struct eh_errs *errs)
{
	static const char bad[] = "expected \"whsec_\" followed by base64";
	char text[SECRET_TEXT_MAX];
	size_t n = 0, olen = 0;
	eh_err rc;

	if (eh_json_peek(c) == EH_JSON_NULL) {
		eh_json_skip(c, NULL);
		return;
	}
	if (eh_json_peek(c) != EH_JSON_STRING) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, "secret", "expected null or string");
		return;
	}
	struct eh_errs quiet; /* the reader's own message would not say more */
	eh_errs_init(&quiet);
	if (!cfg_read_str(c, &quiet, "secret", text, sizeof(text), &n)) {
		eh_errs_add(errs, "secret", "%s, decoding to %d..%d bytes", bad, EH_SECRET_MIN,
			    EH_SECRET_MAX);
		goto out;
	}
	if (n <= 6 || strncmp(text, "whsec_", 6) != 0 || (n - 6) % 4 != 0) {
		eh_errs_add(errs, "secret", "%s", bad);
		goto out;
	}
	for (size_t i = 6; i < n; i++) {
		char ch = text[i];
		bool b64 = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
		if (!b64 && !(ch == '=' && i >= n - 2)) {
			eh_errs_add(errs, "secret", "%s", bad);
			goto out;
		}
		if (ch == '=' && i == n - 2 && text[n - 1] != '=') {
			eh_errs_add(errs, "secret", "%s", bad);
			goto out;
		}
	}
	rc = eh_crypto_base64_decode(text + 6, n - 6, w->secret, sizeof(w->secret), &olen);
	if (rc == EH_ERR_NOSPC || (rc == EH_OK && (olen < EH_SECRET_MIN || olen > EH_SECRET_MAX))) {
		eh_errs_add(errs, "secret", "the key must decode to %d..%d bytes", EH_SECRET_MIN,
			    EH_SECRET_MAX);
	} else if (rc != EH_OK) {
		eh_errs_add(errs, "secret", "%s", bad);
	} else {
		w->has_secret = true;
		w->secret_len = (uint8_t)olen;
	}
out:
	memset(text, 0, sizeof(text));
	if (!w->has_secret) {
		memset(w->secret, 0, sizeof(w->secret));
		w->secret_len = 0;
	}
}

/* ==== client certificate and proxy ==== */

/* null or a non-empty path; the file itself is loaded by the check hook. */
static void parse_file(struct eh_json_cur *c, const char *path, char *buf, size_t cap,
		       struct eh_errs *errs)
{
	size_t n = 0;

	if (eh_json_peek(c) == EH_JSON_NULL) {
		eh_json_skip(c, NULL);
		buf[0] = '\0';
		return;
	}
	if (eh_json_peek(c) != EH_JSON_STRING) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, path, "expected null or a file path");
		return;
	}
	if (cfg_read_str(c, errs, path, buf, cap, &n) && n == 0)
		eh_errs_add(errs, path, "expected null or a file path");
}

static void parse_proxy(struct eh_json_cur *c, struct eh_webhook *w, struct eh_errs *errs)
{
	static const char want[] = "expected null, \"direct\" or \"http://host:port\"";
	char text[EH_WEBHOOK_URL_MAX + 1];
	struct eh_url u;
	struct eh_errs quiet;
	size_t n = 0;

	w->proxy = EH_WEBHOOK_PROXY_GATEWAY;
	if (eh_json_peek(c) == EH_JSON_NULL) {
		eh_json_skip(c, NULL);
		return;
	}
	if (eh_json_peek(c) != EH_JSON_STRING) {
		eh_json_skip(c, NULL);
		eh_errs_add(errs, "proxy", "%s", want);
		return;
	}
	if (!cfg_read_str(c, errs, "proxy", text, sizeof(text), &n))
		return;
	if (strcmp(text, "direct") == 0) {
		w->proxy = EH_WEBHOOK_PROXY_DIRECT;
		return;
	}
	eh_errs_init(&quiet);
	if (n < 7 || strncasecmp(text, "http://", 7) != 0 ||
	    !cfg_parse_url(text, n, true, "proxy", &u, &quiet) || u.tls ||
	    strcmp(u.path, "/") != 0) {
		eh_errs_add(errs, "proxy", "%s", want);
		return;
	}
	w->proxy = EH_WEBHOOK_PROXY_URL;
	memcpy(w->proxy_host, u.host, sizeof(w->proxy_host));
	w->proxy_port = u.port;
}

/* ==== the webhook ==== */

enum {
	K_TITLE,
	K_URL,
	K_BATCH_SIZE,
	K_BATCH_MAX_BYTES,
	K_MAX_ATTEMPTS,
	K_ACTIVE,
	K_FILTERS,
	K_VERBOSE,
	K_HEADERS,
	K_SECRET,
	K_TIMEOUT_S,
	K_VERSION,
	K_DELETED,
	K_CLIENT_CERT,
	K_CLIENT_KEY,
	K_PROXY,
	K_COUNT
};

static const char *const webhook_keys[K_COUNT] = {
    "title",	 "url",	    "batch_size", "batch_max_bytes",  "max_attempts",
    "active",	 "filters", "verbose",	  "headers",	      "secret",
    "timeout_s", "version", "deleted",	  "client_cert_file", "client_key_file",
    "proxy",
};

static void parse_member(struct eh_json_cur *c, unsigned k, bool allow_plain_http, bool signed_mode,
			 struct eh_webhook *w, struct eh_filter *f, struct eh_errs *errs)
{
	struct eh_json_view span;
	char url[EH_WEBHOOK_URL_MAX + 1];
	int64_t v;
	bool b;
	size_t n;

	switch (k) {
	case K_TITLE:
		if (cfg_read_str(c, errs, "title", w->title, sizeof(w->title), &n)) {
			if (n == 0)
				eh_errs_add(errs, "title", "expected 1..%d bytes",
					    EH_WEBHOOK_TITLE_MAX - 1);
			for (size_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)w->title[i];
				if (ch < 0x20 || ch == 0x7f) {
					eh_errs_add(errs, "title",
						    "control characters are not allowed");
					break;
				}
			}
		}
		break;
	case K_URL:
		if (cfg_read_str(c, errs, "url", url, sizeof(url), &n)) {
			if (cfg_parse_url(url, n, allow_plain_http, "url", &w->url, errs))
				memcpy(w->url_text, url, n + 1);
		}
		break;
	case K_BATCH_SIZE:
		if (cfg_read_int(c, errs, "batch_size", 1, EH_MAX_BATCH, &v))
			w->batch_size = (uint16_t)v;
		break;
	case K_BATCH_MAX_BYTES:
		if (cfg_read_int(c, errs, "batch_max_bytes", BATCH_MAX_BYTES_MIN,
				 BATCH_MAX_BYTES_MAX, &v))
			w->batch_max_bytes = (uint32_t)v;
		break;
	case K_MAX_ATTEMPTS:
		if (cfg_read_int(c, errs, "max_attempts", 0, MAX_ATTEMPTS_MAX, &v))
			w->max_attempts = (uint16_t)v;
		break;
	case K_ACTIVE:
		if (cfg_read_bool(c, errs, "active", &b))
			w->active = b;
		break;
	case K_FILTERS:
		if (eh_json_peek(c) != EH_JSON_OBJECT) {
			eh_json_skip(c, NULL);
			eh_errs_add(errs, "filters", "expected object");
			break;
		}
		if (eh_json_skip(c, &span))
			eh_filter_compile(span.p, span.len, f, errs);
		break;
	case K_VERBOSE:
		if (eh_json_peek(c) == EH_JSON_NULL) {
			eh_json_skip(c, NULL);
			w->verbose = -1;
		} else if (eh_json_peek(c) == EH_JSON_TRUE || eh_json_peek(c) == EH_JSON_FALSE) {
			if (cfg_read_bool(c, errs, "verbose", &b))
				w->verbose = b ? 1 : 0;
		} else {
			eh_json_skip(c, NULL);
			eh_errs_add(errs, "verbose", "expected null or boolean");
		}
		break;
	case K_HEADERS:
		parse_headers(c, w, errs);
		break;
	case K_SECRET:
		parse_secret(c, w, errs);
		break;
	case K_TIMEOUT_S:
		if (cfg_read_int(c, errs, "timeout_s", 1, TIMEOUT_MAX_S, &v))
			w->timeout_s = (uint32_t)v;
		break;
	case K_VERSION:
		if (signed_mode)
			eh_json_skip(c, NULL); /* read and checked with the signature */
		else if (cfg_read_int(c, errs, "version", 1, INT64_MAX, &v))
			w->version = (uint64_t)v;
		break;
	case K_CLIENT_CERT:
		parse_file(c, "client_cert_file", w->client_cert_file, sizeof(w->client_cert_file),
			   errs);
		break;
	case K_CLIENT_KEY:
		parse_file(c, "client_key_file", w->client_key_file, sizeof(w->client_key_file),
			   errs);
		break;
	case K_PROXY:
		parse_proxy(c, w, errs);
		break;
	case K_DELETED:
		if (signed_mode)
			eh_json_skip(c, NULL);
		else if (cfg_read_bool(c, errs, "deleted", &b) && b)
			eh_errs_add(errs, "deleted",
				    "only signed mode deletes this way; publish an empty payload");
		break;
	default:
		eh_json_skip(c, NULL);
		break;
	}
}

eh_err cfg_parse_webhook(const char *json, size_t len, bool allow_plain_http, bool signed_mode,
			 struct eh_webhook *w, struct eh_filter *f, struct eh_errs *errs)
{
	struct eh_json_cur c;
	struct eh_json_view key;
	unsigned before = eh_errs_count(errs);
	uint32_t seen = 0;

	memset(w, 0, sizeof(*w));
	w->active = true;
	w->batch_size = 1;
	w->batch_max_bytes = BATCH_MAX_BYTES_MAX;
	w->max_attempts = 10;
	w->verbose = -1;
	w->timeout_s = 10;
	eh_filter_all(f);

	if (len > EH_MAX_MSG_BYTES) {
		eh_errs_add(errs, "payload", "larger than %d bytes", EH_MAX_MSG_BYTES);
		return EH_ERR_TOOBIG;
	}
	if (!cfg_begin_object(&c, json, len, errs))
		return EH_ERR_PROTO;
	for (unsigned i = 0; eh_json_obj_next(&c, i, &key) == 1; i++) {
		unsigned k;
		for (k = 0; k < K_COUNT; k++)
			if (eh_json_str_eq(key, webhook_keys[k]))
				break;
		if (k == K_COUNT) {
			char name[CFG_KEY_SHOWN];
			cfg_key_text(key, name, sizeof(name));
			eh_errs_add(errs, name, "unknown key");
			eh_json_skip(&c, NULL);
			continue;
		}
		if (seen & (1u << k)) {
			eh_errs_add(errs, webhook_keys[k], "duplicate key");
			eh_json_skip(&c, NULL);
			continue;
		}
		seen |= 1u << k;
		parse_member(&c, k, allow_plain_http, signed_mode, w, f, errs);
	}
	if (!(seen & (1u << K_TITLE)))
		eh_errs_add(errs, "title", "required");
	if (!(seen & (1u << K_URL)))
		eh_errs_add(errs, "url", "required");
	if (w->client_cert_file[0] != '\0' && w->client_key_file[0] == '\0')
		eh_errs_add(errs, "client_key_file", "required with client_cert_file");
	if (w->client_key_file[0] != '\0' && w->client_cert_file[0] == '\0')
		eh_errs_add(errs, "client_cert_file", "required with client_key_file");
	if (w->client_cert_file[0] != '\0' && (seen & (1u << K_URL)) && !w->url.tls &&
	    w->url.host[0] != '\0')
		eh_errs_add(errs, "client_cert_file", "only for https:// URLs");
	if (eh_errs_count(errs) != before) {
		memset(w->secret, 0, sizeof(w->secret));
		memset(w->headers, 0, sizeof(w->headers));
		return EH_ERR_PROTO;
	}
	return EH_OK;
}

eh_err eh_config_check_webhook(const char *json, size_t len, bool allow_plain_http,
			       struct eh_errs *errs)
{
	struct eh_webhook w;
	struct eh_filter f;

	return cfg_parse_webhook(json, len, allow_plain_http, false, &w, &f, errs);
}
