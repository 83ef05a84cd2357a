#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon's resident memory when idle: started against a local mosquitto with
one webhook (batch 50, no filter) and a 64 MiB queue, then left alone for 3 s.
Prints RssAnon and VmHWM, the mappings holding anonymous memory (the daemon's
BSS, the heap, the libraries' relocated data), and the static objects of the
binary whose pages are resident (from /proc/<pid>/pagemap and `nm`).

Usage: bench_mem_idle.py --daemon build-rel/edgehookd [--runs 3] [--tls]

--tls: the broker is mqtts:// (mosquitto's TLS listener, the CA of the webhook
receiver; no client certificate), so the daemon loads Paho's TLS build and OpenSSL.

A page only read counts too on a kernel without a shared zero page (this
project's test machine boots with pvm_no_zero_page=1); on a stock kernel such a
page costs nothing. Figures: docs/BENCHMARKS.md."""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ehtest  # noqa: E402


def status(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def anon_mappings(pid):
    rows, cur = [], None
    for line in open("/proc/%d/smaps" % pid):
        f = line.split()
        if not f[0].endswith(":"):
            cur = line.strip()
        elif f[0] == "Anonymous:" and int(f[1]) > 0:
            rows.append((int(f[1]), cur))
    return sorted(rows, reverse=True)


def static_objects(pid, binary):
    """KiB resident per static object of binary (bss and data), largest first."""
    base = None
    for line in open("/proc/%d/maps" % pid):
        if line.rstrip().endswith(os.path.realpath(binary)):
            base = int(line.split("-")[0], 16)
            break
    out = subprocess.run(["nm", "-S", binary], capture_output=True, text=True).stdout
    res = []
    with open("/proc/%d/pagemap" % pid, "rb") as pm:
        for line in out.splitlines():
            f = line.split()
            if base is None or len(f) != 4 or f[2] not in "bBdD":
                continue
            start, size = base + int(f[0], 16), int(f[1], 16)
            n, p = 0, start & ~4095
            while p < start + size:
                pm.seek(p // 4096 * 8)
                n += struct.unpack("<Q", pm.read(8))[0] >> 63
                p += 4096
            if n:
                res.append((n * 4, size // 1024, f[3]))
    return sorted(res, reverse=True)


def one_run(daemon, tls=False):
    work = ehtest.tempdir("eh-mem-")
    certs = ehtest.make_ca(work)
    broker = ehtest.Mosquitto(work, tls=dict(certs, require_certificate=False) if tls
                              else None).start()
    rx = ehtest.Receiver(certs)
    prefix = "edgehook/bench"
    mqtt = {"uri": "tcp://127.0.0.1:%d" % broker.port}
    if tls:
        mqtt = {"uri": "mqtts://127.0.0.1:%d" % broker.tls_port, "tls": {"ca_file": certs["ca"]}}
    boot = {"device_id": "bench", "topic_prefix": prefix, "mqtt": mqtt,
            "queue": {"path": os.path.join(work, "q.ring"), "size_bytes": 64 << 20},
            "tls": {"ca_file": certs["ca"]}, "coap": {"port": 0}, "log_level": "info"}
    os.environ["EH_DAEMON"] = daemon
    d = ehtest.Daemon(work, boot)
    try:
        d.start()
        mq = ehtest.mqtt_client(broker.port, "ctl")
        hook = {"title": "b", "url": rx.url, "batch_size": 50, "filters": {"events": {}}}
        ehtest.publish_wait(mq, prefix + "/config/webhooks/1", json.dumps(hook), retain=True)
        time.sleep(3)
        pid = d.proc.pid
        return (status(pid, "RssAnon"), status(pid, "VmHWM"), anon_mappings(pid),
                static_objects(pid, daemon))
    finally:
        d.stop()
        broker.stop()
        rx.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tls", action="store_true", help="an mqtts:// broker")
    args = ap.parse_args()
    for r in range(args.runs):
        anon, hwm, maps, objs = one_run(args.daemon, args.tls)
        print("run %d: RssAnon %d KiB, VmHWM %d KiB" % (r + 1, anon, hwm))
        if r == args.runs - 1:
            for kb, m in maps[:12]:
                print("  %6d KiB anon  %s" % (kb, m[:110]))
            for kb, size, name in objs[:12]:
                print("  %6d KiB of %6d KiB resident  %s" % (kb, size, name))


if __name__ == "__main__":
    main()
