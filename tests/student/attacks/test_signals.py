"""Signals: SIGKILL to its parent and kill(-1) reach only the sandbox's own pid namespace at tier A, so the
grader survives and the honest rest of the submission still passes. At tier B the run's own uid may not signal
the grader (EPERM), and kill(-1) reaches only that uid's processes (its other processes, never another run's: each
concurrent run has a uid of its own). At tier C they are not run at all (the grader's own uid, root here: they
would kill the grader or the machine): expected failures."""

import os

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("signals"))
def test_signals_from_the_sandbox_do_not_reach_the_grader(attack, tier, health, tmp_path):
    parent = os.getppid()
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert os.getppid() == parent and os.path.exists(f"/proc/{parent}")  # our own parent too
    health.assert_ok()
