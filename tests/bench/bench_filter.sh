#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_filter.sh - the hot path's cost per notification, twice: wall-clock
# (bench_filter, best of 5 runs) and instruction counts under
# valgrind --tool=callgrind (steady, machine-independent), each next to
# cJSON parse-only of the same bytes.
# usage: tests/bench/bench_filter.sh [BUILD_DIR] [ITERATIONS]
#   BUILD_DIR defaults to build-filter/release (configured as Release here
#   when missing); SRC=dir overrides the source tree.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
src=${SRC:-$here}
build=${1:-$here/build-filter/release}
iters=${2:-100}

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
make -C "$build" bench_filter >/dev/null
bin=$build/tests/bench_filter

echo "== wall clock ($(uname -m), $(nproc) cpus)"
"$bin"

echo "== callgrind: instructions per notification (${iters} x 16 inputs per phase)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for phase in none parse match cjson; do
	valgrind --tool=callgrind --callgrind-out-file="$tmp/$phase.out" \
		"$bin" "$iters" --only "$phase" >"$tmp/$phase.txt" 2>/dev/null
	# "summary: N" is the total instruction count of the run
	sed -n 's/^summary: //p' "$tmp/$phase.out" >"$tmp/$phase.ir"
done
n=$(sed -n 's/^notifications //p' "$tmp/parse.txt")
awk -v n="$n" -v none="$(cat "$tmp/none.ir")" -v parse="$(cat "$tmp/parse.ir")" \
	-v match_="$(cat "$tmp/match.ir")" -v cjson="$(cat "$tmp/cjson.ir")" 'BEGIN {
	p = (parse - none) / n; m = (match_ - none) / n; c = (cjson - none) / n
	printf "parse only          %8.0f instructions/notification\n", p
	printf "parse + match (32)  %8.0f instructions/notification\n", m
	printf "filtering adds      %8.1f %%\n", 100 * (m - p) / p
	printf "match, per webhook  %8.0f instructions\n", (m - p) / 32
	printf "cJSON parse only    %8.0f instructions/notification (%.2fx parse+match)\n", c, c / m
}'
