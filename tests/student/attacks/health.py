"""The machine's health around one attack: no process, file or sandbox directory left, the grader's RSS
bounded, the canary sockets untouched. Used by the attack tests (through conftest's ``health`` fixture)
and by benchmarks/attacks.py; no pytest here.

``Health()`` takes a snapshot before the attack (and opens the canaries: a TCP listener on 127.0.0.1 and a
UDP socket on ::1, plus a secret file beside the grader); ``problems()`` lists what changed after it;
``cleanup()`` removes whatever the attack left and closes the canaries. Runs of the sandbox should make
their directories under ``base`` (set ``tempfile.tempdir`` to it): other graders on the machine use /tmp too.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import socket
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path

from tests.student.attacks.catalogue import MARK, ROOT
from tests.student.conftest import descendants

RSS_GROWTH_KIB = 200 << 10
SCANNED = ("/tmp", "/dev/shm", "/var/tmp", sysconfig.get_paths()["purelib"])


def _marked() -> set[str]:
    found = set()
    for d in SCANNED:
        try:
            found |= {os.path.join(d, n) for n in os.listdir(d) if MARK in n}
        except OSError:
            continue
    return found


def _sandbox_dirs(base: str) -> set[str]:
    return {n for n in os.listdir(base) if n.startswith("gradlab-check-")}


class Health:
    """The machine before an attack, and what changed after it."""

    def __init__(self):
        self.procs = {pid for pid, _ in descendants()}
        self.base = tempfile.mkdtemp(prefix=f"{MARK}-tempdir-")  # the sandbox's own directories go here
        os.chmod(self.base, 0o711)  # as /tmp is to every user: tier B's uid must reach its run's directory
        self.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.udp.bind(("::1", 0))
        self.secret = f"secret-{uuid.uuid4().hex}"
        self.secret_dir = tempfile.mkdtemp(prefix=f"{MARK}-grader-")
        self.secret_path = os.path.join(self.secret_dir, "reference_solution.txt")
        Path(self.secret_path).write_text(self.secret)
        self.pidns = os.readlink("/proc/self/ns/pid")

    def tokens(self, tier: str) -> dict[str, str]:
        """The values an attack's prelude is written with (ports, paths, the grader's pid)."""
        return {"TCP_PORT": self.tcp.getsockname()[1], "UDP_PORT": self.udp.getsockname()[1], "MARK": MARK,
                "SECRET": repr(self.secret), "SECRET_PATH": repr(self.secret_path), "GRADER_PID": os.getpid(), "GRADER_UID": os.getuid(),
                "GRADER_SOURCE": repr(str(ROOT / "gradlab" / "student" / "checker.py")), "HOST_PIDNS": self.pidns,
                "SHM_BYTES": (3 << 30) if tier == "A" else (64 << 20)}

    def problems(self) -> list[str]:
        found = []
        deadline = time.monotonic() + 2.0
        while (left := [p for p in descendants() if p[0] not in self.procs]) and time.monotonic() < deadline:
            time.sleep(0.05)  # a process being reaped right now is not one left behind
        if left:
            found.append(f"processes left behind: {left}")
        if files := sorted(_marked() - {self.secret_dir, self.base}):
            found.append(f"files left behind: {files}")
        if dirs := _sandbox_dirs(self.base):
            found.append(f"sandbox directories left behind: {sorted(dirs)}")
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.rss
        if grown > RSS_GROWTH_KIB:
            found.append(f"the grader's peak RSS grew by {grown >> 10} MiB")
        if select.select([self.tcp], [], [], 0)[0]:
            found.append("the TCP canary on 127.0.0.1 received a connection")
        if select.select([self.udp], [], [], 0)[0]:
            found.append("the UDP canary on ::1 received a datagram")
        return found

    def assert_ok(self) -> None:
        problems = self.problems()
        assert not problems, "; ".join(problems)

    def cleanup(self) -> None:
        for path in _marked():
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else Path(path).unlink(missing_ok=True)
        self.tcp.close()
        self.udp.close()
