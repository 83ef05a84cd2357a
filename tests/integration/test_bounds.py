# SPDX-License-Identifier: Apache-2.0
"""Hostile sizes and failed replays, through the daemon as a process with a
real mosquitto and a real TLS receiver. Usage: test_bounds.py SCENARIO...;
scenarios: poison (a 32 MiB QoS 1 message on an input and on a config
topic), journal_full (journalled messages + full queue under block +
restart: none lost once there is room), journal_unreadable (exit 3, the
journal left as it is)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import wait_for  # noqa: E402
from test_e2e import P, SLOW, Env, ids_of, sample  # noqa: E402

POISON = 32 << 20
# Peak resident memory allowed: the daemon's own (about 23 MiB under ASan
# with the TLS, HTTP and CoAP libraries, less in Release) plus room, below
# the 32 MiB a message read whole would add on its own.
# 0 skips the absolute figure (under QEMU the process is the emulator); the
# growth over the figure before the message is checked always.
HWM_MAX_KIB = int(os.environ.get("EH_HWM_MAX_KIB", str(30 << 10)))
HWM_GROWTH_KIB = 8 << 10


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def note(i):
    n = sample("event")
    n.pop("webhook_type", None)
    n["id"] = str(i)
    return n


def scenario_poison(c):
    limit = HWM_MAX_KIB
    e = Env("poison")
    try:
        e.daemon.start()
        e.webhook(1, {"title": "poison", "url": e.rx.url, "filters": {"events": {}}})
        e.publish("events", note("p1"))
        wait_for(lambda: "p1" in ids_of(e.rx.delivered()), 20 * SLOW, what="p1 delivered")
        pid = e.daemon.proc.pid
        before = status_kib(pid, "VmHWM")
        big = b"[" + b" " * (POISON - 2) + b"]"
        c.check(ehtest.publish_wait(e.mq, P + "/in/events", big, qos=1, timeout=60),
                "the broker took a 32 MiB QoS 1 message on an input topic")
        c.check(ehtest.publish_wait(e.mq, P + "/config/webhooks/9", big, qos=1, retain=True,
                                    timeout=60),
                "the broker took a 32 MiB retained QoS 1 message on a config topic")
        e.publish("events", note("p2"))
        wait_for(lambda: "p2" in ids_of(e.rx.delivered()) or e.daemon.proc.poll() is not None,
                 30 * SLOW, what="p2 delivered")
        alive = e.daemon.proc.poll() is None
        c.check(alive, "the daemon is alive after both")
        hwm = status_kib(pid, "VmHWM") if alive else -1
        c.check(0 < hwm < (limit or hwm + 1) and hwm - before < HWM_GROWTH_KIB,
                "VmHWM %d KiB < %d KiB, %d KiB more than before the messages"
                % (hwm, limit, hwm - before))
        c.check("p2" in ids_of(e.rx.delivered()), "the next normal notification is delivered")
        # A crash loop would show here: the broker keeps the retained one and
        # whatever the session did not acknowledge.
        e.daemon.kill9()
        e.daemon.start()
        pid = e.daemon.proc.pid
        e.publish("events", note("p3"))
        wait_for(lambda: "p3" in ids_of(e.rx.delivered()) or e.daemon.proc.poll() is not None,
                 30 * SLOW, what="p3 delivered after the restart")
        time.sleep(1 * SLOW)
        alive = e.daemon.proc.poll() is None
        c.check(alive and "p3" in ids_of(e.rx.delivered()),
                "after kill -9 and start: up and delivering")
        hwm = status_kib(pid, "VmHWM") if alive else -1
        c.check(0 < hwm < (limit or hwm + 1) and hwm - before < HWM_GROWTH_KIB,
                "after the restart VmHWM %d KiB < %d KiB" % (hwm, limit))
        log = e.daemon.log()
        c.check("MQTT 5" in log and "MQTT 3.1.1 cannot tell" not in log,
                "a v5 connection, no 3.1.1 warning")
        ehtest.publish_wait(e.mq, P + "/config/webhooks/9", b"", qos=1, retain=True)
    finally:
        e.close()


def scenario_journal_full(c):
    e = Env("journal-full", queue_size=1 << 20, policy="block", status=503)
    try:
        e.daemon.start()
        e.webhook(1, {"title": "full", "url": e.rx.url, "batch_size": 10, "max_attempts": 0,
                      "filters": {"events": {}}})
        count = 1500  # ~1.1 KiB each: more than the ring holds
        ids = ["j%04d" % i for i in range(count)]
        acked = set()
        pub = ehtest.mqtt_client(e.broker.port, "jf-pub-%d" % os.getpid())
        lock = threading.Lock()

        def on_publish(client, userdata, mid):
            with lock:
                acked.add(mid)

        pub.on_publish = on_publish
        for i in ids:
            pub.publish(P + "/in/events", json_dumps(note(i)), qos=1)
        wait_for(lambda: "input paused" in e.daemon.log(), 60 * SLOW, what="queue full")
        time.sleep(1.0 * SLOW)  # the window fills: acknowledged, journalled, not queued
        e.daemon.kill9()
        jpath = os.path.join(e.dir, "q.ring.journal")
        jsize = os.path.getsize(jpath) if os.path.exists(jpath) else 0
        c.check(jsize > 0, "the journal holds %d bytes at the kill" % jsize)
        e.daemon.start()  # the queue is still full: the journal cannot be taken
        time.sleep(1.0 * SLOW)
        log = e.daemon.log_since_start()
        c.check("could not be queued" not in log, "no journalled message given up at start")
        c.check("journalled messages wait for room" in log,
                "start says the journalled messages wait for room")
        c.check(os.path.getsize(jpath) >= 1, "the journal is kept while they wait")
        # A second restart while they still wait keeps them too.
        e.daemon.kill9()
        e.daemon.start()
        time.sleep(0.5 * SLOW)
        e.rx.status = 200
        try:
            wait_for(lambda: set(ids) <= set(ids_of(e.rx.delivered())), 180 * SLOW, step=0.5,
                     what="everything delivered")
        except TimeoutError:
            pass
        got = ids_of(e.rx.delivered())
        lost = sorted(set(ids) - set(got))
        c.check(not lost, "none lost once there is room (%d of %d delivered, lost %s)"
                % (len(set(got)), count, lost[:10]))
        c.check(len(got) == len(set(got)), "nothing delivered twice (%d duplicates)"
                % (len(got) - len(set(got))))
        c.check("room again" in e.daemon.log_since_start(), "input resumed")
        pub.loop_stop()
        pub.disconnect()
    finally:
        e.close()


def scenario_journal_unreadable(c):
    e = Env("journal-unreadable")
    try:
        jpath = os.path.join(e.dir, "q.ring.journal")
        os.symlink(jpath, jpath)  # a loop: open(2) fails with ELOOP, even for root
        e.daemon.start(wait_ready=False)
        wait_for(lambda: e.daemon.proc.poll() is not None, 20 * SLOW, what="the daemon to stop")
        c.check(e.daemon.proc.returncode == 3,
                "a journal that cannot be read stops start with exit 3 (got %s)"
                % e.daemon.proc.returncode)
        c.check("cannot read the journal" in e.daemon.log_since_start(), "and says why")
        c.check(os.path.islink(jpath), "the journal is left as it is")
    finally:
        e.close()


def json_dumps(o):
    import json
    return json.dumps(o)


SCENARIOS = {"poison": scenario_poison, "journal_full": scenario_journal_full,
             "journal_unreadable": scenario_journal_unreadable}

if __name__ == "__main__":
    ehtest.run_scenarios(SCENARIOS)
