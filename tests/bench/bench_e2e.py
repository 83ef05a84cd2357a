# SPDX-License-Identifier: Apache-2.0
"""End-to-end benchmark: MQTT in -> filters -> durable queue -> TLS out,
measured against the broker's own ceiling in the same run.

  bench_e2e.py --daemon build-bench/edgehookd [--n 100000] [--batch 50]
               [--paho-sub build-bench/tests/bench_paho_sub] [--strace-n 20000]

Prints, for the same backlog of N notifications (the seed's compact event,
distinct ids) held by a local mosquitto for a persistent session:
  - baselines: mosquitto_sub and a bare Paho MQTTAsync subscriber that
    discards (bench_paho_sub), both QoS 1: msgs/s and CPU us per message
  - edgehookd draining it into its queue on disk and delivering batches over
    TLS to a local receiver: delivered/s, daemon CPU us per notification, the
    ratios of both to the Paho subscriber, RssAnon idle, VmHWM through the
    run, bytes written per notification
  - system calls per notification (a second drain of --strace-n under
    strace -f -ff -yy): the MQTTAsync threads' against ours, ours by call and
    by what the descriptor is (MQTT socket, HTTPS socket, queue file, eventfd)
  - latency: publish-to-receipt p50/p99 at a fixed rate (default 1000/s),
    batch 1.
All traffic stays on 127.0.0.1; every process is stopped by its PID."""
import argparse
import collections
import glob
import json
import os
import re
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


def fill_backlog(port, topic, client_id, n, payloads, first=0):
    """Publish n messages (QoS 1) for a subscriber session that is offline."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id="bench-pub-%d" % os.getpid(), protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    sent = []
    for i in range(n):
        # message ids wrap at 65,535: keep fewer than that unacknowledged
        if i >= 50000:
            sent[i - 50000].wait_for_publish(120)
        sent.append(c.publish(topic, payloads[i % len(payloads)](first + i), qos=1))
    sent[-1].wait_for_publish(120)
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


def wait_rusage(p):
    """Reap a child; its CPU time (user + system, every thread) in s."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def paho_baseline(broker, n, payloads, binary):
    """bench_paho_sub as a persistent QoS 1 session: time and CPU to drain n."""
    cid = "bench-paho"
    uri = "tcp://127.0.0.1:%d" % broker.port
    subprocess.run([binary, uri, cid, "bench/paho", "0"], check=True, timeout=30)
    fill_backlog(broker.port, "bench/paho", cid, n, payloads)
    t0 = time.time()
    p = subprocess.Popen([binary, uri, cid, "bench/paho", str(n)], stdout=subprocess.PIPE,
                         text=True)
    out = p.stdout.read()
    cpu = wait_rusage(p)
    dt = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("bench_paho_sub exited %s" % p.returncode)
    own = dict(kv.split("=") for kv in out.split())
    return n / dt, cpu, float(own["cpu_us_per_msg"])


def baseline(broker, n, payloads):
    """mosquitto_sub as a persistent QoS 1 session: time and CPU to drain n."""
    cid = "bench-bare"
    # create the session
    subprocess.run(["mosquitto_sub", "-p", str(broker.port), "-i", cid, "-c", "-q", "1",
                    "-t", "bench/bare", "-W", "1"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    fill_backlog(broker.port, "bench/bare", cid, n, payloads)
    t0 = time.time()
    p = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-i", cid, "-c", "-q", "1",
                          "-t", "bench/bare", "-C", str(n)], stdout=subprocess.DEVNULL)
    cpu = wait_rusage(p)
    dt = time.time() - t0
    return n / dt, cpu


def descr(fdtext, ports):
    """What a descriptor strace -yy printed is: mqtt, https, queue, eventfd..."""
    if "eventfd" in fdtext:
        return "eventfd"
    if "TCP" in fdtext:
        for name, port in ports.items():
            if fdtext.endswith(":%d]" % port):
                return name
        return "tcp"
    if "UNIX" in fdtext:
        return "unix"
    if "UDP" in fdtext:
        return "udp"
    for suffix in ("journal", "seen", "config", "versions"):
        if fdtext.endswith(".ring." + suffix):
            return "queue." + suffix
    if fdtext.endswith(".ring"):
        return "queue"
    if fdtext.startswith("/"):
        return "file"
    return "other"


CALL = re.compile(r"^(?:\d+ )?([a-z_0-9]+)\((\d+)?(<(?:[^\[>]*\[[^\]]*\])?[^>]*>)?")


def strace_counts(prefix, ports):
    """Per-thread strace files -> counts: by thread kind, and ours by call and
    by what the descriptor is."""
    per_kind = collections.Counter()
    ours_call = collections.Counter()
    ours_fd = collections.Counter()
    threads = {}
    files = sorted(glob.glob(prefix + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    for path in files:
        calls = []
        # the lowest id is the process's first thread; others unnamed are "other"
        name = "main" if path == files[0] else "other"
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r'PR_SET_NAME, "([^"]*)"', line)
                if m:
                    name = m.group(1)
                if line.startswith("<...") or line.startswith("+++") or line.startswith("---"):
                    continue
                m = CALL.match(line)
                if m:
                    calls.append((m.group(1), m.group(3) or ""))
        kind = "paho" if name.startswith("MQTTAsync") else "ours"
        threads[path.rsplit(".", 1)[1]] = (name, len(calls))
        per_kind[kind] += len(calls)
        if kind == "ours":
            for call, fd in calls:
                ours_call[call] += 1
                ours_fd[descr(fd[1:-1], ports) if fd else "-"] += 1
    return per_kind, ours_call, ours_fd, threads


def strace_summary(run, start, n):
    """Counts per notification of a drain, less those of a start with no backlog
    (start-up and 2 s idle), so that fixed costs are not spread over n."""
    per_kind, ours_call, ours_fd = [collections.Counter(a) for a in run[:3]]
    for a, b in zip((per_kind, ours_call, ours_fd), start[:3]):
        a.subtract(b)
    threads = run[3]
    total = sum(per_kind.values())
    path_calls = sum(v for k, v in ours_fd.items()
                     if k.startswith("queue") or k in ("eventfd", "file")) + \
        sum(v for k, v in ours_call.items() if k in ("poll", "ppoll", "epoll_wait", "epoll_pwait",
                                                     "futex", "clock_nanosleep", "nanosleep"))
    r = lambda x: round(x / n, 3)  # noqa: E731
    return {
        "syscalls_per_notification": r(total),
        "syscalls_paho_threads": r(per_kind["paho"]),
        "syscalls_ours": r(per_kind["ours"]),
        "syscalls_ours_ingest_queue": r(path_calls),
        "syscalls_ours_by_call": {k: r(v) for k, v in ours_call.most_common(12)},
        "syscalls_ours_by_fd": {k: r(v) for k, v in ours_fd.most_common()},
        "threads": {t: "%s:%d" % v for t, v in sorted(threads.items())},
        "start_up_syscalls_ours": start[0]["ours"],
        "start_up_syscalls_paho": start[0]["paho"],
        "start_up_ours_by_call": dict(start[1].most_common(6)),
        "start_up_ours_by_fd": dict(start[2].most_common(6)),
    }


def strace_drain(args, d, broker, rx, payloads, work):
    """A second drain of --strace-n notifications with the daemon under
    strace -f -ff -yy: one file per thread, named by what the thread set."""
    n = args.strace_n
    d.rx = rx
    ports = {"mqtt": broker.port, "https": rx.port}
    start = traced_start(args, d, os.path.join(work, "st0"), None, ports)
    # ids after the first drain's: the daemon would drop repeated ones
    fill_backlog(broker.port, P + "/in/events", "edgehookd-bench", n, payloads,
                 first=args.n)
    rx.requests.clear()
    run = traced_start(args, d, os.path.join(work, "st"), n, ports)
    return strace_summary(run, start, n)


def traced_start(args, d, prefix, n, ports):
    """The daemon under strace until n are delivered (None: ready, then 2 s)."""
    saved = os.environ["EH_DAEMON"]
    os.environ["EH_DAEMON"] = "|".join(["strace", "-f", "-ff", "-yy", "-qq", "-s", "16",
                                        "-o", prefix, args.daemon])
    try:
        d.start(wait_ready=n is None)
    finally:
        os.environ["EH_DAEMON"] = saved
    tracer = d.proc.pid
    if n is None:
        time.sleep(2)
    else:
        ehtest.wait_for(lambda: sum(len(r["body"]) for r in d.rx.delivered()) >= n, 900,
                        step=0.05, what="all delivered under strace")
    # The tracee is strace's child: stop it by its own PID, then reap strace.
    with open("/proc/%d/task/%d/children" % (tracer, tracer)) as f:
        child = int(f.read().split()[0])
    os.kill(child, 15)
    d.proc.wait(60)
    return strace_counts(prefix, ports)


class Results(dict):
    """Prints each figure as it is known, so an interrupted run keeps them."""

    def update(self, *a, **kw):
        new = dict(*a, **kw)
        for k, v in new.items():
            print("%-38s %s" % (k, v), flush=True)
        super().update(new)


def run(args):
    work = ehtest.tempdir("eh-bench-")
    certs = ehtest.make_ca(work)
    broker = ehtest.Mosquitto(work).start()
    rx = ehtest.Receiver(certs)
    payloads, size = make_payloads()
    results = Results()
    d = None
    try:
        base_rate, base_cpu = baseline(broker, args.n, payloads)
        paho_sub = args.paho_sub or os.path.join(os.path.dirname(args.daemon), "tests",
                                                 "bench_paho_sub")
        paho_rate, paho_cpu, paho_own_us = paho_baseline(broker, args.n, payloads, paho_sub)
        results.update(mosquitto_sub_msgs_s=round(base_rate),
                       mosquitto_sub_cpu_us_per_msg=round(base_cpu * 1e6 / args.n, 2),
                       paho_sub_msgs_s=round(paho_rate),
                       paho_sub_cpu_us_per_msg=round(paho_cpu * 1e6 / args.n, 2),
                       paho_sub_cpu_us_own_count=paho_own_us)
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
        time.sleep(3)
        idle_anon = proc_status_kib(d.proc.pid, "RssAnon")
        idle_hwm = proc_status_kib(d.proc.pid, "VmHWM")
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
        time.sleep(3)
        anon_idle_after = proc_status_kib(pid, "RssAnon")
        hwm = proc_status_kib(pid, "VmHWM")
        st = json.loads(status.get(P + "/status", b"{}") or b"{}")
        written = st.get("queue", {}).get("bytes_written", 0)
        syncs = st.get("queue", {}).get("syncs", 0)
        d.stop()
        out_rate = args.n / dt
        cpu_us = cpu * 1e6 / args.n
        paho_us = paho_cpu * 1e6 / args.n
        results.update(daemon_delivered_s=round(out_rate),
                       drain_ratio_daemon_over_paho=round(out_rate / paho_rate, 3),
                       drain_ratio_daemon_over_mosquitto_sub=round(out_rate / base_rate, 3),
                       cpu_us_per_notification=round(cpu_us, 2),
                       cpu_ratio_daemon_over_paho=round(cpu_us / paho_us, 2),
                       rss_anon_kib_idle_before=idle_anon, vm_hwm_kib_idle_before=idle_hwm,
                       rss_anon_kib_at_drained=anon, rss_anon_kib_idle_after=anon_idle_after,
                       vm_hwm_kib_through_run=hwm, rss_file_kib_at_drained=rfile,
                       bytes_written_per_notification=round(written / args.n, 1),
                       payload_bytes=size, written_per_payload_byte=round(written / args.n / size, 3),
                       fsyncs=syncs, batches=len(rx.delivered()), n=args.n, batch=args.batch)

        if args.strace_n > 0:
            results.update(strace_drain(args, d, broker, rx, payloads, work))

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
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--paho-sub", default="",
                    help="bench_paho_sub binary (default: tests/bench_paho_sub beside --daemon)")
    ap.add_argument("--strace-n", type=int, default=20000,
                    help="backlog drained under strace to count system calls (0: skip)")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--lat-n", type=int, default=5000)
    ap.add_argument("--queue-dir", default="",
                    help="where the queue file goes (e.g. /dev/shm: fsync then costs nothing)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
