"""The models again, written independently in jax.numpy, differentiated by JAX (x64 on).

Each model is a pure loss L(theta, xs, targets) over theta = parameters + initial states, with the
recurrence as ``lax.scan``. Nothing here imports gradlab's NumPy models: the oracle shares only the
equations (DESIGN.md), so a bug in one is not copied into the other.

- ``reverse``: jax.value_and_grad, reverse mode.
- ``forward``: jax.jvp along basis vectors (vmapped, i.e. jacfwd restricted to the probed entries).
- ``directional``: one jax.jvp along a given direction, dL/dtheta . v.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, lru_cache

import jax

jax.config.update("jax_enable_x64", True)  # before the imports below, so that they see float64 enabled

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from gradlab.models._checks import require_array  # validation only, not the NumPy models


def cross_entropy_sum(logits: jnp.ndarray, targets: jnp.ndarray) -> jnp.ndarray:
    """sum over (t, b) of -log softmax(logits)[target]; logits (T, B, V), targets (T, B)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.take_along_axis(logp, targets[..., None], axis=-1))


def rnn_loss(theta: Mapping[str, jnp.ndarray], xs: jnp.ndarray, targets: jnp.ndarray) -> jnp.ndarray:
    """Elman RNN: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), o_t = W_hy h_t + b_y, summed CE."""

    def step(h, x):
        h_new = jnp.tanh(jnp.einsum("hd,bd->bh", theta["W_xh"], x) + jnp.einsum("hk,bk->bh", theta["W_hh"], h)
                         + theta["b_h"])
        return h_new, h_new

    _, hs = lax.scan(step, theta["h0"], xs)  # (T, B, H)
    logits = jnp.einsum("vh,tbh->tbv", theta["W_hy"], hs) + theta["b_y"]
    return cross_entropy_sum(logits, targets)


def lstm_loss(theta: Mapping[str, jnp.ndarray], xs: jnp.ndarray, targets: jnp.ndarray) -> jnp.ndarray:
    """LSTM, PyTorch gates [i, f, g, o] = split(W_x x + W_h h + b, 4); c = f c + i g; h = o tanh c.

    theta holds W_x (4H, D), W_h (4H, H), b (4H,), W_hy, b_y and the initial carry h0, c0 (B, H).
    """

    def step(carry, x):
        h, c = carry
        pre = jnp.einsum("gd,bd->bg", theta["W_x"], x) + jnp.einsum("gk,bk->bg", theta["W_h"], h) + theta["b"]
        i, f, g, o = jnp.split(pre, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        return (h_new, c_new), h_new

    _, hs = lax.scan(step, (theta["h0"], theta["c0"]), xs)  # (T, B, H)
    logits = jnp.einsum("vh,tbh->tbv", theta["W_hy"], hs) + theta["b_y"]
    return cross_entropy_sum(logits, targets)


def _gru_loss(theta, xs, targets, reset_after: bool) -> jnp.ndarray:
    """GRU with rows [r, z, n]; the candidate's reset applied after (PyTorch) or before (Cho) W_hn."""
    W_hr, W_hz, W_hn = jnp.split(theta["W_h"], 3, axis=0)
    b_hr, b_hz, b_hn = jnp.split(theta["b_h"], 3)

    def step(h, x):
        x_r, x_z, x_n = jnp.split(jnp.einsum("gd,bd->bg", theta["W_x"], x) + theta["b_x"], 3, axis=-1)
        r = jax.nn.sigmoid(x_r + jnp.einsum("jk,bk->bj", W_hr, h) + b_hr)
        z = jax.nn.sigmoid(x_z + jnp.einsum("jk,bk->bj", W_hz, h) + b_hz)
        if reset_after:
            n = jnp.tanh(x_n + r * (jnp.einsum("jk,bk->bj", W_hn, h) + b_hn))
        else:
            n = jnp.tanh(x_n + jnp.einsum("jk,bk->bj", W_hn, r * h) + b_hn)
        h_new = n + z * (h - n)  # = (1 - z) n + z h
        return h_new, h_new

    _, hs = lax.scan(step, theta["h0"], xs)
    logits = jnp.einsum("vh,tbh->tbv", theta["W_hy"], hs) + theta["b_y"]
    return cross_entropy_sum(logits, targets)


def gru_loss(theta, xs, targets) -> jnp.ndarray:
    """GRU, reset after the matmul (PyTorch/cuDNN): n = tanh(W_xn x + b_xn + r (W_hn h + b_hn))."""
    return _gru_loss(theta, xs, targets, reset_after=True)


def gru_cho_loss(theta, xs, targets) -> jnp.ndarray:
    """GRU, reset before the matmul (Cho et al. 2014): n = tanh(W_xn x + b_xn + W_hn (r h) + b_hn)."""
    return _gru_loss(theta, xs, targets, reset_after=False)


LOSSES: dict[str, Callable] = {"rnn": rnn_loss, "lstm": lstm_loss, "gru": gru_loss, "gru-cho": gru_cho_loss}


def _loss(model: str) -> Callable:
    if model not in LOSSES:
        raise ValueError(f"model: expected one of {', '.join(LOSSES)} for the JAX oracle, got {model!r}")
    return LOSSES[model]


@cache
def _value_and_grad(model: str) -> Callable:
    return jax.jit(jax.value_and_grad(_loss(model)))


def clear_caches() -> None:
    """Drop every compiled executable. Each new shape compiles one; a long sweep over thousands of
    shapes in one process otherwise exhausts the kernel's memory-map limit (LLVM: cannot allocate)."""
    _value_and_grad.cache_clear()
    _jvp_basis.cache_clear()
    jax.clear_caches()


def _as64(theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray):
    """theta, xs and targets as float64 JAX arrays, after checking their kinds (argument validation
    only: the shapes are the model's business, and JAX names any mismatch)."""
    if not isinstance(theta, Mapping):
        raise TypeError(f"theta: expected a dict of numpy arrays, got {type(theta).__name__}")
    require_array("xs", xs, ndim=3, doc="(T, B, D)")
    require_array("targets", targets, ndim=2, kinds="iu", doc="(T, B)")
    theta = {k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in theta.items()}
    return theta, jnp.asarray(np.asarray(xs, dtype=np.float64)), jnp.asarray(targets)


def reverse(model: str, theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray):
    """(loss, grads) by jax.value_and_grad in float64; grads has the keys of theta."""
    loss, grads = _value_and_grad(model)(*_as64(theta, xs, targets))
    return float(loss), {k: np.asarray(v) for k, v in grads.items()}


def directional(model: str, theta, xs, targets, tangent: Mapping[str, np.ndarray]) -> float:
    """dL/dtheta . tangent by one forward-mode jax.jvp (tangent: same keys and shapes as theta)."""
    theta64, xs64, t64 = _as64(theta, xs, targets)
    tangent64 = {k: jnp.asarray(np.asarray(tangent[k], dtype=np.float64)) for k in theta64}
    _, dot = jax.jvp(lambda th: _loss(model)(th, xs64, t64), (theta64,), (tangent64,))
    return float(dot)


FORWARD_CHUNK = 64  # basis vectors per vmapped jvp: bounds memory at FORWARD_CHUNK x |theta|


@lru_cache(maxsize=32)
def _jvp_basis(model: str, unravel: Callable) -> Callable:
    """i -> dL/dtheta_flat[i] by one jvp along basis vector e_i, vmapped over a chunk of indices."""

    def along(flat, xs, targets, i):
        e_i = jnp.zeros_like(flat).at[i].set(1.0)
        return jax.jvp(lambda f: _loss(model)(unravel(f), xs, targets), (flat,), (e_i,))[1]

    return jax.jit(jax.vmap(along, in_axes=(None, None, None, 0)))


def forward(model: str, theta, xs, targets, probe=None) -> dict[str, np.ndarray]:
    """dL/dtheta by forward mode: one jvp per probed element along its basis vector (jacfwd, in chunks).

    ``probe`` maps a name to flat indices (default: all names, all elements); others are NaN.
    """
    theta64, xs64, t64 = _as64(theta, xs, targets)
    flat, unravel = ravel_pytree(theta64)
    offsets, start = {}, 0
    for name in sorted(theta64):  # ravel_pytree orders dict keys sorted
        offsets[name], start = start, start + theta64[name].size
    names = list(probe) if probe else list(theta64)
    picked = [offsets[n] + (np.arange(theta64[n].size) if (probe or {}).get(n) is None else np.asarray(probe[n]))
              for n in names]
    index = np.concatenate(picked).astype(np.int64)
    # Pad to whole chunks so one compiled shape serves every chunk.
    padded = np.pad(index, (0, -index.size % FORWARD_CHUNK))
    jvps = _jvp_basis(model, unravel)
    values = np.concatenate([np.asarray(jvps(flat, xs64, t64, jnp.asarray(padded[i:i + FORWARD_CHUNK])))
                             for i in range(0, padded.size, FORWARD_CHUNK)])[: index.size]
    grads, done = {}, 0
    for name, idx in zip(names, picked):
        g = np.full(theta64[name].size, np.nan)
        g[idx - offsets[name]] = values[done:done + idx.size]
        done += idx.size
        grads[name] = g.reshape(theta64[name].shape)
    return grads
