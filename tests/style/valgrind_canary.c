/* SPDX-License-Identifier: Apache-2.0 */
/* valgrind_canary.c - faults on purpose, so the valgrind_canary_* tests can
 * show that the flags the valgrind_* tests use turn a definite leak or a
 * jump on an uninitialised value into a failing exit status, and leave a
 * clean run passing. Usage: valgrind_canary ok|leak|uninit */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* volatile: the compiler may not drop the allocation or the read. */
static void *volatile kept;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ok";

	if (strcmp(mode, "leak") == 0) {
		kept = malloc(64);
		kept = NULL; /* the only pointer is gone: definitely lost */
	} else if (strcmp(mode, "uninit") == 0) {
		int *p = malloc(sizeof(*p));
		int *volatile vp = p;
		if (p == NULL)
			return 2;
		if (*vp > 0) /* conditional jump on an uninitialised value */
			puts("positive");
		free(p);
	} else {
		int *p = calloc(1, sizeof(*p));
		free(p);
	}
	puts(mode);
	return 0;
}
