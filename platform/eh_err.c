/* SPDX-License-Identifier: Apache-2.0 */
/* eh_err.c - names of the error enum, for log lines. */
#include "eh_err.h"

const char *eh_err_str(eh_err e)
{
	switch (e) {
	case EH_OK:
		return "ok";
	case EH_ERR_INVAL:
		return "invalid";
	case EH_ERR_AGAIN:
		return "again";
	case EH_ERR_NOSPC:
		return "no space";
	case EH_ERR_IO:
		return "i/o error";
	case EH_ERR_CORRUPT:
		return "corrupt";
	case EH_ERR_NET:
		return "network error";
	case EH_ERR_TLS:
		return "tls error";
	case EH_ERR_PROTO:
		return "protocol error";
	case EH_ERR_TIMEOUT:
		return "timeout";
	case EH_ERR_CLOSED:
		return "closed";
	case EH_ERR_NOENT:
		return "not found";
	case EH_ERR_BUSY:
		return "busy";
	case EH_ERR_TOOBIG:
		return "too big";
	case EH_ERR_PERM:
		return "not permitted";
	}
	return "unknown";
}
