"""Plots (matplotlib, Agg: no display needed): the loss curve of a run, and one figure per experiment.

Sentence experiments: per sentence, the training loss of each arm (mean over seeds, band from the lowest
to the highest seed, log scale) above the steps to reproduce (mean, bars at ± sd, the seeds that got
there written on the bar). seq-length: recall against L, one line per model, bars at ± sd.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradlab.train.results import ExperimentResult, Row, summary

NAMED_KEYS = ("biases", "optimizer", "model")  # shown as the bare value; other keys as key=value


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def arm_label(keys: dict) -> str:
    parts = []
    for k, v in keys.items():
        if k == "text":
            continue
        if k in NAMED_KEYS:
            parts.append(str(v))
        elif k == "parameters":
            parts.append(f"{v} params")
        else:
            parts.append(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}")
    return ", ".join(parts)


def loss_curve(losses: np.ndarray, path, title: str = "training loss") -> Path:
    """The per-character loss of every step (and its running mean over 50 steps) as a PNG."""
    plt = _pyplot()
    losses = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, losses.size + 1)
    ax.plot(steps, losses, lw=0.6, alpha=0.4, label="per step")
    if losses.size >= 50:
        ax.plot(steps[49:], np.convolve(losses, np.ones(50) / 50, mode="valid"), lw=1.5, label="mean of 50 steps")
    ax.set(xlabel="step", ylabel="loss (nats per character)", title=title, yscale="log")
    ax.legend()
    return _save(fig, path, plt)


def experiment_plot(result: ExperimentResult, path) -> Path:
    if result.name == "seq-length":
        return _recall_plot(result, path)
    return _sentence_plot(result, path)


def _sentence_plot(result: ExperimentResult, path) -> Path:
    plt = _pyplot()
    texts = list(dict.fromkeys(row.keys["text"] for row in result.rows))
    fig, axes = plt.subplots(2, len(texts), figsize=(6.5 * len(texts), 7.5), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for j, text in enumerate(texts):
        rows = [row for row in result.rows if row.keys["text"] == text]
        _curves(axes[0, j], rows, f"“{text}”")
        _steps_bars(axes[1, j], rows)
    seeds = result.setup.get("seeds", [])
    fig.suptitle(f"gradlab experiment {result.name}: {result.title} ({len(seeds)} seeds)")
    return _save(fig, path, plt)


def _curves(ax, rows: list[Row], title: str) -> None:
    for row in rows:
        curves = np.array(row.curves)  # (seeds, points)
        line, = ax.plot(row.curve_steps, curves.mean(axis=0), lw=1.4, label=arm_label(row.keys))
        ax.fill_between(row.curve_steps, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set(yscale="log", xlabel="step", ylabel="training loss (nats/char)", title=title)
    ax.legend(fontsize=8)


def _steps_bars(ax, rows: list[Row]) -> None:
    x = np.arange(len(rows))
    for i, row in enumerate(rows):
        s = summary(row.values["steps_to_reproduce"])
        if s["n"]:
            ax.bar(i, s["mean"], yerr=s["sd"], capsize=3, color=f"C{i}")
        top = s["mean"] + s["sd"] if s["n"] else 0
        ax.annotate(f"{s['n']}/{s['of']} seeds", (i, top), textcoords="offset points", xytext=(0, 3),
                    ha="center", fontsize=8)
    ax.set_xticks(x, [arm_label(row.keys) for row in rows], rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="steps to reproduce (mean ± sd)")


def _recall_plot(result: ExperimentResult, path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model in dict.fromkeys(row.keys["model"] for row in result.rows):
        rows = [row for row in result.rows if row.keys["model"] == model]
        L = [row.keys["L"] for row in rows]
        for key, style in (("recall", "-o"), ("char_accuracy", ":s")):
            stats = [summary(row.values[key]) for row in rows]
            ax.errorbar(L, [s["mean"] for s in stats], yerr=[s["sd"] for s in stats], fmt=style, capsize=3,
                        label=f"{model}: {'strings' if key == 'recall' else 'symbols'} recalled")
    ax.axhline(1 / 8, color="grey", lw=0.8, ls="--", label="symbols, chance (1/8)")
    ax.set(xlabel="length L", ylabel="fraction recalled (held-out strings)", ylim=(-0.02, 1.02),
           title=f"gradlab experiment seq-length: {result.setup['task']} task ({len(result.setup['seeds'])} seeds)")
    ax.legend(fontsize=8)
    return _save(fig, path, plt)


def _save(fig, path, plt) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
