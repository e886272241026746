"""The FLOP count of BPTT's matrix products, and the GEMM-bound limit: each product timed alone.

``gemms(model, sizes)`` lists every GEMM of one forward + backward as gradlab runs it; their FLOPs
give the GFLOP/s of every implementation. ``time_gemm`` times one such product with NumPy (np.dot, the
entry gradlab's time loops use: for one-row products it skips ~1 us of np.matmul's dispatch) at
its own shape, layout and dtype (in the caller's BLAS thread setting). ``gemm_step`` runs a model's whole
list in one call: the time its GEMMs alone take here, the limit no implementation built on these GEMMs
can beat.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from gradlab.models.sizes import Sizes

GATES = {"rnn": 1, "lstm": 4, "gru": 3, "gru-cho": 3}  # G: rows of W_x are G*H


class Gemm(NamedTuple):
    """C (m, n) = A (m, k) B (k, n), run ``count`` times; ta/tb: that operand is a transposed view."""

    name: str
    m: int
    k: int
    n: int
    count: int = 1
    ta: bool = False
    tb: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def gemms(model: str, sizes: Sizes) -> list[Gemm]:
    """The matrix products of one forward + backward, as gradlab runs them (N = T*B rows, G gates,
    G = 1 for the RNN, 4 for the LSTM, 3 for the GRU; m x k x n costs 2 m k n FLOPs):

        forward   x W_x^T          N x D x GH     once (the input projection for every t)
                  h_{t-1} W_h^T    B x H x GH     T times (the recurrence), on a contiguous W_h^T: the
                                                  layout every model uses (the RNN and GRU at B = 1 the view)
                  h W_hy^T         N x H x V      once (the logits)
        backward  dW_hy = dy^T h   V x N x H      once
                  e = dy W_hy      N x V x H      once
                  da_t W_h         B x GH x H     T times (dL/dh_{t-1})
                  dW_x = da^T x    GH x N x D     once
                  dW_h = da^T h    GH x N x H     once

    total = 2 N (G H (2D + 3H) + 3 H V). Elementwise work (gates, tanh, softmax) is not counted. gru-cho
    splits the GRU's hidden-side products into r, z rows and n rows: the same FLOPs in smaller GEMMs.
    """
    if model not in GATES:
        raise ValueError(f"model: expected one of {', '.join(GATES)}, got {model!r}")
    T, B, D, H, V = Sizes(*sizes).validate()
    G, N = GATES[model], T * B
    GH = G * H
    return [
        Gemm("x W_x^T", N, D, GH, tb=True),
        Gemm("h W_h^T (per step)", B, H, GH, T),
        Gemm("h W_hy^T", N, H, V, tb=True),
        Gemm("dW_hy = dy^T h", V, N, H, ta=True),
        Gemm("e = dy W_hy", N, V, H),
        Gemm("da W_h (per step)", B, GH, H, T),
        Gemm("dW_x = da^T x", GH, N, D, ta=True),
        Gemm("dW_h = da^T h_prev", GH, N, H, ta=True),
    ]


def gemm_flops(model: str, sizes: Sizes) -> int:
    """FLOPs of every GEMM of one forward + backward: 2 N (G H (2D + 3H) + 3 H V)."""
    return sum(g.flops for g in gemms(model, sizes))


def _operands(g: Gemm, dtype, rng):
    A = rng.standard_normal((g.k, g.m) if g.ta else (g.m, g.k)).astype(dtype)
    B = rng.standard_normal((g.n, g.k) if g.tb else (g.k, g.n)).astype(dtype)
    return (A.T if g.ta else A), (B.T if g.tb else B), np.empty((g.m, g.n), dtype)


def time_gemm(g: Gemm, dtype, sample_s: float = 0.01, repeats: int = 5) -> float:
    """Median seconds of ONE product of g's shape and layout by np.dot into a preallocated C; each of
    the ``repeats`` samples runs enough products to last about ``sample_s`` (at least one)."""
    A, B, C = _operands(g, dtype, np.random.default_rng(0))
    np.dot(A, B, out=C)  # warm-up
    t0 = time.perf_counter()
    np.dot(A, B, out=C)
    n = max(1, int(sample_s / max(time.perf_counter() - t0, 1e-9)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            np.dot(A, B, out=C)
        samples.append((time.perf_counter() - t0) / n)
    return float(np.median(samples))


def gemm_step(model: str, sizes: Sizes, dtype):
    """A callable that runs every product of ``gemms(model, sizes)``, each its ``count`` times, by np.dot
    into preallocated outputs: the model's GEMMs alone. The benchmark times it interleaved with the
    implementations, so that the limit and the rows it divides are measured under the same machine drift."""
    rng = np.random.default_rng(0)
    products = [(*_operands(g, dtype, rng), range(g.count)) for g in gemms(model, sizes)]

    def step() -> None:
        for A, B, C, times in products:
            for _ in times:
                np.dot(A, B, out=C)

    return step


def square_peak(dtype, n: int) -> float:
    """GFLOP/s of an n x n x n np.matmul (median of 3)."""
    return 2 * n**3 / time_gemm(Gemm("square", n, n, n), dtype, sample_s=0.0, repeats=3) / 1e9
