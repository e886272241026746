"""The framed-array protocol between the grader and the sandboxed child: named numeric arrays, no pickle.

One message is a header, then the arrays, then an end marker (all integers little-endian):

    b"GLF1"  u32 count
    per array:  u16 name length, name (ASCII)      at most MAX_NAME bytes
                u8 kind (b, i, u or f), u8 itemsize, u8 ndim, ndim x u64 dims     ndim <= MAX_NDIM
                prod(dims) * itemsize bytes, C order
    b"GLFE"

``decode`` trusts nothing it reads: it checks every declared name, kind, itemsize and shape against
the ``expected`` specs and the byte limits BEFORE it slices or allocates, so a forged header that
declares 80 GB costs nothing. Only kinds b/i/u/f exist (no object, no pickle, no np.load). Text, such
as the child's JSON report, travels as a uint8 array.

This file is loaded by the child's shim by path (``python -I`` puts no package on sys.path), so it
imports only the standard library and NumPy.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

MAGIC, END = b"GLF1", b"GLFE"
KINDS = "biuf"
ITEMSIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (4, 8)}
MAX_NAME = 64
MAX_NDIM = 8
MAX_ARRAYS = 64  # the defaults of SANDBOX.md: 64 arrays, 16 MiB each, 64 MiB in all
MAX_ARRAY_BYTES = 16 << 20
MAX_TOTAL_BYTES = 64 << 20
_HEADER_PER_ARRAY = 2 + MAX_NAME + 3 + 8 * MAX_NDIM


def max_message_bytes(max_arrays: int = MAX_ARRAYS, max_total: int = MAX_TOTAL_BYTES) -> int:
    """The most bytes a valid message can have: what the reader should read before it gives up."""
    return len(MAGIC) + 4 + max_arrays * _HEADER_PER_ARRAY + max_total + len(END)


class FrameError(ValueError):
    """A message that breaks the protocol: malformed, too large, or not what was expected."""


class Spec(NamedTuple):
    """What one expected array may be: dtype kinds, and an exact shape or a maximum element count."""

    kinds: str
    shape: tuple[int, ...] | None = None  # exact shape, checked before allocating
    max_elements: int | None = None  # when the shape may vary (1-D text)
    required: bool = True


def encode(arrays: Mapping[str, np.ndarray]) -> bytes:
    """One message holding ``arrays`` (name -> numeric array); raises FrameError on what cannot travel."""
    parts = [MAGIC, struct.pack("<I", len(arrays))]
    for name, a in arrays.items():
        a = np.asarray(a, order="C")  # (ascontiguousarray would turn a 0-d array into 1-d)
        raw = name.encode("ascii")
        if not 0 < len(raw) <= MAX_NAME:
            raise FrameError(f"array name {name!r}: expected 1 to {MAX_NAME} ASCII characters")
        if a.dtype.kind not in KINDS or a.dtype.itemsize not in ITEMSIZES[a.dtype.kind]:
            raise FrameError(f"array {name!r}: dtype {a.dtype} cannot travel (kinds b, i, u, f only)")
        if a.ndim > MAX_NDIM:
            raise FrameError(f"array {name!r}: {a.ndim} dimensions, at most {MAX_NDIM}")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        parts += [struct.pack("<H", len(raw)), raw,
                  struct.pack("<cBB", a.dtype.kind.encode(), a.dtype.itemsize, a.ndim),
                  struct.pack(f"<{a.ndim}Q", *a.shape), a.tobytes()]
    parts.append(END)
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = memoryview(data), 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise FrameError(f"message truncated: {what} needs {n} bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def decode(data: bytes, expected: Mapping[str, Spec] | None = None, *, max_arrays: int = MAX_ARRAYS,
           max_array_bytes: int = MAX_ARRAY_BYTES, max_total: int = MAX_TOTAL_BYTES) -> dict[str, np.ndarray]:
    """The arrays of one message, each checked before it is allocated.

    ``expected`` maps every allowed name to its Spec (None: any name, any shape, within the limits).
    Raises FrameError naming what was wrong: bad magic, a count over ``max_arrays``, an unknown or
    repeated name, a kind outside b/i/u/f, a shape other than expected, a declared size over the
    limits, truncation, a missing required array, or bytes after the end marker.
    """
    if len(data) > max_message_bytes(max_arrays, max_total):
        raise FrameError(f"message of {len(data)} bytes is over the {max_total}-byte limit")
    r = _Reader(data)
    if bytes(r.take(4, "magic")) != MAGIC:
        raise FrameError("not a gradlab result frame (bad magic)")
    (count,) = r.unpack("<I", "count")
    if count > max_arrays:
        raise FrameError(f"message declares {count} arrays, at most {max_arrays}")
    out: dict[str, np.ndarray] = {}
    total = 0
    for _ in range(count):
        (n,) = r.unpack("<H", "name length")
        if not 0 < n <= MAX_NAME:
            raise FrameError(f"array name of {n} bytes (1 to {MAX_NAME})")
        try:
            name = bytes(r.take(n, "name")).decode("ascii")
        except UnicodeDecodeError:
            raise FrameError("array name is not ASCII") from None
        if name in out:
            raise FrameError(f"array {name!r} appears twice")
        spec = None if expected is None else expected.get(name)
        if expected is not None and spec is None:
            raise FrameError(f"unexpected array {name!r} (expected {sorted(expected)})")
        kind_b, itemsize, ndim = r.unpack("<cBB", "dtype")
        kind = kind_b.decode("latin-1")
        if kind not in KINDS or itemsize not in ITEMSIZES[kind]:
            raise FrameError(f"array {name!r}: dtype kind {kind!r} itemsize {itemsize} refused (b, i, u, f only)")
        if spec is not None and kind not in spec.kinds:
            raise FrameError(f"array {name!r}: dtype kind {kind!r}, expected one of {spec.kinds!r}")
        if ndim > MAX_NDIM:
            raise FrameError(f"array {name!r}: {ndim} dimensions, at most {MAX_NDIM}")
        shape = tuple(int(d) for d in r.unpack(f"<{ndim}Q", "shape"))
        nbytes = itemsize
        for d in shape:
            nbytes *= d  # Python ints: no overflow, whatever is declared
        if spec is not None and spec.shape is not None and shape != tuple(spec.shape):
            raise FrameError(f"array {name!r}: declared shape {shape}, expected {tuple(spec.shape)}")
        if spec is not None and spec.max_elements is not None and nbytes // itemsize > spec.max_elements:
            raise FrameError(f"array {name!r}: declared {nbytes // itemsize} elements, at most {spec.max_elements}")
        if nbytes > max_array_bytes:
            raise FrameError(f"array {name!r}: declared {nbytes} bytes, at most {max_array_bytes}")
        total += nbytes
        if total > max_total:
            raise FrameError(f"message declares {total} bytes of arrays, at most {max_total}")
        raw = r.take(nbytes, f"array {name!r}")
        dtype = np.dtype(f"<{kind}{itemsize}") if kind != "b" else np.dtype(bool)
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if bytes(r.take(4, "end marker")) != END:
        raise FrameError("bad end marker")
    if r.pos != len(data):
        raise FrameError(f"{len(data) - r.pos} bytes after the end of the message (one message expected)")
    for name, spec in (expected or {}).items():
        if spec.required and name not in out:
            raise FrameError(f"missing array {name!r}")
    return out


def text_array(text: str, limit: int) -> np.ndarray:
    """UTF-8 text as a uint8 array, cut to ``limit`` bytes."""
    return np.frombuffer(text.encode("utf-8", "replace")[:limit], dtype=np.uint8)


def array_text(a: np.ndarray) -> str:
    return a.astype(np.uint8, copy=False).tobytes().decode("utf-8", "replace")
