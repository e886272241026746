"""Activation derivatives written through the OUTPUT, as a backward pass uses them.

    h = tanh(z):     dh/dz = 1 - h^2              (not 1 - z^2: that uses the pre-activation)
    s = sigma(z):    ds/dz = s (1 - s),  sigma(z) = 1 / (1 + exp(-z))
    tanh(z) = 2 sigma(2z) - 1

Both derivatives are proved from the exp definitions, not from SymPy's built-in rules, and the
``sigmoid`` function the gate proofs use is checked against its exp form (its derivative is the lemma
they rely on). The wrong forms are shown with their residuals. Run: python derivations/activations.py
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy

from derivations import script_main
from derivations._sym import Case, Result, prove, prove_cases, real, show_wrong, sigmoid

SCRIPT = "activations"
TITLE = "activation derivatives through the output: tanh' = 1 - h^2, sigma' = s(1 - s)"


def tanh_exp(z: sympy.Expr) -> sympy.Expr:
    """tanh from its definition (e^z - e^-z) / (e^z + e^-z)."""
    return (sympy.exp(z) - sympy.exp(-z)) / (sympy.exp(z) + sympy.exp(-z))


def sigmoid_exp(z: sympy.Expr) -> sympy.Expr:
    """sigma from its definition 1 / (1 + e^-z)."""
    return 1 / (1 + sympy.exp(-z))


def identities() -> list[Result]:
    s = {"script": SCRIPT}
    z = real("z")
    h, h_exp = sympy.tanh(z), tanh_exp(z)
    sig = sigmoid_exp(z)
    out = [
        prove_cases(
            "tanh_derivative",
            [Case("tanh from exp", sympy.diff(h_exp, z), 1 - h_exp**2),
             Case("sympy tanh", sympy.diff(h, z), 1 - h**2)], **s,
            statement="h = tanh(z):  dh/dz = 1 - h^2  (through the output h)",
            latex=r"h = \tanh z:\quad \frac{dh}{dz} = 1 - h^2"),
        prove_cases(
            "sigmoid_derivative",
            [Case("sigma from exp", sympy.diff(sig, z), sig * (1 - sig)),
             Case("gradlab sigmoid lemma", sympy.diff(sigmoid(z), z).rewrite(sympy.exp), sympy.diff(sig, z))],
            **s, statement="s = sigma(z) = 1/(1 + exp(-z)):  ds/dz = s (1 - s)",
            latex=r"s = \sigma(z) = \frac{1}{1 + e^{-z}}:\quad \frac{ds}{dz} = s\,(1 - s)"),
        prove("tanh_via_sigmoid", h_exp, 2 * sigmoid_exp(2 * z) - 1, **s, case="scalar z, exp forms",
              statement="tanh(z) = 2 sigma(2z) - 1", latex=r"\tanh z = 2\,\sigma(2z) - 1"),
    ]
    out += [
        show_wrong("tanh_derivative_from_preactivation", 1 - z**2, sympy.diff(h, z), **s, case="scalar z",
                   statement="wrong: d tanh(z)/dz = 1 - z^2  (the pre-activation z where the output h belongs)",
                   latex=r"\frac{d \tanh z}{dz} \overset{?}{=} 1 - z^2"),
        show_wrong("tanh_derivative_tanh_of_output", 1 - sympy.tanh(h)**2, sympy.diff(h, z), **s,
                   case="scalar z, h = tanh(z)",
                   statement="wrong: d tanh(z)/dz = 1 - tanh(h)^2  (tanh applied twice to the output h)",
                   latex=r"\frac{d \tanh z}{dz} \overset{?}{=} 1 - \tanh^2 h,\quad h = \tanh z"),
        show_wrong("sigmoid_derivative_from_preactivation", z * (1 - z), sympy.diff(sigmoid(z), z), **s,
                   case="scalar z", statement="wrong: d sigma(z)/dz = z (1 - z)  (the pre-activation again)",
                   latex=r"\frac{d \sigma(z)}{dz} \overset{?}{=} z\,(1 - z)"),
    ]
    return out


if __name__ == "__main__":
    sys.exit(script_main(TITLE, identities))
