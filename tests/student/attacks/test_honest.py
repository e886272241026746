"""Honest submissions (.py, and .ipynb with magics) pass in the sandbox at every tier, leaving nothing behind.

Their overhead (time to verdict) is reported by benchmarks/attacks.py, not asserted here."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("honest"))
def test_an_honest_submission_passes_and_leaves_the_machine_as_it_was(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert result.sandbox["missing_layers"] == [], result.sandbox
    health.assert_ok()
