"""System calls the seccomp filter refuses beyond socket(): io_uring, whose ring operations (IORING_OP_SOCKET,
IORING_OP_CONNECT) seccomp never sees. ``io_uring_setup`` is refused with ENOSYS at every tier where the filter
is installed (A, B, C), so the submission carries on and passes. Its twin runs the same submission with the
filter switched off and sees the ring created: the refusal is the filter's doing, not this kernel's."""

import ctypes
import dataclasses
import os

import pytest

from gradlab.student import isolation
from tests.student.attacks.catalogue import BY_NAME
from tests.student.attacks.conftest import assert_outcome, cases, run_attack


@pytest.mark.parametrize(("attack", "tier"), cases("syscalls"))
def test_io_uring_is_refused_where_the_seccomp_filter_applies(attack, tier, health, tmp_path):
    result = run_attack(attack, tier, health, tmp_path)
    assert_outcome(attack, result, tier)
    assert any(layer.startswith("seccomp filter") for layer in result.sandbox["layers"]), result.sandbox
    health.assert_ok()


def _kernel_allows_io_uring() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(425, 1, ctypes.create_string_buffer(120))
    if fd >= 0:
        os.close(fd)
    return fd >= 0


@pytest.mark.parametrize("tier", ["A", "C"])
def test_without_the_filter_the_same_submission_gets_a_ring(tier, health, tmp_path, monkeypatch):
    if not _kernel_allows_io_uring():
        pytest.skip("this kernel refuses io_uring by itself (CONFIG_IO_URING=n or kernel.io_uring_disabled)")
    off = isolation.Mechanism("seccomp", False, "switched off by this test")
    monkeypatch.setitem(isolation.probe().mechanisms, "seccomp", off)
    result = run_attack(dataclasses.replace(BY_NAME["io_uring_setup"], needs_seccomp=False), tier, health, tmp_path)
    assert result.verdict == "error" and "ESCAPED: io_uring_setup gave a ring" in result.error["message"], result.error
    health.assert_ok()
