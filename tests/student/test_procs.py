"""gradlab/student/procs.py: every descendant found (a setsid grandchild included) and killed; limits read back."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gradlab.student import procs

ESCAPE = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        time.sleep(60)
    os._exit(0)
os.wait()
time.sleep(60)
"""


def test_a_setsid_grandchild_is_found_and_killed_with_its_tree(healthy):
    assert procs.become_subreaper()
    child = subprocess.Popen([sys.executable, "-c", ESCAPE], stdout=subprocess.PIPE, start_new_session=True)
    procs.launched(child.pid)
    grandchild = int(child.stdout.readline())
    tree = procs.Descendants(child.pid)
    _, found = tree.scan()
    assert {child.pid, grandchild} <= found
    os.kill(child.pid, 9)  # the root dies first: the grandchild is an orphan, reparented to us
    child.wait()
    procs.reaped(child.pid)
    child.stdout.close()
    assert tree.kill_all() == []
    time.sleep(0.05)
    assert not os.path.exists(f"/proc/{grandchild}")


def test_limits_are_read_back_from_proc():
    limits = procs.limits_of(os.getpid())
    assert set(limits) == {"cpu", "as", "nproc", "fsize", "nofile", "core"}
    assert all(len(v) == 2 for v in limits.values())
    assert procs.limits_of(2**22 + 12345) is None  # no such process
