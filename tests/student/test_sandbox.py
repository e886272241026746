"""gradlab/student/sandbox.py (and shim.py): the first layer, tier C, against hostile submissions.

Each attack asserts the reason the checker gives, that it is never a pass, and that the grader is
healthy afterwards (no process of ours left, no sandbox directory left). Limits are small here
(1 s CPU, 3 s wall) so the suite stays fast; the defaults are SANDBOX.md's (10/11 s, 20 s).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gradlab.student import Limits, check, frames, isolation, procs, sandbox
from tests.student.attacks.conftest import require_tier
from tests.student.conftest import EXAMPLES, FAST, RAISE_LINE, ROOT, UNRUNNABLE

ATTACKS = {  # file in examples/unrunnable -> (error kind, words the message must contain)
    "infinite_loop.py": ("cpu_limit", "CPU time"),
    "busy_numpy.py": ("cpu_limit", "CPU time"),
    "sleeps_forever.py": ("timeout", "wall clock"),
    "allocates_10gb.py": ("memory", "MemoryError"),
    "prints_gigabytes.py": ("output_limit", "MiB"),
    "exits_at_import.py": ("exit", "SystemExit(0)"),
    "os_exit_at_import.py": ("no_result", "os._exit"),
    "nan_gradient.py": ("non_finite", "W_hh[1, 2] = nan"),
    "wrong_shape.py": ("bad_return", "W_xh with shape (3, 5); expected (5, 3)"),
    "object_array.py": ("bad_return", "dtype object"),
    "forged_frame_dtype.py": ("bad_result", "dtype kind 'O'"),
    "forged_frame_80gb.py": ("bad_result", "declared shape (10000000000,)"),
    "raises.py": ("exception", "ZeroDivisionError"),
    "reads_data_at_import.py": ("import", "FileNotFoundError"),
}


# CPU attacks get a longer wall clock, so that a loaded machine cannot turn "CPU limit" into "time-out".
CPU_ATTACK = Limits(cpu_s=FAST.cpu_s, cpu_hard_s=FAST.cpu_hard_s, wall_s=8.0)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_each_attack_is_reported_with_its_reason_and_never_passes(name, healthy):
    kind, words = ATTACKS[name]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = check(UNRUNNABLE / name, limits=CPU_ATTACK if kind == "cpu_limit" else FAST)
    assert result.verdict == "error" and result.exit_code == 2
    assert result.error["kind"] == kind, result.error
    assert words in result.error["message"], result.error["message"]
    assert result.sandbox["tier"] == isolation.select()
    # the grader allocated nothing for the 10 GiB array, the 80 GB header or the gigabytes printed
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB


def test_a_cpu_limit_stops_a_busy_numpy_call_within_the_hard_limit(healthy):
    result = check(UNRUNNABLE / "busy_numpy.py", limits=CPU_ATTACK)
    assert result.error["kind"] == "cpu_limit"
    assert result.sandbox["cpu_s"] <= CPU_ATTACK.cpu_hard_s + 0.3
    assert result.sandbox["wall_s"] < CPU_ATTACK.wall_s


def test_the_traceback_points_into_the_students_file(healthy):
    result = check(UNRUNNABLE / "raises.py", limits=FAST)
    tb = result.error["traceback"]
    assert f'File "raises.py", line {RAISE_LINE}, in loss_and_grads' in tb and "ZeroDivisionError" in tb
    assert "shim.py" not in tb


def test_a_syntax_error_names_the_line_without_running_anything(healthy):
    result = check(UNRUNNABLE / "syntax_error.py", limits=FAST)
    assert result.error["kind"] == "syntax"
    assert result.error["message"] == "SyntaxError at line 6: expected ':'"
    assert result.sandbox is None  # nothing ran


DAEMON = '''
import os, subprocess, time
import numpy as np

MODEL = "rnn"
pid = os.fork()
if pid == 0:                       # first child: a new session, then a grandchild that outlives it
    os.setsid()
    if os.fork() == 0:
        with open({pidfile!r}, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(1000)
    os._exit(0)
os.waitpid(pid, 0)
plain = subprocess.Popen(["sleep", "1000"])  # and an ordinary child, never waited for
with open({pidfile!r} + ".plain", "w") as fh:
    fh.write(str(plain.pid))
while not os.path.exists({pidfile!r}):
    time.sleep(0.01)
'''


def test_a_setsid_daemon_and_a_plain_child_are_killed_after_a_correct_check(tmp_path, healthy):
    pidfile = str(tmp_path / "daemon.pid")
    body = (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]
    path = tmp_path / "with_daemon.py"
    path.write_text(DAEMON.format(pidfile=pidfile) + body)
    result = check(path, limits=FAST, tier="C")  # tier C: the child can write the pid files where we read them
    assert result.verdict == "correct", result.error
    pids = [int(Path(pidfile).read_text()), int(Path(pidfile + ".plain").read_text())]
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"process {pid} survived the check"


def test_changing_its_own_limits_is_a_sandbox_error(tmp_path, healthy):
    """The parent reads /proc/<pid>/limits while the child runs: a change after the shim set them is caught.
    (Lowering is always allowed; raising a hard limit needs CAP_SYS_RESOURCE, which these machines' root lacks.)"""
    path = tmp_path / "changes_limits.py"
    body = (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]
    path.write_text('import resource, time\nMODEL = "rnn"\n'
                    "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
                    "time.sleep(0.3)\n" + body)
    result = check(path, limits=FAST)
    assert result.verdict == "error"
    assert result.error["kind"] == "sandbox" and "rlimit-nofile (changed by the submission)" in result.error["message"]


def _probe_request() -> bytes:
    return frames.encode({"plan": frames.text_array(json.dumps({"mode": "probe", "names": ["x"]}), 1 << 20)})


def test_an_honest_run_reports_every_layer_verified_by_the_parent(healthy):
    started = time.monotonic()
    run = sandbox.run("import numpy as np\nx = np.zeros(3)\n", _probe_request(),
                      {"meta": frames.Spec("u", max_elements=1 << 20)}, FAST)
    assert run.failure is None and run.missing_layers == []
    assert run.meta["probe"]["x"]["shape"] == [3]
    for name in ("cpu", "as", "nproc", "fsize", "nofile", "core"):
        assert any(layer.startswith(f"rlimit-{name} ") for layer in run.layers), run.layers
    assert "subreaper-kill" in run.layers and "new-session" in run.layers
    assert run.meta["threads_env"] == "1"
    assert time.monotonic() - started < 3.0  # the overhead of one child (python -I, numpy): ~0.3 s measured


def test_the_child_sees_a_scrubbed_environment_and_a_private_directory(healthy):
    os.environ["GRADLAB_SECRET_FOR_TEST"] = "do-not-leak"
    try:
        run = sandbox.run("import os, json\nprint(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), "
                          "'files': sorted(os.listdir('.'))}))\nx = 1\n",
                          _probe_request(), {"meta": frames.Spec("u", max_elements=1 << 20)}, FAST)
    finally:
        del os.environ["GRADLAB_SECRET_FOR_TEST"]
    seen = json.loads(run.stdout)
    assert "GRADLAB_SECRET_FOR_TEST" not in seen["env"]
    assert set(seen["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "MPLBACKEND", "OMP_NUM_THREADS",
                                "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                                "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "LC_CTYPE",
                                "PWD"}  # PWD: set by bubblewrap to the sandbox directory (tier A)
    assert seen["env"]["HOME"] == seen["cwd"] == seen["env"]["TMPDIR"]
    assert seen["files"] == ["request.bin", "submission.py"]


def test_stdout_is_kept_to_its_first_64_kib(healthy):
    run = sandbox.run("print('y' * 200_000)\nx = 1\n", _probe_request(),
                      {"meta": frames.Spec("u", max_elements=1 << 20)}, FAST)
    assert run.failure is None and len(run.stdout) == 64 << 10


def test_at_tier_a_a_setsid_daemon_dies_with_the_run_and_cannot_write_outside(tmp_path, healthy):
    """Tier A: the pid namespace (and the cgroup) take every process with them; host paths are not there."""
    if isolation.probe().best != "A":
        pytest.skip("tier A (bubblewrap) is not available here: see gradlab doctor")
    outside = tmp_path / "planted.txt"
    body = (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]
    path = tmp_path / "with_daemon.py"
    path.write_text(f'import os, subprocess\nimport numpy as np\nMODEL = "rnn"\n'
                    f'subprocess.Popen(["setsid", "sleep", "4321.5"])\n'
                    f'try:\n    open({str(outside)!r}, "w").write("x")\nexcept OSError:\n    pass\n' + body)
    result = check(path, limits=FAST)
    assert result.verdict == "correct" and result.sandbox["tier"] == "A", result.error
    assert not outside.exists()
    time.sleep(0.2)
    survivors = [p for p in os.listdir("/proc") if p.isdigit() and b"4321.5" in _cmdline(p)]
    assert survivors == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --- the run's CPU time ----------------------------------------------------------------------------------

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5:\n    pass\nx = 1\n"
IGNORE_XCPU = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
META = {"meta": frames.Spec("u", max_elements=1 << 20)}


def _at(tier: str, **kw) -> Limits:
    require_tier(tier)
    return dataclasses.replace(FAST, tier=tier, **kw)


@pytest.mark.parametrize("tier", ["A", "B", "C"])
def test_cpu_s_is_the_runs_own_cpu_time_at_every_tier(tier, healthy):
    run = sandbox.run(BURN, _probe_request(), META, _at(tier))
    assert run.failure is None and run.tier == tier
    assert 0.3 <= run.cpu_s <= run.meta["cpu_s"] + 0.5, run.cpu_by  # the child's own count: evidence, not counted twice


def test_at_tier_a_wait4_alone_misses_the_shims_cpu_time_and_the_cgroup_has_it(healthy):
    """The twin of the test above: bubblewrap does not pass its child's CPU time on to wait4."""
    run = sandbox.run(BURN, _probe_request(), META, _at("A"))
    assert run.cpu_by["wait4"] < 0.3 <= run.cpu_s
    if "cpuacct" in isolation.probe().cgroup:
        assert run.cpu_by["cgroup"] >= 0.3, run.cpu_by


def test_at_tier_a_without_a_cgroup_the_proc_samples_give_the_cpu_time(monkeypatch, healthy):
    monkeypatch.setattr(sandbox.Cgroup, "make", classmethod(lambda cls, limits: None))
    run = sandbox.run(BURN, _probe_request(), META, _at("A"))
    assert "cgroup" not in run.cpu_by and run.cpu_by["/proc samples"] >= 0.3, run.cpu_by


@pytest.mark.parametrize("tier", ["A", "C"])
def test_a_loop_that_ignores_sigxcpu_is_killed_at_the_hard_limit_and_reported_as_cpu(tier, healthy):
    limits = _at(tier, wall_s=8.0)
    run = sandbox.run(IGNORE_XCPU, _probe_request(), META, limits)
    assert run.returncode == -signal.SIGKILL and run.failure[0] == "cpu_limit", run.failure
    if tier == "A":  # wait4's time alone (bubblewrap's) would have called the kill a crash
        assert sandbox._classify(run.returncode, run.cpu_by["wait4"], limits, False)[0] == "crash"


# --- tier B's parts, tried as root here without needing tier B -----------------------------------------------

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")


def test_the_uid_range_is_parsed_and_never_holds_root_or_the_grader(monkeypatch):
    monkeypatch.setenv(isolation.SANDBOX_UIDS_ENV, "65510-65512")
    assert isolation.sandbox_uids() == range(65510, 65513)
    for bad in ("65512-65510", "0-10", f"{os.getuid()}-{os.getuid()}", "65510", "a-b"):
        monkeypatch.setenv(isolation.SANDBOX_UIDS_ENV, bad)
        with pytest.raises(ValueError, match=isolation.SANDBOX_UIDS_ENV):
            isolation.sandbox_uids()


def test_concurrent_runs_lease_different_uids_and_wait_when_all_are_held(monkeypatch, tmp_path):
    monkeypatch.setattr(isolation, "UID_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv(isolation.SANDBOX_UIDS_ENV, "65531-65532")
    a, b = isolation.UidLease.take(), isolation.UidLease.take()
    assert {a.uid, b.uid} == {65531, 65532}
    with pytest.raises(isolation.IsolationError, match="were held by other runs"):
        isolation.UidLease.take(timeout=0.2)
    a.release()
    c = isolation.UidLease.take(timeout=0.2)
    assert c.uid == a.uid
    b.release()
    c.release()


def test_the_lock_directory_must_be_the_graders_alone(monkeypatch, tmp_path):
    shared = tmp_path / "locks"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(isolation, "UID_LOCK_DIR", str(shared))
    with pytest.raises(isolation.IsolationError, match="only it may write"):
        isolation.UidLease.take(timeout=0.2)


@needs_root
def test_kill_uid_kills_every_process_of_that_uid_and_no_other():
    uids = isolation.sandbox_uids()
    lease, other = isolation.UidLease.take(), isolation.UidLease.take()
    try:
        mine = [subprocess.Popen(["sleep", "300"], user=lease.uid, group=lease.uid, extra_groups=[],
                                 start_new_session=True) for _ in range(2)]
        theirs = subprocess.Popen(["sleep", "300"], user=other.uid, group=other.uid, extra_groups=[])
        assert procs.processes_of_uid(lease.uid) == {p.pid for p in mine}
        assert procs.kill_uid(lease.uid) == []
        assert [p.wait(5) for p in mine] == [-signal.SIGKILL] * 2
        assert theirs.poll() is None and procs.processes_of_uid(other.uid) == {theirs.pid}
        procs.kill_uid(other.uid)
        theirs.wait(5)
    finally:
        lease.release()
        other.release()
    with pytest.raises(ValueError, match="refusing"):
        procs.kill_uid(os.getuid())
    assert lease.uid in uids


@needs_root
def test_the_files_a_uid_left_in_scratch_directories_are_removed_and_nothing_else(tmp_path):
    uid = isolation.sandbox_uids().start
    scratch = tmp_path / "tmp"
    (scratch / "sticky").mkdir(parents=True)  # a world-writable directory below: looked into
    (scratch / "private").mkdir()  # the grader's own: the uid could not write there, not looked into
    for d, mode in ((scratch, 0o1777), (scratch / "sticky", 0o1777), (scratch / "private", 0o755)):
        d.chmod(mode)
    left = [scratch / "a-file", scratch / "a-dir", scratch / "sticky" / "deeper"]
    (scratch / "a-dir").mkdir()
    (scratch / "a-dir" / "inside").write_text("x")
    for path in (scratch / "a-file", scratch / "sticky" / "deeper", scratch / "graders", scratch / "private" / "f",
                 scratch / "another-uids"):
        path.write_text("x")
    for path in (*left, scratch / "a-dir" / "inside", scratch / "private" / "f"):
        os.chown(path, uid, uid)
    os.chown(scratch / "another-uids", uid + 1, uid + 1)
    removed = isolation.remove_files_of(uid, (str(scratch),))
    assert sorted(removed) == sorted(map(str, left))
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in (scratch / "graders", scratch / "another-uids", scratch / "private" / "f"))


def test_the_tier_b_probe_names_the_directory_that_keeps_another_user_out():
    with tempfile.TemporaryDirectory(dir="/tmp") as d:  # (pytest's tmp_path lies under a 0700 directory)
        os.chmod(d, 0o755)
        closed = Path(d, "home")
        (closed / "bin").mkdir(parents=True)
        closed.chmod(0o700)
        assert isolation.unreachable(str(closed / "bin")) == (f"{closed} is mode 0700, so no other user can reach "
                                                              f"{closed / 'bin'}")
        assert isolation.unreachable(d) is None
    m = isolation.probe().mechanisms["dedicated-uid"]
    if not m.ok and os.getuid() == 0 and (why := isolation.unreachable(sys.executable)):
        assert why in m.detail  # e.g. "/root is mode 0700, so no other user can reach /root/.pyenv/..."


def test_forcing_tier_b_where_its_uid_cannot_run_python_is_refused_with_the_reason(monkeypatch):
    why = "uid 65500 cannot run this Python (/venv/bin/python): /root is mode 0700"
    monkeypatch.setitem(isolation.probe().mechanisms, "dedicated-uid", isolation.Mechanism("dedicated-uid", False, why))
    with pytest.raises(isolation.IsolationError, match="tier B was forced but"):
        isolation.select("B")
    if isolation.probe().best == "A":
        with pytest.raises(isolation.IsolationError, match=re.escape(f"tier B was forced but {why}")):
            isolation.select("B")


# --- tier B, where the machine gives it (a Python that other users may run) ----------------------------------

LEFT_BEHIND = '''
import os, subprocess, time
import numpy as np
MODEL = "rnn"
subprocess.Popen(["setsid", "sleep", "4321.25"])        # a daemon in a session of its own
for d in ("/tmp", "/dev/shm", "/var/tmp"):
    with open(f"{d}/gradlab-attack-left-{os.getuid()}", "w") as fh:
        fh.write("left")
'''


def test_at_tier_b_the_child_runs_as_a_uid_of_its_own_and_leaves_nothing(tmp_path, healthy):
    limits = _at("B")
    body = (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]
    path = tmp_path / "leaves.py"
    path.write_text(LEFT_BEHIND + body)
    result = check(path, limits=limits)
    assert result.verdict == "correct" and result.sandbox["tier"] == "B", result.error
    layer = next(x for x in result.sandbox["layers"] if x.startswith("dedicated uid "))
    uid = int(layer.split()[2])
    assert uid in isolation.sandbox_uids() and uid != os.getuid()
    assert procs.processes_of_uid(uid) == set()
    assert not any(os.path.exists(f"{d}/gradlab-attack-left-{uid}") for d in ("/tmp", "/dev/shm", "/var/tmp"))


VICTIM = '''
import os, time
import numpy as np
MODEL = "rnn"
open("/tmp/gradlab-attack-victim-{token}", "w").close()
time.sleep(3)                                            # the other run's kill(-1) lands here, or not
'''
KILLER = '''
import os, signal, time
import numpy as np
MODEL = "rnn"
for _ in range(500):                                     # until the other run is under way
    if os.path.exists("/tmp/gradlab-attack-victim-{token}"):
        break
    time.sleep(0.01)
os.kill(-1, signal.SIGKILL)                              # every process this uid may signal, itself excepted
'''


GRADER = """
import dataclasses, json, sys
from gradlab.student import check, isolation
from tests.student.conftest import FAST

class Shared:  # every run gets the same uid, as with a single dedicated uid
    uid = isolation.sandbox_uids().start

    @classmethod
    def take(cls, timeout=60.0):
        return cls()

    def release(self):
        pass

if sys.argv[2] == "shared":
    isolation.UidLease = Shared
result = check(sys.argv[1], limits=dataclasses.replace(FAST, tier="B", wall_s=15.0))
print(json.dumps([result.verdict, result.error, [x for x in result.sandbox["layers"] if x.startswith("dedicated")]]))
"""


@pytest.mark.parametrize("shared_uid", [False, True], ids=["a-uid-per-run", "one-shared-uid"])
def test_concurrent_tier_b_runs_cannot_kill_each_other(shared_uid, tmp_path, healthy):
    """Two graders at once (as ``gradlab grade --jobs 2``), one of which calls kill(-1): with a uid per run the
    other still passes; the twin, one uid shared by both, shows the other killed."""
    _at("B")
    token = os.urandom(4).hex()
    body = (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]
    graders = []
    for name, prelude in (("victim", VICTIM), ("killer", KILLER)):
        path = tmp_path / f"{name}.py"
        path.write_text(prelude.format(token=token) + body)
        graders.append(subprocess.Popen([sys.executable, "-c", GRADER, str(path), "shared" if shared_uid else "own"],
                                        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE))
    victim, killer = (json.loads(g.communicate(timeout=60)[0]) for g in graders)
    Path(f"/tmp/gradlab-attack-victim-{token}").unlink(missing_ok=True)
    if shared_uid:  # (and the victim's kill-by-uid afterwards may take the killer with it)
        assert victim[0] == "error" and victim[1]["kind"] == "crash", victim
    else:
        assert victim[0] == killer[0] == "correct" and victim[2] != killer[2], (victim, killer)
