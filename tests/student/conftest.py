"""Shared fixtures of the student-checker tests: small limits, and the grader's health after each run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from gradlab.student import Limits

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
UNRUNNABLE = EXAMPLES / "unrunnable"
# Attacks run under small limits so the suite stays fast: 1 s of CPU, 3 s of wall clock.
FAST = Limits(cpu_s=1, cpu_hard_s=2, wall_s=3.0)
RAISE_LINE = next(i for i, line in enumerate((UNRUNNABLE / "raises.py").read_text().splitlines(), 1)
                  if "ZeroDivisionError" in line)


def descendants() -> list[tuple[int, str]]:
    """Live processes (or zombies) whose ancestry leads to this test process."""
    me, parent = os.getpid(), {}
    state = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            rest = text[text.rfind(")") + 2:].split()
            parent[int(name)], state[int(name)] = int(rest[1]), rest[0]
    found = []
    for pid in parent:
        p, seen = parent.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parent.get(p), seen + 1
        if p == me and pid != me:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                cmd = "?"
            found.append((pid, f"{state[pid]} {cmd}"))
    return found


def work_dirs() -> set[str]:
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("gradlab-check-")}


@pytest.fixture
def healthy():
    """After the test: no process of ours left, no sandbox directory left."""
    before_dirs, before_procs = work_dirs(), {pid for pid, _ in descendants()}
    yield
    left = [(pid, what) for pid, what in descendants() if pid not in before_procs]
    assert not left, f"processes left behind: {left}"
    assert work_dirs() - before_dirs == set(), "a sandbox directory was left behind"
