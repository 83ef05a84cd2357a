/* SPDX-License-Identifier: Apache-2.0 */
/* eh_bootstrap.h - the local bootstrap file (CONTRACT section 2): what the
 * daemon needs before MQTT is up. Loaded once at start and validated
 * strictly: an unknown key, a wrong type or an out-of-range value is an
 * error naming the key, and the daemon exits 2. */
#ifndef EH_BOOTSTRAP_H
#define EH_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eh_err.h"
#include "eh_errs.h"

#define EH_BOOT_ID_MAX 64     /* device_id, 1..63 chars of [A-Za-z0-9._-] */
#define EH_BOOT_TOPIC_MAX 192 /* a topic or topic filter */
#define EH_BOOT_PATH_MAX 256  /* a file path */
#define EH_BOOT_URI_MAX 256
#define EH_BOOT_SECRET_MAX 256 /* password or HMAC key bytes */
#define EH_BOOT_HMAC_MIN 16    /* shortest HMAC key accepted */
#define EH_BOOT_BOOTFILE_MAX 65536
#define EH_BOOT_HOST_MAX 256 /* a host name, IP literal or no_proxy entry */
#ifndef EH_BOOT_NO_PROXY_MAX
#define EH_BOOT_NO_PROXY_MAX 16 /* no_proxy entries */
#endif
#ifndef EH_BOOT_FLEET_MAX
#define EH_BOOT_FLEET_MAX 4 /* fleet_prefixes: one MQTT subscription each */
#endif
/* topic_prefix and a fleet prefix together: the longest config-status
 * topic, "P/config-status/fleet/F/webhooks/<id>", must fit 255 bytes. */
#define EH_BOOT_FLEET_PAIR_MAX 200

enum eh_boot_full_policy { EH_BOOT_DROP_OLDEST = 0, EH_BOOT_BLOCK = 1 };

struct eh_bootstrap {
	char device_id[EH_BOOT_ID_MAX];
	char topic_prefix[EH_BOOT_TOPIC_MAX];
	struct {
		char uri[EH_BOOT_URI_MAX];
		char host[EH_BOOT_URI_MAX]; /* parsed from uri */
		uint16_t port;
		char client_id[EH_BOOT_TOPIC_MAX + 16];
		char username[EH_BOOT_TOPIC_MAX]; /* "" = none */
		char password_file[EH_BOOT_PATH_MAX];
		uint32_t keepalive_s;
		/* MQTT v5 Maximum Packet Size; null: EH_MQTT_MAX_PACKET_BYTES (the
		 * largest message + headroom), range EH_MQTT_MIN_PACKET_BYTES.. that */
		uint32_t max_packet_bytes;
		bool use_tls; /* uri is mqtts:// or ssl:// (port defaults to 8883) */
		struct {
			char ca_file[EH_BOOT_PATH_MAX];	  /* "" = the top-level tls.ca_file */
			char cert_file[EH_BOOT_PATH_MAX]; /* client certificate, "" = none */
			char key_file[EH_BOOT_PATH_MAX];  /* its key; set with cert_file */
			bool verify_host;		  /* check the broker's name [true] */
		} tls;
	} mqtt;
	char inputs[3][EH_BOOT_TOPIC_MAX + 16]; /* indexed by enum eh_note_type */
	struct {
		char path[EH_BOOT_PATH_MAX];
		uint64_t size_bytes;
		enum eh_boot_full_policy full_policy;
		uint32_t commit_interval_ms;
	} queue;
	char ca_file[EH_BOOT_PATH_MAX];
	struct {
		char host[EH_BOOT_HOST_MAX]; /* "" = no proxy; IPv6 without [] */
		uint16_t port;
	} https_proxy; /* from "http://host:port" */
	char no_proxy[EH_BOOT_NO_PROXY_MAX][EH_BOOT_HOST_MAX];
	size_t n_no_proxy;
	/* no_proxy[i] as a list of pointers into this struct (for delivery);
	 * set by eh_bootstrap_parse, so b must not be copied afterwards. */
	const char *no_proxy_list[EH_BOOT_NO_PROXY_MAX];
	/* Fleets (CONTRACT 9.3): webhooks at F/config/webhooks/<id> apply too.
	 * No wildcards, no trailing '/', none a level prefix of another nor of
	 * topic_prefix (or under it). */
	char fleet_prefixes[EH_BOOT_FLEET_MAX][EH_BOOT_TOPIC_MAX];
	size_t n_fleet;
	const char *fleet_list[EH_BOOT_FLEET_MAX]; /* pointers into fleet_prefixes */
	bool allow_plain_http;
	char config_hmac_key_file[EH_BOOT_PATH_MAX]; /* "" = unsigned config */
	struct {
		char bind[64];
		uint16_t port; /* 0 = off */
	} coap;
	struct {
		char bind[64];			   /* numeric address ["127.0.0.1"] */
		uint16_t port;			   /* TCP port; 0 = off [0] */
		char token_file[EH_BOOT_PATH_MAX]; /* "" = no token required */
	} http;
	int log_level;	       /* enum eh_log_level */
	uint32_t stop_grace_s; /* SIGTERM: how long POSTs in flight may finish [5] */

	/* Loaded by eh_bootstrap_load_secrets(); never logged. */
	char password[EH_BOOT_SECRET_MAX];
	bool has_password;
	uint8_t hmac_key[EH_BOOT_SECRET_MAX];
	size_t hmac_key_len;
	uint8_t http_token[EH_BOOT_SECRET_MAX]; /* bearer token of the HTTP listener */
	size_t http_token_len;			/* 0: no token file */
};

/* Fill b with the defaults of CONTRACT section 2 (device_id "edgehook"). */
void eh_bootstrap_defaults(struct eh_bootstrap *b);

/* Parse and validate JSON text into b (defaults first). Every problem is
 * added to errs with its key path; EH_ERR_INVAL when there was any. */
eh_err eh_bootstrap_parse(const char *json, size_t len, struct eh_bootstrap *b,
			  struct eh_errs *errs);

/* The CA file that checks the broker's certificate: mqtt.tls.ca_file, or
 * the top-level tls.ca_file when that is null. */
const char *eh_bootstrap_mqtt_ca(const struct eh_bootstrap *b);

/* The effective configuration as indented JSON into buf (NUL-terminated):
 * every key with the value in force, defaults and derived names included;
 * secret files' contents are never shown. EH_ERR_NOSPC when cap is too
 * small. Allocates (cJSON) and frees before returning. */
eh_err eh_bootstrap_render(const struct eh_bootstrap *b, char *buf, size_t cap);

/* Read path (at most EH_BOOT_BOOTFILE_MAX bytes), then eh_bootstrap_parse. */
eh_err eh_bootstrap_load(const char *path, struct eh_bootstrap *b, struct eh_errs *errs);

/* Read the password, HMAC key and HTTP token files named in b (the file's bytes
 * without one trailing newline). An HMAC key shorter than EH_BOOT_HMAC_MIN
 * bytes, or an unreadable file, is an error naming the key. */
eh_err eh_bootstrap_load_secrets(struct eh_bootstrap *b, struct eh_errs *errs);

/* Check what start loads besides the file and its secrets, so that a
 * configuration start would fail on is refused before it (exit 2, also
 * under --check-config) rather than at start (a restart loop): the
 * tls.ca_file bundle loads with at least one usable certificate. Each
 * problem is added to errs naming its key; EH_ERR_INVAL when there was any.
 * (coap.bind is checked by eh_bootstrap_parse: an IP address.) */
eh_err eh_bootstrap_check_files(const struct eh_bootstrap *b, struct eh_errs *errs);

/* Read a key or password file as CONTRACT section 4 says. */
eh_err eh_bootstrap_read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* ==== Reload (SIGHUP): what a new file changes ==== */

/* What a reload applies at once (struct eh_boot_diff.apply). */
#define EH_BOOT_APPLY_LOG_LEVEL 0x1u  /* log_level differs */
#define EH_BOOT_APPLY_CA 0x2u	      /* read tls.ca_file again (always: renewed in place) */
#define EH_BOOT_APPLY_STOP_GRACE 0x4u /* stop_grace_s differs */
#define EH_BOOT_APPLY_MQTT 0x8u	      /* reconnect: credentials, keepalive, packet size, TLS */

/* The keys whose change waits for a restart, in the order they are named. */
enum eh_boot_restart {
	EH_BOOT_RS_DEVICE_ID,
	EH_BOOT_RS_TOPIC_PREFIX,
	EH_BOOT_RS_MQTT_ID, /* mqtt.uri or mqtt.client_id */
	EH_BOOT_RS_INPUTS,
	EH_BOOT_RS_QUEUE,
	EH_BOOT_RS_PROXY, /* https_proxy or no_proxy */
	EH_BOOT_RS_PLAIN_HTTP,
	EH_BOOT_RS_FLEET,
	EH_BOOT_RS_HMAC, /* the key file's name or the key it holds */
	EH_BOOT_RS_COAP,
	EH_BOOT_RS_HTTP, /* the listener, its token file's name or the token */
	EH_BOOT_RS_COUNT
};

struct eh_boot_diff {
	uint32_t apply;	  /* EH_BOOT_APPLY_* */
	uint32_t restart; /* 1u << enum eh_boot_restart, for each key that changed */
	/* Those keys' names as the reload log names them, in enum order; static
	 * strings. */
	const char *restart_keys[EH_BOOT_RS_COUNT];
	unsigned n_restart;
};

/* Compare the running bootstrap cur with next, freshly loaded with its
 * secrets, into d; no side effects. The CA bundle is always read again
 * (the same name may hold a renewed bundle), and so is MQTT's TLS when the
 * broker is reached over TLS at the same URI (renewed certificates). */
void eh_bootstrap_diff(const struct eh_bootstrap *cur, const struct eh_bootstrap *next,
		       struct eh_boot_diff *d);

/* A restart key's name, "device_id" ... "http"; NULL out of range. */
const char *eh_bootstrap_restart_name(enum eh_boot_restart k);

/* ==== Command line: what runs before the daemon's objects exist ==== */

/* Load path into b as start does: the file, its secret files and the CA
 * bundle (eh_bootstrap_load, _load_secrets, _check_files); every problem
 * into errs. EH_ERR_INVAL when there was any. */
eh_err eh_bootstrap_load_all(const char *path, struct eh_bootstrap *b, struct eh_errs *errs);

/* What `edgehookd` was asked to do with the file. */
enum eh_boot_cli_mode { EH_BOOT_CLI_RUN, EH_BOOT_CLI_CHECK, EH_BOOT_CLI_PRINT };

/* The end of loading at start (CONTRACT 1): the problems in errs are printed
 * to err, each prefixed with path (exit 2); level (NULL: none) overrides the
 * file's log level (exit 2 if it names none); --print-config renders b into
 * buf and prints it to out, --check-config prints "<path>: ok". Returns the
 * exit code, or -1 when the daemon should start with b. */
int eh_bootstrap_cli_finish(const char *path, struct eh_bootstrap *b, const struct eh_errs *errs,
			    const char *level, enum eh_boot_cli_mode mode, char *buf, size_t cap,
			    FILE *out, FILE *err);

/* `edgehookd --help` (and the text after a usage error) into out. */
void eh_bootstrap_cli_usage(FILE *out);

/* `edgehookd --version`: the version and the compiled-in limits into out. */
void eh_bootstrap_cli_version(FILE *out);

#endif /* EH_BOOTSTRAP_H */
