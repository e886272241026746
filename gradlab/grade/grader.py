"""``grade_class``: a whole class folder, in parallel, into per-student JSON, a CSV and a Markdown summary.

    run = grade_class("hw3/", load_task("rnn-minchar"), jobs=2)
    run.records          # one dict per student: score, each check, named mistakes, the check's evidence
    run.files            # OUT/grades.csv, OUT/summary.md (OUT/submissions/<student>.json for each)

A student whose stored grade is up to date (same submission bytes, same task, same gradlab version)
is skipped unless ``force``; each grade is written atomically the moment it is known, so an
interrupted run keeps everything finished before the interrupt, and the next run grades the rest.
``grade_single`` grades one submission folder in this process (Gradescope runs one per machine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gradlab import __version__
from gradlab.grade import reports, store
from gradlab.grade.runner import check_submission, run_parallel
from gradlab.grade.scoring import score
from gradlab.grade.submissions import Submission, discover, one_folder
from gradlab.grade.tasks import Task

Progress = Callable[[int, int, str], None]  # (done, total, the student just finished)


@dataclass
class ClassRun:
    """What one ``grade_class`` did."""

    task: Task
    out: Path
    records: list[dict]  # every student in the folder, sorted (graded now or earlier)
    graded: list[str] = field(default_factory=list)  # students graded by this run
    skipped: list[str] = field(default_factory=list)  # up to date, not re-graded
    failed: list[tuple[str, str]] = field(default_factory=list)  # could not be graded (a worker died), why
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)


def default_jobs() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_out(folder: str | Path) -> Path:
    """Where grades go by default: a sibling of the class folder, ``<folder>-grades``."""
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}-grades"


def grade_class(folder: str | Path, task: Task, *, out: str | Path | None = None, jobs: int | None = None,
                force: bool = False, progress: Progress | None = None) -> ClassRun:
    """Grade every submission in ``folder`` (see the module docstring); ValueError for bad arguments."""
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task (load_task(...)), got {type(task).__name__}")
    jobs = default_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs: expected an integer >= 1, got {jobs!r}")
    started = time.monotonic()
    submissions = discover(folder, task)
    out = Path(out) if out is not None else default_out(folder)
    if out.resolve() == Path(folder).resolve():
        raise ValueError(f"out: expected a folder other than the submissions' own, got {str(out)!r}")
    store.remove_stale(out)
    stored = {s.student: store.read_record(out, s.student) for s in submissions}
    todo = [s for s in submissions if force or not up_to_date(stored[s.student], s, task)]
    run = ClassRun(task, out, [], skipped=[s.student for s in submissions if s not in todo])
    done = len(run.skipped)
    if progress:
        progress(done, len(submissions), "")

    def finished(sub: Submission, result: dict, seconds: float) -> None:
        nonlocal done
        stored[sub.student] = record = make_record(sub, task, result, seconds)
        store.write_json(store.record_path(out, sub.student), record)
        run.graded.append(sub.student)
        done += 1
        if progress:
            progress(done, len(submissions), sub.student)

    failed = run_parallel(todo, task, jobs, finished)
    run.failed = [(s.student, why) for s, why in failed]
    run.records = [stored[s.student] for s in submissions if stored.get(s.student) is not None]
    run.files = reports.write_class(out, task, run.records)
    run.seconds = time.monotonic() - started
    return run


def grade_single(folder: str | Path, task: Task) -> dict:
    """Grade the one submission in ``folder`` here, in this process; return its record."""
    sub = one_folder(folder, task)
    started = time.monotonic()
    result = check_submission(sub, task)
    return make_record(sub, task, result, time.monotonic() - started)


def make_record(sub: Submission, task: Task, result: dict, seconds: float) -> dict:
    """The stored grade of one student: the score, each check, the named mistakes, and check's full result."""
    grade = score(result, task)
    return {
        "student": sub.student,
        "submission": str(sub.path),
        "file": str(sub.file) if sub.file is not None else None,
        "task": task.name,
        "score": grade.score,
        "max_score": grade.max_score,
        "verdict": result["verdict"],
        "checks": [c.__dict__ for c in grade.checks],
        "penalties": grade.penalties,
        "mistakes": [{"id": m.get("id"), "title": m.get("title"), "params": m.get("params", [])}
                     for m in result.get("mistakes") or []],
        "error": result.get("error"),
        "diagnosis": result.get("diagnosis", ""),
        "seconds": round(seconds, 3),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": fingerprint(sub, task),
        "result": result,
    }


def fingerprint(sub: Submission, task: Task) -> dict:
    """What a stored grade depends on: the submission's bytes, the task, gradlab's version."""
    return {"submission": sub.fingerprint(), "task": task.fingerprint, "gradlab": __version__}


def up_to_date(record: dict | None, sub: Submission, task: Task) -> bool:
    """Whether ``record`` is the grade ``sub`` would get now."""
    return record is not None and record.get("fingerprint") == fingerprint(sub, task)
