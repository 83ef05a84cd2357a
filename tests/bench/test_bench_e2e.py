# SPDX-License-Identifier: Apache-2.0
"""bench_e2e's system call split, on per-thread files as strace -f -ff -yy
writes them: threads named by PR_SET_NAME, descriptors told apart, a traced
start subtracted. No daemon, no broker: python3 test_bench_e2e.py"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_e2e  # noqa: E402

MAIN = """\
prctl(PR_SET_NAME, "edgehookd")        = 0
pwrite64(7</q/q-1.ring.journal>, ""..., 1100, 0) = 1100
pwrite64(6</q/q-1.ring>, ""..., 1100, 0) = 1100
pread64(8</q/q-1.ring.seen>, ""..., 4096, 0) = 4096
fdatasync(6</q/q-1.ring>)                = 0
read(3<anon_inode:[eventfd]>, ""..., 8) = 8
poll([{fd=3<anon_inode:[eventfd]>, events=POLLIN}], 1, 1000) = 1
sendto(9<TCP:[127.0.0.1:40000->127.0.0.1:4443]>, ""..., 900, 0, NULL, 0) = 900
futex(0x5555, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>
<... futex resumed>)                    = 0
+++ exited with 0 +++
"""
RCV = """\
prctl(PR_SET_NAME, "MQTTAsync_rcv")    = 0
recvfrom(5<TCP:[127.0.0.1:40001->127.0.0.1:1883]>, ""..., 4, 0, NULL, NULL) = 4
write(3<anon_inode:[eventfd]>, ""..., 8) = 8
"""
START = """\
pread64(6</q/q-1.ring>, ""..., 256, 0)  = 256
pread64(6</q/q-1.ring>, ""..., 256, 256) = 256
"""


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def main():
    ports = {"mqtt": 1883, "https": 4443}
    with tempfile.TemporaryDirectory() as d:
        write(d, "st.100", MAIN)
        write(d, "st.102", RCV)
        write(d, "st0.90", START)
        run = bench_e2e.strace_counts(os.path.join(d, "st"), ports)
        start = bench_e2e.strace_counts(os.path.join(d, "st0"), ports)
    kinds, calls, fds, threads = run
    fails = []

    def expect(what, got, want):
        if got != want:
            fails.append("%s: got %r, want %r" % (what, got, want))

    # the unfinished/resumed pair is one call, exit lines none; poll names no
    # descriptor of its own (its set is inside brackets)
    expect("ours", kinds["ours"], 9)
    expect("paho", kinds["paho"], 3)
    expect("thread names", sorted(v[0] for v in threads.values()),
           ["MQTTAsync_rcv", "edgehookd"])
    expect("journal", fds["queue.journal"], 1)
    expect("ring", fds["queue"], 2)
    expect("seen", fds["queue.seen"], 1)
    expect("eventfd", fds["eventfd"], 1)
    expect("https", fds["https"], 1)
    expect("futex", calls["futex"], 1)
    s = bench_e2e.strace_summary(run, start, 2)
    # the start's two preads are taken off, leaving the ring at -1 pread
    expect("ours per notification", s["syscalls_ours"], 3.5)
    expect("pread net", s["syscalls_ours_by_call"].get("pread64"), -0.5)
    expect("start-up", s["start_up_syscalls_ours"], 2)
    for f in fails:
        print("FAIL", f)
    print("ok" if not fails else "%d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
