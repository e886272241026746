"""Checkpoints: one .npz holding the parameters, the vocabulary and the config; loadable without pickle.

Layout (every entry a plain array, so ``np.load(path, allow_pickle=False)`` reads it):

    param/<name>   each parameter, e.g. param/W_xh (H, D)
    vocab          0-d unicode array: the characters, index i <-> vocab[i]
    config         0-d unicode array: TrainConfig as JSON
    meta           0-d unicode array: JSON {"format": 1, "steps", "final_loss", "reproduced", "prime"}

No optimiser state is kept: a checkpoint is for sampling and inspection, not for resuming.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gradlab.models._checks import infer_sizes
from gradlab.models.registry import MODELS
from gradlab.train.data import Vocab
from gradlab.train.loop import TrainConfig, TrainResult

FORMAT = 1


class Checkpoint(NamedTuple):
    params: dict[str, np.ndarray]
    vocab: Vocab
    config: TrainConfig
    meta: dict


def save(path, result: TrainResult, prime: str | None = None) -> Path:
    """Write ``result`` to ``path`` (".npz" appended when missing); return the path written.
    ``prime``: the default priming string of `gradlab sample` (the text's first character)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {"format": FORMAT, "steps": len(result.losses), "final_loss": result.final_loss,
            "reproduced": result.reproduced, "prime": prime}
    arrays = {f"param/{k}": v for k, v in result.params.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vocab=np.array(result.vocab.chars), config=np.array(result.config.to_json()),
             meta=np.array(json.dumps(meta)), **arrays)
    return path


def load(path) -> Checkpoint:
    """Read a checkpoint written by ``save``; ValueError when the file is not one (or not consistent)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            entries = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"checkpoint: expected a gradlab .npz checkpoint, got {path} ({exc})") from None
    missing = [k for k in ("vocab", "config", "meta") if k not in entries]
    if missing:
        raise ValueError(f"checkpoint: expected entries vocab, config, meta and param/*, {path} lacks {missing}")
    meta = json.loads(str(entries["meta"]))
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint: expected format {FORMAT}, got {meta.get('format')!r} in {path}")
    config = TrainConfig.from_json(str(entries["config"]))
    params = {k.removeprefix("param/"): v for k, v in entries.items() if k.startswith("param/")}
    sizes = infer_sizes(params, MODELS[config.model].param_shapes)
    vocab = Vocab(str(entries["vocab"]))
    if sizes["V"] != vocab.size:
        raise ValueError(f"checkpoint: expected a vocabulary of V = {sizes['V']} characters, got {vocab.size}")
    return Checkpoint(params, vocab, config, meta)
