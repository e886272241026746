"""gradlab/train/experiments.py: every experiment in its reduced mode, reproducible by seed."""

import json

import pytest

from gradlab.train import experiments
from gradlab.train.experiments import EXPERIMENTS, Options, run

QUICK = Options(seeds=2, quick=True)


@pytest.fixture(scope="module")
def results():
    return {name: run(name, QUICK) for name in EXPERIMENTS}


@pytest.mark.parametrize("name, key, arms", [
    ("bias", "biases", ["b_h and b_y", "no b_h", "no b_y", "neither"]),
    ("optimizers", "optimizer", ["sgd", "adam"]),
    ("hidden-size", "H", [2, 8]),
    ("cells", "model", ["rnn", "lstm"]),
])
def test_each_sentence_experiment_has_one_row_per_arm_with_every_seed(results, name, key, arms):
    result = results[name]
    assert [row.keys[key] for row in result.rows] == arms
    for row in result.rows:
        assert len(row.values["steps_to_reproduce"]) == len(row.values["final_loss"]) == 2
        assert all(v is None or 0 <= v <= 40 for v in row.values["steps_to_reproduce"])
        assert len(row.curves) == 2 and row.curves[0].shape == row.curve_steps.shape
    json.dumps(result.to_dict())  # plain JSON


@pytest.mark.parametrize("name, varied, fixed", [("hidden-size", "hidden", "model"), ("cells", "model", "hidden"),
                                                  ("bias", "frozen", "hidden")])
def test_the_setup_caption_names_what_is_fixed_and_not_what_the_table_varies(results, name, varied, fixed):
    assert varied not in results[name].setup and fixed in results[name].setup


def test_the_seq_length_experiment_scores_rnn_and_lstm_at_each_length(results):
    result = results["seq-length"]
    assert [(row.keys["model"], row.keys["L"]) for row in result.rows] == [("rnn", 2), ("rnn", 3), ("lstm", 2),
                                                                            ("lstm", 3)]
    assert all(0 <= v <= 1 for row in result.rows for v in row.values["recall"] + row.values["char_accuracy"])


def test_the_optimizers_table_reruns_the_chosen_rate_on_fresh_seeds(results):
    result = results["optimizers"]
    tuning = result.extra["tuning"]
    assert len(tuning) == 2 * 2  # sgd and adam, each at the two quick learning rates
    for row in result.rows:
        tried = [t for t in tuning if t["optimizer"] == row.keys["optimizer"]]
        assert [t["lr"] for t in tried] == [0.003, 0.03] and sum(t["chosen"] for t in tried) == 1
        assert next(t for t in tried if t["chosen"])["lr"] == row.keys["lr"]
        assert row.seeds == [1000, 1001]
    assert result.setup["tuning_seeds"] == [0, 1]


def test_the_chosen_rate_is_the_best_ranked(results):
    def rank(t):  # most seeds reproduced, then fewest mean steps, then lowest mean final loss
        steps = t["steps_to_reproduce"]
        return (-steps["n"], steps["mean"] if steps["n"] else float("inf"), t["final_loss"]["mean"])

    tuning = results["optimizers"].extra["tuning"]
    for name in ("sgd", "adam"):
        tried = [t for t in tuning if t["optimizer"] == name]
        assert next(t for t in tried if t["chosen"]) is min(tried, key=rank)


def test_the_same_options_give_identical_numbers_and_other_seeds_do_not(results):
    again = run("bias", QUICK)
    assert again.to_dict() == results["bias"].to_dict()
    other = run("bias", Options(seeds=3, quick=True))
    assert other.rows[0].values["final_loss"][:2] == results["bias"].rows[0].values["final_loss"]
    assert other.rows[0].values["final_loss"][2] not in results["bias"].rows[0].values["final_loss"]


def test_progress_counts_every_run():
    seen = []
    run("hidden-size", Options(seeds=1, quick=True), progress=lambda done, total, what: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]


@pytest.mark.parametrize("name, options, message", [
    ("speed", Options(), "experiment: expected one of bias, optimizers, hidden-size, cells, seq-length"),
    ("bias", Options(seeds=0), "seeds: expected a positive integer, got 0"),
    ("bias", Options(texts=("a",)), "text: expected at least 2 characters"),
    ("seq-length", Options(task="sort"), "task: expected one of copy, palindrome"),
])
def test_bad_experiment_arguments_name_the_argument(name, options, message):
    with pytest.raises(ValueError, match=message):
        experiments.run(name, options)
