"""The recall task of the seq-length experiment: read L random symbols, a delimiter, then say them again.

    copy        s_1 .. s_L | s_1 .. s_L         the first symbol must be held for L + 1 steps
    palindrome  s_1 .. s_L | s_L .. s_1         the last symbol read is the first said: easier for short memories

Inputs are the 2L + 1 characters but the last, targets the characters but the first (T = 2L), as for
text. Only the L recall targets after the delimiter count (a mask on the loss): the first half is random
and cannot be predicted. Symbols are drawn uniformly from ALPHABET, so chance recall is 8^-L.

recall = the fraction of held-out strings whose L recalled symbols are all right under greedy decoding
(teacher-forced argmax, which equals free-running greedy generation from the delimiter: see loop.evaluate).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradlab.models.losses import one_hot
from gradlab.models.registry import MODELS
from gradlab.train.loop import TrainConfig, Trainer, init_params, zero_state

ALPHABET = "abcdefgh"
DELIMITER = "|"
TASKS = ("copy", "palindrome")
EVAL_SEED_OFFSET = 10_000  # held-out strings come from a generator the training never touches
EVAL_STRINGS = 256


class RecallBatch(NamedTuple):
    inputs: np.ndarray  # (2L, B) ints in [0, V)
    targets: np.ndarray  # (2L, B)
    mask: np.ndarray  # (2L, B) float, 1 on the L recall targets


def recall_batch(rng: np.random.Generator, length: int, batch_size: int, task: str = "copy") -> RecallBatch:
    """``batch_size`` fresh strings of ``length`` symbols, as time-major inputs, targets and mask."""
    if task not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
    s = rng.integers(0, len(ALPHABET), size=(batch_size, length))
    said = s if task == "copy" else s[:, ::-1]
    delimiter = np.full((batch_size, 1), len(ALPHABET))
    seq = np.concatenate([s, delimiter, said], axis=1)  # (B, 2L + 1)
    mask = np.zeros((2 * length, batch_size))
    mask[length:] = 1  # targets t = L .. 2L - 1 are the recalled symbols
    return RecallBatch(seq[:, :-1].T.copy(), seq[:, 1:].T.copy(), mask)


class RecallOutcome(NamedTuple):
    recall: float  # fraction of held-out strings recalled exactly
    char_accuracy: float  # fraction of recalled symbols right
    final_loss: float  # per recalled symbol, nats, on the held-out strings
    losses: np.ndarray  # (steps,) training loss per recalled symbol


def train_recall(config: TrainConfig, length: int, task: str = "copy") -> RecallOutcome:
    """Train ``config.model`` on fresh recall strings (``config.batch_size`` per step); score held-out ones."""
    config = config.validate()
    model, V = MODELS[config.model], len(ALPHABET) + 1
    rng = np.random.default_rng(config.seed)
    trainer = Trainer(model, init_params(model, V, config, rng), config)
    losses = np.empty(config.steps)
    for k in range(config.steps):
        batch = recall_batch(rng, length, config.batch_size, task)
        out = trainer.step(batch.inputs, batch.targets, zero_state(model, config.batch_size, config.hidden),
                           batch.mask)
        losses[k] = out.loss / batch.mask.sum()
    return score(model, trainer.params, config, length, task, losses)


def score(model, params, config: TrainConfig, length: int, task: str, losses: np.ndarray) -> RecallOutcome:
    held_out = recall_batch(np.random.default_rng(config.seed + EVAL_SEED_OFFSET), length, EVAL_STRINGS, task)
    xs = one_hot(held_out.inputs, len(ALPHABET) + 1)
    logits, _ = model.forward(params, xs, zero_state(model, EVAL_STRINGS, config.hidden))
    right = (np.argmax(logits, axis=-1) == held_out.targets)[length:]  # (L, B): the recall steps
    log_p = logits - np.max(logits, -1, keepdims=True)
    log_p -= np.log(np.sum(np.exp(log_p), -1, keepdims=True))
    picked = np.take_along_axis(log_p, held_out.targets[..., None], -1)[length:, :, 0]
    return RecallOutcome(float(np.mean(np.all(right, axis=0))), float(np.mean(right)), float(-np.mean(picked)),
                         losses)
