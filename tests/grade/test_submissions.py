"""gradlab/grade/submissions.py: one file, notebook or folder per student, and which file of a folder."""

from __future__ import annotations

import pytest

from gradlab.grade.submissions import discover, one_folder
from gradlab.grade.tasks import load_task

MINCHAR = load_task("rnn-minchar")  # file = "min-char-rnn.py"
RNN = load_task("rnn")  # no file named


def _touch(path, text="x = 1\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_files_notebooks_and_folders_are_students_and_the_rest_is_skipped(tmp_path):
    _touch(tmp_path / "alice.py")
    _touch(tmp_path / "bob.ipynb", "{}")
    _touch(tmp_path / "carol" / "min-char-rnn.py")
    for skipped in (".hidden.py", "notes.pdf", "__pycache__/x.py", "__MACOSX/y.py", ".git/z.py"):
        _touch(tmp_path / skipped)
    subs = discover(tmp_path, MINCHAR)
    assert [(s.student, s.file.name) for s in subs] == [("alice", "alice.py"), ("bob", "bob.ipynb"),
                                                        ("carol", "min-char-rnn.py")]


def test_two_entries_with_one_stem_keep_their_full_names(tmp_path):
    _touch(tmp_path / "dan.py")
    _touch(tmp_path / "dan.ipynb", "{}")
    assert [s.student for s in discover(tmp_path, MINCHAR)] == ["dan.ipynb", "dan.py"]


def test_a_folder_s_file_is_the_task_s_name_then_the_only_one_then_the_one_defining_the_entry_point(tmp_path):
    named = tmp_path / "named"
    _touch(named / "a.py")
    _touch(named / "sub" / "min-char-rnn.py")
    assert one_folder(named, MINCHAR).file == named / "sub" / "min-char-rnn.py"
    only = tmp_path / "only"
    _touch(only / "homework.ipynb", "{}")
    _touch(only / ".ipynb_checkpoints" / "homework-checkpoint.ipynb", "{}")
    assert one_folder(only, MINCHAR).file == only / "homework.ipynb"
    defining = tmp_path / "defining"
    _touch(defining / "utils.py")
    _touch(defining / "rnn.py", "def loss_and_grads(params, xs, targets, h0):\n    pass\n")
    assert one_folder(defining, RNN).file == defining / "rnn.py"


def test_a_folder_where_no_file_can_be_chosen_is_a_submission_that_says_why(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _touch(empty / "report.pdf")
    two = tmp_path / "two"
    _touch(two / "a.py", "def loss_and_grads(): pass\n")
    _touch(two / "b.py", "def loss_and_grads(): pass\n")
    subs = {s.student: s for s in discover(tmp_path, RNN)}
    assert subs["empty"].file is None and "no .py or .ipynb" in subs["empty"].problem
    assert subs["two"].file is None and "a.py, b.py" in subs["two"].problem and "file" in subs["two"].problem


def test_the_fingerprint_follows_the_submission_s_bytes(tmp_path):
    path = _touch(tmp_path / "alice.py")
    before = discover(tmp_path, RNN)[0].fingerprint()
    assert discover(tmp_path, RNN)[0].fingerprint() == before
    path.write_text("x = 2\n")
    assert discover(tmp_path, RNN)[0].fingerprint() != before


def test_a_missing_class_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="DIR: expected a folder of submissions, got .*no such folder"):
        discover(tmp_path / "nope", RNN)
    with pytest.raises(ValueError, match="a file"):
        discover(_touch(tmp_path / "f.py"), RNN)
