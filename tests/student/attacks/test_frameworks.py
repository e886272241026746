"""Frameworks: importing jax or torch works within the limits (4 GiB of address space, 64 processes/threads)."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("frameworks"))
def test_importing_a_framework_works_in_the_sandbox(attack, tier, health, tmp_path):
    pytest.importorskip(attack.name.split("_")[1])
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()
