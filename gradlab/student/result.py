"""The result of checking one submission: DESIGN.md's shape for ``check --json`` and ``grade``.

    {"submission", "style", "model", "verdict": "correct" | "wrong" | "error",
     "params": [{"name", "student_name", "ok", "max_abs_err", "max_rel_err", "worst_index",
                 "first_bad_T", "vs_own_forward_ok", ...}],
     "mistakes": [{"id", "title", "explanation", "params"}], "conventions": [...],
     "smallest_failing_case": {...}, "error": {"kind", "message", "traceback"},
     "sandbox": {"tier", "layers", "cpu_s", "wall_s", "max_rss"}}

Fields are only ever added (``forward``, ``notes``, ``sizes``, ``output`` and the extra per-parameter
evidence), never renamed. Non-finite numbers become null in JSON. Exit codes: 0 correct, 1 wrong,
2 could not run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

EXIT_CODES = {"correct": 0, "wrong": 1, "error": 2}


@dataclass
class ParamResult:
    """One gradient the student returned, against gradlab's and against the student's own forward."""

    name: str  # gradlab's name: W_xh, h0, xs, ...
    student_name: str  # the student's: dWxh, dWx, ...
    ok: bool
    max_abs_err: float | None
    max_rel_err: float | None
    worst_index: list[int] | None  # in the student's layout
    first_bad_T: int | None  # the shortest prefix of the sequence on which it is wrong
    vs_own_forward_ok: bool | None  # agrees with central differences of the student's own loss
    function: str = ""
    student_value: float | None = None  # at worst_index
    reference_value: float | None = None
    where: str = ""  # e.g. "gate o, unit 2"
    errors_by_T: list[float | None] = field(default_factory=list)  # max rel err on the prefix of each length
    own_forward_max_rel_err: float | None = None
    own_forward_checked: int = 0  # entries (and directions) probed by finite differences
    fails_at: dict | None = None  # the smallest other sizes at which it fails, when the main problem passes
    evidence: str = ""


@dataclass
class ForwardCheck:
    """A forward quantity the student returned (the loss, the last hidden state, h) against gradlab's."""

    name: str
    student_name: str
    function: str
    ok: bool
    max_abs_err: float | None
    max_rel_err: float | None
    worst_index: list[int] | None
    student_value: float | None
    reference_value: float | None
    first_bad_T: int | None = None


@dataclass
class CheckResult:
    submission: str
    style: str | None
    model: str | None
    verdict: str  # "correct" | "wrong" | "error"
    params: list[ParamResult] = field(default_factory=list)
    mistakes: list[dict] = field(default_factory=list)
    conventions: list[dict] = field(default_factory=list)
    smallest_failing_case: dict | None = None
    error: dict | None = None  # {"kind", "message", "traceback"}
    sandbox: dict | None = None
    forward: list[ForwardCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sizes: dict | None = None
    output: dict | None = None  # the first lines the submission printed, when it could not run
    diagnosis: str = ""  # one sentence: forward or backward, from the two comparisons

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def wrong_params(self) -> list[ParamResult]:
        return [p for p in self.params if not p.ok]

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
