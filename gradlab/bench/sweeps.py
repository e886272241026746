"""Memory of the cache per model and size, how the NumPy BPTT's time grows with T and with H, and what a
call costs before and after its steps against what each step costs, beside JAX's jitted scan."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import numpy as np

from gradlab.bench.flops import gemm_flops
from gradlab.bench.peers import jax_impl, numpy_impl, skip_reason
from gradlab.bench.timing import Progress, time_interleaved
from gradlab.models import workspace
from gradlab.models.registry import get
from gradlab.models.sizes import Sizes


def cache_bytes(model: str, sizes: Sizes, dtype="float64") -> int:
    """Sum of nbytes of the arrays in the cache that forward returns (what BPTT keeps alive)."""
    m = get(model)
    theta, xs, _ = m.random_problem(sizes, seed=0, dtype=dtype)
    _, cache = m.forward(m.params(theta), xs, m.state(theta))
    return sum(v.nbytes for v in cache if isinstance(v, np.ndarray))


def peak_bytes(model: str, sizes: Sizes, dtype="float64") -> int:
    """tracemalloc's peak over one loss_and_grads, above what was allocated before it (NumPy traces its
    data buffers): the cache plus the backward's temporaries and the gradients. The workspace is emptied
    first, so that the memory a call keeps for the next one (workspace.py) is counted."""
    m = get(model)
    theta, xs, targets = m.random_problem(sizes, seed=0, dtype=dtype)
    workspace.release()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        m.grads(theta, xs, targets)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def memory_table(models: Iterable[str], sizes: Mapping[str, Sizes], dtype="float64") -> list[dict[str, Any]]:
    return [{"model": model, "size": name, "dtype": dtype, "cache_bytes": cache_bytes(model, s, dtype),
             "peak_bytes": peak_bytes(model, s, dtype), "T": s.T, "B": s.B, "H": s.H}
            for name, s in sizes.items() for model in models]


SWEEP_T = (10, 25, 50, 100, 200)


SWEEP_H = (32, 64, 128, 256, 512, 1024)


def sweep_sizes(axis: str, value: int) -> Sizes:
    """The scaling sweep's problem: B=16, D=V=64; T=50 while H varies, H=128 while T varies."""
    return Sizes(T=value, B=16, D=64, H=128, V=64) if axis == "T" else Sizes(T=50, B=16, D=64, H=value, V=64)


def scaling_sweep(say: Progress, models=("rnn", "lstm"), repeats: int = 5) -> list[dict[str, Any]]:
    """NumPy BPTT time vs T and vs H, float64: median of ``repeats`` after one warm-up call."""
    points = []
    for model in models:
        m = get(model)
        for axis, values in (("T", SWEEP_T), ("H", SWEEP_H)):
            say(f"scaling: {model} vs {axis}")
            for value in values:
                s = sweep_sizes(axis, value)
                ts = time_interleaved({0: partial(m.grads, *m.random_problem(s, seed=0))}, repeats, 1)[0]
                points.append({"model": model, "axis": axis, "value": value, "sizes": s._asdict(),
                               "median_ms": 1e3 * float(np.median(ts)), "min_ms": 1e3 * min(ts),
                               "max_ms": 1e3 * max(ts), "gemm_gflop": gemm_flops(model, s) / 1e9})
    return points


def scaling_exponents(points: list[dict[str, Any]], key: str = "median_ms") -> dict[tuple[str, str], float]:
    """Least-squares slope of log(points[key]) against log(T) or log(H) over the three largest values:
    key "median_ms" for the time, "gemm_gflop" for the FLOP count it is held against."""
    out = {}
    for sweep in sorted({(p["model"], p["axis"]) for p in points}):
        pts = sorted((p["value"], p[key]) for p in points if (p["model"], p["axis"]) == sweep)[-3:]
        if len(pts) >= 2:
            out[sweep] = float(np.polyfit(np.log([x for x, _ in pts]), np.log([y for _, y in pts]), 1)[0])
    return out


LENGTH_T = (10, 25, 50)


def length_sweep(say: Progress, sizes: Sizes, models=("rnn", "lstm", "gru"), dtypes=("float64", "float32"),
                 repeats: int = 15) -> list[dict[str, Any]]:
    """NumPy and JAX jit at ``sizes`` with T = 10, 25, 50, interleaved; each time fitted as a line in T.

    A row per model, dtype and implementation: the medians (ms) at each T and the least-squares line through
    them, ``per_call_us`` (its intercept: what a call costs before and after its steps) and ``per_step_us``
    (its slope: a step, with its share of the batched GEMMs and elementwise passes). At the teaching size it
    separates the two costs a ratio of whole calls mixes (benchmarks/README.md, "What is left").
    """
    rows = []
    for model in models:
        impls = [("numpy", numpy_impl)] + ([("jax-jit", jax_impl)] if not skip_reason("jax-jit", model) else [])
        for dtype in dtypes:
            say(f"length sweep: {model} {dtype}")
            steps = {}
            for T in LENGTH_T:
                theta, xs, ys = get(model).random_problem(sizes._replace(T=T), seed=0, dtype=dtype)
                for name, build in impls:
                    steps[name, T] = build(model, theta, xs, ys).step
            times = time_interleaved(steps, repeats, 2)
            for name, _ in impls:
                medians = [1e3 * float(np.median(times[name, T])) for T in LENGTH_T]
                slope, intercept = np.polyfit(LENGTH_T, medians, 1)
                rows.append({"model": model, "dtype": dtype, "impl": name, "sizes": sizes._asdict(), "T": list(LENGTH_T),
                             "median_ms": medians, "per_call_us": 1e3 * float(intercept),
                             "per_step_us": 1e3 * float(slope)})
    return rows
