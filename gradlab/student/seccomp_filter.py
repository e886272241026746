"""A seccomp filter that refuses ``socket(AF_INET | AF_INET6, ...)`` with EACCES, installed through ctypes.

Loaded BY PATH by the shim (standard library only, like frames.py), in the child, before the submission
is imported; it binds the shim and every process it starts, and cannot be removed. With bubblewrap's
network namespace it is defence in depth: a socket that could be made would reach only a private
loopback. Linux on x86_64 and aarch64 only; elsewhere ``install`` says why it did nothing.

The classic-BPF program (struct seccomp_data: nr at offset 0, arch at 4, args[0] at 16):

    0  ld  [4]                     arch
    1  jeq AUDIT_ARCH, 0, 7        another ABI (i386 calls on x86_64): refuse every call
    2  ld  [0]                     syscall number
    3  jge 0x40000000, 5, 0        x32 ABI numbers: refuse
    4  jeq SYS_socket, 0, 3        not socket(): allow
    5  ld  [16]                    the address family (low 32 bits of args[0])
    6  jeq AF_INET, 2, 0
    7  jeq AF_INET6, 1, 0
    8  ret ALLOW
    9  ret ERRNO(EACCES)
"""

import ctypes
import errno
import os
import platform
import struct

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_ABS_W, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
AF_INET, AF_INET6 = 2, 10
ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}  # (AUDIT_ARCH_*, __NR_socket)


def program(arch: int, sys_socket: int) -> bytes:
    """The filter as packed struct sock_filter entries (code u16, jt u8, jf u8, k u32)."""
    insns = [(LD_ABS_W, 0, 0, 4), (JEQ_K, 0, 7, arch), (LD_ABS_W, 0, 0, 0), (JGE_K, 5, 0, 0x40000000),
             (JEQ_K, 0, 3, sys_socket), (LD_ABS_W, 0, 0, 16), (JEQ_K, 2, 0, AF_INET), (JEQ_K, 1, 0, AF_INET6),
             (RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_ERRNO | errno.EACCES)]
    return b"".join(struct.pack("=HBBI", *i) for i in insns)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> str:
    """Install the filter in this process; return "applied" or "unavailable: <why>"."""
    machine = platform.machine()
    if platform.system() != "Linux" or machine not in ARCHES:
        return f"unavailable: seccomp filter written for Linux x86_64/aarch64, this is {platform.system()} {machine}"
    code = program(*ARCHES[machine])
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"unavailable: prctl(NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        return f"unavailable: prctl(SECCOMP) failed: {os.strerror(ctypes.get_errno())}"
    return "applied"
