"""The training loop: any registered model, any registered optimiser, the verified NumPy backward.

One step on a window (inputs, targets) of T steps and B streams (shapes as in DESIGN.md):

    xs = onehot(inputs)                                   (T, B, V)
    logits, cache = model.forward(params, xs, state)      (T, B, V)
    L, dlogits = softmax_cross_entropy(logits, targets)   L summed over t and b, as in min-char-rnn
    grads = model.backward(params, cache, dlogits)        the hand-written BPTT that `gradlab verify` checks
    params = optimiser step on chain(clip(c), opt)        elementwise clip, min-char-rnn's np.clip(g, -5, 5)
    state = the last hidden state (h, or (h, c))          carried into the next window (truncated BPTT)

``frozen`` parameters are held at zero: set to zero at the start and never given to the optimiser (so no
optimiser state, weight decay or clipping touches them). That is "training without b_h": the model has
the same equations with b_h = 0.

Losses are reported per character, L / (T B) nats (the mean), while the gradient is that of the sum.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from gradlab.models.losses import log_softmax, one_hot, softmax_cross_entropy
from gradlab.models.registry import MODELS, Model, get
from gradlab.models.sizes import Sizes
from gradlab.optim import chain, clip, make
from gradlab.optim.registry import OPTIMIZERS
from gradlab.train.data import Batches, Vocab, check_text, positive_int

# Default learning rates for the summed loss: on the optimizers experiment's grid, each reproduces both
# default sentences on every tuning seed (docs/experiments/optimizers.json), a step below the fastest rate
# where that one is unstable (RMSprop 0.03, Adam 0.03 at other budgets).
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "momentum": 0.003, "nesterov": 0.003, "adagrad": 0.1, "rmsprop": 0.003,
                          "adam": 0.01, "adamw": 0.01}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that fixes a run: the same config and seed give the same numbers, bit for bit."""

    model: str = "rnn"
    optimizer: str = "adam"
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATES[optimizer]
    hidden: int = 30
    seq_length: int = 25  # T of each truncated-BPTT window
    batch_size: int = 1  # B streams
    steps: int = 1000
    clip: float | None = 5.0  # elementwise gradient clipping (min-char-rnn's 5); None: no clipping
    frozen: tuple[str, ...] = field(default=())  # parameters held at zero, e.g. ("b_h", "b_y")
    seed: int = 0

    def validate(self) -> TrainConfig:
        model = get(self.model)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        for name in ("hidden", "seq_length", "batch_size", "steps"):
            positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {self.seed!r}")
        for name in ("learning_rate", "clip"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive number or None, got {value!r}")
        unknown = [k for k in self.frozen if k not in model.param_shapes]
        if unknown:
            raise ValueError(f"frozen: expected parameter names of {self.model} ({', '.join(model.param_shapes)}), "
                             f"got {unknown[0]!r}")
        return self

    @property
    def lr(self) -> float:
        return DEFAULT_LEARNING_RATES[self.optimizer] if self.learning_rate is None else float(self.learning_rate)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "frozen": list(self.frozen)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"config: expected fields of TrainConfig, got unknown {sorted(unknown)}")
        return cls(**{**data, "frozen": tuple(data.get("frozen", ()))}).validate()


class StepEvent(NamedTuple):
    """What the loop reports after each update (for a progress bar, or samples while training)."""

    step: int  # updates done, 1..steps
    steps: int
    loss: float  # per character, of the window this step trained on (before its update)
    params: dict[str, np.ndarray]  # after the update


@dataclass
class TrainResult:
    """A finished run: the parameters, the vocabulary and config to rebuild it, and the learning curve."""

    params: dict[str, np.ndarray]
    vocab: Vocab
    config: TrainConfig
    losses: np.ndarray  # (steps,) per-character loss of each step's window, before its update
    final_loss: float  # per character, over the whole text from a zero state, after the last update
    reproduced: bool  # greedy generation reproduces the whole text at the end (see reproduces())
    reproduced_at: int | None  # updates after which the text was first reproduced (one-window texts only)


def init_params(model: Model, V: int, config: TrainConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The model's own init (U(-1/sqrt(H), 1/sqrt(H)), PyTorch's), with the frozen parameters set to zero."""
    params = model.init(Sizes(1, 1, V, config.hidden, V), rng)
    return {k: np.zeros_like(p) if k in config.frozen else p for k, p in params.items()}


def zero_state(model: Model, B: int, H: int):
    """h0 = 0 (B, H), or (h0, c0) = (0, 0) for the LSTM."""
    states = tuple(np.zeros((B, H)) for _ in model.state_names)
    return states[0] if len(states) == 1 else states


def final_state(model: Model, cache):
    """The state after the last step of a forward: h_T (B, H), or (h_T, c_T) for the LSTM (copies)."""
    if "c0" in model.state_names:
        return np.array(cache.hs[-1]), np.array(cache.cs[-1])
    return np.array(cache.hs[-1])


def make_optimizer(config: TrainConfig):
    opt = make(config.optimizer, learning_rate=config.lr)
    return opt if config.clip is None else chain(clip(config.clip), opt)


def masked_cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None):
    """softmax_cross_entropy summed over the (t, b) where mask is 1 (all of them when mask is None)."""
    if mask is None:
        return softmax_cross_entropy(logits, targets)
    _, dlogits = softmax_cross_entropy(logits, targets)
    picked = np.take_along_axis(log_softmax(logits), targets[..., None], axis=-1)[..., 0]  # (T, B)
    return -np.sum(picked * mask), dlogits * mask[..., None]


class StepOutput(NamedTuple):
    loss: float  # summed over the window (the masked terms only)
    grads: dict[str, np.ndarray]  # every parameter and the initial state(s)
    state: object  # the last hidden state, for the next window
    logits: np.ndarray  # (T, B, V)


def loss_and_grads(model: Model, params: dict, xs: np.ndarray, targets: np.ndarray, state,
                   mask: np.ndarray | None = None) -> StepOutput:
    """Forward, summed cross-entropy and the hand-written backward on one window; also the last state."""
    logits, cache = model.forward(params, xs, state)
    loss, dlogits = masked_cross_entropy(logits, targets, mask)
    return StepOutput(float(loss), model.backward(params, cache, dlogits), final_state(model, cache), logits)


class Trainer:
    """The optimiser and its state over the trainable (not frozen) parameters; ``update`` is one step."""

    def __init__(self, model: Model, params: dict, config: TrainConfig):
        self.model, self.config, self.params = model, config, params
        self.opt = make_optimizer(config)
        self.opt_state = self.opt.init(self.trainable())

    def trainable(self) -> dict[str, np.ndarray]:
        return {k: p for k, p in self.params.items() if k not in self.config.frozen}

    def update(self, grads: dict[str, np.ndarray]) -> None:
        trainable = self.trainable()
        new, self.opt_state = self.opt.step(trainable, {k: grads[k] for k in trainable}, self.opt_state)
        self.params = {**self.params, **new}

    def step(self, inputs: np.ndarray, targets: np.ndarray, state, mask=None) -> StepOutput:
        """Train on one window of inputs and targets (T, B) ints from ``state``; return the step's output."""
        xs = one_hot(inputs, self.params["W_hy"].shape[0])  # (T, B, V)
        out = loss_and_grads(self.model, self.params, xs, targets, state, mask)
        self.update(out.grads)
        return out


def evaluate(model: Model, params: dict, vocab: Vocab, text: str) -> tuple[float, bool]:
    """(per-character loss, reproduced) over the whole text, from a zero state, in one forward.

    ``reproduced``: argmax p(x_{i+1} | x_1..x_i) = x_{i+1} for every i (teacher forcing). That is exactly
    "greedy generation primed with text[0] reproduces the text": when every teacher-forced argmax is right,
    the free-running greedy sampler feeds itself the same characters, so it makes the same predictions.
    """
    ids = vocab.encode(text)
    inputs, targets = ids[:-1, None], ids[1:, None]  # (N - 1, 1)
    H = params["W_hy"].shape[1]
    logits, _ = model.forward(params, vocab.one_hot(inputs), zero_state(model, 1, H))
    loss, _ = softmax_cross_entropy(logits, targets)
    return float(loss) / targets.size, bool(np.all(np.argmax(logits, axis=-1) == targets))


def train(text: str, config: TrainConfig, *, progress: Callable[[StepEvent], None] | None = None) -> TrainResult:
    """Train ``config.model`` on ``text`` (char level) for ``config.steps`` updates; return the result.

    Windows of ``seq_length`` steps cycle over ``batch_size`` streams of the text (data.Batches), the hidden
    state carried from one window to the next and reset to zero at the start of each epoch. When the
    whole text fits in one window (a sentence), every step is a full pass from a zero state, and the step
    at which greedy generation first reproduces the text is recorded for free from the step's logits.
    """
    text = check_text(text)
    config = config.validate()
    model, vocab, rng = MODELS[config.model], Vocab.from_text(text), np.random.default_rng(config.seed)
    batches = Batches(vocab.encode(text), config.seq_length, config.batch_size)
    trainer = Trainer(model, init_params(model, vocab.size, config, rng), config)
    one_window = len(batches) == 1 and config.batch_size == 1
    losses, reproduced_at, state = np.empty(config.steps), None, None
    for k in range(config.steps):
        chunk = batches.chunk(k)
        if chunk.first:
            state = zero_state(model, config.batch_size, config.hidden)
        out = trainer.step(chunk.inputs, chunk.targets, state)
        state = out.state
        losses[k] = out.loss / chunk.targets.size
        if one_window and reproduced_at is None and np.all(np.argmax(out.logits, -1) == chunk.targets):
            reproduced_at = k  # the params before update k + 1, i.e. after k updates, reproduce the text
        if progress is not None:
            progress(StepEvent(k + 1, config.steps, float(losses[k]), trainer.params))
    final_loss, reproduced = evaluate(model, trainer.params, vocab, text)
    if one_window and reproduced_at is None and reproduced:
        reproduced_at = config.steps
    return TrainResult(trainer.params, vocab, config, losses, final_loss, reproduced, reproduced_at)
