"""Processes on Linux, read from /proc: the descendants of a sandboxed child, its limits and CPU time as the kernel
sees them, and every process of a uid (tier B's kill-by-uid).

The grader makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a process that leaves
its parent (``setsid`` and a double fork) is reparented to the grader instead of init. ``Descendants``
then finds every process of a child's tree by ancestry, by session, or as an orphan of ours from a
session of its own, records it (with its start time, so a reused pid is never mistaken for it) while
the child runs, and afterwards kills them all, reaps those reparented to us, and re-scans until none
is left.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_LAUNCHED: set[int] = set()  # sandbox children alive in this process (never treated as orphans)
_LAUNCHED_LOCK = threading.Lock()
_SUBREAPER: bool | None = None
_PROC_LIMIT_NAMES = {"Max cpu time": "cpu", "Max address space": "as", "Max processes": "nproc",
                     "Max file size": "fsize", "Max open files": "nofile", "Max core file size": "core"}


def launched(pid: int) -> None:
    with _LAUNCHED_LOCK:
        _LAUNCHED.add(pid)


def reaped(pid: int) -> None:
    with _LAUNCHED_LOCK:
        _LAUNCHED.discard(pid)


# --- /proc ----------------------------------------------------------------------------------------------

def process_table() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (state, ppid, session, starttime) for every process visible in /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (rest := stat_fields(int(name))) is not None:
            table[int(name)] = (rest[0], int(rest[1]), int(rest[3]), int(rest[19]))
    return table


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (the state, field 3 of proc(5), first); None once
    the process is gone. The name may hold spaces and parentheses, hence the split at the LAST ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("latin-1")
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def kill_until_gone(alive: Callable[[], set[int]], timeout: float = 5.0, pause: float = 0.005) -> list[int]:
    """SIGKILL every pid ``alive()`` lists until it lists none; the pids still there at ``timeout`` (should be
    none). Reaping is the caller's."""
    deadline = time.monotonic() + timeout
    while left := alive():
        if time.monotonic() > deadline:
            return sorted(left)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(pause)
    return []


def limits_of(pid: int) -> dict[str, tuple[int, int]] | None:
    try:
        lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    except OSError:
        return None
    out = {}
    for line in lines:
        parts = re.split(r"\s{2,}", line.strip())
        if parts[0] in _PROC_LIMIT_NAMES and len(parts) >= 3:
            value = [-1 if p == "unlimited" else int(p) for p in parts[1:3]]
            out[_PROC_LIMIT_NAMES[parts[0]]] = tuple(value)
    return out


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); True when it is."""
    global _SUBREAPER
    if _SUBREAPER is None:
        _SUBREAPER = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                _SUBREAPER = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
            except (OSError, AttributeError):
                _SUBREAPER = False
    return _SUBREAPER


def cpu_seconds(pids: set[int]) -> float:
    """The CPU time (user + system) of ``pids`` and of the children each has waited for, from /proc/PID/stat
    (utime, stime, cutime, cstime, in clock ticks). A process counts once: a child's time moves to its parent's
    cutime/cstime only when it is reaped, and then it is no longer in /proc."""
    ticks = 0
    for pid in pids:
        if (rest := stat_fields(pid)) is not None:
            ticks += sum(int(v) for v in rest[11:15])  # fields 14-17 of proc(5): utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def real_uid(pid: int) -> int | None:
    """The REAL uid of ``pid`` (what a setuid program cannot change, and what ``kill(-1)`` by a uid reaches)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def processes_of_uid(uid: int) -> set[int]:
    """Live processes (not zombies) whose real uid is ``uid``."""
    return {pid for pid, (state, *_) in process_table().items() if state not in "ZX" and real_uid(pid) == uid}


def kill_uid(uid: int, timeout: float = 5.0) -> list[int]:
    """SIGKILL every process of ``uid`` until none is left (tier B: the uid is this run's alone, never the
    grader's); the pids still alive at ``timeout`` (should be none). Reaping is the caller's (``Descendants``)."""
    if uid in (0, os.getuid()):
        raise ValueError(f"kill_uid: refusing to kill every process of uid {uid}, the grader's own or root's")
    return kill_until_gone(lambda: processes_of_uid(uid), timeout)


class Descendants:
    """Every process that descends from one child, recorded while it runs and killed afterwards."""

    def __init__(self, root: int):
        self.me, self.my_sid = os.getpid(), os.getsid(0)
        self.root = root
        table = process_table()
        self.start = table[root][3] if root in table else 0
        self.known: dict[int, int] = {root: self.start}  # pid -> starttime (pid reuse safe)
        self.sessions = {root}

    def scan(self) -> tuple[dict, set[int]]:
        """The current table and the pids (alive or zombie) that belong to the child's tree."""
        table = process_table()
        with _LAUNCHED_LOCK:
            others = set(_LAUNCHED) - {self.root}
        seeds = {p for p, st in self.known.items() if p in table and table[p][3] == st}
        for pid, (_, ppid, sid, start) in table.items():
            if start < self.start or pid in others or pid == self.me:
                continue
            if sid in self.sessions and sid != self.my_sid:
                seeds.add(pid)  # the child's session (the child is its leader), and sessions it made
            elif ppid == self.me and sid != self.my_sid:
                seeds.add(pid)  # an orphan reparented to us, the subreaper, from a session of its own
        children: dict[int, list[int]] = {}
        for pid, (_, ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        found, stack = set(), list(seeds)
        while stack:
            pid = stack.pop()
            if pid in found or pid in others or pid == self.me:
                continue
            found.add(pid)
            stack.extend(children.get(pid, ()))
        for pid in found:
            self.known[pid] = table[pid][3]
            self.sessions.add(table[pid][2])
        return table, found

    def kill_all(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL every descendant, reap those reparented to us; re-scan until none is left."""
        deadline = time.monotonic() + timeout
        while True:
            table, found = self.scan()
            live = [p for p in found if table[p][0] not in "ZX"]
            ours = [p for p in found if table[p][1] == self.me]
            for pid in live:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for pid in ours:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            waiting = [p for p in found if table[p][0] not in "ZX" or table[p][1] == self.me
                       or table[p][1] in found]
            if not waiting:
                return []
            if time.monotonic() > deadline:
                return sorted(waiting)
            time.sleep(0.005)
