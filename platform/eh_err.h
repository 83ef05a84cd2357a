/* SPDX-License-Identifier: Apache-2.0 */
/* eh_err.h - the one error enum of edgehook. Every layer returns these;
 * library codes and errno are translated once, at the lowest layer. */
#ifndef EH_ERR_H
#define EH_ERR_H

typedef enum {
	EH_OK = 0,
	EH_ERR_INVAL = -1,   /* bad argument or bad input value */
	EH_ERR_AGAIN = -2,   /* would block: wait for the fd, then retry */
	EH_ERR_NOSPC = -3,   /* a fixed-capacity table or buffer is full */
	EH_ERR_IO = -4,	     /* the OS refused a read, write or sync */
	EH_ERR_CORRUPT = -5, /* stored data failed its CRC or structure check */
	EH_ERR_NET = -6,     /* socket-level failure: refused, reset, unreachable */
	EH_ERR_TLS = -7,     /* handshake, certificate or record-layer failure */
	EH_ERR_PROTO = -8,   /* the peer or payload broke its protocol or format */
	EH_ERR_TIMEOUT = -9, /* a deadline passed */
	EH_ERR_CLOSED = -10, /* the peer closed, or the object is closed */
	EH_ERR_NOENT = -11,  /* no such file, record or entry */
	EH_ERR_BUSY = -12,   /* held by someone else (a lock) */
	EH_ERR_TOOBIG = -13, /* input larger than its bound */
	EH_ERR_PERM = -14,   /* refused by policy: signature, permission */
} eh_err;

/* Short lowercase name for logs ("inval", "nospc", ...); never NULL. */
const char *eh_err_str(eh_err e);

#endif /* EH_ERR_H */
