"""Filesystem: the grader's files (a secret beside the grader, /etc/shadow, gradlab's own source) and the
grader in /proc are out of sight at tier A, and site-packages is read-only there; tier C cannot promise
either (same uid, no private filesystem): those are expected failures."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("filesystem"))
def test_the_graders_files_are_out_of_reach(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: nothing planted in site-packages
