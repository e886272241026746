"""Nesterov momentum in the form optax and PyTorch share: v = mu v + g; p -= lr (g + mu v). Correct.

    gradlab check examples/optim/nesterov.py --optimizer nesterov
"""

import numpy as np


def step(params, grads, state, lr, mu=0.9):
    v = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: mu * v[k] + grads[k] for k in params}
    return {k: p - lr * (grads[k] + mu * v[k]) for k, p in params.items()}, v
