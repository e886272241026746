"""Throughput of ``gradlab grade``: submissions per minute on the synthetic class, by pool and --jobs.

    .venv/bin/python benchmarks/grade_throughput.py            # writes benchmarks/results/grade_throughput.md
    .venv/bin/python benchmarks/grade_throughput.py --copies 2  # a class of 64

The class is tests/grade/classroom.py's: 32 submissions per copy (8 correct, 13 with a named mistake,
11 crashes and attacks, among them a time-out and a CPU-limit run that cost their full limits), graded
with the tests' task (cpu 3 s, wall 6 s per run). Each configuration grades the whole class from
scratch (--force) into its own folder; the wall clock is the whole run, pool start-up included. The
thread pool is measured for comparison only (gradlab grade uses processes: see gradlab/grade/runner.py).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradlab.grade.grader import grade_class
from gradlab.grade.runner import check_submission
from gradlab.grade.submissions import discover
from gradlab.grade.tasks import from_dict
from tests.grade import classroom
from tests.grade.conftest import FAST_TASK

OUT = ROOT / "benchmarks" / "results" / "grade_throughput.md"


def by_processes(folder: Path, task, jobs: int, out: Path) -> float:
    started = time.monotonic()
    run = grade_class(folder, task, out=out, jobs=jobs, force=True)
    assert len(run.graded) == len(run.records) and not run.failed
    return time.monotonic() - started


def by_threads(folder: Path, task, jobs: int, out: Path) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda s: check_submission(s, task), discover(folder, task)))
    assert all("verdict" in r for r in results)
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    copies = int(argv[argv.index("--copies") + 1]) if "--copies" in argv else 1
    task = from_dict(FAST_TASK)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        n = len(classroom.make_class(folder, copies))
        for label, fn, jobs in (("processes", by_processes, 1), ("processes", by_processes, 2),
                                ("threads", by_threads, 2)):
            load = os.getloadavg()[0]
            seconds = fn(folder, task, jobs, Path(tmp) / f"out-{label}-{jobs}")
            rows.append((label, jobs, seconds, n / seconds * 60, load))
            print(f"{label:9} --jobs {jobs}: {n} submissions in {seconds:6.1f} s = {n / seconds * 60:5.1f}/min "
                  f"(load average at start {load:.1f})", flush=True)
    write(rows, n)
    return 0


def write(rows, n: int) -> None:
    base = rows[0][2]
    lines = ["# gradlab grade: throughput", "",
             (f"The synthetic class of {n} submissions (tests/grade/classroom.py: correct, each named mistake, "
             "crashes and attacks), graded from scratch with the tests' task (cpu 3 s, wall 6 s per run) by "
             "`benchmarks/grade_throughput.py`."), "",
             (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{platform.system()}. The cores are shared with other work: the load average when each run started "
             "is shown, and a busier machine means fewer submissions per minute."), "",
             "| pool | --jobs | wall s | submissions / min | speed-up | load avg at start |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {label} | {jobs} | {s:.1f} | {rate:.1f} | {base / s:.2f}x | {load:.1f} |"
              for label, jobs, s, rate, load in rows]
    lines += ["", ("`gradlab grade` uses processes (gradlab/grade/runner.py): each worker process owns its sandboxes' "
                   "process tree (it is their subreaper), so concurrent runs never see each other's children, "
                   "and the checker's comparisons, which run in the grader's own process, do not share one GIL. "
                   "Compare rows taken at similar load averages only. Two of the class's submissions run into "
                   "their limits (a 6 s wall clock and 3 s of CPU), which caps the rate whatever the pool."), ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print(f"written: {OUT}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
