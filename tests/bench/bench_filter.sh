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

echo "== callgrind per input (instructions per notification)"
printf '%-3s %10s %12s %10s\n' "in" "parse" "parse+32" "cJSON"
ir() { # phase input -> instructions per notification above the baseline
	valgrind --tool=callgrind --callgrind-out-file="$tmp/x.out" \
		"$bin" "$iters" --only "$1" --input "$2" >/dev/null 2>&1
	sed -n 's/^summary: //p' "$tmp/x.out"
}
for k in $(seq 0 15); do
	base=$(ir none "$k")
	p=$(ir parse "$k")
	m=$(ir match "$k")
	c=$(ir cjson "$k")
	awk -v k="$k" -v n="$iters" -v b="$base" -v p="$p" -v m="$m" -v c="$c" \
		'BEGIN { printf "%-3d %10.0f %12.0f %10.0f\n", k, (p-b)/n, (m-b)/n, (c-b)/n }'
done
echo "inputs 0-7: the seed samples as shipped (compact: event, episode_open,"
echo "episode_close, counter_record; then verbose); 8-15: the same minified"
