"""Shared test support: Hypothesis strategies for problems, and running a (possibly mutated) backward."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import MODELS, Model
from gradlab.models.sizes import Sizes

SCALES = (0.1, 1.0, 3.0)  # 3.0 saturates tanh and the gates
# Recurrent matrices are drawn scale * U(-1, 1) / sqrt(H), as every initialiser scales them, and their
# spectral norm is then capped at 1, so the recurrence never expands: the regime whose rounding error
# tolerances.py bounds (scale 3 still saturates tanh and the gates, through W_x x and the biases). An
# expansive recurrence amplifies rounding step after step, in every tool alike: a GRU with W_h = -2.4
# everywhere grew it ~3x per step to 5e-10 relative in float64; an RNN with x = 0 (so tanh' = 1) and
# every entry of W_hh at scale/sqrt(H), norm 7.3, left 1e-13 of rounding in a dL/dh0 that is exactly 0.
# That is a problem's conditioning, not a wrong gradient. (The extreme draws Hypothesis shrinks to, every
# entry at the bound, have norm scale * sqrt(H), which is why the cap is on the norm.)
RECURRENT = ("W_hh", "W_h")


def sigma(a: float) -> float:
    """The logistic function in plain floats, without overflow at a << 0: the hand-pinned reference."""
    return 1 / (1 + math.exp(-a)) if a >= 0 else math.exp(a) / (1 + math.exp(a))


def assert_blocks_do_not_change_the_grads(model: Model, module, steps: int, monkeypatch) -> None:
    """The backwards prepare their per-step factors a block of steps ahead (one block at the teaching size, one
    step a block at medium and large): blocks of ``steps`` over T = 7 (the last block short) must give the
    one-block gradients bit for bit. ``module`` is the model's module, whose ``reversed_blocks`` is replaced."""
    theta, xs, targets = model.random_problem(Sizes(T=7, B=2, D=3, H=4, V=5), seed=3)
    whole = model.grads(theta, xs, targets)[1]
    monkeypatch.setattr(module, "reversed_blocks", lambda T, _: [(max(0, t1 - steps), t1) for t1 in range(T, 0, -steps)])
    for key, value in model.grads(theta, xs, targets)[1].items():
        np.testing.assert_array_equal(value, whole[key], err_msg=key)


def cap_norm(W: np.ndarray, bound: float = 1.0) -> np.ndarray:
    """W rescaled so that its spectral norm is at most ``bound`` (unchanged when it already is)."""
    norm = np.linalg.norm(W, 2) if W.size else 0.0
    return W * (bound / norm) if norm > bound else W


@st.composite
def problems(draw, models=tuple(MODELS), dtypes=("float64",), max_T=12, max_B=4, max_n=8, scales=SCALES):
    """(model, theta, xs, targets) with Hypothesis-drawn sizes and values, saturating ones included."""
    model = MODELS[draw(st.sampled_from(models))]
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    sizes = Sizes(draw(st.integers(1, max_T)), draw(st.integers(1, max_B)),
                  *(draw(st.integers(1, max_n)) for _ in range(3)))
    scale = draw(st.sampled_from(scales))
    shapes = model.random_problem(sizes, seed=0)[0]  # names and shapes of theta
    unit = st.floats(-1, 1, allow_nan=False, width=64)
    theta = {k: draw(hnp.arrays(np.float64, v.shape, elements=unit)) for k, v in shapes.items()}
    theta = {k: (cap_norm(v * scale / np.sqrt(sizes.H)) if k in RECURRENT else v * scale).astype(dtype)
             for k, v in theta.items()}
    xs = draw(hnp.arrays(np.float64, (sizes.T, sizes.B, sizes.D), elements=unit)).astype(dtype)
    targets = draw(hnp.arrays(np.int64, (sizes.T, sizes.B), elements=st.integers(0, sizes.V - 1)))
    return model, theta, xs, targets


def fixed_problem(model: Model, sizes=Sizes(4, 2, 3, 5, 6), seed=1, dtype=np.float64):  # noqa: B008 (immutable)
    """A moderate, non-saturating problem where every catalogued mistake shows (for the twins)."""
    return (model, *model.random_problem(sizes, seed=seed, dtype=dtype))


def grads_with(model: Model, theta, xs, targets, backward=None):
    """Our gradients of theta, by the model's backward or by a (mutated) ``backward``."""
    if backward is None:
        return model.grads(theta, xs, targets)[1]
    params, state = model.params(theta), model.state(theta)
    logits, cache = model.forward(params, xs, state)
    _, dlogits = softmax_cross_entropy(logits, targets)
    return backward(params, cache, dlogits)


def as64(theta):
    return {k: np.asarray(v, dtype=np.float64) for k, v in theta.items()}


def failures(reports):
    return [r.text() for r in reports if not r.ok]
