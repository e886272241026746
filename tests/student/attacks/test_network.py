"""Network: a TCP connection to the grader's canary on 127.0.0.1 and datagrams to another address and to ::1
are refused (tier A: a private network namespace and the seccomp socket filter; tiers B and C: the filter).
The submission carries on and passes; the canaries must not have seen a byte."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("network"))
def test_sockets_are_refused_and_the_canaries_are_untouched(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: the canary sockets received nothing
