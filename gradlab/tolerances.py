"""THE tolerance table: (dtype of the model under test, oracle) -> Tolerance, each with its reason.

A parameter passes when max_i |ours_i - oracle_i| / max(|oracle_i|, floor) <= rtol (compare.py).
Oracles always compute in float64 (complex128 for the complex step) on the exact same inputs, so
a float32 row measures OUR float32 rounding, plus the oracle's own error where it has one.

The error analysis behind the float64 numbers (u = 2^-53 ~ 1.1e-16):
- Two exact algorithms (BPTT against reverse or forward AD, RTRL, complex step) differ only by
  rounding in a different order. An entry of dL/dW_hh is a sum of T*B products through up to T
  Jacobian factors, so the error is ~ (T*B + T*H) u sum|terms|. For T <= 12, B, H <= 8 and weights
  up to 3 (tanh saturating) we measured at most 3e-14 relative (scripts in tests/test_tolerances.py
  re-measure it); 1e-10 leaves four orders of margin, while the smallest mistake in the catalogue
  (tanh' taken of z on one step) moves a gradient by 1e-3 or more.
- Central differences: truncation h^2 |L'''|/6 plus rounding u |L|/h, with h = u^(1/3) max(1, |x|)
  ~ 6e-6: each ~ 1e-11 |L| for these sizes, where |L| <= T*B*log(V)*(a few) ~ 1e3 => 1e-8 absolute.
- The floor is where relative error stops making sense: gradients below it are judged absolutely.

The float32 rows: our float32 forward and backward carry ~ (T + H) u32 (u32 = 6e-8) relative error
amplified by the recurrence's conditioning; with saturating tanh, 1 - h^2 for h near 1 loses digits to
cancellation (h = 1 - 3e-8 rounds to 1 and the derivative to 0). We measured up to 2e-4 relative on
Hypothesis-drawn problems with the floor at 1e-2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    rtol: float
    floor: float
    reason: str


ORACLES = ("jax-reverse", "jax-forward", "central", "complex-step", "rtrl", "forward-bias", "torch", "rounding")

_EXACT64 = "two exact algorithms in float64 differ only by rounding order: measured <= 3e-14"
_F32 = "our float32 rounding through the recurrence; measured <= 2e-4 with saturating tanh"

TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("float64", "jax-reverse"): Tolerance(1e-11, 1e-2, _EXACT64),
    ("float64", "jax-forward"): Tolerance(1e-11, 1e-2, _EXACT64),
    ("float64", "rtrl"): Tolerance(1e-11, 1e-2, _EXACT64 + " (forward mode by hand)"),
    ("float64", "forward-bias"): Tolerance(1e-11, 1e-2, _EXACT64 + " (forward mode by hand)"),
    ("float64", "complex-step"): Tolerance(
        1e-12, 1e-2, "complex step has no cancellation: exact to rounding, as AD; 1e-12 as the issue demands"),
    ("float64", "central"): Tolerance(
        1e-5, 1e-2, "central differences: truncation h^2|L'''|/6 + rounding u|L|/h, ~1e-8 absolute at h ~ 6e-6"),
    ("float64", "torch"): Tolerance(1e-11, 1e-2, _EXACT64 + " (PyTorch autograd in float64)"),
    ("float64", "rounding"): Tolerance(
        1e-11, 1e-2, "the same computation in another order, layout or precision (per-sequence loops, "
                     "complex128 on real inputs, a scaled upstream gradient): rounding only"),
    ("float32", "jax-reverse"): Tolerance(1e-3, 1e-2, _F32),
    ("float32", "jax-forward"): Tolerance(1e-3, 1e-2, _F32),
    ("float32", "rtrl"): Tolerance(1e-3, 1e-2, _F32 + ", both sides in float32"),
    ("float32", "forward-bias"): Tolerance(1e-3, 1e-2, _F32 + ", both sides in float32"),
    ("float32", "complex-step"): Tolerance(1e-3, 1e-2, _F32 + "; the complex step runs in complex128"),
    ("float32", "central"): Tolerance(1e-3, 1e-2, _F32 + "; differences run in float64"),
    ("float32", "torch"): Tolerance(1e-3, 1e-2, _F32 + "; PyTorch runs in float64"),
}


def tolerance(dtype, oracle: str) -> Tolerance:
    """The Tolerance for checking a model run in ``dtype`` against ``oracle``."""
    name = np.dtype(dtype).name
    if (name, oracle) not in TOLERANCES:
        known = sorted({d for d, _ in TOLERANCES})
        raise ValueError(f"tolerance: no entry for dtype {name!r} and oracle {oracle!r} "
                         f"(dtypes {known}, oracles {list(ORACLES)})")
    return TOLERANCES[(name, oracle)]
