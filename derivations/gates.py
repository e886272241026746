"""LSTM and GRU single-step backward formulas, each proved against direct differentiation.

One step's backward is the gradient of the scalar S = <dh, h> (+ <dc_next, c> for the LSTM), with
the upstream gradients dh (= e_t + dh_next) and dc_next held constant. The adjoint of an
intermediate v (a gate, c, q, ...) is dS/d(eps_v) at eps = 0, where eps_v is added to v in the
forward: so every hand formula below is checked against SymPy's chain rule through the whole step.
Sizes H = D = 1 and H = D = 2; sigma is ``_sym.sigmoid`` (its derivative is proved in activations.py).

LSTM, PyTorch form (REFERENCE.md section 2), a = W_x x + W_h h_prev + b (4H) in blocks i, f, g, o:
    i, f, o = sigma(a_i, a_f, a_o), g = tanh(a_g), c = f*c_prev + i*g, h = o*tanh(c)
GRU reset_after, PyTorch/cuDNN (section 3), blocks r, z, n of W_x x + b_x and W_h h + b_h (3H each):
    r, z = sigma(.), q = W_hn h + b_hn, n = tanh(W_in x + b_in + r*q), h' = (1 - z)*n + z*h
GRU reset_before, Cho et al. 2014, one bias b (3H), s = r*h the reset state:
    r, z = sigma(.), n = tanh(W_n x + U_n s + b_n), h' = z*h + (1 - z)*n

Run: python derivations/gates.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy

from derivations import script_main
from derivations._sym import Case, Result, matrix, prove_cases, show_wrong, sigmoid, vector

SCRIPT = "gates"
TITLE = "LSTM and GRU (reset-after and reset-before) one-step gate derivatives"
SIZES = (1, 2)  # H = D


@dataclass(frozen=True)
class Step:
    """One cell step: forward values (eps = 0), hand-written adjoints, SymPy's adjoints, by name;
    ``names`` abbreviate residuals for display (pre-activations a_*, then gates, then c)."""

    values: dict
    hand: dict
    auto: dict
    names: list


def sig(v):
    return v.applyfunc(sigmoid)


def tanh(v):
    return v.applyfunc(sympy.tanh)


def odot(*vs):
    """Elementwise product of equal-shape matrices."""
    out = vs[0]
    for v in vs[1:]:
        out = out.multiply_elementwise(v)
    return out


def blocks(v, n: int) -> list:
    """Split a (n*H, k) matrix into n row blocks of H."""
    H = v.shape[0] // n
    return [v[k * H:(k + 1) * H, :] for k in range(n)]


def adjoints(S, leaves: dict, eps: dict) -> dict:
    """dS/d(leaf) for each leaf and dS/d(eps_v) for each perturbed v, all at eps = 0."""
    at_zero = {e: 0 for m in eps.values() for e in m}
    grad = {k: X.applyfunc(lambda x: sympy.diff(S, x)) for k, X in {**leaves, **eps}.items()}
    return {k: g.xreplace(at_zero) for k, g in grad.items()}


def perturbations(H: int, *names: str) -> dict:
    return {n: vector(f"eps_{n}", H) for n in names}


def at_zero(eps: dict, **values) -> dict:
    """The forward values with every perturbation set to 0."""
    zero = {e: 0 for m in eps.values() for e in m}
    return {k: m.xreplace(zero) for k, m in values.items()}


def display_names(*pairs) -> list:
    """[{expression entry: symbol entry}] per (expressions, symbols) pair, applied in order."""
    return [{k: v for E, Sy in group for k, v in zip(E, Sy)} for group in pairs]


def lstm(H: int) -> Step:
    """The LSTM step with perturbations on a, i, f, g, o and c; S = dh.h + dc_next.c."""
    D = H
    x, h_prev, c_prev = vector("x", D), vector("h_prev", H), vector("c_prev", H)
    W_x, W_h, b = matrix("W_x", 4 * H, D), matrix("W_h", 4 * H, H), vector("b", 4 * H)
    dh, dc_next = vector("dh", H), vector("dc_next", H)
    e = perturbations(H, "a_i", "a_f", "a_g", "a_o", "i", "f", "g", "o", "c")
    a = W_x * x + W_h * h_prev + b
    a_i, a_f, a_g, a_o = (blk + e[k] for blk, k in zip(blocks(a, 4), ("a_i", "a_f", "a_g", "a_o")))
    i, f, g, o = sig(a_i) + e["i"], sig(a_f) + e["f"], tanh(a_g) + e["g"], sig(a_o) + e["o"]
    c = odot(f, c_prev) + odot(i, g) + e["c"]
    h = odot(o, tanh(c))
    S = (dh.T * h + dc_next.T * c)[0]
    auto = adjoints(S, {"W_x": W_x, "W_h": W_h, "b": b, "c_prev": c_prev, "h_prev": h_prev}, e)
    auto["a"] = sympy.Matrix.vstack(*(auto[k] for k in ("a_i", "a_f", "a_g", "a_o")))

    v = at_zero(e, i=i, f=f, g=g, o=o, c=c)
    A, G = {k: vector(k, H) for k in ("a_i", "a_f", "a_g", "a_o")}, {k: vector(k, H) for k in "ifgo"}
    names = display_names(list(zip(blocks(a, 4), A.values())),
                          [(sig(A["a_i"]), G["i"]), (sig(A["a_f"]), G["f"]), (tanh(A["a_g"]), G["g"]),
                           (sig(A["a_o"]), G["o"])],
                          [(odot(G["f"], c_prev) + odot(G["i"], G["g"]), vector("c", H))])
    v.update(c_prev=c_prev, x=x, h_prev=h_prev, W_x=W_x, W_h=W_h, dh=dh, dc_next=dc_next)
    one = sympy.ones(H, 1)
    hand = {"o": odot(dh, tanh(v["c"]))}
    hand["c"] = dc_next + odot(dh, v["o"], one - odot(tanh(v["c"]), tanh(v["c"])))
    hand["i"], hand["f"], hand["g"] = odot(hand["c"], v["g"]), odot(hand["c"], c_prev), odot(hand["c"], v["i"])
    hand["a"] = sympy.Matrix.vstack(
        odot(hand["i"], v["i"], one - v["i"]), odot(hand["f"], v["f"], one - v["f"]),
        odot(hand["g"], one - odot(v["g"], v["g"])), odot(hand["o"], v["o"], one - v["o"]))
    hand["c_prev"] = odot(hand["c"], v["f"])
    hand.update(h_prev=W_h.T * hand["a"], W_x=hand["a"] * x.T, W_h=hand["a"] * h_prev.T, b=hand["a"])
    return Step(v, hand, auto, names)


def gru_after(H: int) -> Step:
    """The PyTorch GRU step (reset after the matmul, r-gated b_hn); S = dh.h'."""
    D = H
    x, h = vector("x", D), vector("h_prev", H)
    W_x, W_h, b_x, b_h = matrix("W_x", 3 * H, D), matrix("W_h", 3 * H, H), vector("b_x", 3 * H), vector("b_h", 3 * H)
    dh = vector("dh", H)
    e = perturbations(H, "a_r", "a_z", "a_n", "r", "z", "n", "q")
    gx_r, gx_z, gx_n = blocks(W_x * x + b_x, 3)
    gh_r, gh_z, gh_n = blocks(W_h * h + b_h, 3)
    r, z = sig(gx_r + gh_r + e["a_r"]) + e["r"], sig(gx_z + gh_z + e["a_z"]) + e["z"]
    q = gh_n + e["q"]
    n = tanh(gx_n + odot(r, q) + e["a_n"]) + e["n"]
    h_new = odot(sympy.ones(H, 1) - z, n) + odot(z, h)
    S = (dh.T * h_new)[0]
    auto = adjoints(S, {"W_x": W_x, "W_h": W_h, "b_x": b_x, "b_h": b_h, "h_prev": h}, e)

    v = at_zero(e, r=r, z=z, n=n, q=q)
    v.update(h_prev=h, x=x, dh=dh, W_h=W_h)
    A, G = {k: vector(k, H) for k in ("a_r", "a_z", "a_n")}, {k: vector(k, H) for k in "rzqn"}
    names = display_names([(gx_r + gh_r, A["a_r"]), (gx_z + gh_z, A["a_z"]), (gh_n, G["q"])],
                          [(sig(A["a_r"]), G["r"]), (sig(A["a_z"]), G["z"])],
                          [(gx_n + odot(G["r"], gh_n), A["a_n"])], [(tanh(A["a_n"]), G["n"])])
    one = sympy.ones(H, 1)
    hand = {"n": odot(dh, one - v["z"]), "z": odot(dh, h - v["n"])}
    hand["a_n"] = odot(hand["n"], one - odot(v["n"], v["n"]))
    hand["r"], hand["q"] = odot(hand["a_n"], v["q"]), odot(hand["a_n"], v["r"])
    hand["a_r"], hand["a_z"] = odot(hand["r"], v["r"], one - v["r"]), odot(hand["z"], v["z"], one - v["z"])
    input_side = sympy.Matrix.vstack(hand["a_r"], hand["a_z"], hand["a_n"])
    hidden_side = sympy.Matrix.vstack(hand["a_r"], hand["a_z"], hand["q"])
    hand.update(h_prev=odot(dh, v["z"]) + W_h.T * hidden_side, W_x=input_side * x.T, b_x=input_side,
                W_h=hidden_side * h.T, b_h=hidden_side)
    return Step(v, hand, auto, names)


def gru_before(H: int) -> Step:
    """The Cho et al. GRU step (reset before the matmul: U_n (r*h)); S = dh.h'."""
    D = H
    x, h = vector("x", D), vector("h_prev", H)
    W_x, W_h, b = matrix("W_x", 3 * H, D), matrix("W_h", 3 * H, H), vector("b", 3 * H)
    dh = vector("dh", H)
    e = perturbations(H, "a_r", "a_z", "a_n", "r", "z", "n", "s")
    gx_r, gx_z, gx_n = blocks(W_x * x + b, 3)
    U_r, U_z, U_n = blocks(W_h, 3)
    r, z = sig(gx_r + U_r * h + e["a_r"]) + e["r"], sig(gx_z + U_z * h + e["a_z"]) + e["z"]
    s = odot(r, h) + e["s"]
    n = tanh(gx_n + U_n * s + e["a_n"]) + e["n"]
    h_new = odot(z, h) + odot(sympy.ones(H, 1) - z, n)
    S = (dh.T * h_new)[0]
    auto = adjoints(S, {"W_x": W_x, "W_h": W_h, "b": b, "h_prev": h}, e)

    v = at_zero(e, r=r, z=z, n=n, s=s)
    v.update(h_prev=h, x=x, dh=dh, W_h=W_h)
    A, G = {k: vector(k, H) for k in ("a_r", "a_z", "a_n")}, {k: vector(k, H) for k in "rzsn"}
    names = display_names([(gx_r + U_r * h, A["a_r"]), (gx_z + U_z * h, A["a_z"])],
                          [(sig(A["a_r"]), G["r"]), (sig(A["a_z"]), G["z"])],
                          [(odot(G["r"], h), G["s"])], [(gx_n + U_n * G["s"], A["a_n"])],
                          [(tanh(A["a_n"]), G["n"])])
    one = sympy.ones(H, 1)
    hand = {"n": odot(dh, one - v["z"]), "z": odot(dh, h - v["n"])}
    hand["a_n"] = odot(hand["n"], one - odot(v["n"], v["n"]))
    hand["s"] = U_n.T * hand["a_n"]
    hand["r"] = odot(hand["s"], h)
    hand["a_r"], hand["a_z"] = odot(hand["r"], v["r"], one - v["r"]), odot(hand["z"], v["z"], one - v["z"])
    da = sympy.Matrix.vstack(hand["a_r"], hand["a_z"], hand["a_n"])
    hand.update(h_prev=odot(dh, v["z"]) + odot(hand["s"], v["r"]) + U_r.T * hand["a_r"] + U_z.T * hand["a_z"],
                W_x=da * x.T, b=da,
                W_h=sympy.Matrix.vstack(hand["a_r"] * h.T, hand["a_z"] * h.T, hand["a_n"] * v["s"].T))
    return Step(v, hand, auto, names)


# (result name, adjoint keys, statement, LaTeX); "d" + key is the hand formula's name
LSTM_FORMULAS = (
    ("lstm_do", ("o",), "do = dh * tanh(c)", r"\mathrm{d}o = \mathrm{d}h \odot \tanh c"),
    ("lstm_dc", ("c",), "dc = dc_next + dh * o * (1 - tanh(c)^2)",
     r"\mathrm{d}c = \mathrm{d}c_{\mathrm{next}} + \mathrm{d}h \odot o \odot (1 - \tanh^2 c)"),
    ("lstm_di", ("i",), "di = dc * g", r"\mathrm{d}i = \mathrm{d}c \odot g"),
    ("lstm_df", ("f",), "df = dc * c_prev", r"\mathrm{d}f = \mathrm{d}c \odot c_{t-1}"),
    ("lstm_dg", ("g",), "dg = dc * i", r"\mathrm{d}g = \mathrm{d}c \odot i"),
    ("lstm_da", ("a",), "da = [di*i(1-i); df*f(1-f); dg*(1-g^2); do*o(1-o)]  (pre-activations, order i f g o)",
     (r"\mathrm{d}a = \bigl[\mathrm{d}i \odot i(1-i);\ \mathrm{d}f \odot f(1-f);\ "
      r"\mathrm{d}g \odot (1-g^2);\ \mathrm{d}o \odot o(1-o)\bigr]")),
    ("lstm_dc_prev", ("c_prev",), "dc_prev = dc * f", r"\mathrm{d}c_{t-1} = \mathrm{d}c \odot f"),
    ("lstm_dh_prev", ("h_prev",), "dh_prev = W_h^T da", r"\mathrm{d}h_{t-1} = W_h^{\top} \mathrm{d}a"),
    ("lstm_params", ("W_x", "W_h", "b"), "dW_x = da x^T,  dW_h = da h_prev^T,  db = da",
     r"\mathrm{d}W_x = \mathrm{d}a\, x^{\top},\ \mathrm{d}W_h = \mathrm{d}a\, h_{t-1}^{\top},\ \mathrm{d}b = \mathrm{d}a"),
)
GRU_GATES = (
    ("dn", ("n",), "dn = dh * (1 - z)", r"\mathrm{d}n = \mathrm{d}h \odot (1 - z)"),
    ("dz", ("z",), "dz = dh * (h_prev - n)", r"\mathrm{d}z = \mathrm{d}h \odot (h_{t-1} - n)"),
    ("da_n", ("a_n",), "da_n = dn * (1 - n^2)", r"\mathrm{d}a_n = \mathrm{d}n \odot (1 - n^2)"),
    ("da_rz", ("a_r", "a_z"), "da_r = dr * r(1 - r),  da_z = dz * z(1 - z)",
     r"\mathrm{d}a_r = \mathrm{d}r \odot r(1-r),\ \mathrm{d}a_z = \mathrm{d}z \odot z(1-z)"),
)
GRU_AFTER_FORMULAS = tuple((f"gru_after_{n}", *rest) for n, *rest in GRU_GATES) + (
    ("gru_after_dr_dq", ("r", "q"), "dr = da_n * q,  dq = da_n * r  (q = W_hn h_prev + b_hn)",
     r"\mathrm{d}r = \mathrm{d}a_n \odot q,\ \mathrm{d}q = \mathrm{d}a_n \odot r,\ q = W_{hn} h_{t-1} + b_{hn}"),
    ("gru_after_dh_prev", ("h_prev",), "dh_prev = dh * z + W_h^T [da_r; da_z; dq]",
     r"\mathrm{d}h_{t-1} = \mathrm{d}h \odot z + W_h^{\top} [\mathrm{d}a_r; \mathrm{d}a_z; \mathrm{d}q]"),
    ("gru_after_params", ("W_x", "b_x", "W_h", "b_h"),
     "dW_x = [da_r; da_z; da_n] x^T = db_x x^T,  dW_h = [da_r; da_z; dq] h_prev^T = db_h h_prev^T",
     (r"\mathrm{d}b_x = [\mathrm{d}a_r; \mathrm{d}a_z; \mathrm{d}a_n],\ \mathrm{d}b_h = [\mathrm{d}a_r; "
      r"\mathrm{d}a_z; \mathrm{d}q],\ \mathrm{d}W_x = \mathrm{d}b_x\, x^{\top},\ \mathrm{d}W_h = \mathrm{d}b_h\, h_{t-1}^{\top}")),
)
GRU_BEFORE_FORMULAS = tuple((f"gru_before_{n}", *rest) for n, *rest in GRU_GATES) + (
    ("gru_before_ds_dr", ("s", "r"), "ds = U_n^T da_n,  dr = ds * h_prev  (s = r * h_prev)",
     r"\mathrm{d}s = U_n^{\top} \mathrm{d}a_n,\ \mathrm{d}r = \mathrm{d}s \odot h_{t-1},\ s = r \odot h_{t-1}"),
    ("gru_before_dh_prev", ("h_prev",), "dh_prev = dh * z + ds * r + U_r^T da_r + U_z^T da_z",
     r"\mathrm{d}h_{t-1} = \mathrm{d}h \odot z + \mathrm{d}s \odot r + U_r^{\top} \mathrm{d}a_r + U_z^{\top} \mathrm{d}a_z"),
    ("gru_before_params", ("W_x", "b", "W_h"),
     "db = [da_r; da_z; da_n],  dW_x = db x^T,  dW_h = [da_r h_prev^T; da_z h_prev^T; da_n s^T]",
     (r"\mathrm{d}b = [\mathrm{d}a_r; \mathrm{d}a_z; \mathrm{d}a_n],\ \mathrm{d}W_x = \mathrm{d}b\, x^{\top},\ "
      r"\mathrm{d}W_h = [\mathrm{d}a_r h_{t-1}^{\top}; \mathrm{d}a_z h_{t-1}^{\top}; \mathrm{d}a_n s^{\top}]")),
)
CELLS = {"lstm": (lstm, LSTM_FORMULAS), "gru_after": (gru_after, GRU_AFTER_FORMULAS),
         "gru_before": (gru_before, GRU_BEFORE_FORMULAS)}


def identities() -> list[Result]:
    out = []
    for build, formulas in CELLS.values():
        steps = {H: build(H) for H in SIZES}
        for name, keys, text, tex in formulas:
            cases = [Case(f"H=D={H}" + (f", d{k}" if len(keys) > 1 else ""), st.hand[k], st.auto[k])
                     for H, st in steps.items() for k in keys]
            out.append(prove_cases(name, cases, script=SCRIPT, statement=text, latex=tex,
                                   checked=f"H = D = {' and '.join(map(str, SIZES))}"))
    out += wrong_formulas()
    return out


def wrong_formulas() -> list[Result]:
    s = {"script": SCRIPT, "case": "H=D=1"}
    st = lstm(1)
    out = [show_wrong("lstm_df_uses_c", odot(st.hand["c"], st.values["c"]), st.auto["f"], **s, names=st.names,
                      statement="wrong: df = dc * c  (the new cell state where c_prev belongs)",
                      latex=r"\mathrm{d}f \overset{?}{=} \mathrm{d}c \odot c_t")]
    st = gru_after(1)
    dh, z, n, h = st.values["dh"], st.values["z"], st.values["n"], st.values["h_prev"]
    out.append(show_wrong(
        "gru_z_swapped", sympy.Matrix.vstack(odot(dh, z), odot(dh, n - h)),
        sympy.Matrix.vstack(st.auto["n"], st.auto["z"]), **s, names=st.names,
        statement="wrong: dn = dh * z, dz = dh * (n - h_prev)  (the mirrored h' = z*n + (1 - z)*h convention)",
        latex=r"\mathrm{d}n \overset{?}{=} \mathrm{d}h \odot z,\ \mathrm{d}z \overset{?}{=} \mathrm{d}h \odot (n - h_{t-1})"))
    out.append(show_wrong(
        "gru_db_hn_equals_db_in", st.hand["a_n"], blocks(st.auto["b_h"], 3)[2], **s, names=st.names,
        statement="wrong: db_hn = da_n  (the recurrent n-bias sits inside r * (...): db_hn = dq = da_n * r)",
        latex=r"\mathrm{d}b_{hn} \overset{?}{=} \mathrm{d}a_n"))
    return out


if __name__ == "__main__":
    sys.exit(script_main(TITLE, identities))
