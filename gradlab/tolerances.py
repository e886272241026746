"""THE tolerance table: (dtype of the model under test, oracle) -> Tolerance, each with its reason.

A parameter passes when max_i |ours_i - oracle_i| / max(|oracle_i|, floor * max(1, max_j |oracle_j|))
<= rtol (compare.py).
Oracles always compute in float64 (complex128 for the complex step) on the exact same inputs, so
a float32 row measures OUR float32 rounding, plus the oracle's own error where it has one.

The error analysis behind the float64 numbers (u = 2^-53 ~ 1.1e-16):
- Two exact algorithms (BPTT against reverse or forward AD, RTRL, PyTorch, complex step) differ only
  by rounding in a different order. An entry of dL/dW_hh is a sum of T*B products through up to T
  Jacobian factors, so its error is ~ (T*B + T*H) u sum|terms|, relative to the LARGEST terms: hence
  the floor (compare.py), which judges an entry that is a near-cancellation against its parameter's
  gradient scale. `python benchmarks/tolerance_sweep.py` re-measures: on 150 random problems per
  model (T <= 12, B <= 4, D, H, V <= 8, entries at scales 0.1, 1 and 3, saturating tanh and gates) the
  worst were 5.3e-13 (jax-reverse) and 1.3e-13 (complex step), so 1e-11 and 1e-12 leave 8-20x margin,
  while the catalogued mistakes move gradients by 1e-1 to 1e1 relative.
- The regime: recurrent matrices drawn at scale/sqrt(H), as initialisers do. An expansive recurrence
  amplifies rounding geometrically (a GRU with W_h = -2.4 everywhere: ~3x per step, 5e-10 after 12
  steps, in every tool alike): that is a problem's conditioning, which these fixed numbers do not cover.
- Central differences: truncation h^2 |L'''|/6 plus rounding u |L|/h, with h = u^(1/3) max(1, |x|)
  ~ 6e-6: each ~ 1e-11 |L|, and |L| reaches 1e2-1e3 here; measured worst 3.6e-7 against rtol 1e-5.

The float32 rows: our float32 forward and backward carry ~ (T + H) u32 (u32 = 6e-8) relative error
through the recurrence, and 1 - h^2 for h near 1 loses digits to cancellation. Measured by the complex
step on 500 random problems per model (same regime): worst 1.2e-4 (GRU), 99th percentile 5e-5, against
rtol 1e-3. With unscaled recurrent matrices (entries up to 3 whatever H) the RNN's tail reached 6e-3:
outside the regime, as above.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tolerance(NamedTuple):
    rtol: float
    floor: float
    reason: str


ORACLES = ("jax-reverse", "jax-forward", "central", "complex-step", "rtrl", "forward-bias", "torch", "rounding",
           "optax", "torch-optim", "student-optim")

_EXACT64 = "two exact algorithms in float64 differ only by rounding order: measured <= 5.3e-13"
_F32 = "our float32 rounding through the recurrence; measured <= 1.2e-4 with saturating tanh"

TOLERANCES: dict[tuple[str, str], Tolerance] = {
    ("float64", "jax-reverse"): Tolerance(1e-11, 1e-2, _EXACT64),
    ("float64", "jax-forward"): Tolerance(1e-11, 1e-2, _EXACT64),
    ("float64", "rtrl"): Tolerance(1e-11, 1e-2, _EXACT64 + " (forward mode by hand)"),
    ("float64", "forward-bias"): Tolerance(1e-11, 1e-2, _EXACT64 + " (forward mode by hand)"),
    ("float64", "complex-step"): Tolerance(
        1e-12, 1e-1, "complex step has no cancellation: exact to rounding, as AD; 1e-12 as the issue demands. "
                     "Floor 1e-1: a near-zero entry is allowed rtol*floor = 1e-13 of its parameter's scale, as "
                     "with the other exact oracles; 1e-14 was below the rounding of a gradient that is exactly 0 "
                     "(dL/db_h when every row of W_hy is equal, T = B = 3: 1.2e-14 from the T*B summed terms)"),
    ("float64", "central"): Tolerance(
        1e-5, 1e-2, "central differences: truncation h^2|L'''|/6 + rounding u|L|/h, ~1e-8 absolute at h ~ 6e-6"),
    ("float64", "torch"): Tolerance(1e-11, 1e-2, _EXACT64 + " (PyTorch autograd in float64)"),
    ("float64", "rounding"): Tolerance(
        1e-11, 1e-2, "the same computation in another order, layout or precision (per-sequence loops, "
                     "complex128 on real inputs, a scaled upstream gradient): rounding only"),
    ("float64", "optax"): Tolerance(
        1e-12, 1e-2, "NumPy optimiser vs optax (XLA, x64) over 60 steps: the same elementwise arithmetic in another "
                     "order; measured <= 7.7e-14 on 18 configurations x 600 drawn problems; 1e-12 as issue 10 demands. "
                     "Centered RMSprop is held to 'rounding': nu - mu^2 cancels under repeated gradients (1.9e-12; "
                     "optax itself is 5e-13 from the exact value)"),
    ("float64", "torch-optim"): Tolerance(
        1e-12, 1e-2, "NumPy optimiser vs torch.optim in float64: the same arithmetic in another order; "
                     "measured <= 7.6e-14"),
    ("float64", "student-optim"): Tolerance(
        1e-10, 1e-2, "a student's NumPy optimiser vs gradlab's over 12 fixed steps (gradlab check --optimizer): the "
                     "same update written another way (0.1 for 1 - 0.9, Keras's v = mu v - lr g, sqrt(v)/sqrt(c2) for "
                     "sqrt(v/c2)), rounding only; measured <= 1.7e-14 on examples/optim, while the closest two "
                     "conventions or mistakes the checker tells apart differ by >= 2e-7 (tests/student/"
                     "test_optimizer_check.py)"),
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
