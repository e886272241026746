"""Output: gigabytes printed to stdout are killed at the 16 MiB cap; the grader keeps only the first 64 KiB."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("output"))
def test_gigabytes_of_output_are_cut_off(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert len(result.output["stdout"]) <= 64 << 10
    health.assert_ok()
