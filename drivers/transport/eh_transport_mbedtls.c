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
	rc = mbedtls_ssl_config_defaults(&tls->conf, MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		EH_LOG_ERR("tls", "ssl_config_defaults: -0x%04x", (unsigned)-rc);
		return EH_ERR_TLS;
	}
	/* TLS 1.2 is the floor (major 3, minor 3). */
	mbedtls_ssl_conf_min_version(&tls->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&tls->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tls->conf, &tls->ca, NULL);
	mbedtls_ssl_conf_rng(&tls->conf, mbedtls_ctr_drbg_random, &tls->drbg);
	mbedtls_ssl_conf_session_tickets(&tls->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	tls->ready = 1;
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

/* mbedTLS calls this for each certificate of the chain. For an IP-literal
 * host the name check of mbedTLS compares the text against DNS names and
 * the CN only; an equal iPAddress SAN clears that one flag. Every other
 * flag stays and fails the handshake. */
static int verify_ip(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct eh_transport_mbedtls *st = ctx;

	if (depth == 0 && st->ip_len != 0 && (*flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) &&
	    eh_tls_cert_has_ip(crt, st->ip, st->ip_len))
		*flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* ==== Socket callbacks for mbedTLS (the set_bio seam) ==== */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct eh_transport_mbedtls *st = ctx;
	size_t n = 0;
	eh_err rc = eh_sock_send(st->fd, buf, len, &n);

	if (rc == EH_OK)
		return (int)n;
	if (rc == EH_ERR_AGAIN) {
		st->want = EH_TRANSPORT_WANT_WRITE;
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	}
	return MBEDTLS_ERR_NET_CONN_RESET;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct eh_transport_mbedtls *st = ctx;
	size_t n = 0;
	eh_err rc = eh_sock_recv(st->fd, buf, len, &n);

	if (rc == EH_OK)
		return (int)n;
	if (rc == EH_ERR_AGAIN) {
		st->want = EH_TRANSPORT_WANT_READ;
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
	rc = mbedtls_ssl_setup(&st->ssl, &st->tls->conf);
	if (rc != 0)
		goto fail;
	/* SNI and the name check; for IP literals the check is completed by
	 * verify_ip against the iPAddress SANs. */
	rc = mbedtls_ssl_set_hostname(&st->ssl, host);
	if (rc != 0)
		goto fail;
	mbedtls_ssl_set_verify(&st->ssl, verify_ip, st);
	mbedtls_ssl_set_bio(&st->ssl, st, bio_send, bio_recv, NULL);
	if (st->have_saved && st->saved_port == port && strcmp(st->saved_host, host) == 0) {
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
		st->resumed = 0;
		rc = eh_sock_connect(host, port, &st->fd);
		if (rc != EH_OK && rc != EH_ERR_AGAIN) {
			snprintf(st->err, sizeof(st->err), "cannot connect to %.60s:%u", host,
				 (unsigned)port);
			st->fd = -1;
			return EH_ERR_NET;
		}
		st->phase = 1;
		if (rc == EH_ERR_AGAIN) {
			st->want = EH_TRANSPORT_WANT_WRITE;
			return EH_ERR_AGAIN;
		}
	}
	if (st->phase == 1) {
		if (eh_sock_connect_result(st->fd) != EH_OK) {
			snprintf(st->err, sizeof(st->err), "cannot connect to %.60s:%u", host,
				 (unsigned)port);
			return EH_ERR_NET;
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
	return st->fd;
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
	if (st->fd >= 0)
		eh_sock_close(st->fd);
	st->fd = -1;
	st->phase = 0;
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

static const struct eh_transport_ops tls_ops = {
    .connect = tls_connect,
    .send = tls_send,
    .recv = tls_recv,
    .pollfd = tls_pollfd,
    .want = tls_want,
    .close = tls_close,
    .error = tls_error,
    .resumed = tls_resumed,
};

/* ==== Setup ==== */

void eh_transport_mbedtls_init(struct eh_transport *t, struct eh_transport_mbedtls *st,
			       struct eh_tls *tls)
{
	EH_ASSERT(t != NULL && st != NULL && tls != NULL);
	memset(st, 0, sizeof(*st));
	st->tls = tls;
	st->fd = -1;
	mbedtls_ssl_session_init(&st->saved);
	t->ops = &tls_ops;
	t->state = st;
	t->name = "mbedtls";
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
};

_Static_assert(sizeof(struct tls_pool_impl) <= EH_TLS_POOL_BYTES,
	       "EH_TLS_POOL_BYTES too small for the mbedTLS contexts");

void eh_tls_pool_init(struct eh_tls_pool *p)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)p->opaque;

	EH_ASSERT(p != NULL);
	memset(im, 0, sizeof(*im));
	eh_tls_init(&im->tls);
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++)
		eh_transport_tcp_init(&im->tcp_t[i], &im->tcp_st[i]);
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

void eh_tls_pool_free(struct eh_tls_pool *p)
{
	struct tls_pool_impl *im;

	if (p == NULL)
		return;
	im = (struct tls_pool_impl *)p->opaque;
	for (unsigned i = 0; i < EH_TLS_POOL_CONNS; i++) {
		if (im->opened)
			eh_transport_mbedtls_free(&im->tls_t[i]);
		if (im->tcp_t[i].ops != NULL)
			eh_transport_close(&im->tcp_t[i]);
	}
	im->opened = 0;
	eh_tls_free(&im->tls);
}

struct eh_transport *eh_tls_pool_transport(void *ctx, unsigned idx, bool tls)
{
	struct tls_pool_impl *im = (struct tls_pool_impl *)((struct eh_tls_pool *)ctx)->opaque;

	EH_ASSERT(idx < EH_TLS_POOL_CONNS);
	if (tls) {
		EH_ASSERT(im->opened);
		return &im->tls_t[idx];
	}
	return &im->tcp_t[idx];
}
