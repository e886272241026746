"""Heavy-ball momentum in gradlab's contract, v = mu v + g (optax and PyTorch). Correct.

    gradlab check examples/optim/momentum.py --optimizer momentum
"""

import numpy as np


def step(params, grads, state, lr, mu=0.9):
    v = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: mu * v[k] + grads[k] for k in params}
    return {k: p - lr * v[k] for k, p in params.items()}, v
