"""The model registry: name -> Model, so every tool (verify, check, bench, info) iterates the same list.

A model is a module implementing the contract of DESIGN.md; ``Model`` adds the pieces generic tools
need: the parameter shapes, the names of the initial states (h0, or h0 and c0), and "theta", the flat
dict of every differentiable input (the parameters plus the initial states) that oracles perturb.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from gradlab.models import gru, lstm, rnn
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.sizes import Sizes, check_dtype


@dataclass(frozen=True)
class Model:
    """One registered model and the contract functions of its module."""

    name: str
    title: str
    module: ModuleType
    extra_forward_modes: tuple[str, ...] = ()  # e.g. ("rtrl",) where the model has full RTRL

    @property
    def param_shapes(self) -> Mapping[str, tuple[str, ...]]:
        return self.module.PARAM_SHAPES

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.module.STATE_NAMES

    @property
    def init(self) -> Callable:
        return self.module.init

    @property
    def forward(self) -> Callable:
        return self.module.forward

    @property
    def backward(self) -> Callable:
        return self.module.backward

    @property
    def loss_and_grads(self) -> Callable:
        return self.module.loss_and_grads

    @property
    def forward_mode_bias(self) -> Callable:
        return self.module.forward_mode_bias

    # --- theta: parameters and initial states in one flat dict -------------------------------------

    def state(self, theta: Mapping[str, np.ndarray]):
        """The initial-state argument of forward/loss_and_grads taken from theta: h0, or (h0, c0)."""
        states = tuple(theta[k] for k in self.state_names)
        return states[0] if len(states) == 1 else states

    def params(self, theta: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: theta[k] for k in self.param_shapes}

    def loss(self, theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """L(theta) by the NumPy forward: what finite differences and the complex step differentiate."""
        logits, _ = self.forward(self.params(theta), xs, self.state(theta))
        return softmax_cross_entropy(logits, targets)[0]

    def grads(self, theta: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray):
        """(loss, grads) by the hand-written backward; grads has the keys of theta."""
        return self.loss_and_grads(self.params(theta), xs, targets, self.state(theta))

    def random_problem(self, sizes: Sizes, seed: int = 0, dtype=np.float64):
        """A reproducible problem: theta (params and states), dense inputs xs (T, B, D), targets (T, B)."""
        sizes = Sizes(*sizes).validate()
        dtype = check_dtype(dtype)
        rng = np.random.default_rng(seed)
        theta = self.init(sizes, rng, dtype)
        for k in self.state_names:
            theta[k] = (0.5 * rng.standard_normal((sizes.B, sizes.H))).astype(dtype)
        xs = rng.standard_normal((sizes.T, sizes.B, sizes.D)).astype(dtype)
        targets = rng.integers(0, sizes.V, size=(sizes.T, sizes.B))
        return theta, xs, targets


MODELS: dict[str, Model] = {
    "rnn": Model("rnn", "vanilla RNN, biases b_h and b_y (min-char-rnn, nn.RNN + Linear)", rnn, ("rtrl",)),
    "lstm": Model("lstm", "LSTM, gates i, f, g, o stacked as in nn.LSTM, one bias b", lstm),
    "gru": Model("gru", "GRU, reset after the matmul (nn.GRU, cuDNN, Keras reset_after)", gru.RESET_AFTER),
    "gru-cho": Model("gru-cho", "GRU, reset before the matmul (Cho et al. 2014)", gru.RESET_BEFORE),
}


def get(name: str) -> Model:
    """The model registered under ``name``; ValueError naming the valid names otherwise."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(MODELS)}, got {name!r}")
    return MODELS[name]
