"""Softmax cross-entropy over time, and its gradient with respect to the logits.

    p_t = softmax(o_t)                      (T, B, V)
    L   = sum_{t,b} -log p_t[b, y_t[b]]     summed over time and batch (min-char-rnn, the course notes)
    dL/do_t = p_t - onehot(y_t)             (REFERENCE.md section 6)

``reduction="mean"`` divides both by T*B (PyTorch's default) — a factor that changes SGD steps, so it
is never the default here.

Dtype-generic: float32, float64 and complex128 run the same code. The max subtracted for stability is
taken of the real part, so the function stays holomorphic for the complex-step oracle.
"""

from __future__ import annotations

import functools

import numpy as np

from gradlab.models import workspace
from gradlab.models._checks import check_logits_targets

REDUCTIONS = ("sum", "mean")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log softmax over the last axis: o - max(Re o) - log(sum exp(o - max(Re o)))."""
    shifted = logits - np.max(logits.real, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


@functools.lru_cache(maxsize=64)
def row_offsets(n: int, V: int) -> np.ndarray:
    """[0, V, 2V, ..., (n-1)V] (n,) int64, read-only: where each of n rows of V starts in the flattened array."""
    offsets = np.arange(0, n * V, V)
    offsets.setflags(write=False)
    return offsets


@functools.lru_cache(maxsize=64)
def ones(n: int, dtype) -> np.ndarray:
    """A read-only row of n ones, cached: a sum over an axis as one GEMV (rows.dot(ones(V)) over the last,
    ones(n).dot(rows) over the first), ~1 us where np.add.reduce takes ~2.3 at the teaching size."""
    row = np.ones(n, dtype)
    row.setflags(write=False)
    return row


def one_hot(indices: np.ndarray, V: int, dtype=np.float64) -> np.ndarray:
    """(..., ) integers in [0, V) -> (..., V) one-hot rows of ``dtype``."""
    return (np.asarray(indices)[..., None] == np.arange(V)).astype(dtype)


def softmax_cross_entropy(
    logits: np.ndarray, targets: np.ndarray, reduction: str = "sum"
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy of integer targets under softmax(logits), and dL/dlogits.

    Args:
        logits: (T, B, V) float or complex.
        targets: (T, B) integers in [0, V).
        reduction: "sum" (default) or "mean" over the T*B terms.

    Returns:
        loss: 0-d array of the logits' dtype.
        dlogits: (T, B, V), p - onehot(targets) (divided by T*B for "mean").
    """
    check_logits_targets(logits, targets)
    return cross_entropy_unchecked(logits, targets, reduction)


def cross_entropy_unchecked(logits: np.ndarray, targets: np.ndarray, reduction: str = "sum"):
    """softmax_cross_entropy on logits and targets already validated (the models' own path: they check
    targets against V once, with everything else)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    rows = logits.reshape(-1, logits.shape[-1])  # (T*B, V)
    shifted = workspace.empty(rows.shape, rows.dtype)  # a temporary of loss_and_grads, or fresh
    real = rows.real if rows.dtype.kind == "c" else rows
    np.subtract(rows, np.maximum.reduce(real, axis=-1, keepdims=True), out=shifted)  # largest real part 0
    # where each row's target sits in the flattened rows: one flat index costs a third of indexing by (row,
    # column) arrays; "unsafe" lets uint64 targets, already checked to lie in [0, V), add into int64 offsets
    flat = np.add(row_offsets(*rows.shape), targets.reshape(-1), dtype=np.intp, casting="unsafe")
    picked = shifted.take(flat)  # o_t[y_t] - max, (T*B,): a copy, taken before the exp
    p = np.exp(shifted, out=shifted)  # one exp serves the loss and the gradient
    total = p.dot(ones(rows.shape[-1], rows.dtype))  # (T*B,) the rows' sums, one GEMV
    loss = np.add.reduce(np.subtract(np.log(total), picked, out=picked))  # -sum log p_t[y_t]
    dlogits = np.divide(p, total[:, None], out=p)  # p_t, in place
    dlogits.reshape(-1)[flat] -= 1  # p_t - onehot(y_t), without building the one-hot
    if reduction == "mean":
        n = targets.size
        loss, dlogits = loss / n, np.divide(dlogits, n, out=dlogits)
    dlogits = dlogits.reshape(logits.shape)
    return np.asarray(loss, dtype=logits.dtype), dlogits
