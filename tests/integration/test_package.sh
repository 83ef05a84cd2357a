#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The systemd unit passes `systemd-analyze verify` (with ExecStart pointed at
# the built binary), and `cpack -G DEB` in the build directory gives a
# package holding the binaries, the unit, the example config and postinst.
#   test_package.sh SOURCE_DIR BUILD_DIR DAEMON_BINARY
set -u
src=$1 build=$2 bin=$3
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/sbin/edgehookd|ExecStart=$bin|" "$src/config/edgehookd.service" >"$tmp/edgehookd.service"
check "systemd-analyze verify accepts the unit" "systemd-analyze verify '$tmp/edgehookd.service' 2>'$tmp/verify.log'"
[ -s "$tmp/verify.log" ] && cat "$tmp/verify.log"
check "the unit is Type=notify with a watchdog and hardening" \
	"grep -q '^Type=notify' '$src/config/edgehookd.service' && grep -q '^WatchdogSec=' '$src/config/edgehookd.service' && grep -q '^ProtectSystem=strict' '$src/config/edgehookd.service' && grep -q '^NoNewPrivileges=yes' '$src/config/edgehookd.service'"
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1)
deb=$(ls "$tmp"/pkg/*.deb 2>/dev/null | head -1)
check "cpack built a .deb" "[ -n '$deb' ]"
if [ -n "$deb" ]; then
	dpkg-deb -c "$deb" >"$tmp/contents"
	check "package holds edgehookd" "grep -q './usr/sbin/edgehookd' '$tmp/contents'"
	check "package holds edgehookctl" "grep -q './usr/bin/edgehookctl' '$tmp/contents'"
	check "package holds the unit" "grep -q 'lib/systemd/system/edgehookd.service' '$tmp/contents'"
	check "package holds the example config" "grep -q './etc/edgehook/edgehookd.json' '$tmp/contents'"
	dpkg-deb -e "$deb" "$tmp/ctrl"
	check "postinst creates the system user" "grep -q 'adduser --system' '$tmp/ctrl/postinst'"
	echo "package: $(basename "$deb") $(stat -c %s "$deb") bytes, arch $(dpkg-deb -f "$deb" Architecture)"
else
	cat "$tmp/cpack.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
