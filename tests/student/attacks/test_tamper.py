"""Tampering: monkeypatching numpy in the child (allclose, abs, max, testing) changes nothing, because every
comparison happens in the parent: a wrong gradient stays wrong."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("tamper"))
def test_monkeypatching_numpy_does_not_change_the_verdict(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert any(not p["ok"] for p in result.to_dict()["params"])
    health.assert_ok()
