#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The quick start: installs what is missing, builds, then runs the whole path
# on this machine: a mosquitto broker and an HTTPS webhook receiver on free
# loopback ports, edgehookd, three webhooks configured over MQTT (the seed's
# three filter examples), and the seed's sample notifications published.
# The receiver prints every batch as it arrives. Ctrl-C stops everything.
#   EH_DEMO_SECONDS=N   stop by itself after N seconds (no Ctrl-C needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PY=/usr/bin/python3

# Only what the demo needs: no cross toolchain, clang, QEMU or valgrind.
if [ "$(id -u)" = 0 ]; then bash scripts/deps.sh demo >/dev/null; fi
echo "== building (Release) in build-demo"
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEH_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/edgehook-demo.XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	echo
	echo "== stopping (daemon, receiver, broker)"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[$i]}" 2>/dev/null || true
		wait "${pids[$i]}" 2>/dev/null || true
	done
	echo "   logs kept in $work"
}
trap cleanup EXIT INT TERM

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mqtt_port=$(port)
hook_port=$(port)

echo "== test CA and a certificate for 127.0.0.1 in $work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
	-out "$work/ca.pem" -days 2 -subj "/CN=edgehook demo CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/server.key" \
	-out "$work/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
	-out "$work/server.pem" -days 2 -extfile "$work/san.ext" 2>/dev/null

echo "== mosquitto on 127.0.0.1:$mqtt_port"
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mqtt_port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)

echo "== webhook receiver (the seed's aiohttp catcher, over TLS) on https://127.0.0.1:$hook_port/"
$PY scripts/demo_receiver.py --port "$hook_port" --cert "$work/server.pem" --key "$work/server.key" \
	2>"$work/receiver.err" > >(tee "$work/receiver.log") &
pids+=($!)

P=edgehook/demo
cat >"$work/edgehookd.json" <<JSON
{"device_id": "demo", "topic_prefix": "$P",
 "mqtt": {"uri": "tcp://127.0.0.1:$mqtt_port"},
 "queue": {"path": "$work/queue.ring", "size_bytes": 4194304},
 "tls": {"ca_file": "$work/ca.pem"},
 "coap": {"port": 0}, "log_level": "info"}
JSON
for _ in $(seq 50); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$mqtt_port),0.2)" 2>/dev/null && break
	sleep 0.1
done
echo "== edgehookd (log: $work/edgehookd.log; WebhooksManager lines shown below)"
build-demo/edgehookd -c "$work/edgehookd.json" >"$work/edgehookd.log" 2>&1 &
pids+=($!)
tail -n +1 -F "$work/edgehookd.log" 2>/dev/null | grep --line-buffered -E 'WebhooksManager|ERROR|ready' &
pids+=($!)
for _ in $(seq 100); do grep -q 'edgehookd ready' "$work/edgehookd.log" && break; sleep 0.1; done

echo "== configuring the seed's three example webhooks over MQTT (retained)"
url="https://127.0.0.1:$hook_port/"
mosquitto_pub -p "$mqtt_port" -q 1 -r -t "$P/config/webhooks/1" \
	-m "{\"title\":\"All events\",\"url\":\"$url\",\"batch_size\":10,\"filters\":{\"events\":{}}}"
mosquitto_pub -p "$mqtt_port" -q 1 -r -t "$P/config/webhooks/2" \
	-m "{\"title\":\"Opening of matched episodes\",\"url\":\"$url\",\"filters\":{\"episodes\":{\"allowed_types\":[\"episode_open\"],\"matched\":true}}}"
mosquitto_pub -p "$mqtt_port" -q 1 -r -t "$P/config/webhooks/3" \
	-m "{\"title\":\"Group 1 or 3, dossier 12 or 25\",\"url\":\"$url\",\"batch_size\":50,\"filters\":{\"events\":{\"camera_group_in\":[1,3],\"matched_dossier_in\":[12,25]}}}"
sleep 1

echo "== publishing the seed's sample notifications (compact and verbose)"
fx=tests/fixtures/json
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/events" -f "$fx/event.json"
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/events" -f "$fx/verbose/event.json"
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/episodes" -f "$fx/episode_open.json"
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/episodes" -f "$fx/episode_close.json"
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/counters" -f "$fx/counter_record.json"
# A matched event from camera group 3, dossier 25: webhooks 1 and 3 want it.
$PY - "$fx/event.json" >"$work/matched.json" <<'PY'
import json, sys
n = json.load(open(sys.argv[1]))[0]
n.update(id="4267625862518432999", matched=True, matched_dossier=25, camera_group=3, confidence=0.93)
print(json.dumps([n]))
PY
mosquitto_pub -p "$mqtt_port" -q 1 -t "$P/in/events" -f "$work/matched.json"
echo "== a burst of 120 events: batches of up to 10 for webhook 1"
$PY - "$fx/event.json" "$mqtt_port" "$P/in/events" <<'PY'
import json, sys, paho.mqtt.client as mqtt
n = json.load(open(sys.argv[1]))[0]
c = mqtt.Client(); c.connect("127.0.0.1", int(sys.argv[2])); c.loop_start()
for i in range(120):
    n["id"] = str(5000000000000000000 + i)
    c.publish(sys.argv[3], json.dumps(n), qos=1).wait_for_publish()
c.loop_stop(); c.disconnect()
PY
sleep 2
echo
echo "== batches received so far:"
grep -c '^batch' "$work/receiver.log" 2>/dev/null || true
echo "== status (retained on $P/status):"
mosquitto_sub -p "$mqtt_port" -t "$P/status" -C 1 -W 3 || true
echo
if [ -n "${EH_DEMO_SECONDS:-}" ]; then
	sleep "$EH_DEMO_SECONDS"
else
	echo "== running; publish more with: mosquitto_pub -p $mqtt_port -t $P/in/events -f $fx/event.json"
	echo "== Ctrl-C stops everything"
	wait "${pids[2]}"
fi
