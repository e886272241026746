"""What an experiment returns: rows of per-seed metrics, summarised as mean and spread, as a table and JSON.

A row is one arm of the comparison (e.g. "adam, lr 0.03" on one sentence). Each metric holds one value
per seed, or None where the seed never reached it (a sentence never reproduced). The summary of a metric
is the mean and the sample standard deviation (ddof = 1) over the seeds that reached it, with the count:
"83 ± 12 (3/3)". Curves (the per-character training loss, one per seed) feed the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CURVE_POINTS = 200  # curves are kept at this many points at most (every k-th step), for plots and JSON


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    fmt: str  # format spec of one value, e.g. ".3f"
    lower_is_better: bool = True


@dataclass
class Row:
    """One arm: its key columns (e.g. {"text": ..., "optimizer": "adam", "lr": 0.03}) and per-seed values."""

    keys: dict[str, object]
    seeds: list[int]
    values: dict[str, list[float | None]]  # metric key -> one value per seed
    curves: list[np.ndarray] = field(default_factory=list)  # per seed, (points,) losses
    curve_steps: np.ndarray | None = None  # (points,) the step of each curve point


def thin(curve: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) at most ``points`` long: every k-th entry, steps counted from 1."""
    k = max(1, int(np.ceil(len(curve) / points)))
    steps = np.arange(1, len(curve) + 1)[::k]
    return steps, np.asarray(curve)[::k]


def summary(values: list[float | None]) -> dict[str, float | int | None]:
    """{"mean", "sd", "min", "max", "n", "of"} over the values that are not None (sd: ddof 1, 0 for one)."""
    reached = np.array([v for v in values if v is not None], dtype=float)
    if reached.size == 0:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0, "of": len(values)}
    sd = float(np.std(reached, ddof=1)) if reached.size > 1 else 0.0
    return {"mean": float(reached.mean()), "sd": sd, "min": float(reached.min()), "max": float(reached.max()),
            "n": int(reached.size), "of": len(values)}


def format_summary(values: list[float | None], fmt: str) -> str:
    s = summary(values)
    if s["n"] == 0:
        return f"never (0/{s['of']})"
    text = f"{s['mean']:{fmt}} ± {s['sd']:{fmt}}"
    return text if s["n"] == s["of"] else f"{text} ({s['n']}/{s['of']})"


@dataclass
class ExperimentResult:
    name: str
    title: str
    setup: dict[str, object]  # the fixed settings, for the caption and the JSON
    key_columns: list[str]
    metrics: list[Metric]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)  # e.g. the tuning grid of the optimizers experiment

    def table_rows(self) -> list[list[str]]:
        """The table as text cells: key columns, then each metric as "mean ± sd (n/of)"."""
        return [[_cell(row.keys[k]) for k in self.key_columns]
                + [format_summary(row.values[m.key], m.fmt) for m in self.metrics] for row in self.rows]

    def header(self) -> list[str]:
        return self.key_columns + [m.label for m in self.metrics]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header()) + " |", "|" + "---|" * len(self.header())]
        lines += ["| " + " | ".join(cells) + " |" for cells in self.table_rows()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "setup": self.setup, "notes": self.notes, "extra": self.extra,
            "rows": [{"keys": row.keys, "seeds": row.seeds, "values": row.values,
                      "summary": {m.key: summary(row.values[m.key]) for m in self.metrics}}
                     for row in self.rows],
        }


def _cell(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
