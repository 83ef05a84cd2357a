# SPDX-License-Identifier: Apache-2.0
"""The queue file through the real programs: a file with a record whose
length wraps (CRCs valid) is reported sanely by `edgehookctl queue stat` and
edgehookd starts on it; a queue.size_bytes that differs from the file is
warned about and the file kept; a creation cut by a full filesystem (a tiny
tmpfs, root only) leaves nothing and the next start with room works.
Usage: test_queue_file.py [SCENARIO ...]: crafted, resize, nospc."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ehtest  # noqa: E402
from ehtest import Daemon, Mosquitto  # noqa: E402

P = "edgehook/t"
SLOW = float(os.environ.get("EH_SLOW", "1"))


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def boot(workdir, broker, path, size):
    return {"device_id": "t", "topic_prefix": P,
            "mqtt": {"uri": "tcp://127.0.0.1:%d" % broker.port, "keepalive_s": 5},
            "queue": {"path": path, "size_bytes": size, "full_policy": "drop_oldest"},
            "coap": {"port": 0}, "log_level": "info"}


def ctl(*args):
    r = subprocess.run(ehtest.ctl_cmd() + list(args), capture_output=True, text=True,
                       timeout=60 * SLOW)
    return r.returncode, r.stdout + r.stderr


def craft_wrapping_record(path):
    """Segment 0 of a formatted, empty queue file gets a header and a DATA
    record of 'length' 0xFFFFFFF8, both with valid CRCs (docs/QUEUE.md)."""
    with open(path, "r+b") as f:
        sb = f.read(64)
        unit, seg_bytes, blocks = struct.unpack_from("<III", sb, 8)
        uid = struct.unpack_from("<Q", sb, 24)[0]
        salt = crc32c(struct.pack("<Q", uid)) | 1
        hdr = bytearray(unit)
        struct.pack_into("<IHHQQQQ", hdr, 0, 0x47514845, 1, 0, 1, 1, 0, uid)
        struct.pack_into("<I", hdr, 44, crc32c(bytes(hdr[:44])))
        payload = b'{"id":"x"}'
        rec = bytearray(40)
        struct.pack_into("<HBBIQQQI", rec, 0, 0x5145, 1, 0, 0xFFFFFFF8, 1, 1, 1,
                         crc32c(payload))
        struct.pack_into("<I", rec, 36, crc32c(bytes(rec[:36]), salt))
        f.seek(seg_bytes)  # block 0 is the superblocks
        f.write(hdr)
        f.write(bytes(rec) + payload)
    return seg_bytes, blocks


def scenario_crafted(c):
    d = ehtest.tempdir("eh-qfile-crafted-")
    broker = Mosquitto(d).start()
    path = os.path.join(d, "q.ring")
    dm = Daemon(d, boot(d, broker, path, 4 << 20))
    try:
        dm.start()
        c.check(dm.stop() == 0, "crafted: a fresh queue file, clean stop")
        craft_wrapping_record(path)
        rc, out = ctl("queue", "stat", path)
        c.check(rc == 0, "crafted: queue stat exits 0")
        c.check("4294967288" not in out, "crafted: no 4294967288 payload bytes")
        c.check("0 valid records (0 payload bytes)" in out, "crafted: 0 valid records")
        c.check("damage: 1 records" in out, "crafted: the record counted as damage")
        dm.start()
        c.check(dm.proc.poll() is None, "crafted: edgehookd starts on it")
        c.check(dm.stop() == 0, "crafted: and stops cleanly")
        dm.start()
        c.check(dm.proc.poll() is None, "crafted: and starts again")
        c.check(dm.stop() == 0, "crafted: clean stop again")
    finally:
        dm.kill9()
        broker.stop()


def scenario_resize(c):
    d = ehtest.tempdir("eh-qfile-resize-")
    broker = Mosquitto(d).start()
    path = os.path.join(d, "q.ring")
    dm = Daemon(d, boot(d, broker, path, 2 << 20))
    try:
        dm.start()
        dm.stop()
        dm.boot["queue"]["size_bytes"] = 4 << 20
        dm.start()
        log = dm.log_since_start()
        warn = [ln for ln in log.splitlines() if "WARNING" in ln and "2097152" in ln
                and "4194304" in ln]
        c.check(len(warn) == 1, "resize: one WARNING naming both sizes")
        c.check(os.path.getsize(path) == 2 << 20, "resize: the file is kept as it is")
        c.check("formatted" not in log, "resize: not reformatted")
        c.check(dm.stop() == 0, "resize: clean stop")
    finally:
        dm.kill9()
        broker.stop()


def scenario_nospc(c):
    if os.geteuid() != 0:
        print("skipped: nospc needs root (a tiny tmpfs)")
        return
    d = ehtest.tempdir("eh-qfile-nospc-")
    broker = Mosquitto(d).start()
    qdir = os.path.join(d, "q")
    os.mkdir(qdir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", qdir], check=True)
    path = os.path.join(qdir, "q.ring")
    dm = Daemon(d, boot(d, broker, path, 4 << 20))
    try:
        dm.start(wait_ready=False)
        dm.proc.wait(30 * SLOW)
        c.check(dm.proc.returncode != 0, "nospc: start fails while the disk is full")
        c.check(os.listdir(qdir) == [], "nospc: no partial queue file left")
        subprocess.run(["mount", "-o", "remount,size=8m", qdir], check=True)
        dm.start()
        c.check(os.path.getsize(path) == 4 << 20, "nospc: next start with room: full size")
        c.check(dm.stop() == 0, "nospc: clean stop")
        rc, out = ctl("queue", "stat", path)
        c.check(rc == 0 and "geometry" in out, "nospc: the queue is usable")
    finally:
        dm.kill9()
        broker.stop()
        subprocess.run(["umount", qdir])


SCENARIOS = {"crafted": scenario_crafted, "resize": scenario_resize, "nospc": scenario_nospc}

if __name__ == "__main__":
    ehtest.run_scenarios(SCENARIOS)
