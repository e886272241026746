"""The attack suite's fixtures: the machine's health around each attack, and one runner for every family.

``health`` (health.py) takes a snapshot before the attack and ``health.assert_ok()`` (called in the test
body, so that an expected failure of a tier covers it too) asserts afterwards: no process of ours left, no
file with the attack mark in /tmp, /dev/shm, /var/tmp or site-packages, no sandbox directory left, the
grader's peak RSS grown by less than 200 MiB, and the canary sockets (a TCP listener on 127.0.0.1 and a
UDP socket on ::1) never touched. Whatever the assertion says, the teardown removes what was left.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from gradlab.student import check, isolation, seccomp_filter
from tests.student.attacks.catalogue import ATTACKS, Attack, source
from tests.student.attacks.health import Health

TIERS = ("A", "B", "C")


def cases(family: str) -> list:
    """pytest params (attack, tier) of one family, for every tier; see ``tier_params``."""
    return [pytest.param(a, p.values[0], marks=p.marks, id=f"{a.name}-{p.id}")
            for a in ATTACKS if a.family == family for p in tier_params(a)]


def tier_params(attack: Attack) -> list:
    """pytest params for each tier: lost -> expected failure, unsafe -> expected failure not run, slow marks."""
    params = []
    for tier in TIERS:
        marks = []
        if tier in attack.unsafe:
            marks.append(pytest.mark.xfail(reason=f"tier {tier} cannot promise this: {attack.unsafe[tier]}",
                                           run=False))
        elif tier in attack.gap:
            marks.append(pytest.mark.xfail(reason=f"known gap at tier {tier}: {attack.gap[tier]}", strict=True))
        elif tier in attack.lost:
            marks.append(pytest.mark.xfail(reason=f"tier {tier} cannot promise this: {attack.lost[tier]}",
                                           strict=False))
        if tier in attack.slow_tiers:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(tier, marks=marks, id=tier))
    return params


def require_tier(tier: str) -> None:
    """Skip (with the reason and the fix) when this machine cannot give ``tier``."""
    probe = isolation.probe()
    needs = {"A": "bubblewrap", "B": "dedicated-uid"}.get(tier)
    if needs and not probe.ok(needs):
        m = probe.mechanisms[needs]
        pytest.skip(f"tier {tier} is not available here ({needs}: {m.detail}; fix: {m.fix})")


def process_cap(tier: str) -> bool:
    """Whether the kernel caps a run's processes at ``tier`` here: a cgroup's pids.max (tier A) or RLIMIT_NPROC
    (which binds the dedicated uid of tier B, and a grader that is not root, but never uid 0)."""
    return os.getuid() != 0 or tier == "B" or (tier == "A" and isolation.probe().ok("cgroup"))


@pytest.fixture
def health(monkeypatch, tmp_path):  # tmp_path first: it must not live in the patched tempdir
    """The machine's health around one attack (see the module docstring); always cleaned up afterwards."""
    h = Health()
    monkeypatch.setattr(tempfile, "tempdir", h.base)  # other graders on this machine use /tmp at the same time
    try:
        yield h
    finally:
        h.cleanup()


def run_attack(attack: Attack, tier: str, health: Health, tmp_path: Path):
    """Write the attack's submission and check it at ``tier``; the CheckResult."""
    require_tier(tier)
    if attack.needs_process_cap and not process_cap(tier):
        pytest.skip(f"not run at tier {tier} here: as root without a writable cgroup nothing caps processes")
    if attack.needs_seccomp and (why := seccomp_filter.unsupported()):  # (not the probe: it fails a broken filter)
        pytest.skip(f"not run here: {why}")
    path = tmp_path / f"{attack.name}{attack.suffix}"
    path.write_text(source(attack, health.tokens(tier)))
    return check(path, limits=attack.limits, tier=tier)


def assert_outcome(attack: Attack, result, tier: str) -> None:
    """The verdict (and error kind and words) ``attack`` promises, at the tier the run actually had."""
    assert result.sandbox is None or result.sandbox["tier"] == tier, result.sandbox
    got = result.error if result.verdict == "error" else None
    assert result.verdict == attack.verdict, f"verdict {result.verdict}, expected {attack.verdict}: {got}"
    if attack.verdict == "error":
        assert result.error["kind"] in attack.kinds, result.error
        assert attack.words in result.error["message"], result.error["message"]
