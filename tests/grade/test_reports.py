"""gradlab/grade/reports.py: the class CSV, the Markdown summary and Gradescope's results.json."""

from __future__ import annotations

import csv
import io

from gradlab.grade.grader import make_record
from gradlab.grade.reports import class_csv, gradescope_results, mistake_counts, summary_markdown
from gradlab.grade.submissions import Submission
from gradlab.grade.tasks import from_dict
from gradlab.student.result import CheckResult
from tests.grade.conftest import FAST_TASK
from tests.grade.test_scoring import result

TASK = from_dict(FAST_TASK)


def record(tmp_path, student, r):
    path = tmp_path / f"{student}.py"
    path.write_text(student)
    return make_record(Submission(student, path, path), TASK, r, 1.5)


def a_class(tmp_path):
    error = CheckResult("x.py", "minchar", "rnn", "error", error={"kind": "timeout", "message": "ran past 6 s",
                                                                   "traceback": ""}).to_dict()
    return [record(tmp_path, "ann", result()),
            record(tmp_path, "ben", result(wrong=["dWhh"], mistakes=["truncated-bptt"])),
            record(tmp_path, "cat", result(wrong=["dWhh"], mistakes=["truncated-bptt", "rnn-x"])),
            record(tmp_path, "dov", result(wrong=["dbh"], mistakes=["rnn-x"])),
            record(tmp_path, "eve", result(wrong=["dbh"], mistakes=["truncated-bptt"])),
            record(tmp_path, "fay", error)]


def test_the_csv_has_a_row_per_student_and_a_column_per_check(tmp_path):
    records = a_class(tmp_path)
    rows = list(csv.DictReader(io.StringIO(class_csv(TASK, records))))
    assert [r["student"] for r in rows] == ["ann", "ben", "cat", "dov", "eve", "fay"]
    assert rows[1]["score"] == f"{TASK.max_score - 16:g}" and rows[1]["gradient dWhh"] == "0"
    assert rows[1]["gradient dWhy"] == "32" and rows[2]["mistakes"] == "truncated-bptt;rnn-x"
    assert rows[5]["verdict"] == "error" and rows[5]["error"] == "timeout" and rows[5]["score"] == "0"


def test_mistakes_are_counted_per_student_commonest_first(tmp_path):
    records = a_class(tmp_path)
    records[1]["mistakes"] *= 2  # named twice in one submission: one student
    assert [(k, n) for k, _, n in mistake_counts(records)] == [("truncated-bptt", 3), ("rnn-x", 2)]


def test_the_summary_shows_scores_their_distribution_mistakes_and_reasons(tmp_path):
    text = summary_markdown(TASK, a_class(tmp_path))
    assert "6 submissions: 1 correct, 4 wrong, 1 could not run" in text
    assert f"| {TASK.max_score - 16:g} | 2 | ██ |" in text  # ben and cat
    assert text.index("| truncated-bptt | 3 |") < text.index("| rnn-x | 2 |")
    assert "| time-out (wall clock) (`timeout`) | 1 |" in text
    assert "| gradient dWhh equals gradlab's | 16 | 3 of 6 |" in text
    assert "| fay | 0 | error | time-out (wall clock): ran past 6 s |" in text


def test_a_spread_of_scores_is_shown_in_ten_bins(tmp_path):
    records = a_class(tmp_path)[:1] * 20
    for i, r in enumerate(records):
        records[i] = {**r, "score": float(i * 13)}
    text = summary_markdown(TASK, records)
    bins = [line for line in text.splitlines() if "–" in line and line.startswith("| ")]
    assert len(bins) == 10 and sum(int(b.split("|")[2]) for b in bins) == 20


def test_gradescope_results_follow_the_autograder_specification(tmp_path):
    rec = record(tmp_path, "ben", result(wrong=["dWhh"], mistakes=["truncated-bptt"]))
    out = gradescope_results(TASK, rec)
    assert {"score", "execution_time", "output", "tests", "visibility", "stdout_visibility"} <= set(out)
    assert out["score"] == sum(t["score"] for t in out["tests"]) == TASK.max_score - 16
    assert all({"name", "score", "max_score", "status", "output", "visibility"} <= set(t) for t in out["tests"])
    assert sum(t["max_score"] for t in out["tests"]) == TASK.max_score
    assert [t["status"] for t in out["tests"] if t["score"] < t["max_score"]] == ["failed"]
    assert "Recognised: truncated-bptt" in out["output"] and out["extra_data"]["mistakes"] == ["truncated-bptt"]


def test_an_empty_class_has_a_summary_and_a_header_only_csv():
    assert "No submissions were found" in summary_markdown(TASK, [])
    assert class_csv(TASK, []).startswith("student,score,max_score")
