"""Momentum as an exponential moving average, v = mu v + (1 - mu) g from v = 0 (a convention: torch's
SGD(dampening=momentum) but for its first step). Correct, and the checker says which convention.

    gradlab check examples/optim/momentum_ema.py --optimizer momentum
"""

import numpy as np


def step(params, grads, state, lr, mu=0.9):
    v = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: mu * v[k] + (1 - mu) * grads[k] for k in params}
    return {k: p - lr * v[k] for k, p in params.items()}, v
