"""Problem sizes shared by every model: T steps, B sequences, D inputs, H hidden units, V outputs."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Sizes(NamedTuple):
    """T time steps, B batch rows, D input features, H hidden units, V output classes."""

    T: int
    B: int
    D: int
    H: int
    V: int

    @classmethod
    def parse(cls, text: str) -> Sizes:
        """Parse "T,B,D,H,V", e.g. "5,3,4,6,7"; every size must be a positive integer."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 5 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"sizes: expected five positive integers T,B,D,H,V such as 5,3,4,6,7, got {text!r}")
        return cls(*(int(p) for p in parts))

    def validate(self) -> Sizes:
        for name, value in self._asdict().items():
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"sizes.{name}: expected a positive integer, got {value!r}")
        return self

    def __str__(self) -> str:
        return ",".join(str(v) for v in self)


def uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype) -> np.ndarray:
    """U(-bound, bound) samples of ``dtype`` (PyTorch's RNN init uses bound = 1/sqrt(H))."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        raise TypeError(f"dtype: expected a float or complex dtype such as float64, got {dtype}")
    return dtype
