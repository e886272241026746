"""gradlab/student/sandbox.py (and shim.py): the first layer, tier C, against hostile submissions.

Each attack asserts the reason the checker gives, that it is never a pass, and that the grader is
healthy afterwards (no process of ours left, no sandbox directory left). Limits are small here
(1 s CPU, 3 s wall) so the suite stays fast; the defaults are SANDBOX.md's (10/11 s, 20 s).
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

from gradlab.student import Limits, check, frames, isolation, sandbox
from tests.student.conftest import EXAMPLES, FAST, RAISE_LINE, UNRUNNABLE

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
