"""derivations/softmax_ce.py: p - y, diag(p) - pp^T, log-sum-exp shift; and the planted mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derivations import softmax_ce
from derivations._sym import Case, prove, prove_cases, vector

SCRIPT = Path(softmax_ce.__file__)


@pytest.fixture(scope="module")
def results():
    return softmax_ce.identities()


def test_every_identity_is_proved(results):
    for r in results:
        if r.expected_zero:
            assert r.proved, f"{r.qualname}: residual {r.residual_text} ({r.failing_case})"


def test_the_wrong_formula_entry_is_shown_to_fail_and_still_counts_as_ok(results):
    wrong = [r for r in results if not r.expected_zero]
    assert wrong and all(not r.proved and r.ok for r in wrong)
    assert all(r.ok for r in results)


def test_gradient_p_without_minus_y_leaves_the_one_hot_as_residual():
    r = prove_cases("p_only", softmax_ce.ce_gradient_cases(wrong=True), script="test", statement="", latex="")
    assert not r.proved
    assert r.residual == sympy.eye(2)  # K = 2, rows y, columns k: exactly [k = y]


def test_jacobian_without_the_outer_product_is_caught():
    o = vector("o", 3)
    p = softmax_ce.softmax(o)
    r = prove("diag_only", sympy.diag(*p), p.jacobian(o), script="test", statement="", latex="")
    assert not r.proved and r.witness > 0


def test_shift_without_adding_c_back_is_caught():
    o, c = vector("o", 3), sympy.Symbol("c", real=True)
    shifted = softmax_ce.logsumexp(o - c * sympy.ones(3, 1))
    r = prove_cases("no_c", [Case("K=3", shifted, softmax_ce.logsumexp(o))], script="test", statement="",
                    latex="")
    assert not r.proved and r.witness > 0


def test_the_script_runs_standalone_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[proved] ce_gradient" in proc.stdout
    assert "wrong formula (shown to fail)" in proc.stdout
