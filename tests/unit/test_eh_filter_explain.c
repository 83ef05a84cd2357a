/* SPDX-License-Identifier: Apache-2.0 */
/* test_eh_filter_explain.c - `edgehookctl explain`: exit codes 0 / 1 / 2,
 * webhook objects and bare filters, the type taken from webhook_type or
 * event_type or --type, and what it prints. */
#define EH_TEST_MAIN
#include "eh_test.h"

#include <fcntl.h>
#include <unistd.h>

#include "eh_ctl.h"

static char dir[64];
static char out[8192];

static const char *put_file(const char *name, const char *text)
{
	static char paths[8][128];
	static int k;
	char *p = paths[k++ % 8];
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/eh_explain_XXXXXX");
		if (mkdtemp(dir) == NULL)
			exit(2);
	}
	snprintf(p, 128, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	fputs(text, f);
	fclose(f);
	return p;
}

/* Run explain with stdout captured into out. */
static int run(const char *hook, const char *msg, const char *type)
{
	char *argv[6] = {"explain", (char *)hook, (char *)msg, NULL, NULL, NULL};
	int argc = 3;
	if (type != NULL) {
		argv[argc++] = "--type";
		argv[argc++] = (char *)type;
	}
	char cap[128];
	snprintf(cap, sizeof(cap), "%s/stdout", dir);
	fflush(stdout);
	int saved = dup(1);
	int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	int rc = eh_ctl_explain(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	eh_test_read_file(cap, out, sizeof(out));
	return rc;
}

EH_TEST(explain_exit_codes_and_output)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/json/event.json", EH_FIXTURES);
	const char *hook = put_file("hook.json", "{\"title\":\"Doors\",\"url\":\"https://h/\","
						 "\"filters\":{\"events\":{\"camera_group_in\":[1],"
						 "\"matched\":false}}}");
	CHECK_EQ(run(hook, path, NULL), 0);
	CHECK(strncmp(out, "matched: events 4267625862518432158 (event_created)\n", 52) == 0);
	CHECK(strstr(out, "filters.events.camera_group_in [1] vs camera_group = 1: holds") != NULL);

	const char *bare = put_file("bare.json", "{\"events\":{\"matched\":true}}");
	CHECK_EQ(run(bare, path, NULL), 1);
	CHECK(strstr(out, "not matched") == out);
	CHECK(strstr(out, "filters.events.matched true vs matched = false: FAILS") != NULL);

	/* Type from event_type when webhook_type is absent; --type overrides. */
	const char *co = put_file("co.json", "{\"id\":5,\"event_type\":\"counter_record\","
					     "\"faces_count\":2}");
	const char *fc = put_file("fc.json", "{\"counters\":{\"faces_gte\":2}}");
	CHECK_EQ(run(fc, co, NULL), 0);
	CHECK_EQ(run(fc, co, "events"), 2); /* counter_record is not an events type */
	CHECK_EQ(run(fc, co, "bogus"), 2);

	/* A webhook without filters takes everything. */
	const char *nof = put_file("nof.json", "{\"title\":\"All\",\"url\":\"https://h/\"}");
	CHECK_EQ(run(nof, co, NULL), 0);

	/* Bad filters and bad messages: exit 2. */
	const char *badf = put_file("badf.json", "{\"events\":{\"camera_in\":[\"x\"]}}");
	CHECK_EQ(run(badf, co, NULL), 2);
	const char *badm = put_file("badm.json", "[{\"id\":1,\"event_type\":\"counter_record\"},");
	CHECK_EQ(run(fc, badm, NULL), 2);
	CHECK_EQ(run(fc, "/nonexistent/x.json", NULL), 2);
	char *argv[] = {"explain", (char *)fc};
	CHECK_EQ(eh_ctl_explain(2, argv), 2);
}
