"""RMSprop as torch.optim.RMSprop: alpha (decay) 0.99, eps 1e-8 outside the sqrt. A convention. Correct.

    gradlab check examples/optim/rmsprop_decay_099.py --optimizer rmsprop
"""

import numpy as np


def step(params, grads, state, lr, alpha=0.99, eps=1e-8):
    sq = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    sq = {k: alpha * sq[k] + (1 - alpha) * grads[k] ** 2 for k in params}
    return {k: p - lr * grads[k] / (np.sqrt(sq[k]) + eps) for k, p in params.items()}, sq
