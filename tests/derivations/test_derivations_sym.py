"""derivations/_sym.py: the prove helper, residual simplification and the shared symbols."""

import pytest
import sympy

from derivations._sym import (
    activation,
    loss_function,
    matrix,
    named_function,
    prove,
    residual,
    show_wrong,
    sigmoid,
    vector,
    witness,
)


def test_vector_and_matrix_name_entries_and_keep_the_bare_name_at_size_1():
    assert str(vector("b_h", 1)[0]) == "b_h" and [str(s) for s in vector("b_h", 2)] == ["b_h1", "b_h2"]
    assert matrix("W_hy", 3, 2).shape == (3, 2) and str(matrix("W_hy", 3, 2)[2, 1]) == "W_hy32"


def test_residual_is_elementwise_for_matrices_and_rejects_mismatched_shapes():
    a = vector("a", 2)
    assert residual(a, a) == 0
    assert residual(a, sympy.Matrix([a[0], 0])) == sympy.Matrix([0, a[1]])
    with pytest.raises(ValueError, match="shapes differ"):
        residual(a, a.T)


def test_residuals_that_vanish_only_through_exp_rules_are_proved():
    a, b = sympy.symbols("a b", real=True)
    assert residual(sympy.exp(a + b), sympy.exp(a) * sympy.exp(b)) == 0
    assert residual(sympy.exp(-a) * (sympy.exp(a) + sympy.exp(2 * a)), 1 + sympy.exp(a)) == 0


def test_a_wrong_formula_is_ok_exactly_when_it_fails():
    z = sympy.Symbol("z", real=True)
    wrong = show_wrong("w", z, 2 * z, script="t", statement="", latex="")
    assert not wrong.proved and wrong.ok and wrong.kind == "wrong formula" and wrong.witness > 0
    holds = show_wrong("w", 2 * z, z + z, script="t", statement="", latex="")
    assert holds.proved and not holds.ok and holds.verdict == "wrong formula NOT shown to fail"


def test_generic_functions_differentiate_to_their_named_derivatives_and_have_no_witness():
    phi, dphi = activation()
    x = sympy.Symbol("x", real=True)
    assert sympy.diff(phi(x**2), x) == 2 * x * dphi(x**2)
    assert activation()[0] is phi  # cached: the same class, so applied functions compare equal
    assert witness(dphi(x) - x) is None
    L, partials = loss_function(1, 2)
    assert sympy.diff(L(x, x**2), x) == partials[0](x, x**2) + 2 * x * partials[1](x, x**2)


def test_named_functions_print_their_text_and_latex_forms():
    f = named_function("phi'", r"\varphi'")
    x = sympy.Symbol("x")
    assert str(f(x)) == "phi'(x)" and sympy.latex(f(x)) == r"\varphi'\left(x\right)"
    assert sympy.latex(sigmoid(x)) == r"\sigma\left(x\right)"


def test_prove_reports_the_first_failing_case_and_stops_there():
    z = sympy.Symbol("z", real=True)
    r = prove("p", z, z + 1, script="t", statement="", latex="", case="shifted")
    assert r.failing_case == "shifted" and r.residual == -1 and r.cases == ("shifted",)
