"""Benchmark one forward + backward (the loss and every gradient) of gradlab's NumPy BPTT against its peers.

Implementations, each timed on the same problem (``Model.random_problem``) in the same dtype:

    numpy        gradlab's hand-written BPTT, ``Model.grads`` (validation included)
    jax-jit      jax.jit(jax.value_and_grad(loss)) over lax.scan, the JAX oracle's loss functions; the first
                 call (trace + compile + one run) is reported as compile_s and never timed
    torch-fused  nn.RNN / nn.LSTM / nn.GRU + nn.Linear, built once in the dtype, loss.backward()
    torch-cell   PyTorch autograd over a Python loop of a hand-written cell (input projection and output
                 layer batched over time, as gradlab does)

Method (STYLE.md: warm up, block until ready, check results once outside the timed region):
- Agreement is checked ONCE, before timing: every implementation's loss and gradients against gradlab's
  float64 BPTT on the same (exactly upcast) inputs, with gradlab.compare and the tolerance of the
  benchmark dtype (tolerances.py), so float32 runs are held to the float32 tolerance.
- Implementations are interleaved: each repeat runs every (model, implementation) of a size and dtype
  once, in an order rotated per repeat, so drift on a shared machine does not favour one of them.
  Rows report the median and the quartiles over the repeats, after warm-up; gc is off while timing.
- GFLOP/s counts the GEMMs only (``gemms``: the forward and backward products of each model).
- The GEMM-bound limit: all of those GEMMs run alone with NumPy (np.dot) at their own shapes, layouts,
  dtype and thread count (``gemm_step``), timed as one more step interleaved with the implementations
  (a limit timed apart from them moved with the machine's drift: 69% one run, 95% the next, for the same
  code). Each shape's rate and a square matmul peak are reported beside it.
- limit_fraction and ratio (to the fastest peer: JAX, torch fused, torch cell, by median) are medians of
  per-repeat ratios (``paired_median``): the two samples of one repeat share the machine's drift.
- Threads: every library is held to the same count (threadpoolctl for OpenBLAS, torch.set_num_threads,
  XLA_FLAGS where JAX is not yet imported). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE change which OpenBLAS
  kernel runs: ``run_full`` measures in child processes with both unset, and again as set (if set).

Entry points: ``run`` (in this process; ``gradlab bench``), ``run_full`` (child processes, writes
benchmarks/results/), ``python -m gradlab.bench`` (the child). Bad arguments raise ValueError naming them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

from gradlab.bench.flops import GATES, Gemm, gemm_flops, gemm_step, gemms, square_peak, time_gemm
from gradlab.bench.peers import (
    BUILDERS,
    IMPLS,
    PEERS,
    Agreement,
    Impl,
    check_agreement,
    jax_impl,
    numpy_impl,
    skip_reason,
    torch_cell_impl,
    torch_fused_impl,
)
from gradlab.bench.results import (
    BenchResult,
    Row,
    Target,
    paired_median,
    plot,
    render_markdown,
    rich_tables,
    summary_markdown,
    targets,
    write,
)
from gradlab.bench.sweeps import (
    cache_bytes,
    length_sweep,
    memory_table,
    peak_bytes,
    scaling_exponents,
    scaling_sweep,
)
from gradlab.bench.timing import (
    BLAS_ENV,
    Progress,
    Threads,
    blas_label,
    command_line,
    machine_info,
    time_interleaved,
)
from gradlab.models.registry import get
from gradlab.models.sizes import Sizes

__all__ = ["BENCH_MODELS", "DTYPES", "IMPLS", "PEERS", "SIZES", "Agreement", "BenchResult", "Gemm", "Impl", "Row",
           "Target", "cache_bytes", "check_agreement", "floor_sizes", "gemm_flops", "gemm_step", "gemms", "jax_impl", "length_sweep", "memory_table",
           "numpy_impl", "paired_median", "peak_bytes", "plot", "render_markdown", "rich_tables", "run", "run_full", "scaling_exponents",
           "scaling_sweep", "skip_reason", "square_peak", "summary_markdown", "targets", "time_gemm", "time_interleaved",
           "torch_cell_impl", "torch_fused_impl", "write"]

SIZES = {"teaching": Sizes(T=25, B=1, D=65, H=100, V=65),  # min-char-rnn
         "medium": Sizes(T=50, B=32, D=128, H=256, V=128),
         "large": Sizes(T=100, B=64, D=256, H=512, V=256)}
BENCH_MODELS = ("rnn", "lstm", "gru")
DTYPES = ("float64", "float32")
REPEATS = {"teaching": 30, "medium": 10, "large": 5}  # per row in the full run; other sizes 5
QUICK_REPEATS = {"teaching": 10, "medium": 4}
RESULTS_DIR = Path("benchmarks") / "results"
GEMM_LIMIT = "gemms alone"  # the step, timed beside the implementations, whose median is the GEMM-bound limit
FLOOR = "dispatch floor"  # gradlab's calls at D = H = V = 2 (``floor_sizes``), timed in repeats of their own


def floor_sizes(s: Sizes) -> Sizes:
    """The same T and B with D = H = V = 2: gradlab's NumPy calls with no arithmetic left, their dispatch cost."""
    return s._replace(D=2, H=2, V=2)


def run(quick: bool = False, models=None, sizes=None, dtypes=None, impls=None, repeats: int | None = None,
        warmup: int | None = None, threads: int | None = 1, memory: bool | None = None,
        scaling: bool | None = None, out_dir: str | Path | None = None,
        progress: Progress | None = None) -> BenchResult:
    """Benchmark in this process; write results to ``out_dir`` when given.

    quick: teaching and medium sizes, float64, few repeats, no memory or scaling sweep (under 2 minutes).
    models: "rnn,lstm" or a sequence (default rnn, lstm, gru); sizes: names from SIZES, "T,B,D,H,V" or Sizes;
    dtypes: float64 and/or float32; impls: from IMPLS; repeats per row (default per size);
    threads: for every library (default 1: the machine is shared, see benchmarks/README.md).
    """
    if not isinstance(quick, bool):
        raise TypeError(f"quick: expected True or False, got {quick!r}")
    model_names = _names(models, tuple(GATES), "models", BENCH_MODELS)
    size_map = _sizes(sizes, quick)
    dtype_names = _names(dtypes, DTYPES, "dtypes", ("float64",) if quick else DTYPES)
    impl_names = sorted(set(_names(impls, IMPLS, "impls", IMPLS)), key=IMPLS.index)
    repeats = _positive(repeats, "repeats", None)
    warmup = _positive(warmup, "warmup", None) if warmup != 0 else 0
    threads = _positive(threads, "threads", 1)
    memory = (not quick) if memory is None else memory
    scaling = (not quick) if scaling is None else scaling
    say = progress or (lambda _: None)
    notes: list[str] = []
    for impl in impl_names:
        for model in model_names:
            why = skip_reason(impl, model)
            if why:
                notes.append(f"{impl} skipped for {model}: {why}")
    with Threads(threads, notes):
        machine = machine_info(threads)
        result = BenchResult([], machine, notes=notes, label=blas_label(threads))
        peaks = {}
        for size, s in size_map.items():
            for dtype in dtype_names:
                if dtype not in peaks:
                    say(f"square matmul peak, {dtype}")
                    n = 1024 if quick else 2048
                    peaks[dtype] = (n, square_peak(dtype, n))
                _bench_group(result, model_names, impl_names, size, s, dtype, threads, peaks[dtype],
                             repeats or (QUICK_REPEATS if quick else REPEATS).get(size, 5),
                             (2 if s.B == 1 else 1) if warmup is None else warmup, say)
        if memory:
            say("memory of the cache")
            result.memory = memory_table(model_names, size_map)
        if scaling:
            result.scaling = scaling_sweep(say)
            if "teaching" in size_map and size_map["teaching"] == SIZES["teaching"]:
                result.lengths = length_sweep(say, SIZES["teaching"], model_names, dtype_names)
    machine["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    if out_dir is not None:
        write(result, out_dir)
    return result


def _bench_group(result: BenchResult, models, impls, size: str, s: Sizes, dtype: str, threads: int,
                 peak: tuple[int, float], repeats: int, warmup: int, say: Progress) -> None:
    """Every model x implementation at one size and dtype: check once, then time interleaved."""
    ready: dict[tuple[str, str], Impl] = {}
    refs: dict[str, tuple[float, dict]] = {}
    for model in models:
        theta, xs, ys = get(model).random_problem(s, seed=0, dtype=dtype)
        loss64, grads64 = get(model).grads({k: v.astype(np.float64) for k, v in theta.items()},
                                           xs.astype(np.float64), ys)
        refs[model] = (float(loss64), grads64)
        for impl in impls:
            if skip_reason(impl, model):
                continue
            say(f"{model} {size} {dtype}: building {impl}")
            ready[model, impl] = built = BUILDERS[impl](model, theta, xs, ys)
            agreement = check_agreement(impl, model, size, dtype, refs[model], built.fetch(built.step()))
            result.agreement.append(agreement)
            if not agreement.ok:
                result.notes.append(f"{impl} DISAGREES with gradlab for {model} {size} {dtype}: "
                                    + "; ".join(agreement.failures[:3]))
    say(f"{size} {dtype}: GEMM rates at the BPTT shapes")
    timed = set()
    for g in (g for model in models for g in gemms(model, s)):
        if (g.m, g.k, g.n, g.ta, g.tb) not in timed:
            timed.add((g.m, g.k, g.n, g.ta, g.tb))
            seconds = time_gemm(g, dtype)
            result.gemm_rates.append({"size": size, "dtype": dtype, "gemm": g.name, "m": g.m, "k": g.k, "n": g.n,
                                      "ta": g.ta, "tb": g.tb, "seconds": seconds,
                                      "gflop_s": 2 * g.m * g.k * g.n / seconds / 1e9})
    result.gemm_rates.append({"size": size, "dtype": dtype, "gemm": f"square {peak[0]}", "m": peak[0],
                              "k": peak[0], "n": peak[0], "gflop_s": peak[1]})
    steps = {k: v.step for k, v in ready.items()}
    steps.update({(model, GEMM_LIMIT): gemm_step(model, s, dtype) for model in models})
    times = time_interleaved(steps, repeats, warmup, lambda msg: say(f"{size} {dtype}: {msg}"))
    limit_samples = {model: times.pop((model, GEMM_LIMIT)) for model in models}
    floors = _floors(models, s, dtype, repeats, warmup, say) if "numpy" in impls else {}
    limits = {model: float(np.median(ts)) for model, ts in limit_samples.items()}
    medians = {k: float(np.median(v)) for k, v in times.items()}
    by_key = {(a.model, a.impl): a for a in result.agreement if a.size == size and a.dtype == dtype}
    for (model, impl), ts in times.items():
        peers = {p: medians[model, p] for p in PEERS if (model, p) in medians}
        fastest = min(peers, key=peers.get) if peers else None
        flops, med = gemm_flops(model, s), medians[model, impl]
        q1, q3 = np.percentile(ts, [25, 75])
        a = by_key.get((model, impl))
        result.rows.append(Row(
            model, size, dtype, impl, s._asdict(), threads, len(ts), 1e3 * med, 1e3 * q1, 1e3 * q3,
            1e3 * min(ts), 1e3 * max(ts), flops / 1e9, flops / med / 1e9, 1e3 * limits[model],
            paired_median(limit_samples[model], ts), flops / med / 1e9 / peak[1],
            paired_median(ts, times[model, fastest]) if fastest else None, fastest,
            a.ok if a else None, a.max_rel_err if a else None, ready[model, impl].compile_s, [1e3 * t for t in ts],
            *(floors[model] if impl == "numpy" and model in floors else (None, None))))
    say(f"{size} {dtype}: done")


def _floors(models, s: Sizes, dtype: str, repeats: int, warmup: int, say: Progress) -> dict[str, tuple[float, float]]:
    """{model: (floor ms, GEMM step ms)} at ``floor_sizes(s)``: gradlab's calls, and its GEMMs' step, with no
    arithmetic left. Timed in repeats of their own, after the implementations': a call at another size asks
    the workspace for other memory, so interleaved with them it would make the next NumPy call of a medium or
    large size allocate (and fault in) its ~0.5 GB afresh (workspace.py)."""
    tiny, steps = floor_sizes(s), {}
    for model in models:
        m = get(model)
        steps[model, FLOOR] = partial(m.grads, *m.random_problem(tiny, seed=0, dtype=dtype))
        steps[model, GEMM_LIMIT] = gemm_step(model, tiny, dtype)
    times = time_interleaved(steps, repeats, warmup, lambda msg: say(f"{FLOOR} {dtype}: {msg}"))
    return {model: (1e3 * float(np.median(times[model, FLOOR])), 1e3 * float(np.median(times[model, GEMM_LIMIT])))
            for model in models}


def run_full(out_dir: str | Path | None = RESULTS_DIR, quick: bool = False, models=None, sizes=None, dtypes=None,
             impls=None, repeats: int | None = None, threads: int | Iterable[int] = 1,
             progress: Progress | None = None) -> BenchResult:
    """The benchmark in child processes (``python -m gradlab.bench``), written to ``out_dir`` when given.

    The main run has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset and the first thread count (and the
    memory table and scaling sweep, unless quick); ``result.others`` holds the runs at any further thread
    counts and, if either variable is set here, the run with them as set. Arguments as for ``run``, with
    ``sizes`` by name only ("teaching,medium" or a list of names) and ``threads`` one count or several.
    """
    args = {"--models": _names(models, tuple(GATES), "models", BENCH_MODELS),
            "--sizes": _names(sizes, tuple(SIZES), "sizes", ("teaching", "medium") if quick else SIZES),
            "--dtypes": _names(dtypes, DTYPES, "dtypes", ("float64",) if quick else DTYPES),
            "--impls": _names(impls, IMPLS, "impls", IMPLS)}
    argv = [arg for flag, names in args.items() for arg in (flag, ",".join(names))]
    argv += ["--repeats", str(_positive(repeats, "repeats", 1))] if repeats is not None else []
    argv += ["--quick"] if quick else []
    counts = [threads] if isinstance(threads, (int, np.integer)) else list(threads)
    counts = [_positive(n, "threads", 1) for n in counts] or [_positive(None, "threads", 1)]
    unset = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    variants = [(unset, n) for n in counts] + ([(dict(os.environ), counts[0])] if unset != os.environ else [])
    results = []
    for i, (env, n) in enumerate(variants):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "result.json"
            child = [sys.executable, "-m", "gradlab.bench", "--json-out", str(path), *argv, "--threads", str(n)]
            child += ["--no-extras"] if i > 0 else []
            if progress:
                progress(f"child process {i + 1} of {len(variants)}: {n} thread(s)")
            subprocess.run(child, env=env, check=True)
            results.append(BenchResult.from_dict(json.loads(path.read_text())))
    main, main.others = results[0], results[1:]
    for r in results:  # the children ran "python -m gradlab.bench --json-out ...": record what was typed
        r.machine["command"] = command_line(sys.argv)
    if len(variants) == len(counts):
        main.notes.append("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are not set in this environment, so a run with "
                          "them 'as set' would repeat the main configuration: it was not run")
    if out_dir is not None:
        write(main, out_dir)
    return main


def _names(value, valid: Iterable[str], what: str, default: Iterable[str]) -> list[str]:
    """None -> default; "a,b" or a sequence -> the names, each checked against ``valid``."""
    if value is None:
        return list(default)
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise ValueError(f"{what}: expected names from {', '.join(valid)}, got {value!r}")
    return names


def _sizes(value, quick: bool) -> dict[str, Sizes]:
    """None -> the standard sizes; else names from SIZES ("teaching,medium" or a list), one "T,B,D,H,V"
    string, a Sizes, or a dict name -> Sizes."""
    if value is None:
        return {k: SIZES[k] for k in (("teaching", "medium") if quick else SIZES)}
    if isinstance(value, Mapping):
        return {str(k): Sizes(*v).validate() for k, v in value.items()} or _no_size(value)
    if isinstance(value, Sizes):
        return {str(value): value.validate()}
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if all(p in SIZES for p in parts):
            return {p: SIZES[p] for p in parts}
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"sizes: expected names from {', '.join(SIZES)} or T,B,D,H,V, got {value!r}")
        s = Sizes.parse(value)
        return {str(s): s}
    out = {}
    for v in value:
        if isinstance(v, str) and v in SIZES:
            out[v] = SIZES[v]
        elif isinstance(v, tuple) and len(v) == 5:
            out[str(Sizes(*v))] = Sizes(*v).validate()
        else:
            raise ValueError(f"sizes: expected names from {', '.join(SIZES)} or T,B,D,H,V, got {v!r}")
    return out or _no_size(value)


def _no_size(value):
    raise ValueError(f"sizes: expected at least one size, got {value!r}")


def _positive(value, what: str, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what}: expected a positive integer, got {value!r}")
    return int(value)
