"""Sampling characters from a trained model, with a temperature and a priming string.

The model reads ``prime`` from a zero state (one forward over its characters); then, one character at a
time, the next character is drawn from softmax(o_t / temperature) and fed back in:

    temperature = 0        argmax o_t (greedy; the limit of the softmax as temperature -> 0)
    temperature = 1        the model's own distribution
    temperature > 1        flatter, more surprising text
"""

from __future__ import annotations

import numpy as np

from gradlab.models.losses import log_softmax
from gradlab.models.registry import Model
from gradlab.train.data import Vocab, check_text
from gradlab.train.loop import final_state, zero_state


def check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)):
        raise TypeError(f"temperature: expected a number >= 0, got {temperature!r}")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature: expected a finite number >= 0, got {temperature!r}")
    return float(temperature)


def next_char(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One index from logits (V,): argmax when temperature is 0, else a draw from softmax(logits / T)."""
    if temperature == 0:
        return int(np.argmax(logits))
    p = np.exp(log_softmax(logits / temperature))  # stable for tiny temperatures: the max is subtracted
    return int(rng.choice(p.size, p=p / p.sum()))


def sample(model: Model, params: dict, vocab: Vocab, prime: str, length: int, *, temperature: float = 1.0,
           seed: int | None = 0) -> str:
    """``prime`` followed by ``length`` generated characters.

    Args:
        model: the registered model the params belong to.
        params: its parameters (W_hy (V, H) fixes V and H).
        vocab: the training vocabulary; every character of ``prime`` must be in it.
        prime: at least one character, read before generating.
        length: characters to generate (>= 0).
        temperature: >= 0; 0 is greedy.
        seed: seeds the draws (ignored when greedy).
    """
    prime = check_text(prime, "prime", min_length=1)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length: expected a non-negative integer, got {length!r}")
    temperature = check_temperature(temperature)
    rng = np.random.default_rng(seed)
    V, H = params["W_hy"].shape
    if V != vocab.size:
        raise ValueError(f"vocab: expected {V} characters (W_hy has V = {V} rows), got {vocab.size}")
    ids = vocab.encode(prime, "prime")
    logits, cache = model.forward(params, vocab.one_hot(ids[:, None]), zero_state(model, 1, H))  # (P, 1, V)
    out = []
    for _ in range(length):
        i = next_char(logits[-1, 0], temperature, rng)
        out.append(i)
        logits, cache = model.forward(params, vocab.one_hot(np.array([[i]])), final_state(model, cache))
    return prime + vocab.decode(out)
