"""Results: NaN and inf, wrong shapes, object arrays, forged frames, a pickle and an .npz zip bomb written to
the result pipe are all refused, before anything is allocated for them (the grader's RSS stays put), and
the pickle never runs."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("results"))
def test_forged_or_malformed_results_are_refused_before_allocating(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: no /tmp/gradlab-attack-pickle-ran, peak RSS bounded
