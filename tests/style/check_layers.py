#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# check_layers.py - the layering of STYLE.md section 1, checked on the
# C sources under app/, platform/ and drivers/:
#   lib    library headers (cJSON, mbedtls/, MQTT*, coap3/, openssl/) only in
#          drivers/, cJSON only in app/json/, OpenSSL only in drivers/mqtt/
#          (Paho's TLS build; delivery is mbedTLS);
#   down   includes point downward: platform/ includes no driver or app
#          header, drivers/ include no app header;
#   errno  only platform/ touches errno (an `errno` token outside comments);
#   backend  in app/, only the composition roots (app/main.c, app/ctl.c and
#          app/ctl/) include the header of a concrete backend (BACKENDS):
#          app modules get backends injected.
# Exceptions are listed in tests/style/layers-allowlist.txt as
# `<file> <rule>:<what> <reason>`; stale entries are reported, and fail with
# --strict. Exit 0 clean, 1 findings, 2 list error.
import argparse
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_heap import strip_c  # noqa: E402

DIRS = ("app", "platform", "drivers")
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)
LIBS = (("cjson", re.compile(r"^(cjson/)?cJSON(_Utils)?\.h$")),
        ("mbedtls", re.compile(r"^(mbedtls|psa)/")),
        ("paho", re.compile(r"^MQTT\w*\.h$")),
        ("coap", re.compile(r"^coap[23]?/")),
        ("openssl", re.compile(r"^openssl/")))
ERRNO = re.compile(r"\berrno\b")
# Headers that name one concrete backend rather than a seam.
BACKENDS = ("eh_tls_pool.h", "eh_transport_mbedtls.h", "eh_httpd_mhd.h", "eh_flash_emu.h",
            "eh_mqtt_paho.h")


def composition_root(rel):
    return rel in ("app/main.c", "app/ctl.c") or rel.startswith("app/ctl/")


def layer(rel):
    return rel.split("/", 1)[0]


def sources(root):
    for d in DIRS:
        for dirpath, dirnames, files in os.walk(os.path.join(root, d)):
            dirnames.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    path = os.path.join(dirpath, f)
                    yield os.path.relpath(path, root), path


def scan_tree(root):
    """Return [(file, line, rule:what)] for every layering break."""
    owner = {}  # header basename -> layer that defines it
    for rel, _ in sources(root):
        if rel.endswith(".h"):
            owner.setdefault(os.path.basename(rel), layer(rel))
    found = []
    for rel, path in sources(root):
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        me = layer(rel)
        for m in INCLUDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            name = m.group(2).strip()
            for lib, pat in LIBS:
                if not pat.search(name):
                    continue
                ok = me == "drivers" or (lib == "cjson" and rel.startswith("app/json/"))
                if lib == "openssl":
                    ok = rel.startswith("drivers/mqtt/")
                if not ok:
                    found.append((rel, line, f"lib:{name}"))
            them = owner.get(os.path.basename(name)) if m.group(1) == '"' else None
            if them is None:
                continue
            if (me == "platform" and them != "platform") or (me == "drivers" and them == "app"):
                found.append((rel, line, f"down:{os.path.basename(name)}"))
            if (me == "app" and them == "drivers" and os.path.basename(name) in BACKENDS
                    and not composition_root(rel)):
                found.append((rel, line, f"backend:{os.path.basename(name)}"))
        if me != "platform":
            code = strip_c(text)
            for m in ERRNO.finditer(code):
                found.append((rel, code.count("\n", 0, m.start()) + 1, "errno:errno"))
    return found


def load_allow(path):
    allow, errors = {}, []
    with open(path, encoding="utf-8") as fh:
        for no, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or ":" not in parts[1] or len(parts[2]) < 10:
                errors.append(f"{path}:{no}: want `<file> <rule>:<what> <reason>`: {line}")
                continue
            allow[(parts[0], parts[1])] = no
    return allow, errors


def check(root, allow_path, strict=True):
    allow, errors = load_allow(allow_path)
    for e in errors:
        print(e)
    if errors:
        return 2
    found = scan_tree(root)
    used, bad = set(), []
    for rel, line, what in found:
        if (rel, what) in allow:
            used.add((rel, what))
        else:
            bad.append((rel, line, what))
    stale = sorted((no, f, w) for (f, w), no in allow.items() if (f, w) not in used)
    for rel, line, what in bad:
        print(f"{rel}:{line}: {what}: breaks the layering, not in "
              f"{os.path.basename(allow_path)}")
    for no, f, w in stale:
        print(f"{allow_path}:{no}: stale entry: {f} {w} no longer found")
    print(f"layers: {len(found)} exceptions found, {len(found) - len(bad)} allowed, "
          f"{len(bad)} not allowed, {len(stale)} stale entries")
    return 1 if bad or (stale and strict) else 0


def selftest():
    cases = {
        "platform/eh_p.h": "#include <stdio.h>\n",
        "platform/eh_p.c": ('#include "eh_p.h"\n#include "eh_drv.h"\n'
                            'int e(void) { return errno; }\n'),
        "drivers/x/eh_drv.h": '#include "eh_p.h"\n#include <mbedtls/ssl.h>\n',
        "drivers/x/eh_drv.c": '#include "eh_app.h"\n/* errno */\nint f(void) { return errno; }\n',
        "app/a/eh_app.h": '#include "eh_drv.h"\n#include <cJSON.h>\n',
        "app/json/eh_j.c": '#include <cjson/cJSON.h>\n#include <MQTTAsync.h>\n',
        "drivers/https/eh_h.c": '#include <openssl/ssl.h>\n',
        "drivers/mqtt/eh_m.c": '#include <openssl/ssl.h>\n',
        "drivers/t/eh_tls_pool.h": "#include <stddef.h>\n",
        "app/d/eh_d.c": '#include "eh_tls_pool.h"\n',
        "app/main.c": '#include "eh_tls_pool.h"\n',
    }
    want = {("platform/eh_p.c", 2, "down:eh_drv.h"), ("drivers/x/eh_drv.c", 1, "down:eh_app.h"),
            ("drivers/x/eh_drv.c", 3, "errno:errno"), ("app/a/eh_app.h", 2, "lib:cJSON.h"),
            ("app/json/eh_j.c", 2, "lib:MQTTAsync.h"), ("drivers/https/eh_h.c", 1, "lib:openssl/ssl.h"),
            ("app/d/eh_d.c", 1, "backend:eh_tls_pool.h")}
    ok = True
    with tempfile.TemporaryDirectory() as root:
        for rel, text in cases.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as fh:
                fh.write(text)
        got = set(scan_tree(root))
        if got != want:
            print(f"selftest: found {sorted(got)}\n          want  {sorted(want)}")
            ok = False
        allow = os.path.join(root, "allow.txt")
        with open(allow, "w") as fh:
            for f, _, w in sorted(want):
                fh.write(f"{f} {w} a reason long enough\n")
        if check(root, allow) != 0:
            print("selftest: a complete list must pass")
            ok = False
        with open(allow, "a") as fh:
            fh.write("app/a/eh_app.h lib:coap3/coap.h a reason long enough\n")
        if check(root, allow) != 1:
            print("selftest: a stale entry must fail with --strict")
            ok = False
        if check(root, allow, strict=False) != 0:
            print("selftest: a stale entry is only reported without --strict")
            ok = False
    print("selftest:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="layering check")
    ap.add_argument("--root", default=os.path.join(here, "..", ".."))
    ap.add_argument("--allow", default=os.path.join(here, "layers-allowlist.txt"))
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--strict", action="store_true", help="stale allow-list entries fail too")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    return check(os.path.abspath(a.root), a.allow, a.strict)


if __name__ == "__main__":
    sys.exit(main())
