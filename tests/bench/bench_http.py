# SPDX-License-Identifier: Apache-2.0
"""Daemon CPU per notification through the HTTP listener, beside the MQTT path, in the same
run and the same way: N notifications (the seed's compact event, distinct ids) in bodies of
B elements, one webhook taking every event over TLS (batch 50) to a local receiver; the
daemon's CPU time (utime + stime from /proc/PID/stat) from before the first message to the
moment the receiver has all of them.

  bench_http.py --daemon build-bench/edgehookd [--n 20000] [--per 50] [--queue-dir D]

HTTP: POST /in (each element's webhook_type) on one keep-alive connection, each answered
after its commit (one fdatasync per POST). MQTT: the same bodies published QoS 1 to
P/in/events while the daemon runs. All traffic stays on 127.0.0.1; every process is stopped
by its PID."""
import argparse
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import ehtest  # noqa: E402
from bench_e2e import proc_cpu_s, proc_status_kib  # noqa: E402

P = "edgehook/bench"


def bodies(n, per, tag, typed):
    with open(os.path.join(ehtest.FIXTURES, "json", "event.json")) as f:
        ev = json.load(f)[0]
    if not typed:
        ev.pop("webhook_type", None)
    text = json.dumps(ev, separators=(",", ":"))
    pre, post = text.split('"id":"4267625862518432158"')
    out = []
    for k in range(0, n, per):
        out.append("[" + ",".join('%s"id":"%s%09d"%s' % (pre, tag, i, post)
                                  for i in range(k, min(n, k + per))) + "]")
    return out


def one_run(args, path, work, broker, rx, certs):
    http_port = ehtest.free_port()
    boot = {"device_id": "bench", "topic_prefix": P,
            "mqtt": {"uri": "tcp://127.0.0.1:%d" % broker.port},
            "queue": {"path": os.path.join(args.queue_dir or work, "q-%d-%s.ring" % (os.getpid(), path)),
                      "size_bytes": 64 << 20},
            "tls": {"ca_file": certs["ca"]}, "coap": {"port": 0}, "log_level": "info",
            "http": {"port": http_port}}
    os.environ["EH_DAEMON"] = args.daemon
    d = ehtest.Daemon(work, boot)
    d.start()
    try:
        ehtest.wait_port(http_port)
        mq = ehtest.mqtt_client(broker.port, "bench-%s" % path)
        ehtest.publish_wait(mq, P + "/config/webhooks/1", json.dumps(
            {"title": "bench", "url": rx.url, "batch_size": 50, "filters": {"events": {}}}),
            retain=True)
        time.sleep(1.5)
        rx.requests.clear()
        msgs = bodies(args.n, args.per, path[0], typed=(path == "http"))
        pid = d.proc.pid
        cpu0 = proc_cpu_s(pid)
        t0 = time.time()
        if path == "http":
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
            for m in msgs:
                conn.request("POST", "/in", body=m, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError("POST /in -> %d" % r.status)
            conn.close()
        else:
            last = None
            for m in msgs:
                last = mq.publish(P + "/in/events", m, qos=1)
            last.wait_for_publish(120)
        t_in = time.time() - t0
        ehtest.wait_for(lambda: sum(len(r["body"]) for r in rx.delivered()) >= args.n, 600,
                        step=0.02, what="all delivered")
        dt = time.time() - t0
        cpu = proc_cpu_s(pid) - cpu0
        res = dict(path=path, n=args.n, per_body=args.per,
                   cpu_us_per_notification=round(cpu * 1e6 / args.n, 1),
                   input_s=round(t_in, 2), delivered_s=round(args.n / dt),
                   peak_rss_kib=proc_status_kib(pid, "VmHWM"))
        mq.loop_stop()
        mq.disconnect()
        return res
    finally:
        d.stop()
        if args.queue_dir:  # the ring and the files beside it
            for suffix in ("", ".config", ".journal"):
                q = boot["queue"]["path"] + suffix
                if os.path.exists(q):
                    os.unlink(q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--per", type=int, default=50)
    ap.add_argument("--queue-dir", default=None, help="e.g. /dev/shm: no disk sync cost")
    args = ap.parse_args()
    work = ehtest.tempdir("eh-bench-http-")
    certs = ehtest.make_ca(work)
    broker = ehtest.Mosquitto(work).start()
    rx = ehtest.Receiver(certs)
    try:
        for path in ("mqtt", "http"):
            print(json.dumps(one_run(args, path, work, broker, rx, certs)), flush=True)
    finally:
        rx.stop()
        broker.stop()


if __name__ == "__main__":
    main()
