#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# All benchmarks, on one Release build (build-bench), printing figures and
# ratios against baselines measured in the same run. docs/BENCHMARKS.md
# records a run. Usage: tests/bench/run.sh [filter|queue|delivery|resolve|render|e2e|http ...]
# RUNS=3 repeats each one (the machine may be shared: give ranges).
# e2e drains 100,000 notifications through mosquitto_sub, bench_paho_sub and
# edgehookd, then 20,000 more with the daemon under strace (needs strace).
set -euo pipefail
cd "$(dirname "$0")/../.."
b=build-bench
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$b" -j"$(nproc)" >/dev/null
what=${*:-filter queue delivery resolve render e2e}
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
	e2e) /usr/bin/python3 tests/bench/bench_e2e.py --daemon "$b/edgehookd" ;;
	http) /usr/bin/python3 tests/bench/bench_http.py --daemon "$b/edgehookd" ;;
	*) echo "unknown benchmark $w" >&2; exit 2 ;;
	esac
done
done
