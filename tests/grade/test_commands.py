"""gradlab/grade/commands.py through the CLI: gradlab grade and gradlab gradescope-bundle."""

from __future__ import annotations

import json
import zipfile

from gradlab.cli import main
from tests.grade import classroom
from tests.grade.conftest import FAST_TASK, write_task


def test_list_tasks_shows_every_built_in_task(capsys):
    assert main(["grade", "--list-tasks"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ("rnn-minchar", "rnn-cs231n", "lstm-cs231n", "gru", "rmsprop", "adamw"))


def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    task = write_task(tmp_path, FAST_TASK)
    cases = [(["grade", str(tmp_path)], "expected DIR and --task TASK"),
             (["grade", str(tmp_path), "--task", "nope"], "task: expected a built-in task"),
             (["grade", str(tmp_path / "none"), "--task", str(task)], "DIR: expected a folder of submissions"),
             (["grade", str(tmp_path), "--task", str(task), "--format", "xml"], "format: expected one of json"),
             (["grade", str(tmp_path), "--task", str(task), "--jobs", "0"], "jobs: expected an integer >= 1"),
             (["gradescope-bundle", "--task", "rnn", "--out", str(tmp_path / "a.tar")], "ending in .zip")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_grade_writes_the_class_files_and_says_what_it_did(tmp_path, capsys):
    folder = tmp_path / "hw"
    folder.mkdir()
    for name, kind in (("ann", "correct"), ("bo", "no_dhnext"), ("cy", "wrong_contract")):
        classroom.write_student(folder, classroom.Student(name, kind), 3)
    task = write_task(tmp_path, FAST_TASK)
    assert main(["grade", str(folder), "--task", str(task), "--jobs", "2", "--out", str(tmp_path / "g")]) == 0
    text = capsys.readouterr().out
    assert "3 submissions, 3 graded now, 0 up to date" in text and "1 x rnn-recurrent-term-dropped" in text
    assert (tmp_path / "g" / "grades.csv").read_text().count("\n") == 4
    assert main(["grade", str(folder), "--task", str(task), "--out", str(tmp_path / "g")]) == 0
    assert "0 graded now, 3 up to date" in capsys.readouterr().out


def test_gradescope_format_grades_one_submission_folder(tmp_path, capsys):
    sub = tmp_path / "submission"
    sub.mkdir()
    classroom.write_student(sub, classroom.Student("min-char-rnn", "no_dhnext"), 3)
    task = write_task(tmp_path, FAST_TASK)
    assert main(["grade", str(sub), "--task", str(task), "--format", "gradescope", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [t["name"].split(" equals")[0].split(":")[0] for t in results["tests"] if t["status"] == "failed"] == [
        "own forward", "gradient dWxh", "gradient dWhh", "gradient dbh"]
    assert results["score"] == 255 - (4 + 8 + 16 + 64)  # FAST_TASK's weights of those four checks


def test_gradescope_bundle_writes_the_zip(tmp_path, capsys):
    out = tmp_path / "ag.zip"
    assert main(["gradescope-bundle", "--task", "rnn-minchar", "--out", str(out)]) == 0
    assert "written" in capsys.readouterr().out
    assert "run_autograder" in zipfile.ZipFile(out).namelist()
