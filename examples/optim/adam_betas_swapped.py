"""Adam with b1 and b2 swapped in the moment updates: no catalogued mistake, so the checker says
"unrecognised error" and shows where the trajectory leaves Adam's.

    gradlab check examples/optim/adam_betas_swapped.py --optimizer adam
"""

import numpy as np


def step(params, grads, state, lr, b1=0.9, b2=0.999, eps=1e-8):
    t, m, v = state if state is not None else (0, {k: 0.0 for k in params}, {k: 0.0 for k in params})
    t += 1
    m = {k: b2 * m[k] + (1 - b2) * grads[k] for k in params}  # BUG: b1
    v = {k: b1 * v[k] + (1 - b1) * grads[k] ** 2 for k in params}  # BUG: b2
    new = {k: p - lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps) for k, p in params.items()}
    return new, (t, m, v)
