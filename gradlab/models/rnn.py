"""The vanilla (Elman) RNN with both biases, hand-written: forward, BPTT, and forward mode (RTRL).

Equations (time-major, batch rows; REFERENCE.md sections 1 and 7):

    z_t = x_t W_xh^T + h_{t-1} W_hh^T + b_h        (B, H)
    h_t = tanh(z_t)                                 (B, H)
    o_t = h_t W_hy^T + b_y                          (B, V)   the logits
    L   = sum_{t,b} -log softmax(o_t)[y_t]          summed, not averaged

Shapes: xs (T, B, D), targets (T, B) ints, h0 (B, H); W_xh (H, D), W_hh (H, H), W_hy (V, H),
b_h (H,), b_y (V,). Weights keep the math's (out, in) orientation, the same matrices as PyTorch's
``weight_ih_l0`` and ``weight_hh_l0`` (PyTorch's two biases b_ih + b_hh are our one b_h).

BPTT (the backward): with dy_t = p_t - y_t and e_t = dy_t W_hy, the explicit dL_t/dh_t,

    dh_t    = e_t + dh_next                         total gradient reaching h_t
    dz_t    = dh_t * (1 - h_t^2)                    tanh' from the OUTPUT h_t, not from z_t
    dh_next = dz_t W_hh                             (W_hh^T dz_t in column form)
    dW_xh = sum_t dz_t^T x_t,  dW_hh = sum_t dz_t^T h_{t-1},  db_h = sum_t dz_t,  dh0 = dh_next

Only the recurrence loops over t; the input projection, the output layer and every weight gradient
are single (T*B)-row GEMMs. Every function is dtype-generic (float32, float64, complex128).

Speed (benchmarks/README.md has the measurements): inside the time loops every array is preallocated
(and kept between calls with the per-step views the loops iterate: ``workspace.plan``)
and every step writes in place (``out=``, passed positionally: 0.3 us a call less than by keyword), so a
step is three NumPy calls and allocates nothing. The products are the method ``a.dot(b, out)``, which
skips np.dot's array-function dispatch (a Python-level step, 0.25 us a call). h W_hh^T multiplies by a
contiguous copy of W_hh^T made once per call when B > 1, by the view W_hh.T when B = 1 (``transposed``);
what does not depend on the recurrence (tanh' = 1 - h^2 for all t) is computed once, outside the loop.
The returned gradients are views of one fresh allocation (``param_grads``), written with ``out=``.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from gradlab.models import workspace
from gradlab.models._checks import check_sequence, check_state, infer_sizes, require_array
from gradlab.models.losses import cross_entropy_unchecked, ones, softmax_cross_entropy
from gradlab.models.sizes import Sizes, check_dtype, uniform

PARAM_SHAPES = {"W_xh": ("H", "D"), "W_hh": ("H", "H"), "W_hy": ("V", "H"), "b_h": ("H",), "b_y": ("V",)}
STATE_NAMES = ("h0",)
RTRL_MAX_ELEMENTS = 50_000_000  # B*H*H*(H+D) sensitivities: ~400 MB in float64


class RNNCache(NamedTuple):
    """What the backward needs, and no more: the inputs and every hidden state."""

    xs: np.ndarray  # (T, B, D)
    hs: np.ndarray  # (T+1, B, H); hs[0] = h0, hs[t] = h_t


def linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """x W^T (+ b) over every leading axis as ONE GEMM: (..., in) x (out, in) -> (..., out).

    (A 3-D ``x @ W.T`` would run one GEMM per leading index: T small products instead of one.)
    Into ``out`` (C-contiguous, (..., out)) when given; else the result is a temporary of the call:
    workspace memory inside ``workspace.reusing()``.
    """
    if out is None:
        dtype = np.result_type(x, W) if b is None else np.result_type(x, W, b)
        out = workspace.empty((*x.shape[:-1], W.shape[0]), dtype)
    elif not out.flags.c_contiguous:  # reshape would copy, and the product would never reach out
        raise ValueError(f"linear: expected a C-contiguous out, got strides {out.strides} for shape {out.shape}")
    y = out.reshape(-1, W.shape[0])  # a view: out is contiguous
    np.matmul(x.reshape(-1, x.shape[-1]), W.T, out=y)
    if b is not None:
        y += b
    return out


def transposed(W: np.ndarray, B: int, dtype) -> np.ndarray:
    """W^T (in, out) for the per-step products h_{t-1} W^T of a batch of B rows: the view W.T when B = 1, else
    a C-contiguous copy in ``dtype``. With B > 1 a step's product is a GEMM, which OpenBLAS's SkylakeX kernels
    (AVX-512 machines) run 1.1-1.65x faster on the copy (a plain NN product) than on the view, and its Haswell
    kernels within 7% either way; the copy costs about one step. With B = 1 it is a GEMV, where the copy did
    not pay for itself in the teaching size's 25 steps (the call ran 1-2% slower). benchmarks/README.md, ninth
    round. The copy is a temporary of the call (workspace memory inside ``workspace.reusing()``)."""
    if B == 1:
        return W.T
    out = workspace.empty(W.shape[::-1], dtype)
    np.copyto(out, W.T)
    return out


def tiled(row: np.ndarray, B: int, dtype) -> np.ndarray:
    """(n,) -> a (B, n) copy in ``dtype``: a per-column constant or bias with the shape of the loops' outputs,
    on which NumPy's ufuncs take their fast path (a broadcast row costs ~1 us more per call at B = 1, and
    1.5x at (64, 2048); benchmarks/README.md). (np.broadcast_to(...).astype(...) took 4.2 us, this 0.8.)"""
    out = np.empty((B, row.shape[-1]), dtype)
    out[...] = row
    return out


BLOCK_BYTES = 1 << 18  # per-step data a backward prepares ahead, per block of steps (about L2-sized)


def reversed_blocks(T: int, bytes_per_step: int) -> list[tuple[int, int]]:
    """[t0, t1) blocks that cover range(T), the last first, each holding about BLOCK_BYTES of per-step
    data (at least one step). A backward computes its local derivatives a block ahead: few NumPy calls
    when steps are small (a short sequence is one block), and still in cache when they are large."""
    steps = max(1, min(T, BLOCK_BYTES // max(1, bytes_per_step)))
    return [(max(0, t1 - steps), t1) for t1 in range(T, 0, -steps)]


def outer_sum(dy: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sum over (t, b) of dy^T x as ONE GEMM: (T, B, out), (T, B, in) -> (out, in), into ``out`` when given."""
    return np.matmul(dy.reshape(-1, dy.shape[-1]).T, x.reshape(-1, x.shape[-1]), out=out)


def time_sum(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sum over (t, b) of x (T, B, n) -> (n,), into ``out`` when given: a bias gradient, as ONE GEMV with a row of
    ones (~1 us at the teaching size, where x.sum(axis=(0, 1)) took ~2.2; BLAS sums in the order the weight
    gradients' GEMMs do)."""
    rows = x.reshape(-1, x.shape[-1])
    if out is not None and out.dtype != rows.dtype:  # BLAS runs in one dtype; NumPy's sum casts into out
        return np.add.reduce(rows, axis=0, out=out)
    return ones(rows.shape[0], rows.dtype).dot(rows, out)


def param_grads(params: dict, names, *arrays: np.ndarray) -> dict[str, np.ndarray]:
    """Fresh arrays for the gradients of ``params`` (keys in the order of ``names``, their shapes, the dtype
    of the computation with ``arrays``), in one allocation (``workspace.returned``); the backward writes
    them with ``out=``."""
    dtype = np.result_type(*params.values(), *arrays)
    return workspace.returned({k: params[k].shape for k in names}, dtype)


def init(sizes: Sizes, rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    """Parameters drawn U(-1/sqrt(H), 1/sqrt(H)), biases included, as PyTorch's nn.RNN does."""
    sizes = Sizes(*sizes).validate()
    dtype, bound = check_dtype(dtype), 1.0 / np.sqrt(sizes.H)
    dims = {"D": sizes.D, "H": sizes.H, "V": sizes.V}
    return {k: uniform(rng, tuple(dims[s] for s in shape), bound, dtype) for k, shape in PARAM_SHAPES.items()}


def _check(params, xs, targets, h0) -> dict[str, int]:
    sizes = infer_sizes(params, PARAM_SHAPES)
    T, B = check_sequence(xs, targets, D=sizes["D"], V=sizes["V"])
    check_state("h0", h0, B, sizes["H"])
    return {"T": T, "B": B, **sizes}


def forward(params: dict, xs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, RNNCache]:
    """Run the RNN over xs (T, B, D) from h0 (B, H); return logits (T, B, V) and the cache."""
    _check(params, xs, None, h0)
    return _forward(params, xs, h0)


def _forward(params: dict, xs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, RNNCache]:
    """forward, on arguments already checked."""
    dtype = np.result_type(xs, h0, *params.values())
    W_hh_T = transposed(params["W_hh"], h0.shape[0], dtype)  # (H, H)
    hs, scratch, steps = workspace.plan(forward_buffers, xs.shape[0], *h0.shape, dtype)
    hs[0] = h0
    linear(xs, params["W_xh"], params["b_h"], out=hs[1:])  # x_t W_xh^T + b_h for every t at once, where h_t goes
    for h_prev, z in steps:  # (h_{t-1}, where h_t goes)
        z += h_prev.dot(W_hh_T, scratch)  # z_t = x_t W_xh^T + b_h + h_{t-1} W_hh^T
        np.tanh(z, z)  # h_t = tanh(z_t), in place
    logits = linear(hs[1:], params["W_hy"], params["b_y"])  # (T, B, V)
    return logits, RNNCache(xs, hs)


def forward_buffers(T: int, B: int, H: int, dtype) -> tuple[np.ndarray, np.ndarray, list]:
    """hs (T+1, B, H) and a (B, H) scratch, uninitialised workspace arrays, and the steps' views (h_{t-1}, h_t) of
    hs (kept between calls: ``workspace.plan``)."""
    hs = workspace.empty((T + 1, B, H), dtype)
    return hs, workspace.empty((B, H), dtype), list(itertools.pairwise(hs))


def output_backward(params: dict, cache: RNNCache, dlogits: np.ndarray, out: dict | None = None) -> tuple[dict, np.ndarray]:
    """The output layer o_t = h_t W_hy^T + b_y: grads of W_hy, b_y, and e_t = dL_t/dh_t (T, B, H).

    The grads go into ``out``'s arrays "W_hy" and "b_y" when it has them (``param_grads``), and ``out`` is the
    dict returned; else into a new dict.
    """
    require_array("dlogits", dlogits, ndim=3, doc="(T, B, V)")
    expected = (cache.hs.shape[0] - 1, cache.hs.shape[1], params["W_hy"].shape[0])
    if dlogits.shape != expected:
        raise ValueError(f"dlogits: expected shape (T, B, V) = {expected}, got {dlogits.shape}")
    grads = {} if out is None else out
    grads["W_hy"] = outer_sum(dlogits, cache.hs[1:], out=grads.get("W_hy"))
    grads["b_y"] = time_sum(dlogits, grads.get("b_y"))
    e = workspace.plan(workspace.empty, cache.hs[1:].shape, np.result_type(dlogits, params["W_hy"]))  # kept: see plan
    return grads, linear(dlogits, params["W_hy"].T, out=e)  # e_t = (p_t - y_t) W_hy, one GEMM for every t


def recurrence_backward(W_hh: np.ndarray, hs: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BPTT through h_t = tanh(z_t): dz (T, B, H) for every step, and dL/dh0 (B, H)."""
    dz, steps = workspace.plan(backward_buffers, e, np.result_type(e, hs, W_hh))
    np.square(hs[1:], out=dz)
    np.subtract(1, dz, out=dz)  # tanh'(z_t) = 1 - h_t^2, for every t at once, where dz_t goes
    dh = np.zeros(dz.shape[1:], dz.dtype)  # dL/dh_t; it starts as dh_next = 0 after the last step (returned)
    for e_t, dz_t in steps:  # t = T-1, ..., 0
        dh += e_t  # the direct term plus everything that flowed back from h_{t+1}
        np.multiply(dh, dz_t, dz_t)  # dz_t = dh_t * (1 - h_t^2), in place
        dz_t.dot(W_hh, dh)  # dh_next = dL/dh_{t-1} through z_t = ... + h_{t-1} W_hh^T
    return dz, dh


def backward_buffers(e: np.ndarray, dtype) -> tuple[np.ndarray, list]:
    """dz (T, B, H), an uninitialised workspace array, and the steps' views (e_t, dz_t) for t = T-1, ..., 0
    (kept between calls: ``workspace.plan``)."""
    dz = workspace.empty(e.shape, dtype)
    return dz, list(zip(e[::-1], dz[::-1]))


def hidden_grads(cache: RNNCache, dz: np.ndarray, dh0: np.ndarray, out: dict | None = None) -> dict[str, np.ndarray]:
    """Weight gradients of the recurrent layer from dz, each one (T*B)-row GEMM (into ``out`` as in
    ``output_backward``)."""
    grads = {} if out is None else out
    grads["W_xh"] = outer_sum(dz, cache.xs, out=grads.get("W_xh"))  # sum_t dz_t^T x_t
    grads["W_hh"] = outer_sum(dz, cache.hs[:-1], out=grads.get("W_hh"))  # sum_t dz_t^T h_{t-1}
    grads["b_h"] = time_sum(dz, grads.get("b_h"))
    grads["h0"] = dh0
    return grads


def backward(params: dict, cache: RNNCache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
    """BPTT: grads of every parameter and of h0, from dlogits (T, B, V)."""
    grads, e = output_backward(params, cache, dlogits, param_grads(params, PARAM_SHAPES, dlogits, cache.xs, cache.hs))
    dz, dh0 = recurrence_backward(params["W_hh"], cache.hs, e)
    return hidden_grads(cache, dz, dh0, grads)  # the keys of PARAM_SHAPES, then h0


def loss_and_grads(params: dict, xs: np.ndarray, targets: np.ndarray, h0: np.ndarray, reduction: str = "sum"):
    """Loss (0-d) and grads (dict with every parameter and h0) in one call."""
    _check(params, xs, targets, h0)
    with workspace.reusing(__name__):  # the cache and the temporaries never leave this call
        logits, cache = _forward(params, xs, h0)
        loss, dlogits = cross_entropy_unchecked(logits, targets, reduction)
        return loss, backward(params, cache, dlogits)


def _explicit_dh(params, xs, targets, h0) -> tuple[RNNCache, np.ndarray]:
    """Forward pass, then e_t = W_hy^T (p_t - y_t): the per-step gradient, NOT BPTT's total dh_t."""
    _check(params, xs, targets, h0)
    logits, cache = forward(params, xs, h0)
    _, dlogits = softmax_cross_entropy(logits, targets)
    return cache, dlogits @ params["W_hy"]


def forward_mode_bias(params: dict, xs: np.ndarray, targets: np.ndarray, h0: np.ndarray) -> dict[str, np.ndarray]:
    """{"b_h": dL/db_h (H,)} by the forward-mode recursion, run forward in time alongside the RNN:

        J_t = dh_t/db_h = diag(1 - h_t^2) (I + W_hh J_{t-1}),  J_0 = 0      per batch row: (B, H, H)
        dL/db_h = sum_t J_t^T e_t,   e_t = W_hy^T (p_t - y_t)
    """
    cache, e = _explicit_dh(params, xs, targets, h0)
    hs, W_hh = cache.hs, params["W_hh"]
    B, H = hs.shape[1:]
    eye = np.eye(H, dtype=hs.dtype)
    J = np.zeros((B, H, H), dtype=hs.dtype)
    g = np.zeros(H, dtype=np.result_type(hs, e))
    for t in range(e.shape[0]):
        J = (1 - hs[t + 1] ** 2)[:, :, None] * (eye + W_hh @ J)
        g += np.einsum("bkj,bk->j", J, e[t])  # J_t^T e_t, summed over the batch
    return {"b_h": g}


def rtrl(params: dict, xs: np.ndarray, targets: np.ndarray, h0: np.ndarray) -> dict[str, np.ndarray]:
    """Full real-time recurrent learning: dL/dW_xh, dL/dW_hh, dL/db_h and dL/dh0 by forward mode.

    Sensitivities per batch row, carried forward in time (REFERENCE.md section 7):
        M_t[k,i,j] = dh_t[k]/dW_hh[i,j] = (1 - h_t[k]^2) (delta_ki h_{t-1}[j] + sum_l W_hh[k,l] M_{t-1}[l,i,j])
        N_t[k,i,j] = dh_t[k]/dW_xh[i,j]: the same with x_t[j] in place of h_{t-1}[j]
        J_t = dh_t/db_h as in forward_mode_bias;  K_t = dh_t/dh0 = diag(1 - h_t^2) W_hh K_{t-1},  K_0 = I
    Costs O(B H^4) time per step and O(B H^3) memory, against BPTT's O(B H^2) and O(T B H).
    """
    cache, e = _explicit_dh(params, xs, targets, h0)
    hs, xs_, W_hh = cache.hs, cache.xs, params["W_hh"]
    B, H = hs.shape[1:]
    D = xs_.shape[-1]
    if B * H * H * (H + D) > RTRL_MAX_ELEMENTS:
        raise ValueError(
            f"rtrl: expected B*H*H*(H+D) <= {RTRL_MAX_ELEMENTS} sensitivities, got {B * H * H * (H + D)} "
            f"(B={B}, H={H}, D={D}); use backward() for large sizes"
        )
    dtype = np.result_type(hs, e)
    eye = np.eye(H, dtype=dtype)
    M = np.zeros((B, H, H, H), dtype)  # dh/dW_hh
    N = np.zeros((B, H, H, D), dtype)  # dh/dW_xh
    J = np.zeros((B, H, H), dtype)  # dh/db_h
    K = np.broadcast_to(eye, (B, H, H)).copy()  # dh/dh0 (h_0 = h0)
    grads = {k: np.zeros(shape, dtype) for k, shape in
             {"W_xh": (H, D), "W_hh": (H, H), "b_h": (H,), "h0": (B, H)}.items()}
    for t in range(e.shape[0]):
        d = (1 - hs[t + 1] ** 2)[:, :, None]  # (B, H, 1)
        M = d[..., None] * (np.einsum("kl,blij->bkij", W_hh, M) + np.einsum("ki,bj->bkij", eye, hs[t]))
        N = d[..., None] * (np.einsum("kl,blij->bkij", W_hh, N) + np.einsum("ki,bj->bkij", eye, xs_[t]))
        J = d * (eye + W_hh @ J)
        K = d * (W_hh @ K)
        grads["W_hh"] += np.einsum("bkij,bk->ij", M, e[t])
        grads["W_xh"] += np.einsum("bkij,bk->ij", N, e[t])
        grads["b_h"] += np.einsum("bkj,bk->j", J, e[t])
        grads["h0"] += np.einsum("bkj,bk->bj", K, e[t])  # per batch row: K_t^T e_t
    return grads
