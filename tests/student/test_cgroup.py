"""cgroup.py: the per-run group limits, counts and kills what joined it, and nothing else."""

import subprocess
import sys
import time

import pytest

from gradlab.student import isolation
from gradlab.student.cgroup import Cgroup
from gradlab.student.sandbox import DEFAULT_LIMITS

pytestmark = pytest.mark.skipif(not {"pids", "memory"} <= set(isolation.probe().cgroup),
                                reason="no writable cgroup pids+memory tree on this machine")

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nimport time; time.sleep(60)"


def joined(group: Cgroup, code: str) -> subprocess.Popen:
    return subprocess.Popen(group.joining([sys.executable, "-c", code]))


def test_the_group_holds_its_limits_and_is_removed():
    group = Cgroup.make(DEFAULT_LIMITS)
    try:
        assert (group.dirs["pids"] / "pids.max").read_text().strip() == str(DEFAULT_LIMITS.nproc)
    finally:
        group.remove()
    assert not any(d.exists() for d in group.dirs.values())


def test_kill_all_ends_what_joined_and_spares_what_did_not():
    group = Cgroup.make(DEFAULT_LIMITS)
    inside = joined(group, BURN)
    outside = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 10
        while inside.pid not in group.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert inside.pid in group.pids() and outside.pid not in group.pids()
        group.kill_all()
        assert inside.wait(timeout=5) == -9
        assert outside.poll() is None  # the twin: a process outside the group lives on
    finally:
        outside.kill()
        outside.wait()
        group.remove()


def test_the_cpu_time_of_the_group_counts_a_process_after_it_died():
    group = Cgroup.make(DEFAULT_LIMITS)
    if group.cpu_s() is None:
        group.remove()
        pytest.skip("no CPU accounting in this cgroup tree")
    try:
        proc = joined(group, BURN.replace("time.sleep(60)", "pass"))
        proc.wait(timeout=20)
        assert group.cpu_s() >= 0.25
    finally:
        group.remove()
