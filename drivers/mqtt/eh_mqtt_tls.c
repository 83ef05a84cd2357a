/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_tls.c - TLS to the broker: the options for Paho's TLS build,
 * the operator-facing reason when a handshake fails, and the load check
 * of the PEM files at start. The only file of the tree that names OpenSSL
 * (delivery uses mbedTLS: docs/MQTT.md says why both are acceptable); it
 * is not linked: the check calls the OpenSSL that Paho's TLS build is
 * linked to, found through that library's handle, so nothing of OpenSSL is
 * mapped unless the broker is mqtts://. */
#include "eh_mqtt_lib.h"
#include "eh_mqtt_priv.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "eh_file.h"
#include "eh_log.h"

/* TLS 1.2 suites allowed: forward secrecy and AEAD only. Every TLS 1.0 and
 * 1.1 suite is CBC or RC4, so this list is also the TLS 1.2 floor; TLS 1.3
 * suites (all AEAD) are not affected by it. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/* ==== Connect options ==== */

bool eh_mqtt_uri_is_tls(const char *uri)
{
	return uri != NULL && (strncmp(uri, "mqtts://", 8) == 0 || strncmp(uri, "ssl://", 6) == 0);
}

/* Paho's thread, inside a failed handshake: OpenSSL's error queue, one line
 * per call. The first line is the cause; later ones add context. */
static int on_ssl_error(const char *str, size_t len, void *u)
{
	struct eh_mqtt_paho *m = u;

	pthread_mutex_lock(&m->mu);
	if (m->tls_err[0] == '\0') {
		while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
			len--;
		if (len >= sizeof(m->tls_err))
			len = sizeof(m->tls_err) - 1;
		memcpy(m->tls_err, str, len);
		m->tls_err[len] = '\0';
	}
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* Paho reports some handshake outcomes only through its trace, whose hook
 * is process-wide and has no context pointer: a failed host check (nothing
 * reaches ssl_error_cb then), an alert the broker sent, and whether CONNECT
 * went out over a finished handshake (with TLS 1.3 a broker that refuses
 * the client certificate says so after the client finished, often by just
 * closing). So this state lives here, for the process; the daemon has one
 * client. */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool host_failed;  /* "X509_check_host for hostname ... failed" (IP: then checked as IP) */
	bool connect_sent; /* "-> CONNECT": the handshake and the host check passed */
	char alert[64];	   /* "unknown CA" from "SSL alert read:fatal:unknown CA" */
} tr;

static void on_paho_trace(enum MQTTASYNC_TRACE_LEVELS level, char *msg)
{
	const char *a;

	(void)level;
	pthread_mutex_lock(&trace_mu);
	if (strstr(msg, "X509_check_host for hostname") != NULL)
		tr.host_failed = true;
	else if (strstr(msg, "-> CONNECT ") != NULL)
		tr.connect_sent = true;
	else if ((a = strstr(msg, "SSL alert read:fatal:")) != NULL && tr.alert[0] == '\0')
		snprintf(tr.alert, sizeof(tr.alert), "%s", a + 21);
	pthread_mutex_unlock(&trace_mu);
}

void eh_mqtt_tls_ssl_options(const struct eh_mqtt_tls *t, MQTTAsync_SSLOptions *o)
{
	o->trustStore = t->ca_file;
	o->keyStore = t->cert_file;
	o->privateKey = t->key_file;
	o->enabledCipherSuites = TLS12_CIPHERS;
	o->enableServerCertAuth = 1;
	/* Ignored by Paho on OpenSSL >= 1.1 (its method is TLS_client_method);
	 * the cipher list above is what enforces the floor. */
	o->sslVersion = MQTT_SSL_VERSION_TLS_1_2;
	o->verify = t->no_verify_host ? 0 : 1; /* the broker's name in its certificate */
	o->disableDefaultTrustStore = 1;       /* only ca_file is trusted */
}

void eh_mqtt_tls_options(struct eh_mqtt_paho *m, MQTTAsync_SSLOptions *o)
{
	/* A new attempt: forget what the last one left. At the PROTOCOL level
	 * Paho formats fewer lines than at its default (MINIMUM), so the hook
	 * costs nothing on the message path. */
	pthread_mutex_lock(&m->mu);
	m->tls_err[0] = '\0';
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&trace_mu);
	memset(&tr, 0, sizeof(tr));
	pthread_mutex_unlock(&trace_mu);
	m->lib->MQTTAsync_setTraceCallback(on_paho_trace);
	m->lib->MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_PROTOCOL);
	eh_mqtt_tls_ssl_options(&m->cfg.tls, o);
	o->ssl_error_cb = on_ssl_error;
	o->ssl_error_context = m;
}

/* "<tid>:error:0A000086:SSL routines:<func>:certificate verify failed:<file>:<line>:"
 * -> "certificate verify failed" (OpenSSL 3's ERR_print_errors line). */
static void ssl_reason(const char *line, char *out, size_t cap)
{
	const char *p = strstr(line, "error:");
	size_t n;

	if (p != NULL) {
		p += 6;
		for (int field = 0; field < 3 && p != NULL; field++) { /* code, library, function */
			p = strchr(p, ':');
			if (p != NULL)
				p++;
		}
	}
	if (p == NULL || *p == '\0' || *p == ':')
		p = line;
	n = strcspn(p, ":");
	if (p == line)
		n = strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

void eh_mqtt_tls_explain(struct eh_mqtt_paho *m, int code, int reason_code)
{
	char line[sizeof(m->tls_err)], reason[sizeof(m->tls_err)];
	const char *what, *src = "OpenSSL";
	bool host_failed, connect_sent;

	pthread_mutex_lock(&m->mu);
	memcpy(line, m->tls_err, sizeof(line));
	m->tls_err[0] = '\0';
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&trace_mu);
	host_failed = tr.host_failed;
	connect_sent = tr.connect_sent;
	reason[0] = '\0';
	if (line[0] == '\0' && tr.alert[0] != '\0' && strcmp(tr.alert, "unknown") != 0) {
		snprintf(reason, sizeof(reason), "alert %s", tr.alert);
		src = "the broker";
	}
	memset(&tr, 0, sizeof(tr));
	pthread_mutex_unlock(&trace_mu);
	if (line[0] != '\0')
		ssl_reason(line, reason, sizeof(reason));
	if (reason[0] == '\0') {
		/* Nothing from OpenSSL and no alert it could name. */
		if (host_failed && !connect_sent && !m->cfg.tls.no_verify_host)
			EH_LOG_ERR("mqtt",
				   "TLS to %s refused: the broker's certificate does not name "
				   "this host (mqtt.tls.verify_host)",
				   m->cfg.uri);
		else if (connect_sent && code == MQTTASYNC_FAILURE && reason_code == 0)
			EH_LOG_ERR("mqtt",
				   "TLS to %s: the broker closed the connection after the "
				   "handshake, without CONNACK: %s, or its policy refuses this "
				   "client",
				   m->cfg.uri,
				   m->cfg.tls.cert_file != NULL
				       ? "it refused our client certificate (mqtt.tls.cert_file)"
				       : "it requires a client certificate (mqtt.tls.cert_file)");
		/* else a TCP failure or a CONNACK refusal: the caller's line says it */
		return;
	}
	for (char *c = reason; *c; c++) /* alerts read "unknown CA", errors "unknown ca" */
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (strstr(reason, "certificate verify failed") != NULL)
		what = "the broker's certificate is not signed by a CA in the CA file, or has "
		       "expired";
	else if (strstr(reason, "unknown ca") != NULL ||
		 strstr(reason, "bad certificate") != NULL ||
		 strstr(reason, "certificate required") != NULL ||
		 strstr(reason, "certificate unknown") != NULL ||
		 strstr(reason, "unsupported certificate") != NULL ||
		 strstr(reason, "certificate expired") != NULL ||
		 strstr(reason, "certificate revoked") != NULL)
		what = m->cfg.tls.cert_file != NULL
			   ? "the broker refused our client certificate (mqtt.tls.cert_file)"
			   : "the broker requires a client certificate (mqtt.tls.cert_file)";
	else if (strstr(reason, "wrong version number") != NULL ||
		 strstr(reason, "packet length too long") != NULL)
		what = "the broker does not speak TLS on this port";
	else if (strstr(reason, "handshake failure") != NULL ||
		 strstr(reason, "no shared cipher") != NULL ||
		 strstr(reason, "protocol version") != NULL)
		what =
		    "no common TLS version or cipher suite (TLS 1.2 with ECDHE and AEAD, or 1.3)";
	else
		what = "the handshake failed";
	EH_LOG_ERR("mqtt", "TLS to %s refused: %s (%s: %s)", m->cfg.uri, what, src, reason);
}

/* ==== Load check ==== */

/* The OpenSSL functions of the check, with OpenSSL's own prototypes. */
#define CRYPTO_FUNCTIONS(X)                                                                        \
	X(BIO_new_file)                                                                            \
	X(BIO_free)                                                                                \
	X(PEM_read_bio_X509)                                                                       \
	X(PEM_read_bio_PrivateKey)                                                                 \
	X(X509_check_private_key)                                                                  \
	X(X509_free)                                                                               \
	X(EVP_PKEY_free)                                                                           \
	X(ERR_clear_error)

struct crypto {
#define CRYPTO_MEMBER(f) __typeof__(f) *f;
	CRYPTO_FUNCTIONS(CRYPTO_MEMBER)
#undef CRYPTO_MEMBER
};

/* Resolve the check's OpenSSL functions in the libraries Paho's TLS build was loaded with
 * (dlsym on a handle searches its dependencies too): the check then parses the files with
 * the very OpenSSL the connection will. Called once per check (start, --check-config). */
static eh_err crypto_load(struct crypto *c, char *why, size_t cap)
{
	const struct eh_mqtt_lib *lib;
	void *f;

	if (eh_mqtt_lib_get(EH_MQTT_LIB_TLS, &lib) != EH_OK) {
		snprintf(why, cap,
			 "TLS to the broker needs %s (package libpaho-mqtt1.3), which "
			 "cannot be loaded",
			 EH_MQTT_LIB_TLS);
		return EH_ERR_NOENT;
	}
#define CRYPTO_RESOLVE(fn)                                                                         \
	if ((f = dlsym(lib->handle, #fn)) == NULL) {                                               \
		snprintf(why, cap, "%s brings no OpenSSL %s", EH_MQTT_LIB_TLS, #fn);               \
		return EH_ERR_NOENT;                                                               \
	}                                                                                          \
	memcpy(&c->fn, &f, sizeof(f));
	CRYPTO_FUNCTIONS(CRYPTO_RESOLVE)
#undef CRYPTO_RESOLVE
	return EH_OK;
}

/* A PEM passphrase is never asked for: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* The file can be opened: NOENT, PERM/IO, or EH_OK with why empty. */
static eh_err file_ok(const char *path, char *why, size_t cap)
{
	int fd;
	eh_err rc = eh_file_open_ro(path, &fd);

	if (rc == EH_OK) {
		eh_file_close(fd);
		return EH_OK;
	}
	snprintf(why, cap, "cannot read %s: %s", path,
		 rc == EH_ERR_NOENT ? "no such file" : eh_err_str(rc));
	return rc == EH_ERR_NOENT ? EH_ERR_NOENT : EH_ERR_IO;
}

static eh_err check_ca(const struct crypto *c, const char *path, char *why, size_t cap)
{
	unsigned n = 0;
	BIO *bio;
	X509 *x;
	eh_err rc;

	if ((rc = file_ok(path, why, cap)) != EH_OK)
		return rc;
	if ((bio = c->BIO_new_file(path, "r")) == NULL) {
		snprintf(why, cap, "cannot read %s", path);
		return EH_ERR_IO;
	}
	while ((x = c->PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		c->X509_free(x);
		n++;
	}
	c->BIO_free(bio);
	c->ERR_clear_error(); /* the end of the file reads as an error */
	if (n == 0) {
		snprintf(why, cap, "%s holds no PEM certificate", path);
		return EH_ERR_INVAL;
	}
	return EH_OK;
}

eh_err eh_mqtt_tls_check(const struct eh_mqtt_tls *t, const char **bad_key, char *why, size_t cap)
{
	struct crypto c;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	eh_err rc = EH_OK;

	why[0] = '\0';
	*bad_key = NULL;
	if (t->ca_file == NULL && t->cert_file == NULL && t->key_file == NULL)
		return EH_OK;
	if ((rc = crypto_load(&c, why, cap)) != EH_OK)
		return rc;
	*bad_key = "ca_file";
	if (t->ca_file != NULL && (rc = check_ca(&c, t->ca_file, why, cap)) != EH_OK)
		goto out;
	*bad_key = "cert_file";
	if (t->cert_file != NULL) {
		if ((rc = file_ok(t->cert_file, why, cap)) != EH_OK)
			goto out;
		rc = EH_ERR_INVAL;
		bio = c.BIO_new_file(t->cert_file, "r");
		if (bio == NULL ||
		    (cert = c.PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL) {
			snprintf(why, cap, "%s is not a PEM certificate", t->cert_file);
			goto out;
		}
		c.BIO_free(bio);
		bio = NULL;
		rc = EH_OK;
	}
	*bad_key = "key_file";
	if (t->key_file != NULL) {
		if ((rc = file_ok(t->key_file, why, cap)) != EH_OK)
			goto out;
		rc = EH_ERR_INVAL;
		bio = c.BIO_new_file(t->key_file, "r");
		if (bio == NULL ||
		    (key = c.PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
			snprintf(why, cap, "%s is not an unencrypted PEM private key", t->key_file);
			goto out;
		}
		if (cert != NULL && c.X509_check_private_key(cert, key) != 1) {
			snprintf(why, cap, "%s is not the key of the certificate in %s",
				 t->key_file, t->cert_file);
			goto out;
		}
		rc = EH_OK;
	}
	*bad_key = NULL;
out:
	c.ERR_clear_error(); /* nothing of this check may show up in a later handshake */
	c.BIO_free(bio);
	c.X509_free(cert);
	c.EVP_PKEY_free(key);
	return rc;
}
