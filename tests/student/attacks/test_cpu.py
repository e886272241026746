"""CPU and time: an infinite loop and a busy loop inside one numpy call meet the CPU limit; sleeping forever
meets the wall clock. The tier does not matter here: the rlimit and the parent's clock hold at every tier."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("cpu"))
def test_a_cpu_or_time_attack_is_stopped_with_its_reason(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert result.sandbox["wall_s"] < attack.limits.wall_s + 15  # stopped, not hung (a generous bound)
    health.assert_ok()
