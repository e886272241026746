"""derivations/output_layer.py: sum_t (p_t - y_t) and sum_t (p_t - y_t) h_t^T; the = vs += mistake."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derivations import output_layer
from derivations._sym import prove

SCRIPT = Path(output_layer.__file__)


@pytest.fixture(scope="module")
def results():
    return output_layer.identities()


@pytest.fixture(scope="module")
def layer():
    return output_layer.layer(2)


def test_every_identity_is_proved(results):
    for r in results:
        if r.expected_zero:
            assert r.proved, f"{r.qualname}: residual {r.residual_text} ({r.failing_case})"
    assert {r.name for r in results} >= {"grad_b_y", "grad_W_hy", "grad_h"}


def test_the_last_step_only_entry_is_shown_to_fail(results):
    (wrong,) = [r for r in results if not r.expected_zero]
    assert not wrong.proved and wrong.ok and wrong.witness > 1e-6


def test_bias_gradient_with_p_and_no_targets_is_caught(layer):
    wrong = sum(layer["ps"], sympy.zeros(2, 1))
    r = prove("sum p", wrong, output_layer.gradient(layer["L"], layer["b_y"]), script="test", statement="",
              latex="")
    assert not r.proved and r.witness > 1e-6


def test_weight_gradient_transposed_outer_product_is_caught(layer):
    """h_t (p_t - y_t)^T has the shape (H, V) = (2, 2) here, so only the values can tell."""
    wrong = sum(((h * (p - y).T) for h, p, y in zip(layer["hs"], layer["ps"], layer["ys"])), sympy.zeros(2, 2))
    r = prove("transposed", wrong, output_layer.gradient(layer["L"], layer["W_hy"]), script="test",
              statement="", latex="")
    assert not r.proved and r.witness > 1e-6


def test_the_script_runs_standalone_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[proved] grad_W_hy" in proc.stdout
