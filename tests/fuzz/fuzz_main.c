/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_main.c - replays files (or every file of a directory) through a
 * libFuzzer entry point, so the corpus runs as a regression test in builds
 * without libFuzzer (gcc, the aarch64 build under QEMU). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char fuzz_buf[1 << 21]; /* largest replayed input: 2 MiB */

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return 1;
	}
	n = fread(fuzz_buf, 1, sizeof(fuzz_buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(fuzz_buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "cannot stat %s\n", argv[i]);
			bad++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad += replay_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char p[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
			bad += replay_file(p);
			files++;
		}
		if (d)
			closedir(d);
	}
	/* Also the empty input, which every target must survive. */
	LLVMFuzzerTestOneInput(fuzz_buf, 0);
	printf("%d passed, %d failed\n", files + 1 - bad, bad);
	return bad ? 1 : 0;
}
