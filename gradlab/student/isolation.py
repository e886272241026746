"""Isolation tiers (SANDBOX.md): probe each mechanism by trying it, pick the best tier, build the launch.

    A  Linux with bubblewrap and user namespaces: every namespace (pid, net, mount, ipc, uts, user, cgroup),
       read-only binds of the interpreter and site dirs only, size-limited tmpfs for the working directory,
       /tmp and /dev/shm, --die-with-parent, --new-session; rlimits; seccomp filter (sockets, io_uring); cgroup pids +
       memory limits where the cgroup tree is writable, else an RSS watchdog over every descendant.
    B  root without namespaces: the child runs as a uid of its own (``UidLease``: one of GRADLAB_SANDBOX_UIDS,
       65500-65533 by default, never shared by two concurrent runs), so RLIMIT_NPROC binds; afterwards every
       process of that uid is killed and its files in the scratch directories are removed; rlimits, seccomp
       filter, RSS watchdog. Needs the interpreter and NumPy readable by that uid: probed by running it.
    C  same uid, rlimits, subreaper kill, watchdogs (the first layer).
    D  macOS: as C, without seccomp or RLIMIT_AS.

Probes run once per process (``probe()``; each starts a short child). ``select(forced)`` gives the tier a
run uses: the best one available, or a LOWER one forced by ``GRADLAB_FORCE_TIER`` / ``tier=`` (tests of
the other tiers); forcing a tier the machine cannot give is an error. ``report()`` is what
``gradlab doctor`` prints.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from gradlab.student import procs

TIERS = ("A", "B", "C", "D")
FORCE_ENV = "GRADLAB_FORCE_TIER"
ISOLATION = ("default", "strict")  # strict: refuse to run below tier B
SANDBOX_UIDS = range(65500, 65534)  # tier B: one uid per concurrent run (Debian policy reserves 65000-65533)
SANDBOX_UIDS_ENV = "GRADLAB_SANDBOX_UIDS"  # "FIRST-LAST": uids no account and no other program uses
UID_LOCK_DIR = "/run/gradlab"  # root's alone: uid-N.lock, flock'ed by the run that holds uid N
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")  # where any uid may write
WORKDIR = "/sandbox"  # the child's working directory inside bubblewrap
SHIMDIR = "/gradlab"  # shim.py, frames.py and seccomp_filter.py, read-only, inside bubblewrap
HERE = Path(__file__).resolve().parent
PROBE_TIMEOUT_S = 20.0

NOT_GUARANTEED = {
    "A": [("total memory is bounded only by processes x address space when no cgroup is writable (then an RSS "
           "watchdog kills the run, after the fact)")],
    "B": [("no private filesystem or network namespace: the submission reads what any user may (gradlab's source, "
           "/proc of every process) and may reach local services over unix sockets (the seccomp filter refuses inet "
           "sockets and io_uring); no total disk quota and no private /tmp or /dev/shm (what its uid leaves there "
           "is removed after the run); total memory is watched (RSS), not capped")],
    "C": [("the submission runs as the grader's user with no namespaces: it can read the grader's files, write "
           "outside its directory and reach the network (only the seccomp socket filter, where applied, refuses "
           "it); reference confidentiality and grader liveness are not guaranteed")],
    "D": ["as tier C, and macOS ignores RLIMIT_AS (only the RSS watchdog bounds memory); no seccomp"],
}


class IsolationError(ValueError):
    """The isolation asked for cannot be had (``--isolation strict`` below tier B, an unavailable tier)."""


@dataclass(frozen=True)
class Mechanism:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class Probe:
    """What this machine offers, found by trying each mechanism."""

    mechanisms: dict[str, Mechanism] = field(default_factory=dict)
    cgroup: dict[str, str] = field(default_factory=dict)  # controller -> parent directory we may write

    @property
    def best(self) -> str:
        if sys.platform == "darwin":
            return "D"
        if self.ok("bubblewrap"):
            return "A"
        if self.ok("dedicated-uid"):
            return "B"
        return "C"

    def ok(self, name: str) -> bool:
        return name in self.mechanisms and self.mechanisms[name].ok


def interpreter_dirs() -> list[str]:
    """The directories the child's Python needs, read-only: the venv, the base install, site dirs."""
    exe = Path(sys.executable)
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(exe.parent), str(exe.resolve().parent.parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(path)
    dirs = sorted(d for d in dirs if os.path.isdir(d))
    return [d for d in dirs if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in dirs)]


def bwrap_command(work: str, shim_files: list[Path], sizes: dict[str, int]) -> list[str]:
    """bubblewrap's arguments: system dirs and the interpreter read-only, the run's files read-only at
    WORKDIR inside a size-limited tmpfs, private /tmp and /dev/shm, every namespace."""
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    # the tmpfs mounts first: a bind made after them may lie inside them (a venv under /tmp, as in CI)
    cmd += ["--size", str(sizes["tmp"]), "--tmpfs", "/tmp", "--size", str(sizes["shm"]), "--tmpfs", "/dev/shm",
            "--size", str(sizes["work"]), "--tmpfs", WORKDIR]
    for d in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache"):
        if os.path.exists(d):
            cmd += ["--ro-bind", d, d]
    for d in interpreter_dirs():
        cmd += ["--ro-bind", d, d]
    for name in ("submission.py", "request.bin"):
        if os.path.exists(os.path.join(work, name)):
            cmd += ["--ro-bind", os.path.join(work, name), f"{WORKDIR}/{name}"]
    for f in shim_files:
        cmd += ["--ro-bind", str(f), f"{SHIMDIR}/{f.name}"]
    return cmd + ["--chdir", WORKDIR, "--"]


SHIM_FILES = [HERE / "shim.py", HERE / "frames.py", HERE / "seccomp_filter.py"]
PROBE_SIZES = {"tmp": 1 << 20, "shm": 1 << 20, "work": 1 << 20}


def _try(cmd: list[str], **kw) -> tuple[bool, str]:
    """Run one probe: (exit status 0, the end of its output). Every process it leaves is reaped here (bubblewrap's
    inner process outlives the outer one): this process is their subreaper, and leaves no zombie to another."""
    procs.become_subreaper()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, start_new_session=True, **kw)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    procs.launched(proc.pid)
    tree = procs.Descendants(proc.pid)
    try:
        out, _ = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0] + f" (killed after {PROBE_TIMEOUT_S:g} s)"
    finally:
        procs.reaped(proc.pid)
        tree.kill_all()
    return proc.returncode == 0, out.strip()[-300:]


def probe_bubblewrap() -> Mechanism:
    fix = "apt-get install bubblewrap (and allow unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)"
    if sys.platform != "linux":
        return Mechanism("bubblewrap", False, "Linux only", "")
    if shutil.which("bwrap") is None:
        return Mechanism("bubblewrap", False, "bwrap is not installed", fix)
    root = Path(os.environ.get("TMPDIR", "/tmp"))
    code = "import os, numpy; print(os.getpid(), sorted(os.listdir('/')))"
    ok, out = _try(bwrap_command(str(root / "nonexistent"), SHIM_FILES, PROBE_SIZES) + [sys.executable, "-I", "-c", code])
    if not ok:
        return Mechanism("bubblewrap", False, f"bwrap could not start Python with every namespace: {out}", fix)
    return Mechanism("bubblewrap", True, f"all namespaces; Python and NumPy start inside ({out.split()[0] if out else '?'} "
                                         "is the child's pid in its own pid namespace)")


def probe_seccomp() -> Mechanism:
    """Install the filter in a short child and try what it must refuse: an AF_INET socket and io_uring_setup."""
    code = (f"import sys, socket, ctypes, errno; sys.path.insert(0, {str(HERE)!r}); import seccomp_filter as s; "
            "print(s.install())\ntry:\n socket.socket(socket.AF_INET)\n print('socket allowed')\nexcept OSError:\n"
            " print('socket refused')\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "fd = libc.syscall(425, 1, ctypes.create_string_buffer(120))\n"
            "print('io_uring refused' if fd < 0 and ctypes.get_errno() == errno.ENOSYS else 'io_uring allowed')")
    ok, out = _try([sys.executable, "-I", "-c", code])
    if ok and "applied" in out and "socket refused" in out and "io_uring refused" in out:
        return Mechanism("seccomp", True, ("socket(AF_INET/AF_INET6) refused with EACCES, io_uring_setup/enter/"
                                           "register with ENOSYS (ctypes prctl filter)"))
    return Mechanism("seccomp", False, f"the seccomp filter could not be installed or did not refuse: {out}",
                     "a Linux x86_64/aarch64 kernel with seccomp filters")


def _cgroup_dirs() -> dict[str, str]:
    """controller -> a directory where a per-run group can be made: cgroup v2 (unified, with the
    controller enabled) or v1 (one hierarchy per controller). "cpuacct" is CPU accounting: v1's cpuacct
    hierarchy, or the v2 directory (every v2 group has cpu.stat)."""
    base, found = Path("/sys/fs/cgroup"), {}
    for v2 in (base, base / "unified"):
        ctl = v2 / "cgroup.subtree_control"
        if ctl.exists():
            enabled = ctl.read_text().split()
            for c in ("pids", "memory"):
                if c in enabled:
                    found.setdefault(c, str(v2))
    for c in ("pids", "memory", "cpuacct"):
        if c not in found and (base / c / "cgroup.procs").exists():
            found[c] = str(base / c)
    if "cpuacct" not in found and (base / "cpu,cpuacct" / "cgroup.procs").exists():
        found["cpuacct"] = str(base / "cpu,cpuacct")
    if "cpuacct" not in found and "memory" in found and (Path(found["memory"]) / "cgroup.subtree_control").exists():
        found["cpuacct"] = found["memory"]  # v2
    return found


def probe_cgroup() -> tuple[Mechanism, dict[str, str]]:
    """pids and memory must be writable for a per-run group; cpuacct (the run's CPU time) is used where it is."""
    fix = "run as root (or with a delegated cgroup) where /sys/fs/cgroup's pids and memory controllers are writable"
    if sys.platform != "linux":
        return Mechanism("cgroup", False, "Linux only", ""), {}
    dirs, usable = _cgroup_dirs(), {}
    for controller, parent in dirs.items():
        probe = Path(parent) / f"gradlab-probe-{os.getpid()}-{controller}"
        try:
            probe.mkdir()
            try:
                if controller != "cpuacct":
                    limit = "pids.max" if controller == "pids" else (
                        "memory.max" if (probe / "memory.max").exists() else "memory.limit_in_bytes")
                    (probe / limit).write_text("64" if controller == "pids" else str(1 << 30))
                usable[controller] = parent
            finally:
                probe.rmdir()
        except OSError:
            continue
    if {"pids", "memory"} <= set(usable):
        cpu = ", CPU accounting" if "cpuacct" in usable else " (no CPU accounting: CPU time is sampled from /proc)"
        return Mechanism("cgroup", True, f"pids and memory limits{cpu} per run "
                                         f"({', '.join(sorted(set(usable.values())))})"), usable
    return Mechanism("cgroup", False, f"pids/memory controllers not writable (found {sorted(dirs) or 'none'}); an RSS "
                                      "watchdog over every descendant bounds memory instead", fix), {}


def sandbox_uids() -> range:
    """Tier B's uids: GRADLAB_SANDBOX_UIDS as "FIRST-LAST" (inclusive), else 65500-65533. Never 0 and never the
    grader's own uid: every process of a run's uid is killed after the run."""
    text = os.environ.get(SANDBOX_UIDS_ENV, "").strip()
    if not text:
        return SANDBOX_UIDS
    try:
        first, last = (int(part) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{SANDBOX_UIDS_ENV}: expected FIRST-LAST, e.g. 65500-65533; got {text!r}") from None
    uids = range(first, last + 1)
    if not 0 < first <= last or os.getuid() in uids:
        raise ValueError(f"{SANDBOX_UIDS_ENV}: expected 0 < FIRST <= LAST, without the grader's uid {os.getuid()}; "
                         f"got {text!r}")
    return uids


class UidLease:
    """One uid of ``sandbox_uids()`` held by one run alone, from ``take()`` to ``release()``.

    Why a uid per run: ``gradlab grade --jobs N`` runs submissions at once in several processes. Sharing one
    uid, each run's ``kill(-1)``, kill-by-uid and file cleanup would reach the others' processes and files,
    and RLIMIT_NPROC (counted per uid) would be one budget for all. The lease is an exclusive ``flock`` on
    ``UID_LOCK_DIR/uid-N.lock``, released by the kernel even when the grader dies; a uid is cleaned (its
    processes killed, its files removed) when leased, in case a grader died holding it.
    """

    def __init__(self, uid: int, fd: int):
        self.uid, self._fd = uid, fd

    @classmethod
    def take(cls, timeout: float = 60.0) -> UidLease:
        """The first free uid; waits while all are held, IsolationError after ``timeout`` seconds."""
        uids, lock_dir = sandbox_uids(), _lock_dir()
        deadline = time.monotonic() + timeout
        while True:
            for uid in uids:
                fd = os.open(os.path.join(lock_dir, f"uid-{uid}.lock"),
                             os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                clean_uid(uid)  # a grader may have died holding it
                return cls(uid, fd)
            if time.monotonic() > deadline:
                raise IsolationError(f"all {len(uids)} sandbox uids ({uids.start}-{uids.stop - 1}) were held by other "
                                     f"runs for {timeout:g} s: widen {SANDBOX_UIDS_ENV} or run fewer jobs")
            time.sleep(0.05)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _lock_dir() -> str:
    """UID_LOCK_DIR, made if missing; refused unless it is a directory of the grader's that no one else may write."""
    try:
        os.mkdir(UID_LOCK_DIR, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(UID_LOCK_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise IsolationError(f"{UID_LOCK_DIR}: expected a directory owned by uid {os.getuid()} that only it may write "
                             f"(it holds tier B's uid locks); got mode {stat.filemode(st.st_mode)}, owner {st.st_uid}")
    return UID_LOCK_DIR


def clean_uid(uid: int) -> list[int]:
    """Tier B, when a run ends or its uid is leased: kill every process of ``uid``, then remove the files it
    left in the scratch directories. Returns the processes that could not be killed (should be none)."""
    leftover = procs.kill_uid(uid)
    remove_files_of(uid)
    return leftover


def remove_files_of(uid: int, roots: tuple[str, ...] = SCRATCH_DIRS) -> list[str]:
    """Remove what ``uid`` left in the scratch directories (tier B, after its processes are dead): every entry
    it owns, looking also into the world-writable directories below them, the only others it could write in.
    Returns the paths removed."""
    removed, stack = [], [r for r in roots if os.path.isdir(r)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_uid == uid:
                    shutil.rmtree(entry.path) if stat.S_ISDIR(st.st_mode) else os.unlink(entry.path)
                    removed.append(entry.path)
                elif stat.S_ISDIR(st.st_mode) and st.st_mode & 0o002:
                    stack.append(entry.path)
            except OSError:
                continue
    return removed


def unreachable(path: str) -> str | None:
    """Why another user cannot reach ``path`` (links resolved): the first directory on its way that others may
    not enter; None when there is none."""
    real = Path(os.path.realpath(path))
    for d in reversed(real.parents):
        mode = d.stat().st_mode
        if not mode & 0o001:
            return f"{d} is mode {stat.S_IMODE(mode):04o}, so no other user can reach {real}"
    return None


def probe_dedicated_uid() -> Mechanism:
    """Lease a sandbox uid and run this Python with NumPy as it."""
    fix = "install Python and the venv where other users can read them (not under a 0700 home)"
    if sys.platform != "linux" or os.getuid() != 0:
        return Mechanism("dedicated-uid", False, "needs root to switch to a dedicated uid", "")
    try:
        uids = sandbox_uids()
        lease = UidLease.take(timeout=PROBE_TIMEOUT_S)
    except (OSError, ValueError) as exc:
        return Mechanism("dedicated-uid", False, f"no sandbox uid could be leased: {exc}",
                         f"set {SANDBOX_UIDS_ENV}=FIRST-LAST to unused uids; run as root with /run writable")
    try:
        ok, out = _try([sys.executable, "-I", "-c", "import numpy"], user=lease.uid, group=lease.uid,
                       extra_groups=[], cwd="/")
    finally:
        lease.release()
    span = f"a uid per concurrent run from {uids.start}-{uids.stop - 1} ({SANDBOX_UIDS_ENV})"
    if ok:
        return Mechanism("dedicated-uid", True, f"{span}; uid {lease.uid} can run this Python and NumPy")
    why = next(filter(None, map(unreachable, [sys.executable, *interpreter_dirs()])), None)
    why = why or (out.splitlines()[-1] if out else "failed")
    return Mechanism("dedicated-uid", False, f"uid {lease.uid} cannot run this Python ({sys.executable}): {why}", fix)


@functools.lru_cache(maxsize=1)
def probe() -> Probe:
    """Try every mechanism once per process."""
    p = Probe()
    p.mechanisms["bubblewrap"] = probe_bubblewrap()
    p.mechanisms["seccomp"] = probe_seccomp()
    p.mechanisms["cgroup"], p.cgroup = probe_cgroup()
    p.mechanisms["dedicated-uid"] = probe_dedicated_uid()
    return p


def select(forced: str | None = None, isolation: str = "default") -> str:
    """The tier a run uses: the best available, or the lower one forced (argument, else GRADLAB_FORCE_TIER)."""
    if isolation not in ISOLATION:
        raise ValueError(f"isolation: expected one of {', '.join(ISOLATION)}, got {isolation!r}")
    forced = forced or os.environ.get(FORCE_ENV) or None
    best = probe().best
    tier = best
    if forced is not None:
        forced = str(forced).upper()
        if forced not in TIERS:
            raise ValueError(f"tier: expected one of {', '.join(TIERS)}, got {forced!r}")
        if forced == "D" and sys.platform != "darwin" or forced != "D" and best != "D" and forced < best:
            raise IsolationError(f"tier {forced} was forced but this machine gives at most tier {best} "
                                 "(see gradlab doctor)")
        if forced == "B" and not probe().ok("dedicated-uid"):
            raise IsolationError(f"tier B was forced but {probe().mechanisms['dedicated-uid'].detail} "
                                 "(see gradlab doctor)")
        tier = forced
    if isolation == "strict" and tier not in ("A", "B"):
        raise IsolationError(f"--isolation strict refuses to run below tier B; this run would be tier {tier}: "
                             f"{NOT_GUARANTEED[tier][0]} (see gradlab doctor)")
    return tier


@dataclass
class Report:
    tier: str
    mechanisms: list[Mechanism]
    not_guaranteed: list[str]
    forced: str | None

    def to_dict(self) -> dict:
        return {"tier": self.tier, "forced": self.forced, "not_guaranteed": self.not_guaranteed,
                "mechanisms": [m.__dict__ for m in self.mechanisms]}


def report(forced: str | None = None) -> Report:
    """What ``gradlab doctor`` prints: the tier a run gets here, each mechanism, what is not guaranteed."""
    p = probe()
    tier = select(forced)
    lost = list(NOT_GUARANTEED[tier])
    if tier == "A" and p.ok("cgroup"):
        lost = []
    if not p.ok("seccomp") and tier in ("A", "B", "C"):
        lost.append("no seccomp filter for sockets and io_uring (the network namespace still isolates tier A)")
    return Report(tier, list(p.mechanisms.values()), lost, forced or os.environ.get(FORCE_ENV))
