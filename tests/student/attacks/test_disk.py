"""Disk: a 5 GB file, many 60 MiB files and 3 GB in /dev/shm meet the per-file limit or the size-limited
tmpfs of tier A (256 MiB for the work directory and /tmp, 16 MiB for /dev/shm), and nothing is left."""

import pytest

from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("disk"))
def test_disk_attacks_meet_a_quota_and_leave_nothing_behind(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    health.assert_ok()  # includes: no file with the attack mark in /tmp, /dev/shm, /var/tmp
