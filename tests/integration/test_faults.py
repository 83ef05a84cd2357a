# SPDX-License-Identifier: Apache-2.0
"""Faults a real site meets, through the daemon as a process with a real
broker and a real TLS receiver (docs/FAULTS.md lists which scenario shows
what). Usage: test_faults.py SCENARIO [...]; scenarios: capacity,
deadletter, reconcile, drain."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import Checks, wait_for  # noqa: E402
from test_e2e import P, SLOW, Env, by_path, ids_of, sample  # noqa: E402

MAX_WEBHOOKS = 32
WIDE_ID = 4000000000  # ten digits: the widest webhook id there is (uint32)


# ==== capacity: the largest webhook table with the widest ids ====

def scenario_capacity(c):
    """32 webhooks with 10-digit ids, through the daemon under the test
    build's sanitizers, then again after a clean restart and after a kill -9
    (the config store replays the whole table at every start)."""
    e = Env("capacity")
    try:
        e.daemon.start()
        ids = [WIDE_ID + 1000 * i + 7 for i in range(MAX_WEBHOOKS)]
        for i, wid in enumerate(ids):
            st = e.webhook(wid, {"title": "w%d" % i, "url": "%s/%d" % (e.rx.url, wid),
                                 "batch_size": 1, "filters": {"events": {}}})
            if st != {"accepted": True}:
                c.check(False, "webhook %d accepted: %s" % (wid, st))
                return
        c.check(e.daemon.proc.poll() is None, "32 webhooks with 10-digit ids: daemon running")
        want = 'Updating "events" workers for webhooks: {%s}' % ", ".join(str(i) for i in ids)
        c.check(want in e.daemon.log(), "the workers line names all 32 ids")

        def round_trip(tag):
            n = sample("event")
            n["id"] = tag
            e.publish("events", n)
            wait_for(lambda: all(tag in ids_of(by_path(e.rx, "/%d" % w)) for w in ids),
                     30 * SLOW, what="%s at all 32 webhooks" % tag)
            return True

        c.check(round_trip("cap-1"), "one notification reaches all 32 webhooks")
        code = e.daemon.stop()
        c.check(code == 0, "clean stop with a full table: exit %s" % code)
        e.daemon.start()
        c.check(want in e.daemon.log_since_start(), "after a restart: the table is replayed")
        c.check(round_trip("cap-2"), "after a restart: all 32 deliver")
        e.daemon.kill9()
        e.daemon.start()
        c.check(round_trip("cap-3"), "after a kill -9: all 32 deliver")
        c.check(e.daemon.proc.poll() is None, "still running")
    finally:
        e.close()


SCENARIOS = {"capacity": scenario_capacity}

if __name__ == "__main__":
    checks = Checks()
    for name in sys.argv[1:] or list(SCENARIOS):
        print("== " + name)
        try:
            SCENARIOS[name](checks)
        except Exception as ex:  # a scenario that breaks is a failed check
            import traceback
            traceback.print_exc()
            checks.check(False, "%s raised %r" % (name, ex))
    checks.done()
