#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench_delivery.sh - start the TLS receiver on 127.0.0.1 (certificates made
# with openssl in a temporary directory), run bench_delivery against it,
# stop the receiver by its PID. Usage: bench_delivery.sh BUILD_DIR [NOTES]
set -eu
build=${1:?usage: bench_delivery.sh BUILD_DIR [NOTES]}
notes=${2:-4000}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
fifo="$dir/port"
mkfifo "$fifo"
/usr/bin/python3 "$here/../integration/tls_receiver.py" --certdir "$dir/certs" --quiet \
	--stats "$dir/stats.json" >"$fifo" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
read -r word port <"$fifo"
[ "$word" = PORT ] || { echo "receiver did not start" >&2; exit 1; }
"$build/tests/bench_delivery" "$port" "$dir/certs/ca.crt" "$notes"
kill "$pid"
wait "$pid" 2>/dev/null || true
echo "receiver: $(cat "$dir/stats.json")"
