"""derivations/gates.py: LSTM and GRU one-step formulas; the planted gate mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derivations import gates
from derivations._sym import prove

SCRIPT = Path(gates.__file__)


def _prove(lhs, rhs):
    return prove("twin", lhs, rhs, script="test", statement="", latex="")


@pytest.fixture(scope="module")
def results():
    return gates.identities()


def test_every_identity_is_proved_for_every_cell(results):
    proved = [r for r in results if r.expected_zero]
    for prefix in ("lstm_", "gru_after_", "gru_before_"):
        assert any(r.name.startswith(prefix) for r in proved)
    for r in proved:
        assert r.proved, f"{r.qualname}: residual {r.residual_text} ({r.failing_case})"


def test_every_wrong_formula_is_shown_to_fail(results):
    wrong = [r for r in results if not r.expected_zero]
    assert {r.name for r in wrong} == {"lstm_df_uses_c", "gru_z_swapped", "gru_db_hn_equals_db_in"}
    assert all(not r.proved and r.ok and r.witness > 1e-6 for r in wrong)


@pytest.mark.parametrize("H", gates.SIZES)
def test_lstm_df_with_c_instead_of_c_prev_is_caught(H):
    st = gates.lstm(H)
    assert not _prove(gates.odot(st.hand["c"], st.values["c"]), st.auto["f"]).proved


def test_lstm_dc_without_the_dc_next_carry_is_caught():
    st = gates.lstm(1)
    assert not _prove(st.hand["c"] - st.values["dc_next"], st.auto["c"]).proved


@pytest.mark.parametrize("build", [gates.gru_after, gates.gru_before])
def test_gru_with_z_and_one_minus_z_swapped_is_caught(build):
    st = build(1)
    dh, z, n, h = st.values["dh"], st.values["z"], st.values["n"], st.values["h_prev"]
    one = sympy.ones(1, 1)
    assert not _prove(gates.odot(dh, z), st.auto["n"]).proved
    assert not _prove(gates.odot(dh, n - h), st.auto["z"]).proved
    assert _prove(gates.odot(dh, one - z), st.auto["n"]).proved  # and the right one holds


def test_reset_after_dr_applied_to_reset_before_agrees_only_when_H_is_1():
    """dr = da_n * (U_n h) (reset-after) vs dr = (U_n^T da_n) * h (reset-before): equal for scalars."""
    for H, same in ((1, True), (2, False)):
        st = gates.gru_before(H)
        U_n = gates.blocks(st.values["W_h"], 3)[2]
        wrong = gates.odot(st.hand["a_n"], U_n * st.values["h_prev"])
        assert _prove(wrong, st.auto["r"]).proved is same, H


def test_the_script_runs_standalone_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[proved] lstm_df" in proc.stdout
    assert "residual (H=D=1): (c - c_prev)*(dc_next - dh*o*tanh(c)**2 + dh*o)" in proc.stdout
