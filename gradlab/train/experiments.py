"""The course's training experiments, each over several seeds: a table of mean and spread, and a plot.

    bias         RNN with both biases, without b_h, without b_y, without either (frozen at zero)
    optimizers   SGD, momentum, AdaGrad, RMSprop, Adam; each learning rate picked on a grid, then rerun
    hidden-size  RNN with H = 2 .. 64
    cells        RNN, LSTM, GRU (reset after) and GRU (reset before, Cho 2014)
    seq-length   recall of a copy (or palindrome) task as its length grows: RNN vs LSTM (recall.py)

The sentence experiments train on each sentence as one window from a zero state (T = len - 1, B = 1) and
measure, per seed: **steps to reproduce**, the number of updates after which greedy generation primed
with the sentence's first character reproduces the whole sentence (loop.evaluate says why teacher-forced
argmax gives the same verdict), and the **final loss**, nats per character after the last update.

Every run is seeded: the same experiment, options and seeds give the same numbers, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import NamedTuple

from gradlab.models.registry import MODELS
from gradlab.train.data import SENTENCES, Vocab, check_text, positive_int
from gradlab.train.loop import TrainConfig, train
from gradlab.train.recall import TASKS, train_recall
from gradlab.train.results import ExperimentResult, Metric, Row, summary, thin

Progress = Callable[[int, int, str], None]  # (runs done, runs in all, what just ran)

STEPS = Metric("steps_to_reproduce", "steps to reproduce", ".0f")
LOSS = Metric("final_loss", "final loss (nats/char)", ".2g")
RECALL = Metric("recall", "recall (strings)", ".3f", lower_is_better=False)
CHAR_ACCURACY = Metric("char_accuracy", "recall (symbols)", ".3f", lower_is_better=False)
RECALL_LOSS = Metric("final_loss", "final loss (nats/symbol)", ".3f")

LEARNING_RATE_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)  # the same grid for every optimiser
TUNED_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
EVAL_SEED_OFFSET = 1000  # the optimizers table reruns each chosen learning rate on seeds 1000, 1001, ...


@dataclass(frozen=True)
class Options:
    """What a user may set: seeds (how many; seeds 0 .. n-1), quick (the reduced mode the tests run),
    the sentences, and the recall task of seq-length."""

    seeds: int = 3
    quick: bool = False
    texts: tuple[str, ...] = SENTENCES
    task: str = "copy"

    def validate(self) -> Options:
        positive_int("seeds", self.seeds)
        if not self.texts:
            raise ValueError("texts: expected at least one sentence, got none")
        for text in self.texts:
            check_text(text, "text")
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {self.task!r}")
        return self

    def sentences(self) -> tuple[str, ...]:
        return self.texts[:1] if self.quick else self.texts

    def base(self) -> TrainConfig:
        """The settings every sentence run shares (the full or the quick budget)."""
        return TrainConfig(model="rnn", optimizer="adam", learning_rate=0.01, hidden=8 if self.quick else 30,
                           steps=40 if self.quick else 500, clip=5.0)


class Experiment(NamedTuple):
    name: str
    title: str
    run: Callable[[Options, Progress | None], ExperimentResult]


@contextmanager
def blas_threads(n: int = 1):
    """Hold BLAS to ``n`` threads: the products here are tiny, and more threads on a busy machine are
    measured to be up to 10x slower. A no-op when threadpoolctl is not installed."""
    try:
        import threadpoolctl
    except ImportError:
        yield
        return
    with threadpoolctl.threadpool_limits(n, user_api="blas"):
        yield


def label(text: str, width: int = 20) -> str:
    """A sentence short enough for a table cell."""
    return text if len(text) <= width else text[:width - 1] + "…"


class Runner:
    """Runs sentence jobs, one per seed, and counts them for the progress bar."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.done, self.progress = total, 0, progress

    def sentence(self, text: str, config: TrainConfig, seeds: Sequence[int], keys: dict) -> Row:
        row = Row({"text": label(text), **keys}, list(seeds), {STEPS.key: [], LOSS.key: []})
        config = replace(config, seq_length=len(text) - 1, batch_size=1)  # the whole sentence, one window
        for seed in seeds:
            result = train(text, replace(config, seed=seed))
            row.values[STEPS.key].append(result.reproduced_at)
            row.values[LOSS.key].append(result.final_loss)
            row.curve_steps, curve = thin(result.losses)
            row.curves.append(curve)
            self.tick(f"{label(text)} {' '.join(str(v) for v in keys.values())} seed {seed}")
        return row

    def tick(self, what: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, what)


def _arms_experiment(name: str, title: str, arms: dict[str, dict], key: str, options: Options,
                     progress: Progress | None, extra_keys: Callable[[TrainConfig, str], dict] | None = None):
    """Every arm (key value -> TrainConfig changes) on every sentence, over seeds 0 .. n-1."""
    options, seeds = options.validate(), range(options.seeds)
    base = options.base()
    runner = Runner(len(arms) * len(options.sentences()) * options.seeds, progress)
    rows = []
    for text in options.sentences():
        for value, changes in arms.items():
            config = replace(base, **changes)
            keys = {key: value, **(extra_keys(config, text) if extra_keys else {})}
            rows.append(runner.sentence(text, config, seeds, keys))
    varied = {field for changes in arms.values() for field in changes}  # in the table, not the caption
    setup = {k: v for k, v in base.__dict__.items()
             if k not in ("seed", "frozen", "seq_length", "batch_size", *varied)}
    key_columns = ["text", key] + (list(rows[0].keys)[2:] if rows else [])
    return ExperimentResult(name, title, {**setup, "seeds": list(seeds)}, key_columns, [STEPS, LOSS], rows)


def bias(options: Options, progress: Progress | None = None) -> ExperimentResult:
    arms = {"b_h and b_y": {"frozen": ()}, "no b_h": {"frozen": ("b_h",)}, "no b_y": {"frozen": ("b_y",)},
            "neither": {"frozen": ("b_h", "b_y")}}
    return _arms_experiment("bias", "RNN with and without its biases (frozen at zero)", arms, "biases",
                            options, progress)


def hidden_size(options: Options, progress: Progress | None = None) -> ExperimentResult:
    sizes = (2, 8) if options.quick else (2, 4, 8, 16, 32, 64)
    return _arms_experiment("hidden-size", "RNN hidden size H", {H: {"hidden": H} for H in sizes}, "H",
                            options, progress)


def cells(options: Options, progress: Progress | None = None) -> ExperimentResult:
    def parameters(config: TrainConfig, text: str) -> dict:
        V = Vocab.from_text(text).size  # the sentence's characters: D = V
        return {"parameters": _count(MODELS[config.model].param_shapes, {"D": V, "H": config.hidden, "V": V})}

    models = ("rnn", "lstm") if options.quick else tuple(MODELS)
    return _arms_experiment("cells", "RNN vs LSTM vs GRU", {m: {"model": m} for m in models}, "model",
                            options, progress, parameters)


def _count(shapes, sizes: dict[str, int]) -> int:
    from gradlab.models._checks import _parse

    total = 0
    for symbols in shapes.values():
        n = 1
        for s in symbols:
            mult, letter = _parse(s)
            n *= mult * sizes[letter]
        total += n
    return total


def _rank(row: Row) -> tuple:
    """Best first: most seeds reproduced, then fewest mean steps, then lowest mean final loss."""
    steps, loss = summary(row.values[STEPS.key]), summary(row.values[LOSS.key])
    return (-steps["n"], steps["mean"] if steps["n"] else float("inf"), loss["mean"])


def optimizers(options: Options, progress: Progress | None = None) -> ExperimentResult:
    """Each optimiser's learning rate chosen on the grid with seeds 0 .. n-1 (by _rank), then the table
    reruns the chosen one on fresh seeds 1000 .. 1000+n-1: the numbers shown were not selected on."""
    options = options.validate()
    grid = (0.003, 0.03) if options.quick else LEARNING_RATE_GRID
    names = ("sgd", "adam") if options.quick else TUNED_OPTIMIZERS
    base, texts = options.base(), options.sentences()
    runner = Runner(len(texts) * len(names) * (len(grid) + 1) * options.seeds, progress)
    tune_seeds = list(range(options.seeds))
    eval_seeds = [EVAL_SEED_OFFSET + s for s in tune_seeds]
    rows, tuning = [], []
    for text in texts:
        for name in names:
            tried = [runner.sentence(text, replace(base, optimizer=name, learning_rate=lr), tune_seeds,
                                     {"optimizer": name, "lr": lr}) for lr in grid]
            best = min(tried, key=_rank)
            tuning += [{"text": text, "optimizer": name, "lr": row.keys["lr"], "chosen": row is best,
                        **{m.key: summary(row.values[m.key]) for m in (STEPS, LOSS)}} for row in tried]
            lr = best.keys["lr"]
            rows.append(runner.sentence(text, replace(base, optimizer=name, learning_rate=lr), eval_seeds,
                                        {"optimizer": name, "lr": lr}))
    setup = {"model": base.model, "hidden": base.hidden, "steps": base.steps, "clip": base.clip,
             "grid": list(grid), "tuning_seeds": tune_seeds, "seeds": eval_seeds}
    notes = [(f"learning rate chosen from {list(grid)} on seeds {tune_seeds[0]}..{tune_seeds[-1]} (most seeds "
              f"reproduced, then fewest steps, then lowest loss); the table reruns it on seeds "
              f"{eval_seeds[0]}..{eval_seeds[-1]}")]
    return ExperimentResult("optimizers", "Optimisers, each at its best learning rate on a grid", setup,
                            ["text", "optimizer", "lr"], [STEPS, LOSS], rows, notes, {"tuning": tuning})


def seq_length(options: Options, progress: Progress | None = None) -> ExperimentResult:
    options = options.validate()
    lengths = (2, 3) if options.quick else (2, 4, 6, 8, 10)
    models = ("rnn", "lstm")
    config = TrainConfig(optimizer="adam", learning_rate=0.01, hidden=8 if options.quick else 32, batch_size=32,
                         steps=40 if options.quick else 800, clip=5.0)
    runner = Runner(len(lengths) * len(models) * options.seeds, progress)
    rows = []
    for model in models:
        for length in lengths:
            row = Row({"model": model, "L": length}, list(range(options.seeds)),
                      {RECALL.key: [], CHAR_ACCURACY.key: [], RECALL_LOSS.key: []})
            for seed in row.seeds:
                outcome = train_recall(replace(config, model=model, seed=seed), length, options.task)
                for metric in (RECALL, CHAR_ACCURACY, RECALL_LOSS):
                    row.values[metric.key].append(getattr(outcome, metric.key))
                row.curve_steps, curve = thin(outcome.losses)
                row.curves.append(curve)
                runner.tick(f"{model} L={length} seed {seed}")
            rows.append(row)
    setup = {"task": options.task, "optimizer": "adam", "learning_rate": 0.01, "hidden": config.hidden,
             "batch_size": config.batch_size, "steps": config.steps, "clip": config.clip,
             "seeds": list(range(options.seeds)), "held_out_strings": 256, "alphabet": 8}
    return ExperimentResult("seq-length", f"Recall of a {options.task} task as its length L grows", setup,
                            ["model", "L"], [RECALL, CHAR_ACCURACY, RECALL_LOSS], rows,
                            [f"chance recall is 8^-L; symbols right by chance: 1/8 = {1 / 8:.3f}"])


EXPERIMENTS: dict[str, Experiment] = {
    "bias": Experiment("bias", "RNN with and without b_h, b_y", bias),
    "optimizers": Experiment("optimizers", "SGD, momentum, AdaGrad, RMSprop, Adam, learning rates tuned",
                             optimizers),
    "hidden-size": Experiment("hidden-size", "RNN hidden sizes 2 .. 64", hidden_size),
    "cells": Experiment("cells", "RNN vs LSTM vs GRU (both conventions)", cells),
    "seq-length": Experiment("seq-length", "copy/palindrome recall as length grows, RNN vs LSTM", seq_length),
}


def run(name: str, options: Options | None = None, progress: Progress | None = None) -> ExperimentResult:
    """Run the experiment ``name`` (one of EXPERIMENTS) with BLAS on one thread."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment: expected one of {', '.join(EXPERIMENTS)}, got {name!r}")
    with blas_threads(1):
        return EXPERIMENTS[name].run((options or Options()).validate(), progress)
