"""Grading tasks: what to check in each submission, how much each check weighs, and the limits.

A task is a small TOML file (or a Python file defining ``TASK = {...}`` with the same keys)::

    name = "rnn-minchar"                  # required
    title = "min-char-rnn: lossFun's BPTT"
    style = "minchar"                      # minchar | cs231n | gradlab (default: told from each file)
    model = "rnn"                          # rnn | lstm | gru | gru-cho (default: told from each file)
    optimizer = "rmsprop"                  # an optimiser task instead of a model task
    file = "min-char-rnn.py"               # the file to grade inside a folder submission holding several
    seed = 0                               # the random problem of the check
    visibility = "visible"                 # Gradescope: visible | after_due_date | after_published | hidden

    [limits]                               # per sandboxed run (defaults: gradlab check's)
    cpu_s = 10
    wall_s = 20
    memory_mb = 2048

    [weights]                              # points per check; a check with no weight is not graded
    runs = 1                               # imports, follows the contract, returns finite values
    forward = 1                            # the forward quantities (loss, states) equal gradlab's
    own_forward = 1                        # every gradient agrees with differences of the student's own loss
    all_correct = 0                        # the verdict is "correct" (one check for everything)
    [weights.params]                       # each gradient equals gradlab's: student's or gradlab's name
    dWxh = 2

    [penalties]                            # points off when the checker names a mistake (default: none)
    truncated-bptt = 1

Built-in tasks live in ``gradlab/grade/tasks/*.toml``; ``TASKS`` lists them and ``load_task`` reads a
built-in name or a path. Every key is validated: an error names the file, the key, what was expected
and what came.
"""

from __future__ import annotations

import hashlib
import json
import math
import runpy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gradlab.models.registry import MODELS
from gradlab.optim.registry import OPTIMIZERS
from gradlab.student.sandbox import DEFAULT_LIMITS, Limits
from gradlab.student.styles import STYLES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport (a dependency there)
    import tomli as tomllib

TOP_KEYS = ("name", "title", "style", "model", "optimizer", "file", "seed", "visibility", "limits", "weights",
            "penalties")
WEIGHT_KEYS = ("runs", "forward", "own_forward", "all_correct", "params")
LIMIT_KEYS = ("cpu_s", "wall_s", "memory_mb")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


@dataclass(frozen=True)
class Task:
    """One validated grading task (see the module docstring for the keys)."""

    name: str
    title: str
    style: str | None
    model: str | None
    optimizer: str | None
    weights: dict[str, float]  # runs, forward, own_forward, all_correct (only those graded)
    params: dict[str, float]  # gradient name -> points
    penalties: dict[str, float] = field(default_factory=dict)
    limits: Limits = DEFAULT_LIMITS
    seed: int = 0
    file: str | None = None
    visibility: str = "visible"
    source: str = ""  # "built-in" or the path it was read from
    data: dict = field(default_factory=dict, repr=False)  # the validated keys, as read

    @property
    def max_score(self) -> float:
        return float(sum(self.weights.values()) + sum(self.params.values()))

    @property
    def fingerprint(self) -> str:
        """A hash of what decides a grade: a stored grade with another fingerprint is out of date."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True).encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        """The task as TOML (what a Gradescope bundle carries)."""
        return dumps_toml(self.data)


def _builtin_dir():
    return resources.files("gradlab.grade") / "tasks"


def builtin_names() -> list[str]:
    """The built-in tasks' names, sorted."""
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def builtin_tasks() -> list[Task]:
    """Every built-in task, loaded and validated."""
    return [load_task(name) for name in builtin_names()]


def load_task(spec: str | Path) -> Task:
    """A built-in task by name, or a task file (.toml, or .py defining TASK) by path; ValueError if bad."""
    if not isinstance(spec, (str, Path)):
        raise TypeError(f"task: expected a task name or a path, got {type(spec).__name__}")
    text_spec = str(spec)
    if text_spec in builtin_names():
        text = (_builtin_dir() / f"{text_spec}.toml").read_text(encoding="utf-8")
        return from_dict(_parse_toml(text, f"built-in task {text_spec}"), "built-in")
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"task: expected a built-in task ({', '.join(builtin_names())}) or the path of a .toml "
                         f"or .py task file, got {text_spec!r}")
    if path.suffix == ".py":
        data = runpy.run_path(str(path)).get("TASK")
        if not isinstance(data, dict):
            raise ValueError(f"task {path}: a Python task file must define TASK = {{...}} (a dict)")
        return from_dict(data, str(path))
    return from_dict(_parse_toml(path.read_text(encoding="utf-8"), f"task {path}"), str(path))


def _parse_toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML: {exc}") from None


def from_dict(data: dict, source: str = "") -> Task:
    """Validate the keys of a task (as read from TOML) and build the Task."""
    where = f"task {source}" if source and source != "built-in" else f"task {data.get('name', '?')}"
    _known(data, TOP_KEYS, where, "")
    name = _string(data, "name", where, required=True)
    style = _choice(data, "style", STYLES, where)
    model = _choice(data, "model", tuple(MODELS), where)
    optimizer = _choice(data, "optimizer", tuple(OPTIMIZERS), where)
    if optimizer and model:
        raise ValueError(f"{where}: optimizer and model: expected one of them, got both ({optimizer!r}, {model!r})")
    weights_in = _table(data, "weights", where)
    _known(weights_in, WEIGHT_KEYS, where, "weights.")
    weights = {k: _points(weights_in, k, where, "weights.") for k in WEIGHT_KEYS[:-1] if k in weights_in}
    params_in = _table(weights_in, "params", where, "weights.")
    params = {k: _points(params_in, k, where, "weights.params.") for k in params_in}
    if optimizer and params:
        raise ValueError(f"{where}: weights.params: an optimiser task grades all_correct, not gradients; got "
                         f"{', '.join(params)}")
    if sum(weights.values()) + sum(params.values()) <= 0:
        raise ValueError(f"{where}: weights: expected at least one check with points > 0, got none")
    penalties_in = _table(data, "penalties", where)
    penalties = {k: _points(penalties_in, k, where, "penalties.") for k in penalties_in}
    visibility = _choice(data, "visibility", VISIBILITIES, where) or "visible"
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{where}: seed: expected an integer >= 0, got {seed!r}")
    return Task(name=name, title=_string(data, "title", where) or name, style=style, model=model,
                optimizer=optimizer, weights=weights, params=params, penalties=penalties,
                limits=_limits(_table(data, "limits", where), where), seed=seed, file=_string(data, "file", where),
                visibility=visibility, source=source, data=data)


def _known(table: dict, keys: tuple[str, ...], where: str, prefix: str) -> None:
    unknown = [k for k in table if k not in keys]
    if unknown:
        raise ValueError(f"{where}: unknown key {prefix}{unknown[0]} (expected one of {', '.join(keys)})")


def _string(data: dict, key: str, where: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    return value


def _choice(data: dict, key: str, choices: tuple[str, ...], where: str) -> str | None:
    value = data.get(key)
    if value is not None and value not in choices:
        raise ValueError(f"{where}: {key}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _table(data: dict, key: str, where: str, prefix: str = "") -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {prefix}{key}: expected a table, got {value!r}")  # noqa: TRY004 - a bad file
    return value


def _points(table: dict, key: str, where: str, prefix: str) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {prefix}{key}: expected a number of points >= 0, got {value!r}")
    return float(value)


def _limits(table: dict, where: str) -> Limits:
    _known(table, LIMIT_KEYS, where, "limits.")
    cpu = table.get("cpu_s", DEFAULT_LIMITS.cpu_s)
    wall = table.get("wall_s", DEFAULT_LIMITS.wall_s)
    memory = table.get("memory_mb", DEFAULT_LIMITS.address_space >> 20)
    if not isinstance(cpu, int) or isinstance(cpu, bool) or cpu < 1:
        raise ValueError(f"{where}: limits.cpu_s: expected a whole number of seconds >= 1, got {cpu!r}")
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not wall > 0:
        raise ValueError(f"{where}: limits.wall_s: expected seconds > 0, got {wall!r}")
    if not isinstance(memory, int) or isinstance(memory, bool) or memory < 256:
        raise ValueError(f"{where}: limits.memory_mb: expected a whole number of MiB >= 256, got {memory!r}")
    return Limits(cpu_s=cpu, cpu_hard_s=cpu + 1, wall_s=float(wall), address_space=memory << 20)


def dumps_toml(data: dict) -> str:
    """TOML for a task's dict (strings, numbers and nested tables: all a task holds)."""
    lines: list[str] = []
    _emit(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(table: dict, path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and (scalars or not table):
        lines.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    for k, v in scalars.items():
        lines.append(f"{_key(k)} = {json.dumps(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            _emit(v, [*path, k], lines)


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)
