#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# test_coap.py - the CoAP endpoint against libcoap's own coap-client, on 127.0.0.1.
#   test_coap.py SERVE_BINARY COAP_CLIENT
# SERVE_BINARY is tests/unit/test_eh_coap_serve.c built: it runs eh_coap in an eh_loop with
# fake handlers that record every accepted body. Every process started here is stopped by
# its PID. Prints "N passed, N failed" and exits non-zero on any failure.
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVE, CLIENT = sys.argv[1], sys.argv[2]
failed = []
passed = 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed.append(name)
        print("FAIL " + name + (": " + detail if detail else ""))


def free_udp_port():
    # Below the kernel's ephemeral range: libcoap binds with SO_REUSEADDR, so a
    # coap-client given the server's port as its own source port would talk to itself.
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, lo - 12000), lo)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise SystemExit("no free UDP port")


def start_server(workdir, max_body=0, pad=0):
    port = free_udp_port()
    log = os.path.join(workdir, "serve.log")
    with open(log, "w") as err:
        p = subprocess.Popen([SERVE, str(port), workdir, str(max_body), str(pad)],
                             stdout=subprocess.PIPE, stderr=err, text=True)
    p.log = log
    ready, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if ready else ""
    if not line.startswith("READY"):
        stop(p)
        raise SystemExit("server did not start: %r" % line)
    return p, "coap://127.0.0.1:%d" % port


def stop(p):
    """SIGTERM by PID; the server must exit 0 (under ASan/LSan a leak makes it non-zero)."""
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    out = p.stdout.read() if p.stdout else ""
    ok = p.returncode == 0
    check("server %d stops cleanly (exit 0, nothing leaked)" % p.pid, ok,
          "exit %s" % p.returncode)
    if not ok:
        print(open(p.log).read()[-3000:])
    return out


def coap(*args, body=None):
    """Run coap-client to completion; body (bytes) is sent from a file, as coap-client
    reads only part of a large stdin. Returns (stdout+stderr text, stdout bytes without
    the newline coap-client appends)."""
    with tempfile.NamedTemporaryFile() as f:
        if body is not None:
            f.write(body)
            f.flush()
            args = ("-f", f.name) + args
        r = subprocess.run([CLIENT, "-B", "5"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
    raw = r.stdout[:-1] if r.stdout.endswith(b"\n") else r.stdout
    return (r.stdout + r.stderr).decode("utf-8", "replace"), raw


def recorded(workdir):
    return sorted(f for f in os.listdir(workdir) if f.startswith("ingest-"))


def main():
    with tempfile.TemporaryDirectory() as wd:
        srv, u = start_server(wd)
        try:
            run_main_server(wd, u)
        finally:
            stats = stop(srv)
            print("  server: " + stats.strip().replace("\n", " | "))
        # A small max_body: a body one byte over it is refused before the handler.
        with tempfile.TemporaryDirectory() as wd2:
            srv, u = start_server(wd2, max_body=64)
            try:
                out, _ = coap("-m", "post", "-e", "{" + "x" * 63 + "}", u + "/in/events")
                check("over max_body: 4.13", "4.13" in out, out)
                out, _ = coap("-m", "post", "-e", "{" + "x" * 62 + "}", u + "/in/events")
                check("at max_body: accepted", "4.13" not in out and len(recorded(wd2)) == 1,
                      out)
            finally:
                stop(srv)
        # A status larger than one datagram comes back whole through Block2.
        with tempfile.TemporaryDirectory() as wd3:
            srv, u = start_server(wd3, pad=5000)
            try:
                _, raw = coap(u + "/status")
                check("block-wise GET /status: whole body",
                      raw.startswith(b'{"accepted":0,"pad":"abc') and raw.endswith(b'"}')
                      and len(raw) == len('{"accepted":0,"pad":""}') + 5000, repr(raw[:60]))
            finally:
                stop(srv)
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


def run_main_server(wd, u):
    out, _ = coap(u + "/.well-known/core")
    check("discovery lists the resources",
          all(x in out for x in ("</status>", "obs", "</in/events>", "</in/episodes>",
                                 "</in/counters>", "ct=50")), out)

    _, raw = coap(u + "/status")
    check("GET /status returns the figures", raw == b'{"accepted":0,"pad":""}', repr(raw))

    _, raw = coap(u + "/webhooks/3")
    check("GET /webhooks/3", raw == b'{"id":3,"state":"delivering"}', repr(raw))
    out, _ = coap(u + "/webhooks/4")
    check("GET /webhooks/4: 4.04", "4.04" in out, out)
    out, _ = coap(u + "/nothing/here")
    check("unknown path: 4.04", "4.04" in out, out)
    out, _ = coap("-m", "put", "-e", "{}", u + "/status")
    check("PUT /status: 4.05", "4.05" in out, out)
    out, _ = coap(u + "/in/events")
    check("GET /in/events: 4.05", "4.05" in out, out)

    # Observe: a subscriber hears the figure change after a POST. stdbuf makes coap-client
    # write each answer at once, so its first line says the subscription is in place.
    obs = subprocess.Popen(["stdbuf", "-o0", CLIENT, "-B", "8", "-s", "6", "-w",
                            u + "/status"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    obs_first = b""
    try:
        if select.select([obs.stdout], [], [], 10)[0]:
            obs_first = obs.stdout.readline()
        check("observe: first answer carries the current figures",
              obs_first == b'{"accepted":0,"pad":""}\n', repr(obs_first))
        bodies = {}
        for i, (kind, t) in enumerate((("events", 0), ("episodes", 1), ("counters", 2))):
            body = ('{"n":%d,"kind":"%s","text":"caf\u00e9 \\"q\\""}' % (i, kind)).encode()
            out, _ = coap("-m", "post", "-t", "50", u + "/in/" + kind, body=body)
            check("POST /in/%s: 2.04 (no error printed)" % kind, out.strip() == "", out)
            bodies[t] = body
        files = recorded(wd)
        same = len(files) == 3 and all(
            open(os.path.join(wd, f), "rb").read() == bodies[int(f[-5])] for f in files)
        check("POSTed bodies reach ingest byte for byte", same, str(files))
        try:
            obs_out = obs.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            os.kill(obs.pid, signal.SIGKILL)
            obs_out = obs.communicate()[0].decode()
    finally:
        if obs.poll() is None:
            os.kill(obs.pid, signal.SIGKILL)
            obs.wait()
    lines = [x for x in obs_out.splitlines() if x.startswith("{")]
    check("observe: an update after the figures changed, with the latest figures",
          len(lines) >= 1 and lines[-1] == '{"accepted":3,"pad":""}', obs_out)
    check("observe: at most one update per second (3 changes in < 1 s -> <= 2 updates)",
          1 <= len(lines) <= 2, obs_out)

    out, _ = coap("-m", "post", "-e", "not json", u + "/in/events")
    check("bad JSON: 4.00 with a diagnostic naming the problem",
          "4.00" in out and "expected a JSON object at byte 0" in out, out)
    out, _ = coap("-m", "post", "-e", '{"force":"full"}', u + "/in/events")
    check("queue full: 5.03", "5.03" in out, out)
    out, _ = coap("-m", "post", "-e", '{"force":"toobig"}', u + "/in/events")
    check("handler says too big: 4.13", "4.13" in out, out)
    out, _ = coap("-m", "post", "-t", "0", "-e", '{}', u + "/in/events")
    check("content-format text/plain: 4.15", "4.15" in out, out)
    out, _ = coap("-m", "post", "-e", '{}', u + "/in/alerts")
    check("POST to an unknown type: 4.04", "4.04" in out, out)

    # Block-wise (Block1) POST of a body far larger than a datagram.
    n0 = len(recorded(wd))
    big = b'{"blob":"' + bytes((0x41 + i % 26) for i in range(120000)) + b'"}'
    out, _ = coap("-m", "post", "-b", "1024", u + "/in/events", body=big)
    files = recorded(wd)
    got = open(os.path.join(wd, files[-1]), "rb").read() if len(files) == n0 + 1 else b""
    check("block-wise POST of 120 kB arrives whole", got == big, "%s %d" % (out, len(got)))
    over = b'{"blob":"' + b"x" * 262200 + b'"}'
    out, _ = coap("-m", "post", "-b", "1024", u + "/in/events", body=over)
    check("block-wise POST over 262144 bytes: 4.13", "4.13" in out and
          len(recorded(wd)) == n0 + 1, out)


if __name__ == "__main__":
    sys.exit(main())
