# SPDX-License-Identifier: Apache-2.0
"""Fleets of boxes (CONTRACT 9.3, docs/FLEET.md) on a real bridge: a central
mosquitto and an edge mosquitto bridged to it (`connection` / `address` /
`topic edgehook/# both`), three daemons on the edge broker sharing one fleet
prefix, each with its own device_id, topic prefix and queue. One retained
webhook published on the central broker reaches all three; a device's own
webhook with the same id wins on that device, and when it is deleted the
fleet's applies again; every device's status and config-status are read on
the central broker; a fleet webhook deleted while a daemon was away is
removed at its next start. Usage: test_fleet.py [bridge]."""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import Daemon, Mosquitto, Receiver, wait_for  # noqa: E402

SLOW = float(os.environ.get("EH_SLOW", "1"))  # > 1 under QEMU
FLEET = "edgehook/fleet/site-a"
DEVICES = ("gw-1", "gw-2", "gw-3")
INPUT_GW3 = FLEET + "/in/events"


def sample_event():
    with open(os.path.join(ehtest.FIXTURES, "json", "event.json")) as f:
        return json.load(f)[0]


def ids_at(rx, path):
    out = []
    for r in rx.delivered():
        if r["path"].endswith(path):
            out.extend(str(n["id"]) for n in (r["body"] or []))
    return out


class Site:
    """Central broker, edge broker bridged to it, a receiver, three daemons."""

    def __init__(self):
        self.dir = ehtest.tempdir("eh-fleet-")
        os.makedirs(os.path.join(self.dir, "central"))
        os.makedirs(os.path.join(self.dir, "edge"))
        self.certs = ehtest.make_ca(self.dir)
        self.central = Mosquitto(os.path.join(self.dir, "central"))
        self.edge = Mosquitto(os.path.join(self.dir, "edge"))
        # The edge broker's bridge: everything under edgehook/ both ways, so
        # fleet and device config come down and status goes up.
        with open(self.edge.conf, "a") as f:
            f.write("connection central\n")
            f.write("address 127.0.0.1:%d\n" % self.central.port)
            f.write("remote_clientid edge-bridge-%d\n" % os.getpid())
            f.write("cleansession true\n")
            f.write("try_private true\n")
            f.write("restart_timeout 1\n")
            f.write("topic edgehook/# both 1\n")
        self.central.start()
        self.edge.start()
        self.rx = Receiver(self.certs)
        self.daemons = {}
        for d in DEVICES:
            ddir = os.path.join(self.dir, d)
            os.makedirs(ddir)
            boot = {"device_id": d, "fleet_prefixes": [FLEET],
                    "mqtt": {"uri": "tcp://127.0.0.1:%d" % self.edge.port, "keepalive_s": 5},
                    "queue": {"path": os.path.join(ddir, "q.ring"), "size_bytes": 1 << 20},
                    "tls": {"ca_file": self.certs["ca"]}, "coap": {"port": 0},
                    "log_level": os.environ.get("EH_LOG_LEVEL", "info")}
            if d == "gw-3":
                # Input under the fleet prefix (a site-wide topic): only
                # F/config/ is config, the rest of F stays usable as input.
                boot["inputs"] = {"events": INPUT_GW3}
            self.daemons[d] = Daemon(ddir, boot)
        # The operator's view: a client on the central broker only.
        self.seen = {}
        self.mq = ehtest.mqtt_client(self.central.port, "fleet-op-%d" % os.getpid())
        self.mq.on_message = self._on_msg
        self.mq.subscribe("edgehook/#", qos=1)
        self.edge_mq = ehtest.mqtt_client(self.edge.port, "fleet-in-%d" % os.getpid())

    def _on_msg(self, client, userdata, msg):
        self.seen[msg.topic] = msg.payload

    def json_at(self, topic):
        raw = self.seen.get(topic)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def retain_central(self, topic, body):
        payload = json.dumps(body) if body is not None else ""
        ehtest.publish_wait(self.mq, topic, payload, qos=1, retain=True)

    def publish_note(self, device, nid):
        n = sample_event()
        n["id"] = nid
        topic = INPUT_GW3 if device == "gw-3" else "edgehook/%s/in/events" % device
        ehtest.publish_wait(self.edge_mq, topic, json.dumps(n), qos=1)

    def close(self):
        for d in self.daemons.values():
            try:
                d.stop()
            except Exception:
                d.kill9()
        for c in (self.mq, self.edge_mq):
            c.loop_stop()
            c.disconnect()
        self.rx.stop()
        self.edge.stop()
        self.central.stop()
        if os.environ.get("EH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)


def scenario_bridge(c):
    s = Site()
    try:
        # Retained on the central broker before any daemon exists.
        s.retain_central(FLEET + "/config/webhooks/1",
                         {"title": "site", "url": s.rx.url + "/fleet",
                          "filters": {"events": {}}})
        for d in s.daemons.values():
            d.start()
        for d in DEVICES:
            wait_for(lambda: (s.json_at("edgehook/%s/status" % d) or {}).get("state")
                     == "online", 30 * SLOW, what="%s online on central" % d)
        c.check(all((s.json_at("edgehook/%s/status" % d) or {}).get("device_id") == d
                    for d in DEVICES),
                "each device's status is readable on the central broker")
        for d in DEVICES:
            st = "edgehook/%s/config-status/fleet/%s/webhooks/1" % (d, FLEET)
            wait_for(lambda: s.json_at(st), 20 * SLOW, what="fleet config-status of " + d)
        c.check(all((s.json_at("edgehook/%s/config-status/fleet/%s/webhooks/1" % (d, FLEET))
                     or {}).get("accepted") is True for d in DEVICES),
                "each device answers the fleet webhook under its own prefix (central)")
        t0 = time.time()
        for d in DEVICES:
            s.publish_note(d, "%s-a" % d)
        want = set("%s-a" % d for d in DEVICES)
        wait_for(lambda: want <= set(ids_at(s.rx, "/fleet")), 30 * SLOW, what="fleet deliveries")
        c.check(True, "one retained fleet webhook on central: all three devices deliver "
                "(%.2f s from the notifications to the last POST)" % (time.time() - t0))

        # gw-2's own webhook 1 wins on gw-2 only.
        t0 = time.time()
        s.retain_central("edgehook/gw-2/config/webhooks/1",
                         {"title": "own", "url": s.rx.url + "/own",
                          "filters": {"events": {}}})
        wait_for(lambda: (s.json_at("edgehook/gw-2/config-status/webhooks/1") or {})
                 .get("accepted"), 20 * SLOW, what="gw-2 own config-status")
        c.check(True, "central -> edge -> daemon -> edge -> central config round trip: "
                "%.2f s" % (time.time() - t0))
        for d in DEVICES:
            s.publish_note(d, "%s-b" % d)
        wait_for(lambda: {"gw-1-b", "gw-3-b"} <= set(ids_at(s.rx, "/fleet"))
                 and "gw-2-b" in ids_at(s.rx, "/own"), 30 * SLOW, what="second round")
        c.check("gw-2-b" not in ids_at(s.rx, "/fleet"),
                "the device's own webhook with the same id wins on that device")
        c.check(not [i for i in ids_at(s.rx, "/own") if not i.startswith("gw-2")],
                "the other devices keep the fleet webhook")

        # Deleting gw-2's own brings the fleet's back on gw-2.
        s.retain_central("edgehook/gw-2/config/webhooks/1", None)
        wait_for(lambda: "webhook 1: " + FLEET + "/config/webhooks/1 applies again"
                 in s.daemons["gw-2"].log(), 20 * SLOW, what="fallback on gw-2")
        s.publish_note("gw-2", "gw-2-c")
        wait_for(lambda: "gw-2-c" in ids_at(s.rx, "/fleet"), 30 * SLOW, what="gw-2-c")
        c.check("gw-2-c" not in ids_at(s.rx, "/own"),
                "deleting the device's own webhook: the fleet's applies again")

        # gw-1's own webhook deleted while gw-1 is away: at start only that
        # config goes; the fleet's takes the id back, in its slot.
        s.retain_central("edgehook/gw-1/config/webhooks/1",
                         {"title": "own", "url": s.rx.url + "/own",
                          "filters": {"events": {}}})
        wait_for(lambda: (s.json_at("edgehook/gw-1/config-status/webhooks/1") or {})
                 .get("accepted"), 20 * SLOW, what="gw-1 own config-status")
        gw1 = s.daemons["gw-1"]
        c.check(gw1.stop() == 0, "gw-1 stops cleanly")
        s.retain_central("edgehook/gw-1/config/webhooks/1", None)
        gw1.start()
        log = gw1.log_since_start()
        c.check("edgehook/gw-1/config/webhooks/1: no retained config on the broker: deleted "
                "while away; webhook 1 stays with another config" in log,
                "the device's own webhook deleted while away: only it is forgotten at start")
        s.publish_note("gw-1", "gw-1-e")
        wait_for(lambda: "gw-1-e" in ids_at(s.rx, "/fleet"), 30 * SLOW, what="gw-1-e")
        c.check("gw-1-e" not in ids_at(s.rx, "/own"), "and the fleet webhook applies again")
        wait_for(lambda: s.seen.get("edgehook/gw-1/config-status/webhooks/1") == b"",
                 20 * SLOW, what="gw-1 own config-status cleared")
        c.check(True, "its retained config-status is cleared on the central broker")

        # A restart keeps the fleet webhook: the start-up snapshot reads the
        # fleet's retained topics too, so it is not taken for deleted.
        gw3 = s.daemons["gw-3"]
        c.check(gw3.stop() == 0, "gw-3 stops cleanly")
        gw3.start()
        log = gw3.log_since_start()
        c.check("1 retained webhooks on the broker, 0 stored ones removed" in log
                and "deleted while away" not in log,
                "a restart finds the retained fleet webhook and keeps it")
        s.publish_note("gw-3", "gw-3-c")
        wait_for(lambda: "gw-3-c" in ids_at(s.rx, "/fleet"), 30 * SLOW, what="gw-3-c")
        c.check(True, "after the restart gw-3 delivers through the fleet webhook")

        # A fleet webhook deleted while gw-3 is away is removed at its start.
        c.check(gw3.stop() == 0, "gw-3 stops cleanly again")
        s.retain_central(FLEET + "/config/webhooks/1", None)
        wait_for(lambda: "webhook 1 deleted" in s.daemons["gw-1"].log(), 20 * SLOW,
                 what="gw-1 deletes the fleet webhook")
        gw3.start()
        log = gw3.log_since_start()
        c.check("%s/config/webhooks/1: no retained config on the broker: deleted while away"
                % FLEET in log, "a stored fleet webhook whose retained message is gone is "
                "removed at start")
        n_before = len(ids_at(s.rx, "/fleet"))
        s.publish_note("gw-3", "gw-3-d")
        time.sleep(2 * SLOW)
        c.check(len(ids_at(s.rx, "/fleet")) == n_before and "gw-3-d" not in ids_at(s.rx, "/fleet"),
                "nothing is delivered for the removed fleet webhook")
        for d in DEVICES:
            bad = [ln for ln in s.daemons[d].log().splitlines() if ln.startswith("<3>")]
            c.check(not bad, "%s logged no error: %s" % (d, bad[:2]))
    finally:
        s.close()


SCENARIOS = {"bridge": scenario_bridge}

if __name__ == "__main__":
    ehtest.run_scenarios(SCENARIOS)
