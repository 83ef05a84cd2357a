#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole suite, as CI runs it: install what is missing (Debian packages),
# build natively with ASan+UBSan and run every test, then cross-build for
# aarch64 and run the same tests under qemu-aarch64. Ends with a summary per
# build and the plain line "N passed, N failed" over both.
#   scripts/test.sh            everything
#   EH_SKIP_AARCH64=1 ...      native only (quicker, while developing)
# A clang build of every target (compiled, not run) sits between the two.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

groups=(test cross)
[ "${EH_SKIP_AARCH64:-0}" = 1 ] && groups=(test)
if [ "$(id -u)" = 0 ]; then
	bash scripts/deps.sh "${groups[@]}" || { echo "deps: install failed"; exit 1; }
else
	sudo -n true 2>/dev/null && sudo bash scripts/deps.sh "${groups[@]}" ||
		echo "deps: not root; assuming packages are installed"
fi

declare -A passed failed status
total_pass=0
total_fail=0

# run_build NAME BUILD_DIR CMAKE_ARGS...
run_build() {
	local name=$1 dir=$2
	shift 2
	echo "=== [$name] configure + build in $dir"
	if ! cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1; then
		mkdir -p "$dir"; cat "$dir.configure.log"
		status[$name]="configure failed"; failed[$name]=1; passed[$name]=0; return
	fi
	if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
		grep -E 'error|Error' "$dir.build.log" | head -40
		status[$name]="build failed"; failed[$name]=1; passed[$name]=0; return
	fi
	echo "=== [$name] ctest"
	local log="$dir/ctest.log"
	(cd "$dir" && ctest --output-on-failure -j2 -LE 'fuzz|long' 2>&1) | tee "$log" | grep -vE '^\s*(Start|Test +#)' | tail -n 60
	local line
	line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -1)
	local total fails
	total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
	fails=$(echo "$line" | sed -E 's/.*, ([0-9]+) tests failed.*/\1/')
	[ -n "$total" ] || total=0
	[ -n "$fails" ] || fails=1
	passed[$name]=$((total - fails))
	failed[$name]=$fails
	status[$name]="$line"
}

# compile_only NAME BUILD_DIR CMAKE_ARGS...: every target must build (no run).
compile_only() {
	local name=$1 dir=$2
	shift 2
	echo "=== [$name] configure + build in $dir"
	if cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 &&
		cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
		status[$name]="every target built"; passed[$name]=1; failed[$name]=0
	else
		grep -E 'error|Error' "$dir.build.log" "$dir.configure.log" 2>/dev/null | head -40
		status[$name]="build failed"; passed[$name]=0; failed[$name]=1
	fi
}

run_build native build -DCMAKE_BUILD_TYPE=Asan -DEH_WERROR=ON
# The same tree with clang: its warnings differ from GCC's, and -Werror holds both.
compile_only clang build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DEH_WERROR=ON
if [ "${EH_SKIP_AARCH64:-0}" != 1 ]; then
	run_build aarch64 build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
		-DCMAKE_BUILD_TYPE=MinSizeRel -DEH_WERROR=ON
fi

echo
echo "=== Summary"
for name in native clang aarch64; do
	[ -n "${status[$name]:-}" ] || continue
	echo "[$name] ${status[$name]}"
	total_pass=$((total_pass + passed[$name]))
	total_fail=$((total_fail + failed[$name]))
done
for bin in build/edgehookd build-aarch64/edgehookd; do
	[ -x "$bin" ] || continue
	strip_tool=strip
	case "$bin" in build-aarch64/*) strip_tool=aarch64-linux-gnu-strip ;; esac
	$strip_tool -o "$bin.stripped" "$bin"
	echo "size: $(file -b "$bin" | cut -d, -f1-2): stripped edgehookd $(stat -c %s "$bin.stripped") bytes ($bin; libraries are shared and not counted)"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
