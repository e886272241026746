"""The LSTM in PyTorch's convention, hand-written: forward, BPTT through h and c, forward mode for b.

Equations (time-major, batch rows; REFERENCE.md section 2). The gates are stacked in PyTorch's row
order i, f, g, o, so W_x = [W_xi; W_xf; W_xg; W_xo] and so on:

    a_t = x_t W_x^T + h_{t-1} W_h^T + b        (B, 4H) = [a_i | a_f | a_g | a_o]
    i_t = sigma(a_i),  f_t = sigma(a_f),  g_t = tanh(a_g),  o_t = sigma(a_o)      (B, H) each
    c_t = f_t * c_{t-1} + i_t * g_t            (B, H)
    h_t = o_t * tanh(c_t)                      (B, H)
    s_t = h_t W_hy^T + b_y                     (B, V)   the logits
    L   = sum_{t,b} -log softmax(s_t)[y_t]     summed, not averaged

Shapes: xs (T, B, D), targets (T, B) ints, h0 and c0 (B, H); W_x (4H, D), W_h (4H, H), b (4H,),
W_hy (V, H), b_y (V,). W_x and W_h are PyTorch's ``weight_ih_l0`` and ``weight_hh_l0``; PyTorch's two
biases b_ih + b_hh are our one b (each of them gets exactly db). No peepholes, no projection.
The initial state is h0 alone (then c0 = 0) or the pair (h0, c0), carried in that order (h, c).

BPTT (the backward), with e_t = (p_t - y_t) W_hy the explicit dL_t/dh_t:

    dh   = e_t + dh_next
    do   = dh * tanh(c_t)                                      h_t = o_t * tanh(c_t)
    dc   = dc_next + dh * o_t * (1 - tanh(c_t)^2)              the cell also flows straight back
    di, df, dg = dc * g_t, dc * c_{t-1}, dc * i_t              c_t = f_t * c_{t-1} + i_t * g_t
    da   = [di, df, dg, do] * [i(1-i), f(1-f), 1-g^2, o(1-o)]  the gates' slopes from their OUTPUTS
    dh_next = da W_h,  dc_next = dc * f_t
    dW_x = sum_t da_t^T x_t,  dW_h = sum_t da_t^T h_{t-1},  db = sum_t da_t,  dh0, dc0 = the last carries

Only the recurrence loops over t; the input projection, the output layer and every weight gradient
are single (T*B)-row GEMMs. Every function is dtype-generic (float32, float64, complex128).

Speed (benchmarks/README.md has the measurements): the time loops write into preallocated arrays in
place and allocate nothing, not even their per-step views: the arrays and the lists of views the loops
iterate are kept between calls (``forward_buffers``, ``backward_buffers``, ``workspace.plan``). The
forward activates all four gates with ONE exp over 4H columns:
sigma(a) = 1/(1 + exp(-a)) and tanh(a) = 2 sigma(2a) - 1, so [i | f | g | o] = mult / (1 + exp(a * scale))
+ shift with the per-column constants of ``gate_constants`` (NumPy's float64 exp costs half its tanh).
It keeps sigma's relative accuracy deep in saturation, and an exp overflow (a below -709 for i, f, o and
-354 for g in float64; -88 and -44 in float32) gives sigma = 0 and g = -1 without a warning; in complex128
such an a gives nan (the complex step needs pre-activations above -354). ``activate``, the reference, uses the tanh forms. The backward's
loop is ``cell_backward`` in place, with the factors that do not depend on dh or dc
(``local_derivatives``) computed a block of steps ahead, where that block's da goes; the forward's input
projection is written where the gates go. Fewer buffers keep a small model's call in L2 (benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
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
)
from gradlab.models.sizes import Sizes, check_dtype, uniform

PARAM_SHAPES = {"W_x": ("4H", "D"), "W_h": ("4H", "H"), "b": ("4H",), "W_hy": ("V", "H"), "b_y": ("V",)}
STATE_NAMES = ("h0", "c0")
GATES = ("i", "f", "g", "o")  # PyTorch's row order of the stacked gates


class LSTMCache(NamedTuple):
    """What the backward needs: the inputs, every state, and the gates after their nonlinearities."""

    xs: np.ndarray  # (T, B, D)
    hs: np.ndarray  # (T+1, B, H); hs[0] = h0
    cs: np.ndarray  # (T+1, B, H); cs[0] = c0
    gates: np.ndarray  # (T, B, 4H) = [i | f | g | o], activated
    tanh_cs: np.ndarray  # (T, B, H) = tanh(c_t), kept so that the backward evaluates no tanh


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sigma(a) = 1/(1 + exp(-a)) = (1 + tanh(a/2))/2: holomorphic, and no overflow at large |a|.

    Into ``out`` when given (``out`` may be ``a`` itself): four in-place NumPy calls, the same numbers.
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def split_gates(gates: np.ndarray) -> tuple[np.ndarray, ...]:
    """(..., 4H) -> the four (..., H) blocks i, f, g, o (views)."""
    H = gates.shape[-1] // 4
    return tuple(gates[..., k * H:(k + 1) * H] for k in range(4))


def activate(a: np.ndarray) -> np.ndarray:
    """[a_i | a_f | a_g | a_o] (..., 4H) -> [sigma(a_i) | sigma(a_f) | tanh(a_g) | sigma(a_o)]."""
    a_i, a_f, a_g, a_o = split_gates(a)
    return np.concatenate([sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)], axis=-1)


class GateConstants(NamedTuple):
    """Per-column constants (4H,) that treat the four gates in one NumPy call each (read-only)."""

    scale: np.ndarray  # [-1 | -1 | -2 | -1]: activate(a) = mult / (1 + exp(a * scale)) + shift,
    mult: np.ndarray  # [1 | 1 | 2 | 1]        as sigma(a) = 1/(1 + exp(-a)) and
    shift: np.ndarray  # [0 | 0 | -1 | 0]      tanh(a) = 2 sigma(2a) - 1
    is_sigmoid: np.ndarray  # [1 | 1 | 0 | 1]: gate_slopes = gates * (is_sigmoid - gates) + is_tanh
    is_tanh: np.ndarray  # [0 | 0 | 1 | 0]


@lru_cache(maxsize=64)
def gate_constants(H: int, dtype) -> GateConstants:
    is_tanh = np.zeros(4 * H, dtype)
    is_tanh[2 * H:3 * H] = 1  # the g block
    constants = GateConstants(-1 - is_tanh, 1 + is_tanh, -is_tanh, 1 - is_tanh, is_tanh)
    for c in constants:
        c.setflags(write=False)
    return constants


def gate_slopes(gates: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """d gates / d a from the activated gates: [i(1-i) | f(1-f) | 1-g^2 | o(1-o)] (..., 4H).

    Computed as gates * (is_sigmoid - gates) + is_tanh: the same numbers in three NumPy calls over all
    four gates, written into ``out`` when given.
    """
    k = gate_constants(gates.shape[-1] // 4, gates.dtype)
    out = np.subtract(k.is_sigmoid, gates, out=out)
    out *= gates
    out += k.is_tanh
    return out


def scaled_transpose(W: np.ndarray, scale: np.ndarray, B: int, dtype) -> np.ndarray:
    """W^T * scale (in, out) in ``dtype`` for the per-step products of a batch of B rows; the per-column ``scale``
    (out,) holds one exact factor per gate block (the gates' -1 and -2). When B > 1, a C-contiguous copy, as
    ``rnn.transposed`` makes; when B = 1, the view .T of a copy of W with its rows scaled, one call over the
    four (H, H) blocks as four long rows: 5.8 / 9.5 us (float32 / float64) at the teaching size, where the
    transposing copy takes 21 / 31 and the GEMV on the view costs 0.36 / 0.64 us a step more
    (benchmarks/README.md, tenth round). A temporary of the call (workspace memory inside ``workspace.reusing()``)."""
    if B == 1:
        blocks = scale.shape[0] // W.shape[1]  # W: (blocks * H, H); one factor per block of H rows
        out = workspace.empty(W.shape, dtype)
        np.multiply(W.reshape(blocks, -1), scale[::W.shape[1], None], out=out.reshape(blocks, -1))
        return out.T
    return np.multiply(W.T, scale, out=workspace.empty(W.shape[::-1], dtype))


def init(sizes: Sizes, rng: np.random.Generator, dtype=np.float64, forget_bias: float | None = None) -> dict:
    """Parameters drawn U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's nn.LSTM does.

    ``forget_bias``: None keeps the f block of b uniform like the rest (PyTorch); a number sets every
    entry of that block to it (forget_bias=1.0 is Keras's unit_forget_bias, Jozefowicz et al. 2015).
    """
    sizes = Sizes(*sizes).validate()
    dtype, bound = check_dtype(dtype), 1.0 / np.sqrt(sizes.H)
    dims = {"D": sizes.D, "H": sizes.H, "V": sizes.V, "4H": 4 * sizes.H}
    params = {k: uniform(rng, tuple(dims[s] for s in shape), bound, dtype) for k, shape in PARAM_SHAPES.items()}
    if forget_bias is not None:
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.integer, np.floating)):
            raise TypeError(f"forget_bias: expected None or a real number such as 1.0, got {forget_bias!r}")
        split_gates(params["b"])[1][...] = forget_bias  # b = [b_i | b_f | b_g | b_o]
    return params


def split_state(state) -> tuple[np.ndarray, np.ndarray | None]:
    """The initial-state argument -> (h0, c0); c0 is None when only h0 was given."""
    if isinstance(state, (tuple, list)):
        if len(state) != 2:
            raise ValueError(f"state: expected h0 or the pair (h0, c0), got a sequence of length {len(state)}")
        return state[0], state[1]
    return state, None


def _check(params, xs, targets, state) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Validate everything; return the sizes and (h0, c0) with c0 = 0 filled in when absent."""
    sizes = infer_sizes(params, PARAM_SHAPES)
    T, B = check_sequence(xs, targets, D=sizes["D"], V=sizes["V"])
    h0, c0 = split_state(state)
    check_state("h0", h0, B, sizes["H"])
    if c0 is None:
        c0 = np.zeros_like(h0)
    check_state("c0", c0, B, sizes["H"])
    return {"T": T, "B": B, **sizes}, h0, c0


def forward(params: dict, xs: np.ndarray, state) -> tuple[np.ndarray, LSTMCache]:
    """Run the LSTM over xs (T, B, D) from h0 or (h0, c0), each (B, H); return logits (T, B, V), cache."""
    _, h0, c0 = _check(params, xs, None, state)
    return _forward(params, xs, h0, c0)


def _forward(params: dict, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, LSTMCache]:
    """forward, on arguments already checked."""
    (T, B), H = xs.shape[:2], h0.shape[1]
    dtype = np.result_type(xs, h0, c0, *params.values())
    k = gate_constants(H, dtype)
    # activate(a) = mult / (1 + exp(a * scale)) + shift; a * scale is taken in the weights and the input
    # projection, once: scaling by -1 or -2 is exact, so (h W^T) * scale == h (W^T * scale) bit for bit
    W_h_T_scaled = scaled_transpose(params["W_h"], k.scale, B, dtype)  # (H, 4H)
    hs, cs, gates, tanh_cs, ig, h_W, mult, shift, one, steps = workspace.plan(forward_buffers, T, B, H, dtype)
    linear(xs, params["W_x"], params["b"], out=gates)  # x_t W_x^T + b for every t at once, where the gates go
    gates *= k.scale
    hs[0], cs[0] = h0, c0
    with np.errstate(over="ignore"):  # exp(x) = inf where x >> 0 gives sigma = 0 and g = -1, as it should
        for h_prev, h, c_prev, c, a, tanh_c, i, f, g, o in steps:
            a += h_prev.dot(W_h_T_scaled, h_W)  # a_t * scale, a_t = x_t W_x^T + b + h_{t-1} W_h^T
            np.exp(a, a)
            a += one
            np.divide(mult, a, a)
            a += shift  # [i | f | g | o] = activate(a_t), in place
            np.multiply(f, c_prev, c)
            c += np.multiply(i, g, ig)  # c_t = f * c_{t-1} + i * g
            np.multiply(o, np.tanh(c, tanh_c), h)  # h_t = o * tanh(c_t)
    logits = linear(hs[1:], params["W_hy"], params["b_y"])  # (T, B, V)
    return logits, LSTMCache(xs, hs, cs, gates, tanh_cs)


class ForwardBuffers(NamedTuple):
    """The forward's arrays, and the views its steps write through (kept between calls: ``workspace.plan``)."""

    hs: np.ndarray  # (T+1, B, H)
    cs: np.ndarray  # (T+1, B, H)
    gates: np.ndarray  # (T, B, 4H)
    tanh_cs: np.ndarray  # (T, B, H)
    ig: np.ndarray  # (B, H) scratch: i * g
    h_W: np.ndarray  # (B, 4H) scratch: h W^T
    # (B, 4H) copies of the per-column constants and a 0-d one: NumPy runs a ufunc faster on operands of
    # the output's shape than on a broadcast row or a Python scalar (~1 us a call at B = 1)
    mult: np.ndarray
    shift: np.ndarray
    one: np.ndarray
    steps: list  # per t: h_{t-1}, h_t, c_{t-1}, c_t, gates_t, tanh(c_t), i_t, f_t, g_t, o_t


def forward_buffers(T: int, B: int, H: int, dtype) -> ForwardBuffers:
    """Uninitialised arrays for a forward of T steps, B rows, H units (workspace memory), and their steps."""
    k = gate_constants(H, dtype)
    hs, cs = workspace.empty((T + 1, B, H), dtype), workspace.empty((T + 1, B, H), dtype)
    gates, tanh_cs = workspace.empty((T, B, 4 * H), dtype), workspace.empty((T, B, H), dtype)
    steps = list(zip(hs[:-1], hs[1:], cs[:-1], cs[1:], gates, tanh_cs, *split_gates(gates)))
    return ForwardBuffers(hs, cs, gates, tanh_cs, workspace.empty((B, H), dtype), workspace.empty((B, 4 * H), dtype),
                          tiled(k.mult, B, dtype), tiled(k.shift, B, dtype), np.array(1, dtype), steps)


def cell_backward(dh: np.ndarray, dc_next: np.ndarray, gates: np.ndarray, c_prev: np.ndarray,
                  tanh_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of BPTT: the total dL/dh_t and dL/dc_t from step t+1 (B, H) -> da_t (B, 4H), dL/dc_{t-1}."""
    i, f, g, o = split_gates(gates)
    do = dh * tanh_c  # h = o * tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)  # ... and through tanh(c); plus what reached c_t from c_{t+1}
    di, df, dg = dc * g, dc * c_prev, dc * i  # c = f * c_prev + i * g
    da = np.concatenate([di, df, dg, do], axis=-1) * gate_slopes(gates)  # through the gates' nonlinearities
    return da, dc * f  # dc_prev: c_t depends on c_{t-1} through f


Step = Callable[..., tuple[np.ndarray, np.ndarray]]


def recurrence_backward(W_h: np.ndarray, cache: LSTMCache, e: np.ndarray, step: Step = cell_backward):
    """BPTT through h and c: da (T, B, 4H) for every step, dL/dh0 and dL/dc0 (B, H).

    ``step`` is the one-step backward; mistakes and tests plant a mutated one here, and it is called
    once per step as written. The default, ``cell_backward``, runs as the equivalent in-place loop below.
    """
    if step is not cell_backward:
        return _recurrence_backward_with(step, W_h, cache, e)
    B, H = e.shape[1:]
    da, scratch, dc_dh, blocks = workspace.plan(backward_buffers, e, cache.gates, np.result_type(e, cache.gates, W_h))
    dh, dc = np.zeros((B, H), da.dtype), np.zeros((B, H), da.dtype)  # dh_next and dc_next after step T (returned)
    dc_3 = dc[:, None]  # dc per gate row
    for t0, t1, steps in blocks:  # each block's local derivatives go where its da goes, and are multiplied in place
        local_derivatives(cache.gates[t0:t1], cache.cs[t0:t1], cache.tanh_cs[t0:t1], da[t0:t1], dc_dh[:t1 - t0])
        for e_t, dc_dh_t, da_t, da_ifg, da_o, f_t in steps:  # t = t1-1 .. t0
            dh += e_t  # dh_t = e_t + dh_next
            dc += np.multiply(dh, dc_dh_t, scratch)  # dc_t = dc_next + dh_t * o (1 - tanh(c_t)^2)
            np.multiply(dc_3, da_ifg, da_ifg)  # [da_i, da_f, da_g] = dc * local[:3]
            np.multiply(dh, da_o, da_o)  # da_o = dh * local[3]
            dc *= f_t  # dc_next for step t-1: c_t depends on c_{t-1} through f
            da_t.dot(W_h, dh)  # dh_next = dL/dh_{t-1} through a_t = ... + h_{t-1} W_h^T
    return da, dh, dc


class BackwardBuffers(NamedTuple):
    """The backward's arrays, and the views its steps write through (kept between calls: ``workspace.plan``)."""

    da: np.ndarray  # (T, B, 4H)
    scratch: np.ndarray  # (B, H)
    dc_dh: np.ndarray  # (steps in a block, B, H): one block's local derivative of c through h
    blocks: list  # (t0, t1, steps) from the last block to the first; steps from t1-1 down to t0 of
    #               e_t, dc_dh_t, da_t, [da_i | da_f | da_g] (B, 3, H), da_o, f_t


def backward_buffers(e: np.ndarray, gates: np.ndarray, dtype) -> BackwardBuffers:
    """Uninitialised arrays for a backward from e (T, B, H) through the forward's gates (T, B, 4H), and their
    steps' views of e, of the gate f and of themselves."""
    T, B, H = e.shape
    da = workspace.empty((T, B, 4 * H), dtype)
    da4, f = da.reshape(T, B, 4, H), split_gates(gates)[1]
    spans = reversed_blocks(T, da[0].nbytes)
    dc_dh = workspace.empty((spans[0][1] - spans[0][0], B, H), dtype)
    blocks = []
    for t0, t1 in spans:
        block = (e[t0:t1], dc_dh[:t1 - t0], da[t0:t1], da4[t0:t1, :, :3], da4[t0:t1, :, 3], f[t0:t1])
        blocks.append((t0, t1, list(zip(*(x[::-1] for x in block)))))
    return BackwardBuffers(da, workspace.empty((B, H), dtype), dc_dh, blocks)


def local_derivatives(gates: np.ndarray, c_prev: np.ndarray, tanh_c: np.ndarray, local: np.ndarray | None = None,
                      dc_dh: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """cell_backward's factors that do not depend on dh or dc, for any leading shape (..., H):

        da = [dc, dc, dc, dh] * local,  local = [g, c_prev, i, tanh(c)] * gate_slopes(gates)   (..., 4H)
        dc = dc_next + dh * dc_dh,      dc_dh = o * (1 - tanh(c)^2)                            (..., H)

    written into ``local`` and ``dc_dh`` when given.
    """
    i, _, g, o = split_gates(gates)
    local = gate_slopes(gates, out=local)
    l_i, l_f, l_g, l_o = split_gates(local)
    l_i *= g  # di = dc * g
    l_f *= c_prev  # df = dc * c_prev
    l_g *= i  # dg = dc * i
    l_o *= tanh_c  # do = dh * tanh(c)
    dc_dh = np.square(tanh_c, out=dc_dh)
    np.subtract(1, dc_dh, out=dc_dh)
    dc_dh *= o
    return local, dc_dh


def _recurrence_backward_with(step: Step, W_h: np.ndarray, cache: LSTMCache, e: np.ndarray):
    """recurrence_backward with ``step`` called once per time step."""
    da = np.empty((*e.shape[:2], W_h.shape[0]), dtype=np.result_type(e, cache.gates, W_h))
    dh_next, dc_next = np.zeros_like(da[0, :, :e.shape[2]]), np.zeros_like(da[0, :, :e.shape[2]])
    for t in reversed(range(e.shape[0])):
        dh = e[t] + dh_next  # the direct term plus everything that flows back from h_{t+1}
        da[t], dc_next = step(dh, dc_next, cache.gates[t], cache.cs[t], cache.tanh_cs[t])
        dh_next = da[t] @ W_h  # dL/dh_{t-1} through a_t = ... + h_{t-1} W_h^T
    return da, dh_next, dc_next


def hidden_grads(cache: LSTMCache, da: np.ndarray, dh0: np.ndarray, dc0: np.ndarray,
                 out: dict | None = None) -> dict[str, np.ndarray]:
    """Weight gradients of the recurrent layer from da, each one (T*B)-row GEMM (into ``out``'s arrays
    when it has them, as rnn.output_backward)."""
    grads = {} if out is None else out
    grads["W_x"] = outer_sum(da, cache.xs, out=grads.get("W_x"))  # sum_t da_t^T x_t
    grads["W_h"] = outer_sum(da, cache.hs[:-1], out=grads.get("W_h"))  # sum_t da_t^T h_{t-1}
    grads["b"] = time_sum(da, grads.get("b"))
    grads["h0"], grads["c0"] = dh0, dc0
    return grads


def backward(params: dict, cache: LSTMCache, dlogits: np.ndarray, step: Step = cell_backward) -> dict:
    """BPTT: grads of every parameter and of h0 and c0, from dlogits (T, B, V)."""
    grads = param_grads(params, PARAM_SHAPES, dlogits, cache.xs, cache.hs, cache.gates)  # fresh, one allocation
    grads, e = output_backward(params, cache, dlogits, grads)  # W_hy, b_y, and e_t = (p_t - y_t) W_hy
    da, dh0, dc0 = recurrence_backward(params["W_h"], cache, e, step)
    return hidden_grads(cache, da, dh0, dc0, grads)  # the keys of PARAM_SHAPES, then h0, c0


def loss_and_grads(params: dict, xs: np.ndarray, targets: np.ndarray, state, reduction: str = "sum"):
    """Loss (0-d) and grads (dict with every parameter, h0 and c0) in one call."""
    _, h0, c0 = _check(params, xs, targets, state)
    with workspace.reusing(__name__):  # the cache and the temporaries never leave this call
        logits, cache = _forward(params, xs, h0, c0)
        loss, dlogits = cross_entropy_unchecked(logits, targets, reduction)
        return loss, backward(params, cache, dlogits)


def forward_mode_bias(params: dict, xs: np.ndarray, targets: np.ndarray, state) -> dict[str, np.ndarray]:
    """{"b": dL/db (4H,)} by forward mode: sensitivities carried forward in time, per batch row.

        A_t   = da_t/db = I + W_h J^h_{t-1}                            (B, 4H, 4H)
        [I_t; F_t; G_t; O_t] = slopes(a_t) * A_t                       d gate/db, each (B, H, 4H)
        J^c_t = F_t c_{t-1} + f_t J^c_{t-1} + I_t g_t + i_t G_t        dc_t/db,  J^c_0 = 0
        J^h_t = O_t tanh(c_t) + o_t (1 - tanh(c_t)^2) J^c_t            dh_t/db,  J^h_0 = 0
        dL/db = sum_t (J^h_t)^T e_t,   e_t = W_hy^T (p_t - y_t), the explicit (not total) dL_t/dh_t
    """
    _check(params, xs, targets, state)
    logits, cache = forward(params, xs, state)
    e = softmax_cross_entropy(logits, targets)[1] @ params["W_hy"]  # (T, B, H)
    W_h = params["W_h"]
    B, H = cache.hs.shape[1:]
    dtype = np.result_type(cache.gates, e)
    eye = np.eye(4 * H, dtype=dtype)
    J_h, J_c = np.zeros((B, H, 4 * H), dtype), np.zeros((B, H, 4 * H), dtype)
    grad = np.zeros(4 * H, dtype)
    for t in range(e.shape[0]):
        i, f, g, o = (x[..., None] for x in split_gates(cache.gates[t]))  # (B, H, 1) each
        c_prev, tanh_c = cache.cs[t][..., None], cache.tanh_cs[t][..., None]
        A = gate_slopes(cache.gates[t])[..., None] * (eye + W_h @ J_h)  # d gates_t/db (B, 4H, 4H)
        dI, dF, dG, dO = (A[:, k * H:(k + 1) * H] for k in range(4))  # row blocks, (B, H, 4H) each
        J_c = dF * c_prev + f * J_c + dI * g + i * dG
        J_h = dO * tanh_c + o * (1 - tanh_c**2) * J_c
        grad += np.einsum("bkj,bk->j", J_h, e[t])  # (J^h_t)^T e_t, summed over the batch
    return {"b": grad}
