"""What ``gradlab grade`` and ``gradlab gradescope-bundle`` do, rendered for the terminal (cli.py parses).

Each returns a one-line failure message (cli.py turns it into exit code 2) or None.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from gradlab.grade import reports, store
from gradlab.grade.bundle import gradescope_bundle
from gradlab.grade.grader import grade_class, grade_single
from gradlab.grade.runner import optimizer_supported
from gradlab.grade.tasks import builtin_tasks, load_task

FORMATS = ("json", "gradescope")


def list_tasks(out: Console) -> None:
    """The built-in tasks, as a table."""
    table = Table(title="built-in tasks (gradlab grade DIR --task NAME, or --task my_task.toml)",
                  title_justify="left")
    for column in ("task", "style", "model / optimiser", "points", "cpu s", "wall s", "MiB", "what it grades"):
        table.add_column(column, justify="right" if column in ("points", "cpu s", "wall s", "MiB") else "left")
    for t in builtin_tasks():
        what = t.model or t.optimizer or "-"
        if t.optimizer and not optimizer_supported():
            what += " (needs the optimiser checker)"
        table.add_row(t.name, t.style or "auto", what, f"{t.max_score:g}", str(t.limits.cpu_s),
                      f"{t.limits.wall_s:g}", str(t.limits.address_space >> 20), escape(t.title))
    out.print(table)


def grade(folder: str, task_spec: str, *, jobs: int | None, force: bool, fmt: str, out_dir: str | None,
          out: Console, err: Console) -> str | None:
    """Grade a class (json) or one Gradescope submission (gradescope); see ``gradlab grade --help``."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    task = load_task(task_spec)
    if task.optimizer and not optimizer_supported():
        raise ValueError(f"task {task.name}: optimizer {task.optimizer!r} needs the optimiser checker "
                         "(gradlab/student/optimizer_check.py), which this gradlab does not have")
    if fmt == "gradescope":
        return _gradescope(folder, task, out_dir, out)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        handle = bar.add_task(f"grading with {task.name}", total=None)

        def advance(done: int, total: int, student: str) -> None:
            bar.update(handle, completed=done, total=total,
                       description=f"graded {escape(student)}" if student else f"grading with {task.name}")

        try:
            run = grade_class(folder, task, out=out_dir, jobs=jobs, force=force, progress=advance)
        except KeyboardInterrupt:
            err.print("gradlab: interrupted: every grade finished so far is kept; run the same command again to "
                      "grade the rest", markup=False, highlight=False)
            raise
    _print_run(run, out)
    if run.failed:
        return (f"{len(run.failed)} submission(s) could not be graded ({run.failed[0][0]}: {run.failed[0][1]}); "
                "run again to retry them")
    return None


def _gradescope(folder: str, task, out_dir: str | None, out: Console) -> None:
    record = grade_single(folder, task)
    results = reports.gradescope_results(task, record)
    path = store.write_json(Path(out_dir or ".") / "results.json", results)
    out.print(f"{record['student']}: {record['score']:g} of {record['max_score']:g} ({record['verdict']}); "
              f"written: {path}", markup=False, highlight=False)


def _print_run(run, out: Console) -> None:
    p = lambda text: out.print(text, markup=False, highlight=False)
    n = len(run.records)
    p(f"{run.task.name}: {n} submissions, {len(run.graded)} graded now, {len(run.skipped)} up to date "
      f"(--force re-grades them), in {run.seconds:.1f} s")
    if run.records:
        scores = [r["score"] for r in run.records]
        p(f"score: mean {sum(scores) / n:.2f} of {run.task.max_score:g}, min {min(scores):g}, max {max(scores):g}")
    for mistake, title, count in reports.mistake_counts(run.records)[:5]:
        p(f"  {count} x {mistake}: {title}")
    for kind, count in reports.error_counts(run.records)[:5]:
        p(f"  {count} could not run: {kind}")
    p(f"written: {_shown(run.files['csv'])}, {_shown(run.files['summary'])}, "
      f"{_shown(run.out / store.RECORDS)}/<student>.json")


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def bundle(task_spec: str, out_file: str | None, out: Console) -> None:
    """Write the Gradescope autograder zip."""
    task = load_task(task_spec)
    path = gradescope_bundle(task, out_file or f"gradescope-{task.name}.zip")
    out.print(f"written: {path} (setup.sh, run_autograder, task.toml, gradlab-src/); upload it as the "
              "assignment's autograder", markup=False, highlight=False)
