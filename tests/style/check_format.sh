#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every C file of the tree as clang-format (the repo's .clang-format) writes
# it: a change that was not formatted fails here, with the file named and the
# command that fixes it. Exit 77 (skipped) when clang-format is missing.
set -uo pipefail
root=${1:?usage: check_format.sh ROOT}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped"; exit 77; }
bad=0
while IFS= read -r -d '' f; do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f   (fix: clang-format -i $f)"
		bad=$((bad + 1))
	fi
done < <(git ls-files -z -- '*.c' '*.h' 2>/dev/null || find app drivers platform tests -name '*.[ch]' -print0)
echo "$bad file(s) not formatted"
[ "$bad" = 0 ]
