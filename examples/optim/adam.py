"""Adam (Kingma & Ba, Algorithm 1) in gradlab's contract; the step count lives in the state. Correct.

    gradlab check examples/optim/adam.py --optimizer adam
"""

import numpy as np


def step(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8):
    if state is None:
        state = {"t": 0, "m": {k: np.zeros_like(p) for k, p in params.items()},
                 "v": {k: np.zeros_like(p) for k, p in params.items()}}
    t = state["t"] + 1
    m = {k: b1 * state["m"][k] + (1 - b1) * grads[k] for k in params}
    v = {k: b2 * state["v"][k] + (1 - b2) * grads[k] ** 2 for k in params}
    new = {}
    for k, p in params.items():
        m_hat, v_hat = m[k] / (1 - b1 ** t), v[k] / (1 - b2 ** t)
        new[k] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new, {"t": t, "m": m, "v": v}
