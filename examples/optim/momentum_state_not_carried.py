"""Momentum whose buffer is never handed back: step returns the OLD state, so v restarts at every step
(wrong: "state not carried between steps"; the trajectory is plain SGD's).

    gradlab check examples/optim/momentum_state_not_carried.py --optimizer momentum
"""

import numpy as np


def step(params, grads, state, lr, mu=0.9):
    v = state if state is not None else {k: np.zeros_like(p) for k, p in params.items()}
    v = {k: mu * v[k] + grads[k] for k in params}
    return {k: p - lr * v[k] for k, p in params.items()}, state  # BUG: should return v
