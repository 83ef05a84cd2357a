/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_mbedtls.c - TLS over a non-blocking socket with mbedTLS 2.28.
 * Library codes are translated to eh_err here and nowhere else; the raw code
 * is logged once at debug level. */
#include "eh_transport_mbedtls.h"
#include "eh_log.h"
#include "eh_sock.h"

#include <mbedtls/asn1.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ==== Shared context ==== */

void eh_tls_init(struct eh_tls *tls)
{
	EH_ASSERT(tls != NULL);
	mbedtls_entropy_init(&tls->entropy);
	mbedtls_ctr_drbg_init(&tls->drbg);
	mbedtls_x509_crt_init(&tls->ca);
	mbedtls_ssl_config_init(&tls->conf);
	tls->ready = 0;
}

/* The delivery floor: TLS 1.2 key exchanges with forward secrecy (ECDHE)
 * and AEAD ciphers only, strongest first. A receiver offering nothing of
 * this list fails the handshake. */
static const int floor_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    0,
};

/* The settings every connection shares; conf is initialised. */
static int conf_setup(struct eh_tls *tls, mbedtls_ssl_config *conf)
{
	int rc = mbedtls_ssl_config_defaults(
	    conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);

	if (rc != 0)
		return rc;
	/* TLS 1.2 is the floor (major 3, minor 3). */
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, floor_suites);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, &tls->ca, NULL);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &tls->drbg);
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	return 0;
}

eh_err eh_tls_open(struct eh_tls *tls, const struct eh_tls_config *cfg)
{
	static const unsigned char pers[] = "edgehookd-tls";
	int rc;

	EH_ASSERT(tls != NULL && cfg != NULL && cfg->ca_file != NULL);
	rc = mbedtls_ctr_drbg_seed(&tls->drbg, mbedtls_entropy_func, &tls->entropy, pers,
				   sizeof(pers) - 1);
	if (rc != 0) {
		EH_LOG_ERR("tls", "ctr_drbg_seed: -0x%04x", (unsigned)-rc);
		return EH_ERR_TLS;
	}
	rc = mbedtls_x509_crt_parse_file(&tls->ca, cfg->ca_file);
	if (rc == MBEDTLS_ERR_X509_FILE_IO_ERROR || rc == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
		EH_LOG_ERR("tls", "tls.ca_file: cannot read %s", cfg->ca_file);
		return EH_ERR_NOENT;
	}
	/* rc > 0: some certificates of a system bundle did not parse; the
	 * others are usable. rc < 0 with nothing loaded is fatal. */
	if (rc < 0 || tls->ca.version == 0) {
		EH_LOG_ERR("tls", "tls.ca_file: no usable certificate in %s (-0x%04x)",
			   cfg->ca_file, (unsigned)(rc < 0 ? -rc : 0));
		return EH_ERR_TLS;
	}
	if ((rc = conf_setup(tls, &tls->conf)) != 0) {
		EH_LOG_ERR("tls", "ssl_config_defaults: -0x%04x", (unsigned)-rc);
		return EH_ERR_TLS;
	}
	tls->next_serial = 1;
	tls->ready = 1;
	return EH_OK;
}

eh_err eh_tls_reload_ca(struct eh_tls *tls, const char *ca_file)
{
	mbedtls_x509_crt fresh;
	int rc;

	EH_ASSERT(tls != NULL && ca_file != NULL);
	mbedtls_x509_crt_init(&fresh);
	rc = mbedtls_x509_crt_parse_file(&fresh, ca_file);
	if (rc == MBEDTLS_ERR_X509_FILE_IO_ERROR || rc == MBEDTLS_ERR_PK_FILE_IO_ERROR || rc < 0 ||
	    fresh.version == 0) {
		EH_LOG_ERR("tls", "tls.ca_file: %s not reloaded (-0x%04x): the old bundle stays",
			   ca_file, (unsigned)(rc < 0 ? -rc : 0));
		mbedtls_x509_crt_free(&fresh);
		return rc == MBEDTLS_ERR_X509_FILE_IO_ERROR || rc == MBEDTLS_ERR_PK_FILE_IO_ERROR
			   ? EH_ERR_NOENT
			   : EH_ERR_TLS;
	}
	/* The shared config points at tls->ca (the address stays): the next
	 * handshake verifies against the new chain. */
	mbedtls_x509_crt_free(&tls->ca);
	tls->ca = fresh;
	return EH_OK;
}

void eh_tls_free(struct eh_tls *tls)
{
	if (tls == NULL)
		return;
	mbedtls_ssl_config_free(&tls->conf);
	mbedtls_x509_crt_free(&tls->ca);
	mbedtls_ctr_drbg_free(&tls->drbg);
	mbedtls_entropy_free(&tls->entropy);
	tls->ready = 0;
}

/* ==== Client identities ==== */

eh_err eh_tls_identity_load(struct eh_tls *tls, struct eh_tls_identity *id, const char *cert_file,
			    const char *key_file, enum eh_tls_identity_part *bad, char *why,
			    size_t cap)
{
	eh_err err = EH_ERR_TLS;
	int rc;

	EH_ASSERT(tls != NULL && tls->ready && id != NULL && id->refs == 0);
	EH_ASSERT(cert_file != NULL && key_file != NULL && bad != NULL && why != NULL);
	mbedtls_x509_crt_init(&id->crt);
	mbedtls_pk_init(&id->pk);
	mbedtls_ssl_config_init(&id->conf);
	*bad = EH_TLS_IDENTITY_CERT;
	rc = mbedtls_x509_crt_parse_file(&id->crt, cert_file);
	if (rc == MBEDTLS_ERR_X509_FILE_IO_ERROR || rc == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
		snprintf(why, cap, "cannot read %s", cert_file);
		err = EH_ERR_NOENT;
		goto out;
	}
	if (rc != 0 || id->crt.version == 0) {
		snprintf(why, cap, "no PEM certificate in %s (-0x%04x)", cert_file,
			 (unsigned)(rc < 0 ? -rc : 0));
		goto out;
	}
	*bad = EH_TLS_IDENTITY_KEY;
	rc = mbedtls_pk_parse_keyfile(&id->pk, key_file, NULL);
	if (rc == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
		snprintf(why, cap, "cannot read %s", key_file);
		err = EH_ERR_NOENT;
		goto out;
	}
	if (rc != 0) {
		/* Never quote the key's bytes: only the library code. */
		snprintf(why, cap, "no unencrypted PEM private key in %s (-0x%04x)", key_file,
			 (unsigned)-rc);
		goto out;
	}
	if (mbedtls_pk_check_pair(&id->crt.pk, &id->pk) != 0) {
		snprintf(why, cap, "the key in %s is not the certificate's", key_file);
		goto out;
	}
	if ((rc = conf_setup(tls, &id->conf)) != 0 ||
	    (rc = mbedtls_ssl_conf_own_cert(&id->conf, &id->crt, &id->pk)) != 0) {
		snprintf(why, cap, "TLS setup failed (-0x%04x)", (unsigned)-rc);
		goto out;
	}
	id->serial = tls->next_serial++;
	id->refs = 1;
	return EH_OK;
out:
	mbedtls_ssl_config_free(&id->conf);
	mbedtls_pk_free(&id->pk);
	mbedtls_x509_crt_free(&id->crt);
	return err;
}

void eh_tls_identity_put(struct eh_tls_identity *id)
{
	if (id == NULL || id->refs == 0)
		return;
	if (--id->refs != 0)
		return;
	mbedtls_ssl_config_free(&id->conf);
	mbedtls_pk_free(&id->pk);
	mbedtls_x509_crt_free(&id->crt);
}

/* ==== iPAddress SAN check ==== */

/* Walk crt->v3_ext (SEQUENCE OF Extension) to subjectAltName, then its
 * GeneralNames for [7] iPAddress OCTET STRING entries. Bounds come from the
 * DER lengths, each checked by mbedtls_asn1_get_tag against its parent. */
int eh_tls_cert_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t ip_len)
{
	unsigned char *p, *end, *ext_end, *names_end;
	size_t len;

	if (crt == NULL || crt->v3_ext.p == NULL || crt->v3_ext.len == 0)
		return 0;
	p = crt->v3_ext.p;
	end = p + crt->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return 0;
	end = p + len;
	while (p < end) {
		mbedtls_asn1_buf oid;
		int critical = 0, r;

		if (mbedtls_asn1_get_tag(&p, end, &len,
					 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
			return 0;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID))
			return 0;
		oid.p = p;
		p += oid.len;
		r = mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
		if (r != 0 && r != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG)
			return 0;
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING))
			return 0;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0) {
			p = ext_end;
			continue;
		}
		names_end = p + len;
		if (mbedtls_asn1_get_tag(&p, names_end, &len,
					 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
			return 0;
		names_end = p + len;
		while (p < names_end) {
			unsigned char tag;

			if (names_end - p < 2)
				return 0;
			tag = *p++;
			if (mbedtls_asn1_get_len(&p, names_end, &len))
				return 0;
			if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && len == ip_len &&
			    memcmp(p, ip, ip_len) == 0)
				return 1;
			p += len;
		}
		return 0;
	}
	return 0;
}

/* 1 when the certificate names host as a dNSName SAN or, without DNS
 * SANs, as its CN (exact, case-insensitive). */
static int cert_has_name(const mbedtls_x509_crt *crt, const char *host)
{
	size_t n = strlen(host);
	int have_dns = 0;

	for (const mbedtls_x509_sequence *san = &crt->subject_alt_names; san != NULL;
	     san = san->next) {
		if (san->buf.p == NULL ||
		    san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		have_dns = 1;
		if (san->buf.len == n && strncasecmp((const char *)san->buf.p, host, n) == 0)
			return 1;
	}
	if (have_dns)
		return 0;
	for (const mbedtls_x509_name *name = &crt->subject; name != NULL; name = name->next)
		if (name->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0 &&
		    name->val.len == n && strncasecmp((const char *)name->val.p, host, n) == 0)
			return 1;
	return 0;
}

/* mbedTLS calls this for each certificate of the chain. For an IP-literal
 * host no name is given to mbedTLS (so no SNI is sent, RFC 6066 3), and
 * the leaf's name check is made here: an equal iPAddress SAN, or the
 * literal as a DNS name or CN. Every other flag stays and fails the
 * handshake. */
static int verify_ip(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct eh_transport_mbedtls *st = ctx;

	if (depth != 0 || st->ip_len == 0)
		return 0;
	if (!eh_tls_cert_has_ip(crt, st->ip, st->ip_len) && !cert_has_name(crt, st->ip_text))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* ==== Socket callbacks for mbedTLS (the set_bio seam) ==== */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct eh_transport_mbedtls *st = ctx;
	size_t n = 0;
	eh_err rc = eh_transport_send(st->inner, buf, len, &n);

	if (rc == EH_OK)
		return (int)n;
	if (rc == EH_ERR_AGAIN) {
		st->want = eh_transport_want(st->inner);
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	}
	return MBEDTLS_ERR_NET_CONN_RESET;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct eh_transport_mbedtls *st = ctx;
	size_t n = 0;
	eh_err rc = eh_transport_recv(st->inner, buf, len, &n);

	if (rc == EH_OK)
		return (int)n;
	if (rc == EH_ERR_AGAIN) {
		st->want = eh_transport_want(st->inner);
		return MBEDTLS_ERR_SSL_WANT_READ;
	}
	if (rc == EH_ERR_CLOSED)
		return 0;
	return MBEDTLS_ERR_NET_CONN_RESET;
}

/* ==== Operations ==== */

static void set_err(struct eh_transport_mbedtls *st, const char *text)
{
	snprintf(st->err, sizeof(st->err), "%s", text);
}

static eh_err verify_failure(struct eh_transport_mbedtls *st, const char *host)
{
	uint32_t flags = mbedtls_ssl_get_verify_result(&st->ssl);

	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		set_err(st, "TLS certificate verify failed: not trusted");
	else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		snprintf(st->err, sizeof(st->err),
			 "TLS certificate verify failed: does not match host %.40s", host);
	else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		set_err(st, "TLS certificate verify failed: expired");
	else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		set_err(st, "TLS certificate verify failed: not yet valid");
	else
		snprintf(st->err, sizeof(st->err), "TLS certificate verify failed: flags 0x%x",
			 (unsigned)flags);
	return EH_ERR_TLS;
}

static eh_err tls_setup(struct eh_transport_mbedtls *st, const char *host, uint16_t port)
{
	int rc;

	mbedtls_ssl_init(&st->ssl);
	st->ssl_live = 1;
	st->offered = 0;
	st->full_handshake = 0;
	rc = mbedtls_ssl_setup(&st->ssl, st->ident != NULL ? &st->ident->conf : &st->tls->conf);
	if (rc != 0)
		goto fail;
	/* A name: SNI and mbedTLS's name check. An IP literal: neither (NULL
	 * says so explicitly); verify_ip checks it. */
	rc = mbedtls_ssl_set_hostname(&st->ssl, st->ip_len != 0 ? NULL : host);
	if (rc != 0)
		goto fail;
	mbedtls_ssl_set_verify(&st->ssl, verify_ip, st);
	mbedtls_ssl_set_bio(&st->ssl, st, bio_send, bio_recv, NULL);
	/* A session is only resumed by the identity that made it: the server
	 * may have authenticated the client with it. */
	if (st->have_saved && st->saved_port == port && strcmp(st->saved_host, host) == 0 &&
	    st->saved_serial == (st->ident != NULL ? st->ident->serial : 0)) {
		rc = mbedtls_ssl_set_session(&st->ssl, &st->saved);
		if (rc != 0)
			EH_LOG_DBG("tls", "ssl_set_session: -0x%04x", (unsigned)-rc);
		st->offered = rc == 0;
	}
	return EH_OK;
fail:
	EH_LOG_WRN("tls", "ssl setup: -0x%04x", (unsigned)-rc);
	set_err(st, "TLS setup failed (out of memory?)");
	return EH_ERR_TLS;
}

static void save_session(struct eh_transport_mbedtls *st, const char *host, uint16_t port)
{
	mbedtls_ssl_session s;

	mbedtls_ssl_session_init(&s);
	if (mbedtls_ssl_get_session(&st->ssl, &s) != 0) {
		mbedtls_ssl_session_free(&s);
		return;
	}
	st->resumed = st->offered && !st->full_handshake;
	if (st->have_saved)
		mbedtls_ssl_session_free(&st->saved);
	st->saved = s; /* ownership moves: s is not freed here */
	st->have_saved = 1;
	st->saved_port = port;
	st->saved_serial = st->ident != NULL ? st->ident->serial : 0;
	snprintf(st->saved_host, sizeof(st->saved_host), "%s", host);
}

static eh_err tls_connect(struct eh_transport *t, const char *host, uint16_t port)
{
	struct eh_transport_mbedtls *st = t->state;
	eh_err rc;
	int r;

	if (st->phase == 0) {
		st->ip_len = 0;
		if (!eh_sock_ip_literal(host, st->ip, &st->ip_len))
			st->ip_len = 0;
		snprintf(st->ip_text, sizeof(st->ip_text), "%s", st->ip_len ? host : "");
		st->resumed = 0;
		st->phase = 1;
	}
	if (st->phase == 1) {
		rc = eh_transport_connect(st->inner, host, port);
		if (rc == EH_ERR_AGAIN) {
			st->want = eh_transport_want(st->inner);
			return EH_ERR_AGAIN;
		}
		if (rc != EH_OK) {
			snprintf(st->err, sizeof(st->err), "%s", eh_transport_error(st->inner));
			return rc == EH_ERR_PROTO ? rc : EH_ERR_NET;
		}
		if ((rc = tls_setup(st, host, port)) != EH_OK)
			return rc;
		st->phase = 2;
	}
	if (st->phase == 2) {
		/* Step by step to see the path taken: only a full handshake
		 * passes ServerHelloDone; an abbreviated (resumed) one does not.
		 * mbedTLS 2.28 has no accessor for this. */
		r = 0;
		while (st->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
			if (st->ssl.state == MBEDTLS_SSL_SERVER_HELLO_DONE)
				st->full_handshake = 1;
			if ((r = mbedtls_ssl_handshake_step(&st->ssl)) != 0)
				break;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return EH_ERR_AGAIN;
		if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
			return verify_failure(st, host);
		if (r != 0) {
			EH_LOG_DBG("tls", "ssl_handshake: -0x%04x", (unsigned)-r);
			if (r == MBEDTLS_ERR_NET_CONN_RESET || r == MBEDTLS_ERR_SSL_CONN_EOF)
				set_err(st, "connection reset during TLS handshake");
			else
				snprintf(st->err, sizeof(st->err), "TLS handshake failed (-0x%04x)",
					 (unsigned)-r);
			return EH_ERR_TLS;
		}
		save_session(st, host, port);
		st->phase = 3;
	}
	return EH_OK;
}

static eh_err map_io(struct eh_transport_mbedtls *st, int r, int sending)
{
	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		st->want = EH_TRANSPORT_WANT_READ;
		return EH_ERR_AGAIN;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		st->want = EH_TRANSPORT_WANT_WRITE;
		return EH_ERR_AGAIN;
	}
	if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF) {
		set_err(st, "server disconnected");
		return EH_ERR_CLOSED;
	}
	if (r == MBEDTLS_ERR_NET_CONN_RESET) {
		set_err(st,
			sending ? "connection reset while sending" : "connection reset by peer");
		return EH_ERR_NET;
	}
	EH_LOG_DBG("tls", "ssl_%s: -0x%04x", sending ? "write" : "read", (unsigned)-r);
	snprintf(st->err, sizeof(st->err), "TLS record error (-0x%04x)", (unsigned)-r);
	return EH_ERR_TLS;
}

static eh_err tls_send(struct eh_transport *t, const void *buf, size_t len, size_t *n)
{
	struct eh_transport_mbedtls *st = t->state;
	int r;

	if (st->phase != 3)
		return EH_ERR_CLOSED;
	r = mbedtls_ssl_write(&st->ssl, buf, len);
	if (r > 0) {
		*n = (size_t)r;
		return EH_OK;
	}
	return map_io(st, r, 1);
}

static eh_err tls_recv(struct eh_transport *t, void *buf, size_t len, size_t *n)
{
	struct eh_transport_mbedtls *st = t->state;
	int r;

	if (st->phase != 3)
		return EH_ERR_CLOSED;
	r = mbedtls_ssl_read(&st->ssl, buf, len);
	if (r > 0) {
		*n = (size_t)r;
		return EH_OK;
	}
	return map_io(st, r, 0);
}

static int tls_pollfd(const struct eh_transport *t)
{
	const struct eh_transport_mbedtls *st = t->state;
	return eh_transport_pollfd(st->inner);
}

static unsigned tls_want(const struct eh_transport *t)
{
	const struct eh_transport_mbedtls *st = t->state;
	return st->want;
}

static void tls_close(struct eh_transport *t)
{
	struct eh_transport_mbedtls *st = t->state;

	if (st->phase == 3)
		(void)mbedtls_ssl_close_notify(&st->ssl); /* best effort, never waits */
	if (st->ssl_live) {
		/* Free the record buffers while idle: the RSS budget is small. */
		mbedtls_ssl_free(&st->ssl);
		st->ssl_live = 0;
	}
	eh_transport_close(st->inner);
	st->phase = 0;
	eh_tls_identity_put(st->ident); /* the connection's reference */
	st->ident = NULL;
}

static const char *tls_error(const struct eh_transport *t)
{
	const struct eh_transport_mbedtls *st = t->state;
	return st->err;
}

static int tls_resumed(const struct eh_transport *t)
{
	const struct eh_transport_mbedtls *st = t->state;
	return st->resumed;
}

static const char *tls_stage(const struct eh_transport *t)
{
	const struct eh_transport_mbedtls *st = t->state;
	return st->phase == 1 ? eh_transport_stage(st->inner) : NULL;
}

static const struct eh_transport_ops tls_ops = {
    .connect = tls_connect,
    .send = tls_send,
    .recv = tls_recv,
    .pollfd = tls_pollfd,
    .want = tls_want,
    .close = tls_close,
    .error = tls_error,
    .resumed = tls_resumed,
    .stage = tls_stage,
};

/* ==== Setup ==== */

void eh_transport_mbedtls_init(struct eh_transport *t, struct eh_transport_mbedtls *st,
			       struct eh_tls *tls)
{
	EH_ASSERT(t != NULL && st != NULL && tls != NULL);
	memset(st, 0, sizeof(*st));
	st->tls = tls;
	eh_transport_tcp_init(&st->own_tcp, &st->own_tcp_st);
	st->inner = &st->own_tcp;
	mbedtls_ssl_session_init(&st->saved);
	t->ops = &tls_ops;
	t->state = st;
	t->name = "mbedtls";
}

void eh_transport_mbedtls_route(struct eh_transport *t, struct eh_transport *inner,
				struct eh_tls_identity *id)
{
	struct eh_transport_mbedtls *st;

	EH_ASSERT(t != NULL && t->state != NULL);
	st = t->state;
	EH_ASSERT(st->phase == 0);
	st->inner = inner != NULL ? inner : &st->own_tcp;
	eh_tls_identity_put(st->ident);
	st->ident = id;
	if (id != NULL) {
		EH_ASSERT(id->refs > 0);
		id->refs++;
	}
}

void eh_transport_mbedtls_free(struct eh_transport *t)
{
	struct eh_transport_mbedtls *st;

	if (t == NULL || t->state == NULL)
		return;
	st = t->state;
	tls_close(t);
	mbedtls_ssl_session_free(&st->saved);
	st->have_saved = 0;
}

/* ==== Pool behind a library-free header ==== */

#include "eh_tls_pool.h"

struct tls_pool_impl {
	struct eh_tls tls;
	int opened;
	struct eh_transport tls_t[EH_TLS_POOL_CONNS];
	struct eh_transport_mbedtls tls_st[EH_TLS_POOL_CONNS];
	struct eh_transport tcp_t[EH_TLS_POOL_CONNS];
	struct eh_transport_tcp tcp_st[EH_TLS_POOL_CONNS];
	struct eh_transport px_t[EH_TLS_POOL_CONNS]; /* CONNECT tunnels over tcp_t */
	struct eh_transport_proxy px_st[EH_TLS_POOL_CONNS];
	struct eh_tls_identity ids[EH_TLS_POOL_IDENTITIES]; /* handle = index + 1 */
};

_Static_assert(sizeof(struct tls_pool_impl) <= EH_TLS_POOL_BYTES,
	       "EH_TLS_POOL_BYTES too small for the mbedTLS contexts");

void eh_tls_pool_init(struct eh_tls_pool *p)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;

	EH_ASSERT(p != NULL);
	memset(im, 0, sizeof(*im));
	eh_tls_init(&im->tls);
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++) {
		eh_transport_tcp_init(&im->tcp_t[i], &im->tcp_st[i]);
		eh_transport_proxy_init(&im->px_t[i], &im->px_st[i], &im->tcp_t[i]);
	}
}

eh_err eh_tls_pool_open(struct eh_tls_pool *p, const char *ca_file)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;
	struct eh_tls_config cfg = {ca_file};
	eh_err rc;

	if ((rc = eh_tls_open(&im->tls, &cfg)) != EH_OK)
		return rc;
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++)
		eh_transport_mbedtls_init(&im->tls_t[i], &im->tls_st[i], &im->tls);
	im->opened = 1;
	return EH_OK;
}

void eh_tls_pool_resolver(struct eh_tls_pool *p, struct eh_resolver *r)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;

	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++)
		eh_transport_tcp_resolver(&im->tcp_t[i], r);
}

eh_err eh_tls_pool_reload_ca(struct eh_tls_pool *p, const char *ca_file)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;
	eh_err rc;

	if (!im->opened)
		return EH_ERR_INVAL;
	if ((rc = eh_tls_reload_ca(&im->tls, ca_file)) != EH_OK)
		return rc;
	/* Saved sessions were verified against the old chain: a resumed one
	 * would skip the new check. Drop them with the transports' state. */
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++) {
		eh_transport_mbedtls_free(&im->tls_t[i]);
		eh_transport_mbedtls_init(&im->tls_t[i], &im->tls_st[i], &im->tls);
	}
	return EH_OK;
}

void eh_tls_pool_free(struct eh_tls_pool *p)
{
	struct tls_pool_impl *im;

	if (p == NULL)
		return;
	im = (struct tls_pool_impl *)p->opaque;
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++) {
		if (im->opened)
			eh_transport_mbedtls_free(&im->tls_t[i]);
		if (im->px_t[i].ops != NULL)
			eh_transport_close(&im->px_t[i]);
		if (im->tcp_t[i].ops != NULL)
			eh_transport_close(&im->tcp_t[i]);
	}
	/* Whatever references remain (loaders that did not put theirs). */
	for (unsigned i = 0; i < EH_TLS_POOL_IDENTITIES; i++) {
		if (im->ids[i].refs > 0) {
			im->ids[i].refs = 1;
			eh_tls_identity_put(&im->ids[i]);
		}
	}
	im->opened = 0;
	eh_tls_free(&im->tls);
}

eh_err eh_tls_pool_identity_load(struct eh_tls_pool *p, const char *cert_file, const char *key_file,
				 unsigned *handle, bool *key_at_fault, char *why, size_t cap)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;
	enum eh_tls_identity_part bad = EH_TLS_IDENTITY_CERT;
	eh_err rc;

	EH_ASSERT(handle != NULL && key_at_fault != NULL && why != NULL);
	*key_at_fault = false;
	if (!im->opened) {
		snprintf(why, cap, "no TLS context (tls.ca_file)");
		return EH_ERR_INVAL;
	}
	for (unsigned i = 0; i < EH_TLS_POOL_IDENTITIES; i++) {
		if (im->ids[i].refs != 0)
			continue;
		rc = eh_tls_identity_load(&im->tls, &im->ids[i], cert_file, key_file, &bad, why,
					  cap);
		*key_at_fault = bad == EH_TLS_IDENTITY_KEY;
		if (rc == EH_OK)
			*handle = i + 1;
		return rc;
	}
	snprintf(why, cap, "more than %d client certificates in use (EH_TLS_POOL_IDENTITIES)",
		 EH_TLS_POOL_IDENTITIES);
	return EH_ERR_NOSPC;
}

void eh_tls_pool_identity_put(struct eh_tls_pool *p, unsigned handle)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;

	if (handle == 0 || handle > EH_TLS_POOL_IDENTITIES)
		return;
	eh_tls_identity_put(&im->ids[handle - 1]);
}

struct eh_transport *eh_tls_pool_transport(void *ctx, unsigned idx,
					   const struct eh_transport_route *r)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)((struct eh_tls_pool *)ctx)->opaque;
	struct eh_transport *base = &im->tcp_t[idx];
	struct eh_tls_identity *id = NULL;

	EH_ASSERT(idx < EH_TLS_POOL_CONNS && r != NULL);
	if (r->proxy_host != NULL) {
		eh_transport_proxy_set(&im->px_t[idx], r->proxy_host, r->proxy_port);
		base = &im->px_t[idx];
	}
	if (!r->tls)
		return base;
	EH_ASSERT(im->opened);
	if (r->identity != 0 && r->identity <= EH_TLS_POOL_IDENTITIES &&
	    im->ids[r->identity - 1].refs > 0)
		id = &im->ids[r->identity - 1];
	eh_transport_mbedtls_route(&im->tls_t[idx], base, id);
	return &im->tls_t[idx];
}

/* ==== The pool as a transport factory ==== */

static eh_err factory_identity_load(void *ctx, const char *cert_file, const char *key_file,
				    unsigned *handle, bool *key_at_fault, char *why, size_t cap)
{
	return eh_tls_pool_identity_load(ctx, cert_file, key_file, handle, key_at_fault, why, cap);
}

static void factory_identity_put(void *ctx, unsigned handle)
{
	eh_tls_pool_identity_put(ctx, handle);
}

static eh_err factory_reload_ca(void *ctx, const char *ca_file)
{
	return eh_tls_pool_reload_ca(ctx, ca_file);
}

const struct eh_transport_factory_ops eh_tls_pool_factory = {
    eh_tls_pool_transport, factory_identity_load, factory_identity_put, factory_reload_ca};
