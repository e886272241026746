"""The work behind `gradlab train`, `gradlab sample` and `gradlab experiment`: cli.py parses the options and
calls these; they call the library and render with rich (a progress bar on stderr, results on stdout)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from gradlab.models.registry import MODELS
from gradlab.train import checkpoint, experiments, plots
from gradlab.train.data import SENTENCES, Vocab, book, check_text, load_text
from gradlab.train.loop import TrainConfig, train
from gradlab.train.sample import sample

WHOLE_TEXT_UP_TO = 200  # texts at most this long train as one window by default (a sentence)


def choose_text(text: str | None, file: str | None, book_name: str | None) -> str:
    """The one source given: --text, --file or --book (none: the first default sentence)."""
    given = [name for name, v in (("--text", text), ("--file", file), ("--book", book_name)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"text: expected one of --text, --file, --book, got {' and '.join(given)}")
    if file is not None:
        return load_text(file)
    if book_name is not None:
        return book(book_name)
    return check_text(SENTENCES[0] if text is None else text)


def parse_frozen(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()


def _bar(console: Console, disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=console, transient=True,
                    disable=disable or not console.is_terminal)


def run_train(text: str, config: TrainConfig, *, out_dir: str, sample_every: int, sample_length: int | None,
              temperature: float, as_json: bool, out: Console, err: Console) -> dict:
    """Train with a progress bar, printing samples every ``sample_every`` steps; write the checkpoint
    and the loss curve under ``out_dir``; print and return a summary."""
    config = config.validate()
    model = MODELS[config.model]
    length = len(text) if sample_length is None and len(text) <= WHOLE_TEXT_UP_TO else (sample_length or 200)
    vocab = Vocab.from_text(text)
    with _bar(err, as_json) as bar:
        task = bar.add_task(f"{config.model} + {config.optimizer}", total=config.steps, info="")

        def progress(event) -> None:
            bar.update(task, completed=event.step, info=f"loss {event.loss:.3g} nats/char")
            if not as_json and sample_every and (event.step % sample_every == 0 or event.step == 1):
                text_out = sample(model, event.params, vocab, text[0], length - 1, temperature=temperature,
                                  seed=event.step)
                out.print(f"step {event.step:>6}  loss {event.loss:<9.3g}  sample: {text_out!r}", markup=False,
                          highlight=False)
        with experiments.blas_threads(1):
            result = train(text, config, progress=progress)
    out_path = Path(out_dir)
    saved = checkpoint.save(out_path / "checkpoint.npz", result, prime=text[0])
    png = plots.loss_curve(result.losses, out_path / "loss.png",
                           f"gradlab train: {config.model} + {config.optimizer} (lr {config.lr:g}), H={config.hidden}")
    greedy = sample(model, result.params, result.vocab, text[0], length - 1, temperature=0)
    summary = {"config": json.loads(config.to_json()), "characters": len(text), "vocab_size": result.vocab.size,
               "final_loss": result.final_loss, "reproduced": result.reproduced,
               "reproduced_at": result.reproduced_at, "greedy_sample": greedy, "checkpoint": str(saved),
               "loss_plot": str(png)}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        where = f" (after {result.reproduced_at} steps)" if result.reproduced_at is not None else ""
        out.print(f"final loss {result.final_loss:.3g} nats/char over the whole text; greedy from {text[0]!r}: "
                  f"{greedy!r}; reproduces the text: {'yes' + where if result.reproduced else 'no'}",
                  markup=False, highlight=False)
        out.print(f"written: {saved}, {png}", markup=False, highlight=False)
    return summary


def run_sample(path: str, prime: str | None, length: int, temperature: float, seed: int, out: Console) -> str:
    ckpt = checkpoint.load(path)
    prime = (ckpt.meta.get("prime") or ckpt.vocab.chars[0]) if prime is None else prime
    text = sample(MODELS[ckpt.config.model], ckpt.params, ckpt.vocab, prime, length, temperature=temperature,
                  seed=seed)
    out.print(text, markup=False, highlight=False, soft_wrap=True)
    return text


def run_experiment(name: str, options: experiments.Options, *, out_dir: str, as_json: bool, out: Console,
                   err: Console) -> experiments.ExperimentResult:
    """Run one experiment with a progress bar; write NAME.md, NAME.json and NAME.png under ``out_dir``."""
    if name not in experiments.EXPERIMENTS:
        raise ValueError(f"experiment: expected one of {', '.join(experiments.EXPERIMENTS)}, got {name!r}")
    with _bar(err, as_json) as bar:
        task = bar.add_task(name, total=None, info="")

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, info=what)

        result = experiments.run(name, options, progress=progress)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    (folder / f"{name}.md").write_text(f"{result.title}\n\n{result.markdown()}\n\n" +
                                       "".join(f"- {n}\n" for n in notes(result)))
    png = plots.experiment_plot(result, folder / f"{name}.png")
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return result
    table = Table(title=f"gradlab experiment {name}: {result.title}", title_justify="left")
    for i, column in enumerate(result.header()):
        table.add_column(column, justify="left" if i < len(result.key_columns) else "right")
    for cells in result.table_rows():
        table.add_row(*cells)
    out.print(table)
    for line in notes(result):
        out.print(line, markup=False, highlight=False)
    out.print(f"written: {folder / name}.md, .json, {png}", markup=False, highlight=False)
    return result


def notes(result: experiments.ExperimentResult) -> list[str]:
    setup = ", ".join(f"{k} {v}" for k, v in result.setup.items() if k not in ("seeds", "tuning_seeds", "grid"))
    spread = "cells: mean ± sd over seeds (sd with ddof 1); (n/m): only n of m seeds got there, the mean is theirs"
    return [f"setup: {setup}; seeds {result.setup.get('seeds')}", spread, *result.notes]


def options(seeds: int, quick: bool, texts: list[str] | None, task: str) -> experiments.Options:
    base = experiments.Options(seeds=seeds, quick=quick, task=task)
    return (replace(base, texts=tuple(texts)) if texts else base).validate()
