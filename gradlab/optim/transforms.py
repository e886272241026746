"""The building blocks, one job each (optax's transform.py): optimisers in optimizers.py chain them.

Every block is a ``Transform``; ``g`` below is the incoming update (the gradient, or what the previous
block made of it), ``p`` the parameters, and all operations are elementwise per array except the
global norm. Step counts: a state's ``count`` is the number of steps already taken, an int starting at
0; inside an update the step number is ``t = count + 1``, so bias corrections use t = 1, 2, 3, ...
(optax's convention: its count also starts at 0 and is incremented before use).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradlab.optim.base import Params, Transform, decay_rate, flag, nonnegative, positive, tree_map


class EmptyState(NamedTuple):
    """A stateless transform's state."""


class TraceState(NamedTuple):
    count: int  # steps taken
    trace: Params  # v_t, the momentum buffer


class RssState(NamedTuple):
    sum_of_squares: Params  # G_t = G_0 + sum_{s<=t} g_s^2


class RmsState(NamedTuple):
    count: int
    nu: Params  # EMA of g^2


class StddevState(NamedTuple):
    count: int
    mu: Params  # EMA of g
    nu: Params  # EMA of g^2


class AdamState(NamedTuple):
    count: int
    mu: Params  # m_t, EMA of g
    nu: Params  # v_t, EMA of g^2


def _stateless(update_one) -> Transform:
    return Transform(lambda params: EmptyState(),
                     lambda grads, state, params=None: (tree_map(update_one, grads), state))


def _full_like(params: Params, value: float) -> Params:
    return {k: np.full(np.shape(p), value, dtype=np.result_type(np.asarray(p).dtype, np.float32))
            for k, p in params.items()}


def _inverse_root(denominator_sq, eps: float, eps_in_sqrt: bool):
    """1/sqrt(d + eps) (eps inside, optax's default) or 1/(sqrt(d) + eps) (eps outside, PyTorch's)."""
    return 1 / np.sqrt(denominator_sq + eps) if eps_in_sqrt else 1 / (np.sqrt(denominator_sq) + eps)


def scale_by_learning_rate(learning_rate: float) -> Transform:
    """u = -lr * g: the last block of every optimiser (the minus sign makes it descent)."""
    lr = positive("scale_by_learning_rate", "learning_rate", learning_rate)
    return _stateless(lambda g: -lr * g)


def trace(decay: float, *, dampening: float = 0.0, undamped_first_step: bool = False,
          nesterov: bool = False) -> Transform:
    """Momentum buffer (optax.trace; torch.optim.SGD's momentum_buffer with ``dampening``).

        v_0 = 0,   v_t = mu v_{t-1} + (1 - dampening) g_t
        v_1 = g_1  instead, when undamped_first_step (PyTorch: buf = g at step 1; same as v_0 = 0 when
                   dampening = 0, different otherwise)
        u_t = v_t                 (heavy ball)
        u_t = g_t + mu v_t        (nesterov)

    dampening = 0 is optax's and PyTorch's default; dampening = mu with a damped first step is the
    exponential moving average v = mu v + (1 - mu) g, 1/(1 - mu) times smaller at steady state.
    """
    mu = decay_rate("trace", "decay", decay)
    d = decay_rate("trace", "dampening", dampening, upper_closed=True)
    undamped_first_step = flag("trace", "undamped_first_step", undamped_first_step)
    nesterov = flag("trace", "nesterov", nesterov)

    def init(params):
        return TraceState(0, _full_like(params, 0.0))

    def update(grads, state, params=None):
        first = undamped_first_step and state.count == 0
        v = tree_map(lambda g, v: np.array(g) if first else mu * v + (1 - d) * g, grads, state.trace)  # a copy
        u = tree_map(lambda g, v: g + mu * v, grads, v) if nesterov else v
        return u, TraceState(state.count + 1, v)

    return Transform(init, update)


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7, *,
                 eps_in_sqrt: bool = True) -> Transform:
    """AdaGrad's scaling (optax.scale_by_rss, with PyTorch's eps placement as an option).

        G_0 = initial_accumulator_value,   G_t = G_{t-1} + g_t^2
        u_t = g_t / sqrt(G_t + eps)        eps_in_sqrt (optax: G_0 0.1, eps 1e-7; min-char-rnn: 0, 1e-8)
        u_t = g_t / (sqrt(G_t) + eps)      otherwise  (PyTorch: G_0 0, eps 1e-10)
        u_t = 0 where G_t = 0              (every gradient so far was 0: optax's guard, for eps = 0)
    """
    g0 = nonnegative("scale_by_rss", "initial_accumulator_value", initial_accumulator_value)
    eps = nonnegative("scale_by_rss", "eps", eps)
    eps_in_sqrt = flag("scale_by_rss", "eps_in_sqrt", eps_in_sqrt)

    def init(params):
        return RssState(_full_like(params, g0))

    def update(grads, state, params=None):
        G = tree_map(lambda g, G: G + g * g, grads, state.sum_of_squares)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = tree_map(lambda g, G: np.where(G > 0, g * _inverse_root(G, eps, eps_in_sqrt), 0.0).astype(G.dtype),
                         grads, G)
        return u, RssState(G)

    return Transform(init, update)


def _ema(decay: float, moment, x):
    return (1 - decay) * x + decay * moment  # optax.tree.update_moment's order of operations


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0, *,
                 eps_in_sqrt: bool = True, bias_correction: bool = False) -> Transform:
    """RMSprop's scaling (optax.scale_by_rms).

        nu_0 = initial_scale,   nu_t = rho nu_{t-1} + (1 - rho) g_t^2       (rho = decay)
        nu_hat = nu_t / (1 - rho^t) if bias_correction else nu_t
        u_t = g_t / sqrt(nu_hat + eps)     eps_in_sqrt (optax: rho 0.9, eps 1e-8; Keras: 0.9, 1e-7)
        u_t = g_t / (sqrt(nu_hat) + eps)   otherwise  (PyTorch: rho = alpha 0.99, eps 1e-8)
    """
    rho = decay_rate("scale_by_rms", "decay", decay)
    eps = nonnegative("scale_by_rms", "eps", eps)
    nu0 = nonnegative("scale_by_rms", "initial_scale", initial_scale)
    eps_in_sqrt = flag("scale_by_rms", "eps_in_sqrt", eps_in_sqrt)
    bias_correction = flag("scale_by_rms", "bias_correction", bias_correction)

    def init(params):
        return RmsState(0, _full_like(params, nu0))

    def update(grads, state, params=None):
        t = state.count + 1
        nu = tree_map(lambda g, n: _ema(rho, n, g * g), grads, state.nu)
        c = 1 - rho ** t if bias_correction else 1.0
        u = tree_map(lambda g, n: g * _inverse_root(n / c, eps, eps_in_sqrt), grads, nu)
        return u, RmsState(t, nu)

    return Transform(init, update)


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0, *,
                    eps_in_sqrt: bool = True, bias_correction: bool = False) -> Transform:
    """Centered RMSprop's scaling (optax.scale_by_stddev; torch RMSprop(centered=True) with eps outside).

        mu_t = rho mu_{t-1} + (1 - rho) g_t,   mu_0 = 0
        nu_t = rho nu_{t-1} + (1 - rho) g_t^2, nu_0 = initial_scale
        u_t = g_t / sqrt(nu_t - mu_t^2 + eps)     eps_in_sqrt
        u_t = g_t / (sqrt(nu_t - mu_t^2) + eps)   otherwise
    (both moments divided by 1 - rho^t first when bias_correction).
    """
    rho = decay_rate("scale_by_stddev", "decay", decay)
    eps = nonnegative("scale_by_stddev", "eps", eps)
    nu0 = nonnegative("scale_by_stddev", "initial_scale", initial_scale)
    eps_in_sqrt = flag("scale_by_stddev", "eps_in_sqrt", eps_in_sqrt)
    bias_correction = flag("scale_by_stddev", "bias_correction", bias_correction)

    def init(params):
        return StddevState(0, _full_like(params, 0.0), _full_like(params, nu0))

    def update(grads, state, params=None):
        t = state.count + 1
        mu = tree_map(lambda g, m: _ema(rho, m, g), grads, state.mu)
        nu = tree_map(lambda g, n: _ema(rho, n, g * g), grads, state.nu)
        c = 1 - rho ** t if bias_correction else 1.0
        u = tree_map(lambda g, m, n: g * _inverse_root(n / c - (m / c) ** 2, eps, eps_in_sqrt), grads, mu, nu)
        return u, StddevState(t, mu, nu)

    return Transform(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0, *,
                  eps_hat: bool = False) -> Transform:
    """Adam's scaling (optax.scale_by_adam; Kingma & Ba 2015, Algorithm 1).

        m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) g_t^2,   m_0 = v_0 = 0
        m_hat = m_t / (1 - b1^t),          v_hat = v_t / (1 - b2^t),            t = 1, 2, ...
        u_t = m_hat / (sqrt(v_hat + eps_root) + eps)                      (optax, PyTorch)
        u_t = sqrt(1 - b2^t) / (1 - b1^t) * m_t / (sqrt(v_t) + eps)      eps_hat (the paper's eps-hat
              form, end of its section 2; Keras with eps 1e-7): eps meets the UNcorrected sqrt(v_t),
              i.e. eps_hat = eps sqrt(1 - b2^t) in Algorithm 1's terms
    """
    b1 = decay_rate("scale_by_adam", "b1", b1)
    b2 = decay_rate("scale_by_adam", "b2", b2)
    eps = nonnegative("scale_by_adam", "eps", eps)
    eps_root = nonnegative("scale_by_adam", "eps_root", eps_root)
    eps_hat = flag("scale_by_adam", "eps_hat", eps_hat)

    def init(params):
        return AdamState(0, _full_like(params, 0.0), _full_like(params, 0.0))

    def update(grads, state, params=None):
        t = state.count + 1  # bias correction counts steps from 1
        m = tree_map(lambda g, m: _ema(b1, m, g), grads, state.mu)
        v = tree_map(lambda g, v: _ema(b2, v, g * g), grads, state.nu)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        if eps_hat:
            u = tree_map(lambda m, v: np.sqrt(c2) / c1 * m / (np.sqrt(v + eps_root) + eps), m, v)
        else:
            u = tree_map(lambda m, v: (m / c1) / (np.sqrt(v / c2 + eps_root) + eps), m, v)
        return u, AdamState(t, m, v)

    return Transform(init, update)


def add_decayed_weights(weight_decay: float) -> Transform:
    """u = g + wd * p (optax.add_decayed_weights). Before Adam's scaling it is coupled L2
    (torch Adam(weight_decay)); after it, decoupled weight decay (AdamW)."""
    wd = nonnegative("add_decayed_weights", "weight_decay", weight_decay)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights: update needs params (the decay is wd * p)")
        return tree_map(lambda g, p: g + wd * p, grads, params), state

    return Transform(lambda params: EmptyState(), update)


def clip(max_delta: float) -> Transform:
    """Elementwise clipping, u = min(max(g, -max_delta), max_delta) (optax.clip; min-char-rnn's
    np.clip(dparam, -5, 5)). Each coordinate separately: the direction changes."""
    c = positive("clip", "max_delta", max_delta)
    return _stateless(lambda g: np.clip(g, -c, c))


def clip_by_global_norm(max_norm: float) -> Transform:
    """Rescale all arrays together when their joint norm is too large (optax.clip_by_global_norm):

        n = sqrt(sum over every array and entry of g^2)
        u = g if n < max_norm else (g / n) * max_norm          (the direction is kept)
    """
    c = positive("clip_by_global_norm", "max_norm", max_norm)

    def update(grads, state, params=None):
        n = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))
        if n < c:
            return tree_map(lambda g: g, grads), state
        return tree_map(lambda g: (g / n) * c, grads), state

    return Transform(lambda params: EmptyState(), update)
