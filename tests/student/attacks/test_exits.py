"""Exits: sys.exit(0) and os._exit(0) at import are never a pass."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("exits"))
def test_exiting_at_import_is_never_a_pass(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert result.exit_code == 2
    health.assert_ok()
