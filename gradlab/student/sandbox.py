"""The parent side of the sandbox: run a submission in a child process and bring back framed numbers.

SANDBOX.md holds the measured design; isolation.py probes the tiers (A: bubblewrap and a cgroup; B: a uid
of the run's own; C: the grader's uid) and this module runs one child at the tier chosen. gradlab's own
process never imports the submission. One call:

    run(source, request, expected, limits) -> SandboxRun

- A fresh private directory per run (``work/`` is the child's cwd, HOME and TMPDIR); the submission is
  written there as ``submission.py`` with ``request.bin`` (the inputs: not secret, never a reference).
- ``subprocess.Popen([python, "-I", shim.py, LIMITS, OPTIONS, FD], start_new_session=True, pass_fds=(FD,),
  stdin=DEVNULL, env=scrubbed, cwd=work)``, no preexec_fn: the shim sets the rlimits and the seccomp
  filter itself and reports them, and the parent also reads the limits back from /proc/<pid>/limits while
  the child runs. Tier A wraps it in bubblewrap (joined to the run's cgroup first); tier B adds
  ``user=, group=, extra_groups=[]`` with a uid leased for this run alone (``isolation.UidLease``).
- The parent enforces the wall clock and the output cap (stdout/stderr go to files; the first 64 KiB
  are kept; more than 16 MiB kills), reads the result pipe with a cap, and decodes ONE framed message
  with every declared size checked against ``expected`` before anything is allocated.
- Afterwards it kills EVERY descendant: it is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a
  process that left its parent (``setsid`` and a double fork) is reparented to the grader, where the
  /proc walk finds it (by ancestry, by session, or as an orphan of ours); it re-scans until none is
  left, reaps them, and removes the directory. Tier A also empties the cgroup; tier B kills every
  process of the run's uid and removes the files that uid left in /tmp, /var/tmp and /dev/shm.
- ``cpu_s`` is the run's CPU time: the largest of wait4's (the shim's, at tiers B and C; only
  bubblewrap's at tier A), the cgroup's accounting, or else the watchdog's samples of /proc.

What tier C does NOT guarantee (the result says so): the submission runs as the grader's user, so it
can read what the grader can read, write outside its directory, raise its own limits when that user
is root, and RLIMIT_NPROC does not bind uid 0; there is no network or filesystem isolation and no
total disk quota. The wall clock, the output cap and the kill of every descendant hold regardless.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradlab.student import frames, isolation, procs
from gradlab.student.cgroup import Cgroup

SHIM = Path(__file__).with_name("shim.py")
TIER = "C"
TIER_WARNINGS = (
    ("tier C: the submission runs as the grader's user, with no namespaces: it can read the grader's files "
     "and write outside its directory; no network isolation and no total disk quota"),
)


@dataclass(frozen=True)
class Limits:
    """Per-run limits; the defaults are SANDBOX.md's."""

    cpu_s: int = 10
    cpu_hard_s: int = 11
    wall_s: float = 20.0
    address_space: int = 2 << 30
    nproc: int = 64
    file_size: int = 64 << 20
    open_files: int = 128
    core: int = 0
    output_keep: int = 64 << 10
    output_kill: int = 16 << 20
    memory_total: int = 3 << 30  # every process of the run together (cgroup, else the RSS watchdog)
    disk: int = 256 << 20  # the working directory (tier A: a tmpfs of this size)
    shm: int = 16 << 20  # /tmp and /dev/shm each (tier A)
    tier: str | None = None  # force a lower isolation tier (tests); None: the machine's best
    isolation: str = "default"  # "strict": refuse to run below tier B

    def rlimits(self) -> dict[str, tuple[int, int]]:
        return {"cpu": (self.cpu_s, self.cpu_hard_s), "as": (self.address_space,) * 2, "nproc": (self.nproc,) * 2,
                "fsize": (self.file_size,) * 2, "nofile": (self.open_files,) * 2, "core": (self.core,) * 2}


DEFAULT_LIMITS = Limits()


@dataclass
class SandboxRun:
    """What one child run produced, and how it was contained."""

    arrays: dict[str, np.ndarray] | None  # the decoded result frame (None: no valid message)
    meta: dict  # the child's JSON report (evidence only; {} without a message)
    failure: tuple[str, str] | None  # (kind, message) when the parent stopped it or found no valid result
    stdout: str
    stderr: str
    returncode: int | None  # exit status, or -signal number
    cpu_s: float
    wall_s: float
    max_rss: int  # bytes
    layers: list[str] = field(default_factory=list)
    missing_layers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    leftover: list[int] = field(default_factory=list)  # processes that could not be killed (should be empty)
    tier: str = TIER
    cpu_by: dict[str, float] = field(default_factory=dict)  # the estimates cpu_s is the largest of (Watch.cpu_estimates)

    def sandbox_dict(self) -> dict:
        return {"tier": self.tier, "layers": self.layers, "missing_layers": self.missing_layers,
                "warnings": self.warnings, "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3),
                "max_rss": self.max_rss, "returncode": self.returncode}


# --- one run ----------------------------------------------------------------------------------------------

def scrubbed_env(work: str) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg"}
    for name in ("OMP", "OPENBLAS", "MKL", "NUMEXPR", "VECLIB_MAXIMUM", "BLIS"):
        env[f"{name}_NUM_THREADS" if name != "VECLIB_MAXIMUM" else "VECLIB_MAXIMUM_THREADS"] = "1"
    return env


def _read_available(fd: int, buf: bytearray, cap: int) -> tuple[bool, bool]:
    """Read what the pipe has; return (eof, over_cap)."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False, False
        if not chunk:
            return True, False
        buf += chunk
        if len(buf) > cap:
            return False, True


def _head(fd: int, n: int) -> str:
    try:
        return os.pread(fd, n, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _remove(path: str) -> None:
    def retry(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def run(source: str, request: bytes, expected: Mapping[str, frames.Spec],
        limits: Limits = DEFAULT_LIMITS) -> SandboxRun:
    """Run ``source`` as submission.py under the shim with ``request``; see the module docstring.

    ``limits.tier`` forces a LOWER isolation tier than the machine's best (tests; else the best, see
    isolation.py); ``limits.isolation == "strict"`` raises isolation.IsolationError below tier B.
    """
    tier = isolation.select(limits.tier, limits.isolation)
    subreaper = procs.become_subreaper()
    lease = isolation.UidLease.take() if tier == "B" else None  # this run's own uid (waits while all are held)
    root = tempfile.mkdtemp(prefix="gradlab-check-")
    group = Cgroup.make(limits) if tier == "A" else None
    try:
        return _run_in(root, source, request, expected, limits, subreaper, tier, group, lease and lease.uid)
    finally:
        if group is not None:
            group.remove()
        if lease is not None:
            lease.release()
        _remove(root)


def _command(tier: str, work: str, limits: Limits, wanted: dict, write_fd: int, group: Cgroup | None,
             shim: Path = SHIM) -> list[str]:
    """The child's command line: the shim (under bubblewrap at tier A), joined to the run's cgroup first."""
    options = json.dumps({"seccomp": isolation.probe().ok("seccomp")})
    args = [json.dumps({k: list(v) for k, v in wanted.items()}), options, str(write_fd)]
    if tier != "A":
        return [sys.executable, "-I", str(shim), *args]
    sizes = {"tmp": limits.shm, "shm": limits.shm, "work": limits.disk}
    cmd = isolation.bwrap_command(work, isolation.SHIM_FILES, sizes)
    cmd += [sys.executable, "-I", f"{isolation.SHIMDIR}/shim.py", *args]
    if group is None:
        return cmd
    return group.joining(cmd)


def _for_uid(root: str, work: str, uid: int) -> Path:
    """Tier B: ``root`` traversable (0711), ``work`` and its two files owned by ``uid``, and a copy of the shim's
    files in ``root/shim`` that ``uid`` may read but not change (gradlab itself may lie where it cannot read);
    the shim's path."""
    if why := isolation.unreachable(root):
        raise isolation.IsolationError(f"tier B: the run's directory must be reachable by its uid {uid}, but {why}; "
                                       "set TMPDIR to a directory every user may enter, such as /tmp")
    os.chmod(root, 0o711)
    shim_dir = Path(root, "shim")
    shim_dir.mkdir()
    os.chmod(shim_dir, 0o755)
    for f in isolation.SHIM_FILES:
        shutil.copyfile(f, shim_dir / f.name)
        os.chmod(shim_dir / f.name, 0o644)
    for path in (work, os.path.join(work, "submission.py"), os.path.join(work, "request.bin")):
        os.chown(path, uid, uid)
    return shim_dir / "shim.py"


def _run_in(root, source, request, expected, limits, subreaper, tier="C", group=None, uid=None) -> SandboxRun:
    """One run in the private directory ``root``; ``uid``: tier B's leased uid, which the child runs as."""
    work = os.path.join(root, "work")
    os.mkdir(work, 0o700)
    Path(work, "submission.py").write_text(source, encoding="utf-8")
    Path(work, "request.bin").write_bytes(request)
    shim = _for_uid(root, work, uid) if uid is not None else SHIM
    as_uid = {"user": uid, "group": uid, "extra_groups": [], "umask": 0o077} if uid is not None else {}
    wanted = limits.rlimits()
    cap = frames.max_message_bytes()
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer round trips for a large answer (Linux)
    except OSError:
        pass
    out_f = open(os.path.join(root, "stdout.txt"), "w+b")  # noqa: SIM115 - closed in the finally below
    err_f = open(os.path.join(root, "stderr.txt"), "w+b")  # noqa: SIM115
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            _command(tier, work, limits, wanted, write_fd, group, shim),
            cwd=work, env=scrubbed_env(isolation.WORKDIR if tier == "A" else work), stdin=subprocess.DEVNULL,
            stdout=out_f, stderr=err_f, pass_fds=(write_fd,), start_new_session=True, close_fds=True, **as_uid)
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        out_f.close()
        err_f.close()
        raise
    os.close(write_fd)
    procs.launched(proc.pid)
    tree = procs.Descendants(proc.pid)
    os.set_blocking(read_fd, False)
    buf, failure, eof = bytearray(), None, False
    limits_seen, tampered, reaped, next_watch = None, None, False, 0.0
    watch = Watch(tier, group, limits, uid)
    try:
        while True:
            if not eof:
                eof, over = _read_available(read_fd, buf, cap)
                if over and failure is None:
                    failure = ("result_too_large", f"the result message passed {cap} bytes (limit 64 MiB)")
                    _kill_root(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                reaped = True
                break
            elapsed = time.monotonic() - started
            if failure is None and elapsed > limits.wall_s:
                failure = ("timeout", (f"ran past the {limits.wall_s:g} s wall clock (a loop that never ends, "
                                       "or sleeping/waiting: the CPU limit does not catch that)"))
                _kill_root(proc.pid)
            printed = os.fstat(out_f.fileno()).st_size + os.fstat(err_f.fileno()).st_size
            if failure is None and printed > limits.output_kill:
                failure = ("output_limit", f"printed more than {limits.output_kill >> 20} MiB to stdout/stderr")
                _kill_root(proc.pid)
            if time.monotonic() >= next_watch:  # the watchdogs: limits as /proc sees them, every descendant
                _, pids = tree.scan()
                shim_pid = watch.observe(pids | (group.pids() if group else set()))
                if failure is None and watch.over_memory:
                    failure = ("memory_limit", (f"the run's processes together used more than "
                                                f"{limits.memory_total >> 20} MiB (RSS watchdog)"))
                    _kill_root(proc.pid)
                if failure is None and group is not None and group.oom_kills():  # the kernel killed ONE: end it all
                    failure = ("memory_limit", (f"the run's processes together passed the "
                                                f"{limits.memory_total >> 20} MiB memory limit (cgroup OOM kill)"))
                    _kill_root(proc.pid)
                seen = procs.limits_of(shim_pid) if shim_pid else None
                if seen is not None and limits_seen is None and all(seen.get(k) == tuple(v)
                                                                    for k, v in wanted.items()):
                    limits_seen = seen
                elif seen is not None and limits_seen is not None and failure is None and tampered is None:
                    tampered = _changed(wanted, seen) or None
                next_watch = time.monotonic() + (0.02 if elapsed < 0.5 else 0.05)
            pause = min(0.01 if eof else 0.05, max(0.0, next_watch - time.monotonic()))
            if eof:
                time.sleep(pause)
            else:
                select.select([read_fd], [], [], pause)  # wakes at once when the child writes
    finally:
        if not reaped:
            _kill_root(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        procs.reaped(proc.pid)
        if group is not None:
            group.kill_all()
        leftover = tree.kill_all()
        if uid is not None:  # tier B: the uid is this run's alone
            leftover += isolation.clean_uid(uid)
        wall = time.monotonic() - started
        deadline = time.monotonic() + 1.0
        while not eof and time.monotonic() < deadline:  # every writer is dead: drain to EOF
            eof, over = _read_available(read_fd, buf, cap)
            if over:
                failure = failure or ("result_too_large", f"the result message passed {cap} bytes (limit 64 MiB)")
                break
            if not eof:
                select.select([read_fd], [], [], 0.02)
        os.close(read_fd)
        stdout, stderr = _head(out_f.fileno(), limits.output_keep), _head(err_f.fileno(), limits.output_keep)
        out_f.close()
        err_f.close()
    cpu_by = {"wait4": usage.ru_utime + usage.ru_stime, **watch.cpu_estimates(group)}
    cpu = max(cpu_by.values())
    rc = proc.returncode
    if tier == "A" and rc is not None and 128 < rc < 128 + 65:
        rc = -(rc - 128)  # bubblewrap exits 128 + N when the shim, its child, was killed by signal N
    arrays, meta = None, {}
    if failure is None:
        failure = _classify(rc, cpu, limits, bool(buf))
    if buf and (failure is None or failure[0] in ("no_result",)):
        try:
            arrays = frames.decode(bytes(buf), expected)
            meta = json.loads(frames.array_text(arrays.pop("meta")))
            if not isinstance(meta, dict):
                raise frames.FrameError("the report is not a JSON object")
            failure = None
        except (frames.FrameError, ValueError) as exc:
            arrays, meta = None, {}
            failure = ("bad_result", f"the result message was refused: {exc}")
    if group is not None and group.memory_failcnt() and (failure is None or failure[0] in ("crash", "no_result")):
        failure = failure and ("memory_limit", (f"the run's processes together reached the "
                                                f"{limits.memory_total >> 20} MiB memory limit (cgroup): {failure[1]}"))
    result = SandboxRun(arrays, meta, failure, stdout, stderr, rc, cpu, wall, usage.ru_maxrss * 1024,
                        leftover=leftover, tier=tier, cpu_by=cpu_by)
    _layers(result, wanted, limits_seen, tampered, subreaper, limits)
    watch.layers(result, group)
    if rc == 97 and tier == "A" and group is not None and failure is not None:
        result.failure = ("sandbox_error", "the child could not join its cgroup")
    return result


class Watch:
    """What the parent verifies about a running child, from /proc (never from the child's word): which
    process is the shim, that it runs in its own namespaces (tier A), the total RSS (no cgroup), and the
    CPU time of the run's processes (the largest sum seen; see ``cpu_estimates``)."""

    NAMESPACES = ("pid", "net", "mnt", "ipc", "uts", "user")

    def __init__(self, tier: str, group, limits: Limits, uid: int | None = None):
        self.tier, self.group, self.limits, self.uid = tier, group, limits, uid
        self.mine = {ns: _ns(os.getpid(), ns) for ns in self.NAMESPACES}
        self.private: set[str] | None = None  # namespaces seen to differ from ours, in the shim
        self.shim_uid: int | None = None  # the shim's real uid (tier B)
        self.over_memory = False
        self.peak_rss = 0
        self.peak_cpu = 0.0

    def observe(self, pids: set[int]) -> int | None:
        shim = min((p for p in pids if _is_shim(p)), default=None)
        if shim is not None and self.private is None:
            got = {ns: _ns(shim, ns) for ns in self.NAMESPACES}
            if all(got.values()):
                self.private = {ns for ns in self.NAMESPACES if got[ns] != self.mine[ns]}
        if shim is not None and self.shim_uid is None:
            self.shim_uid = procs.real_uid(shim)
        self.peak_cpu = max(self.peak_cpu, procs.cpu_seconds(pids))
        if self.group is None:
            rss = sum(_rss(p) for p in pids)
            self.peak_rss = max(self.peak_rss, rss)
            self.over_memory = rss > self.limits.memory_total
        return shim

    def cpu_estimates(self, group) -> dict[str, float]:
        """The run's CPU time beside wait4's (which, at tier A, is bubblewrap's alone: its inner init does not
        pass the shim's time on): the cgroup's accounting where the run has one, else the largest sum over the
        watchdog's samples of the run's processes' times (it misses what ran after the last sample)."""
        cgroup = group.cpu_s() if group is not None else None
        return {"cgroup": cgroup} if cgroup is not None else {"/proc samples": self.peak_cpu}

    def layers(self, result: SandboxRun, group) -> None:
        if self.tier == "A":
            if self.private is None:
                result.warnings.append("the namespaces could not be verified: the child ended before /proc was read")
            elif set(self.NAMESPACES) <= self.private:
                result.layers.append("namespaces " + ",".join(self.NAMESPACES) + " (verified in /proc)")
                result.layers.append(f"tmpfs workdir {self.limits.disk >> 20}MiB, /tmp and /dev/shm "
                                     f"{self.limits.shm >> 20}MiB")
            else:
                result.missing_layers.append("namespaces " + ",".join(sorted(set(self.NAMESPACES) - self.private)))
        if self.tier == "B":
            if self.shim_uid == self.uid:
                result.layers.append(f"dedicated uid {self.uid} (verified in /proc): RLIMIT_NPROC binds it; its "
                                     "processes killed and its files in /tmp, /var/tmp, /dev/shm removed afterwards")
            elif self.shim_uid is None:
                result.warnings.append("the uid could not be verified: the child ended before /proc was read")
            else:
                result.missing_layers.append(f"dedicated uid {self.uid} (the shim ran as uid {self.shim_uid})")
        if group is not None:
            result.layers.append(f"cgroup pids.max {self.limits.nproc}, memory {self.limits.memory_total >> 20}MiB")
        else:
            result.layers.append(f"rss-watchdog {self.limits.memory_total >> 20}MiB over every descendant")
        expected = isolation.probe().ok("seccomp")
        got = result.meta.get("seccomp") if isinstance(result.meta, dict) else None
        if expected and got == "applied":
            result.layers.append("seccomp filter: inet sockets, io_uring (reported by the child)")
        elif expected and result.meta:
            result.missing_layers.append(f"seccomp filter ({got or 'not reported'})")
        if group is not None:  # the cgroup's pids.max binds where RLIMIT_NPROC does not (uid 0)
            result.warnings[:] = [w for w in result.warnings if not w.startswith("uid 0: RLIMIT_NPROC")]
        result.warnings.extend(f"tier {self.tier}: {w}" for w in isolation.NOT_GUARANTEED[self.tier]
                               if self.tier != "A" or group is None)


def _ns(pid: int, ns: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{ns}")
    except OSError:
        return None


def _is_shim(pid: int) -> bool:
    """The Python process running the shim (argv: python -I .../shim.py ...), not a wrapper naming it."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return len(argv) > 2 and argv[1] == b"-I" and argv[2].endswith(b"/shim.py")


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _changed(wanted: dict, seen: dict) -> list[str]:
    """Limits that differ from those set. The kernel itself raises the CPU soft limit by one second each
    time it sends SIGXCPU (up to the hard limit), so that one may grow."""
    changed = []
    for name, (soft, hard) in wanted.items():
        got = seen.get(name)
        if name == "cpu" and got is not None and got[1] == hard and soft <= got[0] <= hard:
            continue
        if got != (soft, hard):
            changed.append(name)
    return sorted(changed)


def _kill_root(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


def _classify(rc: int, cpu: float, limits: Limits, has_message: bool) -> tuple[str, str] | None:
    if rc == -signal.SIGXCPU or (rc == -signal.SIGKILL and cpu >= limits.cpu_s - 0.05):
        return ("cpu_limit", (f"used more than {limits.cpu_s} s of CPU time (a loop that never ends, or far "
                              "too much work)"))
    if rc == -signal.SIGXFSZ:
        return ("output_limit", f"wrote more than {limits.file_size >> 20} MiB to one file or to stdout")
    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
        return ("crash", f"the process was killed by {name}" + (
            " (memory exhausted inside a C extension?)" if name in ("SIGSEGV", "SIGABRT", "SIGBUS") else ""))
    if not has_message:
        return ("no_result", (f"the process ended (exit status {rc}) without reporting a result: the "
                              "submission called os._exit, closed the result pipe, or crashed"))
    return None


def _layers(result: SandboxRun, wanted, limits_seen, tampered, subreaper: bool, limits: Limits) -> None:
    """Which isolation layers were applied (checked by the parent, not taken from the child's word)."""
    layers = ["new-session", "scrubbed-env", "private-workdir", "python-isolated-mode",
              f"wall-clock {limits.wall_s:g}s", f"output-cap {limits.output_kill >> 20}MiB",
              "result-frame-limits"]
    reported = result.meta.get("limits", {}) if isinstance(result.meta.get("limits"), dict) else {}
    missing = []
    for name, value in wanted.items():
        if limits_seen is not None:
            how = "verified in /proc"
        elif list(reported.get(name, [])) == list(value):
            how = "reported by the child"
        else:
            missing.append(f"rlimit-{name}")
            continue
        layers.append(f"rlimit-{name} {value[0]}/{value[1]} ({how})")
    layers.append("subreaper-kill" if subreaper else "session-kill (no subreaper: setsid escapees may survive)")
    if tampered:
        missing.extend(f"rlimit-{k} (changed by the submission)" for k in tampered)
    if limits_seen is None and not reported:
        result.warnings.append("the limits could not be verified: the child ended before they could be read")
        missing = []  # nothing ran long enough to need them; the failure says what happened
    result.layers, result.missing_layers = layers, missing
    if os.getuid() == 0 and result.tier != "B":
        result.warnings.append("uid 0: RLIMIT_NPROC is not enforced for root (a fork bomb is not contained), and "
                               "with CAP_SYS_RESOURCE root may raise its own limits (the parent re-reads them and "
                               "refuses the run; its wall clock, output cap and descendant kill hold regardless)")
    if result.leftover:
        result.warnings.append(f"{len(result.leftover)} process(es) could not be killed: {result.leftover}")
