# SPDX-License-Identifier: Apache-2.0
"""edgehookctl over MQTT (CONTRACT 9.6) against a real mosquitto and a real
edgehookd: status, webhook list/get/set/rm, tail, exit codes. The tool is
given the daemon's own bootstrap file. Usage: test_ctl_mqtt.py plain|signed|tls."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import Checks, Daemon, Mosquitto, Receiver, wait_for  # noqa: E402

P = "edgehook/t"
SLOW = float(os.environ.get("EH_SLOW", "1"))


class Env:
    def __init__(self, name, extra=None):
        self.dir = ehtest.tempdir("eh-ctl-%s-" % name)
        self.certs = ehtest.make_ca(self.dir)
        self.broker = Mosquitto(self.dir).start()
        self.rx = Receiver(self.certs)
        boot = {"device_id": "t", "topic_prefix": P,
                "mqtt": {"uri": "tcp://127.0.0.1:%d" % self.broker.port, "keepalive_s": 5},
                "queue": {"path": os.path.join(self.dir, "q.ring"), "size_bytes": 1 << 20},
                "tls": {"ca_file": self.certs["ca"]}, "coap": {"port": 0}}
        boot.update(extra or {})
        self.daemon = Daemon(self.dir, boot)

    def ctl(self, *args, stdin=None, timeout=None):
        t = timeout or 30 * SLOW
        p = subprocess.run(ehtest.ctl_cmd() + ["-c", self.daemon.conf] + list(args),
                           input=stdin, capture_output=True, text=True, timeout=t)
        return p.returncode, p.stdout, p.stderr

    def file(self, name, doc):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def close(self):
        try:
            self.daemon.stop()
        except Exception:
            self.daemon.kill9()
        self.rx.stop()
        self.broker.stop()
        if os.environ.get("EH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)


def hook(e, title="Doors"):
    return {"title": title, "url": e.rx.url, "filters": {}}


def plain(c):
    e = Env("plain")
    try:
        e.daemon.start()
        rc, out, err = e.ctl("status")
        c.check(rc == 0 and json.loads(out).get("state") == "online",
                "status prints P/status (rc %d: %s)" % (rc, err.strip()))

        rc, out, err = e.ctl("webhook", "set", "3", e.file("w3.json", hook(e)))
        c.check(rc == 0 and "accepted" in err, "set accepted: exit 0 (rc %d: %s)" % (rc, err))

        rc, out, err = e.ctl("webhook", "set", "3", e.file("w3.json", hook(e)), "--timeout", "3")
        c.check(rc == 0 and "unchanged, accepted" in err,
                "set of the bytes the daemon runs: its retained answer, exit 0 (rc %d: %s)"
                % (rc, err))

        bad = hook(e, "Bad")
        bad["filters"] = {"events": {"camera_in": ["a"]}}
        rc, out, err = e.ctl("webhook", "set", "4", e.file("w4.json", bad))
        c.check(rc == 1 and "filters.events.camera_in[0]" in err,
                "set refused: exit 1 and the error's path printed (rc %d: %s)" % (rc, err))

        rc, out, err = e.ctl("webhook", "set", "5", "-", stdin=json.dumps(hook(e, "Stdin")))
        c.check(rc == 0, "set from standard input (rc %d: %s)" % (rc, err))

        rc, out, err = e.ctl("webhook", "set", "6", e.file("broken.json", "{\"title\":"))
        c.check(rc == 2 and "not JSON" in err, "set with a bad file: exit 2 (rc %d)" % rc)

        rc, out, err = e.ctl("webhook", "get", "3")
        c.check(rc == 0 and json.loads(out)["title"] == "Doors" and "accepted" in err,
                "get prints the retained config (rc %d: %s)" % (rc, out))
        rc, out, err = e.ctl("webhook", "get", "99")
        c.check(rc == 1, "get of an unset webhook: exit 1 (rc %d)" % rc)

        rc, out, err = e.ctl("webhook", "list")
        rows = [ln.split("\t") for ln in out.splitlines()[1:]]
        ids = [r[0] for r in rows]
        c.check(rc == 0 and ids == ["3", "4", "5"], "list: ids 3 4 5 (%r)" % ids)
        c.check(rows and rows[0][1:4] == ["yes", "accepted", "Doors"] and rows[0][4] == e.rx.url,
                "list row 3: active, accepted, title, url (%r)" % (rows[:1],))
        c.check(len(rows) > 1 and rows[1][2] == "refused(1)",
                "list row 4: refused (%r)" % (rows[1:2],))

        rc, out, err = e.ctl("tail", "--count", "2")
        lines = out.splitlines()
        c.check(rc == 0 and len(lines) == 2 and all("/state {" in ln for ln in lines),
                "tail --count 2: two state lines (rc %d: %r)" % (rc, lines))

        # Live: the two retained states, then the change a delivery makes.
        tail = subprocess.Popen(ehtest.ctl_cmd() + ["-c", e.daemon.conf, "tail", "--count", "3"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = [tail.stdout.readline(), tail.stdout.readline()]
            with open(os.path.join(ehtest.FIXTURES, "json", "event.json")) as f:
                ev = json.load(f)[0]
            mq = ehtest.mqtt_client(e.broker.port, "test-ctl-%d" % os.getpid())
            ehtest.publish_wait(mq, P + "/in/events", json.dumps(dict(ev, id="live-1")))
            mq.loop_stop()
            mq.disconnect()
            out, err = tail.communicate(timeout=20 * SLOW)
        except Exception:
            os.kill(tail.pid, 9)
            tail.wait()
            raise
        live = out.splitlines()
        c.check(tail.returncode == 0 and len(first) == 2 and len(live) == 1
                and live[0].startswith(P + "/webhooks/") and "/state {" in live[0],
                "tail prints a state change as it comes (rc %s: %r)" % (tail.returncode, live))

        rc, out, err = e.ctl("webhook", "rm", "5")
        c.check(rc == 0 and "deleted" in err, "rm: exit 0 (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "get", "5")
        c.check(rc == 1, "get after rm: exit 1 (rc %d)" % rc)
        rc, out, err = e.ctl("webhook", "rm", "5")
        c.check(rc == 1, "rm of an unset webhook: exit 1 (rc %d)" % rc)

        rc, out, err = e.ctl("webhook", "get", "x")
        c.check(rc == 2, "a bad id: exit 2 (rc %d)" % rc)
        rc, out, err = e.ctl("webhook", "set", "--help")
        c.check(rc == 0 and "usage" in out, "--help: exit 0 (rc %d)" % rc)

        e.daemon.stop()
        rc, out, err = e.ctl("webhook", "set", "7", e.file("w7.json", hook(e)), "--timeout", "2")
        c.check(rc == 3, "no daemon to answer: exit 3 (rc %d: %s)" % (rc, err.strip()))
        e.broker.stop()
        rc, out, err = e.ctl("status", "--timeout", "2")
        c.check(rc == 3 and "cannot connect" in err,
                "broker stopped: exit 3 (rc %d: %s)" % (rc, err.strip()))
    finally:
        e.close()


def signed(c):
    d = ehtest.tempdir("eh-ctl-key-")
    kf = os.path.join(d, "hmac.key")
    with open(kf, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    e = Env("signed", {"config_hmac_key_file": kf})
    try:
        e.daemon.start()
        rc, out, err = e.ctl("webhook", "set", "1", e.file("w1.json", hook(e)))
        c.check(rc == 0 and "accepted" in err,
                "signed set without version: accepted (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "set", "1", e.file("w1b.json", hook(e, "Doors 2")))
        c.check(rc == 0, "signed set again: accepted (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "get", "1")
        doc = json.loads(out) if rc == 0 else {}
        c.check(doc.get("version") == 2 and doc.get("title") == "Doors 2",
                "get: version 2 taken from the last retained one (%r)" % doc)
        stale = hook(e, "Stale")
        stale["version"] = 1
        rc, out, err = e.ctl("webhook", "set", "1", e.file("w1c.json", stale))
        c.check(rc == 1 and "version" in err, "a stale version: refused, exit 1 (rc %d: %s)"
                % (rc, err))
        # The broker now retains the refused version 1; the daemon runs 2.
        rc, out, err = e.ctl("webhook", "set", "1", e.file("w1d.json", hook(e, "Doors 3")))
        c.check(rc == 0 and "refused" not in err,
                "signed set after a refused one: version 3, accepted (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "get", "1")
        doc = json.loads(out) if rc == 0 else {}
        c.check(doc.get("version") == 3, "get: version 3 (%r)" % doc)
        rc, out, err = e.ctl("webhook", "rm", "1")
        c.check(rc == 0, "signed rm: exit 0 (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "get", "1")
        c.check(rc == 1, "get after signed rm: exit 1 (rc %d: %s)" % (rc, out))
    finally:
        e.close()
        shutil.rmtree(d, ignore_errors=True)


def tls(c):
    """mqtts:// with a client certificate (mosquitto requires one), signed
    mode: the tool takes the TLS files and the key from the bootstrap."""
    d = ehtest.tempdir("eh-ctl-pki-")
    kf = os.path.join(d, "hmac.key")
    with open(kf, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    ca = ehtest.make_ca(d)
    client = ehtest.make_leaf(d, ca["ca"], "device-t", client=True)
    e = Env("tls")
    e.broker.stop()
    e.broker = Mosquitto(e.dir, tls={"ca": ca["ca"], "cert": ca["cert"], "key": ca["key"]})
    e.broker.start()
    e.daemon.boot["mqtt"] = {"uri": "mqtts://127.0.0.1:%d" % e.broker.tls_port,
                             "keepalive_s": 5,
                             "tls": {"ca_file": ca["ca"], "cert_file": client["cert"],
                                     "key_file": client["key"]}}
    e.daemon.boot["config_hmac_key_file"] = kf
    try:
        e.daemon.start()
        wait_for(lambda: "connected to mqtts://" in e.daemon.log_since_start(), 20 * SLOW,
                 what="TLS connect")
        rc, out, err = e.ctl("status")
        c.check(rc == 0 and '"online"' in out, "status over mqtts:// (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "set", "2", e.file("w2.json", hook(e)))
        c.check(rc == 0 and "accepted" in err,
                "signed set over mqtts:// accepted (rc %d: %s)" % (rc, err))
        rc, out, err = e.ctl("webhook", "list")
        c.check(rc == 0 and "\n2\tyes\taccepted\tDoors\t" in out, "list over mqtts:// (%r)" % out)
        e.daemon.stop()
        e.daemon.boot["mqtt"]["tls"] = {"ca_file": ca["ca"]}  # no client certificate
        with open(e.daemon.conf, "w") as f:
            json.dump(e.daemon.boot, f)
        rc, out, err = e.ctl("status", "--timeout", "3")
        c.check(rc == 3, "the broker refuses the tool without a certificate: exit 3 (rc %d: %s)"
                % (rc, err.strip()))
    finally:
        e.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    c = Checks()
    {"plain": plain, "signed": signed, "tls": tls}[sys.argv[1]](c)
    c.done()
