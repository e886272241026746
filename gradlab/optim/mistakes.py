"""Named optimiser mistakes: each a constructor with the reference's signature and one step changed.

The twin of every optimiser test feeds them to the optax comparison and asserts each is caught; the
student checker will match a student's trajectory against them (a convention, eps outside the sqrt or
decay 0.99, is not a mistake: registry.variants lists those). Kept beside the optimisers they mutate;
gradlab.mistakes holds the backward mutations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradlab.optim import optimizers
from gradlab.optim.base import Transform, chain, decay_rate, nonnegative, tree_map
from gradlab.optim.transforms import AdamState, scale_by_learning_rate


@dataclass(frozen=True)
class OptimizerMistake:
    id: str
    optimizer: str  # the registry name it mutates
    title: str
    explanation: str
    equation: str  # the equation it breaks, as the reference writes it
    constructor: Callable[..., Transform]  # same signature as OPTIMIZERS[optimizer]


def _state_not_carried(build: Callable[..., Transform]) -> Callable[..., Transform]:
    """Every step starts again from init(params): the accumulators never accumulate."""

    def constructor(*args, **kwargs) -> Transform:
        ref = build(*args, **kwargs)
        return Transform(ref.init, lambda grads, state, params=None: (ref.update(grads, ref.init(params), params)[0],
                                                                       state))

    return constructor


def _adam_with_corrections(corrections: Callable[[int, float, float], tuple[float, float]]):
    """Adam whose bias-correction divisors (c1, c2) come from ``corrections(count, b1, b2)``."""

    def constructor(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0) -> Transform:
        b1, b2 = decay_rate("adam", "b1", b1), decay_rate("adam", "b2", b2)
        eps, eps_root = nonnegative("adam", "eps", eps), nonnegative("adam", "eps_root", eps_root)
        ref = optimizers.adam(learning_rate, b1, b2, eps, eps_root)

        def update(grads, state, params=None):
            m = tree_map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
            v = tree_map(lambda g, v: (1 - b2) * g * g + b2 * v, grads, state.nu)
            c1, c2 = corrections(state.count, b1, b2)
            with np.errstate(divide="ignore", invalid="ignore"):
                u = tree_map(lambda m, v: (m / c1) / (np.sqrt(v / c2 + eps_root) + eps), m, v)
            return u, AdamState(state.count + 1, m, v)

        scale = Transform(lambda params: ref.init(params)[0], update)
        return chain(scale, scale_by_learning_rate(learning_rate))

    return constructor


def _no_bias_correction(count, b1, b2):
    return 1.0, 1.0


def _bias_correction_from_t0(count, b1, b2):
    t = count  # 0 at the first step: 1 - b^0 = 0
    return 1 - b1 ** t, 1 - b2 ** t


OPTIMIZER_MISTAKES: dict[str, OptimizerMistake] = {m.id: m for m in [
    OptimizerMistake("momentum-state-not-carried", "momentum", "momentum buffer not carried between steps",
                     "The buffer v is rebuilt from zero at every step, so v_t = g_t: plain SGD.",
                     "v_t = mu v_{t-1} + g_t", _state_not_carried(optimizers.momentum)),
    OptimizerMistake("adagrad-state-not-carried", "adagrad", "AdaGrad accumulator not carried between steps",
                     "G is rebuilt from G_0 at every step, so the step size never shrinks.",
                     "G_t = G_{t-1} + g_t^2", _state_not_carried(optimizers.adagrad)),
    OptimizerMistake("rmsprop-state-not-carried", "rmsprop", "RMSprop average not carried between steps",
                     "nu is rebuilt from nu_0 at every step: nu_t = (1 - rho) g_t^2, a sign-like step of lr/sqrt(1-rho).",
                     "nu_t = rho nu_{t-1} + (1 - rho) g_t^2", _state_not_carried(optimizers.rmsprop)),
    OptimizerMistake("adam-state-not-carried", "adam", "Adam moments not carried between steps",
                     "m and v restart from zero (and t from 1) at every step: u = -lr g/(|g| + eps), a sign step.",
                     "m_t = b1 m_{t-1} + (1 - b1) g_t", _state_not_carried(optimizers.adam)),
    OptimizerMistake("adam-no-bias-correction", "adam", "Adam without bias correction",
                     "m and v are used as they are: the first step is (1 - b1)/sqrt(1 - b2) = 3.2 times Adam's "
                     "lr sign(g) with the defaults, and the steps shrink as m and v warm up.",
                     "m_hat = m_t / (1 - b1^t), v_hat = v_t / (1 - b2^t)",
                     _adam_with_corrections(_no_bias_correction)),
    OptimizerMistake("adam-bias-correction-t-from-0", "adam", "Adam's bias correction counts steps from 0",
                     "t = 0 at the first step makes 1 - b1^t = 0: the first update divides by zero.",
                     "t = 1, 2, ... in 1 - b1^t", _adam_with_corrections(_bias_correction_from_t0)),
]}
