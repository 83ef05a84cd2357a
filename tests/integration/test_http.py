# SPDX-License-Identifier: Apache-2.0
"""The HTTP listener (CONTRACT 9.5) through the daemon, with real parts: mosquitto, the TLS
receiver and edgehookd as a process. Usage: test_http.py SCENARIO [...]; scenarios:
ingest (FindFace's sample arrays to /in and /in/<type>, bad bodies, 413, 401), kill
(a kill -9 right after each 200 loses nothing), full (503 + Retry-After under block),
metrics (/metrics parsed by prometheus_client equals P/status)."""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import wait_for  # noqa: E402
from test_e2e import P, SLOW, Env, ids_of  # noqa: E402

SAMPLES = ("event", "episode_open", "episode_close", "counter_record")


def sample_array(name):
    """A seed sample file as FindFace posts it: an array with webhook_type."""
    with open(os.path.join(ehtest.FIXTURES, "json", name + ".json")) as f:
        return json.load(f)


def request(port, method, path, body=None, token=None, headers=None, timeout=30):
    """One request on its own connection: (status, headers dict, body bytes)."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    chunked = h.get("Transfer-Encoding") == "chunked"
    if isinstance(body, (list, dict)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    if chunked:
        del h["Transfer-Encoding"]  # http.client adds it with encode_chunked
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h, encode_chunked=chunked)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def http_env(name, token=None, **kw):
    port = ehtest.free_port()
    http = {"bind": "127.0.0.1", "port": port}
    e = Env(name, **kw)
    if token is not None:
        tf = os.path.join(e.dir, "http.token")
        with open(tf, "w") as f:
            f.write(token + "\n")  # one trailing newline, as editors add
        http["token_file"] = tf
    e.daemon.boot["http"] = http
    e.http_port = port
    return e


def start(e):
    e.daemon.start()
    ehtest.wait_port(e.http_port, 10 * SLOW)


def status_queued(e, port, token=None):
    st, _, body = request(port, "GET", "/status", token=token)
    return json.loads(body)["input"]["queued"] if st == 200 else None


# ==== FindFace's bodies to /in and /in/<type>; bad bodies; 413; 401 ====

def scenario_ingest(c):
    tok = "s3cret-t0ken"
    e = http_env("http-ingest", token=tok)
    try:
        start(e)
        port = e.http_port
        e.webhook(1, {"title": "all", "url": e.rx.url + "/1", "batch_size": 50, "filters": {}})
        e.webhook(2, {"title": "episodes", "url": e.rx.url + "/2", "batch_size": 50,
                      "filters": {"episodes": {}}})
        # The seed's sample arrays, each as FindFace posts it (an array, webhook_type set).
        want_all, want_ep = [], []
        for name in SAMPLES:
            arr = sample_array(name)
            st, _, body = request(port, "POST", "/in", arr, token=tok)
            c.check(st == 200 and json.loads(body) == {"accepted": len(arr)},
                    "POST /in %s -> 200 %s" % (name, body[:80]))
            want_all += [str(n["id"]) for n in arr]
            if name.startswith("episode"):
                want_ep += [str(n["id"]) for n in arr]
        # One mixed array and one bare object, new ids.
        mixed = []
        for i, name in enumerate(SAMPLES):
            n = dict(sample_array(name)[0])
            n["id"] = "mix%d" % i
            mixed.append(n)
        st, _, body = request(port, "POST", "/in", mixed, token=tok)
        c.check(st == 200 and json.loads(body) == {"accepted": 4},
                "a mixed array is split by webhook_type: %s %s" % (st, body[:80]))
        want_all += [n["id"] for n in mixed]
        want_ep += ["mix1", "mix2"]
        one = dict(sample_array("counter_record")[0])
        one["id"] = "typed-path"
        one.pop("webhook_type")
        st, _, body = request(port, "POST", "/in/counters", one, token=tok)
        c.check(st == 200 and json.loads(body) == {"accepted": 1},
                "POST /in/counters with a bare object (no webhook_type) -> 200")
        want_all.append("typed-path")
        wait_for(lambda: len(ids_of([r for r in e.rx.delivered() if r["path"].endswith("/1")]))
                 >= len(want_all), 30 * SLOW, what="deliveries to webhook 1")
        time.sleep(0.5 * SLOW)
        got1 = ids_of([r for r in e.rx.delivered() if r["path"].endswith("/1")])
        got2 = ids_of([r for r in e.rx.delivered() if r["path"].endswith("/2")])
        c.check(sorted(got1) == sorted(want_all), "everything reaches webhook 1 once: %s" % got1)
        c.check(sorted(got2) == sorted(want_ep), "only episodes reach webhook 2: %s" % got2)
        types = {n["webhook_type"] for r in e.rx.delivered() for n in r["body"]
                 if str(n["id"]).startswith("mix")}
        c.check(types == {"events", "episodes", "counters"}, "mixed elements keep their types")

        # Bad bodies: 400 naming the path, and nothing queued.
        before = status_queued(e, port, tok)
        ev = sample_array("event")[0]
        bad = [dict(ev, id="ok-1"), dict(ev, id="bad-1", camera="x")]
        no_type = [dict(ev, id="ok-2"), {k: v for k, v in ev.items() if k != "webhook_type"}]
        cases = [("/in", bad, "[1].camera: "), ("/in", no_type, "[1].webhook_type: "),
                 ("/in", [dict(ev, webhook_type="alarms")], "[0].webhook_type: "),
                 ("/in", b"{not json", "invalid JSON"),
                 ("/in/episodes", [dict(ev, id="bad-2")], "[0].event_type: ")]
        for path, body, want in cases:
            st, hd, rb = request(port, "POST", path, body, token=tok)
            err = json.loads(rb).get("error", "") if st == 400 else rb
            c.check(st == 400 and want in err and hd.get("content-type") == "application/json",
                    "bad body to %s -> 400 %s" % (path, err))
        c.check(status_queued(e, port, tok) == before, "bad bodies queue nothing")
        # Over the message bound: 413, announced by Content-Length or not.
        big = b"[" + b" " * (300 * 1024) + b"]"
        st, _, rb = request(port, "POST", "/in", big, token=tok)
        c.check(st == 413, "a body over 256 KiB -> 413 (%s)" % st)

        def chunks():
            for _ in range(40):
                yield b" " * 8192
        st, _, rb = request(port, "POST", "/in/events", chunks(), token=tok,
                            headers={"Transfer-Encoding": "chunked"})
        c.check(st == 413, "a chunked body over the bound -> 413 (%s)" % st)
        # Token: missing or wrong -> 401, and nothing queued.
        st, hd, rb = request(port, "POST", "/in", [dict(ev, id="noauth")])
        c.check(st == 401 and hd.get("www-authenticate") == "Bearer", "no token -> 401")
        st, _, _ = request(port, "POST", "/in", [dict(ev, id="noauth")], token=tok + "x")
        c.check(st == 401, "a wrong token -> 401")
        st, _, _ = request(port, "GET", "/metrics", token="s3cret-t0kem")
        c.check(st == 401, "a token differing in its last byte -> 401 on GET too")
        st, _, _ = request(port, "GET", "/status", headers={"Authorization": "Basic eDp5"})
        c.check(st == 401, "another scheme -> 401")
        c.check(status_queued(e, port, tok) == before, "refused requests queue nothing")
        st, _, _ = request(port, "GET", "/nope", token=tok)
        c.check(st == 404, "unknown path -> 404")
        st, hd, _ = request(port, "GET", "/in", token=tok)
        c.check(st == 405 and hd.get("allow") == "POST", "GET /in -> 405 Allow: POST")
    finally:
        e.close()


# ==== kill -9 right after each 200 ====

def scenario_kill(c):
    rounds = int(os.environ.get("EH_HTTP_KILL_ROUNDS", "100" if SLOW <= 1 else "15"))
    e = http_env("http-kill")
    try:
        start(e)
        e.webhook(1, {"title": "all", "url": e.rx.url, "batch_size": 50, "filters": {}})
        base = sample_array("event")[0]
        sent = []
        for r in range(rounds):
            arr = [dict(base, id="k%03d-%d" % (r, i)) for i in range(3)]
            st, _, body = request(e.http_port, "POST", "/in", arr)
            if st != 200:
                c.check(False, "round %d: POST /in -> %s %s" % (r, st, body[:100]))
                break
            e.daemon.kill9()  # right after the 200: it must already be durable
            sent += [n["id"] for n in arr]
            start(e)
        wait_for(lambda: set(sent) <= set(ids_of(e.rx.delivered())), 60 * SLOW,
                 what="every acknowledged notification delivered")
        got = set(ids_of(e.rx.delivered()))
        lost = [i for i in sent if i not in got]
        c.check(not lost, "%d rounds of 200 then kill -9: %d notifications, none lost (%s)"
                % (rounds, len(sent), lost[:5]))
    finally:
        e.close()


# ==== 503 + Retry-After when the queue is full under block ====

def scenario_full(c):
    e = http_env("http-full", queue_size=1 << 20, policy="block", status=503)
    try:
        start(e)
        e.webhook(1, {"title": "full", "url": e.rx.url, "batch_size": 10, "max_attempts": 0,
                      "filters": {"events": {}}})
        base = sample_array("event")[0]
        got503 = None
        accepted = []
        for r in range(400):  # 50 x ~1.1 KiB per POST: the 1 MiB ring fills well before
            arr = [dict(base, id="f%03d-%02d" % (r, i)) for i in range(50)]
            st, hd, body = request(e.http_port, "POST", "/in/events", arr)
            if st == 503:
                got503 = (hd, body)
                break
            if st != 200:
                c.check(False, "POST before the queue is full -> %s %s" % (st, body[:100]))
                break
            accepted += [n["id"] for n in arr]
        c.check(got503 is not None and got503[0].get("retry-after") == "1",
                "full under block -> 503 with Retry-After: 1 (%s)" % (got503 and got503[0]))
        c.check(got503 is not None and b"queue full" in got503[1], "503 says the queue is full")
        # Room again: the receiver takes everything; what was accepted is delivered.
        e.rx.status = 200
        wait_for(lambda: set(accepted) <= set(ids_of(e.rx.delivered())), 90 * SLOW,
                 what="accepted notifications delivered")
        st, _, _ = request(e.http_port, "POST", "/in/events", [dict(base, id="after")])
        c.check(st == 200, "room again -> 200 (%s)" % st)
    finally:
        e.close()


# ==== /metrics: Prometheus text, values equal to P/status ====

def scenario_metrics(c):
    from prometheus_client.parser import text_string_to_metric_families
    e = http_env("http-metrics", status=500)
    try:
        start(e)
        port = e.http_port
        e.webhook(3, {"title": "down", "url": e.rx.url, "batch_size": 50, "max_attempts": 0,
                      "filters": {"episodes": {}, "counters": {}}})
        e.webhook(9, {"title": "none", "url": e.rx.url, "filters": {"events": {"camera_in": [-5]}}})
        for name in SAMPLES:
            st, _, _ = request(port, "POST", "/in", sample_array(name))
            c.check(st == 200, "POST /in %s" % name)
        time.sleep(2.5 * SLOW)  # some attempts fail, ages grow past 2 s
        # Quiet the receiver's side: no attempt may change the figures between reads.
        st, _, text = request(port, "GET", "/metrics")
        st2, _, sbody = request(port, "GET", "/status")
        c.check(st == 200 and st2 == 200, "GET /metrics and /status -> 200")
        fams = {f.name: f for f in text_string_to_metric_families(text.decode())}
        status = json.loads(sbody)

        def one(name):
            f = fams.get(name)
            return f.samples[0].value if f and f.samples else None

        def per(name, wid, typ):
            for f in fams.values():
                for s in f.samples:
                    if s.name == name and s.labels == {"webhook": str(wid), "type": typ}:
                        return s.value
            return None
        c.check(one("edgehook_input_notifications") == status["input"]["notifications"] == 4,
                "input notifications: metrics %s, status %s" % (
                    one("edgehook_input_notifications"), status["input"]["notifications"]))
        c.check(one("edgehook_queue_used_bytes") == status["queue"]["used_bytes"],
                "queue used bytes equal")
        c.check(one("edgehook_queue_size_bytes") == status["queue"]["capacity_bytes"],
                "queue size bytes equal")
        c.check(one("edgehook_mqtt_connected") == (1 if status["mqtt"]["connected"] else 0) == 1,
                "mqtt connected equal")
        # Per webhook: the retained state topic, published within a second of a change.
        wait_for(lambda: (e.topic_json(P + "/webhooks/3/state") or {}).get("failed_attempts"),
                 10 * SLOW, what="state of webhook 3")
        st3 = e.topic_json(P + "/webhooks/3/state")
        depth = {t: per("edgehook_webhook_queue_depth", 3, t) for t in
                 ("events", "episodes", "counters")}
        c.check(depth == {"events": 0, "episodes": 2, "counters": 1},
                "queue depth per type: %s" % depth)
        c.check([depth["events"], depth["episodes"], depth["counters"]] ==
                [st3["queue"]["events"], st3["queue"]["episodes"], st3["queue"]["counters"]]
                if isinstance(st3.get("queue"), dict) else True,
                "depth equals the state topic's queue: %s" % st3.get("queue"))
        fails = sum(per("edgehook_webhook_failed_attempts_total", 3, t) or 0
                    for t in ("events", "episodes", "counters"))
        c.check(fails > 0, "failed attempts counted per type (%s)" % fails)
        age = per("edgehook_webhook_oldest_age_seconds", 3, "episodes")
        c.check(age is not None and age >= 2, "oldest age of undelivered episodes >= 2 s: %s"
                % age)
        c.check(per("edgehook_webhook_oldest_age_seconds", 3, "events") == 0,
                "nothing undelivered -> age 0")
        c.check(per("edgehook_webhook_queue_depth", 9, "events") == 0,
                "a webhook that matched nothing has its series too")
        for name in ("edgehook_webhook_sent", "edgehook_webhook_dead_lettered",
                     "edgehook_webhook_failed_attempts"):
            f = fams.get(name)
            c.check(f is not None and f.type == "counter" and f.documentation,
                    "%s: a counter with HELP" % name)
        # Same moment: once delivery has settled, /metrics equals the retained P/status.
        e.rx.status = 200
        wait_for(lambda: per_now(port, "edgehook_webhook_queue_depth", 3) == 0, 30 * SLOW,
                 what="delivered")
        time.sleep(2.5 * SLOW)  # P/status is republished within a second of a change
        st, _, text = request(port, "GET", "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(text.decode())}
        mq = e.topic_json(P + "/status")
        c.check(one("edgehook_input_notifications") == mq["input"]["notifications"] and
                one("edgehook_queue_used_bytes") == mq["queue"]["used_bytes"] and
                one("edgehook_queue_size_bytes") == mq["queue"]["capacity_bytes"],
                "metrics equal the retained P/status")
        sent = sum(per("edgehook_webhook_sent_total", 3, t) for t in
                   ("events", "episodes", "counters"))
        c.check(sent == 3 == mq["delivery"]["sent"], "sent per type sums to P/status (%s)" % sent)
    finally:
        e.close()


def per_now(port, name, wid):
    from prometheus_client.parser import text_string_to_metric_families
    st, _, text = request(port, "GET", "/metrics")
    total = 0
    for f in text_string_to_metric_families(text.decode()):
        for s in f.samples:
            if s.name == name and s.labels.get("webhook") == str(wid):
                total += s.value
    return total


SCENARIOS = {"ingest": scenario_ingest, "kill": scenario_kill, "full": scenario_full,
             "metrics": scenario_metrics}

if __name__ == "__main__":
    ehtest.run_scenarios(SCENARIOS)
