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

import numpy as np

from gradlab.models import workspace
from gradlab.models._checks import check_logits_targets

REDUCTIONS = ("sum", "mean")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log softmax over the last axis: o - max(Re o) - log(sum exp(o - max(Re o)))."""
    shifted = logits - np.max(logits.real, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


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
    V = logits.shape[-1]
    shifted = workspace.empty(logits.shape, logits.dtype)  # a temporary of loss_and_grads, or fresh
    np.subtract(logits, logits.real.max(axis=-1, keepdims=True), out=shifted)  # (T, B, V), largest real part 0
    flat = np.arange(0, targets.size * V, V)  # where each row's target sits in the flattened logits
    # one flat index costs a third of indexing by (row, column) arrays; "unsafe" lets uint64 targets, already
    # checked to lie in [0, V), add into the int64 offsets
    np.add(flat, targets.reshape(-1), out=flat, casting="unsafe")
    picked = shifted.reshape(-1).take(flat)  # o_t[y_t] - max, (T*B,): a copy, taken before the exp
    p = np.exp(shifted, out=shifted)  # one exp serves the loss and the gradient
    total = p.sum(axis=-1)  # (T, B)
    loss = (np.log(total).reshape(-1) - picked).sum()  # -sum log p_t[y_t]
    dlogits = np.divide(p, total[..., None], out=p)  # p_t, in place
    dlogits.reshape(-1)[flat] -= 1  # p_t - onehot(y_t), without building the one-hot
    if reduction == "mean":
        n = targets.size
        loss, dlogits = loss / n, np.divide(dlogits, n, out=dlogits)
    return np.asarray(loss, dtype=logits.dtype), dlogits
