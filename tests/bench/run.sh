#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# All benchmarks, on one Release build (build-bench), printing figures and
# ratios against baselines measured in the same run. docs/BENCHMARKS.md
# records a run. Usage: tests/bench/run.sh [filter|queue|delivery|resolve|render|journal|e2e|http ...]
# RUNS=3 repeats each one (the machine may be shared: give ranges).
# e2e drains 100,000 notifications through mosquitto_sub, bench_paho_sub and
# edgehookd, then 20,000 more with the daemon under strace (needs strace).
set -euo pipefail
cd "$(dirname "$0")/../.."
b=build-bench
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$b" -j"$(nproc)" >/dev/null
what=${*:-filter queue delivery resolve render journal e2e}
runs=${RUNS:-1}
for w in $what; do
for r in $(seq "$runs"); do
	echo "######## $w ($r/$runs)"
	case $w in
	filter) bash tests/bench/bench_filter.sh "$b" 100 ;;
	queue) bash tests/bench/bench_queue.sh "$b" ;;
	delivery) bash tests/bench/bench_delivery.sh "$b" 20000 ;;
	resolve) "$b/tests/bench_resolve" 2000 ;;
	render) "$b/tests/bench_render" 20000 ;;
	journal)
		"$b/tests/bench_journal" both 200000
		# Every system call, not only the write-class ones: whole process,
		# set-up included (divide by the entries).
		for d in pwrite mmap; do
			strace -c -f -o "/tmp/bench-journal-strace.$$" "$b/tests/bench_journal" "$d" 200000 >/dev/null
			echo "strace -c -f, $d, 200000 entries:"
			grep -E "total$" "/tmp/bench-journal-strace.$$"
			grep -E "pwrite|ftruncate|mmap|fallocate" "/tmp/bench-journal-strace.$$" || true
			rm -f "/tmp/bench-journal-strace.$$"
		done ;;
	e2e) /usr/bin/python3 tests/bench/bench_e2e.py --daemon "$b/edgehookd" ;;
	http) /usr/bin/python3 tests/bench/bench_http.py --daemon "$b/edgehookd" ;;
	*) echo "unknown benchmark $w" >&2; exit 2 ;;
	esac
done
done
