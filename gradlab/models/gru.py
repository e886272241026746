"""The GRU in both reset conventions, hand-written: forward, BPTT, forward mode for b_x and b_h.

Rows are stacked in PyTorch's order r, z, n: W_x = [W_xr; W_xz; W_xn] (3H, D), W_h = [W_hr; W_hz; W_hn]
(3H, H), and two biases b_x = [b_xr; b_xz; b_xn], b_h = [b_hr; b_hz; b_hn] (3H,), PyTorch's ``bias_ih_l0``
and ``bias_hh_l0``. Time-major, batch rows (REFERENCE.md section 3):

    r_t = sigma(x_t W_xr^T + b_xr + h_{t-1} W_hr^T + b_hr)          (B, H)  reset gate
    z_t = sigma(x_t W_xz^T + b_xz + h_{t-1} W_hz^T + b_hz)          (B, H)  update gate
    reset="after"  (PyTorch, cuDNN, Keras reset_after=True; the default):
        n_t = tanh(x_t W_xn^T + b_xn + r_t * (h_{t-1} W_hn^T + b_hn))
    reset="before" (Cho et al. 2014, Keras reset_after=False):
        n_t = tanh(x_t W_xn^T + b_xn + (r_t * h_{t-1}) W_hn^T + b_hn)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                            z keeps the old state, in both
    s_t = h_t W_hy^T + b_y;   L = sum_{t,b} -log softmax(s_t)[y_t]

Under reset="before" b_hn is still a parameter, added after the matmul, so it sits beside b_xn and
only their sum matters: db_hn == db_xn exactly. Under reset="after" b_hn is gated by r and differs.
The r and z rows of b_x and b_h get equal gradients in both conventions.

BPTT, with e_t = (p_t - y_t) W_hy and dh = e_t + dh_next:

    dn = dh (1 - z),  dz = dh (h_{t-1} - n),  da_n = dn (1 - n^2),  da_z = dz z (1 - z)
    after:  q = h_{t-1} W_hn^T + b_hn;  dr = da_n q;  dq = da_n r
            input side [da_r, da_z, da_n], hidden side [da_r, da_z, dq]
            dh_next = dh z + [da_r, da_z, dq] W_h
    before: s = r h_{t-1};  ds = da_n W_hn;  dr = ds h_{t-1}
            input side = hidden side = [da_r, da_z, da_n]
            dh_next = dh z + [da_r, da_z] [W_hr; W_hz] + ds r
    da_r = dr r (1 - r);  dW_x = sum_t da_x^T x_t;  dW_h rows r, z: sum_t da^T h_{t-1};
    row n: sum_t dq^T h_{t-1} (after) or sum_t da_n^T s_t (before)

Only the recurrence loops over t; the input projection, the output layer and every weight gradient
are single (T*B)-row GEMMs. Dtype-generic (float32, float64, complex128). The gates' sigma is
1/(1 + exp(-a)): holomorphic, within an ulp of sigma itself deep in saturation, and an exp overflow
(a < -709 in float64, < -88 in float32) gives sigma = 0 without a warning. (In complex128 such an a gives
nan: the complex step needs pre-activations above -709, as any test of it has.) Speed: the time loops write
into preallocated arrays in place and allocate nothing, their per-step views kept between calls with the
arrays (``workspace.plan``; benchmarks/README.md has the measurements);
reset="after" keeps q_t = h_{t-1} W_hn^T + b_hn from the forward, so the backward needs no extra GEMM;
the backward computes the factors that do not depend on dh a block of steps ahead (``after_factors``,
``local_derivatives``), so that a step under reset="after" is four NumPy calls (``_backward_after``).
The cache records the convention that made it, so ``backward`` needs no flag; the registry lists the two
conventions as the models "gru" and "gru-cho" through ``convention(reset)``.
"""

from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import NamedTuple

import numpy as np

from gradlab.models import workspace
from gradlab.models._checks import check_sequence, check_state, infer_sizes
from gradlab.models.losses import cross_entropy_unchecked, softmax_cross_entropy
from gradlab.models.rnn import (
    linear,
    outer_sum,
    output_backward,
    param_grads,
    reversed_blocks,
    tiled,
    time_sum,
    transposed,
)
from gradlab.models.sizes import Sizes, check_dtype, uniform

PARAM_SHAPES = {"W_x": ("3H", "D"), "W_h": ("3H", "H"), "b_x": ("3H",), "b_h": ("3H",), "W_hy": ("V", "H"),
                "b_y": ("V",)}
STATE_NAMES = ("h0",)
GATES = ("r", "z", "n")  # PyTorch's row order
RESETS = {"after": "PyTorch/cuDNN/Keras reset_after: r * (h W_hn^T + b_hn)",
          "before": "Cho et al. 2014: (r * h) W_hn^T + b_hn"}


class GRUCache(NamedTuple):
    """What the backward needs: the inputs, every state, the activated gates, and the convention."""

    xs: np.ndarray  # (T, B, D)
    hs: np.ndarray  # (T+1, B, H); hs[0] = h0
    gates: np.ndarray  # (T, B, 3H) = [r | z | n], activated
    reset: str  # "after" or "before"
    q: np.ndarray | None = None  # (T, B, H) = h_{t-1} W_hn^T + b_hn under reset="after", else None


def check_reset(reset) -> str:
    if reset not in RESETS:
        raise ValueError(f"reset: expected 'after' ({RESETS['after']}) or 'before' ({RESETS['before']}), "
                         f"got {reset!r}")
    return reset


def split_gates(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(..., 3H) -> the three (..., H) blocks r, z, n (views)."""
    H = x.shape[-1] // 3
    return x[..., :H], x[..., H:2 * H], x[..., 2 * H:]


def init(sizes: Sizes, rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    """Parameters drawn U(-1/sqrt(H), 1/sqrt(H)), both biases included, as PyTorch's nn.GRU does."""
    sizes = Sizes(*sizes).validate()
    dtype, bound = check_dtype(dtype), 1.0 / np.sqrt(sizes.H)
    dims = {"D": sizes.D, "H": sizes.H, "V": sizes.V, "3H": 3 * sizes.H}
    return {k: uniform(rng, tuple(dims[s] for s in shape), bound, dtype) for k, shape in PARAM_SHAPES.items()}


def _check(params, xs, targets, h0) -> dict[str, int]:
    sizes = infer_sizes(params, PARAM_SHAPES)
    T, B = check_sequence(xs, targets, D=sizes["D"], V=sizes["V"])
    check_state("h0", h0, B, sizes["H"])
    return {"T": T, "B": B, **sizes}


def forward(params: dict, xs: np.ndarray, h0: np.ndarray, *, reset: str = "after") -> tuple[np.ndarray, GRUCache]:
    """Run the GRU over xs (T, B, D) from h0 (B, H); return logits (T, B, V) and the cache."""
    check_reset(reset)
    _check(params, xs, None, h0)
    return _forward(params, xs, h0, reset)


def _forward(params: dict, xs: np.ndarray, h0: np.ndarray, reset: str) -> tuple[np.ndarray, GRUCache]:
    """forward, on arguments already checked."""
    (T, B), H = xs.shape[:2], h0.shape[1]
    dtype = np.result_type(xs, h0, *params.values())
    W_h, b_h = params["W_h"], params["b_h"]
    # b_h adds where b_x does, except b_hn under reset "after" (inside r * (...)): add it with b_x, once
    b_in = params["b_x"] + b_h
    if reset == "after":
        b_in[2 * H:] = params["b_x"][2 * H:]
    hs, gates, q, steps = workspace.plan(forward_buffers, T, B, H, dtype, reset)
    hs[0] = h0
    # the input side for every t at once, where the gates go; the steps activate them in place
    linear(xs, params["W_x"], b_in, out=gates)
    # sigma(a) = 1/(1 + exp(-a)): the r, z input side is negated once here, [-a_xr | -a_xz | a_xn], and the steps
    # subtract their hidden side from it (negation is exact: the same numbers as negating each step's sum)
    np.negative(gates[..., :2 * H], out=gates[..., :2 * H])
    loop = _steps_after if reset == "after" else _steps_before
    with np.errstate(over="ignore"):  # exp(-a) = inf where a << 0 gives sigma = 1/inf = 0, as it should
        loop(W_h, b_h, gates, steps)
    logits = linear(hs[1:], params["W_hy"], params["b_y"])  # (T, B, V)
    return logits, GRUCache(xs, hs, gates, reset, q)


def forward_buffers(T: int, B: int, H: int, dtype, reset: str) -> tuple:
    """(hs (T+1, B, H), gates (T, B, 3H), q (T, B, H) under reset "after" else None, steps): uninitialised
    workspace arrays for a forward, and per t the views its steps write through (kept between calls:
    ``workspace.plan``), h_{t-1}, h_t, [r | z]_t, r_t, z_t, n_t, and q_t under "after"."""
    hs, gates = workspace.empty((T + 1, B, H), dtype), workspace.empty((T, B, 3 * H), dtype)
    rows = (hs[:-1], hs[1:], gates[..., :2 * H], *split_gates(gates))
    q = workspace.empty((T, B, H), dtype) if reset == "after" else None
    return hs, gates, q, list(zip(*rows, q) if q is not None else zip(*rows))


def _steps_after(W_h, b_h, gates, steps) -> None:
    """The forward's time loop under reset "after": fills h_t and q_t, activates gates in place (``steps``:
    ``forward_buffers``).

    ``gates`` holds the input side [-a_xr | -a_xz | a_xn] on entry, its r, z columns negated; the steps
    subtract the hidden side there. Every step writes in place into preallocated arrays. The products take
    W_h^T as ``rnn.transposed`` gives it: a contiguous copy when B > 1, the view when B = 1.
    """
    B, H = gates.shape[1], W_h.shape[1]
    W_h_T = transposed(W_h, B, gates.dtype)  # (H, 3H)
    a_h = workspace.empty((B, 3 * H), gates.dtype)  # h_{t-1} W_h^T = [a_hr | a_hz | h W_hn^T] of one step
    a_h_rz, a_h_n, scratch = a_h[:, :2 * H], a_h[:, 2 * H:], workspace.empty((B, H), gates.dtype)
    b_hn = tiled(b_h[2 * H:], B, gates.dtype)  # a (B, H) copy: NumPy adds equal shapes faster
    one = np.array(1, gates.dtype)  # likewise a 0-d array, not the Python scalar 1
    # r and z hold u = 1/sigma until the loop ends
    for h_prev, h, rz_t, u_r_t, u_z_t, n_t, q_t in steps:
        h_prev.dot(W_h_T, a_h)  # all three hidden-side rows in one GEMM
        np.add(a_h_n, b_hn, q_t)  # q_t = h_{t-1} W_hn^T + b_hn
        np.subtract(rz_t, a_h_rz, rz_t)  # [-a_r | -a_z]
        _one_plus_exp(rz_t, one)  # [u_r | u_z] = 1 + exp(-a_x - a_h), in place
        n_t += np.divide(q_t, u_r_t, scratch)  # a_xn + r * (h_{t-1} W_hn^T + b_hn)
        np.tanh(n_t, n_t)  # n = tanh(a_xn + r * q)
        _blend(h_prev, n_t, u_z_t, h, scratch)
    rz = gates[..., :2 * H]
    np.reciprocal(rz, out=rz)  # [r | z] = 1/u for every step at once


def _steps_before(W_h, b_h, gates, steps) -> None:
    """The forward's time loop under reset "before" (Cho et al.): fills h_t, activates gates in place (which
    hold [-a_xr | -a_xz | a_xn] on entry, as in ``_steps_after``)."""
    B, H, dtype = gates.shape[1], W_h.shape[1], gates.dtype
    # (H, 2H) and (H, H), two copies when B > 1 (dot on column blocks of one (H, 3H) copy was 1.25x slower)
    W_hrz_T, W_hn_T = transposed(W_h[:2 * H], B, dtype), transposed(W_h[2 * H:], B, dtype)
    a_rz, a_n = workspace.empty((B, 2 * H), dtype), workspace.empty((B, H), dtype)
    scratch, one = workspace.empty((B, H), dtype), np.array(1, dtype)
    # r and z hold u = 1/sigma until the loop ends
    for h_prev, h, rz_t, u_r_t, u_z_t, n_t in steps:
        np.subtract(rz_t, h_prev.dot(W_hrz_T, a_rz), rz_t)  # [-a_r | -a_z]  (dot writes only contiguous arrays)
        _one_plus_exp(rz_t, one)  # [u_r | u_z] = 1 + exp(-a_x - a_h), in place
        n_t += np.divide(h_prev, u_r_t, scratch).dot(W_hn_T, a_n)  # a_xn + (r * h_{t-1}) W_hn^T
        np.tanh(n_t, n_t)  # n = tanh(a_xn + (r * h) W_hn^T + b_hn)
        _blend(h_prev, n_t, u_z_t, h, scratch)
    rz = gates[..., :2 * H]
    np.reciprocal(rz, out=rz)  # [r | z] = 1/u for every step at once


def _one_plus_exp(x: np.ndarray, one: np.ndarray) -> np.ndarray:
    """x = -a -> u = 1 + exp(x) = 1/sigma(a), in place (exp being ~2x cheaper than tanh). The steps divide by
    u where the equations multiply by sigma (r * q = q / u_r, z * d = d / u_z: one call either way), and one
    batched reciprocal after the loop turns every step's u into sigma: a call a step fewer than taking sigma
    in the loop. An exp overflow gives u = inf, so sigma = 0 both ways. ``one`` is np.array(1, x.dtype): a
    0-d array costs a small step ~1 us less than the Python 1."""
    np.exp(x, x)
    return np.add(x, one, x)


def _blend(h_prev, n, u_z, h, scratch) -> None:
    """h_t = (1 - z) n + z h_{t-1}, computed as n + (h_{t-1} - n) / u_z into ``h`` (z = 1/u_z): three calls for
    four."""
    np.divide(np.subtract(h_prev, n, scratch), u_z, scratch)
    np.add(n, scratch, h)


def recurrence_backward(params: dict, cache: GRUCache, e: np.ndarray):
    """BPTT through the GRU: da_h (T, B, 3H) the hidden side, da_n (T, B, H) the input side's n rows, dL/dh0 (B, H).

    The input side is [da_r | da_z | da_n]: its r and z rows are the hidden side's, which is why only its n
    rows are returned apart. Under reset="after" the hidden side's n rows are dq = da_n r; under "before" b_h
    sits beside b_x in every row, the two sides are equal, and da_n is a view of da_h.
    """
    W_h, hs = params["W_h"], cache.hs
    if check_reset(cache.reset) == "before":
        return _backward_before(W_h, cache, e)
    H = hs.shape[-1]  # q from the forward; a cache made by the other convention has none
    q = cache.q if cache.q is not None else linear(hs[:-1], W_h[2 * H:], params["b_h"][2 * H:])
    return _backward_after(W_h, cache, q, e)


def _backward_after(W_h: np.ndarray, cache: GRUCache, q: np.ndarray, e: np.ndarray):
    """recurrence_backward under reset "after": four NumPy calls a step.

    Every hidden-side quantity of a step is dh_t times a factor that does not depend on dh_t, and so is the
    part of dh_{t-1} that skips W_h. With g_t = [dr_d dn_dh | dz_dh | r dn_dh | z] (B, 4, H), the step is

        dh_t = e_t + dh_next;   y_t = dh_t * g_t = [da_r | da_z | dq | dh_t z];   dh_next = dh_t z + da_h W_h

    with da_h = [da_r | da_z | dq] the first three blocks of y_t. The input side's da_n = dh_t dn_dh is taken
    for a block of steps at once, after them. Returns (da_h, da_n, dL/dh0).
    """
    B, H = e.shape[1:]
    dh, y, da_h, da_n, scratch, factors, blocks = workspace.plan(after_buffers, e, np.result_type(e, cache.gates, W_h))
    dh_next = np.zeros((B, 1, H), dh.dtype)  # 0 after the last step; dL/dh0 at the end (returned)
    scratch_1 = scratch[:, None]  # (B, 1, H): the shape of dh_next
    for t0, t1, steps in blocks:  # each block's g goes where its y goes, and is multiplied by dh_t in place
        _, dn_dh_block = after_factors(cache.gates[t0:t1], cache.hs[t0:t1], q[t0:t1],
                                       (y[t0:t1], *(x[:t1 - t0] for x in factors)))
        for e_t, dh_t, y_t, da_h_t, dh_z_t in steps:  # t = t1-1, ..., t0
            np.add(e_t, dh_next, dh_t)  # the direct term plus everything that flows back from h_{t+1}
            np.multiply(dh_t, y_t, y_t)  # y_t = dh_t * g_t = [da_r | da_z | dq | dh z]
            da_h_t.dot(W_h, scratch)  # through a_h = h_{t-1} W_h^T + b_h
            np.add(dh_z_t, scratch_1, dh_next)  # dh_{t-1} = dh z + da_h W_h
        np.multiply(dh[t0:t1, :, 0], dn_dh_block, da_n[t0:t1])  # da_n = dh dn_dh, input side
    return da_h, da_n, dh_next[:, 0]


def after_buffers(e: np.ndarray, dtype) -> tuple:
    """Uninitialised workspace arrays for ``_backward_after`` from e (T, B, H), and the views its steps write
    through (kept between calls: ``workspace.plan``): dh (T, B, 1, H) the total dL/dh_t; y (T, B, 4, H); da_h
    (T, B, 3H) and dh_z (T, B, 1, H), views of y; da_n (T, B, H), the input side's n rows (its r, z rows are
    da_h's); scratch (B, H) for da_h W_h (np.dot writes a contiguous 2-D array); after_factors' other three
    arrays for one block of steps; and the blocks (t0, t1, steps), the last first, with per step from t1-1 down
    to t0 the views e_t, dh_t, y_t, da_h_t and dh_z_t."""
    T, B, H = e.shape
    dh, y = workspace.empty((T, B, 1, H), dtype), workspace.empty((T, B, 4, H), dtype)
    da_h, dh_z = y[:, :, :3].reshape(T, B, 3 * H), y[:, :, 3:]  # (T, B, 3H) and (T, B, 1, H) views
    da_n, scratch = workspace.empty((T, B, H), dtype), workspace.empty((B, H), dtype)
    spans = reversed_blocks(T, y[0].nbytes)
    n = spans[0][1] - spans[0][0]  # steps in a block (the first is the longest)
    factors = (workspace.empty((n, B, H), dtype), workspace.empty((n, B, 2, H), dtype),
               workspace.empty((n, B, 2, H), dtype))  # dn_dh, scratch
    blocks = [(t0, t1, list(zip(*(x[t0:t1][::-1] for x in (e[:, :, None], dh, y, da_h, dh_z)))))
              for t0, t1 in spans]
    return dh, y, da_h, da_n, scratch, factors, blocks


def after_factors(gates: np.ndarray, h_prev: np.ndarray, q: np.ndarray, out: tuple | None = None):
    """_backward_after's factors for any leading shape (...), from the activated gates (..., 3H), h_{t-1} and q
    (..., H):

        g = [q r (1 - r) dn_dh | (h_{t-1} - n) z (1 - z) | r dn_dh | z]  (..., 4, H),   dn_dh = (1 - z)(1 - n^2)

    (da_r, da_z, dq and the skip term per unit dh_t: local_derivatives' dr_d dn_dh, dz_dh, r dn_dh, with x = q).
    Returns (g, dn_dh); ``out`` = (g, dn_dh, scratch (..., 2, H), scratch (..., 2, H)) are the arrays to use,
    else new ones. Ten NumPy calls, the r and z blocks side by side where they can be.
    """
    H = gates.shape[-1] // 3
    rz, r, z, n = gates[..., :2 * H], gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:]
    if out is None:
        lead, dtype = n.shape[:-1], np.result_type(gates, h_prev, q)
        out = (np.empty((*lead, 4, H), dtype), np.empty(n.shape, dtype), *np.empty((2, *lead, 2, H), dtype))
    g, dn_dh, slopes, lhs = out
    slopes = slopes.reshape(rz.shape)
    np.subtract(1, rz, out=slopes)  # [1 - r | 1 - z]
    np.square(n, out=dn_dh)
    np.subtract(1, dn_dh, out=dn_dh)
    dn_dh *= slopes[..., H:]  # (1 - z)(1 - n^2): h = (1 - z) n + z h_prev, n = tanh(a_n)
    slopes *= rz  # [r (1 - r) | z (1 - z)]
    np.multiply(q, dn_dh, out=lhs[..., 0, :])  # lhs = [q dn_dh | h_prev - n]
    np.subtract(h_prev, n, out=lhs[..., 1, :])
    np.multiply(lhs, slopes.reshape(lhs.shape), out=g[..., :2, :])  # da_r = da_n q r (1 - r), da_z = dh dz
    np.multiply(dn_dh, r, out=g[..., 2, :])  # dq = da_n r
    np.copyto(g[..., 3, :], z)  # dh_{t-1} = dh z + ...
    return g, dn_dh


def _backward_before(W_h: np.ndarray, cache: GRUCache, e: np.ndarray):
    """recurrence_backward under reset "before" (Cho et al.): da_x (both sides), its n rows, and dL/dh0."""
    hs, (B, H) = cache.hs, e.shape[1:]
    W_hrz, W_hn = W_h[:2 * H], W_h[2 * H:]
    da_x, da_n, factors, blocks = workspace.plan(before_buffers, e, cache.gates, np.result_type(e, cache.gates, W_h))
    dh = np.zeros((B, H), da_x.dtype)  # dL/dh_t; it starts as dh_next = 0 after the last step (returned)
    ds, scratch = workspace.empty((B, H), da_x.dtype), workspace.empty((B, H), da_x.dtype)
    for t0, t1, steps in blocks:
        local_derivatives(cache.gates[t0:t1], hs[t0:t1], hs[t0:t1], factors[:, :t1 - t0])
        for e_t, da_r_t, da_z_t, da_rz_t, da_n_t, r_t, z_t, dn_dh, dz_dh, dr_d in steps:  # t = t1-1, ..., t0
            dh += e_t  # the direct term plus everything that flows back from h_{t+1}
            np.multiply(dh, dn_dh, da_n_t)  # h = (1 - z) n + z h_prev, n = tanh(a_n)
            np.multiply(dh, dz_dh, da_z_t)  # z = sigma(a_z)
            da_n_t.dot(W_hn, ds)  # ds = da_n W_hn;  a_n = a_xn + s W_hn^T + b_hn, s = r * h_prev
            np.multiply(ds, dr_d, da_r_t)  # dr = ds h_prev, da_r = dr r (1 - r)
            dh *= z_t
            dh += da_rz_t.dot(W_hrz, scratch)
            dh += np.multiply(ds, r_t, ds)  # dh_next = dh z + da_rz W_hrz + ds r
    return da_x, da_n, dh


def before_buffers(e: np.ndarray, gates: np.ndarray, dtype) -> tuple:
    """Uninitialised workspace arrays for ``_backward_before`` from e (T, B, H) through the forward's gates
    (T, B, 3H), and the views its steps read and write (kept between calls: ``workspace.plan``): da_x (T, B, 3H)
    and its n rows da_n; local_derivatives' (3, steps in a block, B, H); and the blocks (t0, t1, steps), the last first, with per step
    from t1-1 down to t0 e_t, da_r_t, da_z_t, [da_r | da_z]_t, da_n_t, r_t, z_t and the three local factors."""
    T, B, H = e.shape
    da_x = workspace.empty((T, B, 3 * H), dtype)
    spans = reversed_blocks(T, da_x[0].nbytes)
    factors = workspace.empty((3, spans[0][1] - spans[0][0], B, H), dtype)
    da_r, da_z, da_n = split_gates(da_x)
    rows = (e, da_r, da_z, da_x[..., :2 * H], da_n, *split_gates(gates)[:2])
    blocks = [(t0, t1, list(zip(*(x[::-1] for x in (*(x[t0:t1] for x in rows), *factors[:, :t1 - t0])))))
              for t0, t1 in spans]
    return da_x, da_n, factors, blocks


def local_derivatives(gates: np.ndarray, h_prev: np.ndarray, x: np.ndarray, out: np.ndarray | None = None):
    """The backward step's factors that do not depend on dh, for any leading shape (..., H):

        da_n = dh * dn_dh,  dn_dh = (1 - z)(1 - n^2)
        da_z = dh * dz_dh,  dz_dh = (h_prev - n) z (1 - z)
        da_r = d * dr_d,    dr_d  = x r (1 - r),  with (d, x) = (da_n, q) under reset "after" and
                                                  (ds, h_prev) under "before"

    written into ``out`` (3, ..., H) when given. The reset "before" backward uses it; under "after",
    ``after_factors`` computes the same formulas (with x = q) fused into the layout its step multiplies.
    """
    r, z, n = split_gates(gates)
    dn_dh, dz_dh, dr_d = np.empty((3, *x.shape), np.result_type(gates, h_prev, x)) if out is None else out
    np.subtract(1, z, out=dn_dh)
    dn_dh *= np.subtract(1, np.square(n, out=dr_d), out=dr_d)  # (dr_d is scratch until its turn)
    np.subtract(h_prev, n, out=dz_dh)
    dz_dh *= z
    dz_dh *= np.subtract(1, z, out=dr_d)
    np.subtract(1, r, out=dr_d)
    dr_d *= r
    dr_d *= x
    return dn_dh, dz_dh, dr_d


def hidden_grads(cache: GRUCache, da_h: np.ndarray, da_n: np.ndarray, dh0: np.ndarray,
                 out: dict | None = None) -> dict[str, np.ndarray]:
    """Weight gradients of the recurrent layer from ``recurrence_backward``'s da_h and da_n, each a (T*B)-row
    GEMM (into ``out``'s arrays when it has them, as rnn.output_backward). The input side [da_r | da_z | da_n]
    is never assembled: its r, z rows are da_h's, so dW_x and db_x take them from there (at the large size a
    copy of da_h's r, z rows and a second pass over them, for b_x, took 1.6% of a float64 call)."""
    grads, h_prev, xs = ({} if out is None else out), cache.hs[:-1], cache.xs
    H = h_prev.shape[-1]
    dtype = np.result_type(da_h, xs, h_prev)
    for key, shape in (("W_x", (3 * H, xs.shape[-1])), ("W_h", (3 * H, H)), ("b_x", (3 * H,)), ("b_h", (3 * H,))):
        if key not in grads:
            grads[key] = np.empty(shape, dtype)
    dW_x, dW_h, db_x, db_h = grads["W_x"], grads["W_h"], grads["b_x"], grads["b_h"]
    time_sum(da_h, db_h)
    if cache.reset == "after":
        outer_sum(da_h[..., :2 * H], xs, out=dW_x[:2 * H])  # rows r, z: sum_t da^T x_t, shared with the hidden side
        outer_sum(da_n, xs, out=dW_x[2 * H:])  # rows n: sum_t da_n^T x_t
        outer_sum(da_h, h_prev, out=dW_h)  # sum_t [da_r | da_z | dq]^T h_{t-1}
        db_x[:2 * H] = db_h[:2 * H]
        time_sum(da_n, db_x[2 * H:])
    else:  # the two sides are one: da_h = [da_r | da_z | da_n]
        s = split_gates(cache.gates)[0] * h_prev  # s_t = r_t * h_{t-1}, the input of the W_hn rows
        outer_sum(da_h, xs, out=dW_x)
        outer_sum(da_h[..., :2 * H], h_prev, out=dW_h[:2 * H])  # rows r, z: sum_t da^T h_{t-1}
        outer_sum(da_n, s, out=dW_h[2 * H:])  # rows n: sum_t da_n^T s_t
        db_x[...] = db_h
    grads["h0"] = dh0
    return grads


def backward(params: dict, cache: GRUCache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
    """BPTT in the convention recorded in the cache: grads of every parameter and of h0."""
    grads = param_grads(params, PARAM_SHAPES, dlogits, cache.xs, cache.hs, cache.gates)  # fresh, one allocation
    grads, e = output_backward(params, cache, dlogits, grads)  # W_hy, b_y, and e_t = (p_t - y_t) W_hy
    da_h, da_n, dh0 = recurrence_backward(params, cache, e)
    return hidden_grads(cache, da_h, da_n, dh0, grads)  # the keys of PARAM_SHAPES, then h0


def loss_and_grads(params: dict, xs: np.ndarray, targets: np.ndarray, h0: np.ndarray, reduction: str = "sum",
                   *, reset: str = "after"):
    """Loss (0-d) and grads (dict with every parameter and h0) in one call."""
    check_reset(reset)
    _check(params, xs, targets, h0)
    with workspace.reusing((__name__, reset)):  # the cache and the temporaries never leave this call
        logits, cache = _forward(params, xs, h0, reset)
        loss, dlogits = cross_entropy_unchecked(logits, targets, reduction)
        return loss, backward(params, cache, dlogits)


def forward_mode_bias(params: dict, xs: np.ndarray, targets: np.ndarray, h0: np.ndarray, *,
                      reset: str = "after") -> dict[str, np.ndarray]:
    """{"b_x": dL/db_x, "b_h": dL/db_h} (3H,) each, by forward mode over beta = [b_x; b_h] (6H,).

    J_t = dh_t/dbeta (B, H, 6H), J_0 = 0; E_x = [I 0], E_h = [0 I] pick b_x, b_h out of beta:
        after:  A = E_h + W_h J_{t-1}  (d of h W_h^T + b_h);  [R; Z] = slopes * (E_x[:2H] + A[:2H])
                N = (1 - n^2) (E_x[2H:] + R q + r A[2H:]),   q = h_{t-1} W_hn^T + b_hn
        before: [R; Z] = slopes * (E_x[:2H] + E_h[:2H] + W_hrz J_{t-1});  S = R h_{t-1} + r J_{t-1}
                N = (1 - n^2) (E_x[2H:] + E_h[2H:] + W_hn S)
        J_t = (1 - z) N + (h_{t-1} - n) Z + z J_{t-1};    dL/dbeta = sum_t J_t^T e_t
    """
    check_reset(reset)
    _check(params, xs, targets, h0)
    logits, cache = forward(params, xs, h0, reset=reset)
    e = softmax_cross_entropy(logits, targets)[1] @ params["W_hy"]  # the explicit dL_t/dh_t (T, B, H)
    W_h, hs = params["W_h"], cache.hs
    B, H = hs.shape[1:]
    dtype = np.result_type(cache.gates, e)
    eye = np.eye(6 * H, dtype=dtype)
    E_x, E_h = eye[:3 * H], eye[3 * H:]  # (3H, 6H) each
    J = np.zeros((B, H, 6 * H), dtype)
    grad = np.zeros(6 * H, dtype)
    if reset == "after":
        q_all = linear(hs[:-1], W_h[2 * H:], params["b_h"][2 * H:])  # (T, B, H): h_{t-1} W_hn^T + b_hn
    for t in range(e.shape[0]):
        r, z, n = (x[..., None] for x in split_gates(cache.gates[t]))  # (B, H, 1) each
        h_prev = hs[t][..., None]
        rz = np.concatenate([r, z], axis=1)
        if reset == "after":
            A = E_h + W_h @ J  # (B, 3H, 6H)
            RZ = rz * (1 - rz) * (E_x[:2 * H] + A[:, :2 * H])
            N = (1 - n**2) * (E_x[2 * H:] + RZ[:, :H] * q_all[t][..., None] + r * A[:, 2 * H:])
        else:
            RZ = rz * (1 - rz) * (E_x[:2 * H] + E_h[:2 * H] + W_h[:2 * H] @ J)
            S = RZ[:, :H] * h_prev + r * J
            N = (1 - n**2) * (E_x[2 * H:] + E_h[2 * H:] + W_h[2 * H:] @ S)
        J = (1 - z) * N + (h_prev - n) * RZ[:, H:] + z * J
        grad += np.einsum("bkj,bk->j", J, e[t])  # J_t^T e_t, summed over the batch
    return {"b_x": grad[:3 * H], "b_h": grad[3 * H:]}


def convention(reset: str) -> ModuleType:
    """A module-like view of this file with ``reset`` bound: what the registry lists as a model.

    It has the contract's names (PARAM_SHAPES, STATE_NAMES, init, forward, backward, loss_and_grads,
    forward_mode_bias) with the signatures of rnn.py, plus RESET.
    """
    check_reset(reset)
    view = ModuleType(f"{__name__}[reset={reset}]", f"GRU, reset {reset} the matmul: {RESETS[reset]}")
    view.__dict__.update(
        PARAM_SHAPES=PARAM_SHAPES, STATE_NAMES=STATE_NAMES, RESET=reset, init=init, backward=backward,
        forward=partial(forward, reset=reset), loss_and_grads=partial(loss_and_grads, reset=reset),
        forward_mode_bias=partial(forward_mode_bias, reset=reset),
    )
    return view


RESET_AFTER = convention("after")  # registry "gru"
RESET_BEFORE = convention("before")  # registry "gru-cho"
