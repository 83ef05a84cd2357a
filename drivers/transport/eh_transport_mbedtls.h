/* SPDX-License-Identifier: Apache-2.0 */
/* eh_transport_mbedtls.h - the TLS transport: mbedTLS 2.28 over an inner
 * non-blocking transport (its own TCP, or an HTTP CONNECT tunnel), TLS 1.2+
 * with ECDHE and AEAD suites only, certificate and host-name verification
 * with SNI (none for IP literals, which are matched against iPAddress SANs:
 * mbedTLS 2.28 does not check those), an optional client certificate, and
 * session resumption on reconnect. Included only by the composition root
 * and the transport's own tests. */
#ifndef EH_TRANSPORT_MBEDTLS_H
#define EH_TRANSPORT_MBEDTLS_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "eh_transport.h"

struct eh_tls_config {
	const char *ca_file; /* PEM bundle of trusted CAs; read once at eh_tls_open */
};

/* What every TLS connection shares: the trust store, the RNG and one
 * read-only mbedtls_ssl_config. One per daemon. */
struct eh_tls {
	/* internal */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
	mbedtls_ssl_config conf;
	int ready;	      /* eh_tls_open succeeded */
	uint32_t next_serial; /* serial of the next client identity loaded */
};

/* A client certificate and its key, with the TLS settings that present it.
 * Reference counted: the loader holds one reference, each connection using
 * it another; the last eh_tls_identity_put frees it. */
struct eh_tls_identity {
	/* internal */
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	mbedtls_ssl_config conf;
	unsigned refs;	 /* 0: free */
	uint32_t serial; /* unique per load: sessions are only resumed by the same one */
};

enum eh_tls_identity_part {
	EH_TLS_IDENTITY_CERT, /* the certificate file */
	EH_TLS_IDENTITY_KEY,  /* the key file, or a key that does not match */
};

/* Load a PEM certificate (chain) and its unencrypted PEM key into a free id
 * (refs 0), holding one reference. EH_ERR_NOENT: a file cannot be read;
 * EH_ERR_TLS: no certificate, no key, or a key of another certificate;
 * *bad names the file at fault and why (up to cap bytes, no secrets). */
eh_err eh_tls_identity_load(struct eh_tls *tls, struct eh_tls_identity *id, const char *cert_file,
			    const char *key_file, enum eh_tls_identity_part *bad, char *why,
			    size_t cap);
void eh_tls_identity_put(struct eh_tls_identity *id);

/* eh_tls_init cannot fail and makes eh_tls_free safe. eh_tls_open loads the
 * CA file: EH_ERR_NOENT when unreadable, EH_ERR_TLS when it holds no usable
 * certificate or the RNG cannot be seeded. mbedTLS allocates here (the CA
 * chain) and per connection (record buffers, ~33 KiB while connected). */
void eh_tls_init(struct eh_tls *tls);
eh_err eh_tls_open(struct eh_tls *tls, const struct eh_tls_config *cfg);
void eh_tls_free(struct eh_tls *tls);
/* Replace the trusted CAs with ca_file's. Only while no handshake is under
 * way. EH_ERR_NOENT / EH_ERR_TLS: unreadable or no usable certificate, the
 * old chain stays. */
eh_err eh_tls_reload_ca(struct eh_tls *tls, const char *ca_file);

struct eh_transport_mbedtls {
	/* internal */
	struct eh_tls *tls;	     /* shared context, outlives this */
	struct eh_transport *inner;  /* the byte stream under TLS */
	struct eh_transport own_tcp; /* the inner transport by default */
	struct eh_transport_tcp own_tcp_st;
	struct eh_tls_identity *ident; /* client certificate, or NULL */
	int phase;		       /* 0 idle, 1 inner connecting, 2 handshaking, 3 open */
	unsigned want;		       /* EH_TRANSPORT_WANT_* after AGAIN */
	int ssl_live;		       /* ssl holds allocated state */
	int resumed;		       /* the last handshake resumed a session */
	int offered;		       /* a saved session was offered in this handshake */
	int full_handshake;	       /* this handshake passed ServerHelloDone */
	mbedtls_ssl_context ssl;
	mbedtls_ssl_session saved; /* last session, offered on reconnect */
	int have_saved;
	char saved_host[256]; /* the session is only offered to this host:port */
	uint16_t saved_port;
	uint32_t saved_serial;		/* ... and with this identity (0: none) */
	uint8_t ip[16];			/* the host as an IP literal, when it is one */
	size_t ip_len;			/* 0: host is a name */
	char ip_text[46];		/* the IP literal as text, for the name check */
	char err[EH_TRANSPORT_ERR_MAX]; /* last failure text */
};

/* Fill t with the TLS backend over st. Cannot fail; tls must be open and
 * outlive t. eh_transport_mbedtls_free releases the saved session. */
void eh_transport_mbedtls_init(struct eh_transport *t, struct eh_transport_mbedtls *st,
			       struct eh_tls *tls);
void eh_transport_mbedtls_free(struct eh_transport *t);

/* While closed: run the next connections over inner (NULL: the transport's
 * own TCP) and present id's certificate (NULL: none; a reference is taken
 * until the connection closes). inner must outlive its use. */
void eh_transport_mbedtls_route(struct eh_transport *t, struct eh_transport *inner,
				struct eh_tls_identity *id);

/* Exposed for tests: 1 when the DER certificate's subjectAltName holds an
 * iPAddress entry equal to ip[0..ip_len). */
int eh_tls_cert_has_ip(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t ip_len);

#endif /* EH_TRANSPORT_MBEDTLS_H */
