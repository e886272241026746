"""Compare a gradient with an oracle's, one parameter at a time: the GradReport.

The error measure is the relative error with a floor,

    rel_i = |ours_i - oracle_i| / max(|oracle_i|, floor * max(1, max_j |oracle_j|))

so an element whose true gradient is zero, tiny behind a saturated tanh, or a near-cancellation of
much larger terms is judged against the scale of that parameter's gradient instead of exploding:
rounding leaves an absolute error of a few ulps of the LARGEST terms in every entry. A parameter passes when max_i rel_i <= rtol; both numbers
come from tolerances.py. Oracle entries that are NaN were not probed (a sampled finite-difference
check) and are skipped; a NaN or inf in OUR gradient always fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from gradlab.tolerances import Tolerance


@dataclass(frozen=True)
class GradReport:
    """How one parameter's gradient compares with one oracle's."""

    name: str  # parameter, e.g. "W_hh"
    oracle: str  # e.g. "jax-reverse"
    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple[int, ...] | None  # index of the largest rel error (None if nothing compared)
    ours: float | None  # our value at worst_index
    theirs: float | None  # the oracle's value at worst_index
    rtol: float
    floor: float
    n_checked: int
    problem: str = ""  # set when the comparison could not be made (missing, shape, non-finite)

    def text(self) -> str:
        """One line naming the parameter, the worst index and the values there."""
        where = f"{self.name}[{', '.join(map(str, self.worst_index))}]" if self.worst_index else self.name
        if self.problem:
            return f"{where} vs {self.oracle}: FAIL, {self.problem}"
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"{where} vs {self.oracle}: {verdict}, max rel err {self.max_rel_err:.2e} "
            f"({'<=' if self.ok else '>'} rtol {self.rtol:.0e}); ours {self.ours:.6g}, {self.oracle} {self.theirs:.6g}"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["worst_index"] = list(self.worst_index) if self.worst_index is not None else None
        return d


def _failed(name: str, oracle: str, tol: Tolerance, problem: str, index=None) -> GradReport:
    return GradReport(name, oracle, False, float("inf"), float("inf"), index, None, None, tol.rtol, tol.floor, 0,
                      problem)


def compare(name: str, ours, theirs, tol: Tolerance, oracle: str) -> GradReport:
    """GradReport of ``ours`` against ``theirs`` (same shape; NaN in theirs = not probed)."""
    theirs = np.asarray(theirs)
    if ours is None:
        return _failed(name, oracle, tol, "no gradient returned")
    ours = np.asarray(ours)
    if ours.shape != theirs.shape:
        return _failed(name, oracle, tol, f"shape {ours.shape}, expected {theirs.shape}")
    probed = ~np.isnan(theirs.real) if theirs.dtype.kind in "fc" else np.ones(theirs.shape, bool)
    if ours.dtype.kind not in "biufc":
        return _failed(name, oracle, tol, f"dtype {ours.dtype} is not numeric")
    bad = probed & ~np.isfinite(ours)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return _failed(name, oracle, tol, f"non-finite value {ours[index]} at {index}", index)
    n = int(probed.sum())
    if n == 0:
        return GradReport(name, oracle, True, 0.0, 0.0, None, None, None, tol.rtol, tol.floor, 0)
    err = np.where(probed, np.abs(ours - np.where(probed, theirs, 0)), 0.0)
    magnitude = np.abs(np.where(probed, theirs, 0))
    rel = err / np.maximum(magnitude, tol.floor * max(1.0, float(magnitude.max())))
    index = np.unravel_index(int(np.argmax(rel)), rel.shape)
    max_rel = float(rel[index])
    return GradReport(
        name=name, oracle=oracle, ok=max_rel <= tol.rtol, max_abs_err=float(err.max()), max_rel_err=max_rel,
        worst_index=tuple(int(i) for i in index), ours=float(np.real(ours[index])),
        theirs=float(np.real(theirs[index])), rtol=tol.rtol, floor=tol.floor, n_checked=n,
    )


def compare_all(ours: Mapping[str, np.ndarray], theirs: Mapping[str, np.ndarray], tol: Tolerance,
                oracle: str) -> list[GradReport]:
    """One GradReport per key of ``theirs``, in the order of ``ours`` (a key missing from ``ours`` fails)."""
    names = [k for k in ours if k in theirs] + [k for k in theirs if k not in ours]
    return [compare(k, ours.get(k), theirs[k], tol, oracle) for k in names]
