"""SANDBOX.md's hostile submissions, as data: what each does, the outcome each tier promises, what it cannot.

One ``Attack`` per row of SANDBOX.md's list. Its source is the attack (``prelude``, run at import) followed
by a body: the honest gradlab RNN (``examples/gradlab_rnn.py``), the same with a planted bug, or nothing. An
attack that is contained and then carries on therefore ends in a known verdict: an honest body that still
passes shows the attack did nothing; the prelude raises ``RuntimeError("ESCAPED: ...")`` when it sees that
it got through (a socket connected, a secret read, a file planted).

``lost`` names the tiers that cannot promise the outcome, with why (an expected failure there, never a
deleted test); ``unsafe`` names tiers where running it would harm the machine (a fork bomb as root
without a cgroup, ``kill(-1)`` as the grader's own user): there it is an expected failure not run.
Both tests/student/attacks/ and benchmarks/attacks.py read this file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from gradlab.student import Limits

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
UNRUNNABLE = EXAMPLES / "unrunnable"
MARK = "gradlab-attack"  # every file an attack makes outside its directory has this in its name
FAST = Limits(cpu_s=1, cpu_hard_s=2, wall_s=4.0)
CPU = dataclasses.replace(FAST, wall_s=8.0)  # a loaded machine must not turn "CPU limit" into "time-out"
ROOMY = Limits(cpu_s=10, cpu_hard_s=11, wall_s=30.0, address_space=4 << 30)  # jax / torch at import
# Writing hundreds of MiB into a tmpfs is kernel time that counts as CPU (the cgroup's accounting sees it):
# on a slow moment of this VM the 60 MiB files took more than FAST's 1 s, so the disk attacks, which test
# the quota and not the CPU limit, get room for it
DISK = dataclasses.replace(FAST, cpu_s=5, cpu_hard_s=6, wall_s=15.0)
SAME_UID = "at tier C the submission runs as the grader's own user"
NO_FS = "tier C has no private filesystem"
NO_QUOTA = "tiers B and C have no total disk quota (only the 64 MiB per-file limit)"
NO_SHM = "tiers B and C have no private, size-limited /dev/shm (a 64 MiB variant runs there)"
OTHERS_READ = "at tier B the submission can read what any user may (gradlab's source, /proc of every process)"
HEAVY = ("B", "C")  # seconds of CPU, wall clock or disk: run at tier A by default, at the other tiers with -m slow


@dataclass(frozen=True)
class Attack:
    """One hostile submission and the outcome a tier promises for it."""

    name: str
    family: str
    what: str  # one line for the outcome table
    prelude: str = ""
    body: str = "honest"  # "honest" | "wrong" | "none" | "file" (the file named by ``path``)
    path: str = ""  # an example file, relative to examples/
    verdict: str = "error"  # the promised verdict
    kinds: tuple[str, ...] = ()  # for "error": the acceptable error kinds
    words: str = ""  # must appear in the error message
    limits: Limits = FAST
    lost: dict[str, str] = field(default_factory=dict)  # tier -> why it cannot promise this
    unsafe: dict[str, str] = field(default_factory=dict)  # tier -> why it is not even run there
    gap: dict[str, str] = field(default_factory=dict)  # tier -> a known shortfall of gradlab's (strict xfail)
    needs_process_cap: bool = False  # run only where the kernel caps processes (cgroup pids.max, or not root)
    needs_seccomp: bool = False  # run only where the seccomp filter is written for the platform (Linux x86_64/aarch64)
    slow_tiers: tuple[str, ...] = ()  # tiers whose run is behind @pytest.mark.slow (the heavy ones)
    suffix: str = ".py"
    postlude: str = ""  # appended after the body (e.g. a wrapper that spoils what the body returns)


def _honest() -> str:
    return (EXAMPLES / "gradlab_rnn.py").read_text().split('MODEL = "rnn"', 1)[1]


def source(attack: Attack, tokens: dict[str, str]) -> str:
    """The submission's text, with ``@NAME@`` tokens of the prelude replaced by ``tokens``."""
    if attack.body == "file":
        return (EXAMPLES / attack.path).read_text()
    prelude = attack.prelude
    for key, value in tokens.items():
        prelude = prelude.replace(f"@{key}@", str(value))
    if "@" in prelude.replace("@property", ""):
        missing = sorted({part.split("@")[0] for part in prelude.split("@")[1::2]})
        raise ValueError(f"tokens: the prelude of {attack.name} needs {missing}; got {sorted(tokens)}")
    body = {"honest": _honest(), "wrong": _honest().replace("(1 - hs[t + 1] ** 2)", "(1 - hs[t] ** 2)"),
            "none": "\ndef loss_and_grads(params, xs, targets, h0):\n    raise RuntimeError('never reached')\n"}
    return "import numpy as np\nMODEL = \"rnn\"\n" + prelude + body[attack.body] + attack.postlude


def _file(name: str, family: str, what: str, kinds: tuple[str, ...], words: str = "", **kw) -> Attack:
    return Attack(name, family, what, body="file", path=f"unrunnable/{name}.py", kinds=kinds, words=words, **kw)


ESCAPED = "raise RuntimeError('ESCAPED: ' + {!s})\n"

IGNORE_XCPU = """
import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # the soft limit's signal ignored: the kernel SIGKILLs at the hard one
while True:
    pass
"""

FORK_BOMB = """
import os, signal, time
signal.alarm(6)                    # a guard for the machine: every copy dies within 6 s whatever happens
failed = 0
while failed < 200:
    try:
        os.fork()                  # parent and child both go on forking
    except OSError:
        failed += 1
        time.sleep(0.001)
"""

THREADS = """
import threading, time
threading.stack_size(64 << 10)     # small stacks, so that the address-space limit is not what stops it
started = 0
try:
    for _ in range(3000):
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        started += 1
except RuntimeError:
    pass
if started >= 3000:
    raise RuntimeError(f"ESCAPED: {started} threads started: no cap on processes/threads")
"""

DAEMON = """
import os, subprocess, time
if os.fork() == 0:                 # a new session, then a grandchild that outlives its parent
    os.setsid()
    if os.fork() == 0:
        os.environ.clear()
        time.sleep(600)
    os._exit(0)
os.wait()
subprocess.Popen(["sleep", "600"])  # and a plain child, never waited for
"""

MEMORY_MANY = """
import os, time
for _ in range(6):                 # six processes of 300 MiB: each under the 2 GiB address space
    if os.fork() == 0:
        block = bytearray(300 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(30)
"""

BIG_FILE = """
chunk = b"x" * (1 << 20)
with open("/tmp/@MARK@-big", "wb") as fh:
    for _ in range(5 << 10):       # 5 GB
        fh.write(chunk)
"""

MANY_FILES = """
chunk = b"x" * (60 << 20)
for k in range(8):                 # 8 x 60 MiB = 480 MiB, beyond the 256 MiB disk quota
    with open(f"@MARK@-{k}", "wb") as fh:
        fh.write(chunk)
raise RuntimeError("ESCAPED: wrote 480 MiB in 60 MiB files: no disk quota")
"""

SHM = """
chunk = b"x" * (16 << 20)
written = 0
with open("/dev/shm/@MARK@-shm", "wb") as fh:
    while written < @SHM_BYTES@:
        fh.write(chunk)
        written += len(chunk)
raise RuntimeError(f"ESCAPED: {written >> 20} MiB written to /dev/shm")
"""

LOOPBACK = """
import socket
try:
    s = socket.create_connection(("127.0.0.1", @TCP_PORT@), timeout=1)
    s.sendall(b"hello from a submission")
    raise RuntimeError("ESCAPED: connected to the grader's canary on 127.0.0.1")
except OSError as exc:
    print("loopback refused:", type(exc).__name__, exc)
"""

OTHER_ADDRESS = """
import socket
reached = []
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("192.0.2.1", 9))   # TEST-NET-1: documentation only, harmless
    reached.append("udp 192.0.2.1")
except OSError as exc:
    print("udp refused:", type(exc).__name__, exc)
try:
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u6.sendto(b"x", ("::1", @UDP_PORT@))
    reached.append("udp6 ::1")
except OSError as exc:
    print("udp6 refused:", type(exc).__name__, exc)
if reached:
    raise RuntimeError("ESCAPED: sent datagrams: " + ", ".join(reached))
"""

READ_FILES = """
import os
seen = []
try:
    if @SECRET@ in open(@SECRET_PATH@).read():
        seen.append("the grader's secret file")
except OSError:
    pass
for path in ("/etc/shadow", "/root/.bash_history", @GRADER_SOURCE@):
    try:
        open(path, "rb").read(16)
        seen.append(path)
    except OSError:
        pass
try:
    if b"pytest" in open("/proc/@GRADER_PID@/cmdline", "rb").read() or os.path.exists("/proc/@GRADER_PID@/environ") \\
            and len(os.listdir("/proc")) > 40:
        seen.append("the grader in /proc")
except OSError:
    pass
if seen:
    raise RuntimeError("ESCAPED: read " + "; ".join(seen))
"""

PLANT = """
import sysconfig
try:
    with open(sysconfig.get_paths()["purelib"] + "/@MARK@-planted.txt", "w") as fh:
        fh.write("planted")
    raise RuntimeError("ESCAPED: planted a file in site-packages")
except OSError as exc:
    print("site-packages refused:", exc)
"""

MONKEYPATCH = """
import numpy
for name in ("allclose", "isclose", "array_equal"):
    setattr(numpy, name, lambda *a, **k: True)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.abs = lambda x, *a, **k: numpy.zeros_like(x)
numpy.max = lambda x, *a, **k: 0.0
"""

PICKLE = """
import os, pickle, sys
class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/@MARK@-pickle-ran",))
os.write(int(sys.orig_argv[-1] if sys.orig_argv[-1].isdigit() else sys.orig_argv[-2]), pickle.dumps({"out0": Boom()}))
os._exit(0)
"""

ZIP_BOMB = """
import io, os, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:  # .npz: 256 MiB of zeros, 1 MB zipped
    with z.open("out0.npy", "w", force_zip64=True) as f:
        f.write(b"\\x93NUMPY\\x01\\x00v\\x00{'descr': '<f8', 'fortran_order': False, 'shape': (33554432,), }" + b" " * 53 + b"\\n")
        zeros = bytes(1 << 20)
        for _ in range(256):
            f.write(zeros)
os.write(int(sys.orig_argv[-1] if sys.orig_argv[-1].isdigit() else sys.orig_argv[-2]), buf.getvalue())
os._exit(0)
"""

IO_URING = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
fd = libc.syscall(425, 1, params)          # io_uring_setup(1, &params): 425 on x86_64 and aarch64
if fd >= 0:
    raise RuntimeError(f"ESCAPED: io_uring_setup gave a ring (fd {fd}); its operations bypass seccomp")
print("io_uring_setup refused:", os.strerror(ctypes.get_errno()))
"""

KILL_PARENT = """
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError as exc:             # tier B: another uid may not signal the grader
    print("kill(parent) refused:", exc)
"""

KILL_ALL = """
import os, signal
# A guard for the machine: kill(-1) is run only in a pid namespace of its own (tier A) or as another uid (B).
if os.readlink("/proc/self/ns/pid") == "@HOST_PIDNS@" and os.getuid() == @GRADER_UID@:
    raise RuntimeError("the grader's uid in the grader's pid namespace: refusing to run kill(-1)")
try:
    os.kill(-1, signal.SIGKILL)    # every process it may signal: in its namespace, nobody but itself
except ProcessLookupError:
    print("kill(-1): no process to kill")
"""

INF = """
_honest_loss_and_grads = loss_and_grads


def loss_and_grads(params, xs, targets, h0):
    loss, grads = _honest_loss_and_grads(params, xs, targets, h0)
    grads["W_xh"] = grads["W_xh"] + np.inf
    return loss, grads
"""
ATTACKS: list[Attack] = [
    Attack("honest_py", "honest", "an honest .py", body="file", path="gradlab_rnn.py", verdict="correct"),
    Attack("honest_ipynb", "honest", "an honest .ipynb with magics", body="file", path="gradlab_rnn_notebook.ipynb",
           verdict="correct", suffix=".ipynb"),
    _file("infinite_loop", "cpu", "an infinite loop", ("cpu_limit",), "CPU time", limits=CPU, slow_tiers=HEAVY),
    _file("busy_numpy", "cpu", "a busy loop inside one numpy call", ("cpu_limit",), "CPU time", limits=CPU,
          slow_tiers=HEAVY),
    Attack("ignores_sigxcpu", "cpu", "a busy loop that ignores SIGXCPU (killed at the hard limit)", IGNORE_XCPU,
           body="none", kinds=("cpu_limit",), words="CPU time", limits=CPU, slow_tiers=HEAVY),
    _file("sleeps_forever", "cpu", "sleeping forever", ("timeout",), "wall clock", slow_tiers=HEAVY),
    _file("allocates_10gb", "memory", "a 10 GiB allocation", ("memory",), "MemoryError", slow_tiers=HEAVY),
    Attack("memory_many_processes", "memory", "6 processes x 300 MiB (over a 1 GiB total)", MEMORY_MANY,
           body="none", kinds=("memory", "memory_limit"),
           limits=dataclasses.replace(FAST, wall_s=10.0, cpu_s=5, cpu_hard_s=6, memory_total=1 << 30)),
    Attack("fork_bomb", "processes", "a fork bomb", FORK_BOMB, body="none", needs_process_cap=True,
           kinds=("timeout", "cpu_limit", "crash", "no_result", "import", "memory",
                  "bad_result"),  # every copy that gets through reports on the one pipe: more than one message

           unsafe={"C": "RLIMIT_NPROC does not bind uid 0 and tier C has no cgroup: a fork bomb as root would "
                        "take the shared machine down"}),
    Attack("threads_3000", "processes", "3,000 threads", THREADS, verdict="correct",
           lost={"C": "RLIMIT_NPROC does not bind uid 0 (threads count as processes) and tier C has no cgroup"}),
    Attack("setsid_daemon", "processes", "a setsid daemon and a plain child left running", DAEMON,
           verdict="correct"),
    Attack("file_5gb", "disk", "a 5 GB file", BIG_FILE, kinds=("import", "output_limit"), slow_tiers=HEAVY,
           limits=DISK,
           lost={"C": NO_FS + ": the file is written in the machine's /tmp (64 MiB, the per-file limit) and left"}),
    Attack("many_60mib_files", "disk", "many 60 MiB files", MANY_FILES, kinds=("import", "disk_limit", "output_limit"),
           limits=DISK,
           words="No space left", lost={"B": NO_QUOTA, "C": NO_QUOTA}, slow_tiers=HEAVY),
    Attack("shm_3gb", "disk", "3 GB in /dev/shm", SHM, kinds=("import",), words="No space left",
           limits=DISK,
           lost={"B": NO_SHM, "C": NO_SHM + "; and the file is left behind"}),
    Attack("socket_loopback", "network", "a TCP connection to the grader's canary on 127.0.0.1", LOOPBACK,
           verdict="correct"),
    Attack("socket_other_address", "network", "datagrams to another address and to ::1", OTHER_ADDRESS,
           verdict="correct"),
    Attack("io_uring_setup", "syscalls", "io_uring_setup through ctypes (a ring's operations bypass seccomp)",
           IO_URING, verdict="correct", needs_seccomp=True),
    Attack("read_grader_files", "filesystem", "reading the grader's files and /proc", READ_FILES,
           verdict="correct", lost={"B": OTHERS_READ, "C": SAME_UID + " and sees its files and /proc"}),
    Attack("plant_site_packages", "filesystem", "planting a file in site-packages", PLANT, verdict="correct",
           lost={"C": SAME_UID + " (root here): site-packages is writable"}),
    Attack("monkeypatch_numpy", "tamper", "monkeypatching numpy (with a wrong gradient)", MONKEYPATCH,
           body="wrong", verdict="wrong"),
    _file("prints_gigabytes", "output", "gigabytes to stdout", ("output_limit",), "MiB", slow_tiers=HEAVY),
    _file("nan_gradient", "results", "a NaN in a gradient", ("non_finite",), "nan"),
    Attack("inf_gradient", "results", "an inf in a gradient", postlude=INF, kinds=("non_finite",), words="inf"),
    _file("wrong_shape", "results", "a gradient of the wrong shape", ("bad_return",), "expected (5, 3)"),
    _file("object_array", "results", "an object array", ("bad_return",), "dtype object"),
    _file("forged_frame_dtype", "results", "a forged frame with dtype object", ("bad_result",), "dtype kind 'O'"),
    _file("forged_frame_80gb", "results", "a forged header declaring 80 GB", ("bad_result",), "declared shape"),
    Attack("forged_pickle", "results", "a pickle written to the result pipe", PICKLE, body="none",
           kinds=("bad_result",), words="refused"),
    Attack("zip_bomb", "results", "an .npz zip bomb written to the result pipe", ZIP_BOMB, body="none",
           kinds=("bad_result",), words="refused", limits=dataclasses.replace(CPU, cpu_s=5, cpu_hard_s=6, wall_s=20),
           slow_tiers=HEAVY),
    Attack("kill_parent", "signals", "SIGKILL to its parent", KILL_PARENT, verdict="correct",
           unsafe={"C": SAME_UID + ": its parent is the grader, which it may kill"}),
    Attack("kill_minus_one", "signals", "kill(-1, SIGKILL)", KILL_ALL, verdict="correct",
           unsafe={"C": SAME_UID + " (root here): kill(-1) would kill every process of the machine"}),
    _file("exits_at_import", "exits", "sys.exit(0) at import", ("exit",), "SystemExit(0)"),
    _file("os_exit_at_import", "exits", "os._exit(0) at import", ("no_result",), "os._exit"),
    Attack("imports_jax", "frameworks", "importing jax", "import jax.numpy as jnp\njnp.ones(3).block_until_ready()\n",
           verdict="correct", limits=ROOMY, slow_tiers=HEAVY),
    Attack("imports_torch", "frameworks", "importing torch", "import torch\ntorch.ones(3).sum().item()\n",
           verdict="correct", limits=ROOMY, slow_tiers=HEAVY),
]
BY_NAME = {a.name: a for a in ATTACKS}
FAMILIES = sorted({a.family for a in ATTACKS})
