"""gradlab/student/frames.py: the framed-array protocol refuses what it must, before allocating."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest

from gradlab.student import frames
from gradlab.student.frames import FrameError, Spec


def _header(count: int) -> bytes:
    return frames.MAGIC + struct.pack("<I", count)


def _array_header(name: bytes, kind: bytes, itemsize: int, shape: tuple[int, ...]) -> bytes:
    return (struct.pack("<H", len(name)) + name + struct.pack("<cBB", kind, itemsize, len(shape))
            + struct.pack(f"<{len(shape)}Q", *shape))


def test_arrays_of_every_allowed_kind_round_trip():
    arrays = {"f": np.arange(6.0).reshape(2, 3), "i": np.array([-1, 2], np.int64), "u": np.arange(3, dtype=np.uint8),
              "b": np.array([True, False]), "f32": np.ones((2, 1), np.float32), "scalar": np.array(2.5)}
    back = frames.decode(frames.encode(arrays))
    assert list(back) == list(arrays)
    for k, a in arrays.items():
        assert back[k].dtype == a.dtype and back[k].shape == a.shape and np.array_equal(back[k], a)


@pytest.mark.parametrize("array", [np.array([object()], dtype=object), np.array(["text"]), np.array([1j])])
def test_object_string_and_complex_arrays_cannot_be_sent(array):
    with pytest.raises(FrameError, match="cannot travel"):
        frames.encode({"x": array})


def test_a_declared_80_gb_array_is_refused_before_anything_is_allocated():
    data = _header(1) + _array_header(b"out0", b"f", 8, (10**10,)) + b"\0" * 64
    tracemalloc.start()
    with pytest.raises(FrameError, match="declared"):
        frames.decode(data, {"out0": Spec("f", shape=(100,))})
    with pytest.raises(FrameError, match="bytes, at most"):
        frames.decode(data)  # no expected shape: the per-array byte limit still refuses it
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04" + b"\0" * 20, "bad magic"),
    (_header(65), "declares 65 arrays"),
    (_header(1) + _array_header(b"out0", b"O", 8, (1,)) + b"\0" * 8 + frames.END, "dtype kind 'O'"),
    (_header(1) + _array_header(b"out0", b"f", 3, (1,)) + b"\0" * 3 + frames.END, "itemsize 3"),
    (_header(1) + _array_header(b"x" * 65, b"f", 8, (1,)), "1 to 64"),
    (_header(1) + _array_header(b"out0", b"f", 8, (2,)) + b"\0" * 8, "truncated"),
    (_header(1) + _array_header(b"out0", b"f", 8, (1,) * 9), "9 dimensions"),
    (_header(2) + (_array_header(b"out0", b"f", 8, (1,)) + b"\0" * 8) * 2 + frames.END, "appears twice"),
    (_header(1) + _array_header(b"out0", b"f", 8, (1,)) + b"\0" * 8 + frames.END + b"GLF1", "after the end"),
    (_header(1) + _array_header(b"evil", b"f", 8, (1,)) + b"\0" * 8 + frames.END, "unexpected array 'evil'"),
])
def test_malformed_and_forged_messages_are_refused_with_the_reason(data, message):
    with pytest.raises(FrameError, match=message):
        frames.decode(data, None if "evil" not in message and "twice" not in message else {"out0": Spec("f")})


def test_a_shape_other_than_expected_and_a_missing_array_are_refused():
    data = frames.encode({"out0": np.zeros(3)})
    with pytest.raises(FrameError, match=r"declared shape \(3,\), expected \(4,\)"):
        frames.decode(data, {"out0": Spec("f", shape=(4,))})
    with pytest.raises(FrameError, match="missing array 'status'"):
        frames.decode(data, {"out0": Spec("f", shape=(3,)), "status": Spec("i", shape=(1,))})
    with pytest.raises(FrameError, match="expected one of 'i'"):
        frames.decode(data, {"out0": Spec("i", shape=(3,))})


def test_text_travels_as_uint8_and_is_cut_to_its_limit():
    a = frames.text_array("héllo" * 10, 7)
    assert a.dtype == np.uint8 and a.size == 7
    assert frames.array_text(frames.text_array("héllo", 100)) == "héllo"
