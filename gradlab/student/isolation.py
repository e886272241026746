"""Isolation tiers (SANDBOX.md): probe each mechanism by trying it, pick the best tier, build the launch.

    A  Linux with bubblewrap and user namespaces: every namespace (pid, net, mount, ipc, uts, user, cgroup),
       read-only binds of the interpreter and site dirs only, size-limited tmpfs for the working directory,
       /tmp and /dev/shm, --die-with-parent, --new-session; rlimits; seccomp socket filter; cgroup pids +
       memory limits where the cgroup tree is writable, else an RSS watchdog over every descendant.
    B  root without namespaces: a dedicated uid (NPROC then binds), kill-by-uid.  Needs the interpreter
       readable by that uid: probed by running it.
    C  same uid, rlimits, subreaper kill, watchdogs (the first layer).
    D  macOS: as C, without seccomp or RLIMIT_AS.

Probes run once per process (``probe()``; each starts a short child). ``select(forced)`` gives the tier a
run uses: the best one available, or a LOWER one forced by ``GRADLAB_FORCE_TIER`` / ``tier=`` (tests of
the other tiers); forcing a tier the machine cannot give is an error. ``report()`` is what
``gradlab doctor`` prints.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

TIERS = ("A", "B", "C", "D")
FORCE_ENV = "GRADLAB_FORCE_TIER"
ISOLATION = ("default", "strict")  # strict: refuse to run below tier B
SANDBOX_UID = 65534  # tier B's dedicated user (nobody)
WORKDIR = "/sandbox"  # the child's working directory inside bubblewrap
SHIMDIR = "/gradlab"  # shim.py, frames.py and seccomp_filter.py, read-only, inside bubblewrap
HERE = Path(__file__).resolve().parent
PROBE_TIMEOUT_S = 20.0

NOT_GUARANTEED = {
    "A": [("total memory is bounded only by processes x address space when no cgroup is writable (then an RSS "
           "watchdog kills the run, after the fact)")],
    "B": [("no private filesystem or network namespace: the submission sees the machine's files (as another user) "
           "and can open network connections")],
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
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL, **kw)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stdout + done.stderr).strip()[-300:]


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
    code = (f"import sys, socket; sys.path.insert(0, {str(HERE)!r}); import seccomp_filter as s; st = s.install(); "
            "print(st)\ntry:\n socket.socket(socket.AF_INET)\n print('socket allowed')\nexcept OSError:\n"
            " print('socket refused')")
    ok, out = _try([sys.executable, "-I", "-c", code])
    if ok and "applied" in out and "socket refused" in out:
        return Mechanism("seccomp", True, "socket(AF_INET/AF_INET6) refused with EACCES (ctypes prctl filter)")
    return Mechanism("seccomp", False, f"the socket filter could not be installed: {out}",
                     "a Linux x86_64/aarch64 kernel with seccomp filters")


def _cgroup_dirs() -> dict[str, str]:
    """controller -> a directory where a per-run group can be made: cgroup v2 (unified, with the
    controller enabled) or v1 (one hierarchy per controller)."""
    base, found = Path("/sys/fs/cgroup"), {}
    for v2 in (base, base / "unified"):
        ctl = v2 / "cgroup.subtree_control"
        if ctl.exists():
            enabled = ctl.read_text().split()
            for c in ("pids", "memory"):
                if c in enabled:
                    found.setdefault(c, str(v2))
    for c in ("pids", "memory"):
        if c not in found and (base / c / "cgroup.procs").exists():
            found[c] = str(base / c)
    return found


def probe_cgroup() -> tuple[Mechanism, dict[str, str]]:
    fix = "run as root (or with a delegated cgroup) where /sys/fs/cgroup's pids and memory controllers are writable"
    if sys.platform != "linux":
        return Mechanism("cgroup", False, "Linux only", ""), {}
    dirs, usable = _cgroup_dirs(), {}
    for controller, parent in dirs.items():
        probe = Path(parent) / f"gradlab-probe-{os.getpid()}"
        try:
            probe.mkdir()
            try:
                limit = "pids.max" if controller == "pids" else (
                    "memory.max" if (probe / "memory.max").exists() else "memory.limit_in_bytes")
                (probe / limit).write_text("64" if controller == "pids" else str(1 << 30))
                usable[controller] = parent
            finally:
                probe.rmdir()
        except OSError:
            continue
    if set(usable) == {"pids", "memory"}:
        return Mechanism("cgroup", True, f"pids and memory limits per run ({', '.join(sorted(set(usable.values())))})"), usable
    return Mechanism("cgroup", False, f"pids/memory controllers not writable (found {sorted(dirs) or 'none'}); an RSS "
                                      "watchdog over every descendant bounds memory instead", fix), {}


def probe_dedicated_uid() -> Mechanism:
    if sys.platform != "linux" or os.getuid() != 0:
        return Mechanism("dedicated-uid", False, "needs root to switch to a dedicated uid", "")
    ok, out = _try([sys.executable, "-I", "-c", "import numpy"], user=SANDBOX_UID, group=SANDBOX_UID,
                   extra_groups=[], cwd="/")
    if ok:
        return Mechanism("dedicated-uid", True, f"uid {SANDBOX_UID} can run this Python and NumPy")
    return Mechanism("dedicated-uid", False, f"uid {SANDBOX_UID} cannot run this Python ({out.splitlines()[-1] if out else 'failed'})",
                     "install Python and the venv where other users can read them (not under a 0700 home)")


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
        lost.append("no seccomp socket filter (the network namespace still isolates tier A)")
    return Report(tier, list(p.mechanisms.values()), lost, forced or os.environ.get(FORCE_ENV))
