"""Finite-difference gradients of the NumPy forward: central differences and the complex step.

Central differences, per element i of a parameter with value x:

    g_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,   h = eps^(1/3) max(1, |x|)

The error is truncation h^2 |L'''| / 6 plus rounding eps |L| / h, smallest near h ~ eps^(1/3): about
1e-11 |L| relative in float64 (see tolerances.py).

Complex step (Squire & Trapp 1998), for a function that is real on real inputs and holomorphic:

    g_i = Im L(x + i h e_i) / h,   h = 1e-30

There is no subtraction, hence no cancellation: the result is exact to rounding whatever h, so long
as the forward keeps complex numbers holomorphic (no abs, no conj; softmax shifts by max of Re).

Both run in float64 (complex128 for the complex step) whatever dtype the model is checked in: the
oracle is the derivative of the same function, computed as accurately as the machine allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

CENTRAL_EPS_POWER = 1.0 / 3.0
COMPLEX_STEP = 1e-30

LossFn = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _as(theta: Mapping[str, np.ndarray], dtype, probe=None) -> dict[str, np.ndarray]:
    """A private copy of theta in ``dtype``, after checking theta and probe."""
    if not isinstance(theta, Mapping):
        raise TypeError(f"theta: expected a dict of numpy arrays, got {type(theta).__name__}")
    for k, v in theta.items():
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "biufc":
            raise TypeError(f"theta[{k!r}]: expected a numeric numpy array, got {type(v).__name__}")
    unknown = [k for k in (probe or {}) if k not in theta]
    if unknown:
        raise ValueError(f"probe: expected names from {sorted(theta)}, got unknown {unknown}")
    return {k: np.array(v, dtype=dtype) for k, v in theta.items()}


def central_step(x: np.ndarray) -> np.ndarray:
    """h = eps^(1/3) max(1, |x|), per element (float64 eps)."""
    return np.finfo(np.float64).eps ** CENTRAL_EPS_POWER * np.maximum(1.0, np.abs(x))


def entries(x: np.ndarray, flat_indices) -> np.ndarray:
    """The flat indices to probe in x: all of them when ``flat_indices`` is None."""
    return np.arange(x.size) if flat_indices is None else np.asarray(flat_indices, dtype=np.intp)


def central_differences(loss: LossFn, theta: Mapping[str, np.ndarray], probe=None) -> dict[str, np.ndarray]:
    """dL/dtheta by central differences, two forwards per probed element.

    ``probe`` maps a name to the flat indices to probe (default: every element of every entry);
    elements not probed are NaN in the result, so comparisons skip them.
    """
    theta = _as(theta, np.float64, probe)
    grads = {}
    for name in probe or theta:
        x = theta[name].reshape(-1)  # a view: writes reach theta[name]
        g = np.full(x.shape, np.nan)
        for i in entries(x, (probe or {}).get(name)):
            x0, h = x[i], central_step(x[i])
            x[i] = x0 + h
            up = float(loss(theta))
            x[i] = x0 - h
            down = float(loss(theta))
            x[i] = x0
            g[i] = (up - down) / (2 * h)
        grads[name] = g.reshape(theta[name].shape)
    return grads


def complex_step(loss: LossFn, theta: Mapping[str, np.ndarray], probe=None) -> dict[str, np.ndarray]:
    """dL/dtheta by Im L(x + i h e_i) / h with h = 1e-30: one complex forward per probed element."""
    theta = _as(theta, np.complex128, probe)
    grads = {}
    for name in probe or theta:
        x = theta[name].reshape(-1)
        g = np.full(x.shape, np.nan)
        for i in entries(x, (probe or {}).get(name)):
            x0 = x[i]
            x[i] = x0 + 1j * COMPLEX_STEP
            g[i] = np.imag(loss(theta)) / COMPLEX_STEP
            x[i] = x0
        grads[name] = g.reshape(theta[name].shape)
    return grads
