# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the integration tests: free loopback ports, a real
mosquitto broker, a test CA, the daemon as a process, an MQTT client.
Every process started here is stopped by its PID (stop()/kill()), and
everything listens on 127.0.0.1 only."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on 127.0.0.1:%d" % port)


def wait_for(pred, timeout=10.0, step=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError("timed out waiting for " + what)


class Mosquitto:
    """A real broker on a free loopback port, with persistence so that a
    restart keeps sessions and queued QoS 1 messages."""

    def __init__(self, workdir, port=None, tls=None):
        """tls: dict(ca=, cert=, key=, require_certificate=True) adds a TLS
        listener on self.tls_port (the plain one stays for the test's own
        client)."""
        self.dir = workdir
        self.port = port or free_port()
        self.tls_port = free_port() if tls else None
        self.conf = os.path.join(workdir, "mosquitto.conf")
        self.log = os.path.join(workdir, "mosquitto.log")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("allow_anonymous true\n")
            f.write("persistence true\n")
            f.write("persistence_location %s/\n" % workdir)
            f.write("autosave_interval 1\n")
            f.write("max_queued_messages 1000000\n")
            f.write("max_inflight_messages 100\n")
            f.write("log_dest file %s\n" % self.log)
            if tls:
                f.write("listener %d 127.0.0.1\n" % self.tls_port)
                f.write("cafile %s\ncertfile %s\nkeyfile %s\n"
                        % (tls["ca"], tls["cert"], tls["key"]))
                f.write("require_certificate %s\n"
                        % ("true" if tls.get("require_certificate", True) else "false"))
            if os.geteuid() == 0:
                # As root, mosquitto would switch to user "mosquitto", which
                # cannot write its persistence file into this private dir.
                f.write("user root\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        if self.tls_port:
            wait_port(self.tls_port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def make_ca(workdir, hosts=("127.0.0.1", "localhost")):
    """A CA and a server certificate for hosts (IP and DNS SANs), made with
    the openssl CLI. Returns dict(ca=, cert=, key=)."""
    ca_key = os.path.join(workdir, "ca.key")
    ca = os.path.join(workdir, "ca.pem")
    key = os.path.join(workdir, "server.key")
    csr = os.path.join(workdir, "server.csr")
    cert = os.path.join(workdir, "server.pem")
    ext = os.path.join(workdir, "san.ext")
    sans = ",".join(("IP:" if h[0].isdigit() or ":" in h else "DNS:") + h for h in hosts)
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % sans)
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
                    "-out", ca, "-days", "2", "-subj", "/CN=edgehook test CA"], **q)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=%s" % hosts[0]], **q)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], **q)
    return {"ca": ca, "cert": cert, "key": key}


def make_leaf(workdir, ca, name, hosts=(), client=False):
    """Another certificate signed by the CA of make_ca(workdir_of_ca): a
    server certificate for hosts, or a client certificate (CN=name).
    Returns dict(cert=, key=)."""
    ca_key = os.path.join(os.path.dirname(ca), "ca.key")
    key = os.path.join(workdir, name + ".key")
    csr = os.path.join(workdir, name + ".csr")
    cert = os.path.join(workdir, name + ".pem")
    ext = os.path.join(workdir, name + ".ext")
    with open(ext, "w") as f:
        if client:
            f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
        else:
            sans = ",".join(("IP:" if h[0].isdigit() or ":" in h else "DNS:") + h for h in hosts)
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % sans)
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", csr, "-subj", "/CN=%s" % name], **q)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], **q)
    return {"cert": cert, "key": key}


def daemon_cmd():
    """The daemon's command line: EH_DAEMON (set by ctest; under the
    aarch64 build it is prefixed by the qemu emulator), split on "|"."""
    cmd = os.environ.get("EH_DAEMON")
    if not cmd:
        cmd = os.path.join(ROOT, "build", "edgehookd")
    return [c for c in cmd.split("|") if c]


def ctl_cmd():
    cmd = os.environ.get("EH_CTL")
    if not cmd:
        cmd = os.path.join(ROOT, "build", "edgehookctl")
    return [c for c in cmd.split("|") if c]


class Daemon:
    """edgehookd as a process: writes its bootstrap file, starts it, reads
    its log, kills it."""

    def __init__(self, workdir, boot):
        self.dir = workdir
        self.boot = boot
        self.conf = os.path.join(workdir, "edgehookd.json")
        self.logpath = os.path.join(workdir, "edgehookd.log")
        self.proc = None
        self.starts = 0

    def start(self, wait_ready=True, extra=()):
        with open(self.conf, "w") as f:
            json.dump(self.boot, f)
        logf = open(self.logpath, "a")
        self.mark = os.path.getsize(self.logpath)
        self.proc = subprocess.Popen(daemon_cmd() + ["-c", self.conf] + list(extra),
                                     stdout=logf, stderr=logf)
        logf.close()
        self.starts += 1
        if wait_ready:
            wait_for(lambda: "edgehookd ready" in self.log_since_start()
                     or self.proc.poll() is not None, 30, what="daemon ready")
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited %s:\n%s" % (self.proc.returncode,
                                                               self.log_since_start()))
        return self

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def log_since_start(self):
        with open(self.logpath, errors="replace") as f:
            f.seek(self.mark)
            return f.read()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise
        return self.proc.returncode


def mqtt_client(port, client_id=None, v5=True):
    import paho.mqtt.client as mqtt
    proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    c = mqtt.Client(client_id=client_id or "", protocol=proto)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_wait(client, topic, payload, qos=1, retain=False, props=None, timeout=10):
    info = client.publish(topic, payload, qos=qos, retain=retain, properties=props)
    info.wait_for_publish(timeout)
    return info.is_published()


def hmac_props(key, topic, payload):
    """MQTT v5 user property hmac-sha256 over topic NUL payload."""
    import hashlib
    import hmac
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    if isinstance(payload, str):
        payload = payload.encode()
    mac = hmac.new(key, topic.encode() + b"\0" + payload, hashlib.sha256).hexdigest()
    p = Properties(PacketTypes.PUBLISH)
    p.UserProperty = ("hmac-sha256", mac)
    return p


class Checks:
    """Counts checks and prints the plain closing line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what)
        sys.stdout.flush()
        return cond

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


class Receiver:
    """A real HTTPS webhook receiver running in a thread of the test: records
    every request (path, headers, parsed body) and answers with a status the
    test can change at any time (and a Retry-After). Counts TLS handshakes."""

    def __init__(self, certs, status=200, host="127.0.0.1"):
        import http.server
        import ssl
        import threading

        self.requests = []
        self.status = status
        self.retry_after = None
        self.delay = 0.0  # seconds before each answer (a slow receiver)
        self.handshakes = 0
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if len(body) != n:
                    return  # the sender died mid-request: nothing was delivered
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = None
                if rec.delay:
                    time.sleep(rec.delay)
                with rec.lock:
                    status = rec.status
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": doc, "raw": body, "status": status,
                                         "t": time.time()})
                self.send_response(status)
                if rec.retry_after is not None:
                    self.send_header("Retry-After", str(rec.retry_after))
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                conn = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                conn.settimeout(10)
                try:
                    conn.do_handshake()
                except (ssl.SSLError, OSError):
                    conn.close()
                    raise OSError("handshake failed")
                with rec.lock:
                    rec.handshakes += 1
                return conn, addr

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certs["cert"], certs["key"])
        self.server = Server((host, 0), Handler)
        self.server.ctx = ctx
        self.port = self.server.server_address[1]
        self.url = "https://%s:%d/hook" % (host, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self, status_ok=True):
        """Requests answered 2xx (or all when status_ok is False)."""
        with self.lock:
            return [r for r in self.requests if not status_ok or 200 <= r["status"] < 300]

    def notes(self):
        """Every notification of every 2xx batch, in arrival order."""
        out = []
        for r in self.delivered():
            out.extend(r["body"] or [])
        return out

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_scenarios(scenarios):
    """The scenarios named on the command line (all by default), each a
    function taking the Checks; one that raises is a failed check. Ends with
    the plain "N passed, N failed" line and the exit code."""
    checks = Checks()
    for name in sys.argv[1:] or list(scenarios):
        print("== " + name)
        try:
            scenarios[name](checks)
        except Exception as ex:  # a scenario that breaks is a failed check
            import traceback
            traceback.print_exc()
            checks.check(False, "%s raised %r" % (name, ex))
    checks.done()
