"""RMSprop in gradlab's contract: step(params, grads, state, lr) -> (params, state). Correct (optax's defaults).

    gradlab check examples/optim/rmsprop.py --optimizer rmsprop
"""

import numpy as np


def step(params, grads, state, lr, decay=0.9, eps=1e-8):
    if state is None:  # the first call: the running average of g^2 starts at zero
        state = {k: np.zeros_like(p) for k, p in params.items()}
    new_params, new_state = {}, {}
    for k, p in params.items():
        g = grads[k]
        new_state[k] = decay * state[k] + (1 - decay) * g * g
        new_params[k] = p - lr * g / np.sqrt(new_state[k] + eps)
    return new_params, new_state
