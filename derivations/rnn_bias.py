"""The RNN hidden-bias gradient three ways: BPTT, forward mode (RTRL), direct differentiation.

The RNN, unrolled for T = 1..3 steps from a symbolic h_0 (column vectors, H hidden, D in, V out):

    z_t = W_xh x_t + W_hh h_{t-1} + b_h      (H, 1)
    h_t = phi(z_t)                            phi generic (phi' a generic function too), or tanh
    o_t = W_hy h_t + b_y                      (V, 1)
    L   = sum_t L_t(o_t)                      L_t a generic differentiable per-step loss

and e_t = dL_t/dh_t = W_hy^T grad L_t(o_t), the EXPLICIT per-step gradient (softmax-CE gives
W_hy^T (p_t - y_t), proved in output_layer.py). Every weight, bias, input and h_0 is a free symbol.
Proved equal, for (D, H, V) = (1, 1, 1) and (2, 2, 2), phi generic and tanh (phi' = 1 - h_t^2):

    BPTT   dz_t = phi'(z_t) * (e_t + W_hh^T dz_{t+1}),  dz_{T+1} = 0,   dL/db_h = sum_t dz_t
    RTRL   J_t = diag(phi'(z_t)) (I + W_hh J_{t-1}),    J_0 = 0,        dL/db_h = sum_t J_t^T e_t
    direct dL/db_h by SymPy's chain rule through the whole unrolled graph

Run: python derivations/rnn_bias.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy

from derivations import script_main
from derivations._sym import Case, Result, activation, loss_function, matrix, prove_cases, show_wrong, vector

SCRIPT = "rnn_bias"
TITLE = "RNN hidden-bias gradient: BPTT = forward mode (RTRL) = direct differentiation"
SIZES = ((1, 1, 1), (2, 2, 2))  # (D, H, V)
STEPS = (1, 2, 3)
CELLS = ("phi", "tanh")
CHECKED = (f"phi generic and tanh; (D, H, V) = {', '.join(map(str, SIZES))}; T = {', '.join(map(str, STEPS))}"
           f" ({len(CELLS) * len(SIZES) * len(STEPS)} cases)")


@dataclass(frozen=True)
class Unrolled:
    """An RNN unrolled over T steps: what each derivation needs, lists indexed by t - 1."""

    W_hh: sympy.Matrix  # (H, H)
    b_h: sympy.Matrix  # (H, 1)
    dphi: list  # phi'(z_t), (H, 1) each; for tanh written 1 - h_t^2 from the OUTPUT h_t
    es: list  # e_t = dL_t/dh_t, (H, 1) each
    L: sympy.Expr  # sum_t L_t(o_t)
    names: list  # display abbreviations: {z_t expression: z_t symbol}, ..., {o_t expression: o_t}


def unroll(D: int, H: int, V: int, T: int, cell: str = "phi") -> Unrolled:
    """Build the unrolled graph with free symbols for every weight, bias, input and h_0."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    phi, dphi = activation() if cell == "phi" else (sympy.tanh, None)
    W_xh, W_hh, W_hy = matrix("W_xh", H, D), matrix("W_hh", H, H), matrix("W_hy", V, H)
    b_h, b_y = vector("b_h", H), vector("b_y", V)
    h, h_short = vector("h_0", H), vector("h_0", H)  # h_short: the same graph on abbreviated z_t
    dphis, es, L, names, o_names = [], [], sympy.S.Zero, [], {}
    for t in range(1, T + 1):
        x = vector(f"x_{t}", D)
        z = W_xh * x + W_hh * h + b_h
        z_sym = vector(f"z_{t}", H)
        names.append(dict(zip(W_xh * x + W_hh * h_short + b_h, z_sym)))
        h, h_short = z.applyfunc(phi), z_sym.applyfunc(phi)
        dphis.append(h.applyfunc(lambda h_k: 1 - h_k**2) if cell == "tanh" else z.applyfunc(dphi))
        o = W_hy * h + b_y
        o_names.update(zip(W_hy * h_short + b_y, vector(f"o_{t}", V)))
        L_t, partials = loss_function(t, V)
        es.append(W_hy.T * sympy.Matrix([dL(*o) for dL in partials]))
        L += L_t(*o)
    return Unrolled(W_hh, b_h, dphis, es, L, names + [o_names])


def bptt_bias(u: Unrolled, recurrent: bool = True) -> sympy.Matrix:
    """sum_t dz_t with dz_t = phi'(z_t) * (e_t + W_hh^T dz_{t+1}), run backward from dz_{T+1} = 0.

    recurrent=False drops the W_hh^T dz_{t+1} term: the wrong formula.
    """
    H = u.b_h.shape[0]
    dz_next, total = sympy.zeros(H, 1), sympy.zeros(H, 1)
    for dphi, e in zip(reversed(u.dphi), reversed(u.es)):
        dh = e + u.W_hh.T * dz_next if recurrent else e  # total gradient reaching h_t
        dz_next = dphi.multiply_elementwise(dh)
        total += dz_next
    return total


def bptt_totals(u: Unrolled) -> list:
    """BPTT's total dh_t = e_t + W_hh^T dz_{t+1} for t = 1..T (what RTRL must NOT be fed)."""
    H = u.b_h.shape[0]
    dz_next, dhs = sympy.zeros(H, 1), []
    for dphi, e in zip(reversed(u.dphi), reversed(u.es)):
        dhs.append(e + u.W_hh.T * dz_next)
        dz_next = dphi.multiply_elementwise(dhs[-1])
    return dhs[::-1]


def rtrl_bias(u: Unrolled, upstream: list | None = None) -> sympy.Matrix:
    """sum_t J_t^T e_t with J_t = dh_t/db_h = diag(phi'(z_t)) (I + W_hh J_{t-1}), J_0 = 0, run forward.

    ``upstream`` replaces e_t (default u.es): feeding BPTT's totals is the double-counting mistake.
    """
    H = u.b_h.shape[0]
    J, total = sympy.zeros(H, H), sympy.zeros(H, 1)
    for dphi, e in zip(u.dphi, u.es if upstream is None else upstream):
        J = sympy.diag(*dphi) * (sympy.eye(H) + u.W_hh * J)  # (H, H)
        total += J.T * e
    return total


def direct_bias(u: Unrolled) -> sympy.Matrix:
    """dL/db_h by differentiating the unrolled L symbolically, (H, 1)."""
    return u.b_h.applyfunc(lambda b: sympy.diff(u.L, b))


def identities() -> list[Result]:
    s = {"script": SCRIPT}
    bptt_direct, rtrl_direct, bptt_rtrl = [], [], []
    for cell in CELLS:
        for D, H, V in SIZES:
            for T in STEPS:
                u = unroll(D, H, V, T, cell)
                label = f"{cell}, D=H=V={H}, T={T}" if D == H == V else f"{cell}, D={D}, H={H}, V={V}, T={T}"
                bptt, rtrl, direct = bptt_bias(u), rtrl_bias(u), direct_bias(u)
                bptt_direct.append(Case(label, bptt, direct, u.names))
                rtrl_direct.append(Case(label, rtrl, direct, u.names))
                bptt_rtrl.append(Case(label, bptt, rtrl, u.names))
    out = [
        prove_cases("bptt_equals_direct", bptt_direct, **s, checked=CHECKED,
                    statement="BPTT: dL/db_h = sum_t dz_t,  dz_t = phi'(z_t) * (e_t + W_hh^T dz_{t+1}),  dz_{T+1} = 0",
                    latex=r"\frac{\partial L}{\partial b_h} = \sum_{t=1}^{T} \delta_t,\quad "
                          r"\delta_t = \varphi'(z_t) \odot \bigl(e_t + W_{hh}^{\top} \delta_{t+1}\bigr),"
                          r"\quad \delta_{T+1} = 0"),
        prove_cases("rtrl_equals_direct", rtrl_direct, **s, checked=CHECKED,
                    statement="RTRL: dL/db_h = sum_t J_t^T e_t,  J_t = diag(phi'(z_t)) (I + W_hh J_{t-1}),  J_0 = 0",
                    latex=r"\frac{\partial L}{\partial b_h} = \sum_{t=1}^{T} J_t^{\top} e_t,\quad "
                          r"J_t = \operatorname{diag}\bigl(\varphi'(z_t)\bigr)\bigl(I + W_{hh} J_{t-1}\bigr),"
                          r"\quad J_0 = 0"),
        prove_cases("bptt_equals_rtrl", bptt_rtrl, **s, checked=CHECKED,
                    statement="sum_t dz_t (backward) = sum_t J_t^T e_t (forward): one sum, two orders",
                    latex=r"\sum_{t} \delta_t = \sum_{t} J_t^{\top} e_t"),
    ]
    u = unroll(1, 1, 1, 2, "phi")
    case = "phi, D=H=V=1, T=2"
    out += [
        show_wrong("bptt_without_recurrent_term", bptt_bias(u, recurrent=False), direct_bias(u), **s,
                   case=case, names=u.names,
                   statement="wrong: dz_t = phi'(z_t) * e_t  (the W_hh^T dz_{t+1} term dropped)",
                   latex=r"\delta_t \overset{?}{=} \varphi'(z_t) \odot e_t"),
        show_wrong("rtrl_fed_total_dh", rtrl_bias(u, bptt_totals(u)), direct_bias(u), **s,
                   case=case, names=u.names,
                   statement="wrong: dL/db_h = sum_t J_t^T dh_t  (BPTT's total dh_t, not e_t: double counts)",
                   latex=r"\frac{\partial L}{\partial b_h} \overset{?}{=} \sum_t J_t^{\top}"
                         r"\bigl(e_t + W_{hh}^{\top}\delta_{t+1}\bigr)"),
    ]
    return out


if __name__ == "__main__":
    sys.exit(script_main(TITLE, identities))
