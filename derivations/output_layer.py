"""The output layer's gradients under softmax cross-entropy summed over time.

With o_t = W_hy h_t + b_y (V, 1), p_t = softmax(o_t), targets y_t (V, 1) with entries summing to 1
(one-hot as a special case) and L = sum_t -sum_k y_tk log p_tk:

    dL/db_y  = sum_t (p_t - y_t)                (V, 1)
    dL/dW_hy = sum_t (p_t - y_t) h_t^T          (V, H)
    dL/dh_t  = W_hy^T (p_t - y_t) = e_t         (H, 1)  the explicit per-step gradient BPTT adds to dh_next

h_t are free symbols (the layer's inputs), T = 2, H = 2, V = 2 and 3.
Run: python derivations/output_layer.py
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy

from derivations import script_main
from derivations._sym import Case, Result, matrix, prove_cases, show_wrong, vector
from derivations.softmax_ce import softmax

SCRIPT = "output_layer"
TITLE = "output layer: dL/db_y = sum_t (p_t - y_t), dL/dW_hy = sum_t (p_t - y_t) h_t^T"
T, H = 2, 2


def targets(t: int, V: int) -> sympy.Matrix:
    """y_t (V, 1), symbolic with sum_k y_tk = 1: the last entry is 1 minus the others."""
    y = vector(f"y_{t}", V)
    y[V - 1] = 1 - sum(y[:V - 1])
    return y


def layer(V: int) -> dict:
    """Symbols and forward of the output layer over T steps, and the loss L."""
    W_hy, b_y = matrix("W_hy", V, H), vector("b_y", V)
    hs = [vector(f"h_{t}", H) for t in range(1, T + 1)]
    ys = [targets(t, V) for t in range(1, T + 1)]
    ps = [softmax(W_hy * h + b_y) for h in hs]
    L = sum(-sum(y[k] * sympy.log(p[k]) for k in range(V)) for y, p in zip(ys, ps))
    return {"W_hy": W_hy, "b_y": b_y, "hs": hs, "ys": ys, "ps": ps, "L": L}


def gradient(L: sympy.Expr, X: sympy.Matrix) -> sympy.Matrix:
    """dL/dX with the shape of X."""
    return X.applyfunc(lambda x: sympy.diff(L, x))


def identities() -> list[Result]:
    s = {"script": SCRIPT}
    grad_b, grad_W, grad_h = [], [], []
    for V in (2, 3):
        m = layer(V)
        label = f"T={T}, H={H}, V={V}, targets summing to 1"
        dys = [p - y for p, y in zip(m["ps"], m["ys"])]
        grad_b.append(Case(label, gradient(m["L"], m["b_y"]), sum(dys, sympy.zeros(V, 1))))
        grad_W.append(Case(label, gradient(m["L"], m["W_hy"]),
                           sum((dy * h.T for dy, h in zip(dys, m["hs"])), sympy.zeros(V, H))))
        for t, (h, dy) in enumerate(zip(m["hs"], dys), start=1):
            grad_h.append(Case(f"{label}, t={t}", gradient(m["L"], h), m["W_hy"].T * dy))
    out = [
        prove_cases("grad_b_y", grad_b, **s, statement="dL/db_y = sum_t (p_t - y_t)",
                    latex=r"\frac{\partial L}{\partial b_y} = \sum_t (p_t - y_t)"),
        prove_cases("grad_W_hy", grad_W, **s, statement="dL/dW_hy = sum_t (p_t - y_t) h_t^T",
                    latex=r"\frac{\partial L}{\partial W_{hy}} = \sum_t (p_t - y_t)\, h_t^{\top}"),
        prove_cases("grad_h", grad_h, **s, checked=f"T={T}, H={H}, V=2 and 3, targets summing to 1, every t", statement="dL/dh_t = W_hy^T (p_t - y_t) =: e_t",
                    latex=r"\frac{\partial L}{\partial h_t} = W_{hy}^{\top} (p_t - y_t) =: e_t"),
    ]
    m = layer(2)
    last = (m["ps"][-1] - m["ys"][-1]) * m["hs"][-1].T
    o_1 = m["W_hy"] * m["hs"][0] + m["b_y"]
    out.append(show_wrong(
        "grad_W_hy_last_step_only", last, gradient(m["L"], m["W_hy"]), **s, case=f"T={T}, H={H}, V=2",
        names=[dict(zip(o_1, vector("o_1", 2)))],
        statement="wrong: dL/dW_hy = (p_T - y_T) h_T^T  (= instead of +=; residual -(p_1 - y_1) h_1^T)",
        latex=r"\frac{\partial L}{\partial W_{hy}} \overset{?}{=} (p_T - y_T)\, h_T^{\top}"))
    return out


if __name__ == "__main__":
    sys.exit(script_main(TITLE, identities))
