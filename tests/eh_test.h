/* SPDX-License-Identifier: Apache-2.0 */
/* eh_test.h - a tiny test runner: EH_TEST(name) { ... } functions, CHECK
 * macros that report file:line and keep going, and a main that runs every
 * registered test (or those named on the command line) and ends with the
 * plain line "N passed, N failed". */
#ifndef EH_TEST_H
#define EH_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eh_test_case {
	const char *name;
	void (*fn)(void);
};

#define EH_TEST_MAX 512
extern struct eh_test_case eh_test_cases[EH_TEST_MAX];
extern int eh_test_ncases;
extern int eh_test_failed_now;

#define EH_TEST(name)                                                                              \
	static void name(void);                                                                    \
	__attribute__((constructor)) static void name##_register(void)                             \
	{                                                                                          \
		if (eh_test_ncases < EH_TEST_MAX)                                                  \
			eh_test_cases[eh_test_ncases++] = (struct eh_test_case){#name, name};      \
	}                                                                                          \
	static void name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			eh_test_failed_now = 1;                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long va_ = (long long)(a), vb_ = (long long)(b);                              \
		if (va_ != vb_) {                                                                  \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__,      \
				__LINE__, #a, #b, va_, vb_);                                       \
			eh_test_failed_now = 1;                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *sa_ = (a), *sb_ = (b);                                                 \
		if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                         \
			fprintf(stderr, "  %s:%d: %s == %s failed:\n    \"%s\"\n    \"%s\"\n",     \
				__FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)",                  \
				sb_ ? sb_ : "(null)");                                             \
			eh_test_failed_now = 1;                                                    \
		}                                                                                  \
	} while (0)

/* Stop the current test at the first failure of a precondition. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		CHECK(cond);                                                                       \
		if (eh_test_failed_now)                                                            \
			return;                                                                    \
	} while (0)

/* Read a fixture file into a static-lifetime buffer owned by the caller. */
static inline size_t eh_test_read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "  cannot open fixture %s\n", path);
		exit(2);
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

#ifdef EH_TEST_MAIN
struct eh_test_case eh_test_cases[EH_TEST_MAX];
int eh_test_ncases;
int eh_test_failed_now;

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < eh_test_ncases; i++) {
		int selected = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], eh_test_cases[i].name) == 0)
				selected = 1;
		if (!selected)
			continue;
		eh_test_failed_now = 0;
		eh_test_cases[i].fn();
		if (eh_test_failed_now) {
			failed++;
			fprintf(stderr, "FAIL %s\n", eh_test_cases[i].name);
		} else {
			passed++;
			fprintf(stderr, "ok   %s\n", eh_test_cases[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
#endif /* EH_TEST_MAIN */

#endif /* EH_TEST_H */
