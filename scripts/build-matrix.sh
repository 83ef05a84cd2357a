#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compile every build type with both compilers, warnings as errors: GCC and
# clang x Debug, Release, RelWithDebInfo, MinSizeRel, Asan (ten builds, tests
# and benchmarks included, nothing run). Optimisation levels change what the
# compilers warn about (-Wmaybe-uninitialized appears only with -O2 -g), so
# one build type passing says little about the others. Too slow for every CI
# run (about 3 minutes a build on 2 cores): run it before a release or after a
# compiler upgrade, and record the result in docs/CHECKS.md.
#   scripts/build-matrix.sh                  all ten, in build-matrix/<cc>-<type>
#   EH_MATRIX_CC="gcc" EH_MATRIX_TYPES="RelWithDebInfo" scripts/build-matrix.sh
#   EH_MATRIX_KEEP=0 ...                     remove each build folder when it passed
# Ends with one line per build and "N passed, N failed"; exit 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${EH_MATRIX_JOBS:-2}
ccs=${EH_MATRIX_CC:-gcc clang}
types=${EH_MATRIX_TYPES:-Debug Release RelWithDebInfo MinSizeRel Asan}
out=build-matrix
mkdir -p "$out"

pass=0
fail=0
lines=()
for cc in $ccs; do
	if ! command -v "$cc" >/dev/null; then
		lines+=("$cc: not installed")
		fail=$((fail + 1))
		continue
	fi
	ver=$("$cc" -dumpfullversion 2>/dev/null || "$cc" -dumpversion)
	for type in $types; do
		dir=$out/$cc-$type
		log=$out/$cc-$type.log
		t0=$(date +%s)
		result=ok
		if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" \
			-DEH_WERROR=ON >"$log" 2>&1; then
			result="configure failed"
		elif ! cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
			result="build failed"
		fi
		t=$(($(date +%s) - t0))
		if [ "$result" = ok ]; then
			pass=$((pass + 1))
			[ "${EH_MATRIX_KEEP:-1}" = 1 ] || rm -rf "$dir"
		else
			fail=$((fail + 1))
			grep -E 'error|Error' "$log" | head -20
		fi
		lines+=("$cc $ver $type: $result (${t} s, log $log)")
		echo "${lines[-1]}"
	done
done

echo
echo "=== Build matrix"
printf '%s\n' "${lines[@]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
