/* SPDX-License-Identifier: Apache-2.0 */
/* eh_webhook.h - one validated webhook as the delivery side sees it
 * (CONTRACT section 4). Filled by app/config from P/config/webhooks/<id>;
 * read by app/delivery. Fixed-size: lives in a static table of
 * EH_MAX_WEBHOOKS slots. The compiled filters live beside it in the config
 * module's table, indexed by the same slot. */
#ifndef EH_WEBHOOK_H
#define EH_WEBHOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "eh_limits.h"

#define EH_WEBHOOK_TITLE_MAX 256 /* 1..255 chars + NUL */
#define EH_WEBHOOK_URL_MAX 512
#define EH_WEBHOOK_HOST_MAX 256
#define EH_WEBHOOK_PATH_MAX 512
#define EH_HEADER_NAME_MAX 64
#define EH_HEADER_VALUE_MAX 512
#define EH_SECRET_MAX 64	/* decoded HMAC key bytes */
#define EH_WEBHOOK_FILE_MAX 256 /* a file path on the box */

/* How a webhook's connections leave the box (CONTRACT 9.2 "proxy"). */
enum eh_webhook_proxy {
	EH_WEBHOOK_PROXY_GATEWAY = 0, /* null: the bootstrap's https_proxy and no_proxy */
	EH_WEBHOOK_PROXY_DIRECT,      /* "direct" */
	EH_WEBHOOK_PROXY_URL,	      /* "http://host:port": proxy_host, proxy_port */
};
#define EH_SECRET_MIN 16 /* decoded HMAC key bytes: a shorter key is guessable */

struct eh_header {
	char name[EH_HEADER_NAME_MAX];	 /* token characters only, validated */
	char value[EH_HEADER_VALUE_MAX]; /* no CR/LF, validated; never logged */
};

struct eh_url {
	bool tls;			/* https:// */
	char host[EH_WEBHOOK_HOST_MAX]; /* name or IP literal, without [] */
	uint16_t port;			/* explicit or 443/80 */
	char path[EH_WEBHOOK_PATH_MAX]; /* "/..." including any query */
};

struct eh_webhook {
	uint32_t id;  /* the <id> of the topic: a positive integer; 0 = free slot */
	uint16_t gen; /* bumped each time the slot is (re)assigned */
	bool active;
	char title[EH_WEBHOOK_TITLE_MAX];
	char url_text[EH_WEBHOOK_URL_MAX]; /* as configured, for logs and status */
	struct eh_url url;
	uint16_t batch_size;	  /* 1..EH_MAX_BATCH */
	uint32_t batch_max_bytes; /* body bound; a single larger notification goes alone */
	uint16_t max_attempts;	  /* 0 = forever */
	int8_t verbose;		  /* -1 = follow P/config/gateway, 0, 1 */
	uint8_t nheaders;
	struct eh_header headers[EH_MAX_HEADERS];
	bool has_secret;
	uint8_t secret[EH_SECRET_MAX]; /* decoded "whsec_" key; never logged */
	uint8_t secret_len;
	uint32_t timeout_s;			    /* connect + proxy + TLS + response */
	char client_cert_file[EH_WEBHOOK_FILE_MAX]; /* "" none; PEM, loaded when applied */
	char client_key_file[EH_WEBHOOK_FILE_MAX];  /* set exactly when the cert is */
	uint8_t proxy;				    /* enum eh_webhook_proxy */
	char proxy_host[EH_WEBHOOK_HOST_MAX];	    /* EH_WEBHOOK_PROXY_URL only */
	uint16_t proxy_port;
	uint64_t version; /* signed mode: last accepted version */
};

#endif /* EH_WEBHOOK_H */
