#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs, from Debian's archive, what one command needs, and no more:
#   deps.sh demo      build edgehookd and run scripts/demo.sh (compiler, the
#                     libraries, mosquitto, the Python receiver, openssl)
#   deps.sh package   building and checking the .deb (dpkg-dev, fakeroot,
#                     lintian, debootstrap for the install test, systemd for
#                     systemd-analyze)
#   deps.sh test      demo + package + the native test suite (cmocka, clang
#                     and its sanitizer runtime, valgrind, libcoap3-bin)
#   deps.sh cross     the aarch64 cross build and QEMU to run its tests
#                     (gcc-aarch64-linux-gnu, qemu-user, the :arm64 -dev libraries)
#   deps.sh [all]     test + cross: what scripts/test.sh runs
#   deps.sh --list GROUP...   print the packages, install nothing
# Several groups may be named. Idempotent: when every package is present it
# does no network work.
set -euo pipefail

DEMO_PKGS=(
	build-essential cmake pkg-config
	libpaho-mqtt-dev libmbedtls-dev libcoap3-dev libcjson-dev libssl-dev libmicrohttpd-dev
	mosquitto mosquitto-clients python3 python3-aiohttp python3-paho-mqtt openssl
)
PACKAGE_PKGS=(
	dpkg-dev fakeroot lintian debootstrap systemd
)
TEST_PKGS=(
	clang clang-format libclang-rt-14-dev llvm libcmocka-dev libcoap3-bin valgrind procps iproute2 file
	tinyproxy python3-prometheus-client strace
)
CROSS_PKGS=(
	qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
)
ARM_PKGS=(
	libpaho-mqtt-dev:arm64 libmbedtls-dev:arm64 libcoap3-dev:arm64
	libcjson-dev:arm64 libcmocka-dev:arm64 libssl-dev:arm64 libmicrohttpd-dev:arm64
)

list=0
if [ "${1:-}" = --list ]; then
	list=1
	shift
fi
[ $# -gt 0 ] || set -- all
want=()
arm=0
for group in "$@"; do
	case "$group" in
	demo) want+=("${DEMO_PKGS[@]}") ;;
	package) want+=("${PACKAGE_PKGS[@]}") ;;
	test) want+=("${DEMO_PKGS[@]}" "${PACKAGE_PKGS[@]}" "${TEST_PKGS[@]}") ;;
	cross) want+=("${CROSS_PKGS[@]}" "${ARM_PKGS[@]}"); arm=1 ;;
	all)
		want+=("${DEMO_PKGS[@]}" "${PACKAGE_PKGS[@]}" "${TEST_PKGS[@]}" "${CROSS_PKGS[@]}"
			"${ARM_PKGS[@]}")
		arm=1
		;;
	*) echo "usage: deps.sh [--list] [demo|package|test|cross|all]..." >&2; exit 2 ;;
	esac
done
# One copy of each, in order.
declare -A seen=()
pkgs=()
for p in "${want[@]}"; do
	[ -n "${seen[$p]:-}" ] && continue
	seen[$p]=1
	pkgs+=("$p")
done
if [ "$list" = 1 ]; then
	printf '%s\n' "${pkgs[@]}"
	exit 0
fi

if [ "$arm" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps ($*): all ${#pkgs[@]} packages present"
	exit 0
fi
echo "deps ($*): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The broker package starts a system-wide mosquitto on :1883 on some images;
# the tests start their own on free ports and never rely on it.
echo "deps: done"
