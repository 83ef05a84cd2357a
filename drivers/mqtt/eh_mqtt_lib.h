/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_lib.h - Paho MQTT C (MQTTAsync), loaded at run time: the plain build for a tcp://
 * broker, the TLS build (on OpenSSL) for mqtts:// and ssl://. Both come in Debian's
 * libpaho-mqtt1.3 with the same API; the driver is built against the headers only, so a
 * daemon on a plain broker never maps OpenSSL. Shared by the files of drivers/mqtt and their
 * tests; not for callers of eh_mqtt.h. */
#ifndef EH_MQTT_LIB_H
#define EH_MQTT_LIB_H

#include <MQTTAsync.h>

#include "eh_err.h"

#define EH_MQTT_LIB_PLAIN "libpaho-mqtt3a.so.1" /* tcp://, mqtt:// */
#define EH_MQTT_LIB_TLS "libpaho-mqtt3as.so.1"	/* mqtts://, ssl:// */
#define EH_MQTT_LIB_NAME_MAX 64			/* a library's name, with NUL */

/* Every function of the library the driver calls. */
#define EH_MQTT_LIB_FUNCTIONS(X)                                                                   \
	X(MQTTAsync_createWithOptions)                                                             \
	X(MQTTAsync_setCallbacks)                                                                  \
	X(MQTTAsync_connect)                                                                       \
	X(MQTTAsync_isConnected)                                                                   \
	X(MQTTAsync_subscribe)                                                                     \
	X(MQTTAsync_subscribeMany)                                                                 \
	X(MQTTAsync_sendMessage)                                                                   \
	X(MQTTAsync_disconnect)                                                                    \
	X(MQTTAsync_destroy)                                                                       \
	X(MQTTAsync_freeMessage)                                                                   \
	X(MQTTAsync_free)                                                                          \
	X(MQTTAsync_setTraceCallback)                                                              \
	X(MQTTAsync_setTraceLevel)                                                                 \
	X(MQTTProperties_add)                                                                      \
	X(MQTTProperties_free)                                                                     \
	X(MQTTProperties_propertyCount)                                                            \
	X(MQTTProperties_getPropertyAt)

/* One loaded library: its functions, each with the header's own prototype, called as
 * lib->MQTTAsync_connect(...). Read-only once eh_mqtt_lib_get returned it. */
struct eh_mqtt_lib {
	char name[EH_MQTT_LIB_NAME_MAX]; /* the name it was loaded by; "" for a free entry */
	void *handle;			 /* dlopen's handle, never closed */
#define EH_MQTT_LIB_MEMBER(f) __typeof__(f) *f;
	EH_MQTT_LIB_FUNCTIONS(EH_MQTT_LIB_MEMBER)
#undef EH_MQTT_LIB_MEMBER
};

/* The build of the library uri needs: EH_MQTT_LIB_TLS for mqtts:// and ssl://, else
 * EH_MQTT_LIB_PLAIN. */
const char *eh_mqtt_lib_for(const char *uri);

/* The library called name, loaded and resolved on the first call and kept for the life of
 * the process (Paho keeps process-wide state and may still be ending its threads after
 * MQTTAsync_destroy: it is never unloaded). Later calls with the same name return the same
 * table. Thread-safe: the tables are filled under one mutex, and a table never changes
 * after it was returned, so any thread may call through it (the retained snapshot at
 * start, the daemon's client in the loop thread and Paho's own threads, edgehookctl).
 * EH_ERR_NOENT when the library cannot be loaded or lacks one of the functions: one
 * error line names the library and the missing symbol, and nothing stays loaded;
 * EH_ERR_NOSPC when more than two different names were asked for; EH_ERR_INVAL for a name of
 * EH_MQTT_LIB_NAME_MAX bytes or more. */
eh_err eh_mqtt_lib_get(const char *name, const struct eh_mqtt_lib **out);

#endif /* EH_MQTT_LIB_H */
