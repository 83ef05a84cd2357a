# SPDX-License-Identifier: Apache-2.0
"""A throwaway mosquitto for tests: free loopback port, persistence in a temp
dir, started and stopped by PID. Usable from any integration test."""
import getpass
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, exe="mosquitto", port=None, workdir=None):
        self.exe = exe
        self.port = port or free_port()
        self.dir = workdir or tempfile.mkdtemp(prefix="eh-mosq-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n"
                    "allow_anonymous true\n"
                    f"user {getpass.getuser()}\n"
                    "persistence true\n"
                    f"persistence_location {self.dir}/\n"
                    "autosave_interval 1\n"
                    "max_queued_messages 100000\n"
                    "log_type all\n"
                    f"log_dest file {self.dir}/mosquitto.log\n")

    def start(self, timeout=5.0):
        self.proc = subprocess.Popen([self.exe, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited with %d" % self.proc.returncode)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen on %d" % self.port)

    def stop(self):
        """SIGTERM by PID: mosquitto saves its persistence file on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
