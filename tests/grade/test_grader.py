"""gradlab/grade/grader.py: a synthetic class of 32 graded in parallel, resumed, and interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gradlab.grade import reports, store
from gradlab.grade.grader import grade_class, make_record
from gradlab.grade.runner import check_submission, optimizer_supported
from gradlab.grade.submissions import Submission
from gradlab.grade.tasks import load_task
from tests.grade import classroom
from tests.grade.conftest import FAST_TASK, write_task
from tests.student.conftest import descendants

ROOT = Path(__file__).resolve().parents[2]
NEEDS_OPTIMIZER_CHECKER = pytest.mark.skipif(not optimizer_supported(), reason=(
    "the optimiser checker (gradlab/student/optimizer_check.py) is not in this tree"))


def expected_score(task, kind: str) -> float:
    """What a submission of ``kind`` must score, from the task's weights and what the submission is."""
    if kind == "correct":
        return task.max_score
    weights = {**task.weights, **task.params}
    if kind in classroom.BUGS:  # the forward right; some gradients wrong, and inconsistent with the own forward
        wrong = classroom.RECURRENCE_GRADIENTS if kind in classroom.RECURRENCE_BUGS else classroom.ALL_GRADIENTS
        return task.max_score - sum(weights[c] for c in ("own_forward", *wrong))
    assert kind in classroom.ERROR_KINDS
    return 0.0


def running_submissions(marker: str) -> list[int]:
    """Live processes running one of this test's submissions (their cwd holds a submission.py with marker)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cwd/submission.py").read_text(errors="replace"):
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The synthetic class of 32, graded once with --jobs 2 (shared by the tests below)."""
    base = tmp_path_factory.mktemp("class")
    task = load_task(write_task(base, FAST_TASK))
    kinds = classroom.make_class(base / "hw3", copies=1)
    before = {pid for pid, _ in descendants()}
    run = grade_class(base / "hw3", task, out=base / "grades", jobs=2)
    left = [p for p in descendants() if p[0] not in before
            and "multiprocessing.resource_tracker" not in p[1]]  # multiprocessing's one helper, by design
    return run, kinds, task, left


def test_the_synthetic_class_mixes_every_kind_and_has_30_or_more_students(graded_class):
    run, kinds, _, _ = graded_class
    assert len(kinds) >= 30 and len(run.records) == len(kinds) and run.failed == []
    assert set(kinds.values()) == {"correct", *classroom.BUGS, *classroom.ERROR_KINDS}
    assert sorted(run.graded) == sorted(kinds) and run.skipped == []


def test_every_submission_gets_the_score_its_kind_deserves(graded_class):
    run, kinds, task, _ = graded_class
    got = {r["student"]: r["score"] for r in run.records}
    want = {s: expected_score(task, k) for s, k in kinds.items()}
    assert got == want


def test_crashes_and_attacks_are_graded_with_the_reason_they_could_not_run(graded_class):
    run, kinds, _, left = graded_class
    reasons = {r["student"]: (r["error"] or {}).get("kind") for r in run.records}
    for student, kind in kinds.items():
        if kind in classroom.ERROR_KINDS:
            assert reasons[student] in classroom.ERROR_KINDS[kind].split("|"), (student, reasons[student])
        else:
            assert reasons[student] is None
    assert left == []  # no worker and no sandbox child outlives the run


def test_named_mistakes_are_reported_and_counted_in_the_summary(graded_class):
    run, kinds, _, _ = graded_class
    for r in run.records:
        named = {m["id"] for m in r["mistakes"]}
        assert classroom.MISTAKES.get(kinds[r["student"]], set()) <= named
        if kinds[r["student"]] == "correct":
            assert named == set()
    counts = {k: n for k, _, n in reports.mistake_counts(run.records)}
    for mistake in set().union(*classroom.MISTAKES.values()):
        expected = sum(mistake in classroom.MISTAKES.get(k, set()) for k in kinds.values())
        assert counts[mistake] == expected
    summary = run.files["summary"].read_text()
    commonest, title, n = reports.mistake_counts(run.records)[0]
    assert n == max(counts.values()) and f"| {commonest} | {n} | {title} |" in summary


def test_the_class_files_are_written_whole(graded_class):
    run, kinds, _, _ = graded_class
    rows = run.files["csv"].read_text().splitlines()
    assert len(rows) == len(kinds) + 1
    records = sorted((run.out / store.RECORDS).iterdir())
    assert [p.stem for p in records] == sorted(kinds)
    assert all(json.loads(p.read_text())["student"] == p.stem for p in records)
    assert not list(run.out.rglob("*.tmp"))


def test_a_second_run_skips_what_is_graded_and_regrades_what_changed(graded_class):
    run, kinds, task, _ = graded_class
    folder = Path(run.records[0]["submission"]).parent
    changed = next(s for s, k in kinds.items() if k == "correct")
    path = folder / f"{changed}.py"
    path.write_text(classroom.source_of("no_dhnext", 99))
    again = grade_class(folder, task, out=run.out, jobs=2)
    assert again.graded == [changed] and len(again.skipped) == len(kinds) - 1
    assert next(r for r in again.records if r["student"] == changed)["score"] == expected_score(task, "no_dhnext")


def test_force_regrades_everything_and_another_task_is_not_up_to_date(tmp_path, fast_task):
    folder = tmp_path / "hw"
    folder.mkdir()
    classroom.write_student(folder, classroom.Student("ann", "wrong_contract"), 3)  # both refused before any
    classroom.write_student(folder, classroom.Student("bo", "syntax_error"), 4)  # sandbox run: quick
    assert sorted(grade_class(folder, fast_task, jobs=1).graded) == ["ann", "bo"]
    assert grade_class(folder, fast_task, jobs=1).graded == []
    assert sorted(grade_class(folder, fast_task, jobs=1, force=True).graded) == ["ann", "bo"]
    other = load_task(write_task(tmp_path, {**FAST_TASK, "seed": 5}, "other.toml"))
    assert sorted(grade_class(folder, other, jobs=1).graded) == ["ann", "bo"]


def test_an_interrupted_run_keeps_finished_grades_whole_and_the_rerun_grades_only_the_rest(tmp_path, fast_task):
    marker = f"interrupt-test-{uuid.uuid4().hex}"
    folder, out = tmp_path / "hw", tmp_path / "grades"
    folder.mkdir()
    plan = ["correct", "sleeps_forever", "sleeps_forever", "correct", "sleeps_forever", "no_dhnext"]
    for i, kind in enumerate(plan):
        (folder / f"{chr(97 + i)}_{kind}.py").write_text(classroom.source_of(kind, i + 2, marker))
    task_file = write_task(tmp_path, FAST_TASK)
    # `python -m gradlab` with KeyboardInterrupt restored first: a test run started in the background of a
    # non-interactive shell (`... &`) inherits SIGINT ignored, and Python then installs no handler for it
    with_interrupt = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); import gradlab.__main__"
    proc = subprocess.Popen([sys.executable, "-c", with_interrupt, "grade", str(folder), "--task", str(task_file),
                             "--jobs", "2", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    records = out / store.RECORDS
    deadline = time.monotonic() + 120
    while not (records.is_dir() and any(p.suffix == ".json" for p in records.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr, (stdout, stderr)  # 130: 128 + SIGINT
    assert running_submissions(marker) == []  # every sandbox of the interrupted run was stopped
    assert not list(out.rglob("*.tmp"))  # nothing half-written
    done = sorted(p.stem for p in records.iterdir())
    assert all(json.loads((records / f"{s}.json").read_text())["student"] == s for s in done)
    assert 1 <= len(done) < len(plan)
    rerun = grade_class(folder, fast_task, out=out, jobs=2)
    assert sorted(rerun.skipped) == done
    assert sorted(rerun.graded) == sorted({p.stem for p in folder.iterdir()} - set(done))
    assert len(rerun.records) == len(plan)


@pytest.mark.parametrize("task_name, example, lost", [
    # (the correct min-char-rnn example, H = 100, is slow to check; the synthetic class has correct ones)
    ("rnn-minchar", "minchar_whh_not_transposed.py", ["own_forward", "dWxh", "dWhh", "dbh"]),
    ("rnn-cs231n", "cs231n_rnn.py", []),
    ("lstm-cs231n", "cs231n_lstm.py", []),
    ("lstm-cs231n", "cs231n_lstm_gate_order.py",  # a consistent backward of another forward
     ["forward", "dx", "dprev_h", "dprev_c", "dh0", "dWx", "dWh", "db"]),
    ("rnn", "gradlab_rnn.py", []),
    ("rnn", "gradlab_rnn_notebook.ipynb", []),
    ("lstm", "gradlab_lstm.py", []),
    ("gru", "gradlab_gru.py", []),
    ("gru-cho", "gradlab_gru_cho.py", []),
    pytest.param("rmsprop", "optim/rmsprop.py", [], marks=NEEDS_OPTIMIZER_CHECKER),
    pytest.param("rmsprop", "optim/rmsprop_rebinds_cache.py", ["all_correct"], marks=NEEDS_OPTIMIZER_CHECKER),
    pytest.param("adagrad", "optim/adagrad_minchar.py", [], marks=NEEDS_OPTIMIZER_CHECKER),
])
def test_the_built_in_tasks_grade_the_examples(task_name, example, lost):
    task = load_task(task_name)
    path = ROOT / "examples" / example
    record = make_record(Submission("x", path, path), task, check_submission(Submission("x", path, path), task), 0)
    weights = {**task.weights, **task.params}
    assert record["score"] == task.max_score - sum(weights[c] for c in lost), record["checks"]


def test_a_submission_on_the_wrong_model_scores_zero_under_a_built_in_task():
    task = load_task("gru")
    path = ROOT / "examples" / "gradlab_rnn.py"
    result = check_submission(Submission("x", path, path), task)
    assert make_record(Submission("x", path, path), task, result, 0)["score"] < task.max_score


def test_bad_arguments_are_named(tmp_path, fast_task):
    with pytest.raises(ValueError, match="jobs: expected an integer >= 1, got 0"):
        grade_class(tmp_path, fast_task, jobs=0)
    with pytest.raises(TypeError, match="task: expected a Task"):
        grade_class(tmp_path, "rnn-minchar")
    with pytest.raises(ValueError, match="out: expected a folder other than the submissions' own"):
        grade_class(tmp_path, fast_task, out=tmp_path)
