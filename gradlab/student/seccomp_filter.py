"""A seccomp filter that refuses ``socket(AF_INET | AF_INET6, ...)`` with EACCES and io_uring with ENOSYS.

Loaded BY PATH by the shim (standard library only, like frames.py), in the child, before the submission
is imported; it binds the shim and every process it starts, and cannot be removed. With bubblewrap's
network namespace it is defence in depth: a socket that could be made would reach only a private
loopback. Linux on x86_64 and aarch64 only; elsewhere ``install`` says why it did nothing.

Why io_uring: its operations are not system calls, so seccomp never sees them, and since Linux 5.19 a
ring can open and connect sockets itself (IORING_OP_SOCKET, IORING_OP_CONNECT): a ring would walk round
the socket rule. ``io_uring_setup``, ``io_uring_enter`` and ``io_uring_register`` (425, 426, 427 on both
x86_64 and aarch64, whose numbers come from asm-generic) are refused with ENOSYS, what a kernel built
without io_uring answers: every library that tries io_uring (liburing, libuv, tokio) already takes ENOSYS
as "not here" and falls back to ordinary calls, where EPERM may be reported as a hard error.

The classic-BPF program (struct seccomp_data: nr at offset 0, arch at 4, args[0] at 16):

     0  ld  [4]                     arch
     1  jeq AUDIT_ARCH, 0, eacces   another ABI (i386 calls on x86_64): refuse every call
     2  ld  [0]                     syscall number
     3  jge 0x40000000, eacces, 0   x32 ABI numbers: refuse
     4  jeq io_uring_setup, enosys, 0
     5  jeq io_uring_enter, enosys, 0
     6  jeq io_uring_register, enosys, 0
     7  jeq SYS_socket, 0, allow    not socket(): allow
     8  ld  [16]                    the address family (low 32 bits of args[0])
     9  jeq AF_INET, eacces, 0
    10  jeq AF_INET6, eacces, 0
    11  allow:  ret ALLOW
    12  enosys: ret ERRNO(ENOSYS)
    13  eacces: ret ERRNO(EACCES)
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
IO_URING = (425, 426, 427)  # io_uring_setup, io_uring_enter, io_uring_register: the same on x86_64 and aarch64
ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}  # (AUDIT_ARCH_*, __NR_socket)


def assemble(lines: list) -> bytes:
    """Pack (code, jt, jf, k) instructions as struct sock_filter (code u16, jt u8, jf u8, k u32); a jump
    target may be a label (a str line of ``lines``) or 0 (the next instruction)."""
    labels, pc = {}, 0
    for line in lines:
        if isinstance(line, str):
            labels[line] = pc
        else:
            pc += 1
    out, pc = [], 0
    for line in lines:
        if isinstance(line, str):
            continue
        code, jt, jf, k = line
        jt, jf = (labels[j] - pc - 1 if isinstance(j, str) else j for j in (jt, jf))
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        pc += 1
    return b"".join(out)


def program(arch: int, sys_socket: int) -> bytes:
    """The filter of the module docstring, for one architecture."""
    return assemble([
        (LD_ABS_W, 0, 0, 4), (JEQ_K, 0, "eacces", arch),
        (LD_ABS_W, 0, 0, 0), (JGE_K, "eacces", 0, 0x40000000),
        *((JEQ_K, "enosys", 0, nr) for nr in IO_URING),
        (JEQ_K, 0, "allow", sys_socket),
        (LD_ABS_W, 0, 0, 16), (JEQ_K, "eacces", 0, AF_INET), (JEQ_K, "eacces", 0, AF_INET6),
        "allow", (RET_K, 0, 0, RET_ALLOW),
        "enosys", (RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
        "eacces", (RET_K, 0, 0, RET_ERRNO | errno.EACCES),
    ])


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def unsupported() -> str | None:
    """Why this filter cannot run here (it is written for Linux x86_64 and aarch64), or None."""
    if platform.system() != "Linux" or platform.machine() not in ARCHES:
        return f"seccomp filter written for Linux x86_64/aarch64, this is {platform.system()} {platform.machine()}"
    return None


def install() -> str:
    """Install the filter in this process; return "applied" or "unavailable: <why>"."""
    if why := unsupported():
        return f"unavailable: {why}"
    code = program(*ARCHES[platform.machine()])
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"unavailable: prctl(NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        return f"unavailable: prctl(SECCOMP) failed: {os.strerror(ctypes.get_errno())}"
    return "applied"
