#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs, from Debian's archive, everything the build and the tests need
# (native amd64 and the aarch64 cross-build with its :arm64 libraries).
# Idempotent: when every package is present it does no network work.
set -euo pipefail

NATIVE_PKGS=(
	build-essential cmake pkg-config clang libclang-rt-14-dev llvm
	libpaho-mqtt-dev libmbedtls-dev libcoap3-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
	mosquitto mosquitto-clients libcoap3-bin
	python3 python3-aiohttp python3-paho-mqtt python3-prometheus-client openssl valgrind procps iproute2 file
	qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	dpkg-dev fakeroot systemd tinyproxy
)
ARM_PKGS=(
	libpaho-mqtt-dev:arm64 libmbedtls-dev:arm64 libcoap3-dev:arm64
	libcjson-dev:arm64 libcmocka-dev:arm64 libmicrohttpd-dev:arm64
)

missing=()
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	NEED_UPDATE=1
fi
for p in "${NATIVE_PKGS[@]}" "${ARM_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#NATIVE_PKGS[@]}+${#ARM_PKGS[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The broker package starts a system-wide mosquitto on :1883 on some images;
# the tests start their own on free ports and never rely on it.
echo "deps: done"
