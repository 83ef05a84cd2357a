# SPDX-License-Identifier: Apache-2.0
"""What TLS to the broker costs: edgehookd connects to a local mosquitto
over plain TCP and over TLS with a client certificate (P-256 keys, a
listener with require_certificate), R times each. Per mode: time from the
start of the connect to CONNACK (the daemon's log timestamps), the daemon's
CPU time until connected, its memory once connected (RssAnon, RssFile), and
a reconnect after the broker restarts. Prints a table; used for
docs/BENCHMARKS.md.

  /usr/bin/python3 tests/bench/bench_mqtt_tls.py --daemon build-rel/edgehookd [--runs 10]
"""
import argparse
import datetime
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import ehtest  # noqa: E402
from ehtest import Daemon, Mosquitto, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def stamp(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK


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
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode, k):
        v = [r[k] for r in res[mode] if k in r]
        return statistics.median(v) if v else float("nan")

    print("figure (median of %d runs)        tcp://     mqtts:// (client cert)" % a.runs)
    for k, label in (("connect_ms", "connect -> CONNACK, ms"),
                     ("reconnect_ms", "reconnect -> CONNACK, ms"),
                     ("cpu_ms", "daemon CPU until connected, ms"),
                     ("reconnect_cpu_ms", "daemon CPU for a reconnect, ms"),
                     ("anon", "RssAnon once connected, KiB"),
                     ("file", "RssFile once connected, KiB"),
                     ("hwm", "VmHWM once connected, KiB")):
        print("%-34s %10.1f %12.1f" % (label, med("tcp", k), med("tls", k)))


if __name__ == "__main__":
    main()
