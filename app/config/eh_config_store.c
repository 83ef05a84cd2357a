/* SPDX-License-Identifier: Apache-2.0 */
/* eh_config_store.c - accepted config messages in one small file:
 *   "EHCS1\n" then per entry "<topic>\n<hmac or ->\n<slot>\n<len>\n<len bytes>\n"
 *   then "END <fnv1a-64 of everything before, hex>\n".
 * Rewritten whole with eh_file_replace (write, fsync, rename): a crash
 * leaves the old or the new file, never a mix. */
#include "eh_config_store.h"
#include "eh_file.h"
#include "eh_hash.h"
#include "eh_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAGIC "EHCS1\n"

/* ==== Arena ==== */

static int find(const struct eh_config_store *s, const char *topic)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->e[i].topic, topic) == 0)
			return (int)i;
	return -1;
}

/* Drop entry i and close the gap it leaves in the arena. */
static void drop(struct eh_config_store *s, unsigned i)
{
	uint32_t off = s->e[i].off, len = s->e[i].len;
	memmove(s->arena + off, s->arena + off + len, s->used - off - len);
	s->used -= len;
	memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(s->e[0]));
	s->n--;
	for (unsigned k = 0; k < s->n; k++)
		if (s->e[k].off > off)
			s->e[k].off -= len;
}

/* The file holds one value a line: a topic with a newline, or a signature
 * with anything but lowercase hex digits, would shift every later line. */
static bool line_safe(const char *topic, const char *hmac)
{
	if (strchr(topic, '\n') != NULL)
		return false;
	for (; hmac != NULL && *hmac != '\0'; hmac++)
		if (!((*hmac >= '0' && *hmac <= '9') || (*hmac >= 'a' && *hmac <= 'f')))
			return false;
	return true;
}

static eh_err add(struct eh_config_store *s, const char *topic, const uint8_t *p, size_t len,
		  const char *hmac, int slot)
{
	if (strlen(topic) >= EH_CONFIG_STORE_TOPIC ||
	    (hmac && strlen(hmac) >= EH_CONFIG_STORE_HMAC))
		return EH_ERR_INVAL;
	if (s->n >= EH_CONFIG_STORE_MAX || len > EH_CONFIG_STORE_BYTES - s->used)
		return EH_ERR_NOSPC;
	struct eh_config_store_entry *e = &s->e[s->n++];
	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	snprintf(e->hmac, sizeof(e->hmac), "%s", hmac ? hmac : "");
	e->slot = slot;
	e->off = s->used;
	e->len = (uint32_t)len;
	memcpy(s->arena + s->used, p, len);
	s->used += (uint32_t)len;
	return EH_OK;
}

/* ==== File ==== */

static eh_err save(struct eh_config_store *s)
{
	size_t n = 0, cap = sizeof(s->file);
	int w;
	memcpy(s->file, STORE_MAGIC, sizeof(STORE_MAGIC) - 1);
	n = sizeof(STORE_MAGIC) - 1;
	for (unsigned i = 0; i < s->n; i++) {
		const struct eh_config_store_entry *e = &s->e[i];
		w = snprintf((char *)s->file + n, cap - n, "%s\n%s\n%d\n%" PRIu32 "\n", e->topic,
			     e->hmac[0] ? e->hmac : "-", e->slot, e->len);
		if (w < 0 || (size_t)w >= cap - n || e->len + 1 > cap - n - (size_t)w)
			return EH_ERR_NOSPC;
		n += (size_t)w;
		memcpy(s->file + n, s->arena + e->off, e->len);
		n += e->len;
		s->file[n++] = '\n';
	}
	w = snprintf((char *)s->file + n, cap - n, "END %016" PRIx64 "\n",
		     eh_fnv1a64(EH_FNV1A64_SEED, s->file, n));
	if (w < 0 || (size_t)w >= cap - n)
		return EH_ERR_NOSPC;
	return eh_file_replace(s->path, s->file, n + (size_t)w);
}

/* One "...\n" line at *pos; NULL when missing. */
static char *line(uint8_t *buf, size_t len, size_t *pos)
{
	uint8_t *start = buf + *pos;
	uint8_t *nl = memchr(start, '\n', len - *pos);
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*pos = (size_t)(nl - buf) + 1;
	return (char *)start;
}

static eh_err parse(struct eh_config_store *s, size_t len)
{
	uint8_t *b = s->file;
	size_t pos = sizeof(STORE_MAGIC) - 1;
	const size_t tail = 21; /* "END " + 16 hex digits + "\n" */
	char hex[17], *end;

	if (len < pos + tail || memcmp(b, STORE_MAGIC, pos) != 0)
		return EH_ERR_CORRUPT;
	len -= tail; /* entries end where the checksum line starts */
	if (memcmp(b + len, "END ", 4) != 0 || b[len + tail - 1] != '\n')
		return EH_ERR_CORRUPT;
	memcpy(hex, b + len + 4, 16);
	hex[16] = '\0';
	if (strtoull(hex, &end, 16) != eh_fnv1a64(EH_FNV1A64_SEED, b, len) || *end != '\0')
		return EH_ERR_CORRUPT;
	while (pos < len) {
		char *topic = line(b, len, &pos);
		char *hmac = line(b, len, &pos);
		char *slots = line(b, len, &pos);
		char *lens = line(b, len, &pos);
		if (topic == NULL || hmac == NULL || slots == NULL || lens == NULL)
			return EH_ERR_CORRUPT;
		long slot = strtol(slots, &end, 10);
		if (*end != '\0' || slot < -1 || slot >= EH_MAX_WEBHOOKS)
			return EH_ERR_CORRUPT;
		unsigned long n = strtoul(lens, &end, 10);
		if (*end != '\0' || n > len - pos || len - pos - n < 1 || b[pos + n] != '\n')
			return EH_ERR_CORRUPT;
		if (add(s, topic, b + pos, n, strcmp(hmac, "-") == 0 ? NULL : hmac, (int)slot) !=
		    EH_OK)
			return EH_ERR_CORRUPT;
		pos += n + 1;
	}
	return EH_OK;
}

eh_err eh_config_store_open(struct eh_config_store *s, const char *path)
{
	size_t len = 0;
	s->n = 0;
	s->used = 0;
	if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path))
		return EH_ERR_INVAL;
	eh_err rc = eh_file_read_all(path, (char *)s->file, sizeof(s->file), &len);
	if (rc == EH_ERR_NOENT)
		return EH_OK;
	if (rc != EH_OK)
		return rc == EH_ERR_TOOBIG ? EH_ERR_CORRUPT : rc;
	rc = parse(s, len);
	if (rc != EH_OK) {
		s->n = 0;
		s->used = 0;
	}
	return rc;
}

bool eh_config_store_same(const struct eh_config_store *s, const char *topic,
			  const uint8_t *payload, size_t len)
{
	int i = find(s, topic);
	if (i < 0)
		return false;
	return s->e[i].len == len && memcmp(s->arena + s->e[i].off, payload, len) == 0;
}

eh_err eh_config_store_put(struct eh_config_store *s, const char *topic, const uint8_t *payload,
			   size_t len, const char *hmac, int slot)
{
	if (!line_safe(topic, hmac))
		return EH_ERR_INVAL; /* nothing changes, the file included */
	int i = find(s, topic);
	if (i >= 0)
		drop(s, (unsigned)i);
	if (len > 0) {
		eh_err rc = add(s, topic, payload, len, hmac, slot);
		if (rc != EH_OK) {
			save(s);
			return rc;
		}
	}
	return save(s);
}

unsigned eh_config_store_count(const struct eh_config_store *s)
{
	return s->n;
}

const struct eh_config_store_entry *eh_config_store_entry(const struct eh_config_store *s,
							  unsigned i, const uint8_t **payload)
{
	if (i >= s->n)
		return NULL;
	*payload = s->arena + s->e[i].off;
	return &s->e[i];
}
