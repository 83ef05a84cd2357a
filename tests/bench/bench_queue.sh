#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_queue.sh - the queue's figures on the file backend (throughput
# against plain pwrite+fdatasync, bytes and syncs per second at 100 and
# 1000 records/s, mount of a full 64 MiB ring), best of RUNS runs for the
# throughput lines. Files go to DIR (default: the build directory): put it
# on the file system the daemon will use; a tmpfs makes fdatasync free.
# usage: tests/bench/bench_queue.sh [BUILD_DIR] [DIR] [RUNS]
#   BUILD_DIR defaults to build-queue/rel (configured as Release here when
#   missing); SRC=dir overrides the source tree.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
src=${SRC:-$here}
build=${1:-$here/build-queue/rel}
dir=${2:-$build}
runs=${3:-3}

if [ ! -f "$build/CMakeCache.txt" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
make -C "$build" bench_queue >/dev/null
echo "== $(uname -m), $(nproc) cpus, $(df -T "$dir" | awk 'NR==2 {print $2}') at $dir"
i=1
while [ "$i" -le "$runs" ]; do
	echo "-- run $i"
	"$build/tests/bench_queue" "$dir"
	i=$((i + 1))
done
