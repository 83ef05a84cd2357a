#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""drivers/mqtt against a real mosquitto: retained and live messages, the
v5 user property, retained status and last will, backpressure (pause), and
a broker restart in the middle of a QoS 1 stream: every message the broker
acknowledged to the publisher must reach the consumer (persistent session).

    test_mqtt.py --bin build/tests/test_eh_mqtt [--mosquitto /usr/sbin/mosquitto]
                 [--count N]

Prints the driver's figures (hand-off window: broker acked -> app durable)."""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtt_broker import Broker  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


class Consumer:
    """test_eh_mqtt run PORT: its stdout lines collected by a thread."""

    def __init__(self, exe, port, *extra):
        self.proc = subprocess.Popen([exe, "run", str(port)] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()

    def _drain_err(self):
        self.err = []
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while time.monotonic() < deadline:
                for line in self.lines:
                    if pred(line):
                        return line
                self.cv.wait(0.1)
        return None

    def count(self, prefix):
        with self.cv:
            return sum(1 for line in self.lines if line.startswith(prefix))

    def kill9(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None


def client(port, cid, clean=True):
    c = mqtt.Client(client_id=cid, clean_session=clean, protocol=mqtt.MQTTv311)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    return c


def retained(port, topic, timeout=5.0):
    got = []
    ev = threading.Event()
    c = mqtt.Client(client_id="probe-%d" % time.monotonic_ns(), protocol=mqtt.MQTTv311)

    def on_msg(_c, _u, msg):
        got.append(msg.payload.decode())
        ev.set()

    c.on_message = on_msg
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(topic, 1)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    ev.wait(timeout)
    c.loop_stop()
    c.disconnect()
    return got[0] if got else None


def publish_v5_with_prop(port, topic, payload, key, value):
    c = mqtt.Client(client_id="signer", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = (key, value)
    c.publish(topic, payload, qos=1, retain=True, properties=props).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def stream(broker, exe, count, restart_at):
    """QoS 1 stream with a broker stop/start in the middle."""
    cons = Consumer(exe, broker.port, "--window", "8", "--pause-at", "20", "--client-id", "stream",
                    "--timeout-s", "90")
    check(cons.wait_for(lambda l: l.startswith("CONNECTED"), 10) is not None,
          "stream: consumer connected")
    acked_mids = set()  # filled by paho's thread; no lock of ours (paho holds its own)
    mid_to_seq = {}
    pub = mqtt.Client(client_id="publisher", clean_session=False, protocol=mqtt.MQTTv311)
    pub.max_inflight_messages_set(50)

    def on_publish(_c, _u, mid):
        acked_mids.add(mid)

    pub.on_publish = on_publish
    pub.reconnect_delay_set(0.1, 0.5)
    pub.connect("127.0.0.1", broker.port, 30)
    pub.loop_start()
    for seq in range(count):
        if seq == restart_at:
            time.sleep(0.2)
            broker.stop()
            time.sleep(0.5)
            broker.start()
        info = pub.publish("t/in/events", '{"seq":%d}' % seq, qos=1)
        mid_to_seq[info.mid] = seq
        if seq % 50 == 0:
            time.sleep(0.01)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(acked_mids) < count:
        time.sleep(0.1)
    acked = {mid_to_seq[mid] for mid in list(acked_mids) if mid in mid_to_seq}
    n_acked = len(acked)
    pub.publish("t/ctl/stop", "stop", qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    rc = cons.wait(60)
    got = set()
    for line in cons.lines:
        parts = line.split(" ", 3)
        if line.startswith("MSG t/in/events") and len(parts) == 4:
            got.add(int(parts[3].split(":")[1].rstrip("}")))
    missing = sorted(s for s in acked if s not in got)
    print("stream: published %d, broker acked %d, consumer received %d distinct, "
          "%d lines" % (count, n_acked, len(got), cons.count("MSG t/in/events")))
    check(rc == 0, "stream: consumer stopped cleanly")
    check(n_acked >= count * 0.9, "stream: the broker acked most messages (%d)" % n_acked)
    check(not missing, "stream: every acked message received (missing %s)" % missing[:10])
    check(cons.count("DISCONNECTED") >= 1, "stream: consumer saw the broker go")
    check(cons.count("CONNECTED 1") >= 1, "stream: consumer resumed its session by itself")
    check(cons.count("PAUSED") == 1 and cons.count("RESUMED") == 1,
          "stream: pause and resume under load")
    stats = [l for l in cons.lines if l.startswith("STATS")]
    check(bool(stats), "stream: figures printed")
    if stats:
        print("stream figures: " + stats[-1])
        fig = dict(kv.split("=") for kv in stats[-1].split()[1:])
        check(int(fig["undone_max"]) <= 8, "stream: never more than the window outstanding")
    return cons


def measure(broker, exe, count, window, commit_ms):
    """No faults: how long a message the broker considers delivered waits for
    the app's group commit, and the rate the window allows."""
    cid = "measure-%d-%d" % (window, commit_ms)
    cons = Consumer(exe, broker.port, "--window", str(window), "--commit-ms", str(commit_ms),
                    "--client-id", cid, "--timeout-s", "120")
    if cons.wait_for(lambda l: l.startswith("CONNECTED"), 10) is None:
        check(False, "measure: consumer connected")
        return
    pub = client(broker.port, "measure-pub")
    pub.max_inflight_messages_set(100)
    t0 = time.monotonic()
    infos = [pub.publish("t/in/events", '{"seq":%d}' % i, qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(30)
    last = '{"seq":%d}' % (count - 1)
    cons.wait_for(lambda l: l.endswith(last), 60)
    rate = count / (time.monotonic() - t0)
    pub.publish("t/ctl/stop", "stop", qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    cons.wait(30)
    stats = [l for l in cons.lines if l.startswith("STATS")]
    got = cons.count("MSG t/in/events")
    check(got == count, "measure window=%d commit=%dms: all %d received" % (window, commit_ms,
                                                                             count))
    if stats:
        fig = dict(kv.split("=") for kv in stats[-1].split()[1:])
        print("measure window=%d commit_ms=%d: %.0f msg/s, acked-not-durable mean %.1f ms "
              "max %.1f ms, outstanding max %s, library thread waited %.0f ms" % (
                  window, commit_ms, rate, int(fig["window_mean_us"]) / 1000.0,
                  int(fig["window_max_us"]) / 1000.0, fig["undone_max"],
                  int(fig["waited_us"]) / 1000.0), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--mosquitto", default="mosquitto")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--measure", action="store_true",
                    help="also print the durability window for a few settings")
    args = ap.parse_args()

    broker = Broker(args.mosquitto).start()
    cons = None
    try:
        # Retained config with the v5 user property, published before the consumer exists.
        publish_v5_with_prop(broker.port, "t/config/webhooks/1", '{"title":"x"}',
                             "hmac-sha256", "00ff" * 16)
        cons = Consumer(args.bin, broker.port, "--timeout-s", "30")
        check(cons.wait_for(lambda l: l.startswith("CONNECTED 0"), 10) is not None,
              "basic: connected with a new session")
        line = cons.wait_for(lambda l: l.startswith("MSG t/config/webhooks/1"), 10)
        check(line == "MSG t/config/webhooks/1 %s {\"title\":\"x\"}" % ("00ff" * 16),
              "basic: retained config with its hmac-sha256 user property (%s)" % line)
        check(retained(broker.port, "t/status") == '{"state":"online"}',
              "basic: retained online status published")
        live = client(broker.port, "live")
        for i in range(5):
            live.publish("t/in/episodes", "live-%d" % i, qos=1).wait_for_publish(5)
        check(cons.wait_for(lambda l: l == "MSG t/in/episodes - live-4", 10) is not None,
              "basic: live QoS 1 messages received")
        check(cons.count("MSG t/in/episodes") == 5, "basic: each live message once")
        live.loop_stop()
        live.disconnect()
        # kill -9: the broker publishes the last will.
        cons.kill9()
        time.sleep(0.3)
        check(retained(broker.port, "t/status") == '{"state":"offline"}',
              "basic: last will sets status offline after kill -9")
        cons = None

        # MQTT 3.1.1 only (the fallback's protocol): same ingest, no user properties.
        old = Consumer(args.bin, broker.port, "--version", "4", "--client-id", "v311",
                       "--timeout-s", "30")
        check(old.wait_for(lambda l: l.startswith("CONNECTED 0"), 10) is not None,
              "3.1.1: connected")
        live = client(broker.port, "live311")
        live.publish("t/in/counters", "c-1", qos=1).wait_for_publish(5)
        live.publish("t/ctl/stop", "stop", qos=1).wait_for_publish(5)
        live.loop_stop()
        live.disconnect()
        check(old.wait(20) == 0 and "MSG t/in/counters - c-1" in old.lines,
              "3.1.1: live message received, clean stop")
        check(any(l.startswith("STATS") and "version=4" in l for l in old.lines),
              "3.1.1: the connection is MQTT 3.1.1")
        time.sleep(0.2)  # stderr is drained by a thread
        check(any("MQTT 3.1.1 cannot tell the broker the largest packet" in l
                  for l in getattr(old, "err", [])),
              "3.1.1: a warning that the broker must limit packet sizes itself")

        stream(broker, args.bin, args.count, args.count // 2)
        if args.measure:
            for window, commit_ms in ((1, 20), (16, 20), (64, 20), (16, 5)):
                measure(broker, args.bin, args.count, window, commit_ms)
    finally:
        if cons is not None:
            cons.kill9()
        broker.stop()
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
