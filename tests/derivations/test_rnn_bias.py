"""derivations/rnn_bias.py: BPTT = RTRL = direct for dL/db_h; the planted recursion mistakes."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derivations import rnn_bias
from derivations._sym import prove

SCRIPT = Path(rnn_bias.__file__)


def _prove(lhs, rhs):
    return prove("twin", lhs, rhs, script="test", statement="", latex="")


@pytest.fixture(scope="module")
def results():
    return rnn_bias.identities()


def test_every_identity_is_proved_on_all_twelve_cases(results):
    proved = [r for r in results if r.expected_zero]
    assert {r.name for r in proved} == {"bptt_equals_direct", "rtrl_equals_direct", "bptt_equals_rtrl"}
    for r in proved:
        assert r.proved, f"{r.qualname}: residual {r.residual_text} ({r.failing_case})"
        assert len(r.cases) == 12


def test_both_wrong_formulas_are_shown_to_fail_with_the_missing_recurrent_path(results):
    wrong = {r.name: r for r in results if not r.expected_zero}
    assert set(wrong) == {"bptt_without_recurrent_term", "rtrl_fed_total_dh"}
    for r in wrong.values():
        assert not r.proved and r.ok
    assert wrong["bptt_without_recurrent_term"].residual_text == "-W_hh*W_hy*L_2'(o_2)*phi'(z_1)*phi'(z_2)"


@pytest.mark.parametrize("cell", rnn_bias.CELLS)
def test_bptt_without_the_W_hh_term_is_caught_at_T_2(cell):
    u = rnn_bias.unroll(2, 2, 2, 2, cell)
    assert not _prove(rnn_bias.bptt_bias(u, recurrent=False), rnn_bias.direct_bias(u)).proved


def test_bptt_without_the_W_hh_term_is_invisible_at_T_1():
    """At T = 1 there is no recurrent path: the two formulas agree, so T >= 2 is needed to catch it."""
    u = rnn_bias.unroll(1, 1, 1, 1)
    assert _prove(rnn_bias.bptt_bias(u, recurrent=False), rnn_bias.direct_bias(u)).proved


def test_bptt_with_W_hh_where_W_hh_transpose_belongs_is_caught_at_H_2():
    u = rnn_bias.unroll(2, 2, 2, 2)
    dz_next, total = sympy.zeros(2, 1), sympy.zeros(2, 1)
    for dphi, e in zip(reversed(u.dphi), reversed(u.es)):
        dz_next = dphi.multiply_elementwise(e + u.W_hh * dz_next)  # the bug: no transpose
        total += dz_next
    assert not _prove(total, rnn_bias.direct_bias(u)).proved


def test_rtrl_fed_bptt_totals_double_counts():
    u = rnn_bias.unroll(2, 2, 2, 2, "tanh")
    assert not _prove(rnn_bias.rtrl_bias(u, rnn_bias.bptt_totals(u)), rnn_bias.direct_bias(u)).proved


def test_unknown_cell_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match="cell"):
        rnn_bias.unroll(1, 1, 1, 1, "relu")


def test_the_script_runs_standalone_and_exits_0(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[proved] bptt_equals_direct" in proc.stdout
    assert "[wrong formula (shown to fail)] bptt_without_recurrent_term" in proc.stdout
