# SPDX-License-Identifier: Apache-2.0
"""End-to-end benchmark: MQTT in -> filters -> durable queue -> TLS out,
measured against the broker's own ceiling in the same run.

  bench_e2e.py --daemon build-bench/edgehookd [--n 20000] [--batch 50]

Prints, for the same backlog of N notifications (the seed's compact event,
distinct ids) held by a local mosquitto for a persistent session:
  - baseline: a bare subscriber (mosquitto_sub, QoS 1) draining it: msgs/s
  - edgehookd draining it into its queue and delivering batches over TLS to a
    local receiver: in/s (queued), out/s (delivered), the ratio to baseline,
    daemon CPU us per notification, peak RSS, bytes written per notification
  - latency: publish-to-receipt p50/p99 at a fixed rate (default 1000/s),
    batch 1.
All traffic stays on 127.0.0.1; every process is stopped by its PID."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import ehtest  # noqa: E402

P = "edgehook/bench"


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / tck


def proc_status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def fill_backlog(port, topic, client_id, n, payloads):
    """Publish n messages (QoS 1) for a subscriber session that is offline."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id="bench-pub-%d" % os.getpid(), protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    last = None
    for i in range(n):
        last = c.publish(topic, payloads[i % len(payloads)](i), qos=1)
    last.wait_for_publish(120)
    time.sleep(0.5)
    c.loop_stop()
    c.disconnect()


def make_payloads():
    with open(os.path.join(ehtest.FIXTURES, "json", "event.json")) as f:
        ev = json.load(f)[0]
    ev.pop("webhook_type", None)
    text = json.dumps(ev, separators=(",", ":"))
    pre, post = text.split('"id":"4267625862518432158"')

    def mk(i):
        return '%s"id":"b%09d"%s' % (pre, i, post)

    return [mk], len(mk(0))


def baseline(broker, n, payloads):
    """mosquitto_sub as a persistent QoS 1 session: time to drain n."""
    cid = "bench-bare"
    # create the session
    subprocess.run(["mosquitto_sub", "-p", str(broker.port), "-i", cid, "-c", "-q", "1",
                    "-t", "bench/bare", "-W", "1"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    fill_backlog(broker.port, "bench/bare", cid, n, payloads)
    t0 = time.time()
    p = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-i", cid, "-c", "-q", "1",
                          "-t", "bench/bare", "-C", str(n)], stdout=subprocess.DEVNULL)
    p.wait(300)
    dt = time.time() - t0
    return n / dt, dt


def run(args):
    work = ehtest.tempdir("eh-bench-")
    certs = ehtest.make_ca(work)
    broker = ehtest.Mosquitto(work).start()
    rx = ehtest.Receiver(certs)
    payloads, size = make_payloads()
    results = {}
    d = None
    try:
        base_rate, base_dt = baseline(broker, args.n, payloads)
        boot = {"device_id": "bench", "topic_prefix": P,
                "mqtt": {"uri": "tcp://127.0.0.1:%d" % broker.port},
                "queue": {"path": os.path.join(args.queue_dir or work, "q-%d.ring" % os.getpid()),
                          "size_bytes": 64 << 20},
                "tls": {"ca_file": certs["ca"]}, "coap": {"port": 0}, "log_level": "info"}
        os.environ["EH_DAEMON"] = args.daemon
        d = ehtest.Daemon(work, boot)
        d.start()
        mq = ehtest.mqtt_client(broker.port, "bench-ctl")
        status = {}
        mq.on_message = lambda c, u, m: status.__setitem__(m.topic, m.payload)
        mq.subscribe(P + "/status", qos=1)
        ehtest.publish_wait(mq, P + "/config/webhooks/1", json.dumps(
            {"title": "bench", "url": rx.url, "batch_size": args.batch,
             "filters": {"events": {}}}), retain=True)
        time.sleep(1)
        d.stop()
        fill_backlog(broker.port, P + "/in/events", "edgehookd-bench", args.n, payloads)
        rx.requests.clear()
        t0 = time.time()
        d.start(wait_ready=False)
        pid = d.proc.pid
        cpu0 = 0.0
        ehtest.wait_for(lambda: sum(len(r["body"]) for r in rx.delivered()) >= args.n, 600,
                        step=0.02, what="all delivered")
        dt = time.time() - t0
        cpu = proc_cpu_s(pid) - cpu0
        hwm = proc_status_kib(pid, "VmHWM")
        anon = proc_status_kib(pid, "RssAnon")
        rfile = proc_status_kib(pid, "RssFile")
        time.sleep(1.5)
        st = json.loads(status.get(P + "/status", b"{}") or b"{}")
        written = st.get("queue", {}).get("bytes_written", 0)
        syncs = st.get("queue", {}).get("syncs", 0)
        d.stop()
        out_rate = args.n / dt
        results.update(baseline_msgs_s=round(base_rate), daemon_delivered_s=round(out_rate),
                       ratio=round(out_rate / base_rate, 3),
                       cpu_us_per_notification=round(cpu * 1e6 / args.n, 2),
                       peak_rss_kib=hwm, rss_anon_kib_at_end=anon, rss_file_kib_at_end=rfile,
                       bytes_written_per_notification=round(written / args.n, 1),
                       payload_bytes=size, written_per_payload_byte=round(written / args.n / size, 3),
                       fsyncs=syncs, batches=len(rx.delivered()), n=args.n, batch=args.batch)

        # Latency at a fixed rate, batch 1, against a receiver in its own
        # process (in this one, the GIL would add its own pauses).
        rdir = os.path.join(work, "rcv")
        rscript = os.path.join(os.path.dirname(HERE), "integration", "tls_receiver.py")
        subprocess.run([sys.executable, rscript, "--certdir", rdir, "--gen"], check=True)
        rec = os.path.join(work, "lat.jsonl")
        rproc = subprocess.Popen([sys.executable, rscript, "--certdir", rdir, "--record", rec],
                                 stdout=subprocess.PIPE, text=True)
        rport = int(rproc.stdout.readline().split()[1])
        d.boot["tls"] = {"ca_file": os.path.join(rdir, "ca.crt")}
        ehtest.publish_wait(mq, P + "/config/webhooks/1", json.dumps(
            {"title": "bench", "url": "https://127.0.0.1:%d/" % rport, "batch_size": 1,
             "filters": {"events": {}}}), retain=True)
        d.start()
        time.sleep(1)
        sent = {}
        pub = ehtest.mqtt_client(broker.port, "bench-lat")
        period = 1.0 / args.rate
        t_next = time.time() + 0.2
        for i in range(args.lat_n):
            now = time.time()
            if now < t_next:
                time.sleep(t_next - now)
            t_next += period
            pl = payloads[0](1000000000 + i)
            sent["b%09d" % (1000000000 + i)] = time.time()
            pub.publish(P + "/in/events", pl, qos=1)

        def received():
            out = {}
            with open(rec) as f:
                for line in f:
                    e = json.loads(line)
                    if e.get("ev") == "request":
                        for n in json.loads(e["body"]):
                            out[str(n["id"])] = e["t"]
            return out

        ehtest.wait_for(lambda: len(set(sent) & set(received())) >= args.lat_n, 60,
                        what="latency run")
        got = received()
        lats = sorted((got[i] - t) * 1000 for i, t in sent.items() if i in got)
        os.kill(rproc.pid, 15)
        rproc.wait()
        results.update(latency_rate=args.rate, latency_n=len(lats),
                       p50_ms=round(lats[len(lats) // 2], 2),
                       p99_ms=round(lats[int(len(lats) * 0.99) - 1], 2),
                       max_ms=round(lats[-1], 2))
        d.stop()
        pub.loop_stop()
        mq.loop_stop()
    finally:
        if d is not None:
            d.kill9()  # no-op when it stopped cleanly; never left running
        rx.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
        if args.queue_dir:
            for suffix in ("", ".config", ".journal", ".versions"):
                try:
                    os.unlink(os.path.join(args.queue_dir, "q-%d.ring%s" % (os.getpid(), suffix)))
                except OSError:
                    pass
    for k, v in results.items():
        print("%-34s %s" % (k, v))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--lat-n", type=int, default=5000)
    ap.add_argument("--queue-dir", default="",
                    help="where the queue file goes (e.g. /dev/shm: fsync then costs nothing)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
