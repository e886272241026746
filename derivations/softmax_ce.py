"""Softmax cross-entropy: the logit gradient p - y, the softmax Jacobian, log-sum-exp shifts.

For logits o (K, 1) and p = softmax(o), p_k = exp(o_k) / sum_j exp(o_j):

    d/do_k [-log p_y]          = p_k - [k = y]         every target y, K = 2..6
    dp/do                      = diag(p) - p p^T       (K, K), symmetric
    (dp/do)^T u                = p * (u - p.u)         the product a backward computes, u (K, 1)
    log sum_j exp(o_j - c) + c = log sum_j exp(o_j)    why subtracting max(o) first is exact
    softmax(o - c)             = softmax(o)

The loss is written as the definition -log(exp(o_y) / sum_j exp(o_j)), not the stable form, so the
gradient is derived, not assumed. Run: python derivations/softmax_ce.py
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy

from derivations import script_main
from derivations._sym import Case, Result, prove_cases, real, show_wrong, vector

SCRIPT = "softmax_ce"
TITLE = "softmax cross-entropy: gradient p - y, Jacobian diag(p) - pp^T, log-sum-exp shift"
SIZES = range(2, 7)  # K = 2..6


def softmax(o: sympy.Matrix) -> sympy.Matrix:
    """p = exp(o) / sum exp(o), (K, 1) -> (K, 1)."""
    e = o.applyfunc(sympy.exp)
    return e / sum(e)


def cross_entropy(o: sympy.Matrix, y: int) -> sympy.Expr:
    """-log softmax(o)_y, from the definition."""
    return -sympy.log(softmax(o)[y])


def logsumexp(o: sympy.Matrix) -> sympy.Expr:
    return sympy.log(sum(o.applyfunc(sympy.exp)))


def ce_gradient_table(o: sympy.Matrix) -> sympy.Matrix:
    """(K, K) table G[y, k] = d/do_k [-log softmax(o)_y] by differentiation: one row per target y."""
    K = o.shape[0]
    return sympy.Matrix(K, K, lambda y, k: sympy.diff(cross_entropy(o, y), o[k]))


def p_minus_y_table(p: sympy.Matrix, wrong: bool = False) -> sympy.Matrix:
    """(K, K) table G[y, k] = p_k - [k = y], the hand formula (wrong=True: p_k alone)."""
    K = p.shape[0]
    return sympy.Matrix(K, K, lambda y, k: p[k] - (0 if wrong else int(k == y)))


def ce_gradient_cases(wrong: bool = False) -> list[Case]:
    """d/do_k of -log p_y against p_k - [k = y] (or the wrong p_k), every y, K = 2..6."""
    cases = []
    for K in SIZES:
        o = vector("o", K)
        cases.append(Case(f"K={K}, y=0..{K - 1}", p_minus_y_table(softmax(o), wrong), ce_gradient_table(o)))
    return cases


def identities() -> list[Result]:
    s = {"script": SCRIPT}
    out = [prove_cases(
        "ce_gradient", ce_gradient_cases(), **s,
        statement="d/do_k [-log softmax(o)_y] = p_k - [k = y]  (p - y, y one-hot)",
        latex=r"\frac{\partial}{\partial o_k}\Bigl(-\log \frac{e^{o_y}}{\sum_j e^{o_j}}\Bigr) = p_k - [k = y]")]

    jacobian, vjp, shift, softmax_shift = [], [], [], []
    c = real("c")
    for K in SIZES:
        o, u = vector("o", K), vector("u", K)
        p = softmax(o)
        J = p.jacobian(o)
        jacobian.append(Case(f"K={K}", J, sympy.diag(*p) - p * p.T))
        vjp.append(Case(f"K={K}", J.T * u, p.multiply_elementwise(u - (p.T * u)[0] * sympy.ones(K, 1))))
        shift.append(Case(f"K={K}", logsumexp(o - c * sympy.ones(K, 1)) + c, logsumexp(o)))
        softmax_shift.append(Case(f"K={K}", softmax(o - c * sympy.ones(K, 1)), p))
    out += [
        prove_cases("softmax_jacobian", jacobian, **s, statement="dp/do = diag(p) - p p^T",
                    latex=r"\frac{\partial p}{\partial o} = \operatorname{diag}(p) - p p^{\top}"),
        prove_cases("softmax_vjp", vjp, **s, statement="(dp/do)^T u = p * (u - p.u)",
                    latex=r"\Bigl(\frac{\partial p}{\partial o}\Bigr)^{\top} u = p \odot (u - p^{\top} u)"),
        prove_cases("logsumexp_shift", shift, **s,
                    statement="log sum_j exp(o_j - c) + c = log sum_j exp(o_j)  (c = max o is exact)",
                    latex=r"\log \sum_j e^{o_j - c} + c = \log \sum_j e^{o_j}"),
        prove_cases("softmax_shift", softmax_shift, **s, statement="softmax(o - c) = softmax(o)",
                    latex=r"\operatorname{softmax}(o - c\mathbf{1}) = \operatorname{softmax}(o)"),
    ]

    o = vector("o", 3)
    p = softmax(o)
    out.append(show_wrong(
        "ce_gradient_without_y", p, sympy.diff(cross_entropy(o, 0), o), **s, case="K=3, y=0",
        statement="wrong: d/do [-log p_y] = p  (the -y forgotten); residual = the one-hot y",
        latex=r"\frac{\partial}{\partial o}\bigl(-\log p_y\bigr) \overset{?}{=} p"))
    return out


if __name__ == "__main__":
    sys.exit(script_main(TITLE, identities))
