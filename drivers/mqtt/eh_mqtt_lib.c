/* SPDX-License-Identifier: Apache-2.0 */
/* eh_mqtt_lib.c - Paho MQTT C loaded with dlopen() when a client first needs it: the build
 * the broker's uri asks for, resolved once per process into a table of function pointers.
 * The TLS build drags in OpenSSL (libssl, libcrypto: about 400 KiB of resident relocated
 * data); a daemon on a tcp:// broker loads the plain build and never maps them. */
#include "eh_mqtt_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "eh_assert.h"
#include "eh_log.h"
#include "eh_mqtt.h"

/* The two builds (plain and TLS): at most this many libraries per process. */
#define LIBS_MAX 2

/* Process-wide on purpose (docs/MQTT.md): the library itself is process-wide state (its
 * threads, its client list, its trace hook), so it is loaded once per process and shared
 * by every client in it. The mutex covers filling an entry; an entry whose name is set is
 * complete and never written again. */
static pthread_mutex_t libs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct eh_mqtt_lib libs[LIBS_MAX];

#define LIB_NAME(f) #f,
static const char *const fn_names[] = {EH_MQTT_LIB_FUNCTIONS(LIB_NAME)};
#undef LIB_NAME

const char *eh_mqtt_lib_for(const char *uri)
{
	return eh_mqtt_uri_is_tls(uri) ? EH_MQTT_LIB_TLS : EH_MQTT_LIB_PLAIN;
}

/* Load name into l (zeroed by the caller): EH_OK with every function resolved, or one
 * error line and nothing loaded. */
static eh_err lib_load(struct eh_mqtt_lib *l, const char *name)
{
	/* The table's function pointers, in EH_MQTT_LIB_FUNCTIONS order: */
#define LIB_SLOT(f) (void **)&l->f,
	void **slot[] = {EH_MQTT_LIB_FUNCTIONS(LIB_SLOT)};
#undef LIB_SLOT
	const bool tls = strcmp(name, EH_MQTT_LIB_TLS) == 0;

	_Static_assert(sizeof(slot) / sizeof(slot[0]) == sizeof(fn_names) / sizeof(fn_names[0]),
		       "one name per function");
	l->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (l->handle == NULL) {
		EH_LOG_ERR("mqtt",
			   "the MQTT client needs %s (package libpaho-mqtt1.3%s), which cannot be "
			   "loaded: %s",
			   name, tls ? ", for mqtts://" : "", dlerror());
		return EH_ERR_NOENT;
	}
	for (size_t i = 0; i < sizeof(slot) / sizeof(slot[0]); i++) {
		void *f = dlsym(l->handle, fn_names[i]);

		if (f == NULL) {
			EH_LOG_ERR("mqtt", "%s has no %s: not a usable Paho MQTT C library", name,
				   fn_names[i]);
			dlclose(l->handle);
			memset(l, 0, sizeof(*l));
			return EH_ERR_NOENT;
		}
		/* POSIX: a function's address converts through void *. */
		memcpy(slot[i], &f, sizeof(f));
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	EH_LOG_DBG("mqtt", "loaded %s", name);
	return EH_OK;
}

eh_err eh_mqtt_lib_get(const char *name, const struct eh_mqtt_lib **out)
{
	struct eh_mqtt_lib *free_entry = NULL;
	eh_err rc = EH_ERR_NOSPC;

	EH_ASSERT(name != NULL && out != NULL);
	*out = NULL;
	if (strlen(name) >= EH_MQTT_LIB_NAME_MAX)
		return EH_ERR_INVAL;
	pthread_mutex_lock(&libs_mu);
	for (unsigned i = 0; i < LIBS_MAX; i++) {
		if (libs[i].name[0] == '\0') {
			if (free_entry == NULL)
				free_entry = &libs[i];
		} else if (strcmp(libs[i].name, name) == 0) {
			*out = &libs[i];
			rc = EH_OK;
			goto out;
		}
	}
	if (free_entry == NULL) {
		EH_LOG_ERR("mqtt", "cannot load %s: %d MQTT libraries are loaded already", name,
			   LIBS_MAX);
		goto out;
	}
	memset(free_entry, 0, sizeof(*free_entry));
	if ((rc = lib_load(free_entry, name)) == EH_OK)
		*out = free_entry;
out:
	pthread_mutex_unlock(&libs_mu);
	return rc;
}
