#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""edgehookctl as a process: version, --help on every subcommand, "-" for
standard input, the exit codes (0 ok, 1 refused/negative, 2 usage or bad
file, 3 unreachable) and check-config with the document type as argument.
   test_edgehookctl.py SOURCE_DIR   (EH_CTL: the binary, "|"-separated with
   an emulator prefix in cross builds)"""
import json
import os
import subprocess
import sys
import tempfile

SRC = sys.argv[1]
CTL = [c for c in os.environ["EH_CTL"].split("|") if c]
WEBHOOK = os.path.join(SRC, "config", "webhook-all-events.json")
BOOT = os.path.join(SRC, "config", "edgehookd.conf.example")
EVENT = os.path.join(SRC, "tests", "fixtures", "json", "event.json")
passed = failed = 0


def ctl(*args, stdin=None):
    p = subprocess.run(CTL + list(args), input=stdin, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail if detail else ""))


def test_version():
    for flag in ("-V", "--version"):
        rc, out, err = ctl(flag)
        check("%s prints the version" % flag, rc == 0 and out.startswith("edgehookctl "),
              repr((rc, out, err)))


def test_usage_lists_exit_codes():
    rc, out, _ = ctl("--help")
    check("--help exits 0 on stdout", rc == 0 and out.startswith("Usage:"))
    check("usage names the exit codes",
          "0 ok" in out and "1 refused" in out and "2 bad usage" in out and "3 unreachable" in out,
          out)
    rc, _, err = ctl()
    check("no command: usage on stderr, exit 2", rc == 2 and "Usage:" in err)
    rc, _, err = ctl("frob")
    check("unknown command: exit 2", rc == 2 and "unknown command" in err)


def test_help_everywhere():
    for argv in (["queue"], ["queue", "stat"], ["queue", "dump"], ["sign"],
                 ["check-config"], ["check-config", "webhook"], ["explain"]):
        for h in ("--help", "-h"):
            rc, out, err = ctl(*(argv + [h]))
            check("%s %s: usage, exit 0" % (" ".join(argv), h),
                  rc == 0 and out.startswith("usage: edgehookctl " + argv[0])
                  and "cannot read" not in out + err,
                  repr((rc, out, err)))


def test_check_config_types():
    rc, out, err = ctl("check-config", "webhook", WEBHOOK)
    check("check-config webhook: a valid webhook, exit 0",
          rc == 0 and "ok (webhook)" in out, err)
    with tempfile.TemporaryDirectory() as d:
        title = os.path.join(d, "title.json")
        with open(title, "w") as f:
            f.write('{"title":"x"}')
        rc, _, err = ctl("check-config", "webhook", title)
        check('check-config webhook {"title":"x"}: url: required, exit 1',
              rc == 1 and "url: required" in err and "unknown key" not in err, err)
        rc, _, err = ctl("check-config", title)
        check('check-config {"title":"x"} (no type): taken for a webhook, url: required',
              rc == 1 and "url: required" in err, err)
        rc, _, err = ctl("check-config", "bootstrap", title)
        check("check-config bootstrap on a webhook: title: unknown key, exit 1",
              rc == 1 and "title: unknown key" in err, err)
        gw = os.path.join(d, "gw.json")
        with open(gw, "w") as f:
            f.write('{"log_level":"loud","external_address":"https://ff.example"}')
        rc, _, err = ctl("check-config", "gateway", gw)
        check("check-config gateway: a bad log_level, exit 1",
              rc == 1 and "log_level:" in err, err)
        with open(gw, "w") as f:
            f.write('{"verbose":true,"external_address":"https://ff.example"}')
        rc, out, err = ctl("check-config", "gateway", gw)
        check("check-config gateway: a valid gateway, exit 0",
              rc == 0 and "ok (gateway)" in out, err)
        amb = os.path.join(d, "amb.json")
        with open(amb, "w") as f:
            f.write('{"log_level":"info"}')
        rc, _, err = ctl("check-config", amb)
        check("check-config with keys of no single type: exit 2 asking for the type",
              rc == 2 and "check-config bootstrap|webhook|gateway" in err, err)
        rc, _, err = ctl("check-config", "webhook", os.path.join(d, "missing.json"))
        check("check-config on a missing file: exit 2", rc == 2 and "cannot read" in err, err)
        rc, _, err = ctl("check-config", "frob", WEBHOOK)
        check("check-config with an unknown type: exit 2", rc == 2 and "unknown type" in err)
        boot = json.load(open(BOOT))
        with open(os.path.join(d, "boot.json"), "w") as f:
            json.dump(boot, f)
        rc, out, err = ctl("check-config", "bootstrap", os.path.join(d, "boot.json"))
        check("check-config bootstrap: the shipped example, exit 0",
              rc == 0 and "ok (bootstrap)" in out, err)
        rc, out, err = ctl("check-config", os.path.join(d, "boot.json"))
        check("check-config (no type) on the example: a bootstrap file",
              rc == 0 and "ok (bootstrap)" in out, err)


def test_stdin():
    text = open(WEBHOOK).read()
    rc, out, err = ctl("check-config", "webhook", "-", stdin=text)
    check("check-config webhook - reads standard input", rc == 0 and "ok (webhook)" in out, err)
    rc, _, err = ctl("check-config", "webhook", "-", stdin='{"title":"x"}')
    check("check-config webhook - : problems reported, exit 1",
          rc == 1 and "url: required" in err, err)
    rc, out, err = ctl("explain", WEBHOOK, "-", stdin=open(EVENT).read())
    check("explain WEBHOOK - reads the notification from standard input",
          rc == 0 and out.startswith("matched:"), repr((rc, out, err)))
    rc, out, err = ctl("explain", "-", EVENT, stdin='{"events":{"matched":true}}')
    check("explain - NOTIFICATION: filters from standard input, not matched, exit 1",
          rc == 1 and "not matched" in out, repr((rc, out, err)))
    rc, _, err = ctl("explain", "-", "-", stdin="{}")
    check("explain - -: exit 2", rc == 2 and "only one" in err, err)
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        topic = "edgehook/gw/config/webhooks/1"
        rc1, sig_file, e1 = ctl("sign", "--key-file", key, "--topic", topic, WEBHOOK)
        rc2, sig_in, e2 = ctl("sign", "--key-file", key, "--topic", topic, "-", stdin=text)
        check("sign - signs standard input as it signs the file",
              rc1 == 0 and rc2 == 0 and sig_file == sig_in and len(sig_file.strip()) == 64,
              repr((rc1, sig_file, e1, rc2, sig_in, e2)))
        rc, _, err = ctl("queue", "stat", os.path.join(d, "none.ring"))
        check("queue stat on a missing file: exit 2", rc == 2 and "cannot open" in err, err)


test_version()
test_usage_lists_exit_codes()
test_help_everywhere()
test_check_config_types()
test_stdin()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
