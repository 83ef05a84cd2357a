#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, built as it ships (Release, no tests) for amd64 and,
# with the cross toolchain, arm64:
#  - the systemd unit passes `systemd-analyze verify`;
#  - control fields: Depends from dpkg-shlibdeps plus ca-certificates and
#    libpaho-mqtt1.3 (loaded by dlopen: named by EhPackage.cmake),
#    Recommends mosquitto-clients and libmicrohttpd12 (loaded by dlopen);
#    contents: binaries, unit, man pages, copyright, changelog;
#    maintainer scripts do what they must;
#  - lintian reports no errors on either .deb;
#  - install, upgrade, remove and purge on a clean Debian 12 root: a
#    debootstrap'ed bookworm chroot (cached as a tarball) where dpkg runs the
#    maintainer scripts for real and a stub systemctl stands in for PID 1
#    (this machine runs no systemd): it records each call and runs the unit's
#    ExecStart as its User=, so "running", "restarted" and "stopped" are real
#    processes.
#   test_package.sh SOURCE_DIR BUILD_DIR DAEMON_BINARY
#   EH_DEBROOT_CACHE=DIR   where the root tarball is kept (default
#                          /var/cache/edgehook-test); EH_PKG_SKIP_ROOT=1 skips
#                          the install test, EH_PKG_SKIP_ARM64=1 the arm64 build
set -u
src=$1 build=$2 bin=$3
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
tmp=$(mktemp -d)
root=$tmp/root
cleanup() {
	if [ -f "$root/run/edgehookd-stub.pid" ]; then
		kill "$(cat "$root/run/edgehookd-stub.pid")" 2>/dev/null
		sleep 0.5
	fi
	mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
	rm -rf "$tmp"
}
trap cleanup EXIT

# ==== the unit ====
sed "s|^ExecStart=/usr/sbin/edgehookd|ExecStart=$bin|" "$src/config/edgehookd.service" >"$tmp/edgehookd.service"
check "systemd-analyze verify accepts the unit" "systemd-analyze verify '$tmp/edgehookd.service' 2>'$tmp/verify.log'"
[ -s "$tmp/verify.log" ] && cat "$tmp/verify.log"
check "the unit is Type=notify with a watchdog and hardening" \
	"grep -q '^Type=notify' '$src/config/edgehookd.service' && grep -q '^WatchdogSec=' '$src/config/edgehookd.service' && grep -q '^ProtectSystem=strict' '$src/config/edgehookd.service' && grep -q '^NoNewPrivileges=yes' '$src/config/edgehookd.service'"

# The runbook's drop-in for a queue outside /var/lib (docs/OPERATING.md),
# merged with the unit: systemd accepts every line of it.
mkdir -p "$tmp/units/edgehookd.service.d"
cp "$tmp/edgehookd.service" "$tmp/units/"
sed -n "/queue-dir.conf <<'CONF'/,/^CONF/p" "$src/docs/OPERATING.md" | sed '1d;$d' \
	>"$tmp/units/edgehookd.service.d/queue-dir.conf"
check "the runbook's ReadWritePaths= drop-in verifies with the unit" \
	"grep -q '^ReadWritePaths=' '$tmp/units/edgehookd.service.d/queue-dir.conf' && SYSTEMD_UNIT_PATH='$tmp/units:' systemd-analyze verify '$tmp/units/edgehookd.service' >'$tmp/dropin.log' 2>&1 && [ ! -s '$tmp/dropin.log' ]"
[ -s "$tmp/dropin.log" ] && cat "$tmp/dropin.log"

# ==== build the packages as they ship ====
# build_deb ARCH DIR CMAKE_ARGS...: configure, build, cpack; prints the .deb
build_deb() {
	local arch=$1 dir=$2
	shift 2
	if ! { cmake -S "$src" -B "$dir" -DEH_BUILD_TESTS=OFF "$@" &&
		cmake --build "$dir" -j2 &&
		(cd "$dir" && rm -f ./*.deb && cpack -G DEB); } >"$dir.log" 2>&1; then
		tail -30 "$dir.log" >&2
		return 1
	fi
	ls "$dir"/edgehook_*_"$arch".deb
}
debs=()
amd=$(build_deb amd64 "$build/pkgtest-amd64" -DCMAKE_BUILD_TYPE=Release)
check "cpack built the amd64 .deb (Release)" "[ -f '$amd' ]"
[ -f "$amd" ] && debs+=("$amd")
if [ "${EH_PKG_SKIP_ARM64:-0}" != 1 ] && command -v aarch64-linux-gnu-gcc >/dev/null; then
	arm=$(build_deb arm64 "$build/pkgtest-arm64" -DCMAKE_BUILD_TYPE=MinSizeRel \
		-DCMAKE_TOOLCHAIN_FILE="$src/toolchains/aarch64-linux-gnu.cmake")
	check "cpack built the arm64 .deb (cross, MinSizeRel)" "[ -f '$arm' ]"
	[ -f "$arm" ] && debs+=("$arm")
else
	echo "skip arm64 package: EH_PKG_SKIP_ARM64=1 or no aarch64-linux-gnu-gcc (scripts/deps.sh cross)"
fi

# ==== fields, contents, scripts, lintian ====
for deb in "${debs[@]}"; do
	a=$(dpkg-deb -f "$deb" Architecture)
	d=$tmp/ctrl-$a
	dpkg-deb -e "$deb" "$d"
	dpkg-deb -c "$deb" >"$d.contents"
	dep=$(dpkg-deb -f "$deb" Depends)
	echo "package: $(basename "$deb") $(stat -c %s "$deb") bytes; Depends: $dep"
	check "[$a] Depends: library versions from dpkg-shlibdeps, and libpaho-mqtt1.3" \
		"echo '$dep' | grep -Eq 'libc6 \\(>= [0-9.]+\\)' && echo '$dep' | grep -Eq 'libpaho-mqtt1.3 \\(>= ' && echo '$dep' | grep -Eq 'libmbedtls14 \\(>= ' && echo '$dep' | grep -Eq 'libcjson1 \\(>= '"
	check "[$a] Depends: ca-certificates, adduser, init-system-helpers" \
		"echo '$dep' | grep -q 'ca-certificates' && echo '$dep' | grep -q 'adduser' && echo '$dep' | grep -q 'init-system-helpers'"
	# Paho and OpenSSL are loaded with dlopen() for the broker's uri (drivers/mqtt)
	dpkg-deb -x "$deb" "$d/root"
	check "[$a] edgehookd and edgehookctl link neither Paho nor OpenSSL" \
		"! readelf -d '$d/root/usr/sbin/edgehookd' '$d/root/usr/bin/edgehookctl' | grep NEEDED | grep -Eq 'libpaho|libcrypto|libssl'"
	check "[$a] no sanitizer runtime in Depends" "! echo '$dep' | grep -Eq 'libasan|libubsan'"
	# libmicrohttpd is loaded at run time, only for the HTTP listener: recommended
	check "[$a] libmicrohttpd12 recommended, not a dependency" \
		"! echo '$dep' | grep -q libmicrohttpd && [ \"\$(dpkg-deb -f '$deb' Recommends)\" = 'mosquitto-clients, libmicrohttpd12 (>= 0.9.75)' ]"
	for f in ./usr/sbin/edgehookd ./usr/bin/edgehookctl lib/systemd/system/edgehookd.service \
		./etc/edgehook/edgehookd.json ./usr/share/man/man8/edgehookd.8.gz \
		./usr/share/man/man1/edgehookctl.1.gz ./usr/share/doc/edgehook/copyright \
		./usr/share/doc/edgehook/changelog.gz; do
		check "[$a] package holds $f" "grep -q '$f' '$d.contents'"
	done
	check "[$a] conffiles lists the bootstrap file" "grep -qx /etc/edgehook/edgehookd.json '$d/conffiles'"
	for s in postinst prerm postrm; do
		check "[$a] $s is a valid sh script" "[ -x '$d/$s' ] && sh -n '$d/$s'"
	done
	check "[$a] postinst creates the system user" "grep -q 'adduser --system' '$d/postinst'"
	check "[$a] postinst enables with deb-systemd-helper" "grep -q 'deb-systemd-helper enable' '$d/postinst'"
	check "[$a] postinst starts on install, restarts on upgrade" \
		"grep -q 'action=restart' '$d/postinst' && grep -q 'action=start' '$d/postinst' && grep -q 'deb-systemd-invoke \"\$action\"' '$d/postinst'"
	check "[$a] prerm stops on remove" "grep -q 'deb-systemd-invoke stop' '$d/prerm'"
	check "[$a] postrm purges state, user and the unit's state" \
		"grep -q 'rm -rf /var/lib/edgehook' '$d/postrm' && grep -q 'deluser --system' '$d/postrm' && grep -q 'deb-systemd-helper purge' '$d/postrm'"
	lintian --no-cfg --fail-on error "$deb" >"$d.lintian" 2>&1
	lrc=$?
	check "[$a] lintian reports no errors" "[ $lrc = 0 ] && ! grep -q '^E:' '$d.lintian'"
	echo "lintian [$a]: $(grep -c '^E:' "$d.lintian") errors, $(grep -c '^W:' "$d.lintian") warnings"
	grep -E '^(E|W):' "$d.lintian"
done

# ==== install / upgrade / remove / purge on a clean Debian 12 root ====
if [ "${EH_PKG_SKIP_ROOT:-0}" = 1 ] || [ -z "$amd" ] || [ ! -f "$amd" ]; then
	echo "skip install test (EH_PKG_SKIP_ROOT=1 or no amd64 package)"
elif [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null; then
	echo "skip install test: needs root and debootstrap (scripts/deps.sh package)"
else
	cache=${EH_DEBROOT_CACHE:-/var/cache/edgehook-test}
	# The package's Depends, preinstalled: the test needs no network after
	# the first run. The tarball's name carries the list, so a new dependency
	# builds a new root once instead of failing the install offline.
	inc=ca-certificates,adduser,init-system-helpers,libpaho-mqtt1.3,libmbedtls14,libmbedx509-1
	inc=$inc,libmbedcrypto7,libcjson1,libcoap3,libmicrohttpd12
	tarball=$cache/bookworm-minbase-$(echo "$inc" | md5sum | cut -c1-8).tar
	if [ ! -f "$tarball" ]; then
		echo "building the Debian 12 root (debootstrap, once; cached in $tarball)"
		mkdir -p "$cache" "$tmp/boot"
		if debootstrap --variant=minbase --include="$inc" bookworm "$tmp/boot" \
			http://deb.debian.org/debian >"$tmp/debootstrap.log" 2>&1; then
			tar -C "$tmp/boot" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
		else
			tail -20 "$tmp/debootstrap.log"
		fi
		rm -rf "$tmp/boot"
	fi
	check "a clean Debian 12 root exists" "[ -f '$tarball' ]"
fi
if [ -n "${tarball:-}" ] && [ -f "$tarball" ]; then
	mkdir -p "$root"
	tar -C "$root" -xf "$tarball"
	mount -t proc proc "$root/proc"
	# PID 1 is not systemd here: /run/systemd/system makes the maintainer
	# scripts act as on a booted system, and the stub does what systemctl
	# would for this unit.
	# apt runs dpkg with PATH=/usr/sbin:/usr/bin:/sbin:/bin, so the stub is
	# /usr/bin/systemctl (a minbase root has none).
	mkdir -p "$root/run/systemd/system"
	[ ! -e "$root/usr/bin/systemctl" ] || { echo "FAIL the root has a systemctl"; exit 1; }
	cat >"$root/usr/bin/systemctl" <<'STUB'
#!/bin/sh
# Stand-in for systemctl in a chroot: logs every call; start runs the unit's
# ExecStart as its User= (with its StateDirectory=) in the background.
log=/run/systemctl-stub.log
pidf=/run/edgehookd-stub.pid
echo "systemctl $*" >>$log
cmd= unit=
for a in "$@"; do
	case "$a" in
	--version) echo "systemd 252 (252-stub)"; exit 0 ;;
	-*) ;;
	*) if [ -z "$cmd" ]; then cmd=$a; elif [ -z "$unit" ]; then unit=$a; fi ;;
	esac
done
unitfile() {
	for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
		[ -f "$d/$1" ] && { echo "$d/$1"; return; }
	done
}
alive() { [ -f $pidf ] && kill -0 "$(cat $pidf)" 2>/dev/null; }
start() {
	alive && return 0
	f=$(unitfile "$unit")
	[ -n "$f" ] || { echo "Unit $unit not found." >&2; return 5; }
	cmdline=$(sed -n 's/^ExecStart=//p' "$f")
	user=$(sed -n 's/^User=//p' "$f")
	state=$(sed -n 's/^StateDirectory=//p' "$f")
	mode=$(sed -n 's/^StateDirectoryMode=//p' "$f")
	[ -z "$state" ] || install -d -m "${mode:-0755}" -o "$user" -g "$user" "/var/lib/$state"
	setsid setpriv --reuid "$user" --regid "$user" --init-groups $cmdline \
		</dev/null >>/var/log/edgehookd-stub.log 2>&1 &
	echo $! >$pidf
	echo "started $!" >>$log
}
stop() {
	if alive; then
		p=$(cat $pidf)
		kill "$p"
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		echo "stopped $p" >>$log
	fi
	rm -f $pidf
}
# What systemctl enable/preset does with no preset files: link the unit
# into each WantedBy= target's .wants directory.
enable() {
	f=$(unitfile "$unit")
	[ -n "$f" ] || { echo "Unit $unit not found." >&2; return 5; }
	for t in $(sed -n 's/^WantedBy=//p' "$f"); do
		mkdir -p "/etc/systemd/system/$t.wants"
		ln -sf "$f" "/etc/systemd/system/$t.wants/$unit"
	done
}
case "$cmd" in
daemon-reload | list-units) ;;
preset | enable) enable ;;
is-enabled)
	if ls /etc/systemd/system/*.wants/"$unit" >/dev/null 2>&1; then echo enabled; exit 0; fi
	echo disabled; exit 1 ;;
is-active) if alive; then echo active; exit 0; fi; echo inactive; exit 3 ;;
start) start ;;
stop) stop ;;
restart) stop; start ;;
*) echo "stub systemctl: $cmd not supported" >&2; exit 1 ;;
esac
STUB
	chmod 755 "$root/usr/bin/systemctl"
	# The operator's bootstrap file, there before the package: no broker
	# (the daemon retries), CoAP on a free port; kept over the package's copy.
	mkdir -p "$root/etc/edgehook"
	printf '{"device_id": "pkgtest", "mqtt": {"uri": "tcp://127.0.0.1:1"}, "coap": {"port": 0},\n "queue": {"size_bytes": 1048576}}\n' \
		>"$root/etc/edgehook/edgehookd.json"
	cp "$amd" "$root/tmp/edgehook.deb"
	# The upgrade: the same package with a higher version.
	dpkg-deb -R "$amd" "$tmp/up"
	sed -i 's/^Version: .*/&+up1/' "$tmp/up/DEBIAN/control"
	dpkg-deb --root-owner-group -b "$tmp/up" "$root/tmp/edgehook-up.deb" >/dev/null
	in_root() { chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
	daemon_pid() { cat "$root/run/edgehookd-stub.pid" 2>/dev/null; }
	running_as_edgehook() {
		local p
		p=$(daemon_pid)
		[ -n "$p" ] && sleep 1 && kill -0 "$p" 2>/dev/null &&
			[ "$(awk '/^Uid:/ {print $2}' "/proc/$p/status")" = "$(in_root id -u edgehook)" ] &&
			[ "$(readlink "/proc/$p/exe")" = "$root/usr/sbin/edgehookd" ]
	}
	wants=$root/etc/systemd/system/multi-user.target.wants/edgehookd.service

	in_root apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold \
		/tmp/edgehook.deb >"$tmp/install.log" 2>&1
	check "install: apt-get install ./edgehook.deb succeeds" "in_root dpkg-query -W -f='\${Status}' edgehook | grep -q 'install ok installed'" || tail -20 "$tmp/install.log"
	check "install: system user and group edgehook" "in_root getent passwd edgehook >/dev/null && in_root getent group edgehook >/dev/null"
	check "install: the unit is enabled (multi-user.target.wants)" "[ -L '$wants' ]"
	check "install: the unit was started" "grep -q '^systemctl --quiet --system start edgehookd.service' '$root/run/systemctl-stub.log'"
	pid1=$(daemon_pid)
	check "install: edgehookd runs as user edgehook" "running_as_edgehook"
	check "install: the daemon made its queue in /var/lib/edgehook (0700, edgehook)" \
		"sleep 1; [ -f '$root/var/lib/edgehook/queue.ring' ] && [ \"\$(stat -c '%a %u' '$root/var/lib/edgehook')\" = \"700 \$(in_root id -u edgehook)\" ]"
	check "install: the operator's bootstrap file is kept" "grep -q pkgtest '$root/etc/edgehook/edgehookd.json'"

	in_root apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold \
		/tmp/edgehook-up.deb >"$tmp/upgrade.log" 2>&1
	check "upgrade: the new version is installed" "in_root dpkg-query -W -f='\${Version}' edgehook | grep -q '+up1'" || tail -20 "$tmp/upgrade.log"
	check "upgrade: restarted (a new process, running)" \
		"grep -q '^systemctl --quiet --system restart edgehookd.service' '$root/run/systemctl-stub.log' && [ \"\$(daemon_pid)\" != '$pid1' ] && running_as_edgehook"
	check "upgrade: not stopped by the old prerm" "! grep -q 'stop edgehookd' '$root/run/systemctl-stub.log'"
	check "upgrade: still enabled" "[ -L '$wants' ]"
	pid2=$(daemon_pid)

	in_root dpkg --remove edgehook >"$tmp/remove.log" 2>&1
	check "remove: stopped, the process is gone" \
		"grep -q 'stop edgehookd.service' '$root/run/systemctl-stub.log' && ! kill -0 '$pid2' 2>/dev/null"
	check "remove: binaries gone, bootstrap file and state kept" \
		"[ ! -e '$root/usr/sbin/edgehookd' ] && [ -f '$root/etc/edgehook/edgehookd.json' ] && [ -f '$root/var/lib/edgehook/queue.ring' ]"

	in_root dpkg --purge edgehook >"$tmp/purge.log" 2>&1
	check "purge: the package is gone" "! in_root dpkg-query -W -f='\${Status}' edgehook 2>/dev/null | grep -q installed"
	check "purge: no user, no group" "! in_root getent passwd edgehook >/dev/null && ! in_root getent group edgehook >/dev/null"
	check "purge: no /var/lib/edgehook, no /etc/edgehook" "[ ! -e '$root/var/lib/edgehook' ] && [ ! -e '$root/etc/edgehook' ]"
	check "purge: no enablement symlink or deb-systemd-helper state left" \
		"[ ! -e '$wants' ] && [ -z \"\$(find '$root/var/lib/systemd' '$root/etc/systemd' -name 'edgehookd*' 2>/dev/null)\" ]"
	echo "--- stub systemctl calls:"
	cat "$root/run/systemctl-stub.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
