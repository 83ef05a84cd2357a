# SPDX-License-Identifier: Apache-2.0
"""MQTT over TLS with real parts: a mosquitto started here with a TLS
listener that requires a client certificate, certificates made with the
openssl CLI, edgehookd as a process (under qemu-aarch64 in the cross build)
and a TLS webhook receiver. Usage: test_mqtt_tls.py SCENARIO [...];
scenarios: mtls (connect with a client certificate, signed config, input,
delivery), refused (untrusted CA, wrong host, rejected or missing client
certificate, verify_host false), check (--check-config loads the files)."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import Daemon, Mosquitto, Receiver, wait_for  # noqa: E402

P = "edgehook/t"
SLOW = float(os.environ.get("EH_SLOW", "1"))  # > 1 under QEMU
KEY = b"a-test-hmac-key-of-32-bytes-long"


class Pki:
    """The test's CA (which also signs the receiver's certificate), a client
    certificate it signs, and a second CA nobody trusts."""

    def __init__(self, root):
        self.dir = root
        self.ca = ehtest.make_ca(root)  # server cert for 127.0.0.1 and localhost
        self.client = ehtest.make_leaf(root, self.ca["ca"], "device-t", client=True)
        self.other_host = ehtest.make_leaf(root, self.ca["ca"], "other", ("other.example",))
        rogue = os.path.join(root, "rogue")
        os.mkdir(rogue)
        self.rogue = ehtest.make_ca(rogue)
        self.rogue_client = ehtest.make_leaf(rogue, self.rogue["ca"], "intruder", client=True)


def boot(tmp, pki, port, tls, extra=None):
    b = {"device_id": "t", "topic_prefix": P,
         "mqtt": {"uri": "mqtts://127.0.0.1:%d" % port, "keepalive_s": 5, "tls": tls},
         "queue": {"path": os.path.join(tmp, "q.ring"), "size_bytes": 4 << 20},
         "tls": {"ca_file": pki.ca["ca"]}, "coap": {"port": 0}, "log_level": "info"}
    if extra:
        b.update(extra)
    return b


def count(daemon, text):
    return daemon.log_since_start().count(text)


# ==== mtls: client certificate, signed config, input, delivery ====

def scenario_mtls(c):
    tmp = ehtest.tempdir("eh-mtls-")
    pki = Pki(tmp)
    broker = Mosquitto(tmp, tls={"ca": pki.ca["ca"], "cert": pki.ca["cert"],
                                 "key": pki.ca["key"]}).start()
    rx = Receiver(pki.ca)
    kf = os.path.join(tmp, "hmac.key")
    with open(kf, "wb") as f:
        f.write(KEY + b"\n")
    # ca_file null: the broker is checked against the top-level tls.ca_file.
    d = Daemon(tmp, boot(tmp, pki, broker.tls_port,
                         {"ca_file": None, "cert_file": pki.client["cert"],
                          "key_file": pki.client["key"]},
                         {"config_hmac_key_file": kf}))
    mq = None
    got = {}
    try:
        mq = ehtest.mqtt_client(broker.port, "test-mtls-%d" % os.getpid())
        mq.on_message = lambda cl, u, m: got.__setitem__(m.topic, m.payload)
        mq.subscribe(P + "/#", qos=1)
        d.start()
        wait_for(lambda: "connected to mqtts://" in d.log_since_start(), 20 * SLOW,
                 what="TLS connect")
        c.check(True, "daemon connected over TLS with its client certificate")
        c.check("retained config not read at start" not in d.log_since_start(),
                "the start-up snapshot of the retained config also went over TLS")
        blog = open(broker.log).read()
        c.check("as edgehookd-t" in blog,
                "the broker saw the client connect on its TLS listener")
        online = wait_for(lambda: got.get(P + "/status"), 15 * SLOW, what="status")
        c.check(b'"online"' in online, "status online published over TLS")

        t = P + "/config/webhooks/1"
        st_t = P + "/config-status/webhooks/1"
        body = json.dumps({"title": "tls", "url": rx.url + "/1", "batch_size": 1,
                           "version": 1, "filters": {"events": {}}})
        ehtest.publish_wait(mq, t, body, retain=True, props=ehtest.hmac_props(KEY, t, body))
        st = wait_for(lambda: got.get(st_t), 15 * SLOW, what="config-status")
        c.check(json.loads(st) == {"accepted": True}, "signed config accepted over TLS: %s" % st)
        got.pop(st_t, None)
        bad = json.dumps({"title": "x", "url": rx.url + "/x", "version": 2, "filters": {}})
        ehtest.publish_wait(mq, t, bad, retain=False)
        st = wait_for(lambda: got.get(st_t), 15 * SLOW, what="unsigned config-status")
        c.check(json.loads(st).get("accepted") is False, "unsigned config refused over TLS")

        with open(os.path.join(ehtest.FIXTURES, "json", "event.json")) as f:
            ev = json.load(f)[0]
        for i in range(5):
            ev = dict(ev, id="tls-%d" % i)
            ehtest.publish_wait(mq, P + "/in/events", json.dumps(ev), qos=1)
        wait_for(lambda: len(rx.notes()) >= 5, 20 * SLOW, what="deliveries")
        ids = [str(n["id"]) for n in rx.notes()]
        c.check(ids == ["tls-%d" % i for i in range(5)], "input over TLS delivered in order: %s" % ids)
        c.check(d.stop() == 0, "daemon stops cleanly")
    finally:
        try:
            d.stop()
        except Exception:
            d.kill9()
        if mq is not None:
            mq.loop_stop()
            mq.disconnect()
        rx.stop()
        broker.stop()
        if os.environ.get("EH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)


# ==== refused: each failure has its own clear line, and is retried ====

def refused_case(c, tmp, pki, name, server, tls, expect, retried=True):
    sub = os.path.join(tmp, name)
    os.mkdir(sub)
    broker = Mosquitto(sub, tls={"ca": pki.ca["ca"], "cert": server["cert"],
                                 "key": server["key"]}).start()
    d = Daemon(sub, boot(sub, pki, broker.tls_port, tls))
    try:
        d.start()
        if retried:
            wait_for(lambda: count(d, expect) >= 2, 15 * SLOW, what=name + ": two refusals")
            c.check(True, "%s: refused with \"%s\", and retried" % (name, expect))
            c.check("connected to mqtts://" not in d.log_since_start(),
                    "%s: never connected" % name)
            c.check(d.proc.poll() is None, "%s: the daemon stays up" % name)
        else:
            wait_for(lambda: expect in d.log_since_start(), 15 * SLOW, what=name)
            c.check(True, "%s: \"%s\"" % (name, expect))
    except Exception:
        print(d.log_since_start()[-3000:])
        raise
    finally:
        try:
            c.check(d.stop() == 0, "%s: stops cleanly" % name)
        except Exception:
            d.kill9()
        broker.stop()


def scenario_refused(c):
    tmp = ehtest.tempdir("eh-mtls-refused-")
    pki = Pki(tmp)
    good = {"cert_file": pki.client["cert"], "key_file": pki.client["key"]}
    try:
        # The broker's certificate is signed by a CA we do not trust.
        refused_case(c, tmp, pki, "untrusted-ca", pki.rogue, good,
                     "the broker's certificate is not signed by a CA in the CA file")
        # Signed by our CA, but for other.example while we dial 127.0.0.1.
        refused_case(c, tmp, pki, "wrong-host", pki.other_host, good,
                     "the broker's certificate does not name this host")
        # Our client certificate is signed by a CA the broker does not know.
        refused_case(c, tmp, pki, "client-rejected", pki.ca,
                     {"cert_file": pki.rogue_client["cert"], "key_file": pki.rogue_client["key"]},
                     "refused our client certificate (mqtt.tls.cert_file)")
        # No client certificate at all.
        refused_case(c, tmp, pki, "client-missing", pki.ca, {},
                     "requires a client certificate (mqtt.tls.cert_file)")
        # verify_host false: the wrong-host certificate is accepted, with a warning.
        refused_case(c, tmp, pki, "no-verify-host", pki.other_host,
                     dict(good, verify_host=False), "connected to mqtts://", retried=False)
        log = open(os.path.join(tmp, "no-verify-host", "edgehookd.log")).read()
        c.check("without a host name check (mqtt.tls.verify_host false)" in log,
                "no-verify-host: the warning is logged at start")
        # No broker at all: a TCP failure, not blamed on TLS.
        sub = os.path.join(tmp, "down")
        os.mkdir(sub)
        d = Daemon(sub, boot(sub, pki, ehtest.free_port(), good))
        try:
            d.start()
            wait_for(lambda: count(d, "failed: paho") >= 2, 15 * SLOW, what="down: retries")
            c.check("TLS to" not in d.log_since_start(),
                    "down: a refused TCP connect is not reported as a TLS failure")
        finally:
            c.check(d.stop() == 0, "down: stops cleanly")
    finally:
        if os.environ.get("EH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)


# ==== check: --check-config reads and parses the files, exit 2 naming the key ====

def scenario_check(c):
    tmp = ehtest.tempdir("eh-mtls-check-")
    pki = Pki(tmp)
    junk = os.path.join(tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    good = {"cert_file": pki.client["cert"], "key_file": pki.client["key"]}
    cases = [
        ("good files", good, None, 0, None),
        ("missing key", dict(good, key_file=os.path.join(tmp, "nope.key")), None, 2,
         "mqtt.tls.key_file: cannot read"),
        ("junk certificate", dict(good, cert_file=junk), None, 2,
         "mqtt.tls.cert_file: %s is not a PEM certificate" % junk),
        ("junk key", dict(good, key_file=junk), None, 2,
         "mqtt.tls.key_file: %s is not an unencrypted PEM private key" % junk),
        ("key of another certificate", dict(good, key_file=pki.rogue_client["key"]), None, 2,
         "mqtt.tls.key_file: %s is not the key of the certificate" % pki.rogue_client["key"]),
        ("junk CA", dict(good, ca_file=junk), None, 2,
         "mqtt.tls.ca_file: %s holds no PEM certificate" % junk),
        ("top-level CA missing", good, os.path.join(tmp, "none.pem"), 2, "tls.ca_file: cannot read"),
    ]
    try:
        for what, tls, top_ca, code, msg in cases:
            b = boot(tmp, pki, 8883, tls)
            if top_ca:
                b["tls"]["ca_file"] = top_ca
            conf = os.path.join(tmp, "boot.json")
            with open(conf, "w") as f:
                json.dump(b, f)
            r = subprocess.run(ehtest.daemon_cmd() + ["-c", conf, "--check-config"],
                               capture_output=True, text=True, timeout=60 * SLOW)
            out = r.stdout + r.stderr
            c.check(r.returncode == code and (msg is None or msg in out),
                    "%s: exit %d%s (%s)" % (what, r.returncode,
                                           "" if msg is None else ", names the key",
                                           out.strip().splitlines()[-1] if out.strip() else ""))
    finally:
        if os.environ.get("EH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)


SCENARIOS = {"mtls": scenario_mtls, "refused": scenario_refused, "check": scenario_check}

if __name__ == "__main__":
    ehtest.run_scenarios(SCENARIOS)
