"""derivations/activations.py: tanh' and sigma' through the output; the pre-activation mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derivations import activations
from derivations._sym import prove, real, sigmoid

SCRIPT = Path(activations.__file__)


@pytest.fixture(scope="module")
def results():
    return activations.identities()


def test_every_identity_is_proved(results):
    for r in results:
        if r.expected_zero:
            assert r.proved, f"{r.qualname}: residual {r.residual_text} ({r.failing_case})"


def test_every_wrong_formula_is_shown_to_fail_with_a_numeric_witness(results):
    wrong = [r for r in results if not r.expected_zero]
    assert len(wrong) == 3
    for r in wrong:
        assert not r.proved and r.ok and r.witness > 1e-6, r.qualname


def test_tanh_derivative_from_the_preactivation_is_caught():
    z = real("z")
    r = prove("1 - z^2", 1 - z**2, sympy.diff(activations.tanh_exp(z), z), script="test", statement="",
              latex="")
    assert not r.proved and r.witness > 1e-6
    assert r.residual.has(z)


def test_sigmoid_derivative_missing_the_one_minus_s_factor_is_caught():
    z = real("z")
    s = activations.sigmoid_exp(z)
    r = prove("s only", s, sympy.diff(s, z), script="test", statement="", latex="")
    assert not r.proved and r.witness > 1e-6


def test_the_sigmoid_class_agrees_with_its_exp_form_at_a_point():
    value = sympy.Rational(3, 7)
    assert abs(sympy.N(sigmoid(value).rewrite(sympy.exp) - 1 / (1 + sympy.exp(-value)))) < 1e-15
    assert sympy.diff(sigmoid(real("z")), real("z")) == sigmoid(real("z")) * (1 - sigmoid(real("z")))


def test_the_script_runs_standalone_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[proved] tanh_derivative" in proc.stdout
    assert "residual (scalar z): -z**2 + tanh(z)**2" in proc.stdout
