# SPDX-License-Identifier: Apache-2.0
"""What TLS to the broker costs: edgehookd connects to a local mosquitto
over plain TCP and over TLS with a client certificate (P-256 keys, a
listener with require_certificate), R times each. Per mode: time from the
start of the connect to CONNACK (the daemon's log timestamps), the daemon's
CPU time until connected, its memory once connected (RssAnon, RssFile), a
reconnect after the broker restarts, and the bare handshake (Python's ssl
client against the same listener, no MQTT) to separate TLS from Paho's own
scheduling. Prints a table; used for
docs/BENCHMARKS.md.

  /usr/bin/python3 tests/bench/bench_mqtt_tls.py --daemon build-rel/edgehookd [--runs 10]
"""
import argparse
import datetime
import os
import shutil
import socket
import ssl
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import ehtest  # noqa: E402
from ehtest import Daemon, Mosquitto, wait_for  # noqa: E402



def stamp(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def cpu_ms(pid):
    """CPU time of every live thread of pid (schedstat: nanoseconds, not ticks)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def one(tmp, pki, broker, mode, i, reconnect):
    sub = os.path.join(tmp, "%s-%d" % (mode, i))
    os.mkdir(sub)
    if mode == "tcp":
        mqtt = {"uri": "tcp://127.0.0.1:%d" % broker.port}
    else:
        mqtt = {"uri": "mqtts://127.0.0.1:%d" % broker.tls_port,
                "tls": {"cert_file": pki["client"]["cert"], "key_file": pki["client"]["key"]}}
    boot = {"device_id": "b%d" % i, "topic_prefix": "bench/%s%d" % (mode, i), "mqtt": mqtt,
            "queue": {"path": os.path.join(sub, "q.ring"), "size_bytes": 4 << 20},
            "tls": {"ca_file": pki["ca"]["ca"]}, "coap": {"port": 0}, "log_level": "debug"}
    d = Daemon(sub, boot)
    try:
        d.start()
        wait_for(lambda: "connected to " in d.log_since_start(), 30, what="connect")
        lines = d.log_since_start().splitlines()
        t0 = next(stamp(x) for x in lines if "connect started" in x)
        t1 = next(stamp(x) for x in lines if "] connected to " in x)
        time.sleep(0.3)
        out = {"connect_ms": (t1 - t0) * 1000.0, "cpu_ms": cpu_ms(d.proc.pid),
               "anon": status_kib(d.proc.pid, "RssAnon"), "file": status_kib(d.proc.pid, "RssFile"),
               "hwm": status_kib(d.proc.pid, "VmHWM")}
        if reconnect:
            before = cpu_ms(d.proc.pid)
            n = d.log_since_start().count("] connected to ")
            broker.stop()
            broker.start()
            wait_for(lambda: d.log_since_start().count("] connected to ") > n, 60,
                     what="reconnect")
            lines = d.log_since_start().splitlines()
            t0 = [stamp(x) for x in lines if "connect started" in x][-1]
            t1 = [stamp(x) for x in lines if "] connected to " in x][-1]
            out["reconnect_ms"] = (t1 - t0) * 1000.0
            out["reconnect_cpu_ms"] = cpu_ms(d.proc.pid) - before
        return out
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    os.environ["EH_DAEMON"] = os.path.abspath(a.daemon)
    tmp = ehtest.tempdir("eh-bench-mqtt-tls-")
    ca = ehtest.make_ca(tmp)
    pki = {"ca": ca, "client": ehtest.make_leaf(tmp, ca["ca"], "bench-client", client=True)}
    broker = Mosquitto(tmp, tls={"ca": ca["ca"], "cert": ca["cert"], "key": ca["key"]}).start()
    res = {"tcp": [], "tls": []}
    try:
        for i in range(a.runs):
            for mode in ("tcp", "tls"):
                res[mode].append(one(tmp, pki, broker, mode, i, reconnect=(i < 3)))
        bare = {"tcp": [], "tls": []}
        ctx = ssl.create_default_context(cafile=ca["ca"])
        ctx.load_cert_chain(pki["client"]["cert"], pki["client"]["key"])
        for i in range(50):
            t0 = time.perf_counter()
            s = socket.create_connection(("127.0.0.1", broker.port))
            bare["tcp"].append((time.perf_counter() - t0) * 1000.0)
            s.close()
            t0 = time.perf_counter()
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", broker.tls_port)),
                                server_hostname="127.0.0.1")
            bare["tls"].append((time.perf_counter() - t0) * 1000.0)
            version = s.version()
            s.close()
        for mode in ("tcp", "tls"):
            for r in res[mode]:
                r["bare_ms"] = statistics.median(bare[mode])
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode, k):
        v = [r[k] for r in res[mode] if k in r]
        return statistics.median(v) if v else float("nan")

    print("figure (median of %d runs)        tcp://     mqtts:// (client cert)" % a.runs)
    print("bare handshake protocol: %s" % version)
    for k, label in (("bare_ms", "bare TCP connect / TLS handshake, ms"),
                     ("connect_ms", "connect -> CONNACK, ms"),
                     ("reconnect_ms", "reconnect -> CONNACK, ms"),
                     ("cpu_ms", "daemon CPU until connected, ms"),
                     ("reconnect_cpu_ms", "daemon CPU for a reconnect, ms"),
                     ("anon", "RssAnon once connected, KiB"),
                     ("file", "RssFile once connected, KiB"),
                     ("hwm", "VmHWM once connected, KiB")):
        print("%-34s %10.1f %12.1f" % (label, med("tcp", k), med("tls", k)))


if __name__ == "__main__":
    main()
