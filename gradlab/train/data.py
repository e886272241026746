"""Character data: a vocabulary, a text from a string, a file or the shipped book, and batches for
truncated BPTT.

A text of N characters gives N - 1 (input, target) pairs: x_i = text[i], y_i = text[i + 1]. For B > 1
the pairs are cut into B contiguous streams of L = (N - 1) // B pairs each (the remainder is dropped),
laid out time-major (L, B), so that row t of every stream continues row t - 1: the hidden state at the
end of one chunk is the right initial state for the next (min-char-rnn's ``hprev``, batched).

    vocab = Vocab.from_text(text)              # sorted distinct characters
    batches = Batches(vocab.encode(text), seq_length=25, batch_size=4)
    chunk = batches.chunk(k)                   # inputs (T, B), targets (T, B), first: reset the state
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gradlab.models.losses import one_hot

BOOKS = {"hamlet": "hamlet.txt"}  # shipped under gradlab/train/data/ (NOTICE.md there has the provenance)
SENTENCES = ("Amazon is river.", "All the faith he had had had had no effect on the outcome of his life.")


def check_text(text, name: str = "text", min_length: int = 2) -> str:
    """A str of at least ``min_length`` characters (one input and its target), else TypeError/ValueError."""
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a str, got {type(text).__name__}")
    if len(text) < min_length:
        raise ValueError(f"{name}: expected at least {min_length} characters, got {len(text)} ({text!r})")
    return text


def load_text(path) -> str:
    """The UTF-8 text of a file (OSError when unreadable, ValueError when not UTF-8 or too short)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"file: expected UTF-8 text, got undecodable bytes in {path} ({exc.reason})") from None
    return check_text(text, f"file {path}")


def book(name: str = "hamlet") -> str:
    """The text of a book shipped with gradlab (``BOOKS``): Hamlet, 174 KB, public domain."""
    if name not in BOOKS:
        raise ValueError(f"book: expected one of {', '.join(BOOKS)}, got {name!r}")
    return resources.files("gradlab.train").joinpath("data", BOOKS[name]).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Vocab:
    """The characters of a text, sorted: index i <-> chars[i]. V = len(chars)."""

    chars: str

    def __post_init__(self):
        check_text(self.chars, "vocab", min_length=1)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError(f"vocab: expected distinct characters, got {self.chars!r}")

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls("".join(sorted(set(check_text(text, min_length=1)))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str, name: str = "text") -> np.ndarray:
        """str -> (N,) int64 indices; ValueError naming the first character not in the vocabulary."""
        check_text(text, name, min_length=0)
        index = {c: i for i, c in enumerate(self.chars)}
        missing = [c for c in text if c not in index]
        if missing:
            raise ValueError(f"{name}: expected characters of the vocabulary {self.chars!r}, got {missing[0]!r}")
        return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """(N,) indices in [0, V) -> str."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))

    def one_hot(self, ids: np.ndarray, dtype=np.float64) -> np.ndarray:
        """(...,) indices -> (..., V) one-hot rows: the model inputs xs."""
        return one_hot(ids, self.size, dtype)


class Chunk(NamedTuple):
    """One truncated-BPTT window: inputs and targets (T, B) int; ``first``: the state starts at zero."""

    inputs: np.ndarray
    targets: np.ndarray
    first: bool


class Batches:
    """Streams of (input, target) pairs cut into windows of ``seq_length`` steps, cycled over forever.

    Chunk k is window k mod n_chunks; window 0 starts an epoch and so a zero state. The last window of
    an epoch may be shorter than ``seq_length`` (it holds the rest of the streams).
    """

    def __init__(self, ids: np.ndarray, seq_length: int, batch_size: int = 1):
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise TypeError(f"ids: expected a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
        seq_length, batch_size = positive_int("seq_length", seq_length), positive_int("batch_size", batch_size)
        L = (len(ids) - 1) // batch_size
        if L < 1:
            raise ValueError(f"batch_size: expected at most len(text) - 1 = {len(ids) - 1} streams, got {batch_size}")
        x, y = ids[:-1][:L * batch_size], ids[1:][:L * batch_size]
        self.inputs = x.reshape(batch_size, L).T  # (L, B): stream b is column b
        self.targets = y.reshape(batch_size, L).T
        self.seq_length = seq_length
        self.starts = list(range(0, L, seq_length))

    def __len__(self) -> int:
        """Windows per epoch."""
        return len(self.starts)

    def chunk(self, k: int) -> Chunk:
        t0 = self.starts[k % len(self.starts)]
        window = slice(t0, t0 + self.seq_length)
        return Chunk(self.inputs[window], self.targets[window], t0 == 0)


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)
