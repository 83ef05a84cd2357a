#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/deps.sh installs what a command needs: the quick-start demo pulls
# no cross toolchain, clang, QEMU, valgrind or packaging tools; the test
# suite still gets everything it runs.
#   test_deps.sh SOURCE_DIR
set -u
src=$1
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
demo=$(bash "$src/scripts/deps.sh" --list demo 2>&1)
all=$(bash "$src/scripts/deps.sh" --list test cross 2>&1)
has() { printf '%s\n' "$1" | grep -qx -- "$2"; }
check "deps.sh --list demo names the build and the demo's parts" \
	'has "$demo" cmake && has "$demo" libpaho-mqtt-dev && has "$demo" mosquitto && has "$demo" python3-aiohttp'
for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross libpaho-mqtt-dev:arm64 qemu-user clang valgrind lintian debootstrap libcmocka-dev; do
	check "the demo does not install $p" '! has "$demo" "$p"'
	check "the test suite installs $p" 'has "$all" "$p"'
done
check "demo.sh asks for the demo group only" \
	"grep -Eq 'scripts/deps.sh demo( |\$|>)' '$src/scripts/demo.sh' && ! grep -Eq 'scripts/deps.sh *(>|\$|all|test|cross)' '$src/scripts/demo.sh'"
check "test.sh asks for the test and cross groups" "grep -q 'groups=(test cross)' '$src/scripts/test.sh'"
check "an unknown group is a usage error" "! bash '$src/scripts/deps.sh' --list frob >/dev/null 2>&1"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
