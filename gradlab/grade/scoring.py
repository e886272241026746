"""A submission's score: the task's weighted checks, read off ``check``'s result dict.

    score(result, task) -> Grade(score, max_score, checks, penalties)

The checks, each worth the task's points, all or nothing:

    runs          the submission imported, followed the contract and returned finite values (verdict
                  "correct" or "wrong"; "error" fails it, and then every other check fails too)
    forward       every forward quantity (loss, last state) equals gradlab's
    own_forward   every gradient agrees with finite differences of the submission's OWN loss: a
                  backward consistent with its forward, even when that forward is another function
    gradient X    gradient X equals gradlab's, in every function that returns it (cs231n's dWx comes
                  from both rnn_step_backward and rnn_backward); X is the student's name or gradlab's
    all_correct   the verdict is "correct"

A named mistake is evidence, reported with the grade; it takes points off only where the task's
``[penalties]`` says so (the score never goes below 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gradlab.grade.tasks import Task

TITLES = {
    "runs": "runs: imports, follows the contract, returns finite values of the right shapes",
    "forward": "forward: the loss and states equal gradlab's",
    "own_forward": "own forward: every gradient agrees with finite differences of your own loss",
    "all_correct": "all correct: every value equals gradlab's",
}


@dataclass
class CheckScore:
    """One graded check: its points and the evidence shown to the student."""

    name: str
    title: str
    score: float
    max_score: float
    ok: bool
    output: str


@dataclass
class Grade:
    score: float
    max_score: float
    checks: list[CheckScore]
    penalties: list[dict] = field(default_factory=list)  # {"id", "points"} taken off for named mistakes

    def to_dict(self) -> dict:
        return asdict(self)


def score(result: dict, task: Task) -> Grade:
    """Grade ``result`` (``CheckResult.to_dict()``) by ``task``'s weights; see the module docstring."""
    if not isinstance(result, dict) or "verdict" not in result:
        raise TypeError(f"result: expected CheckResult.to_dict() (a dict with a verdict), got {type(result).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task, got {type(task).__name__}")
    ran = result["verdict"] in ("correct", "wrong")
    why_not = "not run: " + str((result.get("error") or {}).get("message", "the submission could not be run"))
    checks = []
    for key, points in task.weights.items():
        ok, output = _WHOLE[key](result) if ran else (False, why_not)
        checks.append(CheckScore(key, TITLES[key], points if ok else 0.0, points, ok, output))
    for name, points in task.params.items():
        ok, output = _gradient(result, name) if ran else (False, why_not)
        checks.append(CheckScore(f"gradient {name}", f"gradient {name} equals gradlab's", points if ok else 0.0,
                                 points, ok, output))
    named = {m.get("id") for m in result.get("mistakes") or []}
    penalties = [{"id": k, "points": v} for k, v in task.penalties.items() if k in named and v > 0]
    total = sum(c.score for c in checks) - sum(p["points"] for p in penalties)
    return Grade(round(max(0.0, total), 6), task.max_score, checks, penalties)


def _runs(result: dict) -> tuple[bool, str]:
    return True, "ok" + (f" ({_seconds(result)})" if result.get("sandbox") else "")


def _forward(result: dict) -> tuple[bool, str]:
    bad = [f for f in result.get("forward") or [] if not f.get("ok")]
    if not bad:
        return True, "ok"
    return False, "; ".join(f"{f.get('function')} returned {f.get('student_name')} different from gradlab's "
                            f"(max rel err {_num(f.get('max_rel_err'))})" for f in bad)


def _own_forward(result: dict) -> tuple[bool, str]:
    bad = [p for p in result.get("params") or [] if p.get("vs_own_forward_ok") is False]
    if not bad:
        return True, "ok"
    names = ", ".join(dict.fromkeys(p.get("student_name", "?") for p in bad))
    return False, f"{names} disagree with finite differences of your own loss: the mistake is in the backward"


def _all_correct(result: dict) -> tuple[bool, str]:
    if result["verdict"] == "correct":
        return True, "ok"
    return False, result.get("diagnosis") or "some values differ from gradlab's"


_WHOLE = {"runs": _runs, "forward": _forward, "own_forward": _own_forward, "all_correct": _all_correct}


def _gradient(result: dict, name: str) -> tuple[bool, str]:
    found = [p for p in result.get("params") or [] if name in (p.get("student_name"), p.get("name"))]
    if not found:
        return False, f"{name} was not checked: the submission does not return it"
    bad = [p for p in found if not p.get("ok")]
    if not bad:
        return True, "ok (max rel err " + ", ".join(_num(p.get("max_rel_err")) for p in found) + ")"
    return False, "; ".join(f"{p.get('function')}: " + (p.get("evidence") or f"max rel err {_num(p.get('max_rel_err'))}")
                            for p in bad)


def _num(x) -> str:
    return "-" if x is None else f"{x:.1e}"


def _seconds(result: dict) -> str:
    return f"{(result.get('sandbox') or {}).get('wall_s', 0):.2f} s in the sandbox"
