"""Timing on a shared machine: interleaved repeats, one thread count for every library, the machine's facts."""

from __future__ import annotations

import gc
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gradlab.bench.peers import importable

BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
Progress = Callable[[str], None]


MIN_SAMPLE_S = 0.02  # a timed sample runs a step back to back until it lasts at least this long


def time_interleaved(steps: Mapping[Any, Callable[[], Any]], repeats: int, warmup: int,
                     progress: Progress | None = None, min_sample_s: float = MIN_SAMPLE_S) -> dict[Any, list[float]]:
    """Seconds per call of each step: every repeat takes one sample of each step, the order rotated per repeat.

    A sample is ``n`` back-to-back calls divided by ``n``, with ``n`` fixed per step from the warm-up so a
    sample lasts about ``min_sample_s`` (timeit's practice): steps of a millisecond are then timed in the
    steady state a training loop sees, not each right after the previous step (another library) or the
    ``gc.collect`` before the repeat has evicted the caches. Steps longer than ``min_sample_s`` run once.
    """
    keys = list(steps)
    inner = {k: 1 for k in keys}
    for w in range(max(1, warmup)):
        for k in keys:
            t0 = time.perf_counter()
            steps[k]()
            inner[k] = max(1, min(1000, int(min_sample_s / max(time.perf_counter() - t0, 1e-9))))
    times: dict[Any, list[float]] = {k: [] for k in keys}
    enabled = gc.isenabled()
    try:
        for r in range(repeats):
            gc.collect()
            gc.disable()
            for k in keys[r % len(keys):] + keys[:r % len(keys)]:
                step, n = steps[k], inner[k]
                t0 = time.perf_counter()
                for _ in range(n):
                    step()
                times[k].append((time.perf_counter() - t0) / n)
            if enabled:
                gc.enable()
            if progress:
                progress(f"repeat {r + 1}/{repeats}")
    finally:
        if enabled:
            gc.enable()
    return times


def machine_info(threads: int) -> dict[str, Any]:
    """CPU, cores, versions, the BLAS that ran (threadpoolctl), thread count, load and BLAS variables."""
    cpu = platform.processor() or platform.machine()
    flags, fields = "", cpu_fields()
    if fields:
        cpu = f"{fields.get('model name', cpu)} (family {fields.get('cpu family')}, model {fields.get('model')})"
        flags = " ".join(f for f in ("avx2", "fma", "avx512f") if f in fields.get("flags", "").split())
    info: dict[str, Any] = {
        "cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "threads": threads,
        "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {k: os.environ.get(k) for k in (*BLAS_ENV, "OPENBLAS_NUM_THREADS", "XLA_FLAGS")},
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    info["code"], info["command"] = code_version(), command_line(sys.argv)
    for name in ("jax", "torch"):
        if importable(name):
            info[name] = __import__(name).__version__
    try:
        import threadpoolctl

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                                "threading_layer", "prefix")}
                        for p in threadpoolctl.threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed: pip install threadpoolctl to record the BLAS kernel"
    return info


def cpu_fields() -> dict[str, str]:
    """/proc/cpuinfo's fields ("model name", "flags", ...) as read there (the last CPU listed wins; they are the
    same CPU on these machines); {} where there is no such file."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def code_version() -> dict[str, Any] | None:
    """{"commit": the git HEAD of gradlab's checkout, "dirty": whether tracked files differ from it}, or None
    when gradlab does not run from a git checkout (an installed wheel) or git is missing."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())}


def command_line(argv: list[str]) -> str:
    """The command that ran, as one would type it: the BLAS variables set in the environment, then argv
    (``gradlab`` for the console script, ``python -m gradlab.bench`` for the module)."""
    env = [f"{k}={os.environ[k]}" for k in BLAS_ENV if k in os.environ]
    if not argv:
        return shlex.join([*env, "python"])
    if Path(argv[0]).name == "gradlab":
        words = ["gradlab"]
    else:  # a script: relative to the working directory when it lies below it
        script = os.path.relpath(argv[0])
        words = [Path(sys.executable).name, argv[0] if script.startswith("..") else script]
    return shlex.join([*env, *words, *argv[1:]])


def idlest_cpus(n: int, among: set[int], sample_s: float = 0.3) -> set[int]:
    """The ``n`` CPUs of ``among`` that were idle longest over ``sample_s`` seconds (/proc/stat)."""
    def idle() -> dict[int, int]:
        lines = Path("/proc/stat").read_text().splitlines()
        return {int(f[0][3:]): int(f[4]) + int(f[5]) for f in (ln.split() for ln in lines)
                if f[0].startswith("cpu") and f[0] != "cpu"}
    try:
        before = idle()
        time.sleep(sample_s)
        after = idle()
    except (OSError, ValueError, IndexError):
        return set(sorted(among)[:n])
    return set(sorted(among, key=lambda c: after.get(c, 0) - before.get(c, 0), reverse=True)[:n])


class Threads:
    """Hold every library to ``n`` threads inside a ``with`` block: OpenBLAS (threadpoolctl), torch
    (set_num_threads) and XLA, which honours no thread setting at large sizes (measured: XLA_FLAGS'
    intra_op_parallelism_threads=1 still ran the large LSTM on two cores) but sizes its pool by the CPU
    affinity. So when ``n`` is below the CPUs available, the process is pinned to the ``n`` idlest of
    them for the block. XLA reads both once, when JAX starts: a note says when JAX was imported before.
    """

    XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

    def __init__(self, n: int, notes: list[str]):
        self.n, self.notes = n, notes
        self.limiter = self.torch_before = self.xla_before = self.affinity_before = None
        self.cpus: set[int] | None = None

    def __enter__(self):
        if "jax" in sys.modules:
            self.notes.append("jax was imported before the run: XLA kept the threads it started with")
        if hasattr(os, "sched_getaffinity"):
            available = os.sched_getaffinity(0)
            if self.n < len(available):
                self.affinity_before, self.cpus = available, idlest_cpus(self.n, available)
                os.sched_setaffinity(0, self.cpus)
        try:
            import threadpoolctl

            self.limiter = threadpoolctl.threadpool_limits(self.n, user_api="blas")
        except ImportError:
            self.notes.append("threadpoolctl is not installed: BLAS threads were not limited")
        if importable("torch"):
            import torch

            self.torch_before = torch.get_num_threads()
            torch.set_num_threads(self.n)
        flags = os.environ.get("XLA_FLAGS", "")
        if self.n == 1 and self.XLA_ONE_THREAD not in flags and "jax" not in sys.modules:
            self.xla_before = flags
            os.environ["XLA_FLAGS"] = f"{flags} {self.XLA_ONE_THREAD}".strip()
        return self

    def __exit__(self, *exc):
        if self.limiter is not None:
            self.limiter.restore_original_limits()
        if self.torch_before is not None:
            import torch

            torch.set_num_threads(self.torch_before)
        if self.xla_before is not None:  # JAX, if it started meanwhile, keeps what it read
            os.environ["XLA_FLAGS"] = self.xla_before
        if self.affinity_before is not None:
            os.sched_setaffinity(0, self.affinity_before)


def blas_label(threads: int | None = None) -> str:
    """The OpenBLAS kernel variables this process runs under, e.g. "OPENBLAS_CORETYPE/L2_SIZE unset, 1 thread"."""
    set_ = {k: os.environ[k] for k in BLAS_ENV if k in os.environ}
    label = "as set: " + ", ".join(f"{k}={v}" for k, v in set_.items()) if set_ else "OPENBLAS_CORETYPE/L2_SIZE unset"
    return label if threads is None else f"{label}, {threads} thread{'s' if threads > 1 else ''}"
