"""Optimiser test support: Hypothesis-drawn gradient sequences, trajectories, and the optax and PyTorch oracles.

The optax oracle runs jitted (one lax.scan over the steps) on ONE flat vector: every array of the drawn
dict, raveled, concatenated and padded with zeros to ``WIDTH``. Every transform here is elementwise
except clip_by_global_norm, whose norm the zero padding leaves unchanged, and padded coordinates are
dropped afterwards; so each optax configuration compiles once whatever shapes Hypothesis draws.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

jax.config.update("jax_enable_x64", True)  # before optax builds anything: the oracle runs in float64

import optax

from gradlab import optim

STEPS = 60
WIDTH = 64  # >= the largest total size the strategy draws (3 arrays of at most 4 * 4 entries)
LEARNING_RATES = (0.1, 1e-2, 1e-3)
GRAD_SCALES = (1e-4, 1e-2, 1.0, 3.0)  # per coordinate, for every step: 1e-4 exposes where eps sits

# The pinned problem of REFERENCE.md section 5.
PINNED_P0 = {"p": np.array([1.0, -0.5, 0.3])}
PINNED_GRADS = {"p": np.array([[0.1, -0.2, 1e-4], [0.3, 0.1, 1e-4], [-0.2, 0.05, 1e-4]])}


def _no_underflow(x: np.ndarray) -> np.ndarray:
    """|x| < 1e-6 drawn as an exact 0: a gradient under ~1e-154 squares to a subnormal, which XLA flushes
    to zero and NumPy keeps (centered RMSprop's nu - mu^2 then goes negative in NumPy alone): a
    difference of arithmetic, not of optimisers. Scaled by 1e-4, the smallest gradient is still 1e-10.
    (Applied to the drawn array, not as elements=....map(): a mapped element strategy costs Hypothesis
    its fill optimisation, 10x slower.)"""
    return np.where(np.abs(x) >= 1e-6, x, 0.0)


@st.composite
def problems(draw, steps=STEPS):
    """(p0, grads, lr): a dict of 2-3 arrays of small all-different shapes, their gradients for each of
    ``steps`` steps as arrays (steps, *shape), and a learning rate.

    Each coordinate keeps a drawn scale at every step (1e-4 .. 3). The values are a Hypothesis array
    (which repeats values freely: constant gradient sequences come up) plus, unless Hypothesis turns it
    off while shrinking, a dense uniform part from a drawn seed.
    """
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4),
                           min_size=2, max_size=3, unique=True))
    names = ["W", "b", "c"][:len(shapes)]
    unit = st.floats(-1, 1, allow_nan=False, width=64)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dense = draw(st.sampled_from((0.0, 1.0)))
    p0, grads = {}, {}
    for name, shape in zip(names, shapes):
        p0[name] = _no_underflow(draw(hnp.arrays(np.float64, shape, elements=unit)))
        scale = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(GRAD_SCALES)))
        values = _no_underflow(draw(hnp.arrays(np.float64, (steps, *shape), elements=unit)))
        grads[name] = scale * (values + dense * rng.uniform(-1, 1, (steps, *shape)))
    return p0, grads, draw(st.sampled_from(LEARNING_RATES))


def fixed_problem(steps=30, seed=3):
    """A deterministic problem with a persistently tiny coordinate (for the twins)."""
    rng = np.random.default_rng(seed)
    p0 = {"W": rng.uniform(-1, 1, (2, 3)), "b": rng.uniform(-1, 1, 4)}
    scale = {"W": np.array([[1.0, 1e-4, 0.3], [2.0, 1e-2, 1.0]]), "b": np.array([1e-4, 1.0, 0.5, 3.0])}
    grads = {k: scale[k] * rng.uniform(-1, 1, (steps, *v.shape)) for k, v in p0.items()}
    return p0, grads


def trajectory(opt: optim.Transform, p0, grads) -> dict[str, np.ndarray]:
    """Our parameters after each step, stacked: {name: (steps, *shape)}."""
    p, state, out = p0, opt.init(p0), {k: [] for k in p0}
    for t in range(len(next(iter(grads.values())))):
        p, state = opt.step(p, {k: g[t] for k, g in grads.items()}, state)
        for k in p:
            out[k].append(p[k])
    return {k: np.stack(v) for k, v in out.items()}


# --- optax ----------------------------------------------------------------------------------------------

def _flatten(tree, lead=()):
    flat = np.concatenate([np.reshape(v, (*lead, -1)) for v in tree.values()], axis=-1)
    return np.concatenate([flat, np.zeros((*lead, WIDTH - flat.shape[-1]))], axis=-1)


def _unflatten(flat, like):
    out, i = {}, 0
    for k, v in like.items():
        n = int(np.prod(np.shape(v)))
        out[k] = flat[:, i:i + n].reshape(flat.shape[0], *np.shape(v))
        i += n
    return out


@functools.cache
def _optax_runner(build):
    @jax.jit
    def run(lr, p0, gs):
        opt = build(lr)

        def body(carry, g):
            p, s = carry
            u, s = opt.update(g, s, p)
            p = optax.apply_updates(p, u)
            return (p, s), p

        return jax.lax.scan(body, (p0, opt.init(p0)), gs)[1]

    return run


def optax_trajectory(build, p0, grads, lr) -> dict[str, np.ndarray]:
    """optax's parameters after each step, {name: (steps, *shape)}; ``build(lr)`` makes the optax optimiser."""
    flat = _optax_runner(build)(lr, _flatten(p0), _flatten(grads, lead=(len(next(iter(grads.values()))),)))
    return _unflatten(np.asarray(flat), p0)


ISSUE_RTOL = 1e-12  # marks a pair held to tolerances.py's "optax" entry (1e-12, issue 10)
# Centered RMSprop divides by sqrt(nu - mu^2 + eps), a cancellation when gradients repeat: with one
# gradient held for 60 steps at rho 0.9, nu - mu^2 = rho^t (1 - rho^t) g^2 ~ 1.8e-3 g^2, and both our
# trajectory and optax's differ from the exact one (mpmath, 50 digits) by up to 1.3e-12 and 5.1e-13.
# That is the problem's conditioning, not a difference of algorithm: held to the rounding tolerance only.
CANCELLATION = None


# Our optimiser next to optax's: (id, registry name it exercises, ours(lr), optax(lr), issue rtol or None).
def _c(id, name, ours, theirs, issue_rtol=ISSUE_RTOL):
    return id, name, ours, theirs, issue_rtol


OPTAX_PAIRS = [
    _c("sgd", "sgd", lambda lr: optim.make("sgd", learning_rate=lr), lambda lr: optax.sgd(lr)),
    _c("momentum", "momentum", lambda lr: optim.make("momentum", learning_rate=lr),
       lambda lr: optax.sgd(lr, momentum=0.9)),
    _c("nesterov", "nesterov", lambda lr: optim.make("nesterov", learning_rate=lr),
       lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True)),
    _c("adagrad", "adagrad", lambda lr: optim.make("adagrad", learning_rate=lr), lambda lr: optax.adagrad(lr)),
    _c("adagrad-minchar", "adagrad", lambda lr: optim.make("adagrad", "minchar", learning_rate=lr),
       lambda lr: optax.adagrad(lr, initial_accumulator_value=0.0, eps=1e-8)),
    _c("rmsprop", "rmsprop", lambda lr: optim.make("rmsprop", learning_rate=lr), lambda lr: optax.rmsprop(lr)),
    _c("rmsprop-centered", "rmsprop", lambda lr: optim.make("rmsprop", learning_rate=lr, centered=True),
       lambda lr: optax.rmsprop(lr, centered=True), CANCELLATION),
    _c("rmsprop-pytorch", "rmsprop", lambda lr: optim.make("rmsprop", "pytorch", learning_rate=lr),
       lambda lr: optax.rmsprop(lr, decay=0.99, eps_in_sqrt=False)),
    _c("rmsprop-pytorch-centered", "rmsprop",
       lambda lr: optim.make("rmsprop", "pytorch", learning_rate=lr, centered=True),
       lambda lr: optax.rmsprop(lr, decay=0.99, eps_in_sqrt=False, centered=True)),
    _c("rmsprop-keras", "rmsprop", lambda lr: optim.make("rmsprop", "keras", learning_rate=lr),
       lambda lr: optax.rmsprop(lr, eps=1e-7)),
    _c("rmsprop-momentum-bias-correction", "rmsprop",
       lambda lr: optim.make("rmsprop", learning_rate=lr, momentum=0.9, nesterov=True, bias_correction=True,
                             initial_scale=1.0),
       lambda lr: optax.rmsprop(lr, momentum=0.9, nesterov=True, bias_correction=True, initial_scale=1.0)),
    _c("adam", "adam", lambda lr: optim.make("adam", learning_rate=lr), lambda lr: optax.adam(lr)),
    _c("adam-eps-root", "adam", lambda lr: optim.make("adam", learning_rate=lr, b1=0.8, b2=0.99, eps_root=1e-8),
       lambda lr: optax.adam(lr, b1=0.8, b2=0.99, eps_root=1e-8)),
    _c("adamw", "adamw", lambda lr: optim.make("adamw", learning_rate=lr), lambda lr: optax.adamw(lr)),
    _c("adamw-pytorch", "adamw", lambda lr: optim.make("adamw", "pytorch", learning_rate=lr),
       lambda lr: optax.adamw(lr, weight_decay=1e-2)),
    _c("adam-coupled-l2", "adam",
       lambda lr: optim.chain(optim.add_decayed_weights(1e-2), optim.make("adam", learning_rate=lr)),
       lambda lr: optax.chain(optax.add_decayed_weights(1e-2), optax.adam(lr))),
    _c("clip-then-adagrad-minchar", "adagrad",
       lambda lr: optim.chain(optim.clip(0.5), optim.make("adagrad", "minchar", learning_rate=lr)),
       lambda lr: optax.chain(optax.clip(0.5), optax.adagrad(lr, initial_accumulator_value=0.0, eps=1e-8))),
    _c("clip-by-global-norm-then-momentum", "momentum",
       lambda lr: optim.chain(optim.clip_by_global_norm(1.0), optim.make("momentum", learning_rate=lr)),
       lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(lr, momentum=0.9))),
]
OPTAX = {id: (ours, theirs) for id, _, ours, theirs, _ in OPTAX_PAIRS}
