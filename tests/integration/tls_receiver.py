#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# tls_receiver.py - a scripted HTTPS webhook receiver for delivery tests and
# benchmarks. Generates its CA and certificates with the openssl CLI
# (--gen), serves TLS on 127.0.0.1 (port printed as "PORT <n>"), answers the
# k-th request with the k-th action of --script, counts TLS handshakes
# (and resumptions), and appends every handshake and request (headers and
# body) to --record as JSON lines. With --secret it verifies the Standard
# Webhooks signature itself, independently of the daemon's code. With
# --client-ca it requires a client certificate signed by the test CA and
# records its CN.
#
# Actions: 200 | <code> | <code>:ra=<Retry-After value> | close (200 with
# Connection: close, then close) | drop (a keep-alive 200, then close anyway) |
# reset (half a response, then RST) | stall (never answer) | chunked (200 with
# a chunked body). Requests beyond the script get 200.
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           404: "Not Found", 405: "Not Allowed", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

lock = threading.Lock()
tls_local = threading.local()  # the SNI name seen by this connection's handshake
counter = {"requests": 0, "handshakes": 0, "resumed": 0, "conns": 0}


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def gen_certs(d):
    """CA, a good server cert (IP 127.0.0.1 + localhost), a wrong-host cert
    from the same CA, a cert from an unrelated CA, an RSA server cert, and
    client certificates from the CA ("client") and the other CA."""
    if os.path.exists(os.path.join(d, "done")):
        return
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    for ca in ("ca", "otherca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", p(ca + ".key"), "-out", p(ca + ".crt"), "-days", "30",
                "-subj", "/CN=edgehook test " + ca)
    leaves = {
        "good": ("ca", "/CN=edgehook receiver", "IP:127.0.0.1,DNS:localhost"),
        "wronghost": ("ca", "/CN=wrong.example", "DNS:wrong.example,IP:10.9.9.9"),
        "untrusted": ("otherca", "/CN=edgehook receiver", "IP:127.0.0.1,DNS:localhost"),
        "rsa": ("ca", "/CN=edgehook rsa receiver", "IP:127.0.0.1,DNS:localhost"),
        "client": ("ca", "/CN=edgehook device", "DNS:gw-01"),
        "otherclient": ("otherca", "/CN=edgehook other device", "DNS:gw-02"),
    }
    for name, (ca, subj, san) in leaves.items():
        key = ["-newkey", "rsa:2048"] if name == "rsa" else \
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        openssl("req", *key, "-nodes",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", subj)
        with open(p(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % san)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"), "-CAkey",
                p(ca + ".key"), "-CAcreateserial", "-out", p(name + ".crt"), "-days", "30",
                "-extfile", p(name + ".ext"))
    open(p("done"), "w").close()


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def write(self, obj):
        if self.f is None:
            return
        with lock:
            self.f.write(json.dumps(obj, sort_keys=True) + "\n")
            self.f.flush()


def read_request(s, buf):
    """One request from s: (method, path, headers, body, rest) or None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    n = int(headers.get("Content-Length", "0"))
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return method, path, headers, buf[:n], buf[n:]


def verify_signature(secret_b64, headers, body):
    key = base64.b64decode(secret_b64)
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    signed = ("%s.%s." % (msg_id, ts)).encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [x.split(",", 1)[1] for x in headers.get("webhook-signature", "").split()
            if x.startswith("v1,")]
    return any(hmac.compare_digest(want, s) for s in sigs)


def respond(s, action, quiet):
    code, ra = 200, None
    if action == "drop":  # a normal keep-alive 200, then the server hangs up anyway
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        return False
    if action in ("close", "reset", "stall", "chunked"):
        kind = action
    else:
        kind = "status"
        part, _, opt = action.partition(":")
        code = int(part)
        if opt.startswith("ra="):
            ra = opt[3:]
    if kind == "stall":
        while s.recv(65536):
            pass
        return False
    if kind == "reset":
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        raw = s if not hasattr(s, "unwrap") else s
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if kind == "chunked":
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"2\r\nok\r\n0\r\n\r\n")
        return True
    body = b"" if quiet else ("%d" % code).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (code, REASONS.get(code, "Status"),
                                                          len(body))
    if ra is not None:
        head += "Retry-After: %s\r\n" % ra
    if kind == "close":
        head += "Connection: close\r\n"
    s.sendall(head.encode() + b"\r\n" + body)
    return kind != "close"


def write_stats(path):
    with lock:
        snap = dict(counter)
        with open(path + ".tmp", "w") as f:
            json.dump(snap, f)
        os.replace(path + ".tmp", path)


def serve_conn(conn, ctx, args, rec, script):
    with lock:
        counter["conns"] += 1
        cid = counter["conns"]
    try:
        s = ctx.wrap_socket(conn, server_side=True) if ctx else conn
    except (ssl.SSLError, OSError) as e:
        rec.write({"ev": "handshake_failed", "conn": cid, "error": str(e)[:200]})
        conn.close()
        return
    if ctx:
        sni = getattr(tls_local, "sni", None)
        reused = bool(getattr(s, "session_reused", False))
        with lock:
            counter["handshakes"] += 1
            counter["resumed"] += int(reused)
        client = None
        peer = s.getpeercert() if args.client_ca else None
        if peer:
            client = dict(x[0] for x in peer.get("subject", ())).get("commonName")
        if not args.quiet:
            rec.write({"ev": "handshake", "conn": cid, "reused": reused,
                       "version": s.version(), "sni": sni, "client_cn": client})
        if args.stats:
            write_stats(args.stats)
    buf = b""
    try:
        while True:
            r = read_request(s, buf)
            if r is None:
                break
            method, path, headers, body, buf = r
            with lock:
                k = counter["requests"]
                counter["requests"] += 1
            action = script[k] if k < len(script) else "200"
            if not args.quiet:
                entry = {"ev": "request", "t": time.time(), "n": k, "conn": cid, "method": method,
                         "path": path, "headers": headers,
                         "body": body.decode("utf-8", "replace"), "action": action}
                if args.secret:
                    entry["sig_ok"] = verify_signature(args.secret, headers, body)
                rec.write(entry)
            if not respond(s, action, args.quiet):
                if action == "close" and ctx:
                    try:
                        s = s.unwrap()  # close_notify: the session stays resumable
                    except (ssl.SSLError, OSError):
                        pass
                break
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--certdir", required=True)
    ap.add_argument("--gen", action="store_true", help="only create the certificates")
    ap.add_argument("--cert", default="good", choices=["good", "wronghost", "untrusted"])
    ap.add_argument("--plain", action="store_true", help="no TLS")
    ap.add_argument("--script", default="")
    ap.add_argument("--record", default="")
    ap.add_argument("--secret", default="", help="base64 key: verify webhook-signature")
    ap.add_argument("--quiet", action="store_true", help="record nothing per request")
    ap.add_argument("--stats", default="", help="file rewritten with counters on each handshake")
    ap.add_argument("--client-ca", action="store_true",
                    help="require a client certificate signed by the test CA")
    args = ap.parse_args()
    gen_certs(args.certdir)
    if args.gen:
        return
    ctx = None
    if not args.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(args.certdir, args.cert + ".crt"),
                            os.path.join(args.certdir, args.cert + ".key"))
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(os.path.join(args.certdir, "ca.crt"))

        def on_sni(sslobj, name, sslctx):
            tls_local.sni = name
        ctx.sni_callback = on_sni
    def on_term(signum, frame):
        if args.stats:
            write_stats(args.stats)
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    script = [a for a in args.script.split(",") if a]
    rec = Recorder(args.record)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    port = ls.getsockname()[1]
    listeners = [ls]
    try:  # the same port on ::1, so "localhost" works whichever address comes first
        l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        l6.bind(("::1", port))
        l6.listen(64)
        listeners.append(l6)
    except OSError:
        pass

    def accept_loop(sock):
        while True:
            conn, _ = sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve_conn, args=(conn, ctx, args, rec, script),
                             daemon=True).start()
    for extra in listeners[1:]:
        threading.Thread(target=accept_loop, args=(extra,), daemon=True).start()
    print("PORT %d" % port, flush=True)
    accept_loop(ls)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
