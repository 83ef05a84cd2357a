#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# check_heap.py - no heap in our code: every reference to a libc allocator
# (malloc, calloc, realloc, free, strdup, ...) or to an allocating cJSON call
# in the C sources under app/, platform/ and drivers/ must be listed, with a
# reason, in tests/style/heap-allowlist.txt. Comments, string literals and
# struct members (.free, ->malloc) do not count. Stale entries are reported
# (and fail with --strict), so the list stays true.
# Exit 0: clean; 1: findings; 2: usage or list error.
import argparse
import os
import re
import sys
import tempfile

# libc calls that take memory from the heap or give it back.
LIBC = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "strdup", "strndup",
    "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
    "asprintf", "vasprintf", "getline", "getdelim", "open_memstream", "scandir",
}
# cJSON calls that allocate through its hooks (the heap unless an eh_json
# arena is entered). cJSON_PrintPreallocated writes into our buffer: allowed.
CJSON = re.compile(r"^cJSON_(Parse\w*|Print|PrintUnformatted|PrintBuffered|Create\w*|"
                   r"Duplicate|malloc|free|Delete|InitHooks|AddItem\w*|Add\w+ToObject)$")

DIRS = ("app", "platform", "drivers")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def strip_c(text):
    """Blank out comments, string and character literals, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def scan_text(text):
    """Yield (line, name) for each heap reference in C source text."""
    code = strip_c(text)
    for m in IDENT.finditer(code):
        name = m.group(0)
        if name not in LIBC and not CJSON.match(name):
            continue
        before = code[:m.start()].rstrip(" \t")
        if before.endswith(".") or before.endswith("->"):
            continue  # a struct member named like the function
        after = code[m.end():].lstrip(" \t\n")
        if name in LIBC and not after.startswith("(") and not after[:1] in (";", ",", ")", "}"):
            continue  # a local or field named `free` etc., not the function
        yield code.count("\n", 0, m.start()) + 1, name


def scan_tree(root):
    found = []
    for d in DIRS:
        top = os.path.join(root, d)
        for dirpath, dirnames, files in os.walk(top):
            dirnames.sort()
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                for line, name in scan_text(text):
                    found.append((rel, line, name))
    return found


def load_allow(path):
    """Entries: `<file> <name>[,<name>...] <reason>`; # starts a comment."""
    allow = {}
    errors = []
    with open(path, encoding="utf-8") as fh:
        for no, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or len(parts[2].strip()) < 10:
                errors.append(f"{path}:{no}: want `<file> <name,...> <reason>`: {raw.rstrip()}")
                continue
            names = set(parts[1].split(","))
            allow.setdefault(parts[0], {})
            for nm in names:
                allow[parts[0]][nm] = (no, parts[2].strip())
    return allow, errors


def check(root, allow_path, strict=True):
    allow, errors = load_allow(allow_path)
    if errors:
        for e in errors:
            print(e)
        return 2
    found = scan_tree(root)
    used = set()
    bad = []
    for rel, line, name in found:
        if name in allow.get(rel, {}):
            used.add((rel, name))
        else:
            bad.append((rel, line, name))
    stale = [(f, nm, no) for f, names in allow.items() for nm, (no, _) in names.items()
             if (f, nm) not in used]
    for rel, line, name in bad:
        kind = "libc heap" if name in LIBC else "cJSON allocation"
        print(f"{rel}:{line}: {name}: {kind} call not in {os.path.basename(allow_path)}")
    for f, nm, no in sorted(stale):
        print(f"{allow_path}:{no}: stale entry: {f} no longer references {nm}")
    print(f"no_malloc: {len(found)} references, {len(found) - len(bad)} allowed, "
          f"{len(bad)} not allowed, {len(stale)} stale entries")
    return 1 if bad or (stale and strict) else 0


def selftest():
    """The checker catches what it must and nothing else."""
    cases = {
        "app/a/bad.c": "void f(void) { char *p = malloc(4); free(p); }\n",
        "app/a/ok.c": ("/* malloc(1) in a comment */\n// free(p)\n"
                       "static const char s[] = \"calloc(2)\";\n"
                       "void g(struct o *o) { o->free(o); o->malloc_fn = 0; x.free(1); }\n"
                       "int h(void) { int free_slots = 3; return free_slots; }\n"),
        "platform/p.c": "int k(void) { void *(*m)(size_t) = malloc; return m != 0; }\n",
        "drivers/d/x.c": "void j(const char *s) { cJSON *r = cJSON_Parse(s); "
                         "cJSON_PrintPreallocated(r, 0, 0, 0); }\n",
        "drivers/d/y.c": "void q(void) { strdup(\"a\"); }\n",
        "tests/z.c": "void t(void) { malloc(1); }\n",
    }
    allow_text = ("# comment\n"
                  "drivers/d/y.c strdup a test reason that is long enough\n"
                  "drivers/d/gone.c free this file does not exist any more\n")
    want_bad = {("app/a/bad.c", 1, "malloc"), ("app/a/bad.c", 1, "free"),
                ("platform/p.c", 1, "malloc"), ("drivers/d/x.c", 1, "cJSON_Parse")}
    ok = True
    with tempfile.TemporaryDirectory() as root:
        for rel, text in cases.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as fh:
                fh.write(text)
        allow_path = os.path.join(root, "allow.txt")
        with open(allow_path, "w") as fh:
            fh.write(allow_text)
        found = set(scan_tree(root))
        got_bad = {f for f in found if f[0] != "drivers/d/y.c"}
        if got_bad != want_bad:
            print(f"selftest: found {sorted(got_bad)}, want {sorted(want_bad)}")
            ok = False
        if check(root, allow_path) != 1:
            print("selftest: findings and a stale entry must fail")
            ok = False
        os.remove(os.path.join(root, "app/a/bad.c"))
        os.remove(os.path.join(root, "platform/p.c"))
        os.remove(os.path.join(root, "drivers/d/x.c"))
        if check(root, allow_path, strict=False) != 0:
            print("selftest: without --strict a stale entry is only reported")
            ok = False
        if check(root, allow_path, strict=True) != 1:
            print("selftest: with --strict a stale entry fails")
            ok = False
        # Clean tree with an exact list passes.
        with open(allow_path, "w") as fh:
            fh.write("drivers/d/y.c strdup a test reason that is long enough\n")
        if check(root, allow_path) != 0:
            print("selftest: a clean tree must pass")
            ok = False
        with open(allow_path, "w") as fh:
            fh.write("drivers/d/y.c strdup\n")
        if check(root, allow_path) != 2:
            print("selftest: an entry without a reason must be refused")
            ok = False
    print("selftest:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--allow", default=os.path.join(os.path.dirname(__file__),
                                                    "heap-allowlist.txt"))
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--strict", action="store_true", help="stale allow-list entries fail too")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    return check(os.path.abspath(a.root), a.allow, a.strict)


if __name__ == "__main__":
    sys.exit(main())
