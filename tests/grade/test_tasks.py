"""gradlab/grade/tasks.py: built-in tasks, task files, and validation errors that name the key."""

from __future__ import annotations

import copy

import pytest

from gradlab.grade.tasks import Task, builtin_names, builtin_tasks, dumps_toml, from_dict, load_task
from tests.grade.conftest import FAST_TASK, write_task

REQUIRED = {"rnn-minchar", "rnn-cs231n", "lstm-cs231n", "rnn", "lstm", "gru", "gru-cho", "sgd", "momentum",
            "nesterov", "adagrad", "rmsprop", "adam", "adamw"}


def test_the_issue_s_built_in_tasks_are_all_there_and_valid():
    assert REQUIRED <= set(builtin_names())
    tasks = {t.name: t for t in builtin_tasks()}
    assert set(tasks) == set(builtin_names())  # each file's name is its task's name
    assert all(t.max_score > 0 and t.source == "built-in" for t in tasks.values())
    assert tasks["rnn-minchar"].style == "minchar" and set(tasks["rnn-minchar"].params) == {
        "dWxh", "dWhh", "dWhy", "dbh", "dby"}  # both biases graded
    assert tasks["rmsprop"].optimizer == "rmsprop" and tasks["rmsprop"].model is None


def test_a_task_file_round_trips_through_toml(tmp_path):
    task = load_task(write_task(tmp_path, FAST_TASK))
    assert task.data == FAST_TASK and task.max_score == 255
    assert task.limits.cpu_s == 3 and task.limits.wall_s == 6 and task.limits.address_space == 1024 << 20
    again = load_task(write_task(tmp_path, task.data, "again.toml"))
    assert again.to_toml() == task.to_toml() and again.fingerprint == task.fingerprint


def test_a_python_task_file_defines_TASK(tmp_path):
    path = tmp_path / "task.py"
    path.write_text(f"TASK = {FAST_TASK!r}\n")
    assert load_task(path).max_score == 255
    path.write_text("WEIGHTS = {}\n")
    with pytest.raises(ValueError, match="must define TASK"):
        load_task(path)


def test_the_fingerprint_follows_what_decides_a_grade():
    changed = copy.deepcopy(FAST_TASK)
    changed["weights"]["params"]["dby"] = 1
    assert from_dict(changed).fingerprint != from_dict(FAST_TASK).fingerprint
    assert from_dict(copy.deepcopy(FAST_TASK)).fingerprint == from_dict(FAST_TASK).fingerprint


def _with(path: str, value):
    data = copy.deepcopy(FAST_TASK)
    *parents, key = path.split(".")
    table = data
    for p in parents:
        table = table.setdefault(p, {})
    if value is None:
        del table[key]
    else:
        table[key] = value
    return data


@pytest.mark.parametrize("path, value, message", [
    ("name", None, "name: expected a non-empty string, got None"),
    ("style", "keras", "style: expected one of minchar, cs231n, gradlab, got 'keras'"),
    ("model", "transformer", "model: expected one of"),
    ("optimizer", "adam", "optimizer and model: expected one of them, got both"),
    ("weigths", {}, "unknown key weigths"),
    ("weights.runs", -1, "weights.runs: expected a number of points >= 0, got -1"),
    ("weights.params.dWxh", "two", "weights.params.dWxh: expected a number of points >= 0, got 'two'"),
    ("weights.bonus", 1, "unknown key weights.bonus"),
    ("limits.cpu_s", 0, "limits.cpu_s: expected a whole number of seconds >= 1, got 0"),
    ("limits.wall_s", "long", "limits.wall_s: expected seconds > 0"),
    ("limits.memory_mb", 10, "limits.memory_mb: expected a whole number of MiB >= 256, got 10"),
    ("limits.disk", 1, "unknown key limits.disk"),
    ("seed", -3, "seed: expected an integer >= 0, got -3"),
    ("visibility", "public", "visibility: expected one of visible"),
    ("penalties.truncated-bptt", True, "penalties.truncated-bptt: expected a number of points"),
    ("weights", 3, "weights: expected a table, got 3"),
])
def test_a_bad_key_is_named_with_what_was_expected_and_what_came(path, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_dict(_with(path, value))


def test_a_task_with_nothing_to_grade_is_refused():
    with pytest.raises(ValueError, match="at least one check with points > 0"):
        from_dict({"name": "empty", "weights": {"runs": 0}})


def test_an_optimiser_task_grades_no_gradients_by_name():
    with pytest.raises(ValueError, match="weights.params: an optimiser task"):
        from_dict({"name": "o", "optimizer": "adam", "weights": {"params": {"W": 1}}})


def test_unknown_task_names_list_the_built_in_ones_and_bad_files_say_why(tmp_path):
    with pytest.raises(ValueError, match=r"built-in task \(adagrad, .*rnn-minchar.*\).*got 'nope'"):
        load_task("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_task(bad)
    with pytest.raises(TypeError, match="task: expected a task name or a path, got int"):
        load_task(3)


def test_toml_output_quotes_keys_that_need_it():
    text = dumps_toml({"name": "x", "penalties": {"rnn-W_hh-not-transposed": 1, "a b": 2}})
    assert 'rnn-W_hh-not-transposed = 1' in text and '"a b" = 2' in text


def test_optimiser_tasks_say_so_where_the_optimiser_checker_is_missing(tmp_path, monkeypatch):
    from gradlab.grade import runner

    monkeypatch.setattr(runner, "optimizer_checker", lambda: None)
    with pytest.raises(ValueError, match="optimizer 'rmsprop' needs the optimiser checker"):
        runner.run_check(tmp_path / "x.py", load_task("rmsprop"))


def test_optimiser_tasks_call_the_optimiser_checker_with_the_task_s_settings(tmp_path, monkeypatch):
    from gradlab.grade import runner
    from gradlab.student.result import CheckResult

    calls = []

    def fake(path, optimizer, style, *, limits, seed):
        calls.append((path, optimizer, style, limits.cpu_s, seed))
        return CheckResult(str(path), style, None, "correct")

    monkeypatch.setattr(runner, "optimizer_checker", lambda: fake)
    task = from_dict({"name": "o", "optimizer": "adam", "style": "minchar", "seed": 4, "limits": {"cpu_s": 2},
                      "weights": {"all_correct": 1}})
    assert runner.run_check(tmp_path / "x.py", task)["verdict"] == "correct"
    assert calls == [(tmp_path / "x.py", "adam", "minchar", 2, 4)]


def test_task_is_a_frozen_value():
    task = load_task("rnn")
    assert isinstance(task, Task)
    with pytest.raises(AttributeError):
        task.name = "other"
