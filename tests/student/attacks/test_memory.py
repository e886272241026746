"""Memory: a 10 GiB allocation meets the address-space limit (MemoryError) and the grader's RSS stays put;
processes that each stay under the address-space limit but together pass the run's total meet the
cgroup memory limit (tier A here) or the RSS watchdog over every descendant."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("memory"))
def test_a_memory_attack_is_stopped_and_the_grader_allocates_nothing(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: the grader's peak RSS grew by less than 200 MiB
