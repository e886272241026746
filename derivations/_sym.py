"""The small shared kit of the derivation scripts: symbols, named functions, ``prove``, rendering.

A proof here is exact: an identity lhs = rhs is *proved* when lhs - rhs simplifies to 0 (elementwise
for matrices) on every case it is checked on. A *wrong formula* is a separate kind of entry: its
residual must NOT vanish, and the simplified residual is what a reader is shown (plus its value at a
seeded random point when it is a plain number-valued expression, so "non-zero" is witnessed, not
just asserted by a simplifier that failed to find 0).

Helpers build the symbols the scripts share, all real:

    vector("b_h", 2)      -> Matrix([b_h1, b_h2])            (H, 1)
    matrix("W_hh", 2, 2)  -> Matrix([[W_hh11, W_hh12], ...])  (H, H)
    vector("b_h", 1)      -> Matrix([b_h])                   size 1 keeps the plain name

and the functions they differentiate through: ``sigmoid`` (sigma), ``activation("phi")`` (a generic
phi whose derivative is a second generic function phi'), ``loss_function(t, V)`` (a generic per-step
loss L_t of V arguments whose partials are generic functions).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import sympy
from sympy.core.function import AppliedUndef

IDENTITY = "identity"
WRONG = "wrong formula"


# --------------------------------------------------------------------------- symbols and functions


def real(name: str) -> sympy.Symbol:
    """One real symbol."""
    return sympy.Symbol(name, real=True)


def vector(name: str, n: int) -> sympy.Matrix:
    """(n, 1) column of real symbols name1..name_n; n = 1 keeps the bare name."""
    return sympy.Matrix(n, 1, lambda i, _: real(name if n == 1 else f"{name}{i + 1}"))


def matrix(name: str, rows: int, cols: int) -> sympy.Matrix:
    """(rows, cols) matrix of real symbols name11..; 1 x 1 keeps the bare name."""
    if rows == cols == 1:
        return sympy.Matrix([[real(name)]])
    return sympy.Matrix(rows, cols, lambda i, j: real(f"{name}{i + 1}{j + 1}"))


def _printers(text: str, tex: str) -> dict:
    """The str/LaTeX printing methods of a named function (args printed comma-separated)."""

    def _sympystr(self, printer):
        return f"{text}({', '.join(printer._print(a) for a in self.args)})"

    def _latex(self, printer, exp=None):
        out = rf"{tex}\left({', '.join(printer._print(a) for a in self.args)}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    return {"_sympystr": _sympystr, "_latex": _latex}


@cache
def named_function(text: str, tex: str, nargs: int = 1, derivatives: tuple = ()) -> type:
    """A sympy Function class printed as ``text`` / ``tex``; ``derivatives[k]`` is d/d(arg k).

    Cached, so two calls with the same names give the SAME class (sympy compares applied functions
    by class). Without ``derivatives`` it is a generic function sympy cannot simplify away.
    """

    def fdiff(self, argindex=1):
        if not derivatives:
            return super(cls, self).fdiff(argindex)
        return derivatives[argindex - 1](*self.args)

    body = {"nargs": nargs, "fdiff": fdiff, "generic": True, **_printers(text, tex)}
    cls = type(text, (sympy.Function,), body)
    return cls


class sigmoid(sympy.Function):
    """sigma(x) = 1 / (1 + exp(-x)); d sigma/dx = sigma (1 - sigma).

    The derivative is a lemma, proved from the exp form in activations.py; using it here keeps the
    gate proofs polynomial in the gate values (fast and exact).
    """

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _latex(self, printer, exp=None):
        out = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"


def activation(name: str = "phi", tex: str = r"\varphi") -> tuple[type, type]:
    """A generic activation phi and its generic derivative phi' (d phi(x)/dx = phi'(x))."""
    dphi = named_function(f"{name}'", f"{tex}'")
    return named_function(name, tex, 1, (dphi,)), dphi


def loss_function(t: int, V: int) -> tuple[type, tuple[type, ...]]:
    """A generic per-step loss L_t(o_1..o_V) and its partials dL_t/do_k, generic functions too."""
    if V == 1:
        partials = (named_function(f"L_{t}'", rf"L_{{{t}}}'"),)
    else:
        partials = tuple(
            named_function(f"dL_{t}/do{k}", rf"\partial_{{{k}}} L_{{{t}}}", V) for k in range(1, V + 1)
        )
    return named_function(f"L_{t}", rf"L_{{{t}}}", V, partials), partials


# --------------------------------------------------------------------------- proving


def _numerator(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """(N, D) with expr = N / D over a common denominator and N expanded. No gcd is taken, so it
    is cheap, and exact as a zero test: expr vanishes identically iff N does (atoms independent)."""
    num, den = sympy.fraction(sympy.together(expr))
    return sympy.expand(num, power_exp=False), den


def _tidy(num: sympy.Expr, den: sympy.Expr) -> sympy.Expr:
    """A readable non-zero residual: cancelled, and factored if that is shorter. Large ones are
    returned as N / D untouched: tidying them costs seconds and they stay unreadable anyway."""
    expr = num / den
    if sympy.count_ops(expr) >= 300:
        return expr
    expr = sympy.cancel(expr)
    return sympy.factor_terms(min(expr, sympy.factor(expr), key=sympy.count_ops))


def _exp_atoms(expr: sympy.Expr) -> tuple[dict, dict]:
    """exp(k a) -> E_a**k for integer k (so exp(-a) -> 1/E_a), E_a a positive symbol; and the map
    back E_a -> exp(a). Relations between exps with other arguments are not used."""
    exps, bases = {}, {}
    for e in sorted(expr.atoms(sympy.exp), key=sympy.default_sort_key):
        k, a = sympy.factor_terms(e.args[0]).as_coeff_Mul()
        if not k.is_Integer:
            k, a = sympy.S.One, e.args[0]
        if a not in bases:
            bases[a] = sympy.Dummy("E", positive=True)
        exps[e] = bases[a] ** k
    return exps, {E: sympy.exp(a) for a, E in bases.items()}


def reduce_residual(expr: sympy.Expr) -> sympy.Expr:
    """Simplify one scalar residual, cheapest first.

    1. Every exp(k a) becomes E_a**k, E_a a positive symbol (so exp(-a) is 1/E_a), and the numerator over a common
       denominator is expanded. 0 there means 0 for the original (setting the symbols back is a
       specialisation). A non-zero result whose value at a random point is clearly non-zero is
       returned as is (exp put back): it is a genuine non-zero residual.
    2. Otherwise (it may vanish only through exp's rules, or holds generic functions): the same
       after a full expand (exp(a + b) = exp(a) exp(b)), then ``simplify`` when it is small.
    """
    exps, atoms = _exp_atoms(expr)
    num, den = _numerator(expr.xreplace(exps))
    if num == 0:
        return sympy.S.Zero
    value = _value(expr)
    if value is not None and value > 1e-9:
        return _tidy(num, den).xreplace(atoms)
    if exps:
        num, den = _numerator(sympy.expand(expr))
        if num == 0:
            return sympy.S.Zero
    reduced = _tidy(num, den)
    if sympy.count_ops(reduced) < 60:  # simplify only what it can finish quickly
        reduced = min(reduced, sympy.factor_terms(sympy.simplify(reduced)), key=sympy.count_ops)
    return reduced


def residual(lhs, rhs) -> sympy.Basic:
    """lhs - rhs simplified; elementwise for matrices (shapes must agree). 0 means proved."""
    if isinstance(lhs, sympy.MatrixBase) or isinstance(rhs, sympy.MatrixBase):
        lhs, rhs = sympy.Matrix(lhs), sympy.Matrix(rhs)
        if lhs.shape != rhs.shape:
            raise ValueError(f"lhs, rhs: shapes differ, {lhs.shape} vs {rhs.shape}")
        res = (lhs - rhs).applyfunc(reduce_residual)
        return sympy.S.Zero if res.is_zero_matrix else res
    return reduce_residual(sympy.sympify(lhs) - sympy.sympify(rhs))


def is_generic(expr: sympy.Basic) -> bool:
    """True if expr applies a generic (undefined) function, so it has no numeric value."""
    return any(isinstance(f, AppliedUndef) or getattr(f.func, "generic", False)
               for f in expr.atoms(sympy.Function))


def _value(expr: sympy.Expr, seed: int = 0) -> float | None:
    """|expr| at a seeded random point in (-1, 1)^n; None if expr holds generic functions."""
    if is_generic(expr):
        return None
    rng = random.Random(seed)
    point = {s: sympy.Float(rng.uniform(-1, 1)) for s in sorted(expr.free_symbols, key=str)}
    try:
        return abs(complex(sympy.N(sympy.sympify(expr).rewrite(sympy.exp).xreplace(point))))
    except (TypeError, ValueError, ZeroDivisionError):  # a pole or an infinity at that point
        return None


def witness(res: sympy.Basic, seed: int = 0) -> float | None:
    """max |res| at a seeded random point (over entries); None if res holds generic functions."""
    entries = list(res) if isinstance(res, sympy.MatrixBase) else [res]
    values = [_value(e, seed) for e in entries]
    return None if None in values else max(values)


@dataclass(frozen=True)
class Case:
    """One instance of an identity: lhs = rhs at fixed sizes. ``names`` abbreviate the residual
    for display: a sequence of {expression: symbol} maps applied in order (inner ones first)."""

    label: str
    lhs: object
    rhs: object
    names: Sequence[Mapping] = ()


@dataclass(frozen=True)
class Result:
    """One checked identity (or wrong formula) with everything a report needs."""

    name: str  # unique within its script
    script: str
    statement: str  # plain text
    statement_latex: str  # LaTeX, without math delimiters
    cases: tuple[str, ...]  # the instances checked
    residual: sympy.Basic  # 0 if every case vanished, else the first non-zero one (simplified)
    failing_case: str | None = None
    expected_zero: bool = True  # False: a wrong formula, expected to fail
    witness: float | None = None  # |residual| at a random point, when it can be evaluated
    checked: str | None = None  # a short summary of the cases, for reports
    seconds: float = field(default=0.0, compare=False)

    @property
    def proved(self) -> bool:
        return self.residual == 0

    @property
    def ok(self) -> bool:
        """True when the outcome is the expected one: an identity proved, a wrong formula failed."""
        return self.proved == self.expected_zero

    @property
    def kind(self) -> str:
        return IDENTITY if self.expected_zero else WRONG

    @property
    def qualname(self) -> str:
        return f"{self.script}.{self.name}"

    @property
    def verdict(self) -> str:
        if self.expected_zero:
            return "proved" if self.proved else "NOT PROVED"
        return "wrong formula (shown to fail)" if not self.proved else "wrong formula NOT shown to fail"

    @property
    def residual_text(self) -> str:
        """One line: a column vector as [a, b]^T, a matrix as [[row], [row]]."""
        res = self.residual
        if self.proved:
            return "0"
        if isinstance(res, sympy.MatrixBase):
            if res.shape == (1, 1):
                return sympy.sstr(res[0])
            if res.cols == 1:
                return "[" + ", ".join(sympy.sstr(e) for e in res) + "]^T"
            return sympy.sstr(res.tolist())
        return sympy.sstr(res)

    @property
    def residual_latex(self) -> str:
        res = self.residual
        if isinstance(res, sympy.MatrixBase) and res.shape == (1, 1):
            res = res[0]
        return "0" if self.proved else sympy.latex(res)

    @property
    def checked_text(self) -> str:
        """What was checked: the script's summary if it gave one, else the case labels."""
        return self.checked or "; ".join(c for c in self.cases if c)

    def to_dict(self) -> dict:
        """JSON-ready: every field as text or a plain number."""
        return {
            "name": self.name, "script": self.script, "kind": self.kind, "statement": self.statement,
            "statement_latex": self.statement_latex, "cases": list(self.cases), "proved": self.proved,
            "ok": self.ok, "verdict": self.verdict, "residual": self.residual_text,
            "residual_latex": self.residual_latex, "failing_case": self.failing_case,
            "witness": self.witness, "checked": self.checked_text, "seconds": round(self.seconds, 3),
        }


def _abbreviate(res: sympy.Basic, names: Sequence[Mapping]) -> sympy.Basic:
    """Display only: replace each key by its symbol, map by map (exact matches, then sub-sums)."""
    for mapping in names:
        res = res.xreplace({sympy.expand(k): v for k, v in mapping.items()}).xreplace(dict(mapping))
        res = res.subs(list(mapping.items()))
    return res


def prove_cases(name: str, cases: Iterable[Case], *, script: str, statement: str, latex: str,
                expected_zero: bool = True, checked: str | None = None) -> Result:
    """Check lhs = rhs on every case; stop at the first non-zero residual (which is reported)."""
    start, labels = time.perf_counter(), []
    res, failing, value = sympy.S.Zero, None, 0.0
    for case in cases:
        labels.append(case.label)
        res = residual(case.lhs, case.rhs)
        if res != 0:
            value = witness(res)  # before abbreviating: abbreviations are not independent symbols
            res, failing = _abbreviate(res, case.names), case.label
            break
    return Result(name, script, statement, latex, tuple(labels), res, failing, expected_zero,
                  value, checked, time.perf_counter() - start)


def prove(name: str, lhs, rhs, *, script: str, statement: str, latex: str, case: str = "",
          expected_zero: bool = True, names: Sequence[Mapping] = ()) -> Result:
    """Check one identity lhs = rhs (scalars or matrices); the residual is lhs - rhs simplified."""
    return prove_cases(name, [Case(case, lhs, rhs, names)], script=script, statement=statement,
                       latex=latex, expected_zero=expected_zero)


def show_wrong(name: str, lhs, rhs, **kwargs) -> Result:
    """A wrong formula lhs = rhs, expected NOT to hold: ``prove`` with expected_zero=False."""
    return prove(name, lhs, rhs, expected_zero=False, **kwargs)
