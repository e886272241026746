"""Processes: a fork bomb is capped (cgroup pids.max at tier A, RLIMIT_NPROC on the run's own uid at tier B; it does
not bind root) and none is left; 3,000 threads are capped; a setsid daemon and a plain child are killed after a
correct check (tier B: every process of the run's uid)."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("processes"))
def test_processes_are_capped_and_none_survives_the_check(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: no process descended from the grader is left
