"""CPU and time: an infinite loop and a busy loop inside one numpy call meet the CPU limit; a loop that ignores
SIGXCPU is SIGKILLed at the hard limit and is still reported as the CPU limit; sleeping forever meets the wall
clock. The tier does not matter here: the rlimit and the parent's clock hold at every tier. The CPU time a
result reports is the run's own at every tier (at tier A, bubblewrap's wait4 alone reads ~0: the cgroup's
accounting or the watchdog's samples of /proc give it), and telling SIGKILL at the hard limit from a crash
depends on it."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("cpu"))
def test_a_cpu_or_time_attack_is_stopped_with_its_reason(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert result.sandbox["wall_s"] < attack.limits.wall_s + 15  # stopped, not hung (a generous bound)
    if result.error["kind"] == "cpu_limit":
        assert result.sandbox["cpu_s"] >= attack.limits.cpu_s - 0.1, result.sandbox
    health.assert_ok()
